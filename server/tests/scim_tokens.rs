//! SCIM bearer tokens: rotation, cancellation, disabling, and the request log.

mod common;

use axum::http::StatusCode;
use common::*;
use sea_orm::EntityTrait;
use serde_json::json;
use server::entities::{scim_connection, scim_request, scim_token, user};
use server::scim::connections::{self, ConnectionError};

async fn status(app: &TestApp, connection: uuid::Uuid, token: &str) -> u16 {
    app.scim("GET", connection, "/Users?count=1", Some(token), None)
        .await
        .status
        .as_u16()
}

/// Both tokens work during a rotation; completing it retires the old one.
#[tokio::test]
async fn rotation_keeps_both_tokens_until_completed() {
    let app = TestApp::spawn().await.with_acme().await;
    let (connection, old) = app.enable_scim().await;
    let admin = app.scim_admin().await;
    let cache = &app.state.scim.tokens;
    assert_eq!(status(&app, connection, &old).await, 200);
    let (_, new) = connections::rotate(&app.db, cache, &admin).await.unwrap();
    assert_ne!(old, new);
    assert_eq!(status(&app, connection, &old).await, 200);
    assert_eq!(status(&app, connection, &new).await, 200);
    assert!(matches!(
        connections::rotate(&app.db, cache, &admin).await,
        Err(ConnectionError::RotationInProgress)
    ));
    connections::complete_rotation(&app.db, cache, &admin)
        .await
        .unwrap();
    assert_eq!(status(&app, connection, &old).await, 401);
    assert_eq!(status(&app, connection, &new).await, 200);
    assert!(matches!(
        connections::complete_rotation(&app.db, cache, &admin).await,
        Err(ConnectionError::NoRotation)
    ));
    let audit: Vec<String> = app.audit().await.into_iter().map(|(a, _, _)| a).collect();
    for action in [
        "scim_enabled",
        "scim_token_issued",
        "scim_token_rotated",
        "scim_rotation_completed",
    ] {
        assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
    }
}

/// Cancelling a rotation discards the new token and keeps the old one.
#[tokio::test]
async fn cancelled_rotation_refuses_the_new_token() {
    let app = TestApp::spawn().await.with_acme().await;
    let (connection, old) = app.enable_scim().await;
    let admin = app.scim_admin().await;
    let cache = &app.state.scim.tokens;
    let (_, new) = connections::rotate(&app.db, cache, &admin).await.unwrap();
    assert_eq!(status(&app, connection, &new).await, 200);
    connections::cancel_rotation(&app.db, cache, &admin)
        .await
        .unwrap();
    assert_eq!(status(&app, connection, &new).await, 401);
    assert_eq!(status(&app, connection, &old).await, 200);
    assert!(app
        .audit()
        .await
        .iter()
        .any(|(a, _, _)| a == "scim_rotation_cancelled"));
}

/// Disabling revokes every token and leaves the users as they are.
#[tokio::test]
async fn disable_revokes_all_tokens_and_leaves_users() {
    let app = TestApp::spawn().await.with_acme().await;
    let (connection, old) = app.enable_scim().await;
    let admin = app.scim_admin().await;
    let cache = &app.state.scim.tokens;
    let created = app
        .scim(
            "POST",
            connection,
            "/Users",
            Some(&old),
            Some(json!({"userName": "kept@acme.test"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let (_, new) = connections::rotate(&app.db, cache, &admin).await.unwrap();
    let users_before = user::Entity::find().all(&app.db).await.unwrap();
    connections::disable(&app.db, cache, &admin).await.unwrap();
    assert_eq!(status(&app, connection, &old).await, 401);
    assert_eq!(status(&app, connection, &new).await, 401);
    let users_after = user::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(users_before, users_after);
    let tokens = scim_token::Entity::find().all(&app.db).await.unwrap();
    assert!(tokens
        .iter()
        .all(|t| t.state == "revoked" && t.revoked_at.is_some()));
    assert!(tokens
        .iter()
        .all(|t| t.token_hash.len() == 64 && t.token_hash != old && t.token_hash != new));
    assert!(app
        .audit()
        .await
        .iter()
        .any(|(a, _, _)| a == "scim_disabled"));
    // Enabling again gives a new base URL and token; the users are still there.
    let (again, token) = app.enable_scim().await;
    assert_ne!(again, connection);
    let found = app
        .scim(
            "GET",
            again,
            "/Users?filter=userName%20eq%20%22kept@acme.test%22",
            Some(&token),
            None,
        )
        .await
        .json();
    assert_eq!(found["totalResults"], 1);
}

/// Requests are logged (method, path, status, outcome) and the last call is
/// noted, in batches off the request path; never a token or a query string.
#[tokio::test]
async fn requests_are_logged_in_batches_without_secrets() {
    let app = TestApp::spawn().await.with_acme().await;
    let (connection, token) = app.enable_scim().await;
    app.scim(
        "GET",
        connection,
        "/Users?filter=userName%20eq%20%22secret@acme.test%22",
        Some(&token),
        None,
    )
    .await;
    app.scim(
        "POST",
        connection,
        "/Users",
        Some(&token),
        Some(json!({"userName": "x@acme.test", "password": "hunter2hunter2"})),
    )
    .await;
    app.scim(
        "POST",
        connection,
        "/Users",
        Some(&token),
        Some(json!({"userName": ""})),
    )
    .await;
    app.state.scim.activity.flush().await.unwrap();
    let mut log = scim_request::Entity::find().all(&app.db).await.unwrap();
    log.sort_by_key(|r| r.created_at);
    let rows: Vec<(String, String, i32, String)> = log
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.clone(),
                r.status,
                r.outcome.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("GET".into(), "/Users".into(), 200, "ok".into()),
            ("POST".into(), "/Users".into(), 201, "ok".into()),
            ("POST".into(), "/Users".into(), 400, "invalidValue".into()),
        ]
    );
    let text = format!("{log:?}");
    assert!(!text.contains(&token) && !text.contains("hunter2") && !text.contains("secret@"));
    let stored = scim_connection::Entity::find_by_id(connection)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.last_called_at.is_some());
}
