//! Starting SSO from the browser: the Test Connection popup's first stop.

use super::{plain_page, AppState};
use crate::accounts::find_organization;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/sso/test/{connection_id}", get(start_test))
}

/// `GET /sso/test/{connection_id}`: an Integrations Admin's Test Connection.
/// Goes to the IdP; if the connection cannot start, the popup reports why.
async fn start_test(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let user = match app::ssr::session_token_in(&headers) {
        Some(token) => state.backend.0.session_user(&token).await.ok().flatten(),
        None => None,
    };
    let Some(user) = user else {
        let next = format!("/sso/test/{connection_id}");
        return Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response();
    };
    if !user.role.is_integrations_admin() {
        return plain_page::forbidden("Only an Integrations Admin can test a connection.");
    }
    let connection = match find_organization(&state.db, &user.org_slug).await {
        Ok(Some(org)) => state.sso.connection_in_org(org.id, &connection_id).await,
        Ok(None) => Ok(None),
        Err(error) => Err(error),
    };
    let connection = match connection {
        Ok(Some(connection)) => connection,
        Ok(None) => {
            return plain_page::not_found("Your organization has no connection with this ID.")
        }
        Err(error) => {
            tracing::error!(%error, "test start failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let admin_id = user.user_id.parse().unwrap_or_default();
    match state.sso.start_test(&connection, admin_id).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(crate::sso::service::StartError::NotConfigured(diagnosis)) => {
            match state
                .sso
                .record_test_not_started(&connection, diagnosis)
                .await
            {
                Ok(event_id) => plain_page::test_finished(
                    &event_id.to_string(),
                    &state.config.public_url.origin().ascii_serialization(),
                    &connection_id,
                ),
                Err(error) => {
                    tracing::error!(%error, "test event failed");
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                }
            }
        }
        Err(error) => {
            tracing::error!(%error, "test start failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
