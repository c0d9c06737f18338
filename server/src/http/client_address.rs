//! Works out each request's client address once, before any handler runs:
//! sign-in throttling, sessions and the audit log all read it from here.

use crate::config::Config;
use app::ssr::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

pub async fn resolve(
    State(config): State<Arc<Config>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let forwarded = request
            .headers()
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok());
        let client = config.trusted_proxies.client_address(peer, forwarded);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

/// The address `resolve` found, for plain axum handlers.
pub fn of(parts: &axum::http::request::Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ClientAddress>()
        .map(|address| address.0)
}
