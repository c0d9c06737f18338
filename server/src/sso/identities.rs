//! Which account an identity provider's subject signs in to, and which emails
//! SCIM retired.
//!
//! A binding (connection, subject) → account is made the first time a subject
//! signs in (or when an Integrations Admin links their own identity); from then
//! on the subject, not the email, picks the account. The database allows one
//! account per subject and one subject per account on each connection.

use crate::entities::{membership, retired_account, sso_identity, user};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use uuid::Uuid;

/// How a binding came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The subject's first sign-in matched or created the account.
    SignIn,
    /// An Integrations Admin linked it from their own signed-in session.
    AdminLink,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::SignIn => "sign_in",
            Origin::AdminLink => "admin_link",
        }
    }
}

pub async fn by_subject(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    subject: &str,
) -> Result<Option<sso_identity::Model>, DbErr> {
    sso_identity::Entity::find()
        .filter(sso_identity::Column::ConnectionId.eq(connection_id))
        .filter(sso_identity::Column::Subject.eq(subject))
        .one(db)
        .await
}

/// The identity bound to `subject` on this connection, with its user and the
/// user's membership, in one query: a returning member's sign-in reads no
/// more than this.
pub async fn by_subject_with_account(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    subject: &str,
) -> Result<Option<BoundAccount>, DbErr> {
    let found = sso_identity::Entity::find()
        .filter(sso_identity::Column::ConnectionId.eq(connection_id))
        .filter(sso_identity::Column::Subject.eq(subject))
        .find_also_related(user::Entity)
        .find_also(user::Entity, membership::Entity)
        .one(db)
        .await?;
    Ok(found.map(|(identity, user, membership)| BoundAccount {
        identity,
        user,
        membership,
    }))
}

/// An identity and the rows of the account it is bound to; a row is `None`
/// only if the account was deleted meanwhile.
pub struct BoundAccount {
    pub identity: sso_identity::Model,
    pub user: Option<user::Model>,
    pub membership: Option<membership::Model>,
}

/// The subject bound to `user_id` on this connection, if any.
pub async fn of_user(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    user_id: Uuid,
) -> Result<Option<sso_identity::Model>, DbErr> {
    sso_identity::Entity::find()
        .filter(sso_identity::Column::ConnectionId.eq(connection_id))
        .filter(sso_identity::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// Binds `subject` to `user_id`. A unique violation means another sign-in
/// bound the subject or the account first; callers look again.
pub async fn bind(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    connection_id: Uuid,
    subject: &str,
    user_id: Uuid,
    origin: Origin,
) -> Result<sso_identity::Model, DbErr> {
    let now = Utc::now();
    sso_identity::ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(org_id),
        connection_id: Set(connection_id),
        subject: Set(subject.to_string()),
        user_id: Set(user_id),
        origin: Set(origin.as_str().to_string()),
        created_at: Set(now),
    }
    .insert(db)
    .await
}

/// Removes the account's binding on this connection (an admin re-linking).
pub async fn unbind_user(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    user_id: Uuid,
) -> Result<(), DbErr> {
    sso_identity::Entity::delete_many()
        .filter(sso_identity::Column::ConnectionId.eq(connection_id))
        .filter(sso_identity::Column::UserId.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Remembers that SCIM deleted the account of this email.
pub async fn retire(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    email_normalized: &str,
) -> Result<(), DbErr> {
    retired_account::Entity::insert(retired_account::ActiveModel {
        org_id: Set(org_id),
        email_normalized: Set(email_normalized.to_string()),
        reason: Set("scim_deleted".into()),
        retired_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            retired_account::Column::OrgId,
            retired_account::Column::EmailNormalized,
        ])
        .update_columns([retired_account::Column::RetiredAt])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// An account created again for this email (by SCIM or an admin) lifts the retirement.
pub async fn unretire(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    email_normalized: &str,
) -> Result<(), DbErr> {
    unretire_query(org_id, email_normalized)
        .exec(db)
        .await
        .map(|_| ())
}

/// What `unretire` runs, for a caller that sends it with other writes.
pub fn unretire_query(
    org_id: Uuid,
    email_normalized: &str,
) -> sea_orm::DeleteMany<retired_account::Entity> {
    retired_account::Entity::delete_many()
        .filter(retired_account::Column::OrgId.eq(org_id))
        .filter(retired_account::Column::EmailNormalized.eq(email_normalized))
}

pub async fn is_retired(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    email_normalized: &str,
) -> Result<bool, DbErr> {
    Ok(
        retired_account::Entity::find_by_id((org_id, email_normalized.to_string()))
            .one(db)
            .await?
            .is_some(),
    )
}
