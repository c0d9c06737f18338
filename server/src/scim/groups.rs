//! SCIM Groups: a display name, an optional externalId and members (user ids).

use super::errors::ScimError;
use super::resource::{normalize, GROUP_SCHEMA};
use super::schema::{self, ResourceKind};
use crate::entities::scim_group;
use serde_json::{json, Map, Value};
use uuid::Uuid;

pub const MAX_DISPLAY_NAME: usize = 254;
/// Most members one request may set.
pub const MAX_MEMBERS: usize = 50_000;

#[derive(Debug, Clone, PartialEq)]
pub struct GroupDraft {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<Uuid>,
}

impl GroupDraft {
    /// A POST or PUT body: every attribute is checked against the published
    /// schema first.
    pub fn from_document(doc: Value) -> Result<Self, ScimError> {
        let Value::Object(doc) = normalize(doc) else {
            return Err(ScimError::InvalidSyntax(
                "A Group must be a JSON object.".into(),
            ));
        };
        Self::from_patched(schema::conform_document(ResourceKind::Group, doc)?)
    }

    /// A stored group with PATCH operations applied (each checked when read).
    pub fn from_patched(mut doc: Map<String, Value>) -> Result<Self, ScimError> {
        let display_name = match doc.remove("displayName") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return Err(ScimError::InvalidValue(
                    "\"displayName\" is required.".into(),
                ))
            }
        };
        if display_name.chars().count() > MAX_DISPLAY_NAME {
            return Err(ScimError::InvalidValue(format!(
                "\"displayName\" must be at most {MAX_DISPLAY_NAME} characters."
            )));
        }
        let external_id = match doc.remove("externalId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= MAX_DISPLAY_NAME => Some(s),
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "\"externalId\" must be a short string.".into(),
                ))
            }
        };
        let members = match doc.remove("members") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => member_ids(&items)?,
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "\"members\" must be a list.".into(),
                ))
            }
        };
        Ok(Self {
            display_name,
            external_id,
            members,
        })
    }
}

/// The user ids in a `members` list, without duplicates, in order.
pub fn member_ids(items: &[Value]) -> Result<Vec<Uuid>, ScimError> {
    if items.len() > MAX_MEMBERS {
        return Err(ScimError::TooMany(format!(
            "A group may list at most {MAX_MEMBERS} members in one request."
        )));
    }
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let value = item
            .as_object()
            .and_then(|o| o.get("value"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ScimError::InvalidValue("Each member needs a \"value\" (a user id).".into())
            })?;
        let id = Uuid::parse_str(value.trim()).map_err(|_| {
            ScimError::InvalidValue(format!(
                "\"{}\" is not the id of a user here.",
                short(value)
            ))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The SCIM representation of a group; `members: None` leaves them out.
pub fn to_resource(group: &scim_group::Model, members: Option<&[Uuid]>, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), json!(group.id.to_string()));
    if let Some(external_id) = &group.external_id {
        out.insert("externalId".into(), json!(external_id));
    }
    out.insert("displayName".into(), json!(group.display_name));
    if let Some(members) = members {
        if !members.is_empty() {
            out.insert(
                "members".into(),
                Value::Array(
                    members
                        .iter()
                        .map(|id| {
                            json!({
                                "value": id.to_string(),
                                "$ref": format!("{base}/Users/{id}"),
                                "type": "User",
                            })
                        })
                        .collect(),
                ),
            );
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": group.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": group.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": format!("{base}/Groups/{}", group.id),
        }),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_read_members_and_refuse_bad_ones() {
        let id = crate::db::new_row_id();
        let draft = GroupDraft::from_document(json!({
            "displayName": "Engineering",
            "members": [{"value": id.to_string(), "display": "x"}, {"value": id.to_string()}]
        }))
        .unwrap();
        assert_eq!(draft.members, vec![id]);
        assert!(GroupDraft::from_document(json!({"displayName": ""})).is_err());
        assert!(GroupDraft::from_document(
            json!({"displayName": "x", "members": [{"value": "nope"}]})
        )
        .is_err());
        assert!(GroupDraft::from_document(json!({"displayName": "x", "members": [{}]})).is_err());
    }
}
