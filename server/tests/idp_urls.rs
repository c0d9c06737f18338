//! Identity-provider addresses are web addresses (issue #14, item 3).
//!
//! An OIDC discovery document or SAML metadata that names `javascript:` or
//! `data:` as the place to send members is refused when saved, with a field
//! error that says why; nothing is stored. An address that is already stored
//! (by an older version, or written into the database) is checked again before
//! any redirect: SSO start refuses with a diagnosis and never answers with a
//! `Location` pointing there. Plain `http://` passes only where
//! `LATCHKEY_ALLOW_PRIVATE_URLS` is on.

mod common;

use axum::http::StatusCode;
use common::*;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};
use serde_json::{json, Value};
use server::entities::{sso_connection, sso_event};
use server::secrets::SecretSlot;
use uuid::Uuid;

const JAVASCRIPT: &str = "javascript:alert(document.domain)";
const DATA: &str = "data:text/html,<script>alert(document.domain)</script>";
const OKTA_METADATA: &str = include_str!("fixtures/saml/metadata/okta.xml");
const OKTA_SSO_URL: &str =
    "https://dev-48213579.okta.com/app/dev-48213579_latchkey_1/exk8q2w3e4R5t6Y7u8i9/sso/saml";
const IDP_CERT: &str = include_str!("fixtures/saml/keys/idp.crt");

/// A discovery document on loopback naming itself as the issuer, with the
/// authorization endpoint `authorize` (the others are well formed).
async fn serve_discovery(authorize: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": if authorize.is_empty() { format!("{issuer}/auth") } else { authorize.to_string() },
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/me"),
        "jwks_uri": format!("{issuer}/jwks"),
    })
    .to_string();
    let router = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || async move { document }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    issuer
}

async fn app_allowing_private_urls(allowed: bool) -> TestApp {
    TestApp::spawn_with(&[(
        "LATCHKEY_ALLOW_PRIVATE_URLS",
        if allowed { "true" } else { "false" },
    )])
    .await
    .with_acme()
    .await
}

async fn create(app: &TestApp, admin: &str, protocol: &str) -> (Uuid, Value) {
    let response = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": protocol, "provider": "okta", "display_name": "" } }),
            Some(admin),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let detail = response.json();
    let id = detail["summary"]["id"].as_str().unwrap().parse().unwrap();
    (id, detail)
}

async fn save_oidc(app: &TestApp, admin: &str, id: Uuid, issuer: &str) -> TestResponse {
    app.call_json(
        "save_oidc_connection",
        json!({ "id": id, "form": {
            "provider": "okta", "display_name": "", "issuer_url": issuer,
            "client_id": "latchkey-app", "client_secret": "s3cret-value"
        } }),
        Some(admin),
    )
    .await
}

async fn save_saml(app: &TestApp, admin: &str, id: Uuid, sso_url: &str) -> TestResponse {
    app.call_json(
        "save_saml_connection",
        json!({ "id": id, "form": {
            "provider": "okta", "display_name": "", "sso_url": sso_url,
            "entity_id": "http://idp.example.com/exk1", "certificates_pem": IDP_CERT,
            "mapping": { "email": "email", "first_name": "firstName", "last_name": "lastName", "full_name": "" }
        } }),
        Some(admin),
    )
    .await
}

/// The one field error of a 422 answer: (field, code, message).
fn field_error(response: &TestResponse) -> (String, String, String) {
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.body
    );
    let errors = response.json()["Invalid"].clone();
    let errors = errors.as_array().expect("field errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    (
        error["field"].as_str().unwrap().to_string(),
        error["code"].as_str().unwrap().to_string(),
        error["message"].as_str().unwrap().to_string(),
    )
}

async fn stored(app: &TestApp, id: Uuid) -> sso_connection::Model {
    sso_connection::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("connection")
}

/// What an older version (or someone with database access) left behind.
async fn overwrite(app: &TestApp, id: Uuid, edit: impl FnOnce(&mut sso_connection::ActiveModel)) {
    let mut model = stored(app, id).await.into_active_model();
    edit(&mut model);
    model.update(&app.db).await.expect("update");
}

/// Discovery that names `javascript:` or `data:` as the authorization endpoint
/// is refused on the Issuer URL field with the reason, and nothing is stored.
#[tokio::test]
async fn discovery_naming_a_script_address_is_refused_and_nothing_is_stored() {
    let app = app_allowing_private_urls(true).await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let (id, _) = create(&app, &admin, "oidc").await;
    for endpoint in [JAVASCRIPT, DATA] {
        let issuer = serve_discovery(endpoint).await;
        let response = save_oidc(&app, &admin, id, &issuer).await;
        let (field, code, message) = field_error(&response);
        assert_eq!(field, "issuer_url");
        assert_eq!(code, "discovery_unsafe_endpoint");
        assert!(message.contains("Authorization endpoint"), "{message}");
        assert!(message.contains("must start with https://"), "{message}");
        let connection = stored(&app, id).await;
        assert_eq!(connection.oidc_discovery, None, "{endpoint}");
        assert_eq!(connection.oidc_issuer_url, "");
        assert_eq!(connection.oidc_client_secret, None);
    }
    // The same provider with a web address is saved.
    let issuer = serve_discovery("").await;
    let response = save_oidc(&app, &admin, id, &issuer).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert!(stored(&app, id).await.oidc_discovery.is_some());
}

/// Plain http:// identity-provider addresses are refused unless the operator
/// allows private addresses; `javascript:` is refused either way.
#[tokio::test]
async fn saml_sso_url_must_be_https_unless_private_urls_are_allowed() {
    let strict = app_allowing_private_urls(false).await;
    let admin = strict.session_for(ADMIN_EMAIL).await;
    let (id, _) = create(&strict, &admin, "saml").await;
    for (url, expected) in [
        ("http://idp.example.com/sso", "https_required"),
        ("http://127.0.0.1:3302/sso", "https_required"),
        (JAVASCRIPT, "unsupported_scheme"),
        (DATA, "unsupported_scheme"),
    ] {
        let (field, code, message) = field_error(&save_saml(&strict, &admin, id, url).await);
        assert_eq!(
            (field.as_str(), code.as_str()),
            ("sso_url", expected),
            "{url}"
        );
        assert!(
            message.starts_with("The address must start with https://."),
            "{message}"
        );
        assert_eq!(stored(&strict, id).await.saml_sso_url, "", "{url}");
    }
    let ok = save_saml(&strict, &admin, id, "https://idp.example.com/sso").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    let open = app_allowing_private_urls(true).await;
    let admin = open.session_for(ADMIN_EMAIL).await;
    let (id, _) = create(&open, &admin, "saml").await;
    let (_, code, _) = field_error(&save_saml(&open, &admin, id, JAVASCRIPT).await);
    assert_eq!(code, "unsupported_scheme");
    let ok = save_saml(&open, &admin, id, "http://127.0.0.1:3302/sso").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        stored(&open, id).await.saml_sso_url,
        "http://127.0.0.1:3302/sso"
    );
}

/// The page checks with the server's rule: the connection view says which.
#[tokio::test]
async fn the_connection_page_learns_the_servers_url_policy() {
    for (allowed, policy) in [(false, "https_only"), (true, "http_allowed")] {
        let app = app_allowing_private_urls(allowed).await;
        let admin = app.session_for(ADMIN_EMAIL).await;
        let (_, saml) = create(&app, &admin, "saml").await;
        assert_eq!(saml["saml"]["url_policy"], policy);
        let (_, oidc) = create(&app, &admin, "oidc").await;
        assert_eq!(oidc["oidc"]["url_policy"], policy);
    }
}

/// Metadata whose single sign-on URL is a script address is not imported.
#[tokio::test]
async fn metadata_naming_a_script_sso_url_is_not_imported() {
    let app = app_allowing_private_urls(true).await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let bad = OKTA_METADATA.replace(OKTA_SSO_URL, "javascript:alert(document.domain)");
    let response = app
        .call_json(
            "import_saml_metadata",
            json!({ "source": { "Xml": bad } }),
            Some(&admin),
        )
        .await;
    let (field, code, message) = field_error(&response);
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("metadata_xml", "unsupported_scheme")
    );
    assert!(
        message.contains("\"javascript:alert(document.domain)\""),
        "{message}"
    );
    assert!(message.contains("must start with https://"), "{message}");
}

/// What the SSO start answered, checked to lead nowhere near `bad`.
fn assert_no_redirect_to(response: &TestResponse, bad: &str) {
    for name in ["location", "serverfnredirect", "refresh"] {
        let value = response.header(name).unwrap_or_default();
        assert!(
            !value.contains(bad) && !value.to_ascii_lowercase().contains("javascript"),
            "{name}: {value}"
        );
    }
    assert!(!response.status.is_redirection(), "{}", response.status);
}

/// The member's answer names a reference; the admin finds the diagnosis under it.
async fn assert_refusal_recorded(app: &TestApp, connection: Uuid, received: &str, reference: &str) {
    let event = app.last_sso_event().await;
    assert_eq!(event.connection_id, connection);
    assert_eq!(event.kind, "sign_in");
    assert!(!event.success);
    assert_eq!(event.code.as_deref(), Some("connection_not_configured"));
    assert_eq!(event.reference, reference);
    assert_eq!(event.received.as_deref(), Some(received));
    let detail = event.detail.unwrap_or_default();
    assert!(detail.contains("must start with https://"), "{detail}");
    assert!(detail.contains("sent nobody there"), "{detail}");
}

/// A stored `javascript:` IdP SSO URL: the organization's login URL answers
/// with the refusal (no redirect), the WASM client's server-function call gets
/// the same refusal as JSON (no redirect header), Test Connection reports the
/// diagnosis, and no pending request is stored.
#[tokio::test]
async fn a_stored_script_sso_url_is_refused_before_any_redirect() {
    let app = app_allowing_private_urls(true).await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let (id, _) = create(&app, &admin, "saml").await;
    let saved = save_saml(&app, &admin, id, "https://idp.example.com/sso").await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    overwrite(&app, id, |m| m.saml_sso_url = Set(JAVASCRIPT.into())).await;

    // A full page load of the organization's login URL (server-side redirect path).
    let page = app.get("/login/acme", None).await;
    assert_no_redirect_to(&page, JAVASCRIPT);
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    assert!(
        page.body.contains("We couldn&#x27;t start single sign-on")
            || page.body.contains("We couldn't start single sign-on"),
        "{}",
        page.body
    );
    let reference = app.last_sso_event().await.reference;
    assert!(page.body.contains(&reference), "{}", page.body);
    // The server made the start before rendering the page, and the page
    // showed that start: one refusal, one event.
    assert_eq!(sso_event::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_refusal_recorded(
        &app,
        id,
        "\"javascript:alert(document.domain)\"",
        &reference,
    )
    .await;

    // The hydrated page's call (client-side redirect path).
    let call = app.call("start_org_sso", "org_slug=acme", None).await;
    assert_no_redirect_to(&call, JAVASCRIPT);
    assert_eq!(call.status, StatusCode::CONFLICT, "{}", call.body);
    let reference = app.last_sso_event().await.reference;
    assert_eq!(
        call.json(),
        json!({ "SsoRefused": { "reference": reference } })
    );

    // Test Connection shows the admin the same diagnosis instead of leaving.
    let test = app.get(&format!("/sso/test/{id}"), Some(&admin)).await;
    assert_no_redirect_to(&test, JAVASCRIPT);
    assert_eq!(test.status, StatusCode::OK, "{}", test.body);
    let event = app.last_sso_event().await;
    assert_eq!(event.kind, "test");
    assert_eq!(event.code.as_deref(), Some("connection_not_configured"));
    assert!(event
        .detail
        .unwrap_or_default()
        .contains("must start with https://"));

    let pending = server::entities::sso_request::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        pending.is_empty(),
        "no request left for the IdP: {pending:?}"
    );
}

/// A stored OIDC authorization endpoint is checked before the browser leaves:
/// `javascript:` always, plain http:// where private addresses are not allowed.
#[tokio::test]
async fn a_stored_script_or_plain_http_authorization_endpoint_is_refused() {
    for (allowed, endpoint) in [
        (true, JAVASCRIPT),
        (true, DATA),
        (false, "http://idp.example.com/authorize"),
    ] {
        let app = app_allowing_private_urls(allowed).await;
        let admin = app.session_for(ADMIN_EMAIL).await;
        let (id, _) = create(&app, &admin, "oidc").await;
        let secret = app
            .state
            .secrets
            .encrypt(SecretSlot::ClientSecret(id), "s3cret-value");
        let discovery = json!({
            "authorization_endpoint": endpoint,
            "token_endpoint": "https://idp.example.com/token",
            "userinfo_endpoint": "https://idp.example.com/me",
            "jwks_uri": "https://idp.example.com/jwks",
        });
        overwrite(&app, id, |m| {
            m.oidc_issuer_url = Set("https://idp.example.com".into());
            m.oidc_client_id = Set("latchkey-app".into());
            m.oidc_client_secret = Set(Some(secret));
            m.oidc_discovery = Set(Some(discovery.to_string()));
        })
        .await;

        let page = app.get("/login/acme", None).await;
        assert_no_redirect_to(&page, endpoint);
        assert_eq!(
            page.status,
            StatusCode::CONFLICT,
            "{endpoint}: {}",
            page.body
        );
        let no_binding_cookie = page.header("set-cookie").unwrap_or_default();
        assert!(
            !no_binding_cookie.contains("lk_oidc_"),
            "{no_binding_cookie}"
        );
        let reference = app.last_sso_event().await.reference;
        assert_refusal_recorded(&app, id, &format!("\"{endpoint}\""), &reference).await;

        let call = app.call("start_org_sso", "org_slug=acme", None).await;
        assert_no_redirect_to(&call, endpoint);
        assert_eq!(call.status, StatusCode::CONFLICT, "{}", call.body);
    }
}

/// The doctor flags a stored script address too, so the admin sees it before
/// anyone tries to sign in.
#[tokio::test]
async fn the_doctor_fails_a_stored_script_address() {
    let app = app_allowing_private_urls(true).await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let (id, _) = create(&app, &admin, "saml").await;
    overwrite(&app, id, |m| m.saml_sso_url = Set(JAVASCRIPT.into())).await;
    let detail = app
        .call_json("get_connection", json!({ "id": id }), Some(&admin))
        .await
        .json();
    let check = detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "saml_sso_url")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail");
    assert!(check["message"]
        .as_str()
        .unwrap()
        .starts_with("The address must start with https://."));
    assert_eq!(detail["summary"]["ready_to_test"], false);
}
