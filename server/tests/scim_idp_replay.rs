//! Okta's and Microsoft Entra ID's provisioning conversations, replayed request
//! by request in the shapes those clients send, with the stored results checked.

mod common;

use axum::http::StatusCode;
use common::scim::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use server::entities::{scim_group, scim_group_member, session, user};
use uuid::Uuid;

type Idp = ScimIdp;

impl ScimIdp {
    /// Sends one request and checks its status; returns the body (or Null).
    async fn send(&self, method: &str, path: &str, body: Option<Value>, expect: u16) -> Value {
        let response = self
            .app
            .scim(method, self.connection, path, Some(&self.token), body)
            .await;
        assert_eq!(
            response.status.as_u16(),
            expect,
            "{method} {path}: {}",
            response.body
        );
        if response.body.is_empty() {
            Value::Null
        } else {
            response.json()
        }
    }

    /// A PatchOp that must answer 200; its body.
    async fn patch_ok(&self, path: &str, operations: Value) -> Value {
        self.send(
            "PATCH",
            path,
            Some(json!({"schemas": [PATCH], "Operations": operations})),
            200,
        )
        .await
    }

    async fn user(&self, email: &str) -> user::Model {
        user::Entity::find()
            .filter(user::Column::EmailNormalized.eq(email.to_lowercase()))
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("stored user")
    }

    async fn members(&self, group: &str) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = scim_group_member::Entity::find()
            .filter(scim_group_member::Column::GroupId.eq(Uuid::parse_str(group).unwrap()))
            .all(&self.app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        ids.sort();
        ids
    }

    async fn sessions_of(&self, user_id: Uuid) -> usize {
        session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .all(&self.app.db)
            .await
            .unwrap()
            .len()
    }
}

fn q(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// Okta: lookup, create, PUT updates, path-less `{"active": false}` deactivation,
/// PUT-based deactivation, and group push with memberships inside POST/PUT.
#[tokio::test]
async fn okta_provisioning_sequence() {
    let idp = Idp::start().await;
    // Okta checks whether the user exists first.
    let found = idp
        .send(
            "GET",
            &format!(
                "/Users?filter={}&startIndex=1&count=100",
                q("userName eq \"ada@acme.test\"")
            ),
            None,
            200,
        )
        .await;
    assert_eq!(found["totalResults"], 0);
    let created = idp
        .send(
            "POST",
            "/Users",
            Some(json!({
                "schemas": [USER],
                "userName": "ada@acme.test",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"primary": true, "value": "ada@acme.test", "type": "work"}],
                "displayName": "Ada Lovelace",
                "locale": "en-US",
                "externalId": "00u1ada",
                "groups": [],
                "active": true
            })),
            201,
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let stored = idp.user("ada@acme.test").await;
    assert_eq!(stored.id.to_string(), id);
    assert_eq!(
        (
            stored.first_name.as_str(),
            stored.last_name.as_str(),
            stored.active
        ),
        ("Ada", "Lovelace", true)
    );
    assert_eq!(stored.external_id.as_deref(), Some("00u1ada"));
    assert!(stored.password_hash.is_none());

    // Profile update: Okta GETs, then PUTs the whole user.
    idp.send("GET", &path, None, 200).await;
    let mut full = created.clone();
    full["name"]["familyName"] = json!("King");
    full["displayName"] = json!("Ada King");
    let put = idp.send("PUT", &path, Some(full.clone()), 200).await;
    assert_eq!(put["name"]["familyName"], "King");
    assert_eq!(idp.user("ada@acme.test").await.last_name, "King");

    // Deactivation: a path-less replace of {"active": false}; the live session ends.
    let user_id = stored.id;
    session_for_sso_user(&idp, user_id).await;
    assert_eq!(idp.sessions_of(user_id).await, 1);
    let off = idp
        .patch_ok(
            &path,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(off["active"], false);
    assert!(!idp.user("ada@acme.test").await.active);
    assert_eq!(idp.sessions_of(user_id).await, 0);
    // Reactivation.
    let on = idp
        .patch_ok(&path, json!([{"op": "replace", "value": {"active": true}}]))
        .await;
    assert_eq!(on["active"], true);
    assert!(idp.user("ada@acme.test").await.active);
    // Some Okta apps deactivate with PUT.
    full["active"] = json!(false);
    session_for_sso_user(&idp, user_id).await;
    idp.send("PUT", &path, Some(full), 200).await;
    assert!(!idp.user("ada@acme.test").await.active);
    assert_eq!(idp.sessions_of(user_id).await, 0);

    // Group push: members inside the POST.
    let bob = idp
        .send(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "bob@acme.test", "active": true})),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let none = idp
        .send(
            "GET",
            &format!(
                "/Groups?filter={}&startIndex=1&count=100",
                q("displayName eq \"Engineering\"")
            ),
            None,
            200,
        )
        .await;
    assert_eq!(none["totalResults"], 0);
    let group = idp
        .send(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": [GROUP],
                "displayName": "Engineering",
                "members": [{"value": id, "display": "ada@acme.test"}]
            })),
            201,
        )
        .await;
    let gid = group["id"].as_str().unwrap().to_string();
    let gpath = format!("/Groups/{gid}");
    assert_eq!(idp.members(&gid).await, vec![user_id]);
    // Rename with a path-less replace carrying id and displayName.
    idp.patch_ok(
        &gpath,
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Eng"}}]),
    )
    .await;
    let row = scim_group::Entity::find_by_id(Uuid::parse_str(&gid).unwrap())
        .one(&idp.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.display_name, "Eng");
    // Membership changes.
    idp.patch_ok(&gpath, json!([{"op": "add", "path": "members", "value": [{"value": bob, "display": "bob@acme.test"}]}])).await;
    let bob_id = Uuid::parse_str(&bob).unwrap();
    assert_eq!(idp.members(&gid).await, sorted(vec![user_id, bob_id]));
    idp.patch_ok(
        &gpath,
        json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
    )
    .await;
    assert_eq!(idp.members(&gid).await, vec![bob_id]);
    // PUT with the full member list.
    idp.send("PUT", &gpath, Some(json!({"schemas": [GROUP], "id": gid, "displayName": "Eng", "members": [{"value": id}, {"value": bob}]})), 200)
        .await;
    assert_eq!(idp.members(&gid).await, sorted(vec![user_id, bob_id]));
    idp.send("DELETE", &gpath, None, 204).await;
    assert!(scim_group::Entity::find()
        .all(&idp.app.db)
        .await
        .unwrap()
        .is_empty());
    // Users stay when their group goes.
    idp.user("bob@acme.test").await;
}

/// Entra ID: its validation probe, create with the enterprise extension, PATCH with
/// capitalised ops and string booleans, and its member forms.
#[tokio::test]
async fn entra_provisioning_sequence() {
    let idp = Idp::start().await;
    // Entra's connection test looks up a random userName.
    let probe = idp
        .send(
            "GET",
            &format!(
                "/Users?filter={}",
                q(&format!("userName eq \"{}\"", Uuid::new_v4()))
            ),
            None,
            200,
        )
        .await;
    assert_eq!(probe["totalResults"], 0);
    assert_eq!(probe["Resources"], json!([]));
    let created = idp
        .send(
            "POST",
            "/Users",
            Some(json!({
                "schemas": [USER, ENTERPRISE],
                "externalId": "grace",
                "userName": "Grace@Acme.test",
                "active": true,
                "displayName": "Grace Hopper",
                "emails": [{"primary": true, "type": "work", "value": "grace@acme.test"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
                "title": "Rear Admiral",
                ENTERPRISE: {"employeeNumber": "1906", "department": "Navy"}
            })),
            201,
        )
        .await;
    assert_eq!(created["schemas"], json!([USER, ENTERPRISE]));
    assert_eq!(created[ENTERPRISE]["department"], "Navy");
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let user_id = Uuid::parse_str(&id).unwrap();
    // Entra matches on userName with any case.
    let found = idp
        .send(
            "GET",
            &format!("/Users?filter={}", q("userName eq \"grace@acme.test\"")),
            None,
            200,
        )
        .await;
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    let updated = idp
        .patch_ok(&path, json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "grace.hopper@acme.test"},
            {"op": "Replace", "path": "name.givenName", "value": "Amazing Grace"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "boss-id"}},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Computing"}
        ]))
        .await;
    assert_eq!(updated["emails"][0]["value"], "grace.hopper@acme.test");
    assert_eq!(updated[ENTERPRISE]["manager"]["value"], "boss-id");
    assert_eq!(updated[ENTERPRISE]["department"], "Computing");
    assert_eq!(
        idp.user("grace@acme.test").await.first_name,
        "Amazing Grace"
    );

    // Deactivate and reactivate with booleans sent as strings.
    session_for_sso_user(&idp, user_id).await;
    idp.patch_ok(
        &path,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert!(!idp.user("grace@acme.test").await.active);
    assert_eq!(idp.sessions_of(user_id).await, 0);
    idp.patch_ok(
        &path,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    )
    .await;
    assert!(idp.user("grace@acme.test").await.active);

    // Groups: created empty, members added one PATCH at a time.
    let other = idp
        .send(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "alan@acme.test", "externalId": "alan"})),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other_id = Uuid::parse_str(&other).unwrap();
    let lookup = idp
        .send(
            "GET",
            &format!(
                "/Groups?excludedAttributes=members&filter={}",
                q("displayName eq \"Pioneers\"")
            ),
            None,
            200,
        )
        .await;
    assert_eq!(lookup["totalResults"], 0);
    let group = idp
        .send("POST", "/Groups", Some(json!({"schemas": [GROUP], "externalId": "g-1", "displayName": "Pioneers", "members": []})), 201)
        .await;
    let gid = group["id"].as_str().unwrap().to_string();
    let gpath = format!("/Groups/{gid}");
    idp.patch_ok(
        &gpath,
        json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]),
    )
    .await;
    idp.patch_ok(
        &gpath,
        json!([{"op": "Add", "path": "members", "value": [{"value": other}]}]),
    )
    .await;
    // Re-adding an existing member succeeds and changes nothing.
    idp.patch_ok(
        &gpath,
        json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]),
    )
    .await;
    assert_eq!(idp.members(&gid).await, sorted(vec![user_id, other_id]));
    // Removal with the id in `value` removes only that member.
    idp.patch_ok(
        &gpath,
        json!([{"op": "Remove", "path": "members", "value": [{"value": id}]}]),
    )
    .await;
    assert_eq!(idp.members(&gid).await, vec![other_id]);
    idp.patch_ok(
        &gpath,
        json!([{"op": "Replace", "path": "displayName", "value": "Computing Pioneers"}]),
    )
    .await;
    let by_external = idp
        .send(
            "GET",
            &format!("/Groups?filter={}", q("externalId eq \"g-1\"")),
            None,
            200,
        )
        .await;
    assert_eq!(
        by_external["Resources"][0]["displayName"],
        "Computing Pioneers"
    );

    // Hard delete.
    idp.send("DELETE", &path, None, 204).await;
    idp.send("GET", &path, None, 404).await;
    assert!(user::Entity::find_by_id(user_id)
        .one(&idp.app.db)
        .await
        .unwrap()
        .is_none());
    let status = idp
        .app
        .scim("GET", idp.connection, &path, Some(&idp.token), None)
        .await
        .status;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Opens a session as SSO would for a provisioned (password-less) user.
async fn session_for_sso_user(idp: &Idp, user_id: Uuid) {
    let org = server::accounts::find_organization(&idp.app.db, "acme")
        .await
        .unwrap()
        .unwrap();
    server::sessions::open(
        &idp.app.db,
        user_id,
        org.id,
        server::sessions::SignInMethod::Password,
        None,
    )
    .await
    .unwrap();
}
