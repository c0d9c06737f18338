//! The audit log page.

use crate::error::AppError;
use leptos::prelude::*;
use server_fn::codec::Json;
use shared::audit::{AuditPage, AuditQuery};

#[server(endpoint = "get_audit_log", input = Json)]
pub async fn get_audit_log(query: AuditQuery) -> Result<AuditPage, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.audit_log(&admin, query).await.map_err(fail)
}
