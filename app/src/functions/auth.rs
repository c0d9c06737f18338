//! Signing in and out, and who is signed in.

use crate::error::AppError;
use leptos::prelude::*;
use shared::CurrentUser;

/// The signed-in user, or `None` when nobody is.
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<CurrentUser>, AppError> {
    crate::ssr::current_user().await.map_err(crate::ssr::fail)
}

/// Email and password sign-in. On success the session cookie is set and the
/// browser is sent to `next` when it is a path of ours.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::SignInRequest;
    use crate::ssr::{backend, client_ip, fail, set_session_cookie};

    shared::validate::sign_in_form(&email, &password).map_err(|e| fail(e.into()))?;
    let backend = backend()?;
    let session = backend
        .sign_in(SignInRequest {
            email,
            password,
            client_ip: client_ip(),
        })
        .await
        .map_err(fail)?;
    set_session_cookie(
        &session.token,
        session.max_age_secs,
        backend.secure_cookies(),
    );
    leptos_axum::redirect(&shared::redirect::after_sign_in(next.as_deref()));
    Ok(())
}

/// Ends the current session everywhere: host apps are told, and the browser
/// goes to the identity provider's logout when the session came from SSO
/// through a connection that has one, else to the sign-in page.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::{backend, client_ip, fail, session_token, set_session_cookie};

    let backend = backend()?;
    let next = match session_token() {
        Some(token) => backend.sign_out(&token, client_ip()).await.map_err(fail)?,
        None => "/login".to_string(),
    };
    set_session_cookie("", 0, backend.secure_cookies());
    leptos_axum::redirect(&next);
    Ok(())
}

/// Starts single sign-on for the organization that claims the email's domain.
/// The answer for an unknown domain never says whether an organization exists.
#[server(endpoint = "start_sso")]
pub async fn start_sso(email: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::SsoStart;
    use crate::ssr::{backend, fail, follow_sso_start};
    let mut errors = shared::FieldErrors::default();
    errors.check(shared::validate::email("email", &email));
    errors.into_result().map_err(|e| fail(e.into()))?;
    let return_to = shared::redirect::local_path(next.as_deref());
    let start = backend()?
        .sso_start_for_email(&email, &return_to)
        .await
        .map_err(fail)?;
    match start {
        // The organization's login page offers its connections.
        SsoStart::Choose { org_slug, .. } => {
            let path = shared::redirect::org_login_path(&org_slug, None, Some(&return_to));
            leptos_axum::redirect(&path);
            Ok(())
        }
        SsoStart::NotAvailable => Err(fail(AppError::SsoNotAvailable)),
        redirect => {
            follow_sso_start(redirect);
            Ok(())
        }
    }
}
