//! Domain claims in the database, each change in a transaction with its audit
//! row. Refusals are audited too, so an admin can see who tried what.

use super::dns::{TxtLookup, LOOKUP_DEADLINE};
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::entities::org_domain::{ActiveModel, Column, Entity};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use shared::domain::{challenge_record_name, check_txt_values, DomainCheckFailure, DomainClaim};
use std::collections::HashSet;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another organization proved the domain is theirs.
    #[error("the domain is verified by another organization")]
    VerifiedElsewhere,
    /// This organization already claims it.
    #[error("the domain is already claimed by this organization")]
    AlreadyClaimed,
    #[error("this organization does not claim the domain")]
    NotClaimed,
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl ClaimError {
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::VerifiedElsewhere => "domain_taken",
            ClaimError::AlreadyClaimed => "domain_already_added",
            ClaimError::NotClaimed => "domain_not_claimed",
            ClaimError::Database(_) => "database_error",
        }
    }
}

/// The organization's claims, by domain, each with where it stands.
pub async fn claims(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<DomainClaim>, DbErr> {
    let own = Entity::find()
        .filter(Column::OrgId.eq(org_id))
        .order_by_asc(Column::Domain)
        .all(db)
        .await?;
    let pending: Vec<String> = own
        .iter()
        .filter(|c| c.verified_at.is_none())
        .map(|c| c.domain.clone())
        .collect();
    let taken: HashSet<String> = if pending.is_empty() {
        HashSet::new()
    } else {
        Entity::find()
            .filter(Column::Domain.is_in(pending))
            .filter(Column::VerifiedAt.is_not_null())
            .filter(Column::OrgId.ne(org_id))
            .all(db)
            .await?
            .into_iter()
            .map(|c| c.domain)
            .collect()
    };
    Ok(own
        .iter()
        .map(|c| super::view(c, taken.contains(&c.domain)))
        .collect())
}

/// The organization that verified `domain`, if one did: the only claim that routes.
pub async fn verified_owner(
    db: &impl ConnectionTrait,
    domain: &str,
) -> Result<Option<Uuid>, DbErr> {
    Ok(Entity::find()
        .filter(Column::Domain.eq(domain))
        .filter(Column::VerifiedAt.is_not_null())
        .one(db)
        .await?
        .map(|c| c.org_id))
}

/// Claims a normalized domain as pending, with a fresh token. Refused (and
/// audited) when another organization has verified it.
pub async fn claim(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: Actor,
    domain: &str,
) -> Result<(), ClaimError> {
    if verified_owner(db, domain)
        .await?
        .is_some_and(|owner| owner != org_id)
    {
        let error = ClaimError::VerifiedElsewhere;
        let detail = json!({ "domain": domain, "reason": error.code() });
        record(db, org_id, actor, AuditAction::DomainAdded, false, detail).await?;
        return Err(error);
    }
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let inserted = ActiveModel {
        org_id: Set(org_id),
        domain: Set(domain.to_string()),
        token: Set(super::new_token()),
        created_at: Set(Utc::now()),
        verified_at: Set(None),
        checked_at: Set(None),
        check_failure: Set(None),
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if crate::db::is_unique_violation(&error) => {
            return Err(ClaimError::AlreadyClaimed)
        }
        Err(error) => return Err(error.into()),
    }
    let detail = json!({ "domain": domain, "record": challenge_record_name(domain) });
    record(&txn, org_id, actor, AuditAction::DomainAdded, true, detail).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn remove(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: Actor,
    domain: &str,
) -> Result<(), DbErr> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let removed = Entity::delete_many()
        .filter(Column::OrgId.eq(org_id))
        .filter(Column::Domain.eq(domain))
        .exec(&txn)
        .await?;
    if removed.rows_affected > 0 {
        let detail = json!({ "domain": domain });
        record(
            &txn,
            org_id,
            actor,
            AuditAction::DomainRemoved,
            true,
            detail,
        )
        .await?;
    }
    txn.commit().await
}

/// Looks the claim's TXT record up and verifies the claim when the record holds
/// its token; otherwise keeps the claim pending with what was found. Either way
/// the check is stored and audited. A verified claim is not looked up again.
pub async fn verify(
    db: &DatabaseConnection,
    dns: &dyn TxtLookup,
    org_id: Uuid,
    actor: Actor,
    domain: &str,
) -> Result<(), ClaimError> {
    let claim = Entity::find_by_id((org_id, domain.to_string()))
        .one(db)
        .await?
        .ok_or(ClaimError::NotClaimed)?;
    if claim.verified_at.is_some() {
        return Ok(());
    }
    if verified_owner(db, domain).await?.is_some() {
        return refuse_taken(db, org_id, actor, domain).await;
    }
    let record_name = challenge_record_name(domain);
    let looked_up = match tokio::time::timeout(LOOKUP_DEADLINE, dns.txt(&record_name)).await {
        Ok(Ok(values)) => check_txt_values(&values, &claim.token),
        Ok(Err(failed)) => Err(DomainCheckFailure::LookupFailed {
            detail: shared::domain::printable(&failed.0, 200),
        }),
        Err(_) => Err(DomainCheckFailure::LookupFailed {
            detail: "the DNS lookup took too long".into(),
        }),
    };
    let now = Utc::now();
    match looked_up {
        Ok(()) => {
            let (txn, _turn) = crate::db::begin_write(db).await?;
            // Only a still-pending claim becomes verified; the partial unique
            // index refuses a second verified claim of the domain (a race lost).
            let updated = Entity::update_many()
                .col_expr(Column::VerifiedAt, Expr::value(now))
                .col_expr(Column::CheckedAt, Expr::value(now))
                .col_expr(Column::CheckFailure, Expr::value(Option::<String>::None))
                .filter(Column::OrgId.eq(org_id))
                .filter(Column::Domain.eq(domain))
                .filter(Column::VerifiedAt.is_null())
                .exec(&txn)
                .await;
            match updated {
                Ok(_) => {}
                Err(error) if crate::db::is_unique_violation(&error) => {
                    txn.rollback().await?;
                    return refuse_taken(db, org_id, actor, domain).await;
                }
                Err(error) => return Err(error.into()),
            }
            let detail = json!({ "domain": domain, "record": record_name });
            record(
                &txn,
                org_id,
                actor,
                AuditAction::DomainVerification,
                true,
                detail,
            )
            .await?;
            txn.commit().await?;
        }
        Err(failure) => {
            let (txn, _turn) = crate::db::begin_write(db).await?;
            let stored = serde_json::to_string(&failure).expect("a check failure serializes");
            Entity::update_many()
                .col_expr(Column::CheckedAt, Expr::value(now))
                .col_expr(Column::CheckFailure, Expr::value(Some(stored)))
                .filter(Column::OrgId.eq(org_id))
                .filter(Column::Domain.eq(domain))
                .exec(&txn)
                .await?;
            let mut detail =
                json!({ "domain": domain, "record": record_name, "reason": failure.code() });
            match &failure {
                DomainCheckFailure::WrongValue { found } => detail["found"] = json!(found),
                DomainCheckFailure::LookupFailed { detail: why } => detail["error"] = json!(why),
                DomainCheckFailure::NoRecord => {}
            }
            record(
                &txn,
                org_id,
                actor,
                AuditAction::DomainVerification,
                false,
                detail,
            )
            .await?;
            txn.commit().await?;
        }
    }
    Ok(())
}

/// Another organization verified the domain first: audited, and refused.
async fn refuse_taken(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: Actor,
    domain: &str,
) -> Result<(), ClaimError> {
    let error = ClaimError::VerifiedElsewhere;
    let detail = json!({ "domain": domain, "reason": error.code() });
    record(
        db,
        org_id,
        actor,
        AuditAction::DomainVerification,
        false,
        detail,
    )
    .await?;
    Err(error)
}

async fn record(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    actor: Actor,
    action: AuditAction,
    success: bool,
    detail: serde_json::Value,
) -> Result<(), DbErr> {
    audit::record(
        db,
        AuditEntry {
            org_id: Some(org_id),
            actor,
            action,
            success,
            detail,
            client_ip: None,
        },
    )
    .await
}
