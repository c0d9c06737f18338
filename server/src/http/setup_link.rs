//! `/setup/{token}`: where a setup link lands. The GET only explains; the
//! POST (from this page only) uses the link and signs the new Integrations
//! Admin in on Settings > Authentication.

use super::{csrf, plain_page, AppState};
use crate::provider::setup_links::{self, SetupLinkError};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/setup/{token}", get(invitation).post(accept))
}

fn unusable(error: SetupLinkError) -> Response {
    match error {
        SetupLinkError::Database(detail) => {
            tracing::error!(%detail, "setup link failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        error => plain_page::setup_link_unusable(&sentence(&error)),
    }
}

/// The error as a sentence: capitalized, with a full stop.
fn sentence(error: &SetupLinkError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => text,
    }
}

async fn invitation(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match setup_links::usable(&state.db, &token).await {
        Ok((link, org)) => plain_page::setup_invitation(&org.name, &link.email),
        Err(error) => unusable(error),
    }
}

async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    parts: axum::http::request::Parts,
) -> Response {
    // Another site must not be able to sign a visitor in with a link it holds.
    if csrf::is_cross_site(&parts.headers, &state.config) {
        return plain_page::forbidden("Open the setup link itself and accept it there.");
    }
    let client_ip = super::client_address::of(&parts);
    match setup_links::redeem(&state.db, &token, client_ip).await {
        Ok(redeemed) => {
            let cookie = app::ssr::session_cookie(
                &redeemed.session_token,
                redeemed.max_age_secs,
                state.config.secure_cookies(),
            );
            let mut response = Redirect::to("/settings/authentication").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => unusable(error),
    }
}
