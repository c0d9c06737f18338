//! Every HTML page carries a Content-Security-Policy whose script nonce is new
//! for each response and is the only way a script runs: the page's own
//! scripts carry it, anything injected into the page would not.

mod common;

use axum::http::StatusCode;
use common::*;

/// The nonce the policy allows, and the policy's other directives.
fn nonce_of(page: &TestResponse) -> String {
    let csp = page
        .header("content-security-policy")
        .expect("an HTML page has a Content-Security-Policy");
    let script_src = csp
        .split("; ")
        .find(|d| d.starts_with("script-src "))
        .expect("script-src");
    let sources: Vec<&str> = script_src.split(' ').skip(1).collect();
    assert_eq!(sources.len(), 3, "{script_src}");
    assert_eq!((sources[0], sources[2]), ("'self'", "'wasm-unsafe-eval'"));
    for required in [
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            csp.split("; ").any(|d| d == required),
            "{required} in {csp}"
        );
    }
    assert!(!script_src.contains("unsafe-inline"));
    sources[1]
        .strip_prefix("'nonce-")
        .and_then(|n| n.strip_suffix('\''))
        .expect("a nonce source")
        .to_string()
}

/// The nonce attribute of every `<script` tag in the page.
fn script_nonces(body: &str) -> Vec<Option<String>> {
    body.match_indices("<script")
        .map(|(at, _)| {
            let tag = &body[at..at + body[at..].find('>').expect("tag end")];
            tag.split_once("nonce=\"")
                .map(|(_, rest)| rest[..rest.find('"').unwrap()].to_string())
        })
        .collect()
}

#[tokio::test]
async fn every_page_allows_only_its_own_scripts_by_a_fresh_nonce() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let pages = [
        ("/login", None),
        ("/login/acme", None),
        ("/settings/authentication", Some(admin.as_str())),
        ("/settings/provisioning", Some(admin.as_str())),
        ("/no-such-page", None),
    ];
    for (path, cookie) in pages {
        let first = app.get(path, cookie).await;
        assert!(
            first
                .header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let nonce = nonce_of(&first);
        let scripts = script_nonces(&first.body);
        assert!(!scripts.is_empty(), "{path} hydrates with scripts");
        assert!(
            scripts.iter().all(|n| n.as_deref() == Some(nonce.as_str())),
            "{path}: every script carries this response's nonce: {scripts:?}"
        );
        assert_eq!(first.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(first.header("referrer-policy"), Some("same-origin"));
        let second = app.get(path, cookie).await;
        assert_ne!(nonce_of(&second), nonce, "{path}: a new nonce per response");
    }
}

#[tokio::test]
async fn protocol_answers_that_are_not_html_get_no_page_policy_but_nosniff() {
    let app = TestApp::spawn().await.with_acme().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.header("content-security-policy"), None);
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn a_member_refused_by_sso_sees_a_page_that_runs_no_script() {
    let app = TestApp::spawn().await.with_acme().await;
    // An unknown connection's ACS: the plain page, under the same policy.
    let page = app
        .get(
            "/sso/oidc/00000000-0000-0000-0000-000000000000/callback",
            None,
        )
        .await;
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    nonce_of(&page);
    assert_eq!(script_nonces(&page.body), Vec::<Option<String>>::new());
}
