//! OpenID Connect Discovery 1.0: reads the provider's configuration from
//! `{issuer}/.well-known/openid-configuration` and checks it names the same issuer.

use crate::outbound::{fetch_text, FetchError, OutboundPolicy};
use serde::Deserialize;
use shared::doctor::{discovery_url, DiscoveredEndpoints};
use shared::idp_url::{check_endpoints, EndpointProblem, IdpUrlPolicy};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("Discovery failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("Discovery failed: the discovery document is not JSON ({0}). Check the Issuer URL: it should be the address that has /.well-known/openid-configuration under it.")]
    NotJson(String),
    #[error("Discovery failed: the provider says its issuer is {received}, but the Issuer URL is {expected}. Enter exactly {received}.")]
    IssuerMismatch { expected: String, received: String },
    #[error("Discovery failed: the discovery document has no {0}.")]
    MissingEndpoint(&'static str),
    /// An endpoint Latchkey would send browsers to or call is not a web
    /// address it accepts (`javascript:`, `data:`, or plain http:// where that
    /// is not allowed). Nothing is saved.
    #[error("Discovery failed: {}", .0.message())]
    UnsafeEndpoint(EndpointProblem),
}

impl DiscoveryError {
    pub fn code(&self) -> &'static str {
        match self {
            DiscoveryError::Fetch(_) => "discovery_unreachable",
            DiscoveryError::NotJson(_) => "discovery_not_json",
            DiscoveryError::IssuerMismatch { .. } => "discovery_issuer_mismatch",
            DiscoveryError::MissingEndpoint(_) => "discovery_incomplete",
            DiscoveryError::UnsafeEndpoint(_) => "discovery_unsafe_endpoint",
        }
    }
}

#[derive(Debug, Deserialize)]
struct ProviderMetadata {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    end_session_endpoint: Option<String>,
}

pub async fn discover(
    issuer: &str,
    policy: OutboundPolicy,
) -> Result<DiscoveredEndpoints, DiscoveryError> {
    let body = fetch_text(&discovery_url(issuer), policy).await?;
    let url_policy = IdpUrlPolicy::from_allow_private_urls(policy.allow_private_addresses);
    parse(issuer, &body, url_policy)
}

/// Checks a discovery document against the configured issuer, and every
/// endpoint against the rule for identity-provider addresses.
pub fn parse(
    issuer: &str,
    body: &str,
    url_policy: IdpUrlPolicy,
) -> Result<DiscoveredEndpoints, DiscoveryError> {
    let metadata: ProviderMetadata =
        serde_json::from_str(body).map_err(|e| DiscoveryError::NotJson(e.to_string()))?;
    let received = metadata.issuer.unwrap_or_default();
    if received != issuer.trim() {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.trim().to_string(),
            received,
        });
    }
    let endpoints = DiscoveredEndpoints {
        authorization_endpoint: metadata
            .authorization_endpoint
            .ok_or(DiscoveryError::MissingEndpoint("authorization_endpoint"))?,
        token_endpoint: metadata
            .token_endpoint
            .ok_or(DiscoveryError::MissingEndpoint("token_endpoint"))?,
        userinfo_endpoint: metadata.userinfo_endpoint,
        jwks_uri: metadata
            .jwks_uri
            .ok_or(DiscoveryError::MissingEndpoint("jwks_uri"))?,
        end_session_endpoint: metadata.end_session_endpoint,
    };
    check_endpoints(&endpoints, url_policy).map_err(DiscoveryError::UnsafeEndpoint)?;
    Ok(endpoints)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://idp.example.com";

    #[test]
    fn reads_the_endpoints_of_a_matching_issuer() {
        let body = r#"{"issuer":"https://idp.example.com","authorization_endpoint":"https://idp.example.com/auth","token_endpoint":"https://idp.example.com/token","userinfo_endpoint":"https://idp.example.com/me","jwks_uri":"https://idp.example.com/jwks"}"#;
        let found = parse(ISSUER, body, IdpUrlPolicy::HttpsOnly).unwrap();
        assert_eq!(found.token_endpoint, "https://idp.example.com/token");
        assert_eq!(
            found.userinfo_endpoint.as_deref(),
            Some("https://idp.example.com/me")
        );
    }

    #[test]
    fn refuses_other_issuers_non_json_and_missing_endpoints() {
        let other = r#"{"issuer":"https://evil.example.com","authorization_endpoint":"a","token_endpoint":"t","jwks_uri":"j"}"#;
        assert!(matches!(
            parse(ISSUER, other, IdpUrlPolicy::HttpsOnly),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
        assert!(matches!(
            parse(ISSUER, "<html>", IdpUrlPolicy::HttpsOnly),
            Err(DiscoveryError::NotJson(_))
        ));
        let partial = r#"{"issuer":"https://idp.example.com","authorization_endpoint":"a","token_endpoint":"t"}"#;
        assert_eq!(
            parse(ISSUER, partial, IdpUrlPolicy::HttpsOnly),
            Err(DiscoveryError::MissingEndpoint("jwks_uri"))
        );
    }

    #[test]
    fn refuses_endpoints_that_are_not_web_addresses() {
        let body = |authorize: &str| {
            serde_json::json!({
                "issuer": ISSUER,
                "authorization_endpoint": authorize,
                "token_endpoint": "https://idp.example.com/token",
                "jwks_uri": "https://idp.example.com/jwks",
            })
            .to_string()
        };
        for (authorize, policy, refused) in [
            (
                "javascript:alert(document.domain)",
                IdpUrlPolicy::HttpAllowed,
                true,
            ),
            ("data:text/html,x", IdpUrlPolicy::HttpAllowed, true),
            ("http://idp.example.com/auth", IdpUrlPolicy::HttpsOnly, true),
            (
                "http://idp.example.com/auth",
                IdpUrlPolicy::HttpAllowed,
                false,
            ),
        ] {
            let result = parse(ISSUER, &body(authorize), policy);
            match result {
                Err(DiscoveryError::UnsafeEndpoint(problem)) if refused => {
                    assert_eq!(problem.member, "authorization_endpoint");
                    assert_eq!(problem.value, authorize);
                }
                Ok(found) if !refused => assert_eq!(found.authorization_endpoint, authorize),
                other => panic!("{authorize} {policy:?}: {other:?}"),
            }
        }
    }
}
