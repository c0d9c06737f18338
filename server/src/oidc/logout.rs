//! Logout with an OpenID Provider: RP-initiated logout (sending the member
//! to the provider's `end_session_endpoint`) and the provider's back-channel
//! logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6).

use super::http_client::OidcHttp;
use super::jwks::JwksCache;
use super::{OidcSettings, CLOCK_SKEW_SECS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey;
use serde_json::{Map, Value};
use url::Url;

const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The longest logout token read.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// How old a logout token may be (it is sent as the session ends).
const MAX_AGE_SECS: i64 = 600;

/// Where to send the member to end their session at the provider.
pub struct EndSession<'a> {
    pub endpoint: &'a str,
    pub id_token_hint: Option<&'a str>,
    pub client_id: &'a str,
    /// Our URL the provider sends the member back to.
    pub post_logout_redirect_uri: &'a str,
    pub state: &'a str,
}

pub fn end_session_url(request: &EndSession<'_>) -> Result<Url, url::ParseError> {
    let mut url = Url::parse(request.endpoint)?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(hint) = request.id_token_hint {
            query.append_pair("id_token_hint", hint);
        }
        query
            .append_pair("client_id", request.client_id)
            .append_pair("post_logout_redirect_uri", request.post_logout_redirect_uri)
            .append_pair("state", request.state);
    }
    Ok(url)
}

/// Whom a verified logout token names: a session (`sid`), a subject, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub subject: Option<String>,
    pub sid: Option<String>,
    /// The token's ID, remembered so that it is acted on once.
    pub jti: Option<String>,
}

/// Why a logout token was refused; answered as `invalid_request` with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("the logout token is not a signed JWT")]
    Malformed,
    #[error("the logout token is signed with {0}, which is not accepted")]
    Algorithm(String),
    #[error("no key of the provider's JWKS verifies the logout token")]
    Signature,
    #[error("the provider's keys could not be read: {0}")]
    Keys(String),
    #[error("the logout token's {0} is wrong")]
    Claim(&'static str),
}

/// Verifies a logout token the connection's provider POSTed (§2.6): the
/// signature by a key of its JWKS, `iss`, `aud`, `iat`, the logout event,
/// no `nonce`, and a `sub` or `sid`.
pub async fn verify_logout_token(
    settings: &OidcSettings,
    token: &str,
    jwks: &JwksCache,
    http: &OidcHttp,
    now: DateTime<Utc>,
) -> Result<LogoutClaims, LogoutTokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(LogoutTokenError::Malformed);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(LogoutTokenError::Malformed);
    };
    let header: Map<String, Value> = decode(header).ok_or(LogoutTokenError::Malformed)?;
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some("RS384") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
        Some("RS512") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
        Some("ES256") => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        Some("PS256") => CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        other => {
            return Err(LogoutTokenError::Algorithm(
                other.unwrap_or("nothing").to_string(),
            ))
        }
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| LogoutTokenError::Malformed)?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    let kid = header.get("kid").and_then(Value::as_str);
    let verifies = |key: &CoreJsonWebKey| {
        kid.is_none_or(|kid| key.key_id().is_some_and(|k| k.as_str() == kid))
            && key
                .verify_signature(&algorithm, signed.as_bytes(), &signature)
                .is_ok()
    };
    let uri = &settings.endpoints.jwks_uri;
    let keys = jwks
        .get(uri, http)
        .await
        .map_err(|d| LogoutTokenError::Keys(d.code.to_string()))?;
    if !keys.keys().iter().any(verifies) {
        // The provider may have rotated its keys since they were fetched.
        let fresh = jwks
            .refresh_for_unknown_kid(uri, http)
            .await
            .map_err(|d| LogoutTokenError::Keys(d.code.to_string()))?;
        if !fresh.is_some_and(|keys| keys.keys().iter().any(verifies)) {
            return Err(LogoutTokenError::Signature);
        }
    }
    let claims: Map<String, Value> = decode(payload).ok_or(LogoutTokenError::Malformed)?;
    check_claims(settings, &claims, now)
}

fn check_claims(
    settings: &OidcSettings,
    claims: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<LogoutClaims, LogoutTokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    if text("iss").as_deref() != Some(settings.issuer.trim()) {
        return Err(LogoutTokenError::Claim("iss"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == &settings.client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(&settings.client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(LogoutTokenError::Claim("aud"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(LogoutTokenError::Claim("iat"))?;
    let age = now.timestamp() - iat;
    if !(-CLOCK_SKEW_SECS..=MAX_AGE_SECS).contains(&age) {
        return Err(LogoutTokenError::Claim("iat"));
    }
    if let Some(exp) = claims.get("exp").and_then(Value::as_i64) {
        if now.timestamp() - CLOCK_SKEW_SECS > exp {
            return Err(LogoutTokenError::Claim("exp"));
        }
    }
    let has_event = claims
        .get("events")
        .and_then(Value::as_object)
        .is_some_and(|events| {
            events
                .get(BACKCHANNEL_LOGOUT_EVENT)
                .is_some_and(Value::is_object)
        });
    if !has_event {
        return Err(LogoutTokenError::Claim("events"));
    }
    // A nonce would make it an ID token that could be replayed as a logout.
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Claim("nonce"));
    }
    let found = LogoutClaims {
        subject: text("sub"),
        sid: text("sid"),
        jti: text("jti"),
    };
    if found.subject.is_none() && found.sid.is_none() {
        return Err(LogoutTokenError::Claim("sub or sid"));
    }
    Ok(found)
}

fn decode(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}
