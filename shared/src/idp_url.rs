//! The identity provider's addresses that Latchkey sends browsers to or calls:
//! the IdP SSO URL, the OIDC Issuer URL and the endpoints its discovery document
//! names (authorization, token, UserInfo, JWKS).
//!
//! One rule, run when they are saved (typed, imported from metadata or read by
//! discovery; in the browser and again on the server) and once more before any
//! browser is sent to the identity provider: the address starts with `https://`,
//! or with plain `http://` only where the operator lets Latchkey reach identity
//! providers on a private network (`LATCHKEY_ALLOW_PRIVATE_URLS`). Anything else
//! (`javascript:`, `data:`, a malformed URL) is refused: a browser sent to such
//! an address could run script on Latchkey's own pages.

use crate::doctor::DiscoveredEndpoints;
use crate::validate::{parse_http_url, FieldError};
use serde::{Deserialize, Serialize};

/// Whether plain `http://` identity-provider addresses are accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpUrlPolicy {
    /// `https://` only: the default.
    #[default]
    HttpsOnly,
    /// `http://` too: the operator allows identity providers on a private network.
    HttpAllowed,
}

impl IdpUrlPolicy {
    /// The policy that follows from `LATCHKEY_ALLOW_PRIVATE_URLS`.
    pub fn from_allow_private_urls(allow: bool) -> Self {
        if allow {
            IdpUrlPolicy::HttpAllowed
        } else {
            IdpUrlPolicy::HttpsOnly
        }
    }
}

/// Longest part of a refused value repeated in a message.
const SHOWN_VALUE_MAX_CHARS: usize = 120;

/// Checks one identity-provider address against the policy.
pub fn check(field: &str, value: &str, policy: IdpUrlPolicy) -> Result<(), FieldError> {
    if let Some(scheme) = non_web_scheme(value) {
        return Err(FieldError::new(
            field,
            "unsupported_scheme",
            format!(
                "The address must start with https://. A {scheme}: address is not a web page, \
                 so Latchkey never sends anyone there."
            ),
        ));
    }
    let url = parse_http_url(field, value)?;
    if !url.https && policy == IdpUrlPolicy::HttpsOnly {
        return Err(FieldError::new(
            field,
            "https_required",
            "The address must start with https://. Plain http:// is accepted only when \
             Latchkey's operator allows identity providers on a private network \
             (LATCHKEY_ALLOW_PRIVATE_URLS).",
        ));
    }
    Ok(())
}

/// The scheme of a value like `javascript:…` or `data:…`: a URI that is not
/// http(s). `host:port` is not taken for a scheme.
fn non_web_scheme(value: &str) -> Option<String> {
    // Browsers ignore leading spaces and control characters in a URL.
    let value = value.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
    let (scheme, rest) = value.split_once(':')?;
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.len() <= 32
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.');
    let is_web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let is_port = rest.starts_with(|c: char| c.is_ascii_digit());
    (is_scheme && !is_web && !is_port && !scheme.contains('.')).then(|| scheme.to_lowercase())
}

/// An endpoint in an OIDC discovery document that Latchkey will not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointProblem {
    /// The discovery document's member, e.g. `authorization_endpoint`.
    pub member: &'static str,
    pub value: String,
    pub error: FieldError,
}

impl EndpointProblem {
    /// How the page names the endpoint, e.g. `Authorization`.
    pub fn label(&self) -> &'static str {
        match self.member {
            "authorization_endpoint" => "Authorization",
            "token_endpoint" => "Token",
            "userinfo_endpoint" => "UserInfo",
            "jwks_uri" => "JWKS",
            "end_session_endpoint" => "End session",
            other => other,
        }
    }

    /// What is wrong, in words an admin understands.
    pub fn message(&self) -> String {
        format!(
            "The identity provider's discovery document gives {} as its {} endpoint \
             ({}). {}",
            quoted(&self.value),
            self.label(),
            self.member,
            self.error.message
        )
    }
}

/// A refused value as a message may repeat it: quoted, shortened, without
/// control characters.
pub fn quoted(value: &str) -> String {
    if value.is_empty() {
        return "an empty address".to_string();
    }
    let mut text: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(SHOWN_VALUE_MAX_CHARS)
        .collect();
    if value.chars().count() > SHOWN_VALUE_MAX_CHARS {
        text.push('…');
    }
    format!("\"{text}\"")
}

/// Checks every endpoint discovery found; the first refused one is reported.
/// A missing or empty UserInfo endpoint is allowed (it is optional).
pub fn check_endpoints(
    endpoints: &DiscoveredEndpoints,
    policy: IdpUrlPolicy,
) -> Result<(), EndpointProblem> {
    let mut listed = vec![
        (
            "authorization_endpoint",
            endpoints.authorization_endpoint.as_str(),
        ),
        ("token_endpoint", endpoints.token_endpoint.as_str()),
        ("jwks_uri", endpoints.jwks_uri.as_str()),
    ];
    for (member, optional) in [
        ("userinfo_endpoint", &endpoints.userinfo_endpoint),
        ("end_session_endpoint", &endpoints.end_session_endpoint),
    ] {
        if let Some(value) = optional.as_deref().filter(|u| !u.is_empty()) {
            listed.push((member, value));
        }
    }
    for (member, value) in listed {
        check(member, value, policy).map_err(|error| EndpointProblem {
            member,
            value: value.to_string(),
            error,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use IdpUrlPolicy::{HttpAllowed, HttpsOnly};

    fn code(value: &str, policy: IdpUrlPolicy) -> Option<String> {
        check("url", value, policy).err().map(|e| e.code)
    }

    #[test]
    fn only_web_addresses_pass_and_plain_http_only_when_allowed() {
        // (value, code with https only, code with http allowed)
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("https://idp.example.com/sso", None, None),
            ("HTTPS://IDP.example.com/", None, None),
            ("https://idp.example.com:8443/a?b=c", None, None),
            ("http://idp.example.com/sso", Some("https_required"), None),
            ("http://127.0.0.1:3300/auth", Some("https_required"), None),
            ("http://localhost/sso", Some("https_required"), None),
            (
                "javascript:alert(document.domain)",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "JavaScript:alert(1)",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                " javascript:alert(1)",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "\u{1}javascript:alert(1)",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "javascript://%0aalert(1)",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "data:text/html,<script>alert(1)</script>",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "vbscript:msgbox(1)",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "blob:https://idp.example.com/x",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "file:///etc/passwd",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "ftp://idp.example.com",
                Some("unsupported_scheme"),
                Some("unsupported_scheme"),
            ),
            (
                "java\tscript:alert(1)",
                Some("invalid_characters"),
                Some("invalid_characters"),
            ),
            (
                "https://idp.example.com/\njavascript:x",
                Some("invalid_characters"),
                Some("invalid_characters"),
            ),
            (
                "idp.example.com:8443/sso",
                Some("invalid_url"),
                Some("invalid_url"),
            ),
            ("/authorize", Some("invalid_url"), Some("invalid_url")),
            (
                "//evil.example/authorize",
                Some("invalid_url"),
                Some("invalid_url"),
            ),
            (
                "https://user:pw@idp.example.com/",
                Some("invalid_url"),
                Some("invalid_url"),
            ),
            ("", Some("required"), Some("required")),
        ];
        for (value, https_only, http_allowed) in cases {
            assert_eq!(
                code(value, HttpsOnly).as_deref(),
                *https_only,
                "{value:?} https only"
            );
            assert_eq!(
                code(value, HttpAllowed).as_deref(),
                *http_allowed,
                "{value:?} http allowed"
            );
        }
    }

    #[test]
    fn messages_say_the_address_must_start_with_https() {
        for (value, policy) in [
            ("javascript:alert(1)", HttpsOnly),
            ("data:text/html,x", HttpAllowed),
            ("http://idp.example.com", HttpsOnly),
        ] {
            let error = check("sso_url", value, policy).unwrap_err();
            assert_eq!(error.field, "sso_url");
            assert!(
                error
                    .message
                    .starts_with("The address must start with https://."),
                "{}",
                error.message
            );
        }
        let error = check("sso_url", "javascript:alert(1)", HttpsOnly).unwrap_err();
        assert!(error
            .message
            .contains("A javascript: address is not a web page"));
    }

    #[test]
    fn the_policy_follows_the_private_urls_setting() {
        assert_eq!(IdpUrlPolicy::from_allow_private_urls(false), HttpsOnly);
        assert_eq!(IdpUrlPolicy::from_allow_private_urls(true), HttpAllowed);
        assert_eq!(IdpUrlPolicy::default(), HttpsOnly);
    }

    fn endpoints() -> DiscoveredEndpoints {
        DiscoveredEndpoints {
            authorization_endpoint: "https://idp.example.com/authorize".into(),
            token_endpoint: "https://idp.example.com/token".into(),
            userinfo_endpoint: Some("https://idp.example.com/userinfo".into()),
            jwks_uri: "https://idp.example.com/jwks".into(),
            end_session_endpoint: None,
        }
    }

    #[test]
    fn every_discovered_endpoint_is_checked() {
        assert_eq!(check_endpoints(&endpoints(), HttpsOnly), Ok(()));
        let without_userinfo = DiscoveredEndpoints {
            userinfo_endpoint: None,
            ..endpoints()
        };
        assert_eq!(check_endpoints(&without_userinfo, HttpsOnly), Ok(()));
        let empty_userinfo = DiscoveredEndpoints {
            userinfo_endpoint: Some(String::new()),
            ..endpoints()
        };
        assert_eq!(check_endpoints(&empty_userinfo, HttpsOnly), Ok(()));

        type Edit = fn(&mut DiscoveredEndpoints, String);
        let edits: &[(&str, Edit)] = &[
            ("authorization_endpoint", |e, v| {
                e.authorization_endpoint = v
            }),
            ("token_endpoint", |e, v| e.token_endpoint = v),
            ("jwks_uri", |e, v| e.jwks_uri = v),
            ("userinfo_endpoint", |e, v| e.userinfo_endpoint = Some(v)),
        ];
        for (member, edit) in edits {
            for (value, policy, expected) in [
                (
                    "javascript:alert(document.domain)",
                    HttpAllowed,
                    Some("unsupported_scheme"),
                ),
                ("data:text/html,x", HttpAllowed, Some("unsupported_scheme")),
                (
                    "http://idp.example.com/x",
                    HttpsOnly,
                    Some("https_required"),
                ),
                ("http://idp.example.com/x", HttpAllowed, None),
            ] {
                let mut found = endpoints();
                edit(&mut found, value.to_string());
                let result = check_endpoints(&found, policy);
                match expected {
                    None => assert_eq!(result, Ok(()), "{member} {value}"),
                    Some(code) => {
                        let problem = result.unwrap_err();
                        assert_eq!(problem.member, *member);
                        assert_eq!(problem.value, value);
                        assert_eq!(problem.error.code, code);
                        assert!(
                            problem.message().contains(problem.label()),
                            "{}",
                            problem.message()
                        );
                        assert!(problem.message().contains("must start with https://"));
                    }
                }
            }
        }
    }

    #[test]
    fn messages_shorten_long_values() {
        let long = format!("javascript:{}", "a".repeat(500));
        let mut found = endpoints();
        found.authorization_endpoint = long;
        let message = check_endpoints(&found, HttpsOnly).unwrap_err().message();
        assert!(message.contains('…'), "{message}");
        assert!(message.chars().count() < 400, "{message}");
    }
}
