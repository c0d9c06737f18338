//! SCIM conformance: scim2-tester (Python, PyPI) runs every applicable check
//! against the real server listening on a port. Needs the tools venv that
//! `scripts/test` installs (`ensure_python_tools`); `LATCHKEY_PYTHON` overrides it.

mod common;

use common::*;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("LATCHKEY_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/latchkey/venv/bin/python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_passes_every_applicable_check() {
    let python = python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/test (ensure_python_tools) to install scim2-tester",
        python.display()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let public_url = format!("http://{address}");
    let app = TestApp::spawn_with(&[("LATCHKEY_PUBLIC_URL", public_url.as_str())])
        .await
        .with_acme()
        .await;
    let (connection, token) = app.enable_scim().await;
    let state_router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            state_router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let base_url = format!("{public_url}/scim/v2/{connection}");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scim/conformance.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(base_url)
            .arg(token)
            .output()
            .expect("run scim2-tester")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "scim2-tester reported failures:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("failed: 0"), "{stdout}");
}
