//! Response headers every page gets, and the Content-Security-Policy of the
//! HTML pages.
//!
//! Each request gets a fresh script nonce; the Leptos shell puts it on the
//! hydration scripts (through `leptos::nonce::Nonce` in the page context), so
//! no script runs on our origin unless we wrote it into this very response.
//! A stored address that slipped past every other check (a `javascript:` URL,
//! markup in an IdP's name) therefore still runs nothing.

use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

/// The script nonce of one response (base64 of 16 random bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(STANDARD.encode(bytes))
    }
}

/// The policy of a page whose scripts carry `script_source` (`'nonce-…'` or
/// `'sha256-…'`). WebAssembly compilation needs `'wasm-unsafe-eval'` (it
/// allows compiling WASM, not `eval` of JavaScript). Styles may be inline:
/// Leptos and the plain pages set style attributes, and CSS cannot run script.
pub fn policy(script_source: &str) -> String {
    [
        "default-src 'self'".to_string(),
        format!("script-src 'self' {script_source} 'wasm-unsafe-eval'"),
        "style-src 'self' 'unsafe-inline'".to_string(),
        "img-src 'self' data:".to_string(),
        "connect-src 'self'".to_string(),
        "object-src 'none'".to_string(),
        "base-uri 'none'".to_string(),
        "frame-ancestors 'none'".to_string(),
    ]
    .join("; ")
}

/// Hands this request's nonce to the page being rendered, in place of the one
/// leptos_axum made up: the hydration scripts then carry the nonce that the
/// response's policy names.
pub fn provide_page_nonce() {
    let nonce = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(nonce) = nonce {
        leptos::prelude::provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
}

pub async fn security_headers(mut request: Request, next: Next) -> Response {
    let nonce = CspNonce::generate();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let headers = response.headers_mut();
    if is_html {
        let csp = policy(&format!("'nonce-{}'", nonce.0));
        if let Ok(value) = HeaderValue::from_str(&csp) {
            // A page with its own policy (the plain pages hash their one script) keeps it.
            headers
                .entry(header::CONTENT_SECURITY_POLICY)
                .or_insert(value);
        }
    }
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_our_scripts_and_no_framing() {
        let csp = policy("'nonce-abc'");
        let directives: Vec<&str> = csp.split("; ").collect();
        assert_eq!(
            directives,
            [
                "default-src 'self'",
                "script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'",
                "style-src 'self' 'unsafe-inline'",
                "img-src 'self' data:",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'none'",
                "frame-ancestors 'none'",
            ]
        );
    }

    #[test]
    fn every_nonce_is_new() {
        let (a, b) = (CspNonce::generate(), CspNonce::generate());
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(&a.0).unwrap().len(), 16);
    }
}
