//! Field validation shared by the forms in the browser and the server, which
//! re-checks every value. Each failure names its field, a stable code and a
//! sentence that tells a person what to change.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest email address SMTP allows (RFC 5321 path limit).
pub const EMAIL_MAX_LEN: usize = 254;
/// Long enough for any passphrase; short enough that hashing it costs nothing extra.
pub const PASSWORD_MAX_LEN: usize = 1024;
/// Passwords set by an operator must be at least this long.
pub const PASSWORD_MIN_LEN: usize = 12;
pub const SLUG_MAX_LEN: usize = 63;
pub const NAME_MAX_LEN: usize = 120;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The form field's name, e.g. `email`.
    pub field: String,
    /// Stable machine code, e.g. `required`.
    pub code: String,
    /// What is wrong, in words an admin understands.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in one form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message for a field, for showing next to it.
    pub fn for_field(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Records the outcome of one field check.
    pub fn check(&mut self, result: Result<(), FieldError>) {
        if let Err(e) = result {
            self.0.push(e);
        }
    }

    /// `Ok` when no check failed.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

/// Lower-cases and trims an email so that lookups and uniqueness ignore case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An address with one `@`, a local part, and a domain with a dot.
pub fn email(field: &str, value: &str) -> Result<(), FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Enter an email address.",
        ));
    }
    if value.len() > EMAIL_MAX_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("An email address has at most {EMAIL_MAX_LEN} characters."),
        ));
    }
    let well_formed = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if well_formed {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "invalid_email",
            "Enter an email address like name@company.com.",
        ))
    }
}

/// A password typed at sign-in: present and of a length we are willing to hash.
pub fn sign_in_password(field: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "required", "Enter your password."));
    }
    if value.len() > PASSWORD_MAX_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("A password has at most {PASSWORD_MAX_LEN} characters."),
        ));
    }
    Ok(())
}

/// A password being set for an account.
pub fn new_password(field: &str, value: &str) -> Result<(), FieldError> {
    sign_in_password(field, value)?;
    if value.chars().count() < PASSWORD_MIN_LEN {
        return Err(FieldError::new(
            field,
            "too_short",
            format!("Use at least {PASSWORD_MIN_LEN} characters."),
        ));
    }
    Ok(())
}

/// An organization slug: what appears in `/login/{slug}`.
pub fn org_slug(field: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "required", "Enter a slug."));
    }
    if value.len() < 2 || value.len() > SLUG_MAX_LEN {
        return Err(FieldError::new(
            field,
            "length",
            format!("A slug has 2 to {SLUG_MAX_LEN} characters."),
        ));
    }
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !allowed || value.starts_with('-') || value.ends_with('-') {
        return Err(FieldError::new(
            field,
            "invalid_slug",
            "Use lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
        ));
    }
    Ok(())
}

/// A required display name (an organization's, say).
pub fn required_name(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "required", "Enter a name."));
    }
    optional_name(field, value)
}

/// A name that may be empty but not absurdly long.
pub fn optional_name(field: &str, value: &str) -> Result<(), FieldError> {
    if value.chars().count() > NAME_MAX_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("Use at most {NAME_MAX_LEN} characters."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Remove the control characters.",
        ));
    }
    Ok(())
}

/// The sign-in form as a whole.
pub fn sign_in_form(email_value: &str, password: &str) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::default();
    errors.check(email("email", email_value));
    errors.check(sign_in_password("password", password));
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<(), FieldError>) -> Option<String> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn email_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ada@acme.test", None),
            ("  Ada.Lovelace+sso@sub.acme.co  ", None),
            ("", Some("required")),
            ("   ", Some("required")),
            ("ada", Some("invalid_email")),
            ("ada@", Some("invalid_email")),
            ("@acme.test", Some("invalid_email")),
            ("ada@acme", Some("invalid_email")),
            ("ada@@acme.test", Some("invalid_email")),
            ("ada@acme.test.", Some("invalid_email")),
            ("a da@acme.test", Some("invalid_email")),
            ("ada@acme.test\n", None),
            ("ada\u{0}@acme.test", Some("invalid_email")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                code(email("email", input)).as_deref(),
                *expected,
                "{input:?}"
            );
        }
        let long = format!("{}@acme.test", "a".repeat(250));
        assert_eq!(code(email("email", &long)).as_deref(), Some("too_long"));
    }

    #[test]
    fn normalize_email_ignores_case_and_spaces() {
        assert_eq!(normalize_email("  Ada@ACME.test "), "ada@acme.test");
    }

    #[test]
    fn password_rules() {
        assert_eq!(code(sign_in_password("p", "")).as_deref(), Some("required"));
        assert_eq!(code(sign_in_password("p", "x")), None);
        let huge = "x".repeat(PASSWORD_MAX_LEN + 1);
        assert_eq!(
            code(sign_in_password("p", &huge)).as_deref(),
            Some("too_long")
        );
        assert_eq!(
            code(new_password("p", "short")).as_deref(),
            Some("too_short")
        );
        assert_eq!(code(new_password("p", "correct horse battery")), None);
    }

    #[test]
    fn slug_rules() {
        for ok in ["acme", "a1", "acme-corp", "x".repeat(63).as_str()] {
            assert_eq!(code(org_slug("slug", ok)), None, "{ok}");
        }
        for (bad, c) in [
            ("", "required"),
            ("a", "length"),
            ("Acme", "invalid_slug"),
            ("-acme", "invalid_slug"),
            ("acme-", "invalid_slug"),
            ("ac me", "invalid_slug"),
            ("acme/x", "invalid_slug"),
        ] {
            assert_eq!(code(org_slug("slug", bad)).as_deref(), Some(c), "{bad}");
        }
        assert_eq!(
            code(org_slug("slug", &"x".repeat(64))).as_deref(),
            Some("length")
        );
    }

    #[test]
    fn name_rules() {
        assert_eq!(code(required_name("n", "Acme")), None);
        assert_eq!(code(required_name("n", " ")).as_deref(), Some("required"));
        assert_eq!(code(optional_name("n", "")), None);
        assert_eq!(
            code(optional_name("n", &"x".repeat(121))).as_deref(),
            Some("too_long")
        );
        assert_eq!(
            code(optional_name("n", "a\u{7}b")).as_deref(),
            Some("invalid_characters")
        );
    }

    #[test]
    fn sign_in_form_reports_every_field() {
        let errors = sign_in_form("", "").unwrap_err();
        assert_eq!(errors.for_field("email"), Some("Enter an email address."));
        assert_eq!(errors.for_field("password"), Some("Enter your password."));
        assert!(sign_in_form("ada@acme.test", "pw").is_ok());
    }
}
