//! Cross-site request forgery guard for server functions.
//!
//! SameSite=Lax already keeps the session cookie off cross-site POSTs; this adds a
//! second, independent wall: a browser's state-changing request must come from our
//! own origin. Browsers say so in `Sec-Fetch-Site` (or, older ones, `Origin`).
//! Requests with neither come from non-browser clients, which hold no victim's cookies.

use crate::config::Config;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn refuse_cross_site_writes(
    State(config): State<Arc<Config>>,
    request: Request,
    next: Next,
) -> Response {
    if is_guarded(&request) && is_cross_site(request.headers(), &config) {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
        return (
            StatusCode::FORBIDDEN,
            "Cross-site request refused: this action must come from Latchkey's own pages.",
        )
            .into_response();
    }
    next.run(request).await
}

/// Server functions (under /api) change state; protocol endpoints that accept
/// cross-site posts by design (the SAML ACS) live elsewhere.
fn is_guarded(request: &Request) -> bool {
    !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && request.uri().path().starts_with("/api/")
}

/// Whether a browser says the request comes from another site. Requests
/// with neither header come from non-browser clients.
pub(super) fn is_cross_site(headers: &HeaderMap, config: &Config) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    match headers.get("origin").map(|o| o.to_str()) {
        Some(Ok(origin)) => origin != config.public_origin() && !matches_host(headers, origin),
        Some(Err(_)) => true,
        None => false,
    }
}

/// Accepts an `Origin` naming the host the request was sent to, so that a server
/// reached by another name than its public URL (e.g. localhost) still works.
fn matches_host(headers: &HeaderMap, origin: &str) -> bool {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let without_scheme = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    !host.is_empty() && without_scheme == Some(host)
}
