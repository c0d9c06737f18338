//! Puts the commit the binary was built from into `latchkey --version`.

use std::process::Command;

fn main() {
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
