//! SCIM provisioning on Settings > User Provisioning. Every function checks the
//! Integrations Admin role on the server before anything else.

use crate::error::AppError;
use leptos::prelude::*;
use server_fn::codec::Json;
use shared::provisioning::{EnableScimForm, IssuedToken, ProvisioningOverview};

#[server(endpoint = "get_provisioning_overview", input = Json)]
pub async fn get_provisioning_overview() -> Result<ProvisioningOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.provisioning_overview(&admin).await.map_err(fail)
}

#[server(endpoint = "enable_scim", input = Json)]
pub async fn enable_scim(form: EnableScimForm) -> Result<IssuedToken, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    shared::provisioning::validate_enable(&form)
        .into_result()
        .map_err(|e| fail(e.into()))?;
    backend()?.enable_scim(&admin, form).await.map_err(fail)
}

#[server(endpoint = "rotate_scim_token", input = Json)]
pub async fn rotate_scim_token() -> Result<IssuedToken, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.rotate_scim_token(&admin).await.map_err(fail)
}

#[server(endpoint = "complete_scim_rotation", input = Json)]
pub async fn complete_scim_rotation() -> Result<ProvisioningOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .complete_scim_rotation(&admin)
        .await
        .map_err(fail)
}

#[server(endpoint = "cancel_scim_rotation", input = Json)]
pub async fn cancel_scim_rotation() -> Result<ProvisioningOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.cancel_scim_rotation(&admin).await.map_err(fail)
}

#[server(endpoint = "disable_scim", input = Json)]
pub async fn disable_scim() -> Result<ProvisioningOverview, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.disable_scim(&admin).await.map_err(fail)
}
