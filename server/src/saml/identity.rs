//! Who signed in: the email and names read from a verified assertion through
//! the connection's attribute mapping.

use super::response::VerifiedAssertion;
use shared::sso_event::ReceivedAttribute;
use shared::{AttributeMapping, Diagnosis, DiagnosisCode};

/// The person an assertion names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// Everything received, for the event log and Test Connection.
pub fn received_attributes(assertion: &VerifiedAssertion) -> Vec<ReceivedAttribute> {
    assertion
        .attributes
        .iter()
        .map(|a| ReceivedAttribute {
            name: a.name.clone(),
            values: a.values.clone(),
        })
        .collect()
}

pub fn map_identity(
    assertion: &VerifiedAssertion,
    mapping: &AttributeMapping,
) -> Result<Identity, Diagnosis> {
    let email = if mapping.email_from_name_id() {
        Some(assertion.name_id.as_str()).filter(|v| !v.is_empty())
    } else {
        assertion
            .attribute(&mapping.email)
            // SPEC §5: the NameID stands in when it is an email address.
            .or_else(|| Some(assertion.name_id.as_str()).filter(|v| is_email(v)))
    };
    let Some(email) = email.filter(|v| is_email(v)) else {
        return Err(missing_email(assertion, mapping, email));
    };
    let (mut first_name, mut last_name) = (
        assertion
            .attribute(&mapping.first_name)
            .unwrap_or_default()
            .to_string(),
        assertion
            .attribute(&mapping.last_name)
            .unwrap_or_default()
            .to_string(),
    );
    if first_name.is_empty() && last_name.is_empty() && !mapping.full_name.is_empty() {
        if let Some(full) = assertion.attribute(&mapping.full_name) {
            let (first, last) = full.split_once(' ').unwrap_or((full, ""));
            first_name = first.trim().to_string();
            last_name = last.trim().to_string();
        }
    }
    Ok(Identity {
        email: email.trim().to_string(),
        first_name: clip(&first_name),
        last_name: clip(&last_name),
    })
}

fn is_email(value: &str) -> bool {
    shared::validate::email("email", value).is_ok()
}

fn clip(name: &str) -> String {
    name.chars().take(100).collect()
}

fn missing_email(
    assertion: &VerifiedAssertion,
    mapping: &AttributeMapping,
    found: Option<&str>,
) -> Diagnosis {
    let names: Vec<&str> = assertion
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    let received = format!(
        "Attributes: {}; NameID: {}",
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        },
        if assertion.name_id.is_empty() {
            "(none)"
        } else {
            &assertion.name_id
        }
    );
    let expected = if mapping.email_from_name_id() {
        "An email address in the NameID".to_string()
    } else {
        format!(
            "An attribute named \"{}\" holding an email address",
            mapping.email
        )
    };
    let mut diagnosis = Diagnosis::new(DiagnosisCode::EmailAttributeMissing)
        .with_expected(expected)
        .with_received(received);
    if let Some(value) = found {
        diagnosis = diagnosis.with_detail(format!("\"{value}\" is not an email address."));
    }
    diagnosis
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::response::SamlAttribute;

    fn assertion(name_id: &str, attributes: &[(&str, &str)]) -> VerifiedAssertion {
        VerifiedAssertion {
            assertion_id: "_a".into(),
            name_id: name_id.into(),
            name_id_format: None,
            session_index: None,
            attributes: attributes
                .iter()
                .map(|(n, v)| SamlAttribute {
                    name: n.to_string(),
                    values: vec![v.to_string()],
                })
                .collect(),
            in_response_to: None,
            remember_until: chrono::Utc::now(),
        }
    }

    #[test]
    fn maps_okta_attributes() {
        let mapping = AttributeMapping::new("email", "firstName", "lastName");
        let a = assertion(
            "00u1",
            &[
                ("email", "ada@initech.test"),
                ("firstName", "Ada"),
                ("lastName", "Lovelace"),
            ],
        );
        let identity = map_identity(&a, &mapping).unwrap();
        assert_eq!(identity.email, "ada@initech.test");
        assert_eq!(
            (identity.first_name.as_str(), identity.last_name.as_str()),
            ("Ada", "Lovelace")
        );
    }

    #[test]
    fn names_are_case_sensitive_and_nameid_stands_in_only_when_an_email() {
        let mapping = AttributeMapping::new("email", "firstName", "lastName");
        let a = assertion("ada@initech.test", &[("Email", "x@initech.test")]);
        assert_eq!(
            map_identity(&a, &mapping).unwrap().email,
            "ada@initech.test"
        );
        let b = assertion("00u1opaque", &[("Email", "x@initech.test")]);
        let error = map_identity(&b, &mapping).unwrap_err();
        assert_eq!(error.code, DiagnosisCode::EmailAttributeMissing);
        assert!(error.received.unwrap().contains("Email"));
        assert!(error.expected.unwrap().contains("\"email\""));
    }

    #[test]
    fn full_name_stands_in_for_first_and_last() {
        let mut mapping = AttributeMapping::new("email", "given", "family");
        mapping.full_name = "name".into();
        let a = assertion(
            "",
            &[("email", "ada@initech.test"), ("name", "Ada King Lovelace")],
        );
        let identity = map_identity(&a, &mapping).unwrap();
        assert_eq!(
            (identity.first_name.as_str(), identity.last_name.as_str()),
            ("Ada", "King Lovelace")
        );
    }

    #[test]
    fn a_mapped_value_that_is_not_an_email_is_refused() {
        let mapping = AttributeMapping::new("email", "firstName", "lastName");
        let a = assertion("00u1", &[("email", "not an email")]);
        let error = map_identity(&a, &mapping).unwrap_err();
        assert_eq!(error.code, DiagnosisCode::EmailAttributeMissing);
        assert!(error.detail.unwrap().contains("not an email"));
    }
}
