//! Request plumbing for server functions: the backend, the session cookie,
//! the client address and the response status.

use crate::backend::{Backend, BackendHandle};
use crate::error::AppError;
use http::header::{COOKIE, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use shared::CurrentUser;
use std::net::IpAddr;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "latchkey_session";

pub fn backend() -> Result<Arc<dyn Backend>, AppError> {
    use_context::<BackendHandle>()
        .map(|handle| handle.0)
        .ok_or_else(|| AppError::Internal {
            reference: "no-backend".into(),
        })
}

/// Applies an error's HTTP status to the response being built.
pub fn set_status(error: &AppError) {
    if let Some(options) = use_context::<ResponseOptions>() {
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        options.set_status(status);
    }
}

/// Sets the error's status and hands it back, for `map_err(fail)` and `Err(fail(..))`.
pub fn fail(error: AppError) -> AppError {
    set_status(&error);
    error
}

pub fn session_token() -> Option<String> {
    session_token_in(&use_context::<Parts>()?.headers)
}

/// The session cookie's value in request headers; also used by plain axum handlers.
pub fn session_token_in(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|value| !value.is_empty())
}

/// The client's address as the server's HTTP layer worked it out: the TCP
/// peer, or the address a trusted reverse proxy forwarded (`LATCHKEY_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

pub fn client_ip() -> Option<IpAddr> {
    use_context::<Parts>()?
        .extensions
        .get::<ClientAddress>()
        .map(|address| address.0)
}

/// The `Set-Cookie` value for the session cookie; also used by the SSO endpoints.
pub fn session_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    )
}

/// Sets or clears the session cookie. HttpOnly keeps it from scripts; Lax keeps it
/// off cross-site POSTs; Secure whenever Latchkey is served over https.
pub fn set_session_cookie(value: &str, max_age_secs: i64, secure: bool) {
    let Some(options) = use_context::<ResponseOptions>() else {
        return;
    };
    if let Ok(header) = HeaderValue::from_str(&session_cookie(value, max_age_secs, secure)) {
        options.append_header(SET_COOKIE, header);
    }
}

/// Sends the browser to `url`. A page (a GET) answers a real `303 See Other`
/// whatever the client accepts, so curl, a host app's server, an IdP's
/// bookmark app and a browser without scripts all follow it; leptos would
/// answer `200` with a `Location` to a client that does not accept HTML. A
/// server-function call keeps leptos' behaviour: the WASM client reads the
/// result, then follows the redirect header; a plain form post gets a `302`.
pub fn redirect(url: &str) {
    leptos_axum::redirect(url);
    let is_page = use_context::<Parts>().is_some_and(|parts| parts.method == http::Method::GET);
    if let (true, Some(options)) = (is_page, use_context::<ResponseOptions>()) {
        options.set_status(StatusCode::SEE_OTHER);
    }
}

/// A member's sign-in start at `/login/:org_slug`, made by the server before
/// it renders that page (a request extension). A start that leads to the
/// identity provider is answered with the redirect alone; the page is rendered
/// only for what the member must read, and shows this result instead of
/// starting again (a refused start records its event once).
#[derive(Debug, Clone)]
pub struct StartMadeBeforeRender(pub Result<crate::backend::SsoStart, AppError>);

/// The start made before this page's render, if the server made one.
pub fn start_made_before_render() -> Option<Result<crate::backend::SsoStart, AppError>> {
    use_context::<Parts>()?
        .extensions
        .get::<StartMadeBeforeRender>()
        .map(|made| made.0.clone())
}

/// Sends the browser where single sign-on goes next (setting the cookie that
/// binds an OpenID Connect sign-in to this browser), or says what to show.
pub fn follow_sso_start(start: crate::backend::SsoStart) -> shared::sso_event::OrgSignIn {
    use crate::backend::SsoStart;
    use shared::sso_event::OrgSignIn;
    match start {
        SsoStart::Redirect { url, set_cookie } => {
            if let (Some(cookie), Some(options)) = (set_cookie, use_context::<ResponseOptions>()) {
                if let Ok(header) = HeaderValue::from_str(&cookie) {
                    options.append_header(SET_COOKIE, header);
                }
            }
            redirect(&url);
            OrgSignIn::Redirecting
        }
        SsoStart::Choose { choices, .. } => OrgSignIn::Choose(choices),
        SsoStart::NotAvailable => OrgSignIn::NotAvailable,
    }
}

/// The signed-in user, or `None`.
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    match session_token() {
        Some(token) => backend()?.session_user(&token).await,
        None => Ok(None),
    }
}

/// The signed-in user, or a 401.
pub async fn require_user() -> Result<CurrentUser, AppError> {
    current_user()
        .await
        .map_err(fail)?
        .ok_or_else(|| fail(AppError::Unauthenticated))
}

/// The signed-in Integrations Admin, or a 401/403. Every settings server function
/// starts with this: the role is checked here, never only in the page.
pub async fn require_integrations_admin() -> Result<CurrentUser, AppError> {
    let user = require_user().await?;
    if user.role.is_integrations_admin() {
        Ok(user)
    } else {
        Err(fail(AppError::Forbidden))
    }
}
