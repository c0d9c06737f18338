//! The management API (SPEC §14) and setup links: a host app's `management`
//! token creates, lists and removes organizations and hands a customer's IT
//! admin a one-time link to become its Integrations Admin.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{json, Value};

const PUBLIC_URL: &str = "https://latchkey.example.com";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("LATCHKEY_PUBLIC_URL", PUBLIC_URL)])
        .await
        .with_acme()
        .await
}

async fn token(app: &TestApp, scope: &str) -> String {
    let created = app
        .register_app(&["https://app.example.com/callback"], None)
        .await;
    let form = [("grant_type", "client_credentials"), ("scope", scope)];
    let response = app
        .token_request(Some((&created.client_id, &created.client_secret)), &form)
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.json()["scope"], scope);
    response.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> TestResponse {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    app.send(builder.body(body).unwrap()).await
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
async fn a_management_token_creates_lists_and_removes_organizations() {
    let app = spawn().await;
    let directory = token(&app, "directory").await;
    let new = json!({ "slug": "globex", "name": "Globex", "domains": ["Globex.com"] });
    let refused = call(
        &app,
        "POST",
        "/api/v1/organizations",
        &directory,
        Some(new.clone()),
    )
    .await;
    assert_eq!(
        error_of(&refused),
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );

    let management = token(&app, "management").await;
    let created = call(
        &app,
        "POST",
        "/api/v1/organizations",
        &management,
        Some(new.clone()),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let created = created.json();
    assert_eq!(created["slug"], "globex");
    assert_eq!(created["domains"][0]["domain"], "globex.com");
    assert_eq!(created["domains"][0]["verified"], false);
    assert_eq!(
        created["domains"][0]["txt_record"]["name"],
        "_latchkey-challenge.globex.com"
    );

    let cases = [
        (new.clone(), StatusCode::CONFLICT, "organization_exists"),
        (
            json!({ "slug": "Not A Slug!", "name": "X" }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({ "slug": "initrode", "name": "Initrode", "plan": "gold" }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({ "slug": "initrode", "name": "Initrode", "domains": ["gmail.com"] }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let response = call(
            &app,
            "POST",
            "/api/v1/organizations",
            &management,
            Some(body.clone()),
        )
        .await;
        assert_eq!(error_of(&response), (status, code.to_string()), "{body}");
    }

    let listed = call(
        &app,
        "GET",
        "/api/v1/organizations?limit=1",
        &management,
        None,
    )
    .await
    .json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let cursor = listed["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let rest = call(
        &app,
        "GET",
        &format!("/api/v1/organizations?cursor={cursor}"),
        &management,
        None,
    )
    .await
    .json();
    let mut slugs: Vec<String> = [&listed, &rest]
        .iter()
        .flat_map(|page| page["data"].as_array().unwrap())
        .map(|o| o["slug"].as_str().unwrap().to_string())
        .collect();
    slugs.sort();
    assert_eq!(slugs, ["acme", "globex"]);

    let removed = call(
        &app,
        "DELETE",
        "/api/v1/organizations/globex",
        &management,
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let again = call(
        &app,
        "DELETE",
        "/api/v1/organizations/globex",
        &management,
        None,
    )
    .await;
    assert_eq!(
        error_of(&again),
        (StatusCode::NOT_FOUND, "not_found".into())
    );
}

async fn setup_link(app: &TestApp, token: &str, org: &str, email: &str) -> (String, String) {
    let response = call(
        app,
        "POST",
        &format!("/api/v1/organizations/{org}/setup-links"),
        token,
        Some(json!({ "email": email })),
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    let link = response.json();
    let url = link["url"].as_str().unwrap().to_string();
    let path = url
        .strip_prefix(PUBLIC_URL)
        .expect("on the public URL")
        .to_string();
    (link["id"].as_str().unwrap().to_string(), path)
}

async fn accept(app: &TestApp, path: &str, site: &str) -> TestResponse {
    let request = Request::post(path)
        .header("sec-fetch-site", site)
        .body(Body::empty())
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn a_setup_link_makes_a_new_it_admin_the_organizations_integrations_admin_once() {
    let app = spawn().await;
    let management = token(&app, "management").await;
    let created = call(
        &app,
        "POST",
        "/api/v1/organizations",
        &management,
        Some(json!({ "slug": "globex", "name": "Globex" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let (_, path) = setup_link(&app, &management, "globex", "it@globex.test").await;

    // Opening the link changes nothing (mail scanners open links).
    let page = app.get(&path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("it@globex.test") && page.body.contains("Accept and continue"));
    assert!(app.get(&path, None).await.status == StatusCode::OK);

    let forged = accept(&app, &path, "cross-site").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let accepted = accept(&app, &path, "same-origin").await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
    assert_eq!(
        accepted.header("location"),
        Some("/settings/authentication")
    );
    let session = accepted.session_cookie().expect("signed in");
    let user = app
        .state
        .backend
        .0
        .session_user(&session)
        .await
        .unwrap()
        .expect("a live session");
    assert_eq!(
        (user.email.as_str(), user.org_slug.as_str()),
        ("it@globex.test", "globex")
    );
    assert!(user.role.is_integrations_admin());
    let account = app.account("it@globex.test").await;
    assert_eq!(
        account.user.password_hash, None,
        "no password was set by the link"
    );

    let reused = accept(&app, &path, "same-origin").await;
    assert_eq!(reused.status, StatusCode::GONE);
    assert!(reused.body.contains("already used"));
    let actions: Vec<String> = app
        .audit()
        .await
        .into_iter()
        .map(|(action, _, _)| action)
        .collect();
    assert!(
        actions.contains(&"setup_link_created".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"setup_link_used".to_string()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn expired_revoked_and_forged_setup_links_open_nothing_and_an_existing_member_is_promoted() {
    let app = spawn().await;
    let management = token(&app, "management").await;

    let (_, expired) = setup_link(&app, &management, "acme", "late@acme.test").await;
    for link in server::entities::setup_link::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
    {
        let mut aged: server::entities::setup_link::ActiveModel = link.into();
        aged.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
        aged.update(&app.db).await.unwrap();
    }
    let response = accept(&app, &expired, "same-origin").await;
    assert_eq!(response.status, StatusCode::GONE);
    assert!(response.body.contains("expired"));

    let (id, revoked) = setup_link(&app, &management, "acme", "gone@acme.test").await;
    let response = call(
        &app,
        "DELETE",
        &format!("/api/v1/organizations/acme/setup-links/{id}"),
        &management,
        None,
    )
    .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    let response = app.get(&revoked, None).await;
    assert_eq!(response.status, StatusCode::GONE);
    assert!(response.body.contains("revoked"));
    assert_eq!(
        accept(&app, &revoked, "same-origin").await.status,
        StatusCode::GONE
    );

    let forged = accept(
        &app,
        "/setup/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "same-origin",
    )
    .await;
    assert_eq!(forged.status, StatusCode::GONE);

    let bad = call(
        &app,
        "POST",
        "/api/v1/organizations/acme/setup-links",
        &management,
        Some(json!({ "email": "not-an-email" })),
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let bad = call(
        &app,
        "POST",
        "/api/v1/organizations/acme/setup-links",
        &management,
        Some(json!({ "email": "a@acme.test", "lifetime_days": 90 })),
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );

    let (_, promote) = setup_link(&app, &management, "acme", MEMBER_EMAIL).await;
    assert_eq!(
        accept(&app, &promote, "same-origin").await.status,
        StatusCode::SEE_OTHER
    );
    assert!(app.account(MEMBER_EMAIL).await.role.is_integrations_admin());
}
