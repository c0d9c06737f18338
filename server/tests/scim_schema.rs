//! Every SCIM request is held to the schema published at /Schemas (issue 18.2):
//! wrong types, unknown attributes and paths, unsupported extension schemas and
//! values outside an attribute's canonical values are refused with the RFC 7644
//! error type and a message naming the attribute, and nothing is changed.

mod common;

use axum::http::StatusCode;
use common::scim::*;
use common::*;
use serde_json::{json, Value};
use uuid::Uuid;

const CUSTOM: &str = "urn:example:params:scim:schemas:extension:custom:2.0:User";

type Idp = ScimIdp;

impl ScimIdp {
    async fn create(&self, path: &str, body: Value) -> Value {
        let response = self.call("POST", path, Some(body)).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.json()
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.call("GET", path, None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        without_meta(response.json())
    }

    async fn user_names(&self) -> Vec<String> {
        let list = self.call("GET", "/Users?count=1000", None).await.json();
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect()
    }
}

/// `meta.lastModified` moves on every write; the rest must not.
fn without_meta(mut resource: Value) -> Value {
    resource.as_object_mut().unwrap().remove("meta");
    resource
}

/// The status, `scimType` and `detail` of a SCIM error answer.
fn refusal(response: &TestResponse) -> (u16, String, String) {
    let body = response.json();
    (
        response.status.as_u16(),
        body["scimType"].as_str().unwrap_or_default().to_string(),
        body["detail"].as_str().unwrap_or_default().to_string(),
    )
}

fn refused(scim_type: &str, detail: &str) -> (u16, String, String) {
    (400, scim_type.to_string(), detail.to_string())
}

fn jane(extra: Value) -> Value {
    let mut user = json!({"schemas": [USER], "userName": "jane@acme.test"});
    user.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    user
}

#[tokio::test]
async fn a_user_document_that_breaks_the_schema_is_refused_and_nothing_is_stored() {
    let idp = Idp::start().await;
    let before = idp.user_names().await;
    let custom_schemas = json!([USER, CUSTOM]);
    let cases = [
        (
            jane(json!({"emails": "not-a-list"})),
            refused("invalidValue", "\"emails\" must be a list; got a string."),
        ),
        (
            jane(json!({"emails": [{"value": "jane@acme.test", "primary": "yes"}]})),
            refused(
                "invalidValue",
                "\"emails.primary\" must be true or false; got a string.",
            ),
        ),
        (
            jane(json!({"active": "maybe"})),
            refused(
                "invalidValue",
                "\"active\" must be true or false; got a string.",
            ),
        ),
        (
            jane(json!({"name": {"givenName": 5}})),
            refused(
                "invalidValue",
                "\"name.givenName\" must be a string; got a number.",
            ),
        ),
        (
            jane(json!({"title": ["Boss"]})),
            refused("invalidValue", "\"title\" must be a string; got a list."),
        ),
        (
            jane(json!({"noSuchAttribute": "x"})),
            refused(
                "invalidSyntax",
                "\"noSuchAttribute\" is not an attribute of a User (see /Schemas).",
            ),
        ),
        (
            jane(json!({"name": {"noSuchSub": "x"}})),
            refused(
                "invalidSyntax",
                "\"name.noSuchSub\" is not an attribute here (see /Schemas).",
            ),
        ),
        (
            jane(json!({ENTERPRISE: {"department": 7}})),
            refused(
                "invalidValue",
                &format!("\"{ENTERPRISE}.department\" must be a string; got a number."),
            ),
        ),
        (
            jane(json!({CUSTOM: {"badge": "42"}})),
            refused(
                "invalidSyntax",
                &format!(
                    "\"{CUSTOM}\" is not a schema of a User, and it is not listed in \"schemas\". \
                     A User may use \"{USER}\" and the extension \"{ENTERPRISE}\"."
                ),
            ),
        ),
        (
            json!({"schemas": custom_schemas, "userName": "jane@acme.test", CUSTOM: {"badge": "42"}}),
            refused(
                "invalidValue",
                &format!(
                    "The schema \"{CUSTOM}\" is not supported here. \
                     A User may use \"{USER}\" and the extension \"{ENTERPRISE}\"."
                ),
            ),
        ),
    ];
    for (body, expected) in cases {
        let response = idp.call("POST", "/Users", Some(body.clone())).await;
        assert_eq!(refusal(&response), expected, "{body}");
    }
    assert_eq!(idp.user_names().await, before);

    // Names in any case (RFC 7643 §2.1) and the documented shapes still pass.
    let created = idp
        .create(
            "/Users",
            json!({
                "schemas": [USER, ENTERPRISE],
                "USERNAME": "jane@acme.test",
                "Emails": [{"Value": "jane@acme.test", "TYPE": "work", "primary": "True"}],
                "photos": [{"value": "https://acme.test/jane.png", "type": "photo"}],
                ENTERPRISE: {"Department": "Ops", "manager": {"value": "boss-id"}}
            }),
        )
        .await;
    assert_eq!(
        (&created["emails"], &created[ENTERPRISE]),
        (
            &json!([{"value": "jane@acme.test", "type": "work", "primary": true}]),
            &json!({"department": "Ops", "manager": {"value": "boss-id"}})
        )
    );
}

/// RFC 7644 §3.5.1: read-only attributes in a PUT are ignored, not refused.
#[tokio::test]
async fn read_only_attributes_in_a_put_are_ignored() {
    let idp = Idp::start().await;
    let created = idp
        .create("/Users", jane(json!({"title": "Engineer"})))
        .await;
    let id = created["id"].as_str().unwrap();
    let response = idp
        .call(
            "PUT",
            &format!("/Users/{id}"),
            Some(jane(json!({
                "id": "someone-else",
                "meta": {"created": "2001-01-01T00:00:00Z"},
                "groups": [{"value": "g1", "display": "Admins"}],
                "title": "Manager"
            }))),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let replaced = response.json();
    assert_eq!(
        (&replaced["id"], &replaced["title"], &replaced["groups"]),
        (&json!(id), &json!("Manager"), &Value::Null)
    );
    assert_eq!(replaced["meta"]["created"], created["meta"]["created"]);
}

#[tokio::test]
async fn patch_paths_and_values_are_checked_before_anything_changes() {
    let idp = Idp::start().await;
    let created = idp
        .create("/Users", jane(json!({"name": {"givenName": "Jane"}})))
        .await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let before = idp.get(&path).await;
    let unknown = |p: &str| {
        refused(
            "invalidPath",
            &format!("\"{p}\" is not an attribute of a User (see /Schemas)."),
        )
    };
    let cases = [
        (
            json!([{"op": "replace", "path": "noSuchAttribute", "value": "x"}]),
            unknown("noSuchAttribute"),
        ),
        (
            json!([{"op": "replace", "path": "name.noSuchSub", "value": "x"}]),
            unknown("name.noSuchSub"),
        ),
        (
            json!([{"op": "add", "path": format!("{CUSTOM}:badge"), "value": "42"}]),
            refused(
                "invalidPath",
                &format!("Unknown schema in attribute path \"{CUSTOM}:badge\"."),
            ),
        ),
        (
            json!([{"op": "remove", "path": "noSuchAttribute"}]),
            unknown("noSuchAttribute"),
        ),
        (
            json!([{"op": "replace", "value": {"noSuchAttribute": 1}}]),
            unknown("noSuchAttribute"),
        ),
        (
            json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "y"}]),
            refused(
                "invalidPath",
                "\"userName\" is not multi-valued, so it takes no value filter.",
            ),
        ),
        (
            json!([{"op": "add", "path": "emails", "value": "not-a-list"}]),
            refused("invalidValue", "\"emails\" must be a list; got a string."),
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            refused(
                "invalidValue",
                "\"active\" must be true or false; got a string.",
            ),
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": 1}]),
            refused(
                "invalidValue",
                "\"emails.primary\" must be true or false; got a number.",
            ),
        ),
        // The first operation is fine; the second is not, so neither applies.
        (
            json!([
                {"op": "replace", "path": "name.givenName", "value": "Janet"},
                {"op": "replace", "path": "displayName", "value": {"text": "J"}}
            ]),
            refused(
                "invalidValue",
                "\"displayName\" must be a string; got an object.",
            ),
        ),
    ];
    for (operations, expected) in cases {
        let response = idp.patch(&path, operations.clone()).await;
        assert_eq!(refusal(&response), expected, "{operations}");
    }
    assert_eq!(idp.get(&path).await, before);

    // Entra ID sends the manager as the manager's id alone; it reads back in
    // the published shape, as Entra itself expects when it compares.
    let response = idp
        .patch(
            &path,
            json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "boss-id"}]),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        idp.get(&path).await[ENTERPRISE]["manager"],
        json!({"value": "boss-id"})
    );
    // Its removal names the manager again; a remove's value is never stored.
    let response = idp
        .patch(
            &path,
            json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager"), "value": [{"value": "boss-id"}]}]),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(idp.get(&path).await[ENTERPRISE]["manager"], Value::Null);
}

/// Two behaviours the conformance suites disagree on, decided (README, SCIM):
/// removing `active` is refused, and so is adding a member who does not exist.
#[tokio::test]
async fn removing_active_and_adding_an_unknown_member_are_refused() {
    let idp = Idp::start().await;
    let user = idp.create("/Users", jane(json!({}))).await;
    let user_path = format!("/Users/{}", user["id"].as_str().unwrap());
    let response = idp
        .patch(&user_path, json!([{"op": "remove", "path": "active"}]))
        .await;
    assert_eq!(
        refusal(&response),
        refused(
            "invalidValue",
            "\"active\" cannot be removed: replace it with false to deactivate the user."
        )
    );
    assert_eq!(idp.get(&user_path).await["active"], json!(true));

    let group = idp
        .create("/Groups", json!({"schemas": [GROUP], "displayName": "Ops"}))
        .await;
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let stranger = Uuid::new_v4();
    let response = idp
        .patch(
            &group_path,
            json!([{"op": "add", "path": "members", "value": [{"value": stranger.to_string()}]}]),
        )
        .await;
    assert_eq!(
        refusal(&response),
        refused(
            "invalidValue",
            &format!("Member \"{stranger}\" is not a user of this organization.")
        )
    );
    assert_eq!(idp.get(&group_path).await["members"], Value::Null);
}

#[tokio::test]
async fn group_documents_and_patches_are_checked_too() {
    let idp = Idp::start().await;
    let user = idp.create("/Users", jane(json!({}))).await;
    let member = user["id"].as_str().unwrap();
    let cases = [
        (
            json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": member, "type": "Robot"}]}),
            refused(
                "invalidValue",
                "\"members.type\" must be one of User, Group; got \"Robot\".",
            ),
        ),
        (
            json!({"schemas": [GROUP], "displayName": "Ops", "members": "everyone"}),
            refused("invalidValue", "\"members\" must be a list; got a string."),
        ),
        (
            json!({"schemas": [GROUP, ENTERPRISE], "displayName": "Ops"}),
            refused(
                "invalidValue",
                &format!(
                    "The schema \"{ENTERPRISE}\" is not supported here. A Group may use \"{GROUP}\" only."
                ),
            ),
        ),
    ];
    for (body, expected) in cases {
        let response = idp.call("POST", "/Groups", Some(body.clone())).await;
        assert_eq!(refusal(&response), expected, "{body}");
    }

    // Okta sends each member's display name along; it is accepted.
    let group = idp
        .create(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": member, "display": "Jane"}]}),
        )
        .await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let before = idp.get(&path).await;
    for (operations, expected) in [
        (
            json!([{"op": "replace", "path": "members.noSuch", "value": "x"}]),
            refused(
                "invalidPath",
                "\"members.noSuch\" is not an attribute of a Group (see /Schemas).",
            ),
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": 5}]),
            refused(
                "invalidValue",
                "\"displayName\" must be a string; got a number.",
            ),
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": "x"}]),
            refused(
                "invalidPath",
                "\"userName\" is not an attribute of a Group (see /Schemas).",
            ),
        ),
    ] {
        let response = idp.patch(&path, operations.clone()).await;
        assert_eq!(refusal(&response), expected, "{operations}");
    }
    assert_eq!(idp.get(&path).await, before);
}
