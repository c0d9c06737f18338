//! The directory API's reads (SPEC §14): an organization's users and groups as
//! the IdP provisioned them, in pages of stable order. A cursor is the last id
//! of the page before, opaque to clients; `updated_since` narrows to changes.

use crate::entities::{membership, scim_group, scim_group_member, user};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirectoryError {
    #[error("cursor is not one this API returned")]
    InvalidCursor,
    #[error("limit must be a whole number from 1 to {MAX_LIMIT}")]
    InvalidLimit,
    #[error("updated_since must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z")]
    InvalidUpdatedSince,
    #[error("database error: {0}")]
    Database(String),
}

impl DirectoryError {
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::InvalidCursor => "invalid_cursor",
            DirectoryError::InvalidLimit => "invalid_limit",
            DirectoryError::InvalidUpdatedSince => "invalid_updated_since",
            DirectoryError::Database(_) => "server_error",
        }
    }
}

impl From<DbErr> for DirectoryError {
    fn from(error: DbErr) -> Self {
        DirectoryError::Database(error.to_string())
    }
}

/// A list request, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub after: Option<Uuid>,
    pub limit: u64,
    pub updated_since: Option<DateTime<Utc>>,
}

impl ListQuery {
    pub fn parse(
        cursor: Option<&str>,
        limit: Option<&str>,
        updated_since: Option<&str>,
    ) -> Result<Self, DirectoryError> {
        let after = cursor.map(decode_cursor).transpose()?;
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or(DirectoryError::InvalidLimit)?,
        };
        let updated_since = updated_since
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| DirectoryError::InvalidUpdatedSince)
            })
            .transpose()?;
        Ok(Self {
            after,
            limit,
            updated_since,
        })
    }
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<Uuid, DirectoryError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or(DirectoryError::InvalidCursor)
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryUser {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
    /// `integrations_admin` or `member`.
    pub role: String,
    /// The IdP's own id for the user (SCIM `externalId`).
    pub external_id: Option<String>,
    pub groups: Vec<GroupRef>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryGroup {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One page of an organization's users, ordered by id.
pub async fn users(
    db: &DatabaseConnection,
    org_id: Uuid,
    query: &ListQuery,
) -> Result<Page<DirectoryUser>, DirectoryError> {
    let mut select = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .order_by_asc(user::Column::Id)
        .limit(query.limit + 1);
    if let Some(after) = query.after {
        select = select.filter(user::Column::Id.gt(after));
    }
    if let Some(since) = query.updated_since {
        select = select.filter(user::Column::UpdatedAt.gte(since));
    }
    let mut rows = select.all(db).await?;
    let next_cursor = next_cursor(&mut rows, query.limit, |u| u.id);
    let data = describe_users(db, rows).await?;
    Ok(Page { data, next_cursor })
}

pub async fn user_by_id(
    db: &DatabaseConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<DirectoryUser>, DirectoryError> {
    let found = user::Entity::find_by_id(id)
        .filter(user::Column::OrgId.eq(org_id))
        .one(db)
        .await?;
    match found {
        Some(found) => Ok(describe_users(db, vec![found]).await?.pop()),
        None => Ok(None),
    }
}

/// One page of an organization's groups, ordered by id.
pub async fn groups(
    db: &DatabaseConnection,
    org_id: Uuid,
    query: &ListQuery,
) -> Result<Page<DirectoryGroup>, DirectoryError> {
    let mut select = scim_group::Entity::find()
        .filter(scim_group::Column::OrgId.eq(org_id))
        .order_by_asc(scim_group::Column::Id)
        .limit(query.limit + 1);
    if let Some(after) = query.after {
        select = select.filter(scim_group::Column::Id.gt(after));
    }
    if let Some(since) = query.updated_since {
        select = select.filter(scim_group::Column::UpdatedAt.gte(since));
    }
    let mut rows = select.all(db).await?;
    let next_cursor = next_cursor(&mut rows, query.limit, |g| g.id);
    let data = rows
        .into_iter()
        .map(|g| DirectoryGroup {
            id: g.id.to_string(),
            name: g.display_name,
            external_id: g.external_id,
            created_at: g.created_at.to_rfc3339(),
            updated_at: g.updated_at.to_rfc3339(),
        })
        .collect();
    Ok(Page { data, next_cursor })
}

/// Trims the look-ahead row; a cursor only when there is more.
fn next_cursor<T>(rows: &mut Vec<T>, limit: u64, id: impl Fn(&T) -> Uuid) -> Option<String> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    more.then(|| rows.last().map(|row| encode_cursor(id(row))))
        .flatten()
}

/// Each user's role, and each user's groups sorted by name: three queries for a whole page.
pub(crate) async fn roles_and_groups(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<(HashMap<Uuid, String>, HashMap<Uuid, Vec<GroupRef>>), DbErr> {
    let roles: HashMap<Uuid, String> = membership::Entity::find()
        .filter(membership::Column::UserId.is_in(ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.role))
        .collect();
    let links = scim_group_member::Entity::find()
        .filter(scim_group_member::Column::UserId.is_in(ids.to_vec()))
        .all(db)
        .await?;
    let group_ids: Vec<Uuid> = links.iter().map(|l| l.group_id).collect();
    let names: HashMap<Uuid, String> = if group_ids.is_empty() {
        HashMap::new()
    } else {
        scim_group::Entity::find()
            .filter(scim_group::Column::Id.is_in(group_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|g| (g.id, g.display_name))
            .collect()
    };
    let mut groups: HashMap<Uuid, Vec<GroupRef>> = HashMap::new();
    for link in links {
        if let Some(name) = names.get(&link.group_id) {
            groups.entry(link.user_id).or_default().push(GroupRef {
                id: link.group_id.to_string(),
                name: name.clone(),
            });
        }
    }
    for member_of in groups.values_mut() {
        member_of.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok((roles, groups))
}

/// Users with their roles and groups.
async fn describe_users(
    db: &DatabaseConnection,
    users: Vec<user::Model>,
) -> Result<Vec<DirectoryUser>, DbErr> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let (roles, mut groups) = roles_and_groups(db, &ids).await?;
    Ok(users
        .into_iter()
        .map(|u| DirectoryUser {
            id: u.id.to_string(),
            role: roles.get(&u.id).cloned().unwrap_or_default(),
            groups: groups.remove(&u.id).unwrap_or_default(),
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            active: u.active,
            external_id: u.external_id,
            created_at: u.created_at.to_rfc3339(),
            updated_at: u.updated_at.to_rfc3339(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_are_checked_at_the_edge() {
        let id = crate::db::new_row_id();
        let parsed = ListQuery::parse(
            Some(&encode_cursor(id)),
            Some("5"),
            Some("2026-12-01T00:00:00Z"),
        );
        assert_eq!(
            parsed.as_ref().map(|q| (q.after, q.limit)),
            Ok((Some(id), 5))
        );
        assert_eq!(
            ListQuery::parse(Some("nope"), None, None),
            Err(DirectoryError::InvalidCursor)
        );
        for limit in ["0", "201", "-1", "ten"] {
            assert_eq!(
                ListQuery::parse(None, Some(limit), None),
                Err(DirectoryError::InvalidLimit)
            );
        }
        assert_eq!(
            ListQuery::parse(None, None, Some("yesterday")),
            Err(DirectoryError::InvalidUpdatedSince)
        );
        assert_eq!(
            ListQuery::parse(None, None, None).map(|q| q.limit),
            Ok(DEFAULT_LIMIT)
        );
    }
}
