//! Settings > Authentication over HTTP: SSO connections, service-provider
//! details, metadata, OIDC discovery and the doctor, for admins only.

mod common;

use axum::http::StatusCode;
use common::*;
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use server::entities::sso_connection;

const SIGNING_CERT: &str = include_str!("fixtures/saml/certs/idp-signing.pem");
const NEXT_CERT: &str = include_str!("fixtures/saml/certs/idp-next.pem");
const EXPIRED_CERT: &str = include_str!("fixtures/saml/certs/expired.pem");
const PRIVATE_KEY: &str = include_str!("fixtures/saml/certs/private-key-pkcs8.pem");
const OKTA_METADATA: &str = include_str!("fixtures/saml/metadata/okta.xml");

async fn create(app: &TestApp, admin: &str, protocol: &str, provider: &str) -> Value {
    let response = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": protocol, "provider": provider, "display_name": "" } }),
            Some(admin),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()
}

fn saml_form(sso_url: &str, entity_id: &str, certificates: &str) -> Value {
    json!({
        "provider": "okta",
        "display_name": "",
        "sso_url": sso_url,
        "entity_id": entity_id,
        "certificates_pem": certificates,
        "mapping": { "email": "email", "first_name": "firstName", "last_name": "lastName", "full_name": "" }
    })
}

fn check_status(detail: &Value, key: &str) -> String {
    detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .map(|c| c["status"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no check {key} in {detail}"))
}

/// Creating a SAML connection names it after the IdP, pre-fills that IdP's
/// mapping, and gives the admin the ACS URL and entity ID at once.
#[tokio::test]
async fn creating_a_saml_connection_shows_service_provider_details() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let detail = create(&app, &admin, "saml", "okta").await;
    let id = detail["summary"]["id"].as_str().unwrap();
    assert_eq!(detail["summary"]["display_name"], "Okta SSO");
    assert_eq!(
        detail["service_provider"]["acs_url"],
        format!("http://127.0.0.1:3000/sso/saml/{id}/acs")
    );
    assert_eq!(
        detail["service_provider"]["entity_id"],
        format!("http://127.0.0.1:3000/sso/saml/{id}/metadata")
    );
    assert_eq!(detail["saml"]["mapping"]["first_name"], "firstName");
    assert_eq!(check_status(&detail, "saml_sso_url"), "fail");
    assert_eq!(detail["summary"]["ready_to_test"], false);
    // Just created: on, but nobody can sign in through it yet, and it says so.
    assert_eq!(
        (&detail["summary"]["active"], &detail["summary"]["status"]),
        (&json!(true), &json!("SetupIncomplete"))
    );

    let entra = create(&app, &admin, "saml", "microsoft_entra_id").await;
    assert_eq!(
        entra["saml"]["mapping"]["email"],
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    );
    let oidc = create(&app, &admin, "oidc", "okta").await;
    assert!(oidc["service_provider"]["redirect_uri"]
        .as_str()
        .unwrap()
        .ends_with("/callback"));

    let overview = app
        .call_json("get_authentication_overview", json!({}), Some(&admin))
        .await
        .json();
    assert_eq!(overview["login_url"], "http://127.0.0.1:3000/login/acme");
    assert_eq!(overview["connections"].as_array().unwrap().len(), 3);
    assert!(app
        .audit()
        .await
        .iter()
        .any(|(action, _, actor)| action == "connection_created" && actor == ADMIN_EMAIL));
}

#[tokio::test]
async fn a_provider_without_the_protocol_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let response = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": "oidc", "provider": "duo", "display_name": "" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response.body.contains("\"field\":\"provider\""),
        "{}",
        response.body
    );
    assert!(sso_connection::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn members_and_strangers_cannot_touch_connections() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let member = app.session_for(MEMBER_EMAIL).await;
    let detail = create(&app, &admin, "saml", "okta").await;
    let id = detail["summary"]["id"].clone();
    for (function, body) in [
        ("get_authentication_overview", json!({})),
        ("get_connection", json!({ "id": id })),
        ("get_connection_page", json!({ "id": id })),
        ("get_event_log", json!({ "connection_id": id })),
        (
            "get_test_result",
            json!({ "connection_id": id, "event_id": id }),
        ),
        (
            "create_connection",
            json!({ "new": { "protocol": "saml", "provider": "okta", "display_name": "" } }),
        ),
        (
            "save_saml_connection",
            json!({ "id": id, "form": saml_form("", "", "") }),
        ),
        (
            "set_connection_active",
            json!({ "id": id, "active": false }),
        ),
        ("delete_connection", json!({ "id": id })),
    ] {
        let as_member = app.call_json(function, body.clone(), Some(&member)).await;
        assert_eq!(as_member.status, StatusCode::FORBIDDEN, "{function}");
        let anonymous = app.call_json(function, body, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{function}");
    }
    assert_eq!(
        sso_connection::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// An admin of another organization cannot see or change this one's connections.
#[tokio::test]
async fn connections_are_scoped_to_their_organization() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let detail = create(&app, &admin, "saml", "okta").await;
    let id = detail["summary"]["id"].clone();

    server::accounts::create_organization(&app.db, "globex", "Globex", server::audit::Actor::Cli)
        .await
        .unwrap();
    server::accounts::create_user(
        &app.db,
        server::accounts::NewUser {
            org_slug: "globex".into(),
            email: "admin@globex.test".into(),
            first_name: String::new(),
            last_name: String::new(),
            role: shared::Role::IntegrationsAdmin,
            password: Some(PASSWORD.into()),
            source: shared::members::MemberSource::Manual,
        },
        server::audit::Actor::Cli,
    )
    .await
    .unwrap();
    let other = app.session_for("admin@globex.test").await;
    for (function, body) in [
        ("get_connection", json!({ "id": id })),
        (
            "save_saml_connection",
            json!({ "id": id, "form": saml_form("", "", "") }),
        ),
        ("delete_connection", json!({ "id": id })),
    ] {
        let response = app.call_json(function, body, Some(&other)).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{function}");
    }
    let garbage = app
        .call_json(
            "get_connection",
            json!({ "id": "not-a-uuid" }),
            Some(&admin),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
}

/// A complete SAML configuration passes every doctor check: Ready to test.
#[tokio::test]
async fn saving_a_complete_saml_connection_makes_it_ready_to_test() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = create(&app, &admin, "saml", "okta").await["summary"]["id"].clone();
    let bundle = format!("{SIGNING_CERT}\n{NEXT_CERT}");
    let response = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": saml_form("https://acme.okta.example/app/sso/saml", "http://www.okta.com/exk123", &bundle) }),
            Some(&admin),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let detail = response.json();
    assert_eq!(detail["summary"]["ready_to_test"], true, "{detail}");
    assert_eq!(detail["summary"]["status"], "ReadyToTest");
    let certificates = detail["saml"]["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 2);
    assert_eq!(
        certificates[0]["sha256_fingerprint"],
        "85:4E:76:25:3F:0F:56:E0:5C:30:65:BF:6E:44:4C:31:EC:0A:EB:09:F1:80:61:DB:44:B3:0A:ED:60:E8:5A:DB"
    );
    assert!(certificates[0]["subject"]
        .as_str()
        .unwrap()
        .contains("idp.example.test"));
    assert!(app
        .audit()
        .await
        .iter()
        .any(|(action, _, _)| action == "connection_updated"));
}

/// Sign-in routing follows the status the admin sees: a connection marked
/// "Setup incomplete" (here: no certificate yet, so every response would be
/// refused) sends no member to the IdP; once it is "Ready to test", it does.
#[tokio::test]
async fn members_are_sent_only_to_connections_whose_status_says_they_can_be() {
    const SSO_URL: &str = "https://acme.okta.example/app/sso/saml";
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = create(&app, &admin, "saml", "okta").await["summary"]["id"].clone();
    let save = |certificates: &'static str| {
        let (app, admin, id) = (&app, &admin, id.clone());
        async move {
            let form = saml_form(SSO_URL, "http://www.okta.com/exk123", certificates);
            app.call_json(
                "save_saml_connection",
                json!({ "id": id, "form": form }),
                Some(admin),
            )
            .await
            .json()
        }
    };

    let incomplete = save("").await;
    assert_eq!(incomplete["summary"]["status"], "SetupIncomplete");
    let page = app.get("/login/acme", None).await;
    assert_eq!(
        (page.status, page.header("location")),
        (StatusCode::OK, None)
    );
    assert!(
        page.body
            .contains("Single sign-on isn&#x27;t available here yet")
            || page
                .body
                .contains("Single sign-on isn't available here yet"),
        "{}",
        page.body
    );

    let ready = save(SIGNING_CERT).await;
    assert_eq!(ready["summary"]["status"], "ReadyToTest");
    let page = app.get("/login/acme", None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.header("location").unwrap_or_default();
    assert!(location.starts_with(SSO_URL), "{location}");
    let binding = page.header("set-cookie").unwrap_or_default();
    assert!(binding.starts_with("lk_saml_"), "{binding}");
    // The redirect alone: no page is rendered around a start that leaves.
    assert_eq!(
        (page.header("content-type"), page.body.as_str()),
        (None, "")
    );
}

#[tokio::test]
async fn an_expired_certificate_fails_the_doctor() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = create(&app, &admin, "saml", "okta").await["summary"]["id"].clone();
    let detail = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": saml_form("https://idp.example.com/sso", "urn:example:idp", EXPIRED_CERT) }),
            Some(&admin),
        )
        .await
        .json();
    assert_eq!(check_status(&detail, "saml_certificate_validity"), "fail");
    assert_eq!(detail["summary"]["ready_to_test"], false);
}

/// Bad values are explained field by field and change nothing.
#[tokio::test]
async fn invalid_saml_fields_are_refused_and_nothing_changes() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = create(&app, &admin, "saml", "okta").await["summary"]["id"].clone();
    let before = sso_connection::Entity::find().all(&app.db).await.unwrap();

    let bad = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": saml_form("ftp://nope", "has spaces in it", "MIIBIjAN") }),
            Some(&admin),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["sso_url", "entity_id", "certificates_pem"] {
        assert!(
            bad.body.contains(&format!("\"field\":\"{field}\"")),
            "{field}: {}",
            bad.body
        );
    }
    let key = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": saml_form("", "", PRIVATE_KEY) }),
            Some(&admin),
        )
        .await;
    assert_eq!(key.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        key.body.to_lowercase().contains("private key"),
        "{}",
        key.body
    );

    let malformed = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": "nope" }),
            Some(&admin),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        sso_connection::Entity::find().all(&app.db).await.unwrap(),
        before
    );
}

/// Attribute names are case-sensitive and kept exactly.
#[tokio::test]
async fn mapping_values_are_kept_exactly() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = create(&app, &admin, "saml", "okta").await["summary"]["id"].clone();
    let mut form = saml_form("", "", "");
    form["mapping"] = json!({ "email": "NameID", "first_name": "", "last_name": "", "full_name": "User.DisplayName" });
    let detail = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": form }),
            Some(&admin),
        )
        .await
        .json();
    assert_eq!(detail["saml"]["mapping"]["email"], "NameID");
    assert_eq!(detail["saml"]["mapping"]["full_name"], "User.DisplayName");
    assert_eq!(check_status(&detail, "saml_attribute_mapping"), "pass");
}

#[tokio::test]
async fn sp_metadata_is_served_for_saml_connections_only() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let saml = create(&app, &admin, "saml", "okta").await;
    let id = saml["summary"]["id"].as_str().unwrap();
    let response = app.get(&format!("/sso/saml/{id}/metadata"), None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.header("content-type").unwrap().contains("xml"));
    assert!(response.body.contains(&format!(
        "entityID=\"http://127.0.0.1:3000/sso/saml/{id}/metadata\""
    )));
    assert!(response.body.contains(&format!(
        "Location=\"http://127.0.0.1:3000/sso/saml/{id}/acs\""
    )));
    assert!(response
        .body
        .contains("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));

    let oidc = create(&app, &admin, "oidc", "okta").await;
    let oidc_id = oidc["summary"]["id"].as_str().unwrap();
    let response = app
        .get(&format!("/sso/saml/{oidc_id}/metadata"), None)
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let response = app.get("/sso/saml/not-an-id/metadata", None).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pasted_metadata_fills_the_idp_details_for_review() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let response = app
        .call_json(
            "import_saml_metadata",
            json!({ "source": { "Xml": OKTA_METADATA } }),
            Some(&admin),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let found = response.json();
    assert!(found["sso_url"].as_str().unwrap().starts_with("https://"));
    assert!(!found["entity_id"].as_str().unwrap().is_empty());
    assert!(found["certificates_pem"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));

    let doctype =
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>";
    let refused = app
        .call_json(
            "import_saml_metadata",
            json!({ "source": { "Xml": doctype } }),
            Some(&admin),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!refused.body.contains("root:"), "{}", refused.body);
}

/// Metadata URLs are fetched by the server, but never from loopback or private
/// addresses unless the operator allows it.
#[tokio::test]
async fn metadata_urls_on_private_addresses_are_refused_by_default() {
    let server = serve_files(vec![("/metadata", OKTA_METADATA.to_string())]).await;
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let url = format!("http://{server}/metadata");
    let refused = app
        .call_json(
            "import_saml_metadata",
            json!({ "source": { "Url": url } }),
            Some(&admin),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("private_address"), "{}", refused.body);

    let allowed = TestApp::spawn_with(&[("LATCHKEY_ALLOW_PRIVATE_URLS", "true")])
        .await
        .with_acme()
        .await;
    let admin = allowed.session_for(ADMIN_EMAIL).await;
    let response = allowed
        .call_json(
            "import_saml_metadata",
            json!({ "source": { "Url": url } }),
            Some(&admin),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let missing = allowed
        .call_json(
            "import_saml_metadata",
            json!({ "source": { "Url": format!("http://{server}/missing") } }),
            Some(&admin),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("404"), "{}", missing.body);
}

/// OIDC: discovery runs on save; a failure says why and saves nothing; the
/// secret is stored encrypted and never comes back.
#[tokio::test]
async fn oidc_save_runs_discovery_and_keeps_the_secret_out_of_reach() {
    let app = TestApp::spawn_with(&[("LATCHKEY_ALLOW_PRIVATE_URLS", "true")])
        .await
        .with_acme()
        .await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = create(&app, &admin, "oidc", "okta").await["summary"]["id"].clone();

    // Nothing listens there: discovery fails and nothing is saved.
    let form = |issuer: &str, secret: &str| json!({ "provider": "okta", "display_name": "", "issuer_url": issuer, "client_id": "latchkey-app", "client_secret": secret });
    let unreachable = app
        .call_json(
            "save_oidc_connection",
            json!({ "id": id, "form": form("http://127.0.0.1:9", "s3cret-value") }),
            Some(&admin),
        )
        .await;
    assert_eq!(unreachable.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unreachable.body.contains("\"field\":\"issuer_url\""),
        "{}",
        unreachable.body
    );
    let stored = sso_connection::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.oidc_client_secret.is_none());

    let provider = serve_discovery().await;
    let issuer = format!("http://{provider}");
    let first_save_needs_secret = app
        .call_json(
            "save_oidc_connection",
            json!({ "id": id, "form": form(&issuer, "") }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        first_save_needs_secret.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let saved = app
        .call_json(
            "save_oidc_connection",
            json!({ "id": id, "form": form(&issuer, "s3cret-value") }),
            Some(&admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let detail = saved.json();
    assert_eq!(
        detail["oidc"]["discovery"]["token_endpoint"],
        format!("{issuer}/token")
    );
    assert_eq!(detail["oidc"]["has_client_secret"], true);
    assert!(!saved.body.contains("s3cret-value"));
    let stored = sso_connection::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let ciphertext = stored.oidc_client_secret.clone().unwrap();
    assert!(!ciphertext.contains("s3cret-value"));

    // Blank later: the stored secret is kept.
    let kept = app
        .call_json(
            "save_oidc_connection",
            json!({ "id": id, "form": form(&issuer, "") }),
            Some(&admin),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    let stored = sso_connection::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.oidc_client_secret, Some(ciphertext));
    assert_eq!(kept.json()["summary"]["ready_to_test"], true);

    // A provider that names another issuer is refused.
    let wrong = app
        .call_json(
            "save_oidc_connection",
            json!({ "id": id, "form": form(&format!("{issuer}/other"), "") }),
            Some(&admin),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn connections_can_be_deactivated_and_deleted() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = create(&app, &admin, "saml", "okta").await["summary"]["id"].clone();
    let off = app
        .call_json(
            "set_connection_active",
            json!({ "id": id, "active": false }),
            Some(&admin),
        )
        .await
        .json();
    assert_eq!(off["summary"]["active"], false);
    assert_eq!(off["summary"]["status"], "Inactive");
    let deleted = app
        .call_json("delete_connection", json!({ "id": id }), Some(&admin))
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(sso_connection::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .is_empty());
    let actions: Vec<String> = app.audit().await.into_iter().map(|(a, _, _)| a).collect();
    assert!(actions.contains(&"connection_deactivated".to_string()));
    assert!(actions.contains(&"connection_deleted".to_string()));
}

/// Serves fixed documents on loopback (a file server, not an identity provider).
/// Each stored client secret is sealed to its own row: copied into another
/// connection (by someone who can write the database but has no key), it does
/// not decrypt there, and that connection asks for its secret again.
#[tokio::test]
async fn a_client_secret_copied_to_another_connection_does_not_decrypt() {
    let app = TestApp::spawn_with(&[("LATCHKEY_ALLOW_PRIVATE_URLS", "true")])
        .await
        .with_acme()
        .await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let issuer = format!("http://{}", serve_discovery().await);
    let mut ids = Vec::new();
    for secret in ["secret-of-a", "secret-of-b"] {
        let id = create(&app, &admin, "oidc", "okta").await["summary"]["id"].clone();
        let form = json!({ "provider": "okta", "display_name": "", "issuer_url": issuer, "client_id": "latchkey-app", "client_secret": secret });
        let saved = app
            .call_json(
                "save_oidc_connection",
                json!({ "id": id, "form": form }),
                Some(&admin),
            )
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        ids.push(id.as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    let (a, b) = (ids[0], ids[1]);
    let find = |id| sso_connection::Entity::find_by_id(id).one(&app.db);
    let a_secret = find(a).await.unwrap().unwrap().oidc_client_secret;
    let mut b_row: sso_connection::ActiveModel = find(b).await.unwrap().unwrap().into();
    b_row.oidc_client_secret = sea_orm::Set(a_secret);
    sea_orm::ActiveModelTrait::update(b_row, &app.db)
        .await
        .unwrap();

    let started = app.get(&format!("/sso/test/{a}"), Some(&admin)).await;
    let location = started.header("location").unwrap_or_default();
    assert!(
        location.starts_with(&format!("{issuer}/auth?")),
        "{location}"
    );

    let refused = app.get(&format!("/sso/test/{b}"), Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.body);
    assert_eq!(refused.header("location"), None);
    let event = app.last_sso_event().await;
    assert_eq!(
        (
            event.connection_id,
            event.code.as_deref(),
            event.expected.as_deref()
        ),
        (
            b,
            Some("connection_not_configured"),
            Some("A Client Secret")
        )
    );
}

async fn serve_files(files: Vec<(&'static str, String)>) -> std::net::SocketAddr {
    let mut router = axum::Router::new();
    for (path, body) in files {
        router = router.route(path, axum::routing::get(move || async move { body }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    address
}

/// A discovery document naming its own loopback address as the issuer.
async fn serve_discovery() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let issuer = format!("http://{address}");
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
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
    address
}

/// IPv6 forms that carry a private IPv4 address (NAT64, 6to4, IPv4-mapped,
/// IPv4-compatible) are private addresses too: a metadata URL naming one is
/// refused before any connection is tried.
#[tokio::test]
async fn metadata_urls_on_ipv6_forms_of_private_addresses_are_refused() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    for host in [
        "[64:ff9b::7f00:1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:a9fe:a9fe::1]",
        "[::ffff:169.254.169.254]",
        "[::127.0.0.1]",
        "[fec0::1]",
    ] {
        let refused = app
            .call_json(
                "import_saml_metadata",
                json!({ "source": { "Url": format!("http://{host}:9/metadata") } }),
                Some(&admin),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{host}");
        let errors = &refused.json()["Invalid"];
        assert_eq!(errors[0]["field"], "metadata_url", "{host}");
        assert_eq!(errors[0]["code"], "private_address", "{host}: {errors}");
    }
}
