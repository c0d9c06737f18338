//! Binds each pending sign-in to the browser that started it, against login
//! CSRF: an attacker who starts a sign-in as themselves and hands the victim's
//! browser the identity provider's answer (an auto-posting SAML form, an OIDC
//! callback link) would otherwise sign the victim in as the attacker.
//!
//! Starting a sign-in sets an HttpOnly cookie, named after the request, whose
//! value is a random secret; the pending request keeps only the secret's
//! SHA-256. The ACS or callback accepts the answer only from a browser whose
//! cookie hashes to it: knowing the request ID (it travels in URLs and forms)
//! is not enough, and neither is a cookie with the right name.

use super::requests::{PendingRequest, REQUEST_LIFETIME};
use axum::http::{header, HeaderMap};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use uuid::Uuid;

/// Which answer the cookie is for; each is sent only to its own endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Saml,
    Oidc,
}

impl Flow {
    fn prefix(self) -> &'static str {
        match self {
            Flow::Saml => "lk_saml_",
            Flow::Oidc => "lk_oidc_",
        }
    }

    fn path(self, connection: Uuid) -> String {
        match self {
            Flow::Saml => format!("/sso/saml/{connection}/acs"),
            Flow::Oidc => format!("/sso/oidc/{connection}/callback"),
        }
    }

    /// The OIDC callback is a top-level GET redirect, which `SameSite=Lax`
    /// cookies follow. The SAML response arrives as a cross-site POST from the
    /// identity provider's page, which only `SameSite=None` cookies follow,
    /// and browsers keep those only with `Secure` — so over https the cookie
    /// is `SameSite=None; Secure`. Over plain http (local development) it has
    /// no SameSite attribute: browsers then apply their default (Lax in
    /// Chromium), which still follows the POST when the identity provider is
    /// on the same site (e.g. another port of 127.0.0.1); a cross-site
    /// identity provider needs https. The binding is checked either way.
    fn same_site(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Flow::Oidc, true) => "; SameSite=Lax; Secure",
            (Flow::Oidc, false) => "; SameSite=Lax",
            (Flow::Saml, true) => "; SameSite=None; Secure",
            (Flow::Saml, false) => "",
        }
    }
}

/// A new browser secret for a sign-in about to start.
pub struct Issued {
    /// The cookie value; never stored.
    pub secret: String,
    /// What the pending request keeps.
    pub hash: String,
}

pub fn issue() -> Issued {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Issued {
        hash: hash(&secret),
        secret,
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The cookie's name: one per request, so sign-ins in several tabs (or a
/// Test Connection popup) do not overwrite each other's.
pub fn cookie_name(flow: Flow, request_id: &str) -> String {
    // Request IDs we issue are URL-safe; anything else never matches a cookie.
    let safe: String = request_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    format!("{}{safe}", flow.prefix())
}

/// The `Set-Cookie` value that binds the request to this browser.
pub fn set_cookie(
    flow: Flow,
    connection: Uuid,
    request_id: &str,
    secret: &str,
    secure: bool,
) -> String {
    format!(
        "{}={secret}; Path={}; Max-Age={}; HttpOnly{}",
        cookie_name(flow, request_id),
        flow.path(connection),
        REQUEST_LIFETIME.num_seconds(),
        flow.same_site(secure),
    )
}

/// Clears the cookie once its request has been answered.
pub fn clear_cookie(flow: Flow, connection: Uuid, request_id: &str, secure: bool) -> String {
    format!(
        "{}=; Path={}; Max-Age=0; HttpOnly{}",
        cookie_name(flow, request_id),
        flow.path(connection),
        flow.same_site(secure),
    )
}

/// Our sign-in cookies from a request's `Cookie` headers (nothing else is kept).
#[derive(Debug, Clone, Default)]
pub struct BrowserCookies(HashMap<String, String>);

impl BrowserCookies {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let ours = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| name.starts_with("lk_"))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Self(ours)
    }

    pub fn has(&self, flow: Flow, request_id: &str) -> bool {
        self.0.contains_key(&cookie_name(flow, request_id))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Why a browser is not the one that started the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The browser sent no cookie for this request.
    Missing,
    /// It sent one, with another browser's secret (or a made-up one).
    Different,
}

/// Whether the browser holds the secret of this pending request.
pub fn check(
    pending: &PendingRequest,
    flow: Flow,
    cookies: &BrowserCookies,
) -> Result<(), Mismatch> {
    let Some(secret) = cookies.get(&cookie_name(flow, &pending.id)) else {
        return Err(Mismatch::Missing);
    };
    // A request stored without a hash (before this check existed) matches no browser.
    match &pending.browser_binding {
        Some(stored) if *stored == hash(secret) => Ok(()),
        _ => Err(Mismatch::Different),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sso::requests::Purpose;

    fn pending(binding: Option<String>) -> PendingRequest {
        PendingRequest {
            id: "_lkabc".into(),
            connection_id: Uuid::nil(),
            purpose: Purpose::SignIn,
            admin_user_id: None,
            return_to: "/".into(),
            nonce: None,
            pkce_verifier: None,
            browser_binding: binding,
        }
    }

    fn cookies(header_value: &str) -> BrowserCookies {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, header_value.parse().unwrap());
        BrowserCookies::from_headers(&headers)
    }

    #[test]
    fn only_the_browser_with_the_secret_matches() {
        let issued = issue();
        assert_ne!(issued.secret, issued.hash);
        assert_eq!(issued.hash.len(), 64);
        let request = pending(Some(issued.hash.clone()));
        let mine = cookies(&format!("a=b; lk_saml__lkabc={}", issued.secret));
        assert_eq!(check(&request, Flow::Saml, &mine), Ok(()));
        // The right cookie for the other protocol's endpoint does not count.
        assert_eq!(check(&request, Flow::Oidc, &mine), Err(Mismatch::Missing));
        let other = cookies(&format!("lk_saml__lkabc={}", issue().secret));
        assert_eq!(
            check(&request, Flow::Saml, &other),
            Err(Mismatch::Different)
        );
        // The hash itself is not the secret.
        let copied_hash = cookies(&format!("lk_saml__lkabc={}", issued.hash));
        assert_eq!(
            check(&request, Flow::Saml, &copied_hash),
            Err(Mismatch::Different)
        );
        assert_eq!(
            check(&request, Flow::Saml, &cookies("x=1")),
            Err(Mismatch::Missing)
        );
        let unbound = pending(None);
        assert_eq!(check(&unbound, Flow::Saml, &mine), Err(Mismatch::Different));
    }

    #[test]
    fn saml_cookies_follow_the_cross_site_post_only_over_https() {
        let id = Uuid::nil();
        let https = set_cookie(Flow::Saml, id, "_lkabc", "s3cret", true);
        assert_eq!(
            https,
            format!("lk_saml__lkabc=s3cret; Path=/sso/saml/{id}/acs; Max-Age=600; HttpOnly; SameSite=None; Secure")
        );
        let http = set_cookie(Flow::Saml, id, "_lkabc", "s3cret", false);
        assert!(
            !http.contains("SameSite") && !http.contains("Secure"),
            "{http}"
        );
        let oidc = set_cookie(Flow::Oidc, id, "st4te", "s3cret", false);
        assert_eq!(
            oidc,
            format!("lk_oidc_st4te=s3cret; Path=/sso/oidc/{id}/callback; Max-Age=600; HttpOnly; SameSite=Lax")
        );
        assert!(clear_cookie(Flow::Saml, id, "_lkabc", true).contains("Max-Age=0"));
    }

    #[test]
    fn cookie_names_keep_only_request_id_characters() {
        assert_eq!(cookie_name(Flow::Oidc, "a b;c=d\u{0}"), "lk_oidc_abcd");
    }
}
