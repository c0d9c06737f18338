//! SCIM Users mapped onto accounts: `userName` → email (the sign-in identity),
//! `name.givenName` / `name.familyName` → first / last name, `active` → status,
//! `externalId` → its own column; everything else is kept as a JSON document.

use super::errors::ScimError;
use super::resource::{normalize, normalize_map, ENTERPRISE_SCHEMA, USER_SCHEMA};
use super::schema::{self, ResourceKind};
use crate::entities::user;
use serde_json::{json, Map, Value};

pub const MAX_USER_NAME: usize = 254;
pub const MAX_NAME: usize = 120;
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// A user as a POST or PUT (or a patched document) describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDraft {
    pub user_name: String,
    pub external_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
    /// Whether the document carried a `password`, which is dropped (see
    /// [`UserDraft::from_document`]); kept only so an attempt on an
    /// Integrations Admin can be audited.
    pub password_sent: bool,
    /// The other attributes, stored as they came.
    pub extra: Map<String, Value>,
}

impl UserDraft {
    /// A POST or PUT body: every attribute is checked against the published
    /// schema first.
    pub fn from_document(doc: Value) -> Result<Self, ScimError> {
        let Value::Object(doc) = normalize(doc) else {
            return Err(ScimError::InvalidSyntax(
                "A User must be a JSON object.".into(),
            ));
        };
        Self::from_patched(schema::conform_document(ResourceKind::User, doc)?)
    }

    /// A stored user with PATCH operations applied. The operations were checked
    /// one by one when the request was read; what was stored before is not
    /// checked again, so an account stored under older rules can still be
    /// deactivated.
    pub fn from_patched(doc: Map<String, Value>) -> Result<Self, ScimError> {
        let mut doc = normalize_map(doc);
        for key in ["id", "meta", "schemas", "groups"] {
            doc.remove(key);
        }
        let user_name = match doc.remove("userName") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(ScimError::InvalidValue("\"userName\" is required.".into()))
            }
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "\"userName\" must be a string.".into(),
                ))
            }
        };
        if user_name.chars().count() > MAX_USER_NAME || user_name.chars().any(char::is_control) {
            return Err(ScimError::InvalidValue(format!(
                "\"userName\" must be at most {MAX_USER_NAME} characters, without control characters."
            )));
        }
        let external_id = match doc.remove("externalId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= MAX_USER_NAME => Some(s),
            Some(_) => {
                return Err(ScimError::InvalidValue(format!(
                    "\"externalId\" must be a string of at most {MAX_USER_NAME} characters."
                )))
            }
        };
        let active = match doc.remove("active") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => b,
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "\"active\" must be a boolean.".into(),
                ))
            }
        };
        // SCIM never sets or changes a password. RFC 7643 §4.1.1 makes `password`
        // writeOnly and returned never, so accepting and dropping it is within the
        // protocol (and IdPs that sync passwords keep working). Storing it would let
        // whoever holds the IdP's bearer token give any account, an Integrations
        // Admin's included, a password of their choosing and sign in with it,
        // around SSO. SCIM accounts sign in through SSO only.
        let password_sent = doc.remove("password").is_some_and(|value| !value.is_null());
        let (mut first_name, mut last_name) = (String::new(), String::new());
        match doc.get_mut("name") {
            None | Some(Value::Null) => {
                doc.remove("name");
            }
            Some(Value::Object(name)) => {
                first_name = take_name(name, "givenName")?;
                last_name = take_name(name, "familyName")?;
                if name.is_empty() {
                    doc.remove("name");
                }
            }
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "\"name\" must be an object.".into(),
                ))
            }
        }
        match doc.get(ENTERPRISE_SCHEMA) {
            None => {}
            Some(Value::Object(ext)) if ext.is_empty() => {
                doc.remove(ENTERPRISE_SCHEMA);
            }
            Some(Value::Object(_)) => {}
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "The enterprise extension must be a JSON object.".into(),
                ))
            }
        }
        doc.retain(|_, v| !v.is_null());
        if serde_json::to_vec(&doc).map(|b| b.len()).unwrap_or(0) > MAX_DOCUMENT_BYTES {
            return Err(ScimError::InvalidValue(
                "The User has too many attributes.".into(),
            ));
        }
        Ok(Self {
            user_name,
            external_id,
            first_name,
            last_name,
            active,
            password_sent,
            extra: doc,
        })
    }

    pub fn extra_json(&self) -> Option<String> {
        (!self.extra.is_empty()).then(|| Value::Object(self.extra.clone()).to_string())
    }

    /// Whether this draft says what `user` already holds.
    pub fn is_stored_as(&self, user: &user::Model) -> bool {
        let same_extra = match user.scim_attributes.as_deref() {
            None => self.extra.is_empty(),
            Some(stored) => serde_json::from_str::<Map<String, Value>>(stored)
                .is_ok_and(|stored| stored == self.extra),
        };
        same_extra
            && user.email == self.user_name
            && user.first_name == self.first_name
            && user.last_name == self.last_name
            && user.active == self.active
            && user.external_id == self.external_id
    }
}

fn take_name(name: &mut Map<String, Value>, key: &str) -> Result<String, ScimError> {
    match name.remove(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= MAX_NAME => Ok(s),
        Some(_) => Err(ScimError::InvalidValue(format!(
            "\"name.{key}\" must be a string of at most {MAX_NAME} characters."
        ))),
    }
}

/// The SCIM representation of an account.
pub fn to_resource(user: &user::Model, base: &str) -> Value {
    let mut doc = user
        .scim_attributes
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default();
    let mut schemas = vec![json!(USER_SCHEMA)];
    if doc.contains_key(ENTERPRISE_SCHEMA) {
        schemas.push(json!(ENTERPRISE_SCHEMA));
    }
    let mut name = match doc.remove("name") {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    if !user.first_name.is_empty() {
        name.insert("givenName".into(), json!(user.first_name));
    }
    if !user.last_name.is_empty() {
        name.insert("familyName".into(), json!(user.last_name));
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(user.id.to_string()));
    if let Some(external_id) = &user.external_id {
        out.insert("externalId".into(), json!(external_id));
    }
    out.insert("userName".into(), json!(user.email));
    if !name.is_empty() {
        out.insert("name".into(), Value::Object(name));
    }
    out.insert("active".into(), json!(user.active));
    out.extend(doc);
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": user.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": user.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": format!("{base}/Users/{}", user.id),
        }),
    );
    Value::Object(out)
}

/// The attributes a PATCH works on: the resource without what the server owns.
pub fn patch_document(user: &user::Model, base: &str) -> Map<String, Value> {
    let Value::Object(mut doc) = to_resource(user, base) else {
        return Map::new();
    };
    for key in ["meta", "schemas", "id"] {
        doc.remove(key);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_map_scim_attributes_onto_account_columns() {
        let draft = UserDraft::from_document(json!({
            "schemas": [USER_SCHEMA],
            "userName": " Jane@Acme.test ",
            "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"},
            "active": "True",
            "externalId": "00u1",
            "emails": [{"value": "jane@acme.test", "primary": true}],
            "groups": [{"value": "ignored"}]
        }))
        .unwrap();
        assert_eq!(draft.user_name, "Jane@Acme.test");
        assert_eq!(
            (draft.first_name.as_str(), draft.last_name.as_str()),
            ("Jane", "Doe")
        );
        assert!(draft.active);
        assert_eq!(draft.external_id.as_deref(), Some("00u1"));
        assert_eq!(
            Value::Object(draft.extra),
            json!({"name": {"formatted": "Jane Doe"}, "emails": [{"value": "jane@acme.test", "primary": true}]})
        );
    }

    #[test]
    fn drafts_drop_passwords_of_any_shape() {
        for password in [json!("s3cret"), json!(""), json!(42), json!({"value": "x"})] {
            let draft = UserDraft::from_document(json!({
                "userName": "jane@acme.test",
                "PassWord": password,
            }))
            .unwrap();
            assert!(draft.password_sent, "{password}");
            assert!(draft.extra.is_empty(), "{password}: {:?}", draft.extra);
        }
        let without = UserDraft::from_document(json!({"userName": "a", "password": null})).unwrap();
        assert!(!without.password_sent);
    }

    #[test]
    fn drafts_refuse_bad_values() {
        for doc in [
            json!({}),
            json!({"userName": ""}),
            json!({"userName": 5}),
            json!({"userName": "a", "active": "maybe"}),
            json!({"userName": "a", "name": "x"}),
            json!({"userName": "a", "name": {"givenName": "x".repeat(121)}}),
            json!([1, 2]),
        ] {
            let e = UserDraft::from_document(doc.clone()).unwrap_err();
            assert!(matches!(e.status(), 400), "{doc}: {e:?}");
        }
    }
}
