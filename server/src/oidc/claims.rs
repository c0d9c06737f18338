//! Who signed in: the email and names read from verified claims through the
//! connection's mapping (standard claims unless the admin chose others).

use crate::sso::accounts::SsoPerson;
use serde_json::{Map, Value};
use shared::sso_event::ReceivedAttribute;
use shared::{AttributeMapping, Diagnosis, DiagnosisCode};

/// Every claim, for the event log and Test Connection.
pub fn received_claims(claims: &Map<String, Value>) -> Vec<ReceivedAttribute> {
    claims
        .iter()
        .map(|(name, value)| ReceivedAttribute {
            name: name.clone(),
            values: match value {
                Value::Array(items) => items.iter().map(text).collect(),
                other => vec![text(other)],
            },
        })
        .collect()
}

/// The person the claims name, or why they do not name one.
pub fn map_person(
    claims: &Map<String, Value>,
    mapping: &AttributeMapping,
) -> Result<SsoPerson, Diagnosis> {
    let mapping = effective(mapping);
    let email = claim(claims, &mapping.email).filter(|v| is_email(v));
    let Some(email) = email else {
        return Err(missing_email(claims, &mapping));
    };
    // Absent means "not said": many providers (Entra ID among them) never send it.
    if claims.get("email_verified").is_some_and(is_false) {
        return Err(Diagnosis::new(DiagnosisCode::EmailNotVerified)
            .with_expected("email_verified true, or no email_verified claim")
            .with_received(format!("email_verified false for {email}")));
    }
    let mut first_name = claim(claims, &mapping.first_name).unwrap_or_default();
    let mut last_name = claim(claims, &mapping.last_name).unwrap_or_default();
    if first_name.is_empty() && last_name.is_empty() {
        if let Some(full) = claim(claims, &mapping.full_name) {
            let (first, last) = full.split_once(' ').unwrap_or((&full, ""));
            (first_name, last_name) = (first.trim().to_string(), last.trim().to_string());
        }
    }
    Ok(SsoPerson {
        email: email.trim().to_string(),
        first_name: clip(&first_name),
        last_name: clip(&last_name),
    })
}

/// An OIDC connection reads the standard claims wherever the admin left a field
/// blank (or kept a SAML-only value such as NameID).
fn effective(mapping: &AttributeMapping) -> AttributeMapping {
    let standard = AttributeMapping::oidc_standard();
    let pick = |value: &str, default: String| {
        if value.trim().is_empty() || value == shared::mapping::NAME_ID {
            default
        } else {
            value.to_string()
        }
    };
    AttributeMapping {
        email: pick(&mapping.email, standard.email),
        first_name: pick(&mapping.first_name, standard.first_name),
        last_name: pick(&mapping.last_name, standard.last_name),
        full_name: pick(&mapping.full_name, standard.full_name),
    }
}

fn claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn is_false(value: &Value) -> bool {
    // Some providers send booleans as strings.
    matches!(value, Value::Bool(false)) || value.as_str() == Some("false")
}

fn is_email(value: &str) -> bool {
    shared::validate::email("email", value).is_ok()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Names go into the accounts table: no control characters (PostgreSQL text
/// cannot hold NUL), at most 100 characters.
fn clip(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(100).collect()
}

fn missing_email(claims: &Map<String, Value>, mapping: &AttributeMapping) -> Diagnosis {
    let names: Vec<&str> = claims.keys().map(String::as_str).collect();
    let mut diagnosis = Diagnosis::new(DiagnosisCode::EmailClaimMissing)
        .with_expected(format!(
            "A claim named \"{}\" holding an email address, in the ID token or from UserInfo",
            mapping.email
        ))
        .with_received(format!("Claims: {}", names.join(", ")));
    if let Some(value) = claim(claims, &mapping.email) {
        diagnosis = diagnosis.with_detail(format!("\"{value}\" is not an email address."));
    }
    diagnosis
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn reads_standard_claims_and_splits_a_full_name() {
        let person = map_person(
            &claims(json!({"sub": "1", "email": "ada@x.test", "name": "Ada King Lovelace"})),
            &AttributeMapping::default(),
        )
        .unwrap();
        assert_eq!(person.email, "ada@x.test");
        assert_eq!(
            (person.first_name.as_str(), person.last_name.as_str()),
            ("Ada", "King Lovelace")
        );
    }

    #[test]
    fn refuses_missing_or_unverified_email() {
        let missing = map_person(
            &claims(json!({"sub": "1", "name": "A"})),
            &AttributeMapping::default(),
        )
        .unwrap_err();
        assert_eq!(missing.code, DiagnosisCode::EmailClaimMissing);
        let received = missing.received.unwrap_or_default();
        assert!(
            received.contains("name") && received.contains("sub"),
            "{received}"
        );
        let unverified = map_person(
            &claims(json!({"email": "a@x.test", "email_verified": false})),
            &AttributeMapping::default(),
        )
        .unwrap_err();
        assert_eq!(unverified.code, DiagnosisCode::EmailNotVerified);
        assert!(map_person(
            &claims(json!({"email": "a@x.test", "email_verified": true})),
            &AttributeMapping::default()
        )
        .is_ok());
    }

    #[test]
    fn names_lose_control_characters() {
        let person = map_person(
            &claims(
                json!({"email": "a@x.test", "given_name": "A\u{0}da", "family_name": "L\nove"}),
            ),
            &AttributeMapping::default(),
        )
        .unwrap();
        assert_eq!(
            (person.first_name.as_str(), person.last_name.as_str()),
            ("Ada", "Love")
        );
    }

    #[test]
    fn honours_a_custom_email_claim() {
        let mapping = AttributeMapping::new("upn", "given_name", "family_name");
        let person = map_person(&claims(json!({"upn": "u@x.test"})), &mapping).unwrap();
        assert_eq!(person.email, "u@x.test");
    }
}
