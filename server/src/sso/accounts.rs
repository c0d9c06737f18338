//! Just-in-time accounts: the first SSO sign-in creates the member; later ones
//! refresh their names. SCIM-provisioned and JIT users are one account per email.

use crate::accounts::{self, Account, AccountError, NewUser};
use crate::audit::Actor;
use crate::entities::{organization, user};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, Set,
};
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
    #[error("the account is deactivated")]
    Deactivated(Diagnosis),
    #[error("{0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Account(#[from] AccountError),
}

/// Finds the member by email in the organization, or creates them.
pub async fn find_or_create(
    db: &DatabaseConnection,
    org: &organization::Model,
    person: &SsoPerson,
    connection_name: &str,
) -> Result<Account, JitError> {
    // Two first sign-ins can race; the unique index lets one create, the other finds.
    for _ in 0..2 {
        if let Some(user) = find_user(db, org, &person.email).await? {
            let user = refresh(db, user, person).await?;
            return account(db, user).await;
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
            },
            Actor::Anonymous {
                claimed_email: format!("{} (SSO: {connection_name})", person.email),
            },
        )
        .await;
        match created {
            Ok(user) => return account(db, user).await,
            Err(AccountError::UserExists(_)) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(JitError::Database(DbErr::Custom(
        "the account changed during sign-in".into(),
    )))
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

/// Deactivated users stay out; active ones get the IdP's current names.
async fn refresh(
    db: &DatabaseConnection,
    user: user::Model,
    person: &SsoPerson,
) -> Result<user::Model, JitError> {
    if !user.active {
        return Err(JitError::Deactivated(
            Diagnosis::new(DiagnosisCode::UserDeactivated)
                .with_expected("An active account")
                .with_received(format!(
                    "{} is deactivated in this organization",
                    user.email
                )),
        ));
    }
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
        return Ok(user);
    }
    let (first, last) = (first.clone(), last.clone());
    let mut model = user.into_active_model();
    model.first_name = Set(first);
    model.last_name = Set(last);
    model.updated_at = Set(Utc::now());
    Ok(model.update(db).await?)
}

async fn account(db: &DatabaseConnection, user: user::Model) -> Result<Account, JitError> {
    accounts::account_by_id(db, user.id)
        .await?
        .ok_or_else(|| JitError::Database(DbErr::RecordNotFound("membership".into())))
}
