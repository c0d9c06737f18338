//! Organizations, users and their memberships: creating them and looking them up.

use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::db::is_unique_violation;
use crate::entities::{membership, organization, user};
use crate::events::{self, EventType};
use crate::password;
use chrono::Utc;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::json;
use shared::members::MemberSource;
use shared::validate::{self, normalize_email};
use shared::{FieldErrors, Role};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("an organization with the slug \"{0}\" already exists")]
    OrganizationExists(String),
    #[error("no organization has the slug \"{0}\"")]
    OrganizationNotFound(String),
    #[error("{0} already has an account in this organization")]
    UserExists(String),
    #[error("could not hash the password: {0}")]
    Hashing(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl AccountError {
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::Invalid(_) => "invalid_input",
            AccountError::OrganizationExists(_) => "organization_exists",
            AccountError::OrganizationNotFound(_) => "organization_not_found",
            AccountError::UserExists(_) => "user_exists",
            AccountError::Hashing(_) => "hashing_failed",
            AccountError::Database(_) => "database_error",
        }
    }
}

pub struct NewUser {
    pub org_slug: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    /// `None` for an account that can only sign in through SSO.
    pub password: Option<String>,
    /// Who asked for the account: by hand (operator, setup link) or SSO just in time.
    pub source: MemberSource,
}

pub async fn create_organization(
    db: &DatabaseConnection,
    slug: &str,
    name: &str,
    actor: Actor,
) -> Result<organization::Model, AccountError> {
    let mut errors = FieldErrors::default();
    errors.check(validate::org_slug("slug", slug));
    errors.check(validate::required_name("name", name));
    errors.into_result().map_err(AccountError::Invalid)?;

    let (txn, _turn) = crate::db::begin_write(db).await?;
    let org = organization::ActiveModel {
        id: Set(crate::db::new_row_id()),
        slug: Set(slug.to_string()),
        name: Set(name.trim().to_string()),
        require_sso: Set(false),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AccountError::OrganizationExists(slug.to_string())
        } else {
            e.into()
        }
    })?;
    audit::record(
        &txn,
        AuditEntry {
            org_id: Some(org.id),
            actor,
            action: AuditAction::OrganizationCreated,
            success: true,
            detail: json!({ "slug": org.slug, "name": org.name }),
            client_ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(org)
}

pub async fn find_organization(
    db: &DatabaseConnection,
    slug: &str,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find()
        .filter(organization::Column::Slug.eq(slug))
        .one(db)
        .await
}

pub async fn create_user(
    db: &DatabaseConnection,
    new: NewUser,
    actor: Actor,
) -> Result<user::Model, AccountError> {
    let mut errors = FieldErrors::default();
    errors.check(validate::email("email", &new.email));
    errors.check(validate::optional_name("first_name", &new.first_name));
    errors.check(validate::optional_name("last_name", &new.last_name));
    if let Some(pw) = &new.password {
        errors.check(validate::new_password("password", pw));
    }
    errors.into_result().map_err(AccountError::Invalid)?;

    let org = find_organization(db, &new.org_slug)
        .await?
        .ok_or_else(|| AccountError::OrganizationNotFound(new.org_slug.clone()))?;
    let password_hash = match new.password {
        Some(pw) => Some(password::hash(pw).await.map_err(AccountError::Hashing)?),
        None => None,
    };

    let now = Utc::now();
    let email = new.email.trim().to_string();
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let user = user::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(org.id),
        email_normalized: Set(normalize_email(&email)),
        email: Set(email.clone()),
        first_name: Set(new.first_name.trim().to_string()),
        last_name: Set(new.last_name.trim().to_string()),
        password_hash: Set(password_hash),
        active: Set(true),
        external_id: Set(None),
        scim_attributes: Set(None),
        source: Set(new.source.as_str().to_string()),
        last_sign_in_at: Set(None),
        last_sign_in_method: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AccountError::UserExists(email.clone())
        } else {
            e.into()
        }
    })?;
    membership::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(org.id),
        user_id: Set(user.id),
        role: Set(new.role.as_str().to_string()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::sso::identities::unretire(&txn, org.id, &user.email_normalized).await?;
    audit::record(
        &txn,
        AuditEntry {
            org_id: Some(org.id),
            actor,
            action: AuditAction::UserCreated,
            success: true,
            detail: json!({ "email": user.email, "role": new.role.as_str() }),
            client_ip: None,
        },
    )
    .await?;
    events::emit(
        &txn,
        org.id,
        EventType::UserCreated,
        events::user_data(&user),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// A user with their organization and role, as sign-in and sessions need them.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: user::Model,
    pub org: organization::Model,
    pub role: Role,
}

impl Account {
    pub fn to_current_user(&self) -> shared::CurrentUser {
        shared::CurrentUser {
            user_id: self.user.id.to_string(),
            email: self.user.email.clone(),
            first_name: self.user.first_name.clone(),
            last_name: self.user.last_name.clone(),
            role: self.role,
            org_slug: self.org.slug.clone(),
            org_name: self.org.name.clone(),
        }
    }
}

/// Every account with this email, in any organization (email is unique per organization).
pub async fn accounts_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Vec<Account>, DbErr> {
    let users = user::Entity::find()
        .filter(user::Column::EmailNormalized.eq(normalize_email(email)))
        .all(db)
        .await?;
    let mut accounts = Vec::with_capacity(users.len());
    for user in users {
        if let Some(account) = complete_account(db, user).await? {
            accounts.push(account);
        }
    }
    Ok(accounts)
}

pub async fn account_by_id(db: &DatabaseConnection, id: Uuid) -> Result<Option<Account>, DbErr> {
    match user::Entity::find_by_id(id).one(db).await? {
        Some(user) => complete_account(db, user).await,
        None => Ok(None),
    }
}

async fn complete_account(
    db: &DatabaseConnection,
    user: user::Model,
) -> Result<Option<Account>, DbErr> {
    let Some(org) = organization::Entity::find_by_id(user.org_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    account_in(db, user, &org).await
}

/// The account of `user` in `org`, both already read by the caller: only the
/// membership is looked up. `None` when the user is not a member of `org`.
pub async fn account_in(
    db: &DatabaseConnection,
    user: user::Model,
    org: &organization::Model,
) -> Result<Option<Account>, DbErr> {
    if user.org_id != org.id {
        return Ok(None);
    }
    let membership = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user.id))
        .one(db)
        .await?;
    Ok(account_of(user, org, membership))
}

/// The account of `user` in `org` from rows already read: `None` when the
/// user is not a member of `org` or its role is unknown.
pub fn account_of(
    user: user::Model,
    org: &organization::Model,
    membership: Option<membership::Model>,
) -> Option<Account> {
    if user.org_id != org.id {
        return None;
    }
    let role = membership?.role.parse().ok()?;
    Some(Account {
        user,
        org: org.clone(),
        role,
    })
}

/// Locks the organization's row until the transaction ends. Take it before
/// counting admins in a change that may remove one: on PostgreSQL two requests
/// that each deactivate one of two admins cannot then both see the other still
/// active (SQLite has one writer, and it ignores the lock clause).
pub async fn lock_organization(txn: &impl ConnectionTrait, org_id: Uuid) -> Result<(), DbErr> {
    // NO KEY UPDATE serialises two such checks without waiting for every
    // user creation in flight (each holds KEY SHARE on the organization).
    organization::Entity::find_by_id(org_id)
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await
        .map(|_| ())
}

/// The ids of the organization's Integrations Admins, active or not.
pub async fn admin_ids(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<Uuid>, DbErr> {
    membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::Role.eq(Role::IntegrationsAdmin.as_str()))
        .into_tuple()
        .all(db)
        .await
}

/// How many active Integrations Admins the organization has.
pub async fn active_admin_count(db: &impl ConnectionTrait, org_id: Uuid) -> Result<u64, DbErr> {
    let admins = admin_ids(db, org_id).await?;
    if admins.is_empty() {
        return Ok(0);
    }
    user::Entity::find()
        .filter(user::Column::Id.is_in(admins))
        .filter(user::Column::Active.eq(true))
        .count(db)
        .await
}
