//! PATCH (RFC 7644 §3.5.2) applied to a resource document: op names in any case,
//! with and without `path`, value-filter paths, dotted and URN keys inside a
//! path-less value, and the lenient forms IdPs send (Entra's member removal by
//! `value`, re-adding an existing member, Okta's path-less `{"active": false}`).

use super::errors::ScimError;
use super::eval::matches_element;
use super::filter::{CompareOp, Filter, Value as FilterValue};
use super::path::PatchPath;
use super::resource::{
    canonical_name, is_multi_valued, normalize, scope_of, Scope, ENTERPRISE_SCHEMA, PATCH_SCHEMA,
    READ_ONLY,
};
use super::schema::{self, ResourceKind};
use serde_json::{Map, Value};

/// Most operations accepted in one request.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Reads a PatchOp request body; every path and value is checked against the
/// resource's schema before anything is applied.
pub fn parse_request(body: &Value, kind: ResourceKind) -> Result<Vec<Operation>, ScimError> {
    let Some(body) = body.as_object() else {
        return Err(ScimError::InvalidSyntax(
            "A PATCH body must be a JSON object with \"Operations\".".into(),
        ));
    };
    if let Some(schemas) = super::resource::get_ci(body, "schemas") {
        let ok = schemas.as_array().is_some_and(|s| {
            s.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::InvalidSyntax(format!(
                "A PATCH body must list the schema \"{PATCH_SCHEMA}\"."
            )));
        }
    }
    let Some(ops) = super::resource::get_ci(body, "Operations").and_then(Value::as_array) else {
        return Err(ScimError::InvalidSyntax(
            "A PATCH body needs an \"Operations\" list.".into(),
        ));
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::TooMany(format!(
            "A PATCH request may carry at most {MAX_OPERATIONS} operations."
        )));
    }
    ops.iter().map(|op| parse_operation(op, kind)).collect()
}

fn parse_operation(op: &Value, resource: ResourceKind) -> Result<Operation, ScimError> {
    let Some(op) = op.as_object() else {
        return Err(ScimError::InvalidSyntax(
            "Each operation must be a JSON object.".into(),
        ));
    };
    let name = super::resource::get_ci(op, "op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "replace" => OpKind::Replace,
        "remove" => OpKind::Remove,
        _ => {
            return Err(ScimError::InvalidSyntax(format!(
                "Unknown PATCH op \"{name}\": use add, replace or remove."
            )))
        }
    };
    let path = match super::resource::get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(PatchPath::parse(p)?),
        Some(_) => return Err(ScimError::InvalidPath("\"path\" must be a string.".into())),
    };
    let value = super::resource::get_ci(op, "value").cloned().map(normalize);
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::InvalidValue(format!(
            "The {name} operation needs a \"value\"."
        )));
    }
    if kind == OpKind::Remove && path.is_none() {
        return Err(ScimError::NoTarget(
            "A remove operation needs a \"path\".".into(),
        ));
    }
    // A remove's path is checked like any other. Its value only selects
    // elements of a list to remove (Entra's member removal) and is never
    // stored, so it is not held to the attribute's type: Entra also sends one
    // when it removes a single-valued `manager`.
    let value = match kind {
        OpKind::Remove => {
            schema::conform_operation(resource, path.as_ref(), None)?;
            value
        }
        _ => schema::conform_operation(resource, path.as_ref(), value)?,
    };
    Ok(Operation { kind, path, value })
}

/// Applies the operations in order to a resource document.
pub fn apply_all(
    doc: &mut Map<String, Value>,
    ops: &[Operation],
    kind: ResourceKind,
) -> Result<(), ScimError> {
    for op in ops {
        apply(doc, op, kind.core_schema())?;
    }
    Ok(())
}

fn apply(doc: &mut Map<String, Value>, op: &Operation, core_schema: &str) -> Result<(), ScimError> {
    match &op.path {
        Some(path) => apply_at(doc, op.kind, path, op.value.clone(), core_schema),
        None => {
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::InvalidValue(
                    "Without a \"path\", the value must be a JSON object of attributes.".into(),
                ));
            };
            for (key, value) in values {
                if READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(key)) {
                    continue;
                }
                if key == ENTERPRISE_SCHEMA {
                    let Value::Object(ext) = value else {
                        return Err(ScimError::InvalidValue(
                            "The enterprise extension must be a JSON object.".into(),
                        ));
                    };
                    for (sub, v) in ext {
                        let path = PatchPath::parse(&format!("{ENTERPRISE_SCHEMA}:{sub}"))?;
                        apply_at(doc, op.kind, &path, Some(v.clone()), core_schema)?;
                    }
                    continue;
                }
                // Keys may be dotted (`name.givenName`) or carry a URN.
                let path = PatchPath::parse(key)?;
                apply_at(doc, op.kind, &path, Some(value.clone()), core_schema)?;
            }
            Ok(())
        }
    }
}

fn apply_at(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    path: &PatchPath,
    value: Option<Value>,
    core_schema: &str,
) -> Result<(), ScimError> {
    let (scope, attr) = scope_of(&path.attr, core_schema)?;
    let container = match scope {
        Scope::Core => doc,
        Scope::Enterprise => {
            if !doc.contains_key(ENTERPRISE_SCHEMA) {
                if kind == OpKind::Remove {
                    return Ok(());
                }
                doc.insert(ENTERPRISE_SCHEMA.into(), Value::Object(Map::new()));
            }
            match doc.get_mut(ENTERPRISE_SCHEMA) {
                Some(Value::Object(ext)) => ext,
                _ => {
                    return Err(ScimError::InvalidValue(
                        "The enterprise extension must be a JSON object.".into(),
                    ))
                }
            }
        }
    };
    let Some(attr) = attr else {
        // The bare extension URN: the whole extension object.
        match kind {
            OpKind::Remove => container.clear(),
            _ => match value {
                Some(Value::Object(v)) => {
                    for (k, v) in v {
                        set_merged(container, k, v, kind);
                    }
                }
                _ => {
                    return Err(ScimError::InvalidValue(
                        "The enterprise extension must be a JSON object.".into(),
                    ))
                }
            },
        }
        return Ok(());
    };
    let key = canonical_name(&attr.attr);
    if READ_ONLY.contains(&key.as_str()) {
        return Err(ScimError::Mutability(format!(
            "\"{key}\" cannot be changed."
        )));
    }
    if key == "active" && kind == OpKind::Remove && path.sub_attr.is_none() {
        // An account always has a status; removing it must not silently mean anything.
        return Err(ScimError::InvalidValue(
            "\"active\" cannot be removed: replace it with false to deactivate the user.".into(),
        ));
    }
    let sub = path.sub_attr.as_deref().map(canonical_name);
    match &path.filter {
        None => match sub {
            None => apply_whole(container, key, kind, value),
            Some(sub) => apply_sub(container, key, sub, kind, value),
        },
        Some(filter) => apply_filtered(container, key, filter, sub, kind, value),
    }
}

fn apply_whole(
    container: &mut Map<String, Value>,
    key: String,
    kind: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    match kind {
        OpKind::Remove => {
            match (value, container.get_mut(&key)) {
                // Entra: remove the listed members only.
                (Some(v), Some(Value::Array(items))) => {
                    let listed: Vec<Value> = match v {
                        Value::Array(list) => list,
                        other => vec![other],
                    };
                    items.retain(|item| !listed.iter().any(|l| same_element(item, l)));
                    if items.is_empty() {
                        container.remove(&key);
                    }
                }
                _ => {
                    container.remove(&key);
                }
            }
            Ok(())
        }
        _ => {
            let value = value.unwrap_or(Value::Null);
            set_merged(container, key, value, kind);
            Ok(())
        }
    }
}

/// Sets `key` to `value`: add appends to lists (skipping elements already there)
/// and merges objects; replace swaps lists and merges objects; null removes.
fn set_merged(container: &mut Map<String, Value>, key: String, value: Value, kind: OpKind) {
    if value.is_null() {
        container.remove(&key);
        return;
    }
    let value = if is_multi_valued(&key) && !value.is_array() {
        Value::Array(vec![value])
    } else {
        value
    };
    match (container.get_mut(&key), value) {
        (Some(Value::Array(items)), Value::Array(new)) if kind == OpKind::Add => {
            for element in new {
                match items.iter_mut().find(|i| same_element(i, &element)) {
                    Some(existing) => merge_into(existing, element),
                    None => items.push(element),
                }
            }
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                if v.is_null() {
                    existing.remove(&k);
                } else {
                    existing.insert(k, v);
                }
            }
        }
        (_, value) => {
            container.insert(key, value);
        }
    }
    fix_primary(container);
}

/// Whether two list elements are the same: equal, or the same `value` of a
/// reference (a member, a group).
fn same_element(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => match (a.get("value"), b.get("value")) {
            (Some(Value::String(x)), Some(Value::String(y))) => {
                x == y
                    && (a.get("type").is_none()
                        || b.get("type").is_none()
                        || a.get("type") == b.get("type"))
            }
            _ => false,
        },
        _ => false,
    }
}

fn merge_into(existing: &mut Value, new: Value) {
    if let (Value::Object(e), Value::Object(n)) = (existing, new) {
        e.extend(n);
    }
}

/// At most one element of a list may be `primary`: the last one marked wins.
fn fix_primary(container: &mut Map<String, Value>) {
    for value in container.values_mut() {
        let Value::Array(items) = value else { continue };
        let marked: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.get("primary") == Some(&Value::Bool(true)))
            .map(|(n, _)| n)
            .collect();
        if marked.len() > 1 {
            let keep = *marked.last().unwrap_or(&0);
            for n in marked {
                if n != keep {
                    items[n]["primary"] = Value::Bool(false);
                }
            }
        }
    }
}

fn apply_sub(
    container: &mut Map<String, Value>,
    key: String,
    sub: String,
    kind: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    match container.get_mut(&key) {
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(o) = item {
                    set_or_remove(o, &sub, kind, value.clone());
                }
            }
        }
        Some(Value::Object(o)) => {
            set_or_remove(o, &sub, kind, value);
            if o.is_empty() {
                container.remove(&key);
            }
        }
        _ => {
            if kind != OpKind::Remove {
                let mut o = Map::new();
                set_or_remove(&mut o, &sub, kind, value);
                if !o.is_empty() {
                    container.insert(key, Value::Object(o));
                }
            }
        }
    }
    Ok(())
}

fn set_or_remove(o: &mut Map<String, Value>, key: &str, kind: OpKind, value: Option<Value>) {
    match (kind, value) {
        (OpKind::Remove, _) | (_, None) | (_, Some(Value::Null)) => {
            o.remove(key);
        }
        (_, Some(v)) => {
            o.insert(key.to_string(), v);
        }
    }
}

fn apply_filtered(
    container: &mut Map<String, Value>,
    key: String,
    filter: &Filter,
    sub: Option<String>,
    kind: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let items = match container.get_mut(&key) {
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ScimError::InvalidPath(format!(
                "\"{key}\" is not multi-valued, so it takes no value filter."
            )))
        }
        None => {
            container.insert(key.clone(), Value::Array(Vec::new()));
            match container.get_mut(&key) {
                Some(Value::Array(items)) => items,
                _ => unreachable!("just inserted a list"),
            }
        }
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.as_object().is_some_and(|o| matches_element(filter, o)))
        .map(|(n, _)| n)
        .collect();
    match kind {
        OpKind::Remove => match &sub {
            None => {
                let mut n = 0;
                items.retain(|_| {
                    let keep = !hits.contains(&n);
                    n += 1;
                    keep
                });
            }
            Some(sub) => {
                for &n in &hits {
                    if let Value::Object(o) = &mut items[n] {
                        o.remove(sub);
                    }
                }
            }
        },
        OpKind::Add | OpKind::Replace => {
            let value = value.unwrap_or(Value::Null);
            if hits.is_empty() {
                // Entra adds `emails[type eq "work"].value` when there is no work email
                // yet: create the element the filter describes.
                let Some(mut element) = element_from_filter(filter) else {
                    return Err(ScimError::NoTarget(format!(
                        "No element of \"{key}\" matches the filter \"{filter}\"."
                    )));
                };
                match (&sub, value) {
                    (Some(sub), v) => {
                        element.insert(sub.clone(), v);
                    }
                    (None, Value::Object(v)) => element.extend(v),
                    (None, _) => {
                        return Err(ScimError::InvalidValue(format!(
                            "An element of \"{key}\" must be a JSON object."
                        )))
                    }
                }
                items.push(Value::Object(element));
            } else {
                for &n in &hits {
                    match (&sub, &mut items[n]) {
                        (Some(sub), Value::Object(o)) => {
                            set_or_remove(o, sub, kind, Some(value.clone()));
                        }
                        (None, item) => match (kind, value.clone()) {
                            (OpKind::Add, Value::Object(v)) => merge_into(item, Value::Object(v)),
                            (_, v) => *item = v,
                        },
                        _ => {}
                    }
                }
            }
        }
    }
    if items.is_empty() {
        container.remove(&key);
    }
    fix_primary(container);
    Ok(())
}

/// The element a filter of `eq` comparisons joined by `and` describes.
fn element_from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    fn walk(filter: &Filter, out: &mut Map<String, Value>) -> bool {
        match filter {
            Filter::And(l, r) => walk(l, out) && walk(r, out),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.sub_attr.is_none() && path.urn.is_none() => {
                let v = match value {
                    FilterValue::String(s) => Value::String(s.clone()),
                    FilterValue::Bool(b) => Value::Bool(*b),
                    FilterValue::Number(n) => match serde_json::from_str(n.as_str()) {
                        Ok(v) => v,
                        Err(_) => return false,
                    },
                    FilterValue::Null => return false,
                };
                out.insert(canonical_name(&path.attr), v);
                true
            }
            _ => false,
        }
    }
    walk(filter, &mut out).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_on(kind: ResourceKind, doc: Value, ops: Value) -> Result<Value, ScimError> {
        let mut doc = doc.as_object().unwrap().clone();
        let ops = parse_request(
            &json!({ "schemas": [PATCH_SCHEMA], "Operations": ops }),
            kind,
        )?;
        apply_all(&mut doc, &ops, kind)?;
        Ok(Value::Object(doc))
    }

    fn run(doc: Value, ops: Value) -> Result<Value, ScimError> {
        run_on(ResourceKind::User, doc, ops)
    }

    #[test]
    fn pathless_values_with_dotted_and_urn_keys() {
        let out = run(
            json!({"userName": "a", "active": true, "name": {"givenName": "A", "familyName": "B"}}),
            json!([{"op": "Replace", "value": {
                "active": "False",
                "name.givenName": "Ann",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "42"}
            }}]),
        )
        .unwrap();
        assert_eq!(out["active"], false);
        assert_eq!(out["name"], json!({"givenName": "Ann", "familyName": "B"}));
        assert_eq!(
            out[ENTERPRISE_SCHEMA],
            json!({"department": "Ops", "costCenter": "42"})
        );
    }

    #[test]
    fn value_filter_paths_update_or_create_the_element() {
        let doc = json!({"emails": [{"value": "a@x.test", "type": "work", "primary": true}]});
        let out = run(
            doc.clone(),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.test"}]),
        )
        .unwrap();
        assert_eq!(
            out["emails"],
            json!([{"value": "b@x.test", "type": "work", "primary": true}])
        );
        let out = run(
            doc.clone(),
            json!([{"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@x.test"}]),
        )
        .unwrap();
        assert_eq!(
            out["emails"][1],
            json!({"type": "home", "value": "h@x.test"})
        );
        let out = run(
            doc,
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        )
        .unwrap();
        assert!(out.get("emails").is_none());
    }

    #[test]
    fn member_removal_by_value_removes_only_that_member_and_readding_is_harmless() {
        let doc = json!({"members": [{"value": "1"}, {"value": "2"}]});
        let run = |doc, ops| run_on(ResourceKind::Group, doc, ops);
        let out = run(
            doc.clone(),
            json!([{"op": "Remove", "path": "members", "value": [{"value": "1"}]}]),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "2"}]));
        let out = run(
            doc,
            json!([{"op": "Add", "path": "members", "value": [{"value": "2"}, {"value": "3"}]}]),
        )
        .unwrap();
        assert_eq!(
            out["members"],
            json!([{"value": "1"}, {"value": "2"}, {"value": "3"}])
        );
    }

    #[test]
    fn bad_operations_are_scim_errors() {
        let doc = json!({});
        let e = run(
            doc.clone(),
            json!([{"op": "move", "path": "x", "value": 1}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidSyntax"));
        let e = run(doc.clone(), json!([{"op": "remove"}])).unwrap_err();
        assert_eq!(e.scim_type(), Some("noTarget"));
        let e = run(
            doc.clone(),
            json!([{"op": "add", "path": "emails[type eq]", "value": 1}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidFilter"));
        let e = run(doc, json!([{"op": "replace", "path": "id", "value": "x"}])).unwrap_err();
        assert_eq!(e.scim_type(), Some("mutability"));
    }
}
