//! Bad or hostile requests get a clear 4xx and change nothing; never a 500.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz", None).await.body, "ok");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, "ready");
}

#[tokio::test]
async fn malformed_forms_get_400_and_invalid_fields_get_422() {
    let app = TestApp::spawn().await.with_acme().await;
    for form in ["", "garbage", "email=a@b.co", "password=x", "%ff%fe=%"] {
        let response = app.call("login", form, None).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{form:?}: {}",
            response.body
        );
    }
    let invalid = app
        .call(
            "login",
            &url_encode(&[("email", "not-an-email"), ("password", ""), ("next", "/")]),
            None,
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid
        .body
        .contains("Enter an email address like name@company.com."));
    assert!(invalid.body.contains("Enter your password."));
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = TestApp::spawn().await;
    let huge = format!("email=a@b.co&password={}", "x".repeat(200 * 1024));
    let declared = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, huge.len())
        .body(Body::from(huge.clone()))
        .unwrap();
    assert_eq!(
        app.send(declared).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Streamed without a length: cut off at the limit, refused as unreadable.
    let streamed = app.call("login", &huge, None).await;
    assert!(streamed.status.is_client_error(), "{}", streamed.status);
}

#[tokio::test]
async fn overlong_password_is_refused_before_hashing() {
    let app = TestApp::spawn().await.with_acme().await;
    let long = "x".repeat(2000);
    let response = app.sign_in(ADMIN_EMAIL, &long).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A page on another site cannot make a signed-in browser call our server functions.
#[tokio::test]
async fn cross_site_server_function_calls_are_refused() {
    let app = TestApp::spawn().await.with_acme().await;
    let token = app.session_for(ADMIN_EMAIL).await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "http://evil.test"),
    ] {
        let request = Request::post("/api/logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("latchkey_session={token}"))
            .header(name, value)
            .body(Body::empty())
            .unwrap();
        let response = app.send(request).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{name}: {value}");
    }
    // The session survived every forged sign-out.
    assert!(app
        .call("whoami", "", Some(&token))
        .await
        .body
        .contains(ADMIN_EMAIL));
}

#[tokio::test]
async fn same_origin_calls_with_only_an_origin_header_are_accepted() {
    let app = TestApp::spawn().await.with_acme().await;
    let request = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("origin", "http://127.0.0.1:3000")
        .body(Body::from(login_form(ADMIN_EMAIL, PASSWORD)))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_pages_and_functions_get_404() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get("/no/such/page", None).await.status,
        StatusCode::NOT_FOUND
    );
    let response = app.call("no_such_function", "", None).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
}
