//! SCIM resources as JSON documents: schema URNs, attribute names (matched without
//! regard to case and stored in their canonical spelling), booleans sent as
//! strings, and the `attributes` / `excludedAttributes` projection.

use super::errors::ScimError;
use super::filter::AttrPath;
use serde_json::{Map, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Attributes the server owns: a client's value for them is ignored.
pub const READ_ONLY: &[&str] = &["id", "meta", "schemas", "groups"];

/// The canonical spelling of an attribute name (or the name as sent, if unknown).
pub fn canonical_name(name: &str) -> String {
    if name.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
        return ENTERPRISE_SCHEMA.to_string();
    }
    super::schema::canonical_spelling(name)
        .map(str::to_string)
        .unwrap_or_else(|| name.to_string())
}

pub fn is_multi_valued(name: &str) -> bool {
    super::schema::is_multi_valued(name)
}

/// Renames keys to their canonical spelling (merging keys that differ only in case)
/// and turns `"True"`/`"False"` into booleans where the schema says boolean.
pub fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(normalize_map(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// [`normalize`] for an object.
pub fn normalize_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, v) in map {
        let key = canonical_name(&key);
        let v = normalize(v);
        let v = if key == "active" || key == "primary" {
            coerce_bool(v)
        } else {
            v
        };
        match (out.get_mut(&key), v) {
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (_, v) => {
                out.insert(key, v);
            }
        }
    }
    out
}

/// Booleans sent as strings (`"True"`, `"false"`), as some IdPs do.
pub fn coerce_bool(value: Value) -> Value {
    match &value {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => value,
    }
}

/// Whether a path names the enterprise extension (`urn:…:User:attr` or the bare URN).
pub enum Scope {
    Core,
    Enterprise,
}

/// Splits a path into the part of the document it addresses. A path that is the
/// bare enterprise URN comes back as `(Enterprise, None)`.
pub fn scope_of(
    path: &AttrPath,
    core_schema: &str,
) -> Result<(Scope, Option<AttrPath>), ScimError> {
    let Some(urn) = &path.urn else {
        // `urn:…:enterprise:2.0:User` parses as urn `urn:…:2.0` + attr `User`.
        return Ok((Scope::Core, Some(path.clone())));
    };
    let whole = format!("{urn}:{}", path.attr);
    if whole.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) && path.sub_attr.is_none() {
        return Ok((Scope::Enterprise, None));
    }
    let bare = AttrPath {
        urn: None,
        ..path.clone()
    };
    if urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) && core_schema == USER_SCHEMA {
        Ok((Scope::Enterprise, Some(bare)))
    } else if urn.eq_ignore_ascii_case(core_schema) {
        Ok((Scope::Core, Some(bare)))
    } else {
        Err(ScimError::InvalidPath(format!(
            "Unknown schema in attribute path \"{path}\"."
        )))
    }
}

/// Case-insensitive lookup of an object member.
pub fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Parses an `attributes` / `excludedAttributes` parameter.
pub fn parse_attribute_list(list: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            AttrPath::parse(s)
                .map_err(|e| ScimError::InvalidValue(format!("Invalid attribute name: {e}")))
        })
        .collect()
}

/// Applies `attributes` (only these, plus `id` and `schemas`) or `excludedAttributes`.
pub fn project(
    resource: Value,
    core_schema: &str,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Value::Object(mut doc) = resource else {
        return resource;
    };
    if !attributes.is_empty() {
        let mut out = Map::new();
        for key in ["schemas", "id"] {
            if let Some(v) = doc.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        for path in attributes {
            let Ok((scope, Some(path))) = scope_of(path, core_schema) else {
                if let Ok((Scope::Enterprise, None)) = scope_of(path, core_schema) {
                    if let Some(ext) = doc.get(ENTERPRISE_SCHEMA) {
                        out.insert(ENTERPRISE_SCHEMA.into(), ext.clone());
                    }
                }
                continue;
            };
            let (source, target) = match scope {
                Scope::Core => (Some(&doc), &mut out),
                Scope::Enterprise => {
                    let source = doc.get(ENTERPRISE_SCHEMA).and_then(Value::as_object);
                    let target = out
                        .entry(ENTERPRISE_SCHEMA)
                        .or_insert_with(|| Value::Object(Map::new()));
                    match target {
                        Value::Object(t) => (source, t),
                        _ => continue,
                    }
                }
            };
            let Some(source) = source else { continue };
            copy_path(source, target, &path);
        }
        if let Some(Value::Object(ext)) = out.get(ENTERPRISE_SCHEMA) {
            if ext.is_empty() {
                out.remove(ENTERPRISE_SCHEMA);
            }
        }
        doc = out;
    }
    for path in excluded {
        match scope_of(path, core_schema) {
            Ok((Scope::Enterprise, None)) => {
                doc.remove(ENTERPRISE_SCHEMA);
            }
            Ok((Scope::Core, Some(path))) => remove_path(&mut doc, &path),
            Ok((Scope::Enterprise, Some(path))) => {
                if let Some(Value::Object(ext)) = doc.get_mut(ENTERPRISE_SCHEMA) {
                    remove_path(ext, &path);
                }
            }
            _ => {}
        }
    }
    Value::Object(doc)
}

fn copy_path(source: &Map<String, Value>, target: &mut Map<String, Value>, path: &AttrPath) {
    let key = canonical_name(&path.attr);
    if matches!(key.as_str(), "id" | "schemas") {
        return;
    }
    let Some(value) = get_ci(source, &key) else {
        return;
    };
    match &path.sub_attr {
        None => {
            target.insert(key, value.clone());
        }
        Some(sub) => {
            let sub = canonical_name(sub);
            let picked = match value {
                Value::Object(o) => get_ci(o, &sub).map(|v| {
                    let mut m = match target.get(&key) {
                        Some(Value::Object(existing)) => existing.clone(),
                        _ => Map::new(),
                    };
                    m.insert(sub.clone(), v.clone());
                    Value::Object(m)
                }),
                Value::Array(items) => Some(Value::Array(
                    items
                        .iter()
                        .filter_map(|item| item.as_object())
                        .filter_map(|o| get_ci(o, &sub))
                        .map(|v| {
                            let mut m = Map::new();
                            m.insert(sub.clone(), v.clone());
                            Value::Object(m)
                        })
                        .collect(),
                )),
                _ => None,
            };
            if let Some(picked) = picked {
                target.insert(key, picked);
            }
        }
    }
}

fn remove_path(doc: &mut Map<String, Value>, path: &AttrPath) {
    let key = canonical_name(&path.attr);
    if matches!(key.as_str(), "id" | "schemas") {
        return;
    }
    match &path.sub_attr {
        None => {
            doc.remove(&key);
        }
        Some(sub) => {
            let sub = canonical_name(sub);
            match doc.get_mut(&key) {
                Some(Value::Object(o)) => {
                    o.remove(&sub);
                }
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item {
                            o.remove(&sub);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalizes_names_and_string_booleans() {
        let doc = normalize(json!({
            "USERNAME": "a@b.test",
            "Active": "False",
            "emails": [{"Value": "a@b.test", "primary": "True"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "R&D"}
        }));
        assert_eq!(
            doc,
            json!({
                "userName": "a@b.test",
                "active": false,
                "emails": [{"value": "a@b.test", "primary": true}],
                ENTERPRISE_SCHEMA: {"department": "R&D"}
            })
        );
    }

    #[test]
    fn projection_keeps_id_and_schemas() {
        let doc = json!({
            "schemas": [USER_SCHEMA], "id": "1", "userName": "u",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "x", "type": "work"}],
            ENTERPRISE_SCHEMA: {"department": "D", "division": "V"}
        });
        let only = parse_attribute_list(Some(
            "userName,name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ))
        .unwrap();
        assert_eq!(
            project(doc.clone(), USER_SCHEMA, &only, &[]),
            json!({
                "schemas": [USER_SCHEMA], "id": "1", "userName": "u",
                "name": {"givenName": "A"}, "emails": [{"value": "x"}],
                ENTERPRISE_SCHEMA: {"department": "D"}
            })
        );
        let excluded = parse_attribute_list(Some("name,emails.type,id")).unwrap();
        let projected = project(doc, USER_SCHEMA, &[], &excluded);
        assert!(projected.get("name").is_none());
        assert_eq!(projected["emails"], json!([{"value": "x"}]));
        assert_eq!(projected["id"], "1");
    }
}
