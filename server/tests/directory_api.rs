//! The directory API for host apps (SPEC §14): an app's own token
//! (`client_credentials`, scope `directory`) reads organizations' users and
//! groups in cursor pages; every other caller is refused.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use server::provider::apps;
use std::collections::BTreeSet;

struct Client {
    id: String,
    secret: String,
}

async fn register(app: &TestApp) -> Client {
    let created = app
        .register_app(&["https://app.example.com/callback"], None)
        .await;
    Client {
        id: created.client_id,
        secret: created.client_secret,
    }
}

async fn token_request(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> TestResponse {
    app.token_request(Some((&client.id, &client.secret)), form)
        .await
}

async fn app_token(app: &TestApp, client: &Client) -> String {
    let response = token_request(
        app,
        client,
        &[("grant_type", "client_credentials"), ("scope", "directory")],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let body = response.json();
    assert_eq!(body["scope"], "directory");
    assert!(body.get("id_token").is_none());
    body["access_token"].as_str().unwrap().to_string()
}

async fn api(app: &TestApp, path: &str, token: Option<&str>) -> TestResponse {
    let mut builder = Request::get(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(builder.body(Body::empty()).unwrap()).await
}

fn error_of(response: &TestResponse) -> (StatusCode, String) {
    (
        response.status,
        response.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn only_an_apps_directory_token_opens_the_directory() {
    let app = TestApp::spawn().await.with_acme().await;
    let client = register(&app).await;
    let path = "/api/v1/organizations/acme/users";

    let none = api(&app, path, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"latchkey\"")
    );
    assert_eq!(
        error_of(&api(&app, path, Some("forged")).await),
        (StatusCode::UNAUTHORIZED, "invalid_token".into())
    );

    // A member's token (what userinfo takes) is not the app's.
    let member = app.account(MEMBER_EMAIL).await;
    let stored = apps::find(&app.db, &client.id).await.unwrap().unwrap();
    let member_token = server::provider::tokens::issue(
        &app.db,
        stored.id,
        server::provider::tokens::Bearer::Member {
            user_id: member.user.id,
            org_id: member.org.id,
            auth: server::provider::codes::Authentication {
                time: chrono::Utc::now(),
                method: "pwd".into(),
                idp: None,
            },
            code_hash: "x".into(),
        },
        "openid directory",
    )
    .await
    .unwrap();
    assert_eq!(
        error_of(&api(&app, path, Some(&member_token)).await),
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );

    // Unknown scopes and wrong secrets buy no token.
    let refused = token_request(
        &app,
        &client,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "directory admin"),
        ],
    )
    .await;
    assert_eq!(
        error_of(&refused),
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let wrong = Client {
        id: client.id.clone(),
        secret: "wrong".into(),
    };
    let refused = token_request(&app, &wrong, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        error_of(&refused),
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    let token = app_token(&app, &client).await;
    assert_eq!(api(&app, path, Some(&token)).await.status, StatusCode::OK);
    // The event feed (every organization's changes) is closed the same way.
    let feed = "/api/v1/events";
    assert_eq!(api(&app, feed, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_of(&api(&app, feed, Some(&member_token)).await),
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );
    assert_eq!(api(&app, feed, Some(&token)).await.status, StatusCode::OK);
    // An app token is not a member: userinfo refuses it.
    let info = api(&app, "/oauth2/userinfo", Some(&token)).await;
    assert_eq!(
        error_of(&info),
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );
}

#[tokio::test]
async fn users_come_in_cursor_pages_with_their_roles_and_groups() {
    let app = TestApp::spawn().await.with_acme().await;
    for n in 0..5 {
        app.add_user(&format!("person{n}@acme.test"), shared::Role::Member)
            .await;
    }
    let (connection, scim_token) = app.enable_scim().await;
    let member = app.account(MEMBER_EMAIL).await;
    let group = app
        .scim(
            "POST",
            connection,
            "/Groups",
            Some(&scim_token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{ "value": member.user.id.to_string() }],
            })),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let group_id = group.json()["id"].as_str().unwrap().to_string();

    let client = register(&app).await;
    let token = app_token(&app, &client).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/organizations/acme/users?limit=3".to_string();
    let mut pages = 0;
    loop {
        let page = api(&app, &path, Some(&token)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let page = page.json();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/organizations/acme/users?limit=3&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(pages, 3, "7 users in pages of 3");
    let emails: BTreeSet<String> = seen
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(emails.len(), 7, "every user exactly once: {emails:?}");

    let one = api(
        &app,
        &format!("/api/v1/organizations/acme/users/{}", member.user.id),
        Some(&token),
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    let one: Value = one.json();
    assert_eq!(one["email"], MEMBER_EMAIL);
    assert_eq!(one["role"], "member");
    assert_eq!(one["active"], true);
    assert_eq!(
        one["groups"],
        json!([{ "id": group_id, "name": "Engineering" }])
    );

    let groups = api(&app, "/api/v1/organizations/acme/groups", Some(&token))
        .await
        .json();
    assert_eq!(groups["data"].as_array().unwrap().len(), 1);
    assert_eq!(groups["data"][0]["name"], "Engineering");
    assert_eq!(groups["next_cursor"], Value::Null);

    let future = api(
        &app,
        "/api/v1/organizations/acme/users?updated_since=2099-01-01T00:00:00Z",
        Some(&token),
    )
    .await;
    assert_eq!(future.json()["data"], json!([]));
}

#[tokio::test]
async fn bad_directory_requests_say_what_is_wrong_and_nothing_leaks_across_organizations() {
    let app = TestApp::spawn().await.with_acme().await;
    server::accounts::create_organization(&app.db, "globex", "Globex", server::audit::Actor::Cli)
        .await
        .unwrap();
    let client = register(&app).await;
    let token = app_token(&app, &client).await;
    let member = app.account(MEMBER_EMAIL).await;
    let cases = [
        (
            "/api/v1/organizations/acme/users?cursor=not-ours",
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "/api/v1/organizations/acme/users?limit=0",
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "/api/v1/organizations/acme/users?limit=500",
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "/api/v1/organizations/acme/groups?updated_since=yesterday",
            StatusCode::BAD_REQUEST,
            "invalid_updated_since",
        ),
        (
            "/api/v1/organizations/acme/users?page=2",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/api/v1/organizations/nobody/users",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/organizations/acme/users/not-a-uuid",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (path, status, code) in cases {
        assert_eq!(
            error_of(&api(&app, path, Some(&token)).await),
            (status, code.to_string()),
            "{path}"
        );
    }
    let elsewhere = format!("/api/v1/organizations/globex/users/{}", member.user.id);
    assert_eq!(
        error_of(&api(&app, &elsewhere, Some(&token)).await),
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    let globex = api(&app, "/api/v1/organizations/globex/users", Some(&token))
        .await
        .json();
    assert_eq!(globex["data"], json!([]));
}
