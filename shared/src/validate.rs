//! Field validation shared by the forms in the browser and the server, which
//! re-checks every value. Each failure names its field, a stable code and a
//! sentence that tells a person what to change.

use crate::idp_url::IdpUrlPolicy;
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

/// Longest URL accepted anywhere in connection settings.
pub const URL_MAX_LEN: usize = 2048;
/// SAML caps an entityID at 1024 characters.
pub const ENTITY_ID_MAX_LEN: usize = 1024;
pub const CLIENT_ID_MAX_LEN: usize = 255;
pub const CLIENT_SECRET_MAX_LEN: usize = 1024;
pub const DISPLAY_NAME_MAX_LEN: usize = NAME_MAX_LEN;
/// A PEM certificate is a few kilobytes; two fit easily.
pub const CERTIFICATE_PEM_MAX_LEN: usize = 65_536;
/// The current certificate and, during a rollover, the next one.
pub const MAX_CERTIFICATES: usize = 2;

/// What to paste into X.509 Certificate; shown when it is empty or unreadable.
pub const CERTIFICATE_PASTE_MESSAGE: &str =
    "Paste the X.509 signing certificate from your identity provider in PEM format, \
     including the -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- lines.";
/// Shown when more than [`MAX_CERTIFICATES`] certificates are pasted.
pub const TOO_MANY_CERTIFICATES_MESSAGE: &str =
    "Paste at most two certificates: the current one and, during a rollover, the next one.";

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

/// The parts of an http(s) URL the checks care about.
pub(crate) struct HttpUrl<'a> {
    pub(crate) https: bool,
    /// Everything after the authority: path, query and fragment.
    rest: &'a str,
}

fn url_error(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

/// Hand-parses `scheme://host[:port][/path][?query][#fragment]`.
pub(crate) fn parse_http_url<'a>(field: &str, value: &'a str) -> Result<HttpUrl<'a>, FieldError> {
    if value.trim().is_empty() {
        return Err(url_error(
            field,
            "required",
            "Enter a URL that starts with https://.",
        ));
    }
    if value.chars().count() > URL_MAX_LEN {
        return Err(url_error(
            field,
            "too_long",
            format!(
                "A URL has at most {URL_MAX_LEN} characters. Check that you pasted only the URL."
            ),
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(url_error(
            field,
            "invalid_characters",
            "Remove the spaces, line breaks and other invisible characters from the URL.",
        ));
    }
    let full_url = "Enter a full URL that starts with https://, like https://idp.example.com/sso.";
    let Some((scheme, after)) = value.split_once("://") else {
        return Err(url_error(field, "invalid_url", full_url));
    };
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else if !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(url_error(
            field,
            "unsupported_scheme",
            "Use a web address that starts with https://.",
        ));
    } else {
        return Err(url_error(field, "invalid_url", full_url));
    };
    if value.contains('\\') {
        return Err(url_error(
            field,
            "invalid_url",
            "Use forward slashes (/) in the URL, not backslashes (\\).",
        ));
    }
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(authority_end);
    if authority.contains('@') {
        return Err(url_error(
            field,
            "invalid_url",
            "Remove the user name and password (the part up to @) from the URL.",
        ));
    }
    if authority.is_empty() {
        return Err(url_error(
            field,
            "invalid_url",
            "Add the host name after https://, like https://idp.example.com.",
        ));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inner, tail)) = bracketed.split_once(']') else {
            return Err(invalid_host(field));
        };
        if !valid_ipv6(inner) {
            return Err(invalid_host(field));
        }
        let port = match tail {
            "" => None,
            _ => match tail.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(invalid_host(field)),
            },
        };
        (&authority[..inner.len() + 2], port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(url_error(
            field,
            "invalid_url",
            "Add the host name after https://, like https://idp.example.com.",
        ));
    }
    if !host.starts_with('[') && !valid_host_name(host) {
        return Err(invalid_host(field));
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        if !valid {
            return Err(url_error(
                field,
                "invalid_port",
                "The port after the host name must be a number from 1 to 65535, like :8443.",
            ));
        }
    }
    Ok(HttpUrl { https, rest })
}

fn invalid_host(field: &str) -> FieldError {
    url_error(
        field,
        "invalid_host",
        "The host name is not valid. Use letters, digits, hyphens and dots, like idp.example.com.",
    )
}

/// A DNS name or a dotted IPv4 address.
fn valid_host_name(host: &str) -> bool {
    if host.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let last = labels.last().copied().unwrap_or_default();
    if !last.is_empty() && last.chars().all(|c| c.is_ascii_digit()) {
        // A numeric last label only makes sense in an IPv4 address.
        return labels.len() == 4
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 3
                    && l.chars().all(|c| c.is_ascii_digit())
                    && l.parse::<u16>().is_ok_and(|n| n <= 255)
            });
    }
    labels.iter().all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// The inside of `[...]`: hex groups and colons, optionally an IPv4 tail.
fn valid_ipv6(inner: &str) -> bool {
    inner.contains(':')
        && inner.len() <= 45
        && inner
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        && inner.split(':').count() <= 8
        && inner.matches("::").count() <= 1
        && !inner.contains(":::")
}

/// Whether `value` is a valid http(s) URL that uses plain `http://`: worth a
/// warning wherever it is accepted.
pub fn is_plain_http_url(value: &str) -> bool {
    parse_http_url("", value).is_ok_and(|u| !u.https)
}

/// An absolute `http://` or `https://` URL with a host: no spaces, no user
/// name or password, at most [`URL_MAX_LEN`] characters. Addresses of the
/// identity provider go through [`crate::idp_url::check`] instead, which also
/// decides whether plain `http://` is acceptable.
pub fn http_url(field: &str, value: &str) -> Result<(), FieldError> {
    parse_http_url(field, value).map(|_| ())
}

/// The IdP SSO URL of a SAML connection: where members are sent to sign in.
/// An identity-provider address (see [`crate::idp_url`]).
/// The optional IdP SLO URL: where a LogoutRequest sends the member's
/// browser, so the same rule as the IdP SSO URL once it is given.
pub fn idp_slo_url(field: &str, value: &str, policy: IdpUrlPolicy) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Ok(());
    }
    crate::idp_url::check(field, value.trim(), policy)
}

pub fn idp_sso_url(field: &str, value: &str, policy: IdpUrlPolicy) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Enter the IdP SSO URL: the single sign-on URL your identity provider shows for \
             this application, like https://idp.example.com/sso/saml.",
        ));
    }
    crate::idp_url::check(field, value, policy)
}

/// The Issuer URL of an OIDC connection: an identity-provider address (see
/// [`crate::idp_url`]); OpenID Connect Discovery also forbids a query or
/// fragment in the issuer.
pub fn oidc_issuer(field: &str, value: &str, policy: IdpUrlPolicy) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Enter the issuer URL from your identity provider, like \
             https://login.example.com/oauth2/default.",
        ));
    }
    crate::idp_url::check(field, value, policy)?;
    let url = parse_http_url(field, value)?;
    if url.rest.contains(['?', '#']) {
        return Err(FieldError::new(
            field,
            "invalid_issuer",
            "Remove the part from ? or # onwards. An issuer URL has no query or fragment; \
             enter it exactly as your identity provider shows it.",
        ));
    }
    Ok(())
}

/// The IdP Entity ID of a SAML connection: a URI (usually a URL) or a URN of
/// at most [`ENTITY_ID_MAX_LEN`] characters, without spaces. An `http(s)` entity
/// ID must be a full URL with a host, a `urn:` one must have a namespace and a
/// name; a scheme with a dot is refused so that `host:port` is not taken for a URI.
pub fn entity_id(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Enter the IdP Entity ID (some providers call it the Issuer) exactly as your \
             identity provider shows it.",
        ));
    }
    if value.chars().count() > ENTITY_ID_MAX_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!(
                "An entity ID has at most {ENTITY_ID_MAX_LEN} characters. Check that you \
                 pasted only the entity ID."
            ),
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Remove the spaces, line breaks and other invisible characters from the entity ID.",
        ));
    }
    let well_formed = match value.split_once(':') {
        Some((scheme, rest)) => {
            let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-');
            if !scheme_ok || rest.is_empty() {
                false
            } else if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
                http_url(field, value).is_ok()
            } else if scheme.eq_ignore_ascii_case("urn") {
                match rest.split_once(':') {
                    Some((nid, nss)) => {
                        !nid.is_empty()
                            && nid.len() <= 32
                            && !nid.starts_with('-')
                            && nid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            && !nss.is_empty()
                    }
                    None => false,
                }
            } else {
                true
            }
        }
        None => false,
    };
    if well_formed {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "invalid_entity_id",
            "Enter the entity ID as a URI or URN exactly as your identity provider shows it, \
             like https://idp.example.com/metadata or urn:example:idp.",
        ))
    }
}

/// Printable ASCII without surrounding spaces, as OAuth 2.0 allows for client
/// credentials.
fn oauth_credential(
    field: &str,
    value: &str,
    what: &str,
    max_len: usize,
) -> Result<(), FieldError> {
    if value.chars().count() > max_len {
        return Err(FieldError::new(
            field,
            "too_long",
            format!(
                "A {what} has at most {max_len} characters. Check that you pasted only the {what}."
            ),
        ));
    }
    if value.trim() != value {
        return Err(FieldError::new(
            field,
            "surrounding_whitespace",
            format!("Remove the spaces before or after the {what}."),
        ));
    }
    if !value.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            format!(
                "A {what} uses only letters, digits and punctuation. Copy it again from your \
                 identity provider's application settings."
            ),
        ));
    }
    Ok(())
}

/// The OAuth client ID of an OIDC connection.
pub fn client_id(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Enter the client ID from your identity provider's application settings.",
        ));
    }
    oauth_credential(field, value, "client ID", CLIENT_ID_MAX_LEN)
}

/// The OAuth client secret: required when none is stored yet; left blank
/// later, the stored secret is kept.
pub fn client_secret(field: &str, value: &str, secret_stored: bool) -> Result<(), FieldError> {
    if value.is_empty() {
        return if secret_stored {
            Ok(())
        } else {
            Err(FieldError::new(
                field,
                "required",
                "Enter the client secret from your identity provider's application settings. \
                 It is stored encrypted and never shown again.",
            ))
        };
    }
    if value.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "surrounding_whitespace",
            "The client secret holds only spaces. Clear the field to keep the stored secret, \
             or paste the new secret.",
        ));
    }
    oauth_credential(field, value, "client secret", CLIENT_SECRET_MAX_LEN)
}

/// A connection's display name: optional (blank means "<IdP> SSO"), at most
/// [`DISPLAY_NAME_MAX_LEN`] characters, on one line.
pub fn display_name(field: &str, value: &str) -> Result<(), FieldError> {
    if value.chars().count() > DISPLAY_NAME_MAX_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!(
                "Keep the display name to {DISPLAY_NAME_MAX_LEN} characters or fewer, or leave \
                 it blank to use the identity provider's name."
            ),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Write the display name on one line, without tabs or other control characters.",
        ));
    }
    Ok(())
}

/// A quick look at pasted certificates before the server parses them: PEM
/// blocks with BEGIN and END lines, at most [`MAX_CERTIFICATES`] of them.
pub fn certificate_pem(field: &str, value: &str) -> Result<(), FieldError> {
    let paste = CERTIFICATE_PASTE_MESSAGE;
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "required", paste));
    }
    // A pasted private key gets its own warning, before anything is sent anywhere.
    if value.contains("PRIVATE KEY-----") {
        return Err(FieldError::new(
            field,
            "private_key_pasted",
            "This is a private key, not a certificate. Paste your identity provider's public \
             signing certificate instead: it starts with -----BEGIN CERTIFICATE-----. Keep the \
             private key secret.",
        ));
    }
    if value.len() > CERTIFICATE_PEM_MAX_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            "This is far longer than a certificate. Paste only the PEM certificate, not the \
             whole metadata file.",
        ));
    }
    let mut count = 0;
    let mut remaining = value;
    while let Some(begin) = remaining.find(PEM_BEGIN) {
        let after_begin = &remaining[begin + PEM_BEGIN.len()..];
        let Some(end) = after_begin.find(PEM_END) else {
            return Err(FieldError::new(field, "invalid_certificate", paste));
        };
        if after_begin[..end].contains(PEM_BEGIN) || after_begin[..end].trim().is_empty() {
            return Err(FieldError::new(field, "invalid_certificate", paste));
        }
        count += 1;
        remaining = &after_begin[end + PEM_END.len()..];
    }
    if count == 0 || remaining.contains(PEM_END) {
        return Err(FieldError::new(field, "invalid_certificate", paste));
    }
    if count > MAX_CERTIFICATES {
        return Err(FieldError::new(
            field,
            "too_many_certificates",
            TOO_MANY_CERTIFICATES_MESSAGE,
        ));
    }
    Ok(())
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

    #[test]
    fn http_url_rules() {
        let long_ok = format!("https://idp.example.com/{}", "a".repeat(URL_MAX_LEN - 24));
        let too_long = format!("https://idp.example.com/{}", "a".repeat(URL_MAX_LEN - 23));
        assert_eq!(long_ok.chars().count(), URL_MAX_LEN);
        let label63 = format!("https://{}.example.com", "a".repeat(63));
        let label64 = format!("https://{}.example.com", "a".repeat(64));
        // (input, expected code)
        let cases: &[(&str, Option<&str>)] = &[
            ("https://idp.example.com", None),
            ("https://idp.example.com/", None),
            ("https://idp.example.com/app/sso/saml", None),
            (
                "https://accounts.example.com/o/saml2/idp?idpid=C01abc",
                None,
            ),
            ("https://idp.example.com:8443/sso#top", None),
            ("HTTPS://IDP.Example.COM/SSO", None),
            ("https://idp", None),
            ("https://my_idp.internal/sso", None),
            ("https://bücher.example/sso", None),
            ("https://10.0.0.5/sso", None),
            ("https://[2001:db8::1]/sso", None),
            ("https://[2001:db8::1]:8443/sso", None),
            ("https://[::ffff:192.0.2.1]/", None),
            ("https://idp.example.com:1", None),
            ("https://idp.example.com:65535", None),
            ("https://idp.example.com?x=1", None),
            (long_ok.as_str(), None),
            (label63.as_str(), None),
            ("http://idp.example.com/sso", None),
            ("http://localhost:8080/realms/acme", None),
            ("http://LOCALHOST/", None),
            ("http://idp.localhost/", None),
            ("http://127.0.0.1:9000/sso", None),
            ("http://127.1.2.3/", None),
            ("http://[::1]:8080/", None),
            ("", Some("required")),
            ("   ", Some("required")),
            (too_long.as_str(), Some("too_long")),
            (" https://idp.example.com", Some("invalid_characters")),
            ("https://idp.example.com/sso\n", Some("invalid_characters")),
            ("https://idp.example.com/a b", Some("invalid_characters")),
            ("https://idp.example.com/\u{0}", Some("invalid_characters")),
            ("https://idp.example.com/\u{7f}", Some("invalid_characters")),
            ("idp.example.com/sso", Some("invalid_url")),
            ("https:/idp.example.com", Some("invalid_url")),
            ("https//idp.example.com", Some("invalid_url")),
            ("://idp.example.com", Some("invalid_url")),
            ("/sso/saml", Some("invalid_url")),
            ("ht tp://x", Some("invalid_characters")),
            ("ftp://idp.example.com", Some("unsupported_scheme")),
            ("javascript://alert(1)", Some("unsupported_scheme")),
            ("urn:example:idp", Some("invalid_url")),
            ("https://", Some("invalid_url")),
            ("https:///sso", Some("invalid_url")),
            ("https://?x", Some("invalid_url")),
            ("https://:443/", Some("invalid_url")),
            ("https://user:pw@idp.example.com", Some("invalid_url")),
            ("https://good.example@evil.example/", Some("invalid_url")),
            (
                "https://idp.example.com\\@evil.example/",
                Some("invalid_url"),
            ),
            ("https://idp.example.com/a\\b", Some("invalid_url")),
            ("https://idp..example.com", Some("invalid_host")),
            ("https://.example.com", Some("invalid_host")),
            ("https://idp.example.com.", Some("invalid_host")),
            ("https://-idp.example.com", Some("invalid_host")),
            ("https://idp-.example.com", Some("invalid_host")),
            ("https://idp!.example.com", Some("invalid_host")),
            ("https://idp.example.123", Some("invalid_host")),
            ("https://256.0.0.1/", Some("invalid_host")),
            ("https://1.2.3/", Some("invalid_host")),
            ("https://1.2.3.4.5/", Some("invalid_host")),
            ("https://[2001:db8::1/", Some("invalid_host")),
            ("https://[example.com]/", Some("invalid_host")),
            ("https://[::1]x/", Some("invalid_host")),
            ("https://[1:::2]/", Some("invalid_host")),
            (label64.as_str(), Some("invalid_host")),
            ("https://idp.example.com:", Some("invalid_port")),
            ("https://idp.example.com:0", Some("invalid_port")),
            ("https://idp.example.com:65536", Some("invalid_port")),
            ("https://idp.example.com:443x", Some("invalid_port")),
            ("https://idp.example.com:+443", Some("invalid_port")),
            ("https://idp.example.com:1:2", Some("invalid_port")),
            ("https://[::1]:99999/", Some("invalid_port")),
        ];
        for (input, expected) in cases {
            let result = http_url("url", input);
            if let Err(e) = &result {
                assert_eq!(e.field, "url");
                assert!(e.message.ends_with('.'), "{}", e.message);
            }
            assert_eq!(code(result).as_deref(), *expected, "{input:?}");
        }
    }

    #[test]
    fn plain_http_detection() {
        for (input, plain) in [
            ("http://localhost/", true),
            ("HTTP://idp.example.com", true),
            ("https://idp.example.com", false),
            ("http://", false),
            ("not a url", false),
        ] {
            assert_eq!(is_plain_http_url(input), plain, "{input}");
        }
    }

    #[test]
    fn idp_sso_url_rules() {
        use IdpUrlPolicy::{HttpAllowed, HttpsOnly};
        for (input, policy, expected) in [
            ("https://idp.example.com/sso", HttpsOnly, None),
            ("", HttpsOnly, Some("required")),
            (" ", HttpAllowed, Some("required")),
            (
                "http://idp.example.com/sso",
                HttpsOnly,
                Some("https_required"),
            ),
            (
                "http://localhost:8080/sso",
                HttpsOnly,
                Some("https_required"),
            ),
            ("http://idp.example.com/sso", HttpAllowed, None),
            (
                "javascript:alert(document.domain)",
                HttpAllowed,
                Some("unsupported_scheme"),
            ),
            ("idp.example.com", HttpsOnly, Some("invalid_url")),
        ] {
            assert_eq!(
                code(idp_sso_url("sso_url", input, policy)).as_deref(),
                expected,
                "{input:?} {policy:?}"
            );
        }
        let msg = idp_sso_url("sso_url", "", HttpsOnly).unwrap_err().message;
        assert!(msg.contains("IdP SSO URL"), "{msg}");
    }

    #[test]
    fn oidc_issuer_rules() {
        use IdpUrlPolicy::{HttpAllowed, HttpsOnly};
        for (input, policy, expected) in [
            ("https://login.example.com", HttpsOnly, None),
            ("https://login.example.com/", HttpsOnly, None),
            ("https://example.okta.com/oauth2/default", HttpsOnly, None),
            ("https://login.example.com/tenant-id/v2.0", HttpsOnly, None),
            ("http://localhost:8080/realms/acme", HttpAllowed, None),
            (
                "http://localhost:8080/realms/acme",
                HttpsOnly,
                Some("https_required"),
            ),
            ("", HttpsOnly, Some("required")),
            (
                "http://login.example.com",
                HttpsOnly,
                Some("https_required"),
            ),
            (
                "javascript:alert(1)",
                HttpAllowed,
                Some("unsupported_scheme"),
            ),
            (
                "https://login.example.com?tenant=1",
                HttpsOnly,
                Some("invalid_issuer"),
            ),
            (
                "https://login.example.com/#x",
                HttpsOnly,
                Some("invalid_issuer"),
            ),
            ("login.example.com", HttpsOnly, Some("invalid_url")),
        ] {
            assert_eq!(
                code(oidc_issuer("issuer", input, policy)).as_deref(),
                expected,
                "{input:?} {policy:?}"
            );
        }
    }

    #[test]
    fn entity_id_rules() {
        let longest = format!("urn:example:{}", "a".repeat(ENTITY_ID_MAX_LEN - 12));
        let too_long = format!("urn:example:{}", "a".repeat(ENTITY_ID_MAX_LEN - 11));
        let cases: &[(&str, Option<&str>)] = &[
            ("http://www.okta.com/exk1abcdEFGH", None),
            (
                "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
                None,
            ),
            ("https://accounts.example.com/o/saml2?idpid=C01abc", None),
            ("https://idp.example.com/realms/acme", None),
            ("urn:example:idp", None),
            ("urn:oasis:names:tc:SAML:2.0:entity", None),
            ("URN:Example:idp", None),
            ("tag:example.com,2024:idp", None),
            (longest.as_str(), None),
            ("", Some("required")),
            ("  ", Some("required")),
            (too_long.as_str(), Some("too_long")),
            ("https://idp.example.com/ x", Some("invalid_characters")),
            (" urn:example:idp", Some("invalid_characters")),
            ("urn:example:idp\n", Some("invalid_characters")),
            ("urn:ex\u{1}ample", Some("invalid_characters")),
            ("my-idp", Some("invalid_entity_id")),
            ("idp.example.com", Some("invalid_entity_id")),
            ("idp.example.com:443", Some("invalid_entity_id")),
            (":idp", Some("invalid_entity_id")),
            ("urn:", Some("invalid_entity_id")),
            ("urn:example", Some("invalid_entity_id")),
            ("urn::idp", Some("invalid_entity_id")),
            ("urn:-x:idp", Some("invalid_entity_id")),
            ("urn:ex_ample:idp", Some("invalid_entity_id")),
            ("urn:example:", Some("invalid_entity_id")),
            ("https://", Some("invalid_entity_id")),
            ("https:idp", Some("invalid_entity_id")),
            ("http://user@idp.example.com", Some("invalid_entity_id")),
            ("1urn:x:y", Some("invalid_entity_id")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                code(entity_id("entity_id", input)).as_deref(),
                *expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn client_id_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("0oa1b2c3d4E5F6g7H8i9", None),
            ("6731de76-14a6-49ae-97bc-6eba6914391e", None),
            ("1234567890-abc.apps.googleusercontent.com", None),
            ("my app", None),
            ("", Some("required")),
            ("   ", Some("required")),
            (" abc", Some("surrounding_whitespace")),
            ("abc\n", Some("surrounding_whitespace")),
            ("a\tb", Some("invalid_characters")),
            ("clé", Some("invalid_characters")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                code(client_id("client_id", input)).as_deref(),
                *expected,
                "{input:?}"
            );
        }
        assert_eq!(code(client_id("c", &"a".repeat(CLIENT_ID_MAX_LEN))), None);
        assert_eq!(
            code(client_id("c", &"a".repeat(CLIENT_ID_MAX_LEN + 1))).as_deref(),
            Some("too_long")
        );
    }

    #[test]
    fn client_secret_rules() {
        let cases: &[(&str, bool, Option<&str>)] = &[
            ("s3cr3t~value_with.punct-", false, None),
            ("new-secret", true, None),
            ("", true, None),
            ("", false, Some("required")),
            ("  ", true, Some("surrounding_whitespace")),
            (" secret", false, Some("surrounding_whitespace")),
            ("sec\u{0}ret", false, Some("invalid_characters")),
        ];
        for (input, stored, expected) in cases {
            assert_eq!(
                code(client_secret("client_secret", input, *stored)).as_deref(),
                *expected,
                "{input:?} stored={stored}"
            );
        }
        assert_eq!(
            code(client_secret(
                "s",
                &"a".repeat(CLIENT_SECRET_MAX_LEN + 1),
                true
            ))
            .as_deref(),
            Some("too_long")
        );
    }

    #[test]
    fn display_name_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            ("Okta SSO", None),
            ("Staff — Zürich", None),
            ("a\nb", Some("invalid_characters")),
            ("a\tb", Some("invalid_characters")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                code(display_name("display_name", input)).as_deref(),
                *expected,
                "{input:?}"
            );
        }
        assert_eq!(
            code(display_name("d", &"é".repeat(DISPLAY_NAME_MAX_LEN))),
            None
        );
        assert_eq!(
            code(display_name("d", &"é".repeat(DISPLAY_NAME_MAX_LEN + 1))).as_deref(),
            Some("too_long")
        );
    }

    #[test]
    fn certificate_pem_rules() {
        let one = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let two = format!("{one}{one}");
        let three = format!("{one}{one}{one}");
        let huge = format!("{one}{}", "x".repeat(CERTIFICATE_PEM_MAX_LEN));
        let cases: &[(&str, Option<&str>)] = &[
            (one, None),
            (two.as_str(), None),
            ("  \n-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\r\n", None),
            ("", Some("required")),
            ("\n", Some("required")),
            ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", Some("invalid_certificate")),
            ("-----BEGIN CERTIFICATE-----\nMIIB\n", Some("invalid_certificate")),
            ("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", Some("invalid_certificate")),
            ("MIIB\n-----END CERTIFICATE-----", Some("invalid_certificate")),
            (
                "-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                Some("invalid_certificate"),
            ),
            ("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", Some("invalid_certificate")),
            (three.as_str(), Some("too_many_certificates")),
            (huge.as_str(), Some("too_long")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                code(certificate_pem("certificate", input)).as_deref(),
                *expected,
                "{input:?}"
            );
        }
    }
}
