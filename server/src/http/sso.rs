//! Single sign-on in the browser: the Test Connection popup's first stop, the
//! OpenID Connect Redirect URI, and how any SSO answer turns into a response.

use super::{plain_page, AppState};
use crate::accounts::find_organization;
use crate::sso::binding::{self, BrowserCookies, Flow};
use crate::sso::finish::SsoOutcome;
use crate::sso::oidc_flow::CallbackParams;
use crate::sso::service::Started;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/test/{connection_id}", get(start_test))
        .route("/sso/oidc/{connection_id}/callback", get(oidc_callback))
}

/// `GET /sso/oidc/{connection_id}/callback`: where the OpenID Provider sends the browser back.
async fn oidc_callback(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    RawQuery(query): RawQuery,
    parts: axum::http::request::Parts,
) -> Response {
    // A query that is not the expected shape is treated as an empty one: the diagnosis says what is missing.
    let params: CallbackParams =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let cookies = BrowserCookies::from_headers(&parts.headers);
    let client_ip = super::client_address::of(&parts);
    let returned_state = params.state.clone();
    let outcome = match state
        .sso
        .complete_oidc(&connection_id, params, &cookies, client_ip)
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "OIDC callback failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut response = respond(&state, &connection_id, outcome);
    clear_binding(
        &mut response,
        &state,
        Flow::Oidc,
        &connection_id,
        returned_state,
        &cookies,
    );
    response
}

/// The browser's sign-in cookie has done its job once its request is answered.
pub(super) fn clear_binding(
    response: &mut Response,
    state: &AppState,
    flow: Flow,
    connection_id: &str,
    request_id: Option<String>,
    cookies: &BrowserCookies,
) {
    let (Some(request_id), Ok(connection)) = (request_id, connection_id.parse()) else {
        return;
    };
    if cookies.has(flow, &request_id) {
        let clear = binding::clear_cookie(flow, connection, &request_id, state.sso.secure_cookies);
        append_cookie(response, &clear);
    }
}

pub(super) fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The browser's next step after an SSO answer, whichever the protocol.
pub(super) fn respond(state: &AppState, connection_id: &str, outcome: SsoOutcome) -> Response {
    match outcome {
        SsoOutcome::SignedIn {
            token,
            max_age_secs,
            redirect_to,
        } => {
            let cookie = app::ssr::session_cookie(&token, max_age_secs, state.sso.secure_cookies);
            let mut response = Redirect::to(&redirect_to).into_response();
            append_cookie(&mut response, &cookie);
            response
        }
        SsoOutcome::Linked { redirect_to } => Redirect::to(&redirect_to).into_response(),
        SsoOutcome::TestFinished { event_id } => plain_page::test_finished(
            &event_id.to_string(),
            &state.config.public_url.origin().ascii_serialization(),
            connection_id,
        ),
        SsoOutcome::Refused {
            diagnosis,
            reference,
        } => plain_page::sign_in_failed(&diagnosis, &reference),
        SsoOutcome::UnknownConnection => plain_page::not_found(
            "No single sign-on connection has this ID. Check the URL configured in your identity provider.",
        ),
    }
}

pub(super) fn redirect_to_idp(started: Started) -> Response {
    let mut response = Redirect::to(&started.url).into_response();
    if let Some(cookie) = &started.set_cookie {
        append_cookie(&mut response, cookie);
    }
    response
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
        Ok(started) => redirect_to_idp(started),
        Err(
            crate::sso::service::StartError::NotConfigured(diagnosis)
            | crate::sso::service::StartError::UnsafeIdpUrl(diagnosis),
        ) => {
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

pub(super) fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
