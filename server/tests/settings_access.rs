//! Settings are for Integrations Admins: the server checks the role on every call.

mod common;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn settings_server_function_answers_by_role() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let member = app.session_for(MEMBER_EMAIL).await;

    let ok = app.call("settings_access", "", Some(&admin)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("\"org_slug\":\"acme\""));

    let forbidden = app.call("settings_access", "", Some(&member)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.body, "\"Forbidden\"");

    let anonymous = app.call("settings_access", "", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn settings_pages_show_403_to_members_and_render_for_admins() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let member = app.session_for(MEMBER_EMAIL).await;
    for path in ["/settings/authentication", "/settings/provisioning"] {
        let page = app.get(path, Some(&member)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("have access to this page"), "{path}");

        let page = app.get(path, Some(&admin)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("have access to this page"), "{path}");
    }
    let auth = app.get("/settings/authentication", Some(&admin)).await;
    assert!(auth.body.contains("No SSO connections yet"));
    assert!(auth.body.contains("/login/acme"));
    let prov = app.get("/settings/provisioning", Some(&admin)).await;
    assert!(prov.body.contains("SCIM provisioning is off"));
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let app = TestApp::spawn().await.with_acme().await;
    let page = app.get("/settings/provisioning", None).await;
    assert_eq!(page.status, StatusCode::FOUND);
    assert_eq!(
        page.header("location"),
        Some("/login?next=/settings/provisioning")
    );
    let home = app.get("/", None).await;
    assert_eq!(home.status, StatusCode::FOUND);
    assert_eq!(home.header("location"), Some("/login"));
}

#[tokio::test]
async fn home_shows_the_user_and_organization() {
    let app = TestApp::spawn().await.with_acme().await;
    let member = app.session_for(MEMBER_EMAIL).await;
    let home = app.get("/", Some(&member)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Acme Inc."));
    assert!(home.body.contains(MEMBER_EMAIL));
    assert!(home.body.contains("Member"));
}
