//! What a SCIM token cannot do, whoever holds it: set or change a password
//! (the attribute is accepted and dropped, RFC 7643 §4.1.1), change a role, or
//! deactivate or delete the organization's last active Integrations Admin, the
//! break-glass account that keeps the SSO settings reachable when the IdP fails.

mod common;

use axum::http::StatusCode;
use common::scim::*;
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use server::entities::{audit_event, membership, session, user};
use shared::Role;

const STOLEN: &str = "a password the IdP token chose";
const SECOND_ADMIN: &str = "second.admin@acme.test";

type Scim = ScimIdp;

impl ScimIdp {
    async fn stored(&self, email: &str) -> user::Model {
        user::Entity::find()
            .filter(user::Column::EmailNormalized.eq(email.to_lowercase()))
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("stored user")
    }

    async fn path_of(&self, email: &str) -> String {
        format!("/Users/{}", self.stored(email).await.id)
    }

    async fn role_of(&self, email: &str) -> String {
        let user = self.stored(email).await;
        membership::Entity::find()
            .filter(membership::Column::UserId.eq(user.id))
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("membership")
            .role
    }

    /// The password that signs `email` in is still the original one, and the
    /// one sent over SCIM opens nothing.
    async fn assert_password_unchanged(&self, email: &str) {
        let stolen = self.app.sign_in(email, STOLEN).await;
        assert_eq!(stolen.status, StatusCode::UNAUTHORIZED, "{}", stolen.body);
        assert!(stolen.session_cookie().is_none());
        let original = self.app.sign_in(email, PASSWORD).await;
        assert_eq!(original.status, StatusCode::OK, "{}", original.body);
    }

    /// Whose session the cookie opens, if anyone's.
    async fn signed_in(&self, cookie: &str) -> Option<String> {
        let me = self.app.call("whoami", "", Some(cookie)).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        me.json()["email"].as_str().map(str::to_string)
    }

    /// The audit rows SCIM's refusals wrote, as their detail objects.
    async fn refusals(&self) -> Vec<Value> {
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("scim_change_refused"))
            .all(&self.app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                assert_eq!(e.outcome, "failure");
                assert_eq!(e.actor, format!("scim:{}", self.connection));
                serde_json::from_str(&e.detail).unwrap()
            })
            .collect()
    }
}

/// The SCIM error body: schema, status as a string, scimType and a detail.
fn scim_error(response: &TestResponse, status: u16, scim_type: Option<&str>) -> String {
    assert_eq!(response.status.as_u16(), status, "{}", response.body);
    let body = response.json();
    assert_eq!(body["schemas"], json!([ERROR]));
    assert_eq!(body["status"], json!(status.to_string()));
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    body["detail"].as_str().expect("a detail").to_string()
}

/// A POST's password is dropped: a new user gets no password, and a POST for
/// the admin's userName is a 409 that leaves the admin's password alone.
#[tokio::test]
async fn scim_post_cannot_set_a_password() {
    let scim = Scim::start().await;
    let created = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "new@acme.test", "password": STOLEN})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.json().get("password").is_none());
    assert!(scim.stored("new@acme.test").await.password_hash.is_none());
    let refused = scim.app.sign_in("new@acme.test", STOLEN).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);

    let duplicate = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "Admin@Acme.test", "password": STOLEN})),
        )
        .await;
    scim_error(&duplicate, 409, Some("uniqueness"));
    scim.assert_password_unchanged(ADMIN_EMAIL).await;
}

/// A PUT that carries a password replaces everything else but the password;
/// the attempt on an Integrations Admin is in the audit log.
#[tokio::test]
async fn scim_put_cannot_set_a_password() {
    let scim = Scim::start().await;
    for email in [ADMIN_EMAIL, MEMBER_EMAIL] {
        let path = scim.path_of(email).await;
        let replaced = scim
            .call(
                "PUT",
                &path,
                Some(json!({
                    "schemas": [USER], "userName": email, "active": true,
                    "name": {"givenName": "Renamed"}, "password": STOLEN
                })),
            )
            .await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
        assert_eq!(replaced.json()["name"]["givenName"], "Renamed");
        assert!(replaced.json().get("password").is_none());
        assert!(scim.stored(email).await.scim_attributes.is_none());
        scim.assert_password_unchanged(email).await;
    }
    let admin = scim.stored(ADMIN_EMAIL).await;
    assert_eq!(
        scim.refusals().await,
        [json!({
            "user_id": admin.id, "email": ADMIN_EMAIL, "attempted": "set_password",
            "reason": "SCIM never sets or changes passwords; the password was ignored."
        })]
    );
}

/// Every PATCH form that could carry a password (a path, a value object, any
/// case, add or replace) leaves the password as it was.
#[tokio::test]
async fn scim_patch_cannot_set_a_password() {
    let scim = Scim::start().await;
    let path = scim.path_of(ADMIN_EMAIL).await;
    for operations in [
        json!([{"op": "replace", "path": "password", "value": STOLEN}]),
        json!([{"op": "Add", "path": "PASSWORD", "value": STOLEN}]),
        json!([{"op": "replace", "value": {"password": STOLEN, "active": true}}]),
        json!([{"op": "add", "value": {"Password": STOLEN}}]),
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": STOLEN}]),
    ] {
        let patched = scim.patch(&path, operations.clone()).await;
        assert_eq!(
            patched.status,
            StatusCode::OK,
            "{operations}: {}",
            patched.body
        );
        assert!(patched.json().get("password").is_none(), "{operations}");
        assert!(scim.stored(ADMIN_EMAIL).await.scim_attributes.is_none());
        scim.assert_password_unchanged(ADMIN_EMAIL).await;
    }
    assert_eq!(scim.refusals().await.len(), 5);
}

/// The last active Integrations Admin cannot be deactivated by PATCH or PUT:
/// 400 `mutability` with a detail that says why, the account stays active
/// and can sign in, and the attempt is in the audit log.
#[tokio::test]
async fn scim_cannot_deactivate_the_last_integrations_admin() {
    let scim = Scim::start().await;
    let cookie = scim.app.session_for(ADMIN_EMAIL).await;
    let path = scim.path_of(ADMIN_EMAIL).await;
    let attempts = [
        scim.patch(
            &path,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await,
        scim.patch(
            &path,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await,
        scim.call(
            "PUT",
            &path,
            Some(json!({"schemas": [USER], "userName": ADMIN_EMAIL, "active": false})),
        )
        .await,
    ];
    for refused in &attempts {
        let detail = scim_error(refused, 400, Some("mutability"));
        assert_eq!(
            detail,
            format!(
                "{ADMIN_EMAIL} is the organization's last active Integrations Admin, whose \
                 password sign-in is the way back in when single sign-on fails; Latchkey does \
                 not let SCIM deactivate or delete that account. Add another Integrations \
                 Admin in Latchkey first."
            )
        );
    }
    let admin = scim.stored(ADMIN_EMAIL).await;
    assert!(admin.active);
    assert_eq!(admin.first_name, "Test", "nothing else changed either");
    assert_eq!(
        scim.signed_in(&cookie).await.as_deref(),
        Some(ADMIN_EMAIL),
        "the admin's session lives on"
    );
    scim.app.session_for(ADMIN_EMAIL).await;
    let refusals = scim.refusals().await;
    assert_eq!(refusals.len(), 3);
    assert_eq!(
        refusals[0],
        json!({
            "user_id": admin.id, "email": ADMIN_EMAIL, "attempted": "deactivate",
            "reason": "This is the organization's last active Integrations Admin."
        })
    );
}

/// DELETE of the last active Integrations Admin is a 409 Conflict that says
/// why; the account, its role and its sessions stay.
#[tokio::test]
async fn scim_cannot_delete_the_last_integrations_admin() {
    let scim = Scim::start().await;
    let cookie = scim.app.session_for(ADMIN_EMAIL).await;
    let path = scim.path_of(ADMIN_EMAIL).await;
    let refused = scim.call("DELETE", &path, None).await;
    let detail = scim_error(&refused, 409, None);
    assert!(
        detail.starts_with(&format!(
            "{ADMIN_EMAIL} is the organization's last active Integrations Admin"
        )),
        "{detail}"
    );
    assert!(scim.stored(ADMIN_EMAIL).await.active);
    assert_eq!(scim.role_of(ADMIN_EMAIL).await, "integrations_admin");
    assert_eq!(scim.signed_in(&cookie).await.as_deref(), Some(ADMIN_EMAIL));
    scim.app.session_for(ADMIN_EMAIL).await;
    let admin = scim.stored(ADMIN_EMAIL).await;
    assert_eq!(
        scim.refusals().await,
        [json!({
            "user_id": admin.id, "email": ADMIN_EMAIL, "attempted": "delete",
            "reason": "This is the organization's last active Integrations Admin."
        })]
    );
    // Members are deleted as before.
    let member = scim.path_of(MEMBER_EMAIL).await;
    assert_eq!(
        scim.call("DELETE", &member, None).await.status,
        StatusCode::NO_CONTENT
    );
}

/// With two active Integrations Admins, SCIM may deactivate one (the IdP
/// manages people's access; the rule only keeps one way in). The role stays
/// Integrations Admin, the sessions end, and the remaining admin is then the
/// last one and protected. An inactive admin may be deleted.
#[tokio::test]
async fn scim_may_deactivate_an_integrations_admin_while_another_remains() {
    let scim = Scim::start().await;
    scim.app
        .add_user(SECOND_ADMIN, Role::IntegrationsAdmin)
        .await;
    let cookie = scim.app.session_for(SECOND_ADMIN).await;
    let second = scim.path_of(SECOND_ADMIN).await;
    let deactivated = scim
        .patch(
            &second,
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    assert_eq!(deactivated.json()["active"], false);
    assert_eq!(scim.role_of(SECOND_ADMIN).await, "integrations_admin");
    let second_id = scim.stored(SECOND_ADMIN).await.id;
    assert!(session::Entity::find()
        .filter(session::Column::UserId.eq(second_id))
        .all(&scim.app.db)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(scim.signed_in(&cookie).await, None, "the sessions ended");

    let first = scim.path_of(ADMIN_EMAIL).await;
    let refused = scim
        .patch(
            &first,
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    scim_error(&refused, 400, Some("mutability"));
    scim_error(&scim.call("DELETE", &first, None).await, 409, None);
    assert!(scim.stored(ADMIN_EMAIL).await.active);

    // Reactivation is always allowed; so is deleting an admin who is inactive.
    let back = scim
        .patch(
            &second,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    scim.patch(
        &second,
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await;
    assert_eq!(
        scim.call("DELETE", &second, None).await.status,
        StatusCode::NO_CONTENT
    );
    scim.app.session_for(ADMIN_EMAIL).await;
}

/// SCIM `roles` are kept as attributes and never change a Latchkey role,
/// in either direction.
#[tokio::test]
async fn scim_roles_never_change_a_latchkey_role() {
    let scim = Scim::start().await;
    for (email, role) in [
        (ADMIN_EMAIL, "integrations_admin"),
        (MEMBER_EMAIL, "member"),
    ] {
        let path = scim.path_of(email).await;
        let replaced = scim
            .call(
                "PUT",
                &path,
                Some(json!({
                    "schemas": [USER], "userName": email, "active": true,
                    "roles": [{"value": "member"}, {"value": "integrations_admin"}]
                })),
            )
            .await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
        assert_eq!(scim.role_of(email).await, role);
    }
}
