//! Settings > Members.

use crate::error::AppError;
use leptos::prelude::*;
use server_fn::codec::Json;
use shared::members::{MemberAction, MemberDetail, MemberQuery, MembersPage};

#[server(endpoint = "list_members", input = Json)]
pub async fn list_members(query: MemberQuery) -> Result<MembersPage, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.members(&admin, query).await.map_err(fail)
}

#[server(endpoint = "get_member", input = Json)]
pub async fn get_member(id: String) -> Result<MemberDetail, AppError> {
    use crate::ssr::{backend, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?.member(&admin, &id).await.map_err(fail)
}

#[server(endpoint = "change_member", input = Json)]
pub async fn change_member(id: String, action: MemberAction) -> Result<MemberDetail, AppError> {
    use crate::ssr::{backend, client_ip, fail, require_integrations_admin};
    let admin = require_integrations_admin().await?;
    backend()?
        .change_member(&admin, &id, action, client_ip())
        .await
        .map_err(fail)
}
