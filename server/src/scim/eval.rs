//! Evaluating a parsed filter against a resource document, for the filters (and
//! PATCH value filters) that storage cannot answer with an index.

use super::filter::{AttrPath, CompareOp, Filter, Value as FilterValue};
use super::resource::{canonical_name, get_ci, scope_of, Scope, ENTERPRISE_SCHEMA};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Attributes compared with case (RFC 7643: `caseExact`); all others ignore case.
const CASE_EXACT: &[&str] = &["id", "externalId", "$ref", "value"];

/// Whether `doc` (a whole resource) matches `filter`.
pub fn matches(filter: &Filter, doc: &Map<String, Value>, core_schema: &str) -> bool {
    match filter {
        Filter::And(l, r) => matches(l, doc, core_schema) && matches(r, doc, core_schema),
        Filter::Or(l, r) => matches(l, doc, core_schema) || matches(r, doc, core_schema),
        Filter::Not(inner) => !matches(inner, doc, core_schema),
        Filter::Present(path) => values_at(doc, path, core_schema)
            .iter()
            .any(|v| is_present(v)),
        Filter::Compare { path, op, value } => {
            let exact = case_exact(path);
            values_at(doc, path, core_schema)
                .iter()
                .any(|v| compare(v, *op, value, exact))
        }
        Filter::ValuePath { path, filter } => {
            let Ok((scope, Some(path))) = scope_of(path, core_schema) else {
                return false;
            };
            let Some(container) = container(doc, scope) else {
                return false;
            };
            match get_ci(container, &path.attr) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_object)
                    .any(|item| matches_element(filter, item)),
                Some(Value::Object(item)) => matches_element(filter, item),
                _ => false,
            }
        }
    }
}

/// Evaluates a value filter on one element of a multi-valued attribute; paths are
/// relative to the element (`type eq "work"`).
pub fn matches_element(filter: &Filter, element: &Map<String, Value>) -> bool {
    match filter {
        Filter::And(l, r) => matches_element(l, element) && matches_element(r, element),
        Filter::Or(l, r) => matches_element(l, element) || matches_element(r, element),
        Filter::Not(inner) => !matches_element(inner, element),
        Filter::Present(path) => get_ci(element, &path.attr).is_some_and(is_present),
        Filter::Compare { path, op, value } => {
            // Sub-attributes (`type`, `value`, `display`) compare without case.
            let exact = false;
            match get_ci(element, &path.attr) {
                Some(Value::Array(items)) => items.iter().any(|v| compare(v, *op, value, exact)),
                Some(v) => compare(v, *op, value, exact),
                None => compare(&Value::Null, *op, value, exact),
            }
        }
        Filter::ValuePath { .. } => false,
    }
}

fn container(doc: &Map<String, Value>, scope: Scope) -> Option<&Map<String, Value>> {
    match scope {
        Scope::Core => Some(doc),
        Scope::Enterprise => doc.get(ENTERPRISE_SCHEMA).and_then(Value::as_object),
    }
}

fn case_exact(path: &AttrPath) -> bool {
    match &path.sub_attr {
        // `members.value` and `manager.value` are ids.
        Some(sub) => sub.eq_ignore_ascii_case("value") && is_reference_attr(&path.attr),
        None => CASE_EXACT
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&path.attr)),
    }
}

fn is_reference_attr(attr: &str) -> bool {
    ["members", "groups", "manager"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(attr))
}

/// Every value at `path`, flattening multi-valued attributes.
fn values_at<'a>(
    doc: &'a Map<String, Value>,
    path: &AttrPath,
    core_schema: &str,
) -> Vec<&'a Value> {
    let Ok((scope, Some(path))) = scope_of(path, core_schema) else {
        return Vec::new();
    };
    let Some(container) = container(doc, scope) else {
        return Vec::new();
    };
    let Some(value) = get_ci(container, &canonical_name(&path.attr)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for item in items {
        match &path.sub_attr {
            None => out.push(item),
            Some(sub) => {
                if let Some(v) = item.as_object().and_then(|o| get_ci(o, sub)) {
                    out.push(v);
                }
            }
        }
    }
    out
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &FilterValue, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), FilterValue::String(e)) => compare_strings(a, e, op, case_exact),
        (Value::Bool(a), FilterValue::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        (Value::Number(a), FilterValue::Number(e)) => {
            let (Some(a), Some(e)) = (a.as_f64(), e.as_f64()) else {
                return false;
            };
            ordered(a.partial_cmp(&e), op)
        }
        (Value::Null, FilterValue::Null) => op == CompareOp::Eq,
        (Value::Null, _) => op == CompareOp::Ne,
        (_, FilterValue::Null) => op == CompareOp::Ne,
        _ => op == CompareOp::Ne,
    }
}

fn compare_strings(actual: &str, expected: &str, op: CompareOp, case_exact: bool) -> bool {
    if let (Some(a), Some(e)) = (parse_time(actual), parse_time(expected)) {
        if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
            return ordered(Some(a.cmp(&e)), op);
        }
    }
    let (a, e) = if case_exact {
        (actual.to_string(), expected.to_string())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        _ => ordered(Some(a.cmp(&e)), op),
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if s.len() < 20 || !s.as_bytes()[4].eq(&b'-') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn ordered(ordering: Option<Ordering>, op: CompareOp) -> bool {
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::USER_SCHEMA;
    use serde_json::json;

    fn doc() -> Map<String, Value> {
        json!({
            "id": "abc",
            "userName": "Alice@Example.test",
            "active": true,
            "emails": [{"value": "alice@work.test", "type": "work"}, {"value": "a@home.test", "type": "home"}],
            "meta": {"lastModified": "2026-11-23T10:00:00Z"},
            ENTERPRISE_SCHEMA: {"department": "Sales"}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn evaluates_the_spec_filters() {
        let cases = [
            (r#"userName eq "alice@example.test""#, true),
            (r#"userName ne "alice@example.test""#, false),
            (r#"userName sw "ALICE""#, true),
            (r#"userName ew ".test""#, true),
            (r#"userName co "example""#, true),
            ("userName pr", true),
            ("displayName pr", false),
            ("active eq true", true),
            ("active eq false", false),
            (r#"id eq "ABC""#, false),
            (r#"emails.value eq "a@home.test""#, true),
            (r#"emails[type eq "work"].value eq "alice@work.test""#, true),
            (r#"emails[type eq "work" and value co "home"]"#, false),
            (r#"meta.lastModified gt "2026-11-23T09:00:00Z""#, true),
            (r#"meta.lastModified lt "2026-11-23T09:00:00+00:00""#, false),
            (r#"not (active eq true) or userName eq "x""#, false),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#,
                true,
            ),
        ];
        for (input, expected) in cases {
            let filter = Filter::parse(input).unwrap();
            assert_eq!(matches(&filter, &doc(), USER_SCHEMA), expected, "{input}");
        }
    }
}
