//! Puts the commit the binary was built from into `latchkey --version`, and
//! the site (WASM, JS, CSS, favicon) into the binary when
//! `LATCHKEY_EMBED_SITE` names its folder (`scripts/lib/build-release` does).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/http/site_files.rs"]
mod site_files;

fn main() {
    embed_site();
    commit();
}

fn commit() {
    let commit = std::env::var("LATCHKEY_COMMIT").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
    });
    println!(
        "cargo:rustc-env=LATCHKEY_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rerun-if-env-changed=LATCHKEY_COMMIT");
    // A new commit moves HEAD (or the branch it names); both files are watched.
    for file in ["../.git/HEAD", "../.git/refs/heads"] {
        if std::path::Path::new(file).exists() {
            println!("cargo:rerun-if-changed={file}");
        }
    }
}

/// Writes `embedded_site.rs`: in a release build, one `EmbeddedFile` per file
/// of the site folder `LATCHKEY_EMBED_SITE` names (`.cargo/config.toml` says
/// `target/site`), with its `.br` and `.gz` copies; otherwise an empty list,
/// and the server reads a site folder at start-up (`server/src/http/site.rs`).
fn embed_site() {
    println!("cargo:rerun-if-env-changed=LATCHKEY_EMBED_SITE");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let root = std::env::var_os("LATCHKEY_EMBED_SITE").map(PathBuf::from);
    let mut code = String::from("pub static FILES: &[EmbeddedFile] = &[\n");
    if let Some(root) = root.filter(|_| release) {
        // Watched even while missing, so the build after the site's picks it up.
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        if root.join("pkg").is_dir() {
            collect_site_files(&root, &mut files);
        }
        files.sort();
        for file in files.iter().filter(|f| !is_copy(f)) {
            code += &embedded_file(&root, file);
        }
    }
    code += "];\n";
    std::fs::write(out.join("embedded_site.rs"), code).expect("OUT_DIR is writable");
}

fn embedded_file(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("found under the root");
    let copy = |extension: &str| {
        let copy = PathBuf::from(format!("{}.{extension}", file.display()));
        match copy.is_file() {
            true => format!("Some(include_bytes!({:?}))", copy.display().to_string()),
            false => "None".into(),
        }
    };
    let content = std::fs::read(file).expect("the site file is readable");
    format!(
        "    EmbeddedFile {{ path: {:?}, etag: {:?}, identity: include_bytes!({:?}), brotli: {}, gzip: {} }},\n",
        relative.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"),
        site_files::etag(&content),
        file.display().to_string(),
        copy("br"),
        copy("gz"),
    )
}

fn collect_site_files(dir: &Path, into: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in std::fs::read_dir(dir).expect("the site folder is readable") {
        let path = entry.expect("the site folder is readable").path();
        if path.is_dir() {
            collect_site_files(&path, into);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
            into.push(path);
        }
    }
}

fn is_copy(path: &Path) -> bool {
    path.to_str().is_some_and(site_files::is_compressed_copy)
}
