//! SSO connections on Settings > Authentication. Every function checks the
//! Integrations Admin role on the server before anything else.

use crate::error::AppError;
use leptos::prelude::*;
use server_fn::codec::Json;
use shared::connection::{
    AuthenticationOverview, ConnectionDetail, ConnectionPageData, MetadataImport, MetadataSource,
    NewConnection, OidcForm, SamlForm, SpKeyChange, SpKeyPurpose,
};

#[server(endpoint = "get_authentication_overview", input = Json)]
pub async fn get_authentication_overview() -> Result<AuthenticationOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .authentication_overview(&admin)
        .await
        .map_err(fail)
}

#[server(endpoint = "create_connection", input = Json)]
pub async fn create_connection(new: NewConnection) -> Result<ConnectionDetail, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .create_connection(&admin, new)
        .await
        .map_err(fail)
}

#[server(endpoint = "get_connection", input = Json)]
pub async fn get_connection(id: String) -> Result<ConnectionDetail, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.connection(&admin, &id).await.map_err(fail)
}

/// The connection page's data: settings, recent events and the admin's own link.
#[server(endpoint = "get_connection_page", input = Json)]
pub async fn get_connection_page(id: String) -> Result<ConnectionPageData, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    let backend = backend()?;
    let detail = backend.connection(&admin, &id).await.map_err(fail)?;
    let events = backend.sso_events(&admin, &id).await.map_err(fail)?;
    let linked_subject = backend.my_sso_identity(&admin, &id).await.map_err(fail)?;
    Ok(ConnectionPageData {
        detail,
        event_log: crate::routes::authentication::event_html::event_log_html(events),
        linked_subject,
    })
}

#[server(endpoint = "save_saml_connection", input = Json)]
pub async fn save_saml_connection(
    id: String,
    form: SamlForm,
) -> Result<ConnectionDetail, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .save_saml_connection(&admin, &id, form)
        .await
        .map_err(fail)
}

#[server(endpoint = "save_oidc_connection", input = Json)]
pub async fn save_oidc_connection(
    id: String,
    form: OidcForm,
) -> Result<ConnectionDetail, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .save_oidc_connection(&admin, &id, form)
        .await
        .map_err(fail)
}

#[server(endpoint = "import_saml_metadata", input = Json)]
pub async fn import_saml_metadata(source: MetadataSource) -> Result<MetadataImport, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .import_saml_metadata(&admin, source)
        .await
        .map_err(fail)
}

#[server(endpoint = "change_sp_key", input = Json)]
pub async fn change_sp_key(
    id: String,
    purpose: SpKeyPurpose,
    change: SpKeyChange,
) -> Result<ConnectionDetail, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .change_sp_key(&admin, &id, purpose, change)
        .await
        .map_err(fail)
}

#[server(endpoint = "set_connection_active", input = Json)]
pub async fn set_connection_active(id: String, active: bool) -> Result<ConnectionDetail, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .set_connection_active(&admin, &id, active)
        .await
        .map_err(fail)
}

#[server(endpoint = "delete_connection", input = Json)]
pub async fn delete_connection(id: String) -> Result<(), AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .delete_connection(&admin, &id)
        .await
        .map_err(fail)
}

/// "Require SSO": members must sign in through the identity provider.
#[server(endpoint = "set_require_sso", input = Json)]
pub async fn set_require_sso(on: bool) -> Result<AuthenticationOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.set_require_sso(&admin, on).await.map_err(fail)
}

#[server(endpoint = "add_org_domain", input = Json)]
pub async fn add_org_domain(domain: String) -> Result<AuthenticationOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.add_domain(&admin, &domain).await.map_err(fail)
}

#[server(endpoint = "remove_org_domain", input = Json)]
pub async fn remove_org_domain(domain: String) -> Result<AuthenticationOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .remove_domain(&admin, &domain)
        .await
        .map_err(fail)
}

/// Verify: looks the domain's `_latchkey-challenge` TXT record up now.
#[server(endpoint = "verify_org_domain", input = Json)]
pub async fn verify_org_domain(domain: String) -> Result<AuthenticationOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .verify_domain(&admin, &domain)
        .await
        .map_err(fail)
}
