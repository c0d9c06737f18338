//! Settings > User Provisioning through its server functions, as the page calls them.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

async fn call(app: &TestApp, function: &str, body: Value, cookie: &str) -> (u16, Value) {
    let response = app.call_json(function, body, Some(cookie)).await;
    let status = response.status.as_u16();
    (
        status,
        serde_json::from_str(&response.body).unwrap_or(Value::Null),
    )
}

async fn scim_status(app: &TestApp, base_url: &str, token: &str) -> u16 {
    let connection = base_url.rsplit('/').next().unwrap().parse().unwrap();
    app.scim("GET", connection, "/Users?count=1", Some(token), None)
        .await
        .status
        .as_u16()
}

/// Enable, rotate (both tokens work), complete (old refused), rotate and cancel
/// (new refused), disable (all refused): the whole card, end to end.
#[tokio::test]
async fn admin_enables_rotates_and_disables_scim() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let (status, empty) = call(&app, "get_provisioning_overview", json!({}), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(empty["connection"], Value::Null);

    let (status, bad) = call(
        &app,
        "enable_scim",
        json!({"form": {"provider": "google_workspace", "name": ""}}),
        &admin,
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    let (status, issued) = call(
        &app,
        "enable_scim",
        json!({"form": {"provider": "okta", "name": ""}}),
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{issued}");
    let first = issued["token"].as_str().unwrap().to_string();
    let connection = &issued["overview"]["connection"];
    assert_eq!(connection["name"], "Okta SCIM");
    assert_eq!(connection["enabled"], true);
    assert_eq!(connection["rotation"], "Idle");
    let base_url = connection["base_url"].as_str().unwrap().to_string();
    assert!(
        base_url.starts_with("http://127.0.0.1:3000/scim/v2/"),
        "{base_url}"
    );
    assert_eq!(scim_status(&app, &base_url, &first).await, 200);
    // The token is shown once: the overview never carries it.
    let (_, again) = call(&app, "get_provisioning_overview", json!({}), &admin).await;
    assert!(!again.to_string().contains(&first));
    assert_eq!(again["requests"][0]["path"], "/Users");
    assert!(again["connection"]["last_called_at"].is_number());
    let (status, _) = call(
        &app,
        "enable_scim",
        json!({"form": {"provider": "okta", "name": ""}}),
        &admin,
    )
    .await;
    assert_eq!(status, 409);

    let (status, rotated) = call(&app, "rotate_scim_token", json!({}), &admin).await;
    assert_eq!(status, 200);
    let second = rotated["token"].as_str().unwrap().to_string();
    assert!(rotated["overview"]["connection"]["rotation"]["InProgress"].is_object());
    assert_eq!(scim_status(&app, &base_url, &first).await, 200);
    assert_eq!(scim_status(&app, &base_url, &second).await, 200);
    let (status, done) = call(&app, "complete_scim_rotation", json!({}), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(done["connection"]["rotation"], "Idle");
    assert_eq!(scim_status(&app, &base_url, &first).await, 401);
    assert_eq!(scim_status(&app, &base_url, &second).await, 200);

    let (_, rotated) = call(&app, "rotate_scim_token", json!({}), &admin).await;
    let third = rotated["token"].as_str().unwrap().to_string();
    let (status, _) = call(&app, "cancel_scim_rotation", json!({}), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(scim_status(&app, &base_url, &third).await, 401);
    assert_eq!(scim_status(&app, &base_url, &second).await, 200);
    let (status, _) = call(&app, "cancel_scim_rotation", json!({}), &admin).await;
    assert_eq!(status, 409);

    let (status, off) = call(&app, "disable_scim", json!({}), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(off["connection"]["enabled"], false);
    assert_eq!(scim_status(&app, &base_url, &second).await, 401);
    let page = app.get("/settings/provisioning", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Enable SCIM"));
}

#[tokio::test]
async fn members_cannot_manage_provisioning() {
    let app = TestApp::spawn().await.with_acme().await;
    let member = app.session_for(MEMBER_EMAIL).await;
    for function in [
        "get_provisioning_overview",
        "rotate_scim_token",
        "disable_scim",
    ] {
        let (status, _) = call(&app, function, json!({}), &member).await;
        assert_eq!(status, 403, "{function}");
    }
    let (status, _) = call(
        &app,
        "enable_scim",
        json!({"form": {"provider": "okta", "name": ""}}),
        &member,
    )
    .await;
    assert_eq!(status, 403);
}
