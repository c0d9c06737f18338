//! SCIM connections and their bearer tokens: enabling, rotating, disabling, and
//! authenticating the IdP's requests (with a short-lived cache of valid tokens).

use super::errors::ScimError;
use super::store::{internal, Caller};
use super::tokens;
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::entities::{scim_connection, scim_token};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const ENABLED: &str = "enabled";
pub const DISABLED: &str = "disabled";
pub const TOKEN_ACTIVE: &str = "active";
pub const TOKEN_PENDING: &str = "pending";
pub const TOKEN_REVOKED: &str = "revoked";

/// How long a token found valid is trusted without asking the database again. Token
/// changes on this instance clear the cache at once; this bounds how long another
/// instance sharing the database may still accept a token revoked elsewhere
/// (issue 19: in force on every instance within a second). The cost is one indexed read
/// per token per second per instance.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("SCIM is already enabled for this organization")]
    AlreadyEnabled,
    #[error("SCIM is not enabled for this organization")]
    NotEnabled,
    #[error("a token rotation is already in progress")]
    RotationInProgress,
    #[error("no token rotation is in progress")]
    NoRotation,
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(caller, _)| *caller)
    }

    fn put(&self, hash: String, caller: Caller) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(hash, (caller, Instant::now()));
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Checks a bearer token against the connection named in the URL.
pub async fn authenticate(
    db: &DatabaseConnection,
    cache: &TokenCache,
    connection_id: &str,
    authorization: Option<&str>,
) -> Result<Caller, ScimError> {
    let refused = || {
        ScimError::Unauthorized("A valid bearer token for this SCIM base URL is required.".into())
    };
    let connection_id = Uuid::parse_str(connection_id).map_err(|_| refused())?;
    let token = authorization
        .and_then(tokens::from_header)
        .ok_or_else(refused)?;
    if !tokens::well_formed(token) {
        return Err(refused());
    }
    let hash = tokens::hash(token);
    if let Some(caller) = cache.get(&hash) {
        return if caller.connection_id == connection_id {
            Ok(caller)
        } else {
            Err(refused())
        };
    }
    let Some(stored) = scim_token::Entity::find()
        .filter(scim_token::Column::TokenHash.eq(hash.clone()))
        .one(db)
        .await
        .map_err(internal)?
    else {
        return Err(refused());
    };
    // The index found the row; the comparison itself does not leak timing.
    let valid = tokens::constant_time_eq(stored.token_hash.as_bytes(), hash.as_bytes())
        && stored.state != TOKEN_REVOKED
        && stored.connection_id == connection_id;
    if !valid {
        return Err(refused());
    }
    let Some(connection) = scim_connection::Entity::find_by_id(connection_id)
        .one(db)
        .await
        .map_err(internal)?
    else {
        return Err(refused());
    };
    if connection.status != ENABLED {
        return Err(refused());
    }
    let caller = Caller {
        connection_id,
        org_id: connection.org_id,
    };
    cache.put(hash, caller);
    Ok(caller)
}

/// Who changes the connection, for the audit log.
pub struct Admin {
    pub org_id: Uuid,
    pub actor: Actor,
}

async fn record(
    db: &impl ConnectionTrait,
    admin: &Admin,
    action: AuditAction,
    connection_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), DbErr> {
    let mut detail = detail;
    detail["connection_id"] = json!(connection_id);
    audit::record(
        db,
        AuditEntry {
            org_id: Some(admin.org_id),
            actor: admin.actor.clone(),
            action,
            success: true,
            detail,
            client_ip: None,
        },
    )
    .await
}

async fn insert_token(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    state: &str,
) -> Result<(scim_token::Model, String), DbErr> {
    let token = tokens::generate();
    let model = scim_token::ActiveModel {
        id: Set(crate::db::new_row_id()),
        connection_id: Set(connection_id),
        token_hash: Set(tokens::hash(&token)),
        state: Set(state.to_string()),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((model, token))
}

/// The organization's enabled connection, if any.
pub async fn enabled_connection(
    db: &impl ConnectionTrait,
    org_id: Uuid,
) -> Result<Option<scim_connection::Model>, DbErr> {
    scim_connection::Entity::find()
        .filter(scim_connection::Column::OrgId.eq(org_id))
        .filter(scim_connection::Column::Status.eq(ENABLED))
        .one(db)
        .await
}

/// The organization's most recent connection, enabled or not.
pub async fn latest_connection(
    db: &impl ConnectionTrait,
    org_id: Uuid,
) -> Result<Option<scim_connection::Model>, DbErr> {
    scim_connection::Entity::find()
        .filter(scim_connection::Column::OrgId.eq(org_id))
        .order_by_desc(scim_connection::Column::CreatedAt)
        .one(db)
        .await
}

pub async fn live_tokens(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
) -> Result<Vec<scim_token::Model>, DbErr> {
    scim_token::Entity::find()
        .filter(scim_token::Column::ConnectionId.eq(connection_id))
        .filter(scim_token::Column::State.ne(TOKEN_REVOKED))
        .order_by_asc(scim_token::Column::CreatedAt)
        .all(db)
        .await
}

/// Enables SCIM: a new connection with its first token (returned once).
pub async fn enable(
    db: &DatabaseConnection,
    admin: &Admin,
    provider: &str,
    name: &str,
) -> Result<(scim_connection::Model, String), ConnectionError> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    if enabled_connection(&txn, admin.org_id).await?.is_some() {
        return Err(ConnectionError::AlreadyEnabled);
    }
    let connection = scim_connection::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(admin.org_id),
        provider: Set(provider.to_string()),
        name: Set(name.to_string()),
        status: Set(ENABLED.to_string()),
        created_at: Set(Utc::now()),
        disabled_at: Set(None),
        last_called_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let (_, token) = insert_token(&txn, connection.id, TOKEN_ACTIVE).await?;
    record(
        &txn,
        admin,
        AuditAction::ScimEnabled,
        connection.id,
        json!({ "provider": provider, "name": name }),
    )
    .await?;
    record(
        &txn,
        admin,
        AuditAction::ScimTokenIssued,
        connection.id,
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok((connection, token))
}

async fn require_enabled(
    db: &impl ConnectionTrait,
    org_id: Uuid,
) -> Result<scim_connection::Model, ConnectionError> {
    enabled_connection(db, org_id)
        .await?
        .ok_or(ConnectionError::NotEnabled)
}

/// Issues a second token; the first keeps working until the rotation completes.
pub async fn rotate(
    db: &DatabaseConnection,
    cache: &TokenCache,
    admin: &Admin,
) -> Result<(scim_connection::Model, String), ConnectionError> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let connection = require_enabled(&txn, admin.org_id).await?;
    if live_tokens(&txn, connection.id)
        .await?
        .iter()
        .any(|t| t.state == TOKEN_PENDING)
    {
        return Err(ConnectionError::RotationInProgress);
    }
    let (_, token) = insert_token(&txn, connection.id, TOKEN_PENDING).await?;
    record(
        &txn,
        admin,
        AuditAction::ScimTokenRotated,
        connection.id,
        json!({}),
    )
    .await?;
    txn.commit().await?;
    cache.clear();
    Ok((connection, token))
}

async fn revoke_where(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    state: Option<&str>,
) -> Result<u64, DbErr> {
    let mut update = scim_token::Entity::update_many()
        .col_expr(scim_token::Column::State, Expr::value(TOKEN_REVOKED))
        .col_expr(scim_token::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(scim_token::Column::ConnectionId.eq(connection_id))
        .filter(scim_token::Column::State.ne(TOKEN_REVOKED));
    if let Some(state) = state {
        update = update.filter(scim_token::Column::State.eq(state));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Revokes the old token; the new one becomes the active token.
pub async fn complete_rotation(
    db: &DatabaseConnection,
    cache: &TokenCache,
    admin: &Admin,
) -> Result<scim_connection::Model, ConnectionError> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let connection = require_enabled(&txn, admin.org_id).await?;
    let tokens = live_tokens(&txn, connection.id).await?;
    if !tokens.iter().any(|t| t.state == TOKEN_PENDING) {
        return Err(ConnectionError::NoRotation);
    }
    revoke_where(&txn, connection.id, Some(TOKEN_ACTIVE)).await?;
    scim_token::Entity::update_many()
        .col_expr(scim_token::Column::State, Expr::value(TOKEN_ACTIVE))
        .filter(scim_token::Column::ConnectionId.eq(connection.id))
        .filter(scim_token::Column::State.eq(TOKEN_PENDING))
        .exec(&txn)
        .await?;
    record(
        &txn,
        admin,
        AuditAction::ScimRotationCompleted,
        connection.id,
        json!({}),
    )
    .await?;
    txn.commit().await?;
    cache.clear();
    Ok(connection)
}

/// Discards the new token; the old one stays active.
pub async fn cancel_rotation(
    db: &DatabaseConnection,
    cache: &TokenCache,
    admin: &Admin,
) -> Result<scim_connection::Model, ConnectionError> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let connection = require_enabled(&txn, admin.org_id).await?;
    if revoke_where(&txn, connection.id, Some(TOKEN_PENDING)).await? == 0 {
        return Err(ConnectionError::NoRotation);
    }
    record(
        &txn,
        admin,
        AuditAction::ScimRotationCancelled,
        connection.id,
        json!({}),
    )
    .await?;
    txn.commit().await?;
    cache.clear();
    Ok(connection)
}

/// Revokes every token and stops provisioning; users stay as they are.
pub async fn disable(
    db: &DatabaseConnection,
    cache: &TokenCache,
    admin: &Admin,
) -> Result<scim_connection::Model, ConnectionError> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let connection = require_enabled(&txn, admin.org_id).await?;
    let revoked = revoke_where(&txn, connection.id, None).await?;
    let mut model: scim_connection::ActiveModel = connection.into();
    model.status = Set(DISABLED.to_string());
    model.disabled_at = Set(Some(Utc::now()));
    let connection = model.update(&txn).await?;
    record(
        &txn,
        admin,
        AuditAction::ScimDisabled,
        connection.id,
        json!({ "tokens_revoked": revoked }),
    )
    .await?;
    txn.commit().await?;
    cache.clear();
    Ok(connection)
}
