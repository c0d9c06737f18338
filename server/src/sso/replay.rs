//! The assertion replay cache. It lives in the database so that a response
//! used on one instance is refused on every other.

use crate::db::is_unique_violation;
use crate::entities::saml_replay::{ActiveModel, Column, Entity};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, Set};
use uuid::Uuid;

/// Records the assertion ID; `Ok(false)` when it was already used.
pub async fn first_use(
    db: &DatabaseConnection,
    connection_id: Uuid,
    assertion_id: &str,
    remember_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let turn = crate::db::write_turn(db).await?;
    let inserted = ActiveModel {
        connection_id: Set(connection_id),
        assertion_id: Set(assertion_id.to_string()),
        expires_at: Set(remember_until),
    }
    .insert(turn.db())
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Forgets assertions past their `remember_until`; run by the hourly sweeper,
/// not per response (one write less on every sign-in). A forgotten assertion
/// has expired, so it is refused as expired before the cache is asked.
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, DbErr> {
    crate::db::purge_expired::<Entity>(db, Column::ExpiresAt).await
}
