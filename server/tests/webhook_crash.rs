//! Webhooks survive a crash: the real `latchkey` binary is killed with SIGKILL
//! after a change has committed and before its webhook has landed (the
//! receiver is down), and the restarted server delivers it, once (SQLite: the
//! binary runs on its own database file).

mod common;

use axum::http::{HeaderMap, StatusCode};
use common::free_port;
use server::provider::webhooks::signature;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Latchkey {
    env: Vec<(&'static str, String)>,
    base: String,
}

impl Latchkey {
    fn new(dir: &std::path::Path) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let env = vec![
            (
                "LATCHKEY_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", dir.join("crash.db").display()),
            ),
            ("LATCHKEY_DATA_DIR", dir.display().to_string()),
            ("LATCHKEY_LISTEN", format!("127.0.0.1:{port}")),
            ("LATCHKEY_PUBLIC_URL", base.clone()),
            ("LATCHKEY_ALLOW_PRIVATE_URLS", "true".into()),
            ("RUST_LOG", "warn".into()),
        ];
        Self { env, base }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        command.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().expect("latchkey runs");
        assert!(
            output.status.success(),
            "latchkey {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    async fn serve(&self) -> Child {
        let mut child = self
            .command()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("latchkey serves");
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", self.base))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("latchkey did not start");
    }
}

/// Starts the host app's webhook endpoint; returns the verified bodies.
async fn receive(port: u16, secret: String) -> Arc<Mutex<Vec<serde_json::Value>>> {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            let secret = secret.clone();
            async move {
                let presented = headers
                    .get("latchkey-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let timestamp = presented
                    .strip_prefix("t=")
                    .and_then(|rest| rest.split(',').next())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default();
                if presented != signature(&secret, timestamp, &body) {
                    return StatusCode::UNAUTHORIZED;
                }
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    received
}

#[tokio::test]
async fn a_change_whose_server_was_killed_before_delivery_is_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let latchkey = Latchkey::new(dir.path());
    let receiver_port = free_port();
    latchkey.run(&["migrate"]);
    latchkey.run(&["create-org", "--slug", "acme", "--name", "Acme"]);
    let app = latchkey.run(&[
        "create-app",
        "--name",
        "Acme CRM",
        "--redirect-uri",
        "https://app.example.com/callback",
        "--webhook-url",
        &format!("http://127.0.0.1:{receiver_port}/hook"),
    ]);
    let app: serde_json::Value = serde_json::from_slice(&app.stdout).unwrap();
    let secret = app["webhook_secret"].as_str().unwrap().to_string();

    // The change commits while the app's endpoint is down; the server tries,
    // fails, and is killed before its retry.
    let mut server = latchkey.serve().await;
    latchkey.run(&["create-user", "--org", "acme", "--email", "grace@acme.test"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    let status = latchkey.run(&["app-deliveries"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status[0]["delivered"], 0,
        "nothing landed before the kill: {status}"
    );

    let received = receive(receiver_port, secret).await;
    let mut restarted = latchkey.serve().await;
    for _ in 0..200 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A little longer: a duplicate would show up now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["type"], "user.created");
    assert_eq!(received[0]["data"]["email"], "grace@acme.test");
}
