//! The authorization request: code flow with PKCE (S256), `state` and `nonce`.

use super::OidcSettings;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthUrl, ClientId, CsrfToken, IssuerUrl, JsonWebKeySet, Nonce, PkceCodeChallenge, RedirectUrl,
    Scope,
};
use rand::RngCore;

/// A sign-in about to leave for the provider. `state` doubles as the pending
/// request's ID; `nonce` and `pkce_verifier` are kept on our side.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// 128 random bits, URL-safe.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Builds the URL; fails with what is wrong when a saved URL cannot be used.
pub fn authorization_request(settings: &OidcSettings) -> Result<AuthorizationRequest, String> {
    let issuer = IssuerUrl::new(settings.issuer.clone())
        .map_err(|e| format!("The Issuer URL is not valid: {e}"))?;
    let auth_url = AuthUrl::new(settings.endpoints.authorization_endpoint.clone())
        .map_err(|e| format!("The authorization endpoint is not valid: {e}"))?;
    let redirect = RedirectUrl::new(settings.redirect_uri.clone())
        .map_err(|e| format!("The Redirect URI is not valid: {e}"))?;
    let client = CoreClient::new(
        ClientId::new(settings.client_id.clone()),
        issuer,
        JsonWebKeySet::default(),
    )
    .set_auth_uri(auth_url)
    .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (state, nonce) = (random_token(), random_token());
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok(AuthorizationRequest {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::doctor::DiscoveredEndpoints;

    #[test]
    fn asks_for_a_code_with_pkce_state_and_nonce() {
        let settings = OidcSettings {
            issuer: "https://idp.example.com".into(),
            client_id: "client-1".into(),
            client_secret: "secret".into(),
            redirect_uri: "https://sp.example.com/sso/oidc/1/callback".into(),
            endpoints: DiscoveredEndpoints {
                authorization_endpoint: "https://idp.example.com/auth".into(),
                token_endpoint: "https://idp.example.com/token".into(),
                userinfo_endpoint: None,
                jwks_uri: "https://idp.example.com/jwks".into(),
                end_session_endpoint: None,
            },
        };
        let request = authorization_request(&settings).unwrap();
        let url = url::Url::parse(&request.url).unwrap();
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "client-1");
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["state"], request.state);
        assert_eq!(query["nonce"], request.nonce);
        assert_eq!(query["scope"], "openid email profile");
        assert!(!url.as_str().contains(&request.pkce_verifier));
        assert!(!url.as_str().contains("secret"));
        assert_ne!(request.state, request.nonce);
        assert_eq!(request.state.len(), 22);
    }
}
