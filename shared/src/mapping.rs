//! Attribute mapping: which SAML attribute (or OIDC claim) carries the email
//! address and the name of the person signing in.
//!
//! Attribute names are matched exactly, case and all, so nothing here trims or
//! changes what an admin typed; the checks point out stray spaces instead.

use crate::catalogue::IdentityProvider;
use crate::validate::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};

/// Use the assertion's `NameID` as the email address (when the IdP sends the
/// email there). Accepted only as the `email` source.
pub const NAME_ID: &str = "NameID";
/// Longest attribute name accepted; Entra's claim URIs are about 70 characters.
pub const ATTRIBUTE_NAME_MAX_LEN: usize = 256;

/// Form field names, shared by the form, the server and [`validate_mapping`].
pub const EMAIL_FIELD: &str = "email";
pub const FIRST_NAME_FIELD: &str = "first_name";
pub const LAST_NAME_FIELD: &str = "last_name";
pub const FULL_NAME_FIELD: &str = "full_name";

/// The attribute names a connection reads. An empty `full_name` means it is
/// not used; a non-empty one may stand in for first and last name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttributeMapping {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub full_name: String,
}

impl AttributeMapping {
    /// A mapping with email, first and last name and no full name.
    pub fn new(email: &str, first_name: &str, last_name: &str) -> Self {
        Self {
            email: email.to_string(),
            first_name: first_name.to_string(),
            last_name: last_name.to_string(),
            full_name: String::new(),
        }
    }

    /// The standard OpenID Connect claims every OIDC connection reads.
    pub fn oidc_standard() -> Self {
        Self {
            email: "email".into(),
            first_name: "given_name".into(),
            last_name: "family_name".into(),
            full_name: "name".into(),
        }
    }

    /// Whether the email comes from the subject's NameID.
    pub fn email_from_name_id(&self) -> bool {
        self.email == NAME_ID
    }

    /// Whether the mapping passes [`validate_mapping`].
    pub fn is_complete(&self) -> bool {
        validate_mapping(self).is_empty()
    }
}

/// The mapping after the admin picks another identity provider: every field
/// still holding the old provider's default (or blank) takes the new
/// provider's default; every value the admin typed is kept exactly.
pub fn switch_provider(
    current: &AttributeMapping,
    old: IdentityProvider,
    new: IdentityProvider,
) -> AttributeMapping {
    let old_default = old.default_mapping();
    let new_default = new.default_mapping();
    let pick = |value: &str, old_value: &str, new_value: &str| -> String {
        if value.trim().is_empty() || value == old_value {
            new_value.to_string()
        } else {
            value.to_string()
        }
    };
    AttributeMapping {
        email: pick(&current.email, &old_default.email, &new_default.email),
        first_name: pick(
            &current.first_name,
            &old_default.first_name,
            &new_default.first_name,
        ),
        last_name: pick(
            &current.last_name,
            &old_default.last_name,
            &new_default.last_name,
        ),
        full_name: pick(
            &current.full_name,
            &old_default.full_name,
            &new_default.full_name,
        ),
    }
}

/// One attribute name. `required_message` is shown when the value is blank
/// and the field is needed; `None` means a blank value is fine.
fn attribute_name(
    field: &str,
    value: &str,
    required_message: Option<&str>,
) -> Result<(), FieldError> {
    if value.is_empty() {
        return match required_message {
            Some(message) => Err(FieldError::new(field, "required", message)),
            None => Ok(()),
        };
    }
    if value.chars().count() > ATTRIBUTE_NAME_MAX_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!(
                "An attribute name has at most {ATTRIBUTE_NAME_MAX_LEN} characters. \
                 Copy just the attribute name from your identity provider."
            ),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Remove the line breaks, tabs and other control characters from the attribute name.",
        ));
    }
    if value.trim().is_empty() {
        return match required_message {
            Some(message) => Err(FieldError::new(field, "required", message)),
            None => Err(FieldError::new(
                field,
                "surrounding_whitespace",
                "This field holds only spaces. Clear it, or enter the attribute name \
                 exactly as your identity provider sends it.",
            )),
        };
    }
    if value.trim() != value {
        return Err(FieldError::new(
            field,
            "surrounding_whitespace",
            "Remove the spaces before or after the attribute name. Attribute names \
             are matched exactly, so a stray space stops the attribute from being found.",
        ));
    }
    Ok(())
}

/// Checks a mapping: email is required; first and last name are required
/// unless a full name is mapped; every name is at most 256 characters, has
/// no control characters and no spaces around it.
pub fn validate_mapping(mapping: &AttributeMapping) -> FieldErrors {
    let has_full_name = !mapping.full_name.trim().is_empty();
    let mut errors = FieldErrors::default();
    errors.check(attribute_name(
        EMAIL_FIELD,
        &mapping.email,
        Some(
            "Enter the name of the attribute that carries the user's email address, \
             or NameID to use the subject's NameID.",
        ),
    ));
    errors.check(attribute_name(
        FIRST_NAME_FIELD,
        &mapping.first_name,
        (!has_full_name).then_some(
            "Enter the name of the attribute that carries the user's first name, \
             or map a full name instead.",
        ),
    ));
    errors.check(attribute_name(
        LAST_NAME_FIELD,
        &mapping.last_name,
        (!has_full_name).then_some(
            "Enter the name of the attribute that carries the user's last name, \
             or map a full name instead.",
        ),
    ));
    errors.check(attribute_name(FULL_NAME_FIELD, &mapping.full_name, None));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{ENTRA_EMAIL_CLAIM, ENTRA_GIVEN_NAME_CLAIM, ENTRA_SURNAME_CLAIM};
    use IdentityProvider as P;

    fn m(email: &str, first: &str, last: &str, full: &str) -> AttributeMapping {
        AttributeMapping {
            email: email.into(),
            first_name: first.into(),
            last_name: last.into(),
            full_name: full.into(),
        }
    }

    fn codes(mapping: &AttributeMapping) -> Vec<(String, String)> {
        validate_mapping(mapping)
            .0
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn switch_provider_replaces_defaults_and_keeps_edits() {
        let okta = P::Okta.default_mapping();
        let entra = P::MicrosoftEntraId.default_mapping();
        let onelogin = P::OneLogin.default_mapping();
        let jumpcloud = P::JumpCloud.default_mapping();
        let cases: Vec<(AttributeMapping, P, P, AttributeMapping)> = vec![
            // untouched defaults follow the provider
            (okta.clone(), P::Okta, P::MicrosoftEntraId, entra.clone()),
            (
                entra.clone(),
                P::MicrosoftEntraId,
                P::OneLogin,
                onelogin.clone(),
            ),
            (
                onelogin.clone(),
                P::OneLogin,
                P::JumpCloud,
                jumpcloud.clone(),
            ),
            (jumpcloud.clone(), P::JumpCloud, P::Okta, okta.clone()),
            (okta.clone(), P::Okta, P::Keycloak, okta.clone()),
            (okta.clone(), P::Okta, P::Okta, okta.clone()),
            // blank fields take the new default
            (
                m("", "", "", ""),
                P::Okta,
                P::MicrosoftEntraId,
                entra.clone(),
            ),
            (
                m("  ", "\t", "", ""),
                P::Okta,
                P::OneLogin,
                onelogin.clone(),
            ),
            // an edited email is kept, the untouched names follow
            (
                m("mail", "firstName", "lastName", ""),
                P::Okta,
                P::MicrosoftEntraId,
                m("mail", ENTRA_GIVEN_NAME_CLAIM, ENTRA_SURNAME_CLAIM, ""),
            ),
            // NameID is an edit too
            (
                m(NAME_ID, "User.FirstName", "User.LastName", ""),
                P::OneLogin,
                P::Okta,
                m(NAME_ID, "firstName", "lastName", ""),
            ),
            // case differs from the old default: an edit, kept exactly
            (
                m("Email", "firstname", "LastName", ""),
                P::Okta,
                P::JumpCloud,
                m("Email", "firstname", "LastName", ""),
            ),
            // surrounding spaces are not trimmed away
            (
                m(" email", "firstName ", "lastName", ""),
                P::Okta,
                P::OneLogin,
                m(" email", "firstName ", "User.LastName", ""),
            ),
            // a full name mapping is kept
            (
                m("email", "", "", "displayName"),
                P::Okta,
                P::MicrosoftEntraId,
                m(
                    ENTRA_EMAIL_CLAIM,
                    ENTRA_GIVEN_NAME_CLAIM,
                    ENTRA_SURNAME_CLAIM,
                    "displayName",
                ),
            ),
            // a value equal to another provider's default is still an edit
            (
                m("User.email", "firstName", "lastName", ""),
                P::Okta,
                P::JumpCloud,
                m("User.email", "firstname", "lastname", ""),
            ),
        ];
        for (current, old, new, expected) in cases {
            assert_eq!(
                switch_provider(&current, old, new),
                expected,
                "{current:?} {old:?} -> {new:?}"
            );
        }
    }

    #[test]
    fn switching_between_every_pair_of_providers_from_defaults_gives_the_new_default() {
        for &old in P::ALL {
            for &new in P::ALL {
                assert_eq!(
                    switch_provider(&old.default_mapping(), old, new),
                    new.default_mapping(),
                    "{old:?} -> {new:?}"
                );
            }
        }
    }

    #[test]
    fn validate_mapping_rules() {
        let long = "a".repeat(ATTRIBUTE_NAME_MAX_LEN + 1);
        let longest = "a".repeat(ATTRIBUTE_NAME_MAX_LEN);
        let cases: Vec<(AttributeMapping, Vec<(&str, &str)>)> = vec![
            (m("email", "firstName", "lastName", ""), vec![]),
            (m(NAME_ID, "firstName", "lastName", ""), vec![]),
            (m("email", "", "", "displayName"), vec![]),
            (m("email", "givenName", "", "displayName"), vec![]),
            (m("email", "firstName", "lastName", "displayName"), vec![]),
            (m(&longest, "f", "l", ""), vec![]),
            (m("e-mail address", "f", "l", ""), vec![]),
            (
                m("", "firstName", "lastName", ""),
                vec![("email", "required")],
            ),
            (
                m("   ", "firstName", "lastName", ""),
                vec![("email", "required")],
            ),
            (
                m("email", "", "lastName", ""),
                vec![("first_name", "required")],
            ),
            (
                m("email", "firstName", "", ""),
                vec![("last_name", "required")],
            ),
            (
                m("", "", "", ""),
                vec![
                    ("email", "required"),
                    ("first_name", "required"),
                    ("last_name", "required"),
                ],
            ),
            (
                m("email", "", "", "  "),
                vec![
                    ("first_name", "required"),
                    ("last_name", "required"),
                    ("full_name", "surrounding_whitespace"),
                ],
            ),
            (m(&long, "f", "l", ""), vec![("email", "too_long")]),
            (m("email", "f", "l", &long), vec![("full_name", "too_long")]),
            (
                m("em\u{0}ail", "f", "l", ""),
                vec![("email", "invalid_characters")],
            ),
            (
                m("email\n", "f", "l", ""),
                vec![("email", "invalid_characters")],
            ),
            (
                m("email", "first\tname", "l", ""),
                vec![("first_name", "invalid_characters")],
            ),
            (
                m(" email", "f", "l", ""),
                vec![("email", "surrounding_whitespace")],
            ),
            (
                m("email", "firstName ", "l", ""),
                vec![("first_name", "surrounding_whitespace")],
            ),
            (
                m("email", "f", "\u{a0}lastName", ""),
                vec![("last_name", "surrounding_whitespace")],
            ),
            (
                m("email", "", "", " name"),
                vec![("full_name", "surrounding_whitespace")],
            ),
            (
                m("email", " ", "l", "name"),
                vec![("first_name", "surrounding_whitespace")],
            ),
        ];
        for (mapping, expected) in cases {
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(f, c)| (f.to_string(), c.to_string()))
                .collect();
            assert_eq!(codes(&mapping), expected, "{mapping:?}");
            assert_eq!(mapping.is_complete(), expected.is_empty(), "{mapping:?}");
        }
    }

    #[test]
    fn messages_tell_the_admin_what_to_enter() {
        let errors = validate_mapping(&m("", "", " lastName", ""));
        assert!(errors.for_field("email").unwrap().contains("NameID"));
        assert!(errors
            .for_field("first_name")
            .unwrap()
            .contains("full name"));
        assert!(errors
            .for_field("last_name")
            .unwrap()
            .contains("matched exactly"));
        for e in &errors.0 {
            assert!(e.message.ends_with('.'), "{}", e.message);
        }
    }

    #[test]
    fn helpers() {
        assert!(m(NAME_ID, "f", "l", "").email_from_name_id());
        assert!(!m("nameid", "f", "l", "").email_from_name_id());
        let oidc = AttributeMapping::oidc_standard();
        assert_eq!(
            (
                oidc.email.as_str(),
                oidc.first_name.as_str(),
                oidc.last_name.as_str(),
                oidc.full_name.as_str()
            ),
            ("email", "given_name", "family_name", "name")
        );
        assert!(oidc.is_complete());
        assert_eq!(AttributeMapping::new("a", "b", "c"), m("a", "b", "c", ""));
    }
}
