//! Single sign-on from the pages: an organization's login URL, and the
//! sign-ins and tests a connection's page lists.

use crate::error::AppError;
use leptos::prelude::*;
use server_fn::codec::Json;
use shared::sso_event::{OrgSignIn, SsoEvent};

/// Sends the browser to the organization's identity provider (through
/// `connection` when given), or lists the connections to choose from.
#[server(endpoint = "start_org_sso")]
pub async fn start_org_sso(
    org_slug: String,
    connection: Option<String>,
    next: Option<String>,
) -> Result<OrgSignIn, AppError> {
    use crate::ssr::{backend, fail, follow_sso_start, start_made_before_render};
    // The server answers a start that leads to the IdP without rendering this
    // page; when it renders it, the start is already made (once).
    let start = match start_made_before_render() {
        Some(made) => made,
        None => {
            let return_to = shared::redirect::local_path(next.as_deref());
            backend()?
                .sso_start(&org_slug, connection.as_deref(), &return_to)
                .await
        }
    };
    Ok(follow_sso_start(start.map_err(fail)?))
}

/// "Link my SSO identity": the admin's browser goes to the IdP (a redirect);
/// when it vouches for them, that identity is bound to the admin's account.
#[server(endpoint = "link_sso_identity", input = Json)]
pub async fn link_sso_identity(connection_id: String) -> Result<OrgSignIn, AppError> {
    use crate::ssr::{backend, fail, follow_sso_start, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    let start = backend()?
        .sso_link_start(&admin, &connection_id)
        .await
        .map_err(fail)?;
    Ok(follow_sso_start(start))
}

/// The subject the signed-in admin is linked to at this connection, if any.
#[server(endpoint = "my_sso_identity", input = Json)]
pub async fn my_sso_identity(connection_id: String) -> Result<Option<String>, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .my_sso_identity(&admin, &connection_id)
        .await
        .map_err(fail)
}

#[server(endpoint = "get_sso_events", input = Json)]
pub async fn get_sso_events(connection_id: String) -> Result<Vec<SsoEvent>, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .sso_events(&admin, &connection_id)
        .await
        .map_err(fail)
}

/// A connection's event log as the page shows it, rendered on the server
/// (`routes::authentication::event_html`).
#[server(endpoint = "get_event_log", input = Json)]
pub async fn get_event_log(connection_id: String) -> Result<String, AppError> {
    use crate::routes::authentication::event_html::event_log_html;
    Ok(event_log_html(get_sso_events(connection_id).await?))
}

/// A test's result as Test Connection shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestResultView {
    pub passed: bool,
    /// Rendered on the server (`routes::authentication::event_html`).
    pub html: String,
}

#[server(endpoint = "get_test_result", input = Json)]
pub async fn get_test_result(
    connection_id: String,
    event_id: String,
) -> Result<TestResultView, AppError> {
    use crate::routes::authentication::event_html::test_result_html;
    let event = get_sso_event(connection_id, event_id).await?;
    Ok(TestResultView {
        passed: event.success,
        html: test_result_html(event),
    })
}

#[server(endpoint = "get_sso_event", input = Json)]
pub async fn get_sso_event(connection_id: String, event_id: String) -> Result<SsoEvent, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .sso_event(&admin, &connection_id, &event_id)
        .await
        .map_err(fail)
}
