//! Organization settings: reachable by Integrations Admins only.

use crate::error::AppError;
use leptos::prelude::*;
use shared::CurrentUser;

/// Opens the settings area: the admin and their organization, or 401/403.
#[server(endpoint = "settings_access")]
pub async fn settings_access() -> Result<CurrentUser, AppError> {
    crate::ssr::require_integrations_admin().await
}
