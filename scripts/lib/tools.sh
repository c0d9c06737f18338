# Shared by scripts/run and scripts/test: installs what is missing, from the package
# registries only (crates.io, npm, Debian), and sets up PATH and the target folder.
# Every step is a no-op when the right version is already there.

# Build output lives outside the clone, so fresh clones (CI) reuse earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latchkey/target}"
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "Installing Debian packages: ${missing[*]}"
  if [ "$apt_updated" = 0 ]; then
    as_root apt-get update -q
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

ensure_rust_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  # The browser's release build compiles the standard library itself (wasm_size_flags).
  if ! has_rust_src; then
    say "Adding the rust-src component"
    rustup component add rust-src \
      || say "No rust-src: the WASM is built with the prebuilt standard library (larger)"
  fi
}

has_rust_src() {
  rustup component list --installed 2>/dev/null | grep -q '^rust-src'
}

# The browser's release build's environment and Cargo arguments, in
# WASM_SIZE_ENV and WASM_SIZE_FLAGS: what makes every page lighter on the wire
# (SPEC §13). The standard library is compiled with the app (build-std), so it
# is optimized for size with it; a panic stops the app at once instead of
# formatting a message, which takes the panic machinery and the source
# locations out of the module; derived Debug output is cut to type names. The
# sign-in page loses 23 KB of brotli, the heaviest page 30. The price: a panic
# in the browser shows as "unreachable" in the console, without its message.
# These are unstable options of the toolchain we have (RUSTC_BOOTSTRAP);
# LATCHKEY_WASM_PLAIN_STD=1 builds without them, and so with the messages.
wasm_size_flags() {
  WASM_SIZE_ENV=()
  WASM_SIZE_FLAGS=()
  if [ -n "${LATCHKEY_WASM_PLAIN_STD:-}" ] || ! has_rust_src; then
    return
  fi
  # Only this build's: set for the others, it would rebuild their dependencies.
  WASM_SIZE_ENV=(RUSTC_BOOTSTRAP=1)
  WASM_SIZE_FLAGS=(
    -Zbuild-std=std,panic_abort
    # Added to .cargo/config.toml's flags for the target, not instead of them.
    --config 'target.wasm32-unknown-unknown.rustflags=["-Zunstable-options", "-Cpanic=immediate-abort", "-Zlocation-detail=none", "-Zfmt-debug=shallow"]'
  )
}

# Tailwind's CLI, wasm-opt (binaryen) and terser, which scripts/lib/build-release runs.
ensure_node_tools() {
  if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] \
    || [ ! -x node_modules/.bin/terser ] \
    || [ package.json -nt node_modules/.package-lock.json ]; then
    say "Installing the npm build tools"
    # npm install, not npm ci: Tailwind's optional per-platform packages break ci here.
    npm install --no-audit --no-fund
  fi
}

ensure_browser_test_tools() {
  # chromium for Playwright; xmllint checks our SAML metadata against the OASIS schema.
  ensure_debian_packages chromium libxml2-utils
  if [ ! -d end2end/node_modules/@playwright/test ] \
    || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "Installing Playwright (the library only; the browser is Debian's chromium)"
    npm ci --prefix end2end --no-audit --no-fund
  fi
}

# Python test peers (PyPI only), in a venv outside the clone: pysaml2 plays a SAML
# IdP (with Debian's xmlsec1), scim2-tester checks the SCIM server. Reinstalled
# only when a requirements file changes.
LATCHKEY_VENV="${LATCHKEY_VENV:-$HOME/.cache/latchkey/venv}"
export LATCHKEY_PYTHON="$LATCHKEY_VENV/bin/python"
ensure_python_tools() {
  ensure_debian_packages python3 python3-venv xmlsec1
  local requirements=(end2end/peers/requirements.txt server/tests/scim/requirements.txt)
  local stamp="$LATCHKEY_VENV/.requirements"
  local wanted
  wanted=$(cat "${requirements[@]}" | sha256sum)
  if [ -x "$LATCHKEY_PYTHON" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
    return 0
  fi
  say "Installing the Python test peers (pysaml2, scim2-tester)"
  [ -x "$LATCHKEY_PYTHON" ] || python3 -m venv "$LATCHKEY_VENV"
  "$LATCHKEY_PYTHON" -m pip install -q --disable-pip-version-check "${requirements[@]/#/-r}"
  echo "$wanted" >"$stamp"
}

ensure_build_tools() {
  # samael builds against xmlsec (bindgen needs libclang).
  # brotli: scripts/lib/precompress-site.
  ensure_debian_packages pkg-config libssl-dev libxml2-dev libxmlsec1-dev libxslt1-dev libclang-dev brotli
  ensure_rust_tools
  ensure_node_tools
}
