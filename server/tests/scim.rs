//! The SCIM endpoints over HTTP: users, groups, filters, paging, PATCH, errors and
//! what provisioning does to accounts and sessions.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::scim::*;
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use server::entities::{session, user};
use uuid::Uuid;

type Scim = ScimIdp;

impl ScimIdp {
    async fn create_user(&self, user_name: &str) -> Value {
        let response = self
            .call(
                "POST",
                "/Users",
                Some(json!({
                    "schemas": [USER],
                    "userName": user_name,
                    "name": {"givenName": "Jane", "familyName": "Doe"},
                    "emails": [{"value": user_name, "type": "work", "primary": true}],
                    "active": true
                })),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.json()
    }

    async fn stored(&self, email: &str) -> user::Model {
        user::Entity::find()
            .filter(user::Column::EmailNormalized.eq(email.to_lowercase()))
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("stored user")
    }
}

fn assert_scim_error(response: &TestResponse, status: u16, scim_type: Option<&str>) {
    assert_eq!(response.status.as_u16(), status, "{}", response.body);
    assert!(
        response
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json")),
        "{:?}",
        response.headers
    );
    let body = response.json();
    assert_eq!(body["schemas"], json!([ERROR]));
    assert_eq!(body["status"], json!(status.to_string()));
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

/// A created user is the same account SSO signs in: email, names, status, no password.
#[tokio::test]
async fn created_users_are_sso_only_accounts() {
    let scim = Scim::start().await;
    let created = scim.create_user("Jane.Doe@Acme.test").await;
    assert_eq!(created["userName"], "Jane.Doe@Acme.test");
    assert_eq!(created["active"], true);
    assert_eq!(created["meta"]["resourceType"], "User");
    let id = created["id"].as_str().unwrap();
    assert!(created["meta"]["location"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Users/{id}")));

    let stored = scim.stored("jane.doe@acme.test").await;
    assert_eq!(stored.email, "Jane.Doe@Acme.test");
    assert_eq!(
        (stored.first_name.as_str(), stored.last_name.as_str()),
        ("Jane", "Doe")
    );
    assert!(stored.password_hash.is_none());
    assert!(stored.active);
    let response = scim.app.sign_in("jane.doe@acme.test", PASSWORD).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);

    let fetched = scim.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json()["emails"][0]["value"], "Jane.Doe@Acme.test");
    assert!(scim
        .app
        .audit()
        .await
        .iter()
        .any(|(a, _, _)| a == "scim_user_created"));
}

/// Users created one after another get ids in that order, and so do their
/// memberships: new rows append to their indexes instead of landing on random
/// pages (see `db::new_row_id`).
#[tokio::test]
async fn users_created_in_turn_get_ids_in_that_order() {
    let scim = Scim::start().await;
    let mut user_ids = Vec::new();
    let mut membership_ids = Vec::new();
    // Eight, so that random ids would come out sorted once in 40,320 runs.
    for n in 0..8 {
        let created = scim.create_user(&format!("order{n}@acme.test")).await;
        let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
        let joined = server::entities::membership::Entity::find()
            .filter(server::entities::membership::Column::UserId.eq(id))
            .one(&scim.app.db)
            .await
            .unwrap()
            .expect("membership");
        user_ids.push(id.to_string());
        membership_ids.push(joined.id.to_string());
    }
    for ids in [user_ids, membership_ids] {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
    }
}

/// userName is unique per organization without regard to case: 409 uniqueness.
#[tokio::test]
async fn duplicate_user_names_are_refused_with_uniqueness() {
    let scim = Scim::start().await;
    scim.create_user("dup@acme.test").await;
    let again = scim
        .call("POST", "/Users", Some(json!({"userName": "DUP@acme.test"})))
        .await;
    assert_scim_error(&again, 409, Some("uniqueness"));
    // Accounts made before SCIM (here the admin) are found and not duplicated.
    let admin = scim
        .call("POST", "/Users", Some(json!({"userName": ADMIN_EMAIL})))
        .await;
    assert_scim_error(&admin, 409, Some("uniqueness"));
}

#[tokio::test]
async fn filters_find_users_by_the_spec_attributes() {
    let scim = Scim::start().await;
    let jane = scim.create_user("jane@acme.test").await;
    scim.create_user("john@acme.test").await;
    let cases = [
        (r#"userName eq "JANE@acme.test""#, 1),
        (r#"userName sw "j""#, 2),
        (r#"userName co "acme""#, 4),
        (
            r#"userName ew "@acme.test" and not (userName eq "john@acme.test")"#,
            3,
        ),
        (r#"emails.value eq "john@acme.test""#, 1),
        (r#"emails[type eq "work"].value eq "jane@acme.test""#, 1),
        ("active eq true", 4),
        (r#"externalId eq "nope""#, 0),
        (r#"meta.lastModified gt "2000-01-01T00:00:00Z""#, 4),
        (r#"name.givenName eq "jane""#, 2),
        (r#"userName eq "a%b""#, 0),
    ];
    for (filter, expected) in cases {
        let path = format!("/Users?filter={}", urlencode(filter));
        let response = scim.call("GET", &path, None).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{filter}: {}",
            response.body
        );
        let body = response.json();
        assert_eq!(body["totalResults"], expected, "{filter}: {body}");
    }
    let id = jane["id"].as_str().unwrap();
    let by_id = scim
        .call(
            "GET",
            &format!("/Users?filter={}", urlencode(&format!("id eq \"{id}\""))),
            None,
        )
        .await;
    assert_eq!(by_id.json()["Resources"][0]["userName"], "jane@acme.test");
}

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter() {
    let scim = Scim::start().await;
    for filter in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        &"(".repeat(100),
        &format!("userName eq \"{}\"", "a".repeat(5000)),
    ] {
        let response = scim
            .call("GET", &format!("/Users?filter={}", urlencode(filter)), None)
            .await;
        assert_scim_error(&response, 400, Some("invalidFilter"));
    }
}

#[tokio::test]
async fn paging_is_stable_and_counts_everything() {
    let scim = Scim::start().await;
    for n in 0..5 {
        scim.create_user(&format!("user{n}@acme.test")).await;
    }
    let mut seen = Vec::new();
    for start in [1, 3, 5, 7] {
        let page = scim
            .call("GET", &format!("/Users?startIndex={start}&count=2"), None)
            .await
            .json();
        assert_eq!(page["totalResults"], 7);
        assert_eq!(page["startIndex"], start);
        for r in page["Resources"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 7);
    assert_eq!(unique.len(), 7);
    let none = scim.call("GET", "/Users?count=0", None).await.json();
    assert_eq!(none["totalResults"], 7);
    assert_eq!(none["Resources"], json!([]));
    let bad = scim.call("GET", "/Users?count=many", None).await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
}

#[tokio::test]
async fn attributes_and_excluded_attributes_shape_the_answer() {
    let scim = Scim::start().await;
    let jane = scim.create_user("jane@acme.test").await;
    let id = jane["id"].as_str().unwrap();
    let only = scim
        .call(
            "GET",
            &format!("/Users/{id}?attributes=userName,name.familyName"),
            None,
        )
        .await
        .json();
    assert_eq!(
        only,
        json!({"schemas": [USER], "id": id, "userName": "jane@acme.test", "name": {"familyName": "Doe"}})
    );
    let without = scim
        .call(
            "GET",
            &format!("/Users/{id}?excludedAttributes=emails,meta"),
            None,
        )
        .await
        .json();
    assert!(without.get("emails").is_none() && without.get("meta").is_none());
    assert_eq!(without["userName"], "jane@acme.test");
}

/// PATCH: op names in any case, with and without path, value filters, dotted and
/// URN keys, booleans as strings.
#[tokio::test]
async fn patch_handles_the_forms_idps_send() {
    let scim = Scim::start().await;
    let jane = scim.create_user("jane@acme.test").await;
    let path = format!("/Users/{}", jane["id"].as_str().unwrap());
    let response = scim
        .patch(
            &path,
            json!([
                {"op": "Replace", "path": "name.givenName", "value": "Janet"},
                {"op": "ADD", "path": "emails[type eq \"work\"].value", "value": "janet@acme.test"},
                {"op": "add", "value": {
                    "title": "Engineer",
                    "name.familyName": "Smith",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D"
                }},
                {"op": "replace", "path": "active", "value": "False"}
            ]),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let body = response.json();
    assert_eq!(body["name"]["givenName"], "Janet");
    assert_eq!(body["name"]["familyName"], "Smith");
    assert_eq!(body["emails"][0]["value"], "janet@acme.test");
    assert_eq!(body["title"], "Engineer");
    assert_eq!(
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
    assert_eq!(body["active"], false);
    let stored = scim.stored("jane@acme.test").await;
    assert_eq!(
        (stored.first_name.as_str(), stored.last_name.as_str()),
        ("Janet", "Smith")
    );
    assert!(!stored.active);

    let removed = scim
        .patch(&path, json!([{"op": "remove", "path": "title"}]))
        .await
        .json();
    assert!(removed.get("title").is_none());

    let bad = scim
        .patch(&path, json!([{"op": "jump", "path": "title", "value": 1}]))
        .await;
    assert_scim_error(&bad, 400, Some("invalidSyntax"));
    let bad = scim.patch(&path, json!([{"op": "remove"}])).await;
    assert_scim_error(&bad, 400, Some("noTarget"));
    let bad = scim
        .patch(
            &path,
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidFilter"));
    let bad = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": "userName", "value": ""}]),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
}

#[tokio::test]
async fn put_replaces_the_user() {
    let scim = Scim::start().await;
    let jane = scim.create_user("jane@acme.test").await;
    let path = format!("/Users/{}", jane["id"].as_str().unwrap());
    let replaced = scim
        .call("PUT", &path, Some(json!({"schemas": [USER], "userName": "jane@acme.test", "externalId": "00u9", "active": true})))
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let body = replaced.json();
    assert_eq!(body["externalId"], "00u9");
    assert!(body.get("emails").is_none());
    assert!(body.get("name").is_none());
}

/// Deactivation ends live sessions at once; reactivation restores access.
#[tokio::test]
async fn deactivation_ends_sessions_and_reactivation_restores_access() {
    let scim = Scim::start().await;
    let cookie = scim.app.session_for(MEMBER_EMAIL).await;
    let before = scim.app.call("settings_access", "", Some(&cookie)).await;
    assert_eq!(before.status.as_u16(), 403, "a member's live session");
    let found = scim
        .call(
            "GET",
            &format!(
                "/Users?filter={}",
                urlencode(&format!("userName eq \"{MEMBER_EMAIL}\""))
            ),
            None,
        )
        .await
        .json();
    let path = format!("/Users/{}", found["Resources"][0]["id"].as_str().unwrap());

    let response = scim
        .patch(
            &path,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let member = scim.stored(MEMBER_EMAIL).await;
    let sessions = session::Entity::find()
        .filter(session::Column::UserId.eq(member.id))
        .all(&scim.app.db)
        .await
        .unwrap();
    assert!(sessions.is_empty());
    let after = scim.app.call("settings_access", "", Some(&cookie)).await;
    assert_eq!(after.status.as_u16(), 401, "the session ended at once");
    assert_eq!(
        scim.app
            .sign_in(MEMBER_EMAIL, PASSWORD)
            .await
            .status
            .as_u16(),
        403
    );

    let response = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    scim.app.session_for(MEMBER_EMAIL).await;
    let audit = scim.app.audit().await;
    assert!(audit.iter().any(|(a, _, _)| a == "scim_user_deactivated"));
    assert!(audit.iter().any(|(a, _, _)| a == "scim_user_reactivated"));
}

#[tokio::test]
async fn delete_removes_the_account_and_its_sessions() {
    let scim = Scim::start().await;
    let cookie = scim.app.session_for(MEMBER_EMAIL).await;
    let member = scim.stored(MEMBER_EMAIL).await;
    let path = format!("/Users/{}", member.id);
    assert_eq!(
        scim.call("DELETE", &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_scim_error(&scim.call("GET", &path, None).await, 404, None);
    assert_scim_error(&scim.call("DELETE", &path, None).await, 404, None);
    assert!(session::Entity::find()
        .all(&scim.app.db)
        .await
        .unwrap()
        .iter()
        .all(|s| s.user_id != member.id));
    let after = scim.app.call("settings_access", "", Some(&cookie)).await;
    assert_eq!(after.status.as_u16(), 401);
}

#[tokio::test]
async fn groups_keep_members_and_handle_entra_and_okta_forms() {
    let scim = Scim::start().await;
    let a = scim.create_user("a@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = scim.create_user("b@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = scim.create_user("c@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Okta sends the members inside the POST.
    let created = scim
        .call(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{"value": a, "display": "a@acme.test"}, {"value": b}]
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let group = created.json();
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    assert_eq!(group["members"].as_array().unwrap().len(), 2);

    // Entra: remove one member by value; only that member goes.
    let response = scim
        .patch(
            &path,
            json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}]),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(member_ids(&response.json()), vec![b.clone()]);
    // Re-adding an existing member succeeds.
    let response = scim
        .patch(
            &path,
            json!([{"op": "Add", "path": "members", "value": [{"value": b}, {"value": c}]}]),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(member_ids(&response.json()), expected);
    // Filtered removal and a path-less rename.
    let response = scim
        .patch(
            &path,
            json!([
                {"op": "remove", "path": format!("members[value eq \"{c}\"]")},
                {"op": "replace", "value": {"id": group["id"], "displayName": "Platform"}}
            ]),
        )
        .await;
    let body = response.json();
    assert_eq!(member_ids(&body), vec![b.clone()]);
    assert_eq!(body["displayName"], "Platform");
    // Lookup by displayName ignores case; excludedAttributes=members leaves them out.
    let found = scim
        .call(
            "GET",
            &format!(
                "/Groups?filter={}&excludedAttributes=members",
                urlencode("displayName eq \"platform\"")
            ),
            None,
        )
        .await
        .json();
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());
    // Unknown members are refused; PUT sets the members.
    let bad = scim.patch(&path, json!([{"op": "add", "path": "members", "value": [{"value": Uuid::new_v4().to_string()}]}])).await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
    let put = scim
        .call(
            "PUT",
            &path,
            Some(json!({"displayName": "Platform", "members": [{"value": a}]})),
        )
        .await
        .json();
    assert_eq!(member_ids(&put), vec![a.clone()]);
    assert_eq!(
        scim.call("DELETE", &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_scim_error(&scim.call("GET", &path, None).await, 404, None);
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn discovery_endpoints_describe_the_server() {
    let scim = Scim::start().await;
    let spc = scim
        .call("GET", "/ServiceProviderConfig", None)
        .await
        .json();
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    let types = scim.call("GET", "/ResourceTypes", None).await.json();
    assert_eq!(types["totalResults"], 2);
    let schemas = scim.call("GET", "/Schemas", None).await.json();
    assert_eq!(schemas["totalResults"], 3);
    let user = scim.call("GET", &format!("/Schemas/{USER}"), None).await;
    assert_eq!(user.status, StatusCode::OK);
    assert_scim_error(&scim.call("GET", "/Nothing", None).await, 404, None);
    assert_scim_error(
        &scim.call("POST", "/.search", Some(json!({}))).await,
        501,
        None,
    );
}

/// Ids are not secrets (they begin with the time they were made): another
/// organization's SCIM token that names our user's id on its own base URL
/// finds nothing to read, change or delete, and our user is left as it was.
#[tokio::test]
async fn another_organizations_token_cannot_reach_our_users_by_id() {
    let scim = Scim::start().await;
    let app = &scim.app;
    let ours = scim.create_user("kept@acme.test").await;
    let path = format!("/Users/{}", ours["id"].as_str().unwrap());
    server::accounts::create_organization(&app.db, "globex", "Globex", server::audit::Actor::Cli)
        .await
        .unwrap();
    let (theirs, their_token) = app.enable_scim_for("globex").await;
    let deactivate = json!({
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    });
    let put = json!({"schemas": [USER], "userName": "taken@globex.test", "active": false});
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(deactivate)),
        ("PUT", Some(put)),
        ("DELETE", None),
    ] {
        let response = app
            .scim(method, theirs, &path, Some(&their_token), body)
            .await;
        assert_scim_error(&response, 404, None);
    }
    let kept = scim.stored("kept@acme.test").await;
    assert_eq!((kept.email.as_str(), kept.active), ("kept@acme.test", true));
}

#[tokio::test]
async fn missing_bad_and_foreign_tokens_get_401_in_the_error_schema() {
    let scim = Scim::start().await;
    let app = &scim.app;
    assert_scim_error(
        &app.scim("GET", scim.connection, "/Users", None, None).await,
        401,
        None,
    );
    assert_scim_error(
        &app.scim("GET", scim.connection, "/Users", Some("nonsense"), None)
            .await,
        401,
        None,
    );
    let forged = server::scim::tokens::generate();
    assert_scim_error(
        &app.scim("GET", scim.connection, "/Users", Some(&forged), None)
            .await,
        401,
        None,
    );
    let basic = Request::get(format!("/scim/v2/{}/Users", scim.connection))
        .header(header::AUTHORIZATION, format!("Basic {}", scim.token))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(basic).await.status, StatusCode::UNAUTHORIZED);
    // Another organization's token on our base URL, and ours on theirs.
    server::accounts::create_organization(&app.db, "globex", "Globex", server::audit::Actor::Cli)
        .await
        .unwrap();
    let (theirs, their_token) = app.enable_scim_for("globex").await;
    assert_scim_error(
        &app.scim("GET", scim.connection, "/Users", Some(&their_token), None)
            .await,
        401,
        None,
    );
    assert_scim_error(
        &app.scim("GET", theirs, "/Users", Some(&scim.token), None)
            .await,
        401,
        None,
    );
    let response = app
        .scim("GET", theirs, "/Users", Some(&their_token), None)
        .await;
    assert_eq!(
        response.json()["totalResults"],
        0,
        "organizations see only their own users"
    );
}

#[tokio::test]
async fn malformed_json_and_wrong_shapes_are_400() {
    let scim = Scim::start().await;
    let raw = |body: &'static str| {
        Request::post(format!("/scim/v2/{}/Users", scim.connection))
            .header(header::AUTHORIZATION, format!("Bearer {}", scim.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    for body in ["{", "", "[]", "\"x\"", "{\"userName\": 5}"] {
        let response = scim.app.send(raw(body)).await;
        assert_eq!(response.status.as_u16(), 400, "{body}: {}", response.body);
        assert_eq!(response.json()["schemas"], json!([ERROR]));
    }
    let huge = json!({"userName": "x@acme.test", "title": "t".repeat(2 * 1024 * 1024)});
    assert_scim_error(&scim.call("POST", "/Users", Some(huge)).await, 413, None);
    assert_scim_error(&scim.call("DELETE", "/Users", None).await, 405, None);
    assert_scim_error(
        &scim.call("GET", "/Users/not-a-uuid", None).await,
        404,
        None,
    );
}

/// Twenty IdP workers creating the same userName at once: exactly one 201.
#[tokio::test]
async fn parallel_creates_of_one_user_name_make_one_account() {
    let scim = std::sync::Arc::new(Scim::start().await);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let scim = scim.clone();
        tasks.push(tokio::spawn(async move {
            scim.call(
                "POST",
                "/Users",
                Some(json!({"userName": "race@acme.test"})),
            )
            .await
            .status
            .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let count = user::Entity::find()
        .filter(user::Column::EmailNormalized.eq("race@acme.test"))
        .all(&scim.app.db)
        .await
        .unwrap()
        .len();
    assert_eq!(count, 1);
}

/// Twenty PATCHes of one user at once, each adding its own phone number: all
/// twenty are kept, because each reads, patches and writes in one change.
#[tokio::test]
async fn parallel_patches_of_one_user_all_apply() {
    let scim = std::sync::Arc::new(Scim::start().await);
    let id = scim.create_user("busy@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let number = |n: usize| format!("+1 555 01{n:02}");
    let mut tasks = Vec::new();
    for n in 0..20 {
        let (scim, path) = (scim.clone(), format!("/Users/{id}"));
        let value = json!([{"value": number(n), "type": "work"}]);
        tasks.push(tokio::spawn(async move {
            let operations = json!([{"op": "add", "path": "phoneNumbers", "value": value}]);
            scim.patch(&path, operations).await.status.as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let user = scim.call("GET", &format!("/Users/{id}"), None).await.json();
    let stored = sorted_values(&user["phoneNumbers"]);
    assert_eq!(stored, (0..20).map(number).collect::<Vec<_>>());
}

/// Twenty PATCHes of twenty users at once: every second one renames its user
/// to a userName another account holds. Each of those fails alone, 409
/// uniqueness with the user unchanged, and every other PATCH is applied,
/// though they share the writers' transactions (a rename's UPDATE runs in a
/// savepoint; a PATCH that keeps its name does not need one).
#[tokio::test]
async fn renames_to_a_taken_user_name_fail_alone() {
    let scim = std::sync::Arc::new(Scim::start().await);
    scim.create_user("taken@acme.test").await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let user = scim.create_user(&format!("user{n}@acme.test")).await;
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    let mut tasks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let (scim, path) = (scim.clone(), format!("/Users/{id}"));
        let operation = if n % 2 == 0 {
            json!({"op": "replace", "path": "userName", "value": "Taken@acme.test"})
        } else {
            json!({"op": "replace", "path": "name.givenName", "value": format!("Given{n}")})
        };
        tasks.push(tokio::spawn(async move {
            scim.patch(&path, json!([operation])).await
        }));
    }
    for (n, task) in tasks.into_iter().enumerate() {
        let response = task.await.unwrap();
        let stored = scim.stored(&format!("user{n}@acme.test")).await;
        if n % 2 == 0 {
            assert_scim_error(&response, 409, Some("uniqueness"));
            assert_eq!(stored.first_name, "Jane");
        } else {
            assert_eq!(response.status, StatusCode::OK, "{n}: {}", response.body);
            assert_eq!(stored.first_name, format!("Given{n}"));
        }
    }
}

/// Ten PUTs of one group at once, each naming its own second member: the
/// group ends as one of them said, never a mix of several, because each reads
/// the members, compares and writes in one change.
#[tokio::test]
async fn parallel_puts_of_one_group_leave_what_one_of_them_said() {
    let scim = std::sync::Arc::new(Scim::start().await);
    let id_of = |user: Value| user["id"].as_str().unwrap().to_string();
    let kept = id_of(scim.create_user("kept@acme.test").await);
    let mut others = Vec::new();
    for n in 0..10 {
        others.push(id_of(
            scim.create_user(&format!("other{n}@acme.test")).await,
        ));
    }
    let document = |second: &str| {
        json!({
            "schemas": [GROUP],
            "displayName": "Contended",
            "members": [{"value": kept}, {"value": second}],
        })
    };
    let created = scim
        .call("POST", "/Groups", Some(document(&others[0])))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let path = format!("/Groups/{}", created.json()["id"].as_str().unwrap());
    let mut tasks = Vec::new();
    for second in &others {
        let (scim, path, body) = (scim.clone(), path.clone(), document(second));
        tasks.push(tokio::spawn(async move {
            scim.call("PUT", &path, Some(body)).await.status.as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let group = scim.call("GET", &path, None).await.json();
    let stored = sorted_values(&group["members"]);
    let said_by_one = others.iter().any(|second| {
        let mut said = vec![kept.clone(), second.clone()];
        said.sort();
        said == stored
    });
    assert!(said_by_one, "members {stored:?} are no single PUT's");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A NUL byte anywhere (PostgreSQL text cannot hold one) is refused with a
/// SCIM error or finds nothing; never a 500.
#[tokio::test]
async fn nul_bytes_are_refused_cleanly() {
    let scim = Scim::start().await;
    let user = |field: &str| {
        let mut doc = json!({
            "schemas": [USER],
            "userName": "nul@acme.test",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "externalId": "ext-1",
            "displayName": "Jane Doe",
        });
        match field {
            "givenName" => doc["name"]["givenName"] = json!("Ja\u{0}ne"),
            other => doc[other] = json!("x\u{0}y"),
        }
        doc
    };
    for field in ["userName", "externalId", "givenName", "displayName"] {
        let response = scim.call("POST", "/Users", Some(user(field))).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{field}: {}",
            response.body
        );
        assert_eq!(response.json()["schemas"][0], ERROR, "{field}");
    }
    let filter = scim
        .call("GET", "/Users?filter=userName%20eq%20%22a%00b%22", None)
        .await;
    assert!(
        filter.status == StatusCode::OK || filter.status == StatusCode::BAD_REQUEST,
        "{}: {}",
        filter.status,
        filter.body
    );
    let group = scim
        .call(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G\u{0}"})),
        )
        .await;
    assert_eq!(group.status, StatusCode::BAD_REQUEST, "{}", group.body);
    let created = scim.create_user("patched@acme.test").await;
    let id = created["id"].as_str().unwrap();
    let patched = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "name.familyName", "value": "D\u{0}e"}]),
        )
        .await;
    assert_eq!(patched.status, StatusCode::BAD_REQUEST, "{}", patched.body);
}

/// The `value` of each item of a multi-valued attribute, sorted.
fn sorted_values(list: &Value) -> Vec<String> {
    let mut values: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["value"].as_str().unwrap().to_string())
        .collect();
    values.sort();
    values
}
