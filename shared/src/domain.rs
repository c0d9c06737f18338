//! Email domains an organization claims, so "Sign in with SSO" can route a
//! member by the address they type.
//!
//! A claim routes nothing until the organization proves it controls the domain
//! by publishing a TXT record `_latchkey-challenge.<domain>` whose value is the
//! claim's own random token. Several organizations may hold pending claims of
//! one domain (so a squatter cannot block the real owner); the first to verify
//! wins, and the others' claims then read "verified by another organization"
//! until they remove them (or the winner gives the domain up).

use crate::validate::FieldError;
use serde::{Deserialize, Serialize};

/// Mail services anyone can sign up to: claiming one would route strangers.
const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "aol.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "googlemail.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.com",
    "me.com",
    "msn.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "yahoo.com",
    "yandex.com",
    "zoho.com",
];

/// Lower-case, trimmed, without a leading `@` or a trailing dot.
pub fn normalize_domain(value: &str) -> String {
    value
        .trim()
        .trim_start_matches('@')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// The domain of an email address, normalized.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, domain) = email.trim().rsplit_once('@')?;
    let domain = normalize_domain(domain);
    (!domain.is_empty()).then_some(domain)
}

/// A domain name like `initech.com`: labels of letters, digits and hyphens,
/// at least one dot, not a public mail service.
pub fn validate_domain(field: &str, value: &str) -> Result<(), FieldError> {
    let domain = normalize_domain(value);
    if domain.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Enter a domain, like initech.com.",
        ));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    if domain.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(FieldError::new(
            field,
            "invalid_domain",
            "Enter only the domain of your members' email addresses, like initech.com (no @, no https://).",
        ));
    }
    if PUBLIC_MAIL_DOMAINS.contains(&domain.as_str()) {
        return Err(FieldError::new(
            field,
            "public_domain",
            format!("{domain} is a public mail service; anyone can have an address there. Claim your company's own domain."),
        ));
    }
    Ok(())
}

/// The label under the domain where the challenge token is published.
pub const CHALLENGE_LABEL: &str = "_latchkey-challenge";

/// Where the TXT record goes: `_latchkey-challenge.acme.com`.
pub fn challenge_record_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}")
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainStatus {
    /// Claimed, not yet proven: routes no sign-ins.
    Pending,
    /// The TXT record was found: "Sign in with SSO" routes this domain here.
    Verified,
    /// Another organization verified the domain first; this claim can never
    /// route while theirs stands.
    VerifiedElsewhere,
}

/// Why the last check did not verify the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum DomainCheckFailure {
    /// The name does not exist, or has no TXT record.
    NoRecord,
    /// TXT records exist at the name, but none holds the token.
    WrongValue { found: Vec<String> },
    /// The lookup itself failed (timeout, server failure): nothing was learned.
    LookupFailed { detail: String },
}

impl DomainCheckFailure {
    /// A stable code for the audit log and the page.
    pub fn code(&self) -> &'static str {
        match self {
            DomainCheckFailure::NoRecord => "txt_record_missing",
            DomainCheckFailure::WrongValue { .. } => "txt_record_mismatch",
            DomainCheckFailure::LookupFailed { .. } => "dns_lookup_failed",
        }
    }

    /// What the admin reads under the record, in plain words.
    pub fn message(&self, record_name: &str, expected: &str) -> String {
        match self {
            DomainCheckFailure::NoRecord => format!("No TXT record found at {record_name}"),
            DomainCheckFailure::WrongValue { found } => {
                let found: Vec<String> = found.iter().map(|v| format!("'{v}'")).collect();
                format!("Found {}, expected '{expected}'", found.join(", "))
            }
            DomainCheckFailure::LookupFailed { detail } => format!(
                "The DNS lookup of {record_name} failed ({detail}). Try again in a few minutes."
            ),
        }
    }
}

/// The most TXT values kept from one check, and the longest kept of each:
/// enough to show a typo, never a way to store whatever a zone serves.
pub const MAX_FOUND_VALUES: usize = 5;
pub const MAX_FOUND_CHARS: usize = 255;

/// Whether the TXT values found at the challenge name hold `expected`.
/// Surrounding whitespace and one pair of double quotes are forgiven: some DNS
/// consoles keep the quotes people paste. Anything else must match exactly.
pub fn check_txt_values(found: &[String], expected: &str) -> Result<(), DomainCheckFailure> {
    if found.is_empty() {
        return Err(DomainCheckFailure::NoRecord);
    }
    let matches = |value: &String| {
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        value == expected
    };
    if found.iter().any(matches) {
        return Ok(());
    }
    Err(DomainCheckFailure::WrongValue {
        found: found
            .iter()
            .take(MAX_FOUND_VALUES)
            .map(|v| printable(v, MAX_FOUND_CHARS))
            .collect(),
    })
}

/// `value` cut to `max` characters, control characters (NUL included) shown as `?`.
pub fn printable(value: &str, max: usize) -> String {
    value
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// One claimed domain as the Authentication page shows it. The token is shown
/// to the claiming organization's admins only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainClaim {
    pub domain: String,
    pub status: DomainStatus,
    /// `_latchkey-challenge.<domain>`
    pub record_name: String,
    /// The claim's token: the TXT record's value.
    pub record_value: String,
    pub claimed_at: i64,
    pub verified_at: Option<i64>,
    /// When Verify last looked the record up.
    pub checked_at: Option<i64>,
    /// What that look-up found, when it did not verify the domain.
    pub last_failure: Option<DomainCheckFailure>,
}

impl DomainClaim {
    /// The last failure in plain words, if any.
    pub fn failure_message(&self) -> Option<String> {
        self.last_failure
            .as_ref()
            .map(|f| f.message(&self.record_name, &self.record_value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_validates_domains() {
        assert_eq!(normalize_domain(" @Initech.COM. "), "initech.com");
        assert!(validate_domain("domain", "initech.com").is_ok());
        assert!(validate_domain("domain", "eu.initech.co.uk").is_ok());
        for bad in [
            "",
            "initech",
            "https://initech.com",
            "ini tech.com",
            "-x.com",
            "a..com",
        ] {
            assert!(validate_domain("domain", bad).is_err(), "{bad}");
        }
        assert_eq!(
            validate_domain("domain", "Gmail.com").unwrap_err().code,
            "public_domain"
        );
    }

    #[test]
    fn finds_the_domain_of_an_email() {
        assert_eq!(
            email_domain("Grace@Initech.TEST").as_deref(),
            Some("initech.test")
        );
        assert_eq!(email_domain("nobody"), None);
    }

    #[test]
    fn the_challenge_lives_under_its_own_label() {
        assert_eq!(
            challenge_record_name("acme.com"),
            "_latchkey-challenge.acme.com"
        );
    }

    #[test]
    fn txt_values_are_checked_against_the_token() {
        let token = "lkverify_0123";
        let found = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        for (values, expected) in [
            (found(&[]), Err(DomainCheckFailure::NoRecord)),
            (found(&["lkverify_0123"]), Ok(())),
            (found(&["v=spf1 -all", " lkverify_0123 "]), Ok(())),
            (found(&["\"lkverify_0123\""]), Ok(())),
            (
                found(&["lkverify_0124"]),
                Err(DomainCheckFailure::WrongValue {
                    found: found(&["lkverify_0124"]),
                }),
            ),
            (
                found(&["LKVERIFY_0123"]),
                Err(DomainCheckFailure::WrongValue {
                    found: found(&["LKVERIFY_0123"]),
                }),
            ),
            (
                found(&["a\u{0}b"]),
                Err(DomainCheckFailure::WrongValue {
                    found: found(&["a?b"]),
                }),
            ),
        ] {
            assert_eq!(check_txt_values(&values, token), expected, "{values:?}");
        }
        let many: Vec<String> = (0..20).map(|n| "x".repeat(300 + n)).collect();
        let Err(DomainCheckFailure::WrongValue { found }) = check_txt_values(&many, token) else {
            panic!("many values do not match");
        };
        assert_eq!(found.len(), MAX_FOUND_VALUES);
        assert!(found.iter().all(|v| v.chars().count() == MAX_FOUND_CHARS));
    }

    #[test]
    fn failures_read_in_plain_words() {
        let name = "_latchkey-challenge.acme.com";
        assert_eq!(
            DomainCheckFailure::NoRecord.message(name, "y"),
            "No TXT record found at _latchkey-challenge.acme.com"
        );
        assert_eq!(
            DomainCheckFailure::WrongValue {
                found: vec!["x".into()]
            }
            .message(name, "y"),
            "Found 'x', expected 'y'"
        );
        assert_eq!(
            DomainCheckFailure::WrongValue {
                found: vec!["a".into(), "b".into()]
            }
            .message(name, "y"),
            "Found 'a', 'b', expected 'y'"
        );
        let failure = DomainCheckFailure::LookupFailed {
            detail: "timed out".into(),
        };
        assert_eq!(failure.code(), "dns_lookup_failed");
        assert!(failure.message(name, "y").contains("timed out"));
    }
}
