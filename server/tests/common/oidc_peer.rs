//! An OpenID Provider for tests: the OpenID-certified npm package
//! `oidc-provider` (end2end/peers/oidc-provider.mjs), started on loopback. Its
//! control API registers our Redirect URI, rotates its keys and alters the
//! next ID token.

use super::{free_port, TestApp, TestResponse, PUBLIC_URL};
use axum::http::{header, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

pub const CLIENT_ID: &str = "latchkey-e2e";
pub const CLIENT_SECRET: &str = "latchkey-e2e-secret-value";

/// A running `oidc-provider`, stopped when dropped.
pub struct Provider {
    pub issuer: String,
    _child: tokio::process::Child,
    control: reqwest::Client,
    /// The browser of the last sign-in: its cookies hold the provider's
    /// session, which a logout at the provider ends. Each sign-in starts a new one.
    browser: std::sync::Mutex<reqwest::Client>,
}

fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Provider {
    pub async fn start() -> Self {
        let port = free_port();
        let peer =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/peers/oidc-provider.mjs");
        assert!(
            peer.with_file_name("../node_modules/oidc-provider")
                .exists(),
            "end2end/node_modules is missing: run `npm ci` in end2end (scripts/test does)"
        );
        let child = tokio::process::Command::new("node")
            .arg(&peer)
            .arg(port.to_string())
            .env("OIDC_PEER_EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the OpenID Provider");
        let issuer = format!("http://127.0.0.1:{port}");
        let control = reqwest::Client::new();
        for _ in 0..200 {
            let health = control
                .get(format!("{issuer}/__control/health"))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Self {
                    issuer,
                    _child: child,
                    control,
                    browser: std::sync::Mutex::new(new_browser()),
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the OpenID Provider did not start on port {port}");
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .control
            .request(method, format!("{}/__control/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("control API answers");
        assert!(
            response.status().is_success(),
            "control {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    pub async fn allow_redirect(&self, redirect_uri: &str) {
        self.control(
            reqwest::Method::PUT,
            &format!("clients/{CLIENT_ID}"),
            json!({ "client_secret": CLIENT_SECRET, "redirect_uris": [redirect_uri] }),
        )
        .await;
    }

    pub async fn tamper(&self, mode: &str) {
        self.control(
            reqwest::Method::PUT,
            "tamper",
            json!({ "mode": mode, "once": true }),
        )
        .await;
    }

    /// Registers where the provider may send members back after logout and
    /// where it POSTs its logout tokens (our connection's URLs).
    pub async fn allow_logout(&self, post_logout_redirect_uri: &str, backchannel_logout_uri: &str) {
        self.control(
            reqwest::Method::PUT,
            &format!("clients/{CLIENT_ID}"),
            json!({
                "redirect_uris": [],
                "post_logout_redirect_uris": [post_logout_redirect_uri],
                "backchannel_logout_uri": backchannel_logout_uri,
            }),
        )
        .await;
    }

    /// Signs `login` in at the provider, starting from `authorize_url`, and
    /// returns where the provider sends the browser back (our callback).
    pub async fn sign_in(&self, authorize_url: &str, login: &str) -> String {
        self.sign_in_back_to(authorize_url, login, PUBLIC_URL).await
    }

    /// As [`Provider::sign_in`], for a Latchkey served at `our_url`.
    pub async fn sign_in_back_to(&self, authorize_url: &str, login: &str, our_url: &str) -> String {
        let browser = new_browser();
        *self.browser.lock().unwrap() = browser.clone();
        let mut next = authorize_url.to_string();
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            if next.starts_with(our_url) {
                return next;
            }
            let request = match form.take() {
                Some(fields) => browser.post(&next).form(&fields),
                None => browser.get(&next),
            };
            let response = request.send().await.expect("provider answers");
            let here = response.url().clone();
            if let Some(location) = response.headers().get(header::LOCATION) {
                next = here.join(location.to_str().unwrap()).unwrap().to_string();
                continue;
            }
            let html = response.text().await.unwrap();
            let (action, fields) = login_form(&html, login)
                .unwrap_or_else(|| panic!("no login form at {here}: {html}"));
            next = here.join(&action).unwrap().to_string();
            form = Some(fields);
        }
        panic!("the provider never sent the browser back");
    }
}

impl Provider {
    /// The member confirms logging out at the provider's end_session page,
    /// reached from `end_session_url`; returns where the provider sends the
    /// browser next (our post-logout redirect URI).
    pub async fn confirm_logout(&self, end_session_url: &str) -> String {
        let browser = self.browser.lock().unwrap().clone();
        let page = browser
            .get(end_session_url)
            .send()
            .await
            .expect("provider answers");
        let here = page.url().clone();
        let html = page.text().await.unwrap();
        let start = html
            .find("<form")
            .unwrap_or_else(|| panic!("no logout form: {html}"));
        let form = &html[start..];
        let action = attribute(form, "action").expect("the form's action");
        let mut fields = vec![("logout".to_string(), "yes".to_string())];
        for input in form.split("<input").skip(1) {
            let tag = &input[..input.find('>').unwrap_or(input.len())];
            if let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value")) {
                fields.push((name, value));
            }
        }
        let confirmed = browser
            .post(here.join(&action).unwrap())
            .form(&fields)
            .send()
            .await
            .expect("provider answers");
        confirmed
            .headers()
            .get(header::LOCATION)
            .unwrap_or_else(|| panic!("no redirect after logout: {}", confirmed.status()))
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// The devInteractions login form: its action and the fields to post.
fn login_form(html: &str, login: &str) -> Option<(String, Vec<(String, String)>)> {
    let form_start = html.find("<form")?;
    let form = &html[form_start..];
    let action = attribute(form, "action")?;
    let mut fields = vec![
        ("login".to_string(), login.to_string()),
        ("password".to_string(), "any password".to_string()),
    ];
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        if attribute(tag, "type").as_deref() == Some("hidden") {
            if let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value")) {
                fields.push((name, value));
            }
        }
    }
    Some((action.replace("&amp;", "&"), fields))
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

/// Creates an OIDC connection (Okta) against `provider` through `app` as
/// `admin`, saved with `client_secret`, and registers its Redirect URI at the
/// provider; returns the connection's id.
pub async fn create_oidc_connection(
    app: &TestApp,
    admin: &str,
    provider: &Provider,
    client_secret: &str,
) -> String {
    let created = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": "oidc", "provider": "okta", "display_name": "Okta OIDC" } }),
            Some(admin),
        )
        .await
        .json();
    let connection = created["summary"]["id"].as_str().unwrap().to_string();
    let saved = app
        .call_json(
            "save_oidc_connection",
            json!({ "id": connection, "form": {
                "provider": "okta", "display_name": "Okta OIDC",
                "issuer_url": provider.issuer, "client_id": CLIENT_ID, "client_secret": client_secret
            } }),
            Some(admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    provider
        .allow_redirect(&format!("{PUBLIC_URL}/sso/oidc/{connection}/callback"))
        .await;
    connection
}

/// Where a sign-in start sent the browser (the provider) and the cookie that
/// binds the sign-in to that browser.
pub fn started_at_provider(started: &TestResponse) -> (String, String) {
    let location = started.header("location").expect("a redirect").to_string();
    let cookie = started
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lk_oidc_"))
        .expect("the browser-binding cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let binding = cookie.split(';').next().unwrap().to_string();
    (location, binding)
}
