//! "Require SSO": refused until a connection passed Test Connection; when on,
//! members are refused a password sign-in (after the password is checked) and
//! Integrations Admins get in as break-glass, marked in the audit log.

mod common;

use axum::http::StatusCode;
use common::*;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::json;
use server::entities::{audit_event, session, sso_connection};

async fn connection(app: &TestApp, admin: &str) -> String {
    let created = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": "saml", "provider": "okta", "display_name": "" } }),
            Some(admin),
        )
        .await
        .json();
    created["summary"]["id"].as_str().unwrap().to_string()
}

async fn mark_tested(app: &TestApp, id: &str) {
    let model = sso_connection::Entity::find_by_id(uuid::Uuid::parse_str(id).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut model = model.into_active_model();
    model.tested_at = Set(Some(chrono::Utc::now()));
    model.update(&app.db).await.unwrap();
}

async fn require_sso(app: &TestApp, admin: &str, on: bool) -> TestResponse {
    app.call_json("set_require_sso", json!({ "on": on }), Some(admin))
        .await
}

/// Without a connection that passed Test Connection, Require SSO is refused
/// with a reason next to the switch, and nothing changes.
#[tokio::test]
async fn require_sso_needs_a_tested_connection() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    connection(&app, &admin).await;
    let refused = require_sso(&app, &admin, true).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("no_tested_connection"),
        "{}",
        refused.body
    );
    let overview = app
        .call_json("get_authentication_overview", json!({}), Some(&admin))
        .await
        .json();
    assert_eq!(overview["require_sso"], false);
    assert_eq!(overview["has_tested_connection"], false);
    // Members cannot flip it at all.
    let member = app.session_for(MEMBER_EMAIL).await;
    assert_eq!(
        require_sso(&app, &member, true).await.status,
        StatusCode::FORBIDDEN
    );
}

/// With SSO required, a member with the right password is sent to SSO, a
/// wrong password reads as always, and an admin gets in as break-glass.
#[tokio::test]
async fn members_must_use_sso_and_admins_keep_break_glass() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = connection(&app, &admin).await;
    mark_tested(&app, &id).await;
    let on = require_sso(&app, &admin, true).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert_eq!(on.json()["require_sso"], true);

    let member = app.sign_in(MEMBER_EMAIL, PASSWORD).await;
    assert_eq!(member.status, StatusCode::FORBIDDEN, "{}", member.body);
    assert!(
        member.body.contains("sso_required") || member.body.contains("SsoRequired"),
        "{}",
        member.body
    );
    assert!(member.body.contains("/login/acme"), "{}", member.body);
    assert!(member.session_cookie().is_none());
    // The check comes after the password: a wrong one says nothing about SSO.
    let guess = app.sign_in(MEMBER_EMAIL, "wrong password entirely").await;
    assert_eq!(guess.status, StatusCode::UNAUTHORIZED);
    assert!(!guess.body.contains("SsoRequired"));

    let break_glass = app.sign_in(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(break_glass.status, StatusCode::OK, "{}", break_glass.body);
    let token = break_glass.session_cookie().unwrap();
    let stored = session::Entity::find_by_id(server::sessions::session_key(&token).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.method, "break_glass");

    let events = audit_event::Entity::find().all(&app.db).await.unwrap();
    assert!(events.iter().any(|e| e.action == "require_sso_enabled"));
    assert!(
        events
            .iter()
            .any(|e| e.action == "sign_in_failed" && e.detail.contains("sso_required")),
        "{events:?}"
    );
    assert!(events
        .iter()
        .any(|e| e.action == "sign_in" && e.detail.contains("break_glass")));

    // Turned off again, passwords work for members.
    assert_eq!(
        require_sso(&app, &admin, false).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.sign_in(MEMBER_EMAIL, PASSWORD).await.status,
        StatusCode::OK
    );
    let events = audit_event::Entity::find().all(&app.db).await.unwrap();
    assert!(events.iter().any(|e| e.action == "require_sso_disabled"));
}

/// The audit log page shows sign-ins, break-glass and refusals, filtered by
/// kind and user, to Integrations Admins only.
#[tokio::test]
async fn the_audit_log_filters_by_kind_and_user() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = connection(&app, &admin).await;
    mark_tested(&app, &id).await;
    require_sso(&app, &admin, true).await;
    app.sign_in(MEMBER_EMAIL, PASSWORD).await;
    app.sign_in(ADMIN_EMAIL, PASSWORD).await;

    let log = |query: serde_json::Value| {
        app.call_json("get_audit_log", json!({ "query": query }), Some(&admin))
    };
    let sign_ins = log(json!({ "kind": "sign_ins", "user": "", "page": 0 }))
        .await
        .json();
    let actions: Vec<&str> = sign_ins["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.iter().all(|a| a.starts_with("sign_")),
        "{actions:?}"
    );
    let rows = sign_ins["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["details"].to_string().contains("break_glass")),
        "{rows:?}"
    );

    let member = log(json!({ "kind": null, "user": "MEMBER@", "page": 0 }))
        .await
        .json();
    let rows = member["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["actor"] == MEMBER_EMAIL), "{rows:?}");
    assert!(rows
        .iter()
        .any(|r| r["action"] == "sign_in_failed"
            && r["details"].to_string().contains("sso_required")));

    let settings = log(json!({ "kind": "sso_settings", "user": "", "page": 0 }))
        .await
        .json();
    let actions: Vec<&str> = settings["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"require_sso_enabled") && actions.contains(&"connection_created"),
        "{actions:?}"
    );

    // A LIKE wildcard in the user filter is taken literally.
    let literal = log(json!({ "kind": null, "user": "%", "page": 0 }))
        .await
        .json();
    assert_eq!(literal["rows"].as_array().unwrap().len(), 0);
    // A NUL byte (which PostgreSQL text cannot hold) is ignored, not an error.
    let nul = log(json!({ "kind": null, "user": "MEMBER@\u{0}", "page": 0 })).await;
    assert_eq!(nul.status, StatusCode::OK, "{}", nul.body);
    assert!(!nul.json()["rows"].as_array().unwrap().is_empty());

    require_sso(&app, &admin, false).await;
    let member = app.session_for(MEMBER_EMAIL).await;
    let denied = app
        .call_json(
            "get_audit_log",
            json!({ "query": { "kind": null, "user": "", "page": 0 } }),
            Some(&member),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

/// Whose session the cookie opens, if anyone's.
async fn signed_in(app: &TestApp, cookie: &str) -> Option<String> {
    let me = app.call("whoami", "", Some(cookie)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.json()["email"].as_str().map(str::to_string)
}

/// Turning Require SSO on ends the members' sessions that a password opened,
/// at once: a member cannot keep using a password session around the rule.
/// Integrations Admins' sessions (break-glass) and sessions opened through
/// SSO live on; the audit row counts the sessions ended.
#[tokio::test]
async fn require_sso_ends_members_password_sessions() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let member = app.session_for(MEMBER_EMAIL).await;
    assert_eq!(
        signed_in(&app, &member).await.as_deref(),
        Some(MEMBER_EMAIL)
    );
    // The same member, also signed in through SSO in another browser.
    let account = server::accounts::accounts_by_email(&app.db, MEMBER_EMAIL)
        .await
        .unwrap()
        .remove(0);
    let sso = server::sessions::open(
        &app.db,
        account.user.id,
        account.org.id,
        server::sessions::SignInMethod::Saml,
        None,
    )
    .await
    .unwrap();
    let id = connection(&app, &admin).await;
    mark_tested(&app, &id).await;

    let on = require_sso(&app, &admin, true).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert_eq!(
        signed_in(&app, &member).await,
        None,
        "the password session ended"
    );
    let dead = app.call("settings_access", "", Some(&member)).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);
    assert_eq!(signed_in(&app, &sso).await.as_deref(), Some(MEMBER_EMAIL));
    assert_eq!(signed_in(&app, &admin).await.as_deref(), Some(ADMIN_EMAIL));
    let sessions = session::Entity::find().all(&app.db).await.unwrap();
    let methods: Vec<&str> = sessions.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods.len(), 2, "{methods:?}");
    assert!(methods.contains(&"saml") && methods.contains(&"password"));
    // A password sign-in that raced the switch (checked the setting just
    // before it changed) opens nothing either.
    let raced = server::sessions::open(
        &app.db,
        account.user.id,
        account.org.id,
        server::sessions::SignInMethod::Password,
        None,
    )
    .await
    .unwrap();
    assert_eq!(signed_in(&app, &raced).await, None);

    let enabled = audit_event::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "require_sso_enabled")
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&enabled.detail).unwrap();
    assert_eq!(
        detail,
        json!({ "require_sso": true, "member_password_sessions_ended": 1 })
    );
}
