//! A SAML IdP for tests: pysaml2 (with xmlsec1) renders and signs responses
//! from the case files in `fixtures/saml/cases/` (see `tests/saml/forge.py`).

use super::{TestApp, TestResponse, ADMIN_EMAIL, PUBLIC_URL};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub const IDP_ENTITY_ID: &str = "http://idp.test/okta";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml")
}

/// The IdP's signing certificate and, as a rollover slot, the expired one.
pub fn idp_certificates() -> String {
    let read = |name: &str| std::fs::read_to_string(fixtures().join("keys").join(name)).unwrap();
    format!("{}{}", read("idp.crt"), read("expired.crt"))
}

pub fn python() -> String {
    std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/latchkey/venv/bin/python",
            std::env::var("HOME").unwrap()
        )
    })
}

/// A listener the external-reference attacks point at: the ACS must never
/// connect to it (counted for the whole test process).
pub struct Canary {
    pub url: String,
    pub hits: Arc<AtomicUsize>,
}

pub fn canary() -> &'static Canary {
    static CANARY: OnceLock<Canary> = OnceLock::new();
    CANARY.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/latchkey-canary", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for _ in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Canary { url, hits }
    })
}

/// Base64 `SAMLResponse`s for the named cases, answering `_req-<case>` (or
/// nothing, where a case is IdP-initiated).
pub fn forge(connection: &str, only: &[&str]) -> BTreeMap<String, String> {
    run_forge(connection, only, &[])
}

/// As [`forge`], with the IdP loading `sp_metadata` (ours, as served), so
/// that it encrypts for the connection's encryption certificate; answering
/// `request_id` when given.
pub fn forge_for_metadata(
    connection: &str,
    only: &[&str],
    sp_metadata: &str,
    request_id: Option<&str>,
) -> BTreeMap<String, String> {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "latchkey-sp-{}-{}.xml",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&file, sp_metadata).unwrap();
    let file_arg = file.display().to_string();
    let mut extra = vec!["--sp-metadata", file_arg.as_str()];
    if let Some(id) = request_id {
        extra.extend(["--in-response-to", id]);
    }
    let forged = run_forge(connection, only, &extra);
    let _ = std::fs::remove_file(&file);
    forged
}

/// One case's response to the sign-in request `request_id` that the server started.
pub fn forge_answer(connection: &str, case: &str, request_id: &str) -> String {
    let mut forged = run_forge(connection, &[case], &["--in-response-to", request_id]);
    forged.remove(case).expect("the case was forged")
}

fn run_forge(connection: &str, only: &[&str], extra: &[&str]) -> BTreeMap<String, String> {
    let keys = fixtures().join("keys");
    let key = |name: &str| keys.join(name).display().to_string();
    let sp = format!("{PUBLIC_URL}/sso/saml/{connection}/metadata");
    let acs = format!("{PUBLIC_URL}/sso/saml/{connection}/acs");
    let output = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml/forge.py"))
        .args(["--cases", &fixtures().join("cases").display().to_string()])
        .args(["--idp-key", &key("idp.key"), "--idp-cert", &key("idp.crt")])
        .args([
            "--attacker-key",
            &key("attacker.key"),
            "--attacker-cert",
            &key("attacker.crt"),
        ])
        .args([
            "--idp-entity-id",
            IDP_ENTITY_ID,
            "--sp-entity-id",
            &sp,
            "--acs-url",
            &acs,
        ])
        .args(["--canary-url", &canary().url])
        .args(extra)
        .args(["--request-id-prefix", "_req-", "--only"])
        .args(only)
        .output()
        .expect("run forge.py (pysaml2); scripts/test installs it");
    assert!(
        output.status.success(),
        "forge.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("forge.py prints JSON")
}

/// A SAML connection as the admin's browser saved it.
pub struct SamlConnection {
    pub id: String,
    pub provider: String,
    mapping: serde_json::Value,
}

/// Creates a SAML connection for `provider` through `app` as `admin` and saves
/// it trusting `certificates_pem` (this IdP's entity ID and an SSO URL).
pub async fn create_saml_connection(
    app: &TestApp,
    admin: &str,
    provider: &str,
    certificates_pem: &str,
) -> SamlConnection {
    let created = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": "saml", "provider": provider, "display_name": "" } }),
            Some(admin),
        )
        .await
        .json();
    let connection = SamlConnection {
        id: created["summary"]["id"].as_str().unwrap().to_string(),
        provider: provider.to_string(),
        mapping: created["saml"]["mapping"].clone(),
    };
    save_saml_certificates(app, admin, &connection, certificates_pem).await;
    connection
}

/// The app with Acme, its admin's session, and an Okta SAML connection that
/// trusts this IdP's certificates.
pub async fn app_with_saml_connection() -> (TestApp, String, SamlConnection) {
    let app = TestApp::spawn_with(&[("LATCHKEY_PUBLIC_URL", PUBLIC_URL)])
        .await
        .with_acme()
        .await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let connection = create_saml_connection(&app, &admin, "okta", &idp_certificates()).await;
    (app, admin, connection)
}

/// Saves the connection again, now trusting `certificates_pem`.
pub async fn save_saml_certificates(
    app: &TestApp,
    admin: &str,
    connection: &SamlConnection,
    certificates_pem: &str,
) {
    let changes = json!({ "certificates_pem": certificates_pem });
    save_saml_form(app, admin, connection, changes).await;
}

/// Saves the connection's form: this IdP's details, with `changes` on top.
pub async fn save_saml_form(
    app: &TestApp,
    admin: &str,
    connection: &SamlConnection,
    changes: serde_json::Value,
) -> serde_json::Value {
    let mut form = json!({
        "provider": connection.provider, "display_name": "",
        "sso_url": "https://idp.test/sso", "entity_id": IDP_ENTITY_ID,
        "certificates_pem": idp_certificates(), "mapping": connection.mapping
    });
    for (name, value) in changes.as_object().expect("changes are an object") {
        form[name] = value.clone();
    }
    let saved = app
        .call_json(
            "save_saml_connection",
            json!({ "id": connection.id, "form": form }),
            Some(admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    saved.json()
}

/// A SAML sign-in started at `/login/acme` by a plain HTTP client (no HTML in
/// Accept, no scripts): the answer and the browser-binding cookie it set.
pub struct SamlStart {
    pub response: TestResponse,
    /// The whole `Set-Cookie` value, attributes included.
    pub set_cookie: String,
}

impl SamlStart {
    pub async fn at(app: &TestApp) -> Self {
        let response = app
            .send(
                Request::get("/login/acme")
                    .header(header::ACCEPT, "*/*")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
        let set_cookie = response
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("lk_saml_"))
            .expect("the browser-binding cookie")
            .to_string();
        Self {
            response,
            set_cookie,
        }
    }

    /// `lk_saml_<request>=<secret>`, as the browser sends it back.
    pub fn cookie(&self) -> &str {
        self.set_cookie.split(';').next().unwrap()
    }

    /// The IdP's answer posted to the ACS by this browser, with its cookie.
    pub async fn answer(
        &self,
        app: &TestApp,
        connection_id: &str,
        saml_response: &str,
    ) -> TestResponse {
        let body = super::url_encode(&[
            ("SAMLResponse", saml_response),
            ("RelayState", self.request_id()),
        ]);
        app.send(
            Request::post(format!("/sso/saml/{connection_id}/acs"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .header(header::COOKIE, self.cookie())
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// The pending request's id (the cookie's name says it).
    pub fn request_id(&self) -> &str {
        let (name, _) = self.cookie().split_once('=').unwrap();
        name.strip_prefix("lk_saml_").unwrap()
    }
}

/// The IdP's Single Logout URL in the tests.
pub const IDP_SLO_URL: &str = "https://idp.test/slo";

/// Runs `tests/saml/slo.py` (pysaml2 as the IdP's single logout) with our
/// metadata as the IdP imported it; returns the one JSON object it prints.
pub fn slo_peer(sp_metadata: &str, args: &[&str]) -> serde_json::Value {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "latchkey-slo-{}-{}.xml",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, sp_metadata).unwrap();
    let keys = fixtures().join("keys");
    let output = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml/slo.py"))
        .args(args)
        .args(["--sp-metadata", &file.display().to_string()])
        .args([
            "--idp-entity-id",
            IDP_ENTITY_ID,
            "--idp-slo-url",
            IDP_SLO_URL,
        ])
        .args(["--idp-key", &keys.join("idp.key").display().to_string()])
        .args(["--idp-cert", &keys.join("idp.crt").display().to_string()])
        .output()
        .expect("run slo.py (pysaml2); scripts/test installs it");
    let _ = std::fs::remove_file(&file);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "slo.py printed no JSON: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
