//! Which account an SSO sign-in opens. The identity provider's subject (SAML
//! NameID, OIDC `sub`) picks it once bound (`identities`); a subject seen for
//! the first time is bound to the account with its email, or to a new account
//! created just in time. Three cases are refused instead: an email whose
//! account is bound to another subject of this connection (the IdP gave an old
//! address to someone new), an Integrations Admin with a password who has not
//! linked this identity, and an email whose account SCIM deleted.

use super::identities::{self, Origin};
use crate::accounts::{self, Account, AccountError, NewUser};
use crate::audit::Actor;
use crate::db::is_unique_violation;
use crate::entities::sso_connection::Model as Connection;
use crate::entities::{organization, user};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use shared::validate::normalize_email;
use shared::{Diagnosis, DiagnosisCode, Role};

/// The person to sign in, from an assertion or ID token.
#[derive(Debug, Clone)]
pub struct SsoPerson {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JitError {
    #[error("{}", .0.code.code())]
    Refused(Diagnosis),
    #[error("{0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Account(#[from] AccountError),
}

/// Where the sign-in comes from: the connection and the IdP's subject.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub connection: &'a Connection,
    pub subject: &'a str,
}

/// The account a sign-in reaches, and `rename` when the IdP's names for the
/// person changed: the caller writes it with the session, in the same commit.
pub struct Reached {
    pub account: Account,
    pub rename: Option<sea_orm::UpdateMany<user::Entity>>,
}

/// The account of a subject bound before, found without writing anything:
/// a returning member's sign-in then writes once, all in the caller's commit.
/// `None` when the subject is new to this connection.
pub async fn find_bound(
    db: &DatabaseConnection,
    org: &organization::Model,
    from: Subject<'_>,
    person: &SsoPerson,
) -> Result<Option<Reached>, JitError> {
    let Some(bound) =
        identities::by_subject_with_account(db, from.connection.id, from.subject).await?
    else {
        return Ok(None);
    };
    let user = bound
        .user
        .ok_or_else(|| DbErr::RecordNotFound("user".into()))?;
    let (user, rename) = with_current_names(user, person)?;
    let account = accounts::account_of(user, org, bound.membership)
        .ok_or_else(|| DbErr::RecordNotFound("membership".into()))?;
    Ok(Some(Reached { account, rename }))
}

/// The account `subject` signs in to, created just in time for new people.
pub async fn find_or_create(
    db: &DatabaseConnection,
    org: &organization::Model,
    from: Subject<'_>,
    person: &SsoPerson,
) -> Result<Reached, JitError> {
    // Two first sign-ins can race; the unique indexes let one bind or create,
    // and the other finds what it made on the next pass.
    for _ in 0..3 {
        if let Some(reached) = find_bound(db, org, from, person).await? {
            return Ok(reached);
        }
        let bound = match find_user(db, org, &person.email).await? {
            Some(user) => bind_existing(db, org, from, user).await?,
            None => create(db, org, from, person).await?,
        };
        if let Some(user) = bound {
            let (user, rename) = with_current_names(user, person)?;
            return Ok(Reached {
                account: account(db, org, user).await?,
                rename,
            });
        }
    }
    Err(JitError::Database(DbErr::Custom(
        "the account changed during sign-in".into(),
    )))
}

/// Binds a subject seen for the first time to the account with its email.
/// `None`: someone else bound it meanwhile; look again.
async fn bind_existing(
    db: &DatabaseConnection,
    org: &organization::Model,
    from: Subject<'_>,
    user: user::Model,
) -> Result<Option<user::Model>, JitError> {
    if let Some(other) = identities::of_user(db, from.connection.id, user.id).await? {
        return Err(JitError::Refused(
            Diagnosis::new(DiagnosisCode::IdentityConflict)
                .with_expected(format!(
                    "{} signs in through this connection as {}",
                    user.email, other.subject
                ))
                .with_received(format!("{} for {}", from.subject, user.email)),
        ));
    }
    check_active(&user)?;
    let full = account(db, org, user.clone()).await?;
    if full.role == Role::IntegrationsAdmin && user.password_hash.is_some() {
        return Err(JitError::Refused(
            Diagnosis::new(DiagnosisCode::AdminLinkRequired)
                .with_expected(format!(
                    "{} linked to this connection from their own session",
                    user.email
                ))
                .with_received(format!("{} (not linked)", from.subject)),
        ));
    }
    bind_first_sign_in(db, from, user).await
}

/// A new person from the organization's own connection: a member account,
/// bound to the subject. Not for an email whose account SCIM deleted.
async fn create(
    db: &DatabaseConnection,
    org: &organization::Model,
    from: Subject<'_>,
    person: &SsoPerson,
) -> Result<Option<user::Model>, JitError> {
    if identities::is_retired(db, org.id, &normalize_email(&person.email)).await? {
        return Err(JitError::Refused(
            Diagnosis::new(DiagnosisCode::UserDeleted)
                .with_expected("An account that provisioning has not deleted")
                .with_received(format!("{} was deleted by SCIM provisioning", person.email)),
        ));
    }
    let created = accounts::create_user(
        db,
        NewUser {
            org_slug: org.slug.clone(),
            email: person.email.clone(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            role: Role::Member,
            password: None,
            source: shared::members::MemberSource::Sso,
        },
        Actor::Anonymous {
            claimed_email: format!("{} (SSO: {})", person.email, from.connection.display_name),
        },
    )
    .await;
    let user = match created {
        Ok(user) => user,
        Err(AccountError::UserExists(_)) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    bind_first_sign_in(db, from, user).await
}

/// Binds the subject to `user`; `None` when another sign-in bound the subject
/// or the account first (the caller looks again).
async fn bind_first_sign_in(
    db: &DatabaseConnection,
    from: Subject<'_>,
    user: user::Model,
) -> Result<Option<user::Model>, JitError> {
    let bind = identities::bind(
        db,
        user.org_id,
        from.connection.id,
        from.subject,
        user.id,
        Origin::SignIn,
    )
    .await;
    match bind {
        Ok(_) => Ok(Some(user)),
        Err(error) if is_unique_violation(&error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

async fn find_user(
    db: &DatabaseConnection,
    org: &organization::Model,
    email: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::OrgId.eq(org.id))
        .filter(user::Column::EmailNormalized.eq(normalize_email(email)))
        .one(db)
        .await
}

fn check_active(user: &user::Model) -> Result<(), JitError> {
    if user.active {
        return Ok(());
    }
    Err(JitError::Refused(
        Diagnosis::new(DiagnosisCode::UserDeactivated)
            .with_expected("An active account")
            .with_received(format!(
                "{} is deactivated in this organization",
                user.email
            )),
    ))
}

/// Deactivated users stay out; active ones get the IdP's current names: the
/// user as it will be, and the update that makes it so when anything changed.
fn with_current_names(
    user: user::Model,
    person: &SsoPerson,
) -> Result<(user::Model, Option<sea_orm::UpdateMany<user::Entity>>), JitError> {
    check_active(&user)?;
    let first = if person.first_name.is_empty() {
        &user.first_name
    } else {
        &person.first_name
    };
    let last = if person.last_name.is_empty() {
        &user.last_name
    } else {
        &person.last_name
    };
    if first == &user.first_name && last == &user.last_name {
        return Ok((user, None));
    }
    let renamed = user::Model {
        first_name: first.clone(),
        last_name: last.clone(),
        updated_at: Utc::now(),
        ..user
    };
    let update = user::Entity::update_many()
        .col_expr(
            user::Column::FirstName,
            Expr::value(renamed.first_name.clone()),
        )
        .col_expr(
            user::Column::LastName,
            Expr::value(renamed.last_name.clone()),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(renamed.updated_at))
        .filter(user::Column::Id.eq(renamed.id));
    Ok((renamed, Some(update)))
}

/// The account of the user just read or written: its row is not read again,
/// nor the organization, which the sign-in already holds.
async fn account(
    db: &DatabaseConnection,
    org: &organization::Model,
    user: user::Model,
) -> Result<Account, JitError> {
    accounts::account_in(db, user, org)
        .await?
        .ok_or_else(|| JitError::Database(DbErr::RecordNotFound("membership".into())))
}
