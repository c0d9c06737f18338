//! The request id on the rows a request writes (issue 19.4). Its own test
//! binary: `observability.rs` counts metrics process-wide, and these requests
//! would be counted there too.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use sea_orm::EntityTrait;
use serde_json::json;

/// The rows a request writes name it: an audit entry written by the SCIM
/// group-commit writer (another task) and an SSO event from the ACS.
#[tokio::test]
async fn audit_rows_and_sso_events_name_the_request_that_wrote_them() {
    use sea_orm::{ColumnTrait, QueryFilter};
    use server::entities::audit_event;
    let app = TestApp::spawn().await.with_acme().await;
    let (connection, token) = app.enable_scim().await;
    let created = app
        .send(
            Request::post(format!("/scim/v2/{connection}/Users"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/scim+json")
                .header("x-request-id", "idp-create-1")
                .body(Body::from(json!({"userName": "r@acme.test"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("scim_user_created"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the creation is audited");
    assert_eq!(audited.request_id.as_deref(), Some("idp-create-1"));

    let answered = app
        .post_unreadable_saml_response(Some("member-acs-9"))
        .await;
    assert_eq!(answered.header("x-request-id"), Some("member-acs-9"));
    assert_eq!(
        app.last_sso_event().await.request_id.as_deref(),
        Some("member-acs-9")
    );
    // The audit log shows it, so an admin can hand it to whoever reads the logs.
    let admin = app.session_for(ADMIN_EMAIL).await;
    let page = app
        .call_json(
            "get_audit_log",
            json!({ "query": { "kind": null, "user": "", "page": 0 } }),
            Some(&admin),
        )
        .await
        .json();
    let created_row = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["action"] == "scim_user_created")
        .expect("the creation is listed")
        .clone();
    assert_eq!(created_row["request_id"], json!("idp-create-1"));
    // The connection's sign-in events show it too.
    let events = app
        .call_json(
            "get_sso_events",
            json!({ "connection_id": app.last_sso_event().await.connection_id.to_string() }),
            Some(&admin),
        )
        .await
        .json();
    assert_eq!(events[0]["request_id"], json!("member-acs-9"));
    // Written outside a request (the CLI's path): no id.
    let cli_rows = audit_event::Entity::find()
        .filter(audit_event::Column::Actor.eq("cli"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        cli_rows.iter().all(|row| row.request_id.is_none()),
        "{cli_rows:?}"
    );
}
