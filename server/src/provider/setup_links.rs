//! Setup links (SPEC §14): the host app (or the operator) asks for a one-time
//! URL that lets a customer's IT admin, who has no Latchkey account yet,
//! become the organization's Integrations Admin and land on Settings >
//! Authentication. Single use, expiring, revocable and audited; only the
//! token's hash is stored.

use super::{digest, opaque_token};
use crate::accounts::{self, NewUser};
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::entities::setup_link::{ActiveModel, Column, Entity, Model};
use crate::entities::{membership, organization};
use crate::sessions::{self, SignInMethod};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use serde::Serialize;
use serde_json::json;
use shared::Role;
use std::net::IpAddr;
use uuid::Uuid;

pub const DEFAULT_LIFETIME_DAYS: i64 = 7;
pub const MAX_LIFETIME_DAYS: i64 = 30;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SetupLinkError {
    #[error("{0} is not a valid email address")]
    InvalidEmail(String),
    #[error("lifetime_days must be a whole number from 1 to {MAX_LIFETIME_DAYS}")]
    InvalidLifetime,
    #[error("no organization has the slug \"{0}\"")]
    OrganizationNotFound(String),
    #[error("no setup link of this organization has this id")]
    NotFound,
    #[error("this setup link was already used")]
    Used,
    #[error("this setup link has expired")]
    Expired,
    #[error("this setup link was revoked")]
    Revoked,
    #[error("this setup link is not valid")]
    Unknown,
    #[error("the account for {0} is deactivated in this organization")]
    AccountDeactivated(String),
    #[error("database error: {0}")]
    Database(String),
}

impl SetupLinkError {
    pub fn code(&self) -> &'static str {
        use SetupLinkError::*;
        match self {
            InvalidEmail(_) => "invalid_email",
            InvalidLifetime => "invalid_lifetime",
            OrganizationNotFound(_) => "organization_not_found",
            NotFound => "not_found",
            Used => "setup_link_used",
            Expired => "setup_link_expired",
            Revoked => "setup_link_revoked",
            Unknown => "setup_link_unknown",
            AccountDeactivated(_) => "user_deactivated",
            Database(_) => "server_error",
        }
    }
}

impl From<DbErr> for SetupLinkError {
    fn from(error: DbErr) -> Self {
        SetupLinkError::Database(error.to_string())
    }
}

impl From<accounts::AccountError> for SetupLinkError {
    fn from(error: accounts::AccountError) -> Self {
        SetupLinkError::Database(error.to_string())
    }
}

#[derive(Debug, Serialize)]
pub struct CreatedLink {
    pub id: String,
    pub url: String,
    pub email: String,
    pub expires_at: String,
}

pub async fn create(
    db: &DatabaseConnection,
    public_url: &str,
    org_slug: &str,
    email: &str,
    lifetime_days: Option<i64>,
    actor: Actor,
) -> Result<CreatedLink, SetupLinkError> {
    let email = email.trim();
    shared::validate::email("email", email)
        .map_err(|_| SetupLinkError::InvalidEmail(email.to_string()))?;
    let days = lifetime_days.unwrap_or(DEFAULT_LIFETIME_DAYS);
    if !(1..=MAX_LIFETIME_DAYS).contains(&days) {
        return Err(SetupLinkError::InvalidLifetime);
    }
    let org = accounts::find_organization(db, org_slug)
        .await?
        .ok_or_else(|| SetupLinkError::OrganizationNotFound(org_slug.to_string()))?;
    let token = opaque_token();
    let now = Utc::now();
    let link = ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(org.id),
        email: Set(email.to_string()),
        token_hash: Set(digest(&token)),
        created_by: Set(actor_name(&actor)),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(days)),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    record(db, org.id, actor, AuditAction::SetupLinkCreated, &link).await?;
    Ok(CreatedLink {
        id: link.id.to_string(),
        url: format!("{}/setup/{token}", public_url.trim_end_matches('/')),
        email: link.email,
        expires_at: link.expires_at.to_rfc3339(),
    })
}

fn actor_name(actor: &Actor) -> String {
    match actor {
        Actor::HostApp { client_id } => format!("app:{client_id}"),
        _ => "cli".into(),
    }
}

async fn record(
    db: &impl sea_orm::ConnectionTrait,
    org_id: Uuid,
    actor: Actor,
    action: AuditAction,
    link: &Model,
) -> Result<(), DbErr> {
    audit::record(
        db,
        AuditEntry {
            org_id: Some(org_id),
            actor,
            action,
            success: true,
            detail: json!({ "setup_link_id": link.id.to_string(), "email": link.email }),
            client_ip: None,
        },
    )
    .await
}

pub async fn revoke(
    db: &DatabaseConnection,
    org_id: Uuid,
    id: &str,
    actor: Actor,
) -> Result<(), SetupLinkError> {
    let id: Uuid = id.parse().map_err(|_| SetupLinkError::NotFound)?;
    let link = Entity::find_by_id(id)
        .filter(Column::OrgId.eq(org_id))
        .one(db)
        .await?
        .ok_or(SetupLinkError::NotFound)?;
    if link.revoked_at.is_none() {
        let mut active: ActiveModel = link.clone().into();
        active.revoked_at = Set(Some(Utc::now()));
        active.update(db).await?;
        record(db, org_id, actor, AuditAction::SetupLinkRevoked, &link).await?;
    }
    Ok(())
}

/// A link and its organization, while it can still be used.
pub async fn usable(
    db: &DatabaseConnection,
    token: &str,
) -> Result<(Model, organization::Model), SetupLinkError> {
    if token.len() != 43 {
        return Err(SetupLinkError::Unknown);
    }
    let link = Entity::find()
        .filter(Column::TokenHash.eq(digest(token)))
        .one(db)
        .await?
        .ok_or(SetupLinkError::Unknown)?;
    check(&link, Utc::now())?;
    let org = organization::Entity::find_by_id(link.org_id)
        .one(db)
        .await?
        .ok_or(SetupLinkError::Unknown)?;
    Ok((link, org))
}

fn check(link: &Model, now: DateTime<Utc>) -> Result<(), SetupLinkError> {
    if link.revoked_at.is_some() {
        Err(SetupLinkError::Revoked)
    } else if link.used_at.is_some() {
        Err(SetupLinkError::Used)
    } else if link.expires_at <= now {
        Err(SetupLinkError::Expired)
    } else {
        Ok(())
    }
}

/// What redeeming a link gives: a session for the new Integrations Admin.
pub struct Redeemed {
    pub session_token: String,
    pub max_age_secs: i64,
}

/// Uses the link (once: of two racing uses, one wins), makes its email the
/// organization's Integrations Admin (creating the account, SSO-only, or
/// promoting an existing one) and signs them in.
pub async fn redeem(
    db: &DatabaseConnection,
    token: &str,
    client_ip: Option<IpAddr>,
) -> Result<Redeemed, SetupLinkError> {
    let (link, org) = usable(db, token).await?;
    let now = Utc::now();
    let taken = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::Id.eq(link.id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if taken.rows_affected != 1 {
        return Err(SetupLinkError::Used);
    }
    let user = integrations_admin_for(db, &org, &link.email).await?;
    let session_token =
        sessions::open(db, user.id, org.id, SignInMethod::SetupLink, client_ip).await?;
    let actor = Actor::User {
        id: user.id,
        email: user.email.clone(),
    };
    record(db, org.id, actor, AuditAction::SetupLinkUsed, &link).await?;
    Ok(Redeemed {
        session_token,
        max_age_secs: sessions::SESSION_LIFETIME.num_seconds(),
    })
}

async fn integrations_admin_for(
    db: &DatabaseConnection,
    org: &organization::Model,
    email: &str,
) -> Result<crate::entities::user::Model, SetupLinkError> {
    let existing = accounts::accounts_by_email(db, email)
        .await?
        .into_iter()
        .find(|a| a.org.id == org.id);
    let Some(account) = existing else {
        let new = NewUser {
            org_slug: org.slug.clone(),
            email: email.to_string(),
            first_name: String::new(),
            last_name: String::new(),
            role: Role::IntegrationsAdmin,
            password: None,
            source: shared::members::MemberSource::Manual,
        };
        return Ok(accounts::create_user(db, new, Actor::Cli).await?);
    };
    if !account.user.active {
        return Err(SetupLinkError::AccountDeactivated(email.to_string()));
    }
    if !account.role.is_integrations_admin() {
        membership::Entity::update_many()
            .col_expr(
                membership::Column::Role,
                Expr::value(Role::IntegrationsAdmin.as_str()),
            )
            .filter(membership::Column::UserId.eq(account.user.id))
            .exec(db)
            .await?;
    }
    Ok(account.user)
}
