//! Failed sign-ins behind a load balancer: the client address comes from
//! `X-Forwarded-For` only when a trusted proxy wrote it, and one account's or
//! one client's failures never slow anybody else. (That every instance on the
//! database counts the same failures is in fleet.rs.)

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use server::entities::audit_event;

const PROXY: &str = "10.0.0.2:40000";
const TRUST_PROXY: (&str, &str) = ("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8");

/// A password sign-in whose request carries `X-Forwarded-For`.
async fn sign_in_via(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded_for: &str,
) -> TestResponse {
    let request = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .header("x-forwarded-for", forwarded_for)
        .body(Body::from(login_form(email, password)))
        .unwrap();
    app.send(request).await
}

/// The client addresses of the audit rows for this email, oldest first.
async fn audited_addresses(app: &TestApp, email: &str) -> Vec<Option<String>> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Actor.eq(email))
        .order_by_asc(audit_event::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.client_ip)
        .collect()
}

/// Without `LATCHKEY_TRUSTED_PROXIES`, `X-Forwarded-For` is anyone's to write:
/// it is ignored, the audit log shows the TCP peer, and rotating fake
/// addresses does not escape the per-address limit.
#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = TestApp::spawn().await.with_acme().await;
    sign_in_via(&app, ADMIN_EMAIL, "guess", "192.0.2.55").await;
    assert_eq!(
        audited_addresses(&app, ADMIN_EMAIL)
            .await
            .last()
            .cloned()
            .flatten(),
        Some("203.0.113.7".to_string())
    );
    for i in 0..20 {
        sign_in_via(
            &app,
            &format!("guess{i}@acme.test"),
            "guess",
            &format!("192.0.2.{i}"),
        )
        .await;
    }
    let blocked = sign_in_via(&app, MEMBER_EMAIL, PASSWORD, "192.0.2.200").await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.body
    );
}

/// Behind a trusted proxy the audit log (and the session) show the client's
/// address, not the proxy's; an address the client itself wrote further left
/// is not believed.
#[tokio::test]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let mut app = TestApp::spawn_with(&[TRUST_PROXY]).await.with_acme().await;
    app.client = PROXY.parse().unwrap();
    let failed = sign_in_via(&app, ADMIN_EMAIL, "guess", "6.6.6.6, 198.51.100.23").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let signed_in = sign_in_via(&app, ADMIN_EMAIL, PASSWORD, "198.51.100.23").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(
        audited_addresses(&app, ADMIN_EMAIL).await,
        [
            Some("198.51.100.23".to_string()),
            Some("198.51.100.23".to_string())
        ]
    );
    let sessions = server::entities::session::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].client_ip.as_deref(), Some("198.51.100.23"));
}

/// Everyone arrives through the one proxy: a client that fails twenty times is
/// slowed, other clients are not (before, the proxy's address was counted and
/// twenty failures anywhere locked everyone out).
#[tokio::test]
async fn behind_a_proxy_each_client_address_is_throttled_on_its_own() {
    let mut app = TestApp::spawn_with(&[TRUST_PROXY]).await.with_acme().await;
    app.client = PROXY.parse().unwrap();
    for i in 0..20 {
        sign_in_via(
            &app,
            &format!("guess{i}@acme.test"),
            "guess",
            "198.51.100.1",
        )
        .await;
    }
    let guesser = sign_in_via(&app, MEMBER_EMAIL, PASSWORD, "198.51.100.1").await;
    assert_eq!(
        guesser.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        guesser.body
    );
    let someone_else = sign_in_via(&app, MEMBER_EMAIL, PASSWORD, "198.51.100.2").await;
    assert_eq!(someone_else.status, StatusCode::OK, "{}", someone_else.body);
}

/// Failures for one account slow that account, wherever they come from, and
/// nobody else: with twenty failures through the proxy (five for the member,
/// fifteen from other guessers), another account signs in from another client
/// without waiting.
#[tokio::test]
async fn failures_for_one_account_do_not_slow_another() {
    let mut app = TestApp::spawn_with(&[TRUST_PROXY]).await.with_acme().await;
    app.client = PROXY.parse().unwrap();
    for _ in 0..5 {
        sign_in_via(&app, MEMBER_EMAIL, "guess", "198.51.100.1").await;
    }
    for i in 0..15 {
        sign_in_via(
            &app,
            &format!("guess{i}@acme.test"),
            "guess",
            &format!("198.51.100.{}", 10 + i),
        )
        .await;
    }
    let same_account = sign_in_via(&app, MEMBER_EMAIL, PASSWORD, "198.51.100.2").await;
    assert_eq!(same_account.status, StatusCode::TOO_MANY_REQUESTS);
    let other_account = sign_in_via(&app, ADMIN_EMAIL, PASSWORD, "198.51.100.2").await;
    assert_eq!(
        other_account.status,
        StatusCode::OK,
        "{}",
        other_account.body
    );
}
