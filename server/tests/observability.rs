//! `GET /metrics` (issue 19.4): off the public listener, in Prometheus text
//! format, counting sign-ins by protocol and result and SCIM requests by method
//! and status, with latency histograms and gauges read at each scrape.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use server::config::{Config, ConfigError};
use tower::ServiceExt;

async fn scrape(metrics: &axum::Router) -> String {
    let response = metrics
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the sample `name` whose labels include every `labels` pair; 0
/// when there is none yet.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .map(|value| value.parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_sign_ins_and_scim_requests_and_read_the_gauges() {
    let app = TestApp::spawn().await.with_acme().await;
    let metrics = server::metrics::router(app.db.clone(), server::metrics::install());
    let before = scrape(&metrics).await;

    // SCIM: one created user, one refused document.
    let (connection, token) = app.enable_scim().await;
    let created = app
        .scim(
            "POST",
            connection,
            "/Users",
            Some(&token),
            Some(json!({"userName": "m@acme.test"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let refused = app
        .scim(
            "POST",
            connection,
            "/Users",
            Some(&token),
            Some(json!({"userName": 5})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    // A SAML response that cannot be read: a failed sign-in with its diagnosis.
    app.post_unreadable_saml_response(None).await;
    let code = app.last_sso_event().await.code.expect("a diagnosis");

    let after = scrape(&metrics).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    let sign_in = [("protocol", "saml"), ("result", code.as_str())];
    assert_eq!(
        (
            delta(
                "latchkey_scim_requests_total",
                &[("method", "POST"), ("status", "201")]
            ),
            delta(
                "latchkey_scim_requests_total",
                &[("method", "POST"), ("status", "400")]
            ),
            delta("latchkey_scim_request_seconds_count", &[("method", "POST")]),
            delta("latchkey_sign_ins_total", &sign_in),
            delta("latchkey_saml_acs_seconds_count", &[]),
        ),
        (1.0, 1.0, 2.0, 1.0, 1.0),
        "{after}"
    );
    let sessions = server::entities::session::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(
        sample(&after, "latchkey_active_sessions", &[]),
        sessions as f64
    );
    assert!(
        sample(&after, "latchkey_db_pool_connections", &[]) >= 1.0,
        "{after}"
    );
}

/// Metrics are never on the public listener, and the setting is checked.
#[tokio::test]
async fn metrics_are_off_the_public_listener_and_their_address_is_checked() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get("/metrics", None).await.status,
        StatusCode::NOT_FOUND
    );

    let read = |value: &'static str| {
        Config::from_lookup(move |name| (name == "LATCHKEY_METRICS_LISTEN").then(|| value.into()))
    };
    assert_eq!(read("").unwrap().metrics_listen, None);
    assert_eq!(
        read("127.0.0.1:9464").unwrap().metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    assert!(matches!(
        read("everywhere"),
        Err(ConfigError::MetricsListen(value)) if value == "everywhere"
    ));
}

/// Each answer names its request id: a plain one the front end sent, or a new
/// one in place of anything else (a header that could forge log lines).
#[tokio::test]
async fn every_answer_names_its_request_id() {
    let app = TestApp::spawn().await;
    let with_id = |id: &str| {
        Request::get("/healthz")
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap()
    };
    let kept = app.send(with_id("edge-7f3a.1")).await;
    assert_eq!(kept.header("x-request-id"), Some("edge-7f3a.1"));
    let replaced = app.send(with_id("x\" level=error forged")).await;
    let fresh = replaced.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(fresh).is_ok(), "{fresh}");
    let own = app.get("/healthz", None).await;
    assert!(uuid::Uuid::parse_str(own.header("x-request-id").unwrap()).is_ok());
}

/// The real binary: `LATCHKEY_LOG_FORMAT=json` writes one JSON object a line
/// carrying the request id, and `LATCHKEY_METRICS_LISTEN` serves `/metrics`
/// on its own address (and only there).
#[tokio::test]
async fn the_binary_logs_json_with_the_request_id_and_serves_metrics_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("stderr.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("o.db").display()),
        )
        .env("LATCHKEY_DATA_DIR", dir.path())
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_PUBLIC_URL", &base)
        .env(
            "LATCHKEY_METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("LATCHKEY_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,tower_http=debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("latchkey serves");
    let client = reqwest::Client::new();
    let mut answered = None;
    for _ in 0..200 {
        if let Ok(response) = client
            .get(format!("{base}/healthz"))
            .header("x-request-id", "probe-42")
            .send()
            .await
        {
            answered = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let answered = answered.expect("the server answers");
    assert_eq!(answered.headers()["x-request-id"], "probe-42");
    let metrics = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    let metrics_status = metrics.status().as_u16();
    let metrics_text = metrics.text().await.unwrap();
    let public_metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    let public_status = public_metrics.status().as_u16();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!((metrics_status, public_status), (200, 404));
    assert_eq!(
        sample(&metrics_text, "latchkey_active_sessions", &[]),
        0.0,
        "{metrics_text}"
    );
    assert!(
        metrics_text.contains("# TYPE latchkey_active_sessions gauge"),
        "{metrics_text}"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let probe = lines
        .iter()
        .find(|line| line["span"]["request_id"] == "probe-42")
        .unwrap_or_else(|| panic!("no line names the request id:\n{log}"));
    assert_eq!(
        (&probe["span"]["name"], &probe["span"]["path"]),
        (&json!("request"), &json!("/healthz"))
    );
}
