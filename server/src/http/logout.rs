//! Logout endpoints: Latchkey's own `end_session_endpoint` for host apps
//! (OpenID Connect RP-Initiated Logout 1.0), the SAML Single Logout service
//! of each connection, and where an OpenID Provider sends the member back or
//! POSTs its back-channel logout tokens. The rules live in
//! `crate::sso::logout` and `crate::provider::logout`.

use super::{csrf, plain_page, AppState};
use crate::provider::{apps, logout as op_logout};
use crate::saml::logout::Binding;
use crate::sso::logout::LogoutOutcome;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;

/// The largest logout request body: a signed LogoutRequest, base64 and
/// form-encoded, or a host app's logout form.
const MAX_LOGOUT_BODY_BYTES: usize = 128 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/logout", get(end_session).post(end_session))
        .route("/sso/saml/{connection_id}/slo", get(slo).post(slo))
        .route("/sso/oidc/{connection_id}/logout", get(oidc_returned))
        .route(
            "/sso/oidc/{connection_id}/backchannel-logout",
            post(oidc_backchannel),
        )
        .layer(RequestBodyLimitLayer::new(MAX_LOGOUT_BODY_BYTES))
}

/// The parameters of RP-Initiated Logout §2, and our confirmation.
#[derive(Debug, Default, serde::Deserialize)]
struct EndSessionParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// `yes` when the member confirmed on our own page.
    confirm: Option<String>,
}

impl EndSessionParams {
    /// The request again, for the confirmation form or a redirect to GET.
    fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }
}

fn refused(message: &str) -> Response {
    plain_page::refused("Logout request refused", message)
}

/// `GET|POST /oauth2/logout`: a host app ends the member's Latchkey session.
async fn end_session(
    State(state): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Response {
    let parsed = if method == Method::POST {
        serde_urlencoded::from_bytes::<EndSessionParams>(&body)
    } else {
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
    };
    let Ok(params) = parsed else {
        return refused("The logout request's parameters are malformed.");
    };
    let (app, hint) = match requesting_app(&state, &params).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let return_to = match return_address(&params, app.as_ref()) {
        Ok(return_to) => return_to,
        Err(message) => return refused(&message),
    };
    let headers = &parts.headers;
    let Some(token) = app::ssr::session_token_in(headers) else {
        // A host app's cross-site form carries no session cookie (SameSite=Lax):
        // the same request by GET, a top-level navigation, does.
        if method == Method::POST && params.confirm.is_none() {
            return see_other(&as_get(&params));
        }
        return see_other(&return_to);
    };
    let session = match crate::sessions::find_live(&state.db, &token).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "logout failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(session) = session else {
        return with_cleared_cookie(&state, see_other(&return_to));
    };
    if !confirmed(&state, &params, hint.as_ref(), &session, (method, headers)) {
        let name = app.as_ref().map(|a| a.name.as_str());
        return plain_page::confirm_sign_out(name, &params.fields());
    }
    let client_ip = super::client_address::of(&parts);
    match state.logout.sign_out(&token, client_ip, &return_to).await {
        Ok(next) => with_cleared_cookie(&state, see_other(&next)),
        Err(error) => {
            tracing::error!(%error, "logout failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

type HostApp = crate::entities::host_app::Model;

/// The app the request names, by `client_id` or by its `id_token_hint`
/// (which must then be one Latchkey issued, to that same client), and the
/// verified hint.
async fn requesting_app(
    state: &AppState,
    params: &EndSessionParams,
) -> Result<(Option<HostApp>, Option<op_logout::Hint>), Response> {
    let hint = match &params.id_token_hint {
        Some(hint) => match op_logout::verify_hint(&state.db, &state.provider.issuer, hint).await {
            Ok(hint) => Some(hint),
            Err(error) => return Err(refused(&error.to_string())),
        },
        None => None,
    };
    let hinted = hint.as_ref().map(|h| h.client_id.clone());
    let client_id = match (&params.client_id, hinted) {
        (Some(named), Some(hinted)) if *named != hinted => {
            return Err(refused(
                "client_id names another app than the one the id_token_hint was issued to.",
            ))
        }
        (Some(named), _) => Some(named.clone()),
        (None, hinted) => hinted,
    };
    let Some(client_id) = client_id else {
        return Ok((None, hint));
    };
    match apps::find(&state.db, &client_id).await {
        Ok(Some(app)) => Ok((Some(app), hint)),
        Ok(None) => Err(refused("No app is registered with this client_id.")),
        Err(error) => {
            tracing::error!(%error, "logout failed");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

/// Where the member goes afterwards: a post-logout redirect URI the app
/// registered (exactly), with its `state`; else the sign-in page. An
/// unregistered address is refused rather than ignored: the app is wrong.
fn return_address(params: &EndSessionParams, app: Option<&HostApp>) -> Result<String, String> {
    let Some(uri) = &params.post_logout_redirect_uri else {
        return Ok("/login".to_string());
    };
    let Some(app) = app else {
        return Err(
            "post_logout_redirect_uri needs the app named, by client_id or id_token_hint."
                .to_string(),
        );
    };
    if !op_logout::is_registered_return(app, uri) {
        return Err(format!(
            "{uri} is not a post-logout redirect URI registered for {}.",
            app.name
        ));
    }
    let mut url = url::Url::parse(uri).map_err(|e| e.to_string())?;
    if let Some(client_state) = &params.state {
        url.query_pairs_mut().append_pair("state", client_state);
    }
    Ok(url.into())
}

/// Whether the member asked for this logout: the app proved it with the ID
/// token of this very session, or the member confirmed on our page.
fn confirmed(
    state: &AppState,
    params: &EndSessionParams,
    hint: Option<&op_logout::Hint>,
    session: &crate::entities::session::Model,
    (method, headers): (Method, &HeaderMap),
) -> bool {
    let by_member = method == Method::POST
        && params.confirm.as_deref() == Some("yes")
        && !csrf::is_cross_site(headers, &state.config);
    let by_this_session = hint.is_some_and(|hint| {
        hint.sid.is_some() && hint.sid == session.sid && hint.subject == session.user_id.to_string()
    });
    by_member || by_this_session
}

fn as_get(params: &EndSessionParams) -> String {
    let query = serde_urlencoded::to_string(params.fields()).unwrap_or_default();
    format!("/oauth2/logout?{query}")
}

/// 303: whatever the method was, the browser follows with a GET.
fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

fn with_cleared_cookie(state: &AppState, mut response: Response) -> Response {
    let cookie = app::ssr::session_cookie("", 0, state.config.secure_cookies());
    super::sso::append_cookie(&mut response, &cookie);
    response
}

/// `GET|POST /sso/saml/{connection_id}/slo`: the IdP's LogoutRequest, or its
/// answer to ours, by HTTP-Redirect or HTTP-POST.
async fn slo(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)>;
    let binding = if method == Method::POST {
        form = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        Binding::Post { form: &form }
    } else {
        Binding::Redirect {
            query: query.as_deref().unwrap_or(""),
        }
    };
    let client_ip = super::client_address::of(&parts);
    let outcome = state
        .logout
        .receive_saml(&connection_id, binding, client_ip)
        .await;
    respond(&state, outcome)
}

/// `GET /sso/oidc/{connection_id}/logout`: the provider ended its session.
async fn oidc_returned(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    #[derive(serde::Deserialize, Default)]
    struct Returned {
        state: Option<String>,
    }
    let returned: Returned =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let outcome = state
        .logout
        .oidc_returned(&connection_id, returned.state.as_deref())
        .await;
    respond(&state, outcome)
}

fn respond(state: &AppState, outcome: Result<LogoutOutcome, sea_orm::DbErr>) -> Response {
    match outcome {
        Ok(LogoutOutcome::Redirect(location)) => with_cleared_cookie(state, see_other(&location)),
        Ok(LogoutOutcome::SignedOut) => with_cleared_cookie(state, plain_page::signed_out()),
        Ok(LogoutOutcome::Refused { message, reference }) => {
            plain_page::logout_refused(&message, &reference)
        }
        Ok(LogoutOutcome::UnknownConnection) => {
            plain_page::not_found("No single sign-on connection has this ID.")
        }
        Err(error) => {
            tracing::error!(%error, "logout failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// `POST /sso/oidc/{connection_id}/backchannel-logout` (Back-Channel Logout
/// §2.8): 200 when the token is valid, whether or not a session was open.
async fn oidc_backchannel(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    body: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct Form {
        logout_token: String,
    }
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let Ok(form) = serde_urlencoded::from_bytes::<Form>(&body) else {
        let error = serde_json::json!({"error": "invalid_request", "error_description": "logout_token is missing."});
        return (StatusCode::BAD_REQUEST, no_store, Json(error)).into_response();
    };
    match state
        .logout
        .receive_oidc_backchannel(&connection_id, &form.logout_token)
        .await
    {
        Ok(Ok(_)) => (StatusCode::OK, no_store).into_response(),
        Ok(Err(why)) => {
            let error = serde_json::json!({"error": "invalid_request", "error_description": why});
            (StatusCode::BAD_REQUEST, no_store, Json(error)).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "back-channel logout failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
