//! Public SAML endpoints: the service-provider metadata IdPs import, and the
//! Assertion Consumer Service.

use super::AppState;
use crate::connections::{sp_keys, store, PublicUrls};
use crate::sso::binding::{BrowserCookies, Flow};
use crate::sso::saml_flow::AcsForm;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use shared::Protocol;
use tower_http::limit::RequestBodyLimitLayer;

/// The largest ACS request body: a 256 KB response, base64- and form-encoded.
pub const MAX_ACS_BODY_BYTES: usize = 512 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/saml/{connection_id}/metadata", get(metadata))
        .route(
            "/sso/saml/{connection_id}/acs",
            post(acs).layer(RequestBodyLimitLayer::new(MAX_ACS_BODY_BYTES)),
        )
}

/// `GET /sso/saml/{connection_id}/metadata`: our entity ID and ACS for this connection.
async fn metadata(State(state): State<AppState>, Path(connection_id): Path<String>) -> Response {
    let found = match store::find_any(&state.db, &connection_id).await {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "metadata lookup failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(connection) = found.filter(|c| c.protocol == Protocol::Saml.key()) else {
        return (StatusCode::NOT_FOUND, "No SAML connection has this ID.").into_response();
    };
    let keys = match sp_keys::ensure(&state.db, &state.secrets, connection.id).await {
        Ok(keys) => keys,
        Err(error) => {
            tracing::error!(%error, "SAML keys unavailable");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let urls = PublicUrls::new(&state.config.public_url);
    let xml = crate::saml::metadata::sp_metadata_xml(
        &urls.sp_entity_id(connection.id),
        &urls.acs_url(connection.id),
        &urls.slo_url(connection.id),
        &sp_keys::metadata_keys(&keys, connection.saml_sign_requests),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/samlmetadata+xml; charset=utf-8",
        )],
        xml,
    )
        .into_response()
}

/// `POST /sso/saml/{connection_id}/acs`: where the IdP posts the SAMLResponse.
async fn acs(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Response {
    // A body that is not a form is treated as an empty one: the diagnosis says what is missing.
    let form: AcsForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let client_ip = super::client_address::of(&parts);
    let cookies = BrowserCookies::from_headers(&parts.headers);
    // SP-initiated, the RelayState is our request ID (and names its cookie).
    let request_id = form.relay_state.clone();
    let started = std::time::Instant::now();
    let completed = state
        .sso
        .complete_saml(&connection_id, form, &cookies, client_ip)
        .await;
    crate::metrics::record_acs(started.elapsed());
    let outcome = match completed {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "ACS failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut response = super::sso::respond(&state, &connection_id, outcome);
    super::sso::clear_binding(
        &mut response,
        &state,
        Flow::Saml,
        &connection_id,
        request_id,
        &cookies,
    );
    response
}
