//! Email domains and "Sign in with SSO": a claimed domain sends the member to
//! the organization's identity provider; anything else gets one answer that
//! reveals nothing about which organizations exist.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use server::accounts::{self, NewUser};
use server::audit::Actor;
use shared::Role;

async fn saml_connection(app: &TestApp, admin: &str) {
    let created = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": "saml", "provider": "okta", "display_name": "" } }),
            Some(admin),
        )
        .await
        .json();
    let id = created["summary"]["id"].as_str().unwrap();
    let cert = include_str!("fixtures/saml/keys/idp.crt");
    let saved = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": {
                "provider": "okta", "display_name": "", "sso_url": "https://idp.example.com/app/sso",
                "entity_id": "http://idp.example.com/exk1", "certificates_pem": cert,
                "mapping": created["saml"]["mapping"]
            }}),
            Some(admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
}

async fn add_domain(app: &TestApp, admin: &str, domain: &str) -> TestResponse {
    app.call_json("add_org_domain", json!({ "domain": domain }), Some(admin))
        .await
}

fn start_sso(email: &str) -> String {
    url_encode(&[("email", email), ("next", "/settings/authentication")])
}

/// A claimed domain routes to the IdP with a SAML request; an unknown domain
/// and an organization without SSO read the same.
#[tokio::test]
async fn sign_in_with_sso_routes_by_email_domain() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;

    let unknown = app
        .call("start_sso", &start_sso("someone@acme.test"), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);

    let added = add_domain(&app, &admin, " @ACME.test ").await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(added.json()["domains"], json!(["acme.test"]));
    // Claimed, but no connection yet: the same answer as an unknown domain.
    let no_connection = app
        .call("start_sso", &start_sso("someone@acme.test"), None)
        .await;
    assert_eq!(no_connection.status, StatusCode::NOT_FOUND);
    assert_eq!(no_connection.body, unknown.body);

    saml_connection(&app, &admin).await;
    let routed = app
        .call("start_sso", &start_sso("Someone@ACME.test"), None)
        .await;
    let location = routed.header("location").unwrap_or_default();
    assert!(
        location.starts_with("https://idp.example.com/app/sso?SAMLRequest="),
        "{} {location}",
        routed.status
    );
    assert!(location.contains("RelayState=_lk"), "{location}");

    let audit = app.audit().await;
    assert!(audit.iter().any(|(action, _, _)| action == "domain_added"));
}

/// Public mail services, malformed domains and another organization's domain
/// are refused with a reason; members cannot claim domains at all.
#[tokio::test]
async fn domains_are_validated_and_belong_to_one_organization() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    for (domain, code) in [
        ("gmail.com", "public_domain"),
        ("https://acme.test", "invalid_domain"),
        ("", "required"),
    ] {
        let refused = add_domain(&app, &admin, domain).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{domain}");
        assert!(refused.body.contains(code), "{domain}: {}", refused.body);
    }
    assert_eq!(
        add_domain(&app, &admin, "acme.test").await.status,
        StatusCode::OK
    );

    accounts::create_organization(&app.db, "globex", "Globex", Actor::Cli)
        .await
        .unwrap();
    accounts::create_user(
        &app.db,
        NewUser {
            org_slug: "globex".into(),
            email: "hank@globex.test".into(),
            first_name: "Hank".into(),
            last_name: "Scorpio".into(),
            role: Role::IntegrationsAdmin,
            password: Some(PASSWORD.into()),
        },
        Actor::Cli,
    )
    .await
    .unwrap();
    let globex = app.session_for("hank@globex.test").await;
    let taken = add_domain(&app, &globex, "acme.test").await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("domain_taken"), "{}", taken.body);

    let member = app.session_for(MEMBER_EMAIL).await;
    assert_eq!(
        add_domain(&app, &member, "members.test").await.status,
        StatusCode::FORBIDDEN
    );

    let removed = app
        .call_json(
            "remove_org_domain",
            json!({ "domain": "ACME.test" }),
            Some(&admin),
        )
        .await;
    assert_eq!(removed.json()["domains"], json!([]));
}
