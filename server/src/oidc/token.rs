//! The back channel: exchange the code (client secret and PKCE verifier), check
//! the ID token (signature against the JWKS, `iss`, `aud`, `azp`, `exp`, `iat`,
//! `nonce`; only asymmetric algorithms), then fill missing claims from UserInfo.

use super::http_client::OidcHttp;
use super::jwks::JwksCache;
use super::{OidcSettings, CLOCK_SKEW_SECS};
use crate::outbound::FetchError;
use chrono::{DateTime, Duration, Utc};
use openidconnect::core::{
    CoreClient, CoreErrorResponseType, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, JsonWebKeySet,
    Nonce, OAuth2TokenResponse, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    SignatureVerificationError, StandardErrorResponse, TokenUrl,
};
use serde_json::{Map, Value};
use shared::{Diagnosis, DiagnosisCode};

/// Only signatures made with the provider's private key count; `none` and the
/// HMAC family (keyed with the client secret, which we share) never do.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A person the provider vouched for: the ID token's `sub` and every claim
/// (ID token first, UserInfo filling what it lacks).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedLogin {
    pub subject: String,
    pub claims: Map<String, Value>,
    /// The ID token as received: the `id_token_hint` of a later logout.
    pub id_token: String,
}

/// What the callback brought back, with what we kept when the sign-in started.
pub struct CodeExchange<'a> {
    pub settings: &'a OidcSettings,
    pub code: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

/// Runs the back channel to the end.
pub async fn complete(
    exchange: CodeExchange<'_>,
    jwks: &JwksCache,
    http: &OidcHttp,
    now: DateTime<Utc>,
) -> Result<VerifiedLogin, Diagnosis> {
    let settings = exchange.settings;
    let tokens = exchange_code(&exchange, http).await?;
    let id_token = tokens
        .extra_fields()
        .id_token()
        .ok_or_else(|| invalid_token("id_token", "An ID token in the token response", "(none)"))?;
    let mut claims = verify_id_token(settings, id_token, &exchange.nonce, jwks, http, now).await?;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(userinfo) = &settings.endpoints.userinfo_endpoint {
        if lacks_profile(&claims) {
            let access_token = tokens.access_token().secret();
            let extra = userinfo_claims(userinfo, access_token, http).await?;
            merge_userinfo(&mut claims, extra, &subject)?;
        }
    }
    Ok(VerifiedLogin {
        subject,
        claims,
        id_token: compact_form(id_token),
    })
}

type TokenResponse_ = openidconnect::core::CoreTokenResponse;
type TokenError = RequestTokenError<FetchError, StandardErrorResponse<CoreErrorResponseType>>;

async fn exchange_code(
    exchange: &CodeExchange<'_>,
    http: &OidcHttp,
) -> Result<TokenResponse_, Diagnosis> {
    let settings = exchange.settings;
    let not_configured = |what: &str, e: &dyn std::fmt::Display| {
        Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
            .with_expected(format!("A valid {what}"))
            .with_received(e.to_string())
    };
    let issuer =
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| not_configured("Issuer URL", &e))?;
    let token_url = TokenUrl::new(settings.endpoints.token_endpoint.clone())
        .map_err(|e| not_configured("token endpoint", &e))?;
    let redirect = RedirectUrl::new(settings.redirect_uri.clone())
        .map_err(|e| not_configured("Redirect URI", &e))?;
    let client = CoreClient::new(
        ClientId::new(settings.client_id.clone()),
        issuer,
        JsonWebKeySet::default(),
    )
    .set_client_secret(ClientSecret::new(settings.client_secret.clone()))
    .set_token_uri(token_url)
    .set_redirect_uri(redirect);
    client
        .exchange_code(AuthorizationCode::new(exchange.code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.clone()))
        .request_async(http)
        .await
        .map_err(|e| token_error(e, settings))
}

/// The token endpoint's refusal, in the terms of the setting to fix.
fn token_error(error: TokenError, settings: &OidcSettings) -> Diagnosis {
    let endpoint = &settings.endpoints.token_endpoint;
    match error {
        RequestTokenError::ServerResponse(response) => {
            let error = response.error().as_ref().to_string();
            let received = match response.error_description() {
                Some(description) => format!("{error}: {description}"),
                None => error.clone(),
            };
            let code = match response.error() {
                CoreErrorResponseType::InvalidClient
                | CoreErrorResponseType::UnauthorizedClient => DiagnosisCode::InvalidClient,
                _ if received.contains("redirect_uri") => DiagnosisCode::RedirectUriMismatch,
                _ => DiagnosisCode::TokenRequestFailed,
            };
            let expected = match code {
                DiagnosisCode::InvalidClient => format!(
                    "The provider accepts Client ID {} with the saved Client Secret",
                    settings.client_id
                ),
                DiagnosisCode::RedirectUriMismatch => format!(
                    "{} registered as a redirect URI at the provider",
                    settings.redirect_uri
                ),
                _ => format!("Tokens from {endpoint}"),
            };
            Diagnosis::new(code)
                .with_expected(expected)
                .with_received(received)
        }
        RequestTokenError::Request(fetch) => Diagnosis::new(DiagnosisCode::TokenRequestFailed)
            .with_expected(format!("An answer from the token endpoint {endpoint}"))
            .with_received(fetch.to_string()),
        // The body may hold tokens: say what was wrong with it, never what it was.
        RequestTokenError::Parse(parse, _) => Diagnosis::new(DiagnosisCode::TokenRequestFailed)
            .with_expected("A token response in JSON (RFC 6749 §5.1) with an ID token")
            .with_received(format!("An answer that could not be read: {parse}")),
        RequestTokenError::Other(other) => Diagnosis::new(DiagnosisCode::TokenRequestFailed)
            .with_expected(format!("Tokens from {endpoint}"))
            .with_received(other),
    }
}

async fn verify_id_token(
    settings: &OidcSettings,
    id_token: &CoreIdToken,
    nonce: &str,
    jwks: &JwksCache,
    http: &OidcHttp,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Diagnosis> {
    let compact = compact_form(id_token);
    let (header, payload) = unverified_parts(&compact);
    let jwks_uri = &settings.endpoints.jwks_uri;
    let mut keys = jwks.get(jwks_uri, http).await?;
    let mut asked_again = false;
    loop {
        let error = match id_token.claims(
            &verifier(settings, keys, now),
            &Nonce::new(nonce.to_string()),
        ) {
            Ok(_) => break,
            Err(error) => error,
        };
        // The provider may have rotated its keys since we fetched them: ask
        // once, unless another token made us ask moments ago.
        let unknown_kid = matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            )
        );
        if unknown_kid && !asked_again {
            asked_again = true;
            if let Some(fresh) = jwks.refresh_for_unknown_kid(jwks_uri, http).await? {
                keys = fresh;
                continue;
            }
        }
        return Err(claims_error(error, settings, &header, &payload));
    }
    check_authorized_party(&payload, &settings.client_id)?;
    Ok(payload)
}

fn verifier(
    settings: &OidcSettings,
    keys: CoreJsonWebKeySet,
    now: DateTime<Utc>,
) -> CoreIdTokenVerifier<'static> {
    let skew = Duration::seconds(CLOCK_SKEW_SECS);
    CoreIdTokenVerifier::new_public_client(
        ClientId::new(settings.client_id.clone()),
        IssuerUrl::new(settings.issuer.clone())
            .unwrap_or_else(|_| IssuerUrl::new("https://invalid.invalid".into()).expect("valid")),
        keys,
    )
    .set_allowed_algs(ALLOWED_ALGS)
    // `exp` is compared with "now"; the skew lets a token expire that much late.
    .set_time_fn(move || now - skew)
    .set_issue_time_verifier_fn(move |iat| {
        if iat > now + skew {
            Err(format!("issued in the future ({iat})"))
        } else {
            Ok(())
        }
    })
}

/// `azp`, when present, must be us (OpenID Connect Core §3.1.3.7, step 5).
fn check_authorized_party(payload: &Map<String, Value>, client_id: &str) -> Result<(), Diagnosis> {
    match payload.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != client_id => Err(invalid_token(
            "azp",
            format!("azp {client_id} (this connection's Client ID)"),
            format!("azp {azp}"),
        )),
        _ => Ok(()),
    }
}

/// Says which check failed, with the value expected and the one received.
fn claims_error(
    error: ClaimsVerificationError,
    settings: &OidcSettings,
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
) -> Diagnosis {
    let claim = |name: &str| match payload.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "(none)".to_string(),
    };
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    use ClaimsVerificationError as E;
    use SignatureVerificationError as S;
    match error {
        E::InvalidNonce(_) => Diagnosis::new(DiagnosisCode::NonceMismatch)
            .with_expected("The nonce Latchkey sent when this sign-in started")
            .with_received(format!("nonce {}", claim("nonce"))),
        E::InvalidIssuer(_) => invalid_token(
            "iss",
            format!("iss {}", settings.issuer),
            format!("iss {}", claim("iss")),
        ),
        E::InvalidAudience(_) => invalid_token(
            "aud",
            format!("aud {} (this connection's Client ID)", settings.client_id),
            format!("aud {}", claim("aud")),
        ),
        E::Expired(why) if why.contains("issued in the future") => invalid_token(
            "iat",
            "A token issued before now (2 minutes of clock skew allowed)",
            format!("iat {}", time_claim(payload, "iat")),
        ),
        E::Expired(_) => invalid_token(
            "exp",
            "A token that has not expired (2 minutes of clock skew allowed)",
            format!("exp {}", time_claim(payload, "exp")),
        ),
        E::SignatureVerification(S::NoSignature | S::DisallowedAlg(_) | S::UnsupportedAlg(_)) => {
            invalid_token(
                "alg",
                "A signature made with the provider's private key (RS256, ES256, PS256, EdDSA…)",
                format!("alg {alg}"),
            )
        }
        E::SignatureVerification(S::NoMatchingKey) => invalid_token(
            "kid",
            format!("A key published at {}", settings.endpoints.jwks_uri),
            format!(
                "kid {} (not among the keys published there now)",
                header
                    .get("kid")
                    .and_then(Value::as_str)
                    .unwrap_or("(none)")
            ),
        ),
        E::SignatureVerification(other) => invalid_token(
            "signature",
            "A signature made with one of the provider's published keys",
            format!("A signature that does not verify ({other})"),
        ),
        other => invalid_token("claims", "A well-formed ID token", other.to_string()),
    }
}

fn invalid_token(
    check: &str,
    expected: impl Into<String>,
    received: impl Into<String>,
) -> Diagnosis {
    Diagnosis::new(DiagnosisCode::IdTokenInvalid)
        .with_detail(format!("The {check} check failed."))
        .with_expected(expected)
        .with_received(received)
}

fn time_claim(payload: &Map<String, Value>, name: &str) -> String {
    payload
        .get(name)
        .and_then(Value::as_i64)
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .map(|t| shared::time::format_utc(t.timestamp()))
        .unwrap_or_else(|| "(none)".into())
}

/// The token as the provider sent it: `header.payload.signature`.
fn compact_form(id_token: &CoreIdToken) -> String {
    match serde_json::to_value(id_token) {
        Ok(Value::String(compact)) => compact,
        _ => String::new(),
    }
}

/// The header and payload, read without checking anything; used only to say
/// what was received, and as the claims once the checks have passed.
fn unverified_parts(compact: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut parts = compact.split('.');
    let mut decode = || -> Map<String, Value> {
        use base64::Engine;
        parts
            .next()
            .and_then(|part| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(part.trim_end_matches('='))
                    .ok()
            })
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    };
    let header = decode();
    let payload = decode();
    (header, payload)
}

/// Whether the ID token lacks the email or every name claim.
fn lacks_profile(claims: &Map<String, Value>) -> bool {
    let has = |name: &str| claims.get(name).is_some_and(|v| !v.is_null());
    !has("email") || !(has("given_name") || has("family_name") || has("name"))
}

async fn userinfo_claims(
    endpoint: &str,
    access_token: &str,
    http: &OidcHttp,
) -> Result<Map<String, Value>, Diagnosis> {
    let failed = |why: String| {
        Diagnosis::new(DiagnosisCode::TokenRequestFailed)
            .with_expected(format!("Claims from the UserInfo endpoint {endpoint}"))
            .with_received(why)
    };
    let request = http::Request::get(endpoint)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {access_token}"),
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| failed(e.to_string()))?;
    let response = crate::outbound::send(request, http.0)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!(
            "HTTP status {}",
            response.status().as_u16()
        )));
    }
    serde_json::from_slice(response.body())
        .map_err(|_| failed("An answer that is not a JSON object".to_string()))
}

/// UserInfo fills the claims the ID token lacks; it must be about the same `sub`.
fn merge_userinfo(
    claims: &mut Map<String, Value>,
    userinfo: Map<String, Value>,
    subject: &str,
) -> Result<(), Diagnosis> {
    let userinfo_subject = userinfo.get("sub").and_then(Value::as_str).unwrap_or("");
    if userinfo_subject != subject {
        return Err(invalid_token(
            "UserInfo sub",
            format!("sub {subject} (the ID token's subject)"),
            format!("sub {userinfo_subject}"),
        ));
    }
    for (name, value) in userinfo {
        claims.entry(name).or_insert(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn userinfo_fills_gaps_but_never_overrides_or_changes_subject() {
        let mut claims = map(json!({"sub": "u1", "email": "a@x.test"}));
        merge_userinfo(
            &mut claims,
            map(json!({"sub": "u1", "email": "b@x.test", "given_name": "Ada"})),
            "u1",
        )
        .unwrap();
        assert_eq!(claims["email"], "a@x.test");
        assert_eq!(claims["given_name"], "Ada");
        let refused = merge_userinfo(&mut claims, map(json!({"sub": "u2"})), "u1").unwrap_err();
        assert_eq!(refused.code, DiagnosisCode::IdTokenInvalid);
    }

    #[test]
    fn azp_must_be_the_client_when_present() {
        assert!(check_authorized_party(&map(json!({})), "me").is_ok());
        assert!(check_authorized_party(&map(json!({"azp": "me"})), "me").is_ok());
        let refused = check_authorized_party(&map(json!({"azp": "other"})), "me").unwrap_err();
        assert_eq!(refused.received.as_deref(), Some("azp other"));
    }

    #[test]
    fn reads_header_and_payload_without_trusting_them() {
        let (header, payload) =
            unverified_parts("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSIsImlhdCI6MX0.");
        assert_eq!(header["alg"], "none");
        assert_eq!(payload["sub"], "u1");
        let (header, payload) = unverified_parts("not a token");
        assert!(header.is_empty() && payload.is_empty());
    }

    #[test]
    fn lacks_profile_when_email_or_every_name_is_missing() {
        assert!(lacks_profile(&map(json!({"name": "A B"}))));
        assert!(lacks_profile(&map(json!({"email": "a@x.test"}))));
        assert!(!lacks_profile(&map(
            json!({"email": "a@x.test", "name": "A"})
        )));
    }
}
