//! Turns the frontend's compiled WASM into the site's `pkg/` folder: splits
//! out the lazily loaded routes (wasm-split) and writes the JS glue
//! (wasm-bindgen). It is the part of cargo-leptos's release build that needs
//! Rust, made of the same two libraries, so a fresh machine compiles them
//! instead of a whole build tool. `scripts/lib/build-release` runs it and
//! does the rest (wasm-opt, the JS minifier, Tailwind) with npm's tools.
//!
//!   site-builder <frontend.wasm> <pkg folder>

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};

/// The name of the JS and WASM files, which leptos's `HydrationScripts` asks
/// for (`LEPTOS_OUTPUT_NAME`).
const OUTPUT_NAME: &str = "latchkey";
/// The chunk loader's and the manifest's names, as `HydrationScripts` expects
/// them when file names are not hashed.
const SPLIT_LOADER: &str = "./__wasm_split.______________________.js";
const SPLIT_MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(input), Some(pkg), None) = (args.next(), args.next(), args.next()) else {
        bail!("usage: site-builder <frontend.wasm> <pkg folder>");
    };
    std::fs::create_dir_all(&pkg).with_context(|| format!("creating {}", pkg.display()))?;
    let main_module = split(&input, &pkg)?;
    bindgen(&main_module, &pkg)
}

/// Writes each lazily loaded chunk and the loader into `pkg`, and returns the
/// main module that is left (beside `input`, for wasm-bindgen).
fn split(input: &Path, pkg: &Path) -> Result<PathBuf> {
    let wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let main_out = input.with_file_name(format!("{OUTPUT_NAME}_split.wasm"));
    // Chunks import the main module's JS relative to themselves.
    let main_js = format!("./{OUTPUT_NAME}.js");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = pkg;
    options.main_out_path = &main_out;
    options.main_module = &main_js;
    options.link_name = SPLIT_LOADER;
    let split = wasm_split_cli_support::transform(options)
        .map_err(|error| anyhow!("splitting {}: {error:?}", input.display()))?;
    let manifest = serde_json::to_string_pretty(&split.prefetch_map)?;
    std::fs::write(pkg.join(SPLIT_MANIFEST), manifest)?;
    Ok(main_out)
}

/// Writes `latchkey.js` and `latchkey.wasm` into `pkg`.
fn bindgen(main_module: &Path, pkg: &Path) -> Result<()> {
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(main_module)
        .web(true)?
        // The split chunks call the main module through lld's exports.
        .keep_lld_exports(true)
        .demangle(false)
        .typescript(false)
        .out_name(OUTPUT_NAME)
        .generate(pkg)
        .with_context(|| format!("wasm-bindgen on {}", main_module.display()))?;
    // wasm-bindgen names it `_bg`; HydrationScripts asks for the plain name.
    let generated = pkg.join(format!("{OUTPUT_NAME}_bg.wasm"));
    std::fs::rename(&generated, pkg.join(format!("{OUTPUT_NAME}.wasm")))
        .with_context(|| format!("renaming {}", generated.display()))
}
