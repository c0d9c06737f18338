//! Settings > Members through its server functions, as the page calls them:
//! server-side search and pages, changes by hand with their audit rows, and
//! every refusal (SCIM-managed, own account, last admin, other organization,
//! members) fed to a running server.

mod common;

use axum::http::StatusCode;
use common::{TestApp, ADMIN_EMAIL, MEMBER_EMAIL, PASSWORD};
use serde_json::{json, Value};
use server::accounts::{self, NewUser};
use server::audit::Actor;
use server::members::{self, Acting, MemberError};
use shared::members::{MemberAction, MemberRefusal, MemberSource};
use shared::Role;

async fn list(app: &TestApp, cookie: &str, search: &str, page: u64) -> Value {
    let response = app
        .call_json(
            "list_members",
            json!({ "query": { "search": search, "group": null, "page": page } }),
            Some(cookie),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()
}

fn emails(page: &Value) -> Vec<String> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["email"].as_str().unwrap().to_string())
        .collect()
}

async fn member_id(app: &TestApp, email: &str) -> String {
    app.account(email).await.user.id.to_string()
}

async fn change(app: &TestApp, cookie: &str, id: &str, action: &str) -> common::TestResponse {
    app.call_json(
        "change_member",
        json!({ "id": id, "action": action }),
        Some(cookie),
    )
    .await
}

/// Whose session the cookie opens, if anyone's.
async fn signed_in(app: &TestApp, cookie: &str) -> Option<String> {
    let me = app.call("whoami", "", Some(cookie)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.json()["email"].as_str().map(str::to_string)
}

/// A member who came in through SSO: no password, so no hashing in tests.
async fn add_sso_member(app: &TestApp, email: &str, first: &str, last: &str) {
    accounts::create_user(
        &app.db,
        NewUser {
            org_slug: "acme".into(),
            email: email.into(),
            first_name: first.into(),
            last_name: last.into(),
            role: Role::Member,
            password: None,
            source: MemberSource::Sso,
        },
        Actor::Cli,
    )
    .await
    .expect("user");
}

#[tokio::test]
async fn the_list_is_searched_and_paged_on_the_server() {
    let app = TestApp::spawn().await.with_acme().await;
    for n in 0..28 {
        add_sso_member(
            &app,
            &format!("person{n:02}@acme.test"),
            "Pat",
            &format!("Number{n:02}"),
        )
        .await;
    }
    add_sso_member(&app, "zed@acme.test", "Zed", "O'Hara").await;
    let admin = app.session_for(ADMIN_EMAIL).await;

    let first = list(&app, &admin, "", 0).await;
    assert_eq!(first["total"], json!(31));
    assert_eq!(first["has_next"], json!(true));
    assert_eq!(emails(&first).len(), 25);
    assert_eq!(emails(&first)[0], ADMIN_EMAIL, "ordered by email");
    let second = list(&app, &admin, "", 1).await;
    assert_eq!(emails(&second).len(), 6);
    assert_eq!(second["has_next"], json!(false));

    // By full name, case-insensitive; by part of an email; wildcards are literal.
    assert_eq!(
        emails(&list(&app, &admin, "zed o'h", 0).await),
        ["zed@acme.test"]
    );
    assert_eq!(
        emails(&list(&app, &admin, "PERSON07", 0).await),
        ["person07@acme.test"]
    );
    assert_eq!(list(&app, &admin, "%", 0).await["total"], json!(0));
    assert_eq!(list(&app, &admin, "person_1", 0).await["total"], json!(0));

    let row = &list(&app, &admin, "zed", 0).await["rows"][0];
    assert_eq!(row["source"], json!("sso"));
    assert_eq!(row["last_sign_in"], Value::Null);
    assert_eq!(
        row["allowed"],
        json!(["deactivate", "end_sessions", "make_admin"])
    );
    let me = &list(&app, &admin, ADMIN_EMAIL, 0).await["rows"][0];
    assert_eq!(me["last_sign_in"]["method"], json!("Password"));
    assert_eq!(
        me["allowed"],
        json!(["end_sessions"]),
        "not your own account"
    );
}

#[tokio::test]
async fn bad_searches_and_members_are_refused() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let member = app.session_for(MEMBER_EMAIL).await;
    let long = app
        .call_json(
            "list_members",
            json!({ "query": { "search": "a".repeat(321), "group": null, "page": 0 } }),
            Some(&admin),
        )
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.body);
    let unknown_group = app
        .call_json(
            "list_members",
            json!({ "query": { "search": "", "group": "not-a-group", "page": 0 } }),
            Some(&admin),
        )
        .await;
    assert_eq!(unknown_group.status, StatusCode::BAD_REQUEST);

    let id = member_id(&app, ADMIN_EMAIL).await;
    for (function, body) in [
        (
            "list_members",
            json!({ "query": { "search": "", "group": null, "page": 0 } }),
        ),
        ("get_member", json!({ "id": id })),
        ("change_member", json!({ "id": id, "action": "deactivate" })),
    ] {
        let denied = app.call_json(function, body.clone(), Some(&member)).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{function}");
        let anonymous = app.call_json(function, body, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{function}");
    }
    assert_eq!(signed_in(&app, &admin).await.as_deref(), Some(ADMIN_EMAIL));
}

#[tokio::test]
async fn an_admin_deactivates_reactivates_and_signs_out_a_member() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let member = app.session_for(MEMBER_EMAIL).await;
    let id = member_id(&app, MEMBER_EMAIL).await;

    let deactivated = change(&app, &admin, &id, "deactivate").await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    assert_eq!(deactivated.json()["member"]["active"], json!(false));
    assert_eq!(signed_in(&app, &member).await, None, "signed out at once");
    let refused = app.sign_in(MEMBER_EMAIL, PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let reactivated = change(&app, &admin, &id, "reactivate").await;
    assert_eq!(reactivated.json()["member"]["active"], json!(true));
    let again = app.session_for(MEMBER_EMAIL).await;
    let ended = change(&app, &admin, &id, "end_sessions").await;
    assert_eq!(ended.status, StatusCode::OK);
    assert_eq!(ended.json()["live_sessions"], json!(0));
    assert_eq!(signed_in(&app, &again).await, None);

    let detail = app
        .call_json("get_member", json!({ "id": id }), Some(&admin))
        .await
        .json();
    let actions: Vec<&str> = detail["recent_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions[..4],
        [
            "member_sessions_ended",
            "sign_in",
            "member_reactivated",
            "sign_in_failed"
        ]
    );
    let audit = app.audit().await;
    assert!(audit.contains(&(
        "member_deactivated".into(),
        "success".into(),
        ADMIN_EMAIL.into()
    )));
}

#[tokio::test]
async fn the_admin_role_is_given_and_taken_but_never_from_yourself() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let id = member_id(&app, MEMBER_EMAIL).await;
    let made = change(&app, &admin, &id, "make_admin").await;
    assert_eq!(made.json()["member"]["role"], json!("integrations_admin"));
    let member = app.session_for(MEMBER_EMAIL).await;
    let opened = app.call("settings_access", "", Some(&member)).await;
    assert_eq!(
        opened.status,
        StatusCode::OK,
        "the new admin opens settings"
    );

    let own = change(
        &app,
        &admin,
        &member_id(&app, ADMIN_EMAIL).await,
        "remove_admin",
    )
    .await;
    assert_eq!(own.status, StatusCode::CONFLICT);
    assert_eq!(
        own.json(),
        json!({ "MemberRefused": "OwnAccount" }),
        "{}",
        own.body
    );
    let taken = change(&app, &admin, &id, "remove_admin").await;
    assert_eq!(taken.json()["member"]["role"], json!("member"));
    let after = app.call("settings_access", "", Some(&member)).await;
    assert_eq!(after.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scim_managed_members_can_only_be_signed_out_here() {
    let app = TestApp::spawn().await.with_acme().await;
    let (connection, token) = app.enable_scim().await;
    let created = app
        .scim(
            "POST",
            connection,
            "/Users",
            Some(&token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "scim.person@acme.test",
                "name": { "givenName": "Scim", "familyName": "Person" },
                "active": true
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let admin = app.session_for(ADMIN_EMAIL).await;

    let refused = change(&app, &admin, &id, "deactivate").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.json(), json!({ "MemberRefused": "ManagedByScim" }));
    assert!(
        app.account("scim.person@acme.test").await.user.active,
        "nothing changed"
    );
    assert_eq!(
        change(&app, &admin, &id, "end_sessions").await.status,
        StatusCode::OK
    );
    let audit = app.audit().await;
    assert!(audit.contains(&(
        "member_change_refused".into(),
        "failure".into(),
        ADMIN_EMAIL.into()
    )));

    // A hand-made account the IdP writes to is the IdP's from then on, even
    // when the write changes nothing else.
    let member = member_id(&app, MEMBER_EMAIL).await;
    let patched = app
        .scim(
            "PATCH",
            connection,
            &format!("/Users/{member}"),
            Some(&token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "value": { "active": true } }]
            })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let row = &list(&app, &admin, MEMBER_EMAIL, 0).await["rows"][0];
    assert_eq!(
        (row["source"].clone(), row["managed_by_scim"].clone()),
        (json!("scim"), json!(true))
    );
    assert_eq!(row["allowed"], json!(["end_sessions"]));
}

#[tokio::test]
async fn members_of_other_organizations_and_bad_ids_are_not_found() {
    let app = TestApp::spawn().await.with_acme().await;
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
            role: Role::Member,
            password: None,
            source: MemberSource::Sso,
        },
        Actor::Cli,
    )
    .await
    .unwrap();
    let admin = app.session_for(ADMIN_EMAIL).await;
    let other = member_id(&app, "hank@globex.test").await;
    for id in [
        other.as_str(),
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let read = app
            .call_json("get_member", json!({ "id": id }), Some(&admin))
            .await;
        assert_eq!(read.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(read.json(), json!("MemberNotFound"));
        let changed = change(&app, &admin, id, "deactivate").await;
        assert_eq!(changed.status, StatusCode::NOT_FOUND, "{id}");
    }
    assert!(app.account("hank@globex.test").await.user.active);
    let unknown_action = change(&app, &admin, &other, "delete_everything").await;
    assert_eq!(unknown_action.status, StatusCode::BAD_REQUEST);
}

/// Two admins deactivating each other at once: the second request, already
/// past its session check, finds itself acting on the last active admin.
#[tokio::test]
async fn the_last_active_admin_is_never_deactivated() {
    let app = TestApp::spawn().await.with_acme().await;
    app.add_user("second.admin@acme.test", Role::IntegrationsAdmin)
        .await;
    let first = app.account(ADMIN_EMAIL).await;
    let second = app.account("second.admin@acme.test").await;
    let acting = |who: &accounts::Account| Acting {
        org_id: who.org.id,
        admin_id: who.user.id,
        admin_email: who.user.email.clone(),
        client_ip: None,
    };
    members::apply(
        &app.db,
        &acting(&first),
        second.user.id,
        MemberAction::Deactivate,
    )
    .await
    .expect("another admin remains");
    let refused = members::apply(
        &app.db,
        &acting(&second),
        first.user.id,
        MemberAction::Deactivate,
    )
    .await;
    assert!(matches!(
        refused,
        Err(MemberError::Refused(MemberRefusal::LastAdmin))
    ));
    assert!(app.account(ADMIN_EMAIL).await.user.active);
}

#[tokio::test]
async fn scim_groups_are_listed_with_their_size_and_filter_the_list() {
    let app = TestApp::spawn().await.with_acme().await;
    add_sso_member(&app, "ann@acme.test", "Ann", "Alpha").await;
    let (connection, token) = app.enable_scim().await;
    let members = json!([
        { "value": member_id(&app, MEMBER_EMAIL).await },
        { "value": member_id(&app, "ann@acme.test").await },
    ]);
    let created = app
        .scim(
            "POST",
            connection,
            "/Groups",
            Some(&token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": members,
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let group = created.json()["id"].as_str().unwrap().to_string();
    let admin = app.session_for(ADMIN_EMAIL).await;

    let everyone = list(&app, &admin, "", 0).await;
    assert_eq!(
        everyone["groups"],
        json!([{ "id": group, "name": "Engineering", "member_count": 2 }])
    );
    let filtered = app
        .call_json(
            "list_members",
            json!({ "query": { "search": "", "group": group, "page": 0 } }),
            Some(&admin),
        )
        .await
        .json();
    assert_eq!(emails(&filtered), ["ann@acme.test", MEMBER_EMAIL]);
    assert_eq!(filtered["rows"][0]["groups"], json!(["Engineering"]));
    assert_eq!(filtered["group"]["name"], json!("Engineering"));
}
