//! Email domains an organization claims, so "Sign in with SSO" can route a
//! member by the address they type.

use crate::validate::FieldError;

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
}
