//! Password sign-in, sessions and sign-out over HTTP.

mod common;

use axum::http::StatusCode;
use common::*;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use server::entities::user;

/// An admin signs in: the cookie is HttpOnly and Lax, the browser is sent where it
/// asked, and the audit log records the sign-in.
#[tokio::test]
async fn sign_in_sets_a_safe_session_cookie_and_is_audited() {
    let app = TestApp::spawn().await.with_acme().await;
    let form = url_encode(&[
        ("email", "Admin@ACME.test"),
        ("password", PASSWORD),
        ("next", "/settings/authentication"),
    ]);
    let response = app.call("login", &form, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let cookie = response.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "http public URL: {cookie}");
    assert_eq!(
        response.header("location"),
        Some("/settings/authentication")
    );

    let token = response.session_cookie().unwrap();
    let me = app.call("whoami", "", Some(&token)).await;
    assert!(
        me.body.contains("\"email\":\"admin@acme.test\""),
        "{}",
        me.body
    );
    assert!(
        me.body.contains("\"role\":\"integrations_admin\""),
        "{}",
        me.body
    );
    assert!(app
        .audit()
        .await
        .contains(&("sign_in".into(), "success".into(), ADMIN_EMAIL.into())));
}

#[tokio::test]
async fn cookie_is_secure_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(&[("LATCHKEY_PUBLIC_URL", "https://sso.example.com")])
        .await
        .with_acme()
        .await;
    let response = app.sign_in(ADMIN_EMAIL, PASSWORD).await;
    assert!(response.header("set-cookie").unwrap().contains("; Secure"));
}

/// A guesser cannot tell a known email from an unknown one.
#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await.with_acme().await;
    let wrong_password = app.sign_in(ADMIN_EMAIL, "not the password").await;
    let unknown_email = app.sign_in("nobody@acme.test", "not the password").await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status, wrong_password.status);
    assert_eq!(unknown_email.body, wrong_password.body);
    assert!(wrong_password.session_cookie().is_none());
    let audit = app.audit().await;
    assert!(audit.contains(&(
        "sign_in_failed".into(),
        "failure".into(),
        ADMIN_EMAIL.into()
    )));
    assert!(audit.contains(&(
        "sign_in_failed".into(),
        "failure".into(),
        "nobody@acme.test".into()
    )));
}

/// After five failures the account waits, even for the right password.
#[tokio::test]
async fn repeated_failures_slow_the_account() {
    let app = TestApp::spawn().await.with_acme().await;
    for _ in 0..5 {
        let r = app.sign_in(MEMBER_EMAIL, "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = app.sign_in(MEMBER_EMAIL, PASSWORD).await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.body
    );
    assert!(blocked.body.contains("RateLimited"), "{}", blocked.body);
    assert!(blocked.session_cookie().is_none());
    // Another account from another address is unaffected.
    let mut app = app;
    app.client = "198.51.100.1:1234".parse().unwrap();
    let ok = app.sign_in(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK);
}

/// One address trying many accounts is slowed too.
#[tokio::test]
async fn repeated_failures_slow_the_client_address() {
    let app = TestApp::spawn().await.with_acme().await;
    for i in 0..20 {
        app.sign_in(&format!("guess{i}@acme.test"), "guess").await;
    }
    let blocked = app.sign_in(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::spawn().await.with_acme().await;
    let token = app.session_for(MEMBER_EMAIL).await;
    let out = app.call("logout", "", Some(&token)).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(out.header("location"), Some("/login"));
    let me = app.call("whoami", "", Some(&token)).await;
    assert_eq!(me.body, "null");
    assert!(app.audit().await.contains(&(
        "sign_out".into(),
        "success".into(),
        MEMBER_EMAIL.into()
    )));
}

#[tokio::test]
async fn deactivated_user_cannot_sign_in_and_loses_live_sessions() {
    let app = TestApp::spawn().await.with_acme().await;
    let token = app.session_for(MEMBER_EMAIL).await;
    let member = user::Entity::find()
        .filter(user::Column::EmailNormalized.eq(MEMBER_EMAIL))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: user::ActiveModel = member.into();
    active.active = Set(false);
    active.update(&app.db).await.unwrap();

    assert_eq!(app.call("whoami", "", Some(&token)).await.body, "null");
    let refused = app.sign_in(MEMBER_EMAIL, PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.session_cookie().is_none());
}

/// `next` can only lead to a path of ours.
#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    let app = TestApp::spawn().await.with_acme().await;
    for next in ["https://evil.test/", "//evil.test", "/\\evil.test"] {
        let form = url_encode(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", next),
        ]);
        let response = app.call("login", &form, None).await;
        assert_eq!(response.header("location"), Some("/"), "{next}");
    }
}

#[tokio::test]
async fn forged_or_garbage_cookies_open_nothing() {
    let app = TestApp::spawn().await.with_acme().await;
    for cookie in [
        "x",
        "",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "'; DROP TABLE users; --",
    ] {
        let me = app.call("whoami", "", Some(cookie)).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body, "null", "{cookie:?}");
    }
}

/// A session token begins with the time it was opened, so its row lands at
/// the end of the table's key index; a session opened before that change
/// (its cookie the random part alone) is still signed in.
#[tokio::test]
async fn session_tokens_begin_with_the_time_and_older_ones_still_work() {
    use server::entities::session;
    use sha2::Digest;
    let app = TestApp::spawn().await.with_acme().await;
    let before = chrono::Utc::now().timestamp_millis();
    let token = app
        .sign_in(ADMIN_EMAIL, PASSWORD)
        .await
        .session_cookie()
        .unwrap();
    let opened = i64::from_str_radix(&token[..12], 16).unwrap();
    assert!((before..before + 60_000).contains(&opened), "{token}");
    assert_eq!(token.len(), 55);

    let stored = session::Entity::find().one(&app.db).await.unwrap().unwrap();
    let older_token = token[12..].to_string();
    let older = session::ActiveModel {
        token_hash: Set(hex::encode(sha2::Sha256::digest(older_token.as_bytes()))),
        sid: Set(Some("an-older-sid".into())),
        ..session::ActiveModel::from(stored)
    };
    session::Entity::insert(older).exec(&app.db).await.unwrap();
    for cookie in [&token, &older_token] {
        let me = app.call("whoami", "", Some(cookie)).await;
        assert!(
            me.body.contains("\"email\":\"admin@acme.test\""),
            "{}",
            me.body
        );
    }
    // The time without the random part, or the random part with a made-up
    // time, opens nothing.
    for cookie in [&token[..12], &format!("000000000000{older_token}")] {
        let me = app.call("whoami", "", Some(cookie)).await;
        assert_eq!(me.body, "null", "{cookie}");
    }
}
