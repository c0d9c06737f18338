//! Public SAML endpoints. So far the service-provider metadata IdPs can import.

use super::AppState;
use crate::connections::{store, PublicUrls};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use shared::Protocol;

pub fn router() -> Router<AppState> {
    Router::new().route("/sso/saml/{connection_id}/metadata", get(metadata))
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
    let urls = PublicUrls::new(&state.config.public_url);
    let xml = crate::saml::metadata::sp_metadata_xml(
        &urls.sp_entity_id(connection.id),
        &urls.acs_url(connection.id),
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
