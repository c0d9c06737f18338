//! The assertion replay cache. It lives in the database so that a response
//! used on one instance is refused on every other.
//!
//! Besides assertion IDs it holds other things used once on a connection,
//! each under a prefix with a colon, which an assertion ID (an XML NCName)
//! cannot contain: `logout:` for back-channel logout tokens and `request:` for
//! our sign-in requests once answered.

use crate::db::{is_unique_violation, Script};
use crate::entities::saml_replay::{ActiveModel, Column, Entity};
use crate::sso::requests::REQUEST_LIFETIME;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, Set};
use shared::{Diagnosis, DiagnosisCode};
use uuid::Uuid;

/// Records the assertion ID; `Ok(false)` when it was already used.
pub async fn first_use(
    db: &DatabaseConnection,
    connection_id: Uuid,
    assertion_id: &str,
    remember_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let turn = crate::db::write_turn(db).await?;
    let inserted = row(connection_id, assertion_id.to_string(), remember_until)
        .insert(turn.db())
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// What makes a verified SAML response single-use: its assertion and, when it
/// answers a sign-in request of ours, that request. Recorded with what the
/// response leads to, in the same commit, so a sign-in writes once: of two
/// responses racing for one request or one assertion, the second's rows break
/// the unique key and nothing it wrote is kept.
///
/// The request's row is left to expire: its claim is what marks it answered
/// (`requests::find_live` reads both). Deleting it too would write three more
/// pages on every sign-in (the row and its two indexes) to say the same thing.
///
/// An assertion whose signed InResponseTo names the request is refused with
/// any other request (`saml::response`), and with that request once it is
/// answered or expired, so the request's claim is its claim too. It gets no
/// row of its own: assertion IDs are the IdP's random strings, and their row
/// and its expiry entry were a random page each of the replay cache on every
/// sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub connection_id: Uuid,
    pub assertion_id: String,
    /// Until when the assertion could still be accepted.
    pub remember_until: DateTime<Utc>,
    /// The ID of the request the response answers; `None` when IdP-initiated.
    pub request_id: Option<String>,
    /// Whether the assertion's signed InResponseTo names `request_id`.
    pub named_by_assertion: bool,
}

impl Claim {
    /// Adds the claim's writes: a replay row for the request the response
    /// answers, and one for the assertion unless it names that request.
    pub fn push(&self, script: &mut Script) {
        script.push(&Entity::insert_many(self.rows()));
    }

    fn rows(&self) -> Vec<ActiveModel> {
        let assertion = row(
            self.connection_id,
            self.assertion_id.clone(),
            self.remember_until,
        );
        let Some(request_id) = &self.request_id else {
            return vec![assertion];
        };
        // Kept as long as the request could have been answered.
        let until = Utc::now() + REQUEST_LIFETIME;
        let request = row(self.connection_id, request_key(request_id), until);
        if self.named_by_assertion {
            vec![request]
        } else {
            vec![assertion, request]
        }
    }

    /// Records the claim on its own; `Ok(false)` when the assertion or the
    /// request was already used.
    pub async fn record(&self, db: &DatabaseConnection) -> Result<bool, DbErr> {
        let mut script = Script::new(db.get_database_backend());
        self.push(&mut script);
        match script.commit(db).await {
            Ok(()) => Ok(true),
            Err(error) if is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Why a response whose claim was already made is refused. A response to
    /// our request names it in its signed InResponseTo, so a replay of it is
    /// an answer to a request already answered.
    pub fn refusal(&self) -> Diagnosis {
        match &self.request_id {
            Some(request_id) => Diagnosis::new(DiagnosisCode::InResponseToUnknown)
                .with_expected(
                    "The ID of a sign-in request Latchkey sent in the last 10 minutes, not yet answered",
                )
                .with_received(format!("{request_id}, already answered")),
            None => Diagnosis::new(DiagnosisCode::ResponseReplayed)
                .with_expected("An assertion used for the first time")
                .with_received(format!("Assertion {} was already used", self.assertion_id)),
        }
    }
}

/// True while the request `request_id` of this connection is not answered.
pub fn request_unanswered(connection_id: Uuid, request_id: &str) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(Entity)
            .and_where(Column::ConnectionId.eq(connection_id))
            .and_where(Column::AssertionId.eq(request_key(request_id)))
            .to_owned(),
    )
    .not()
}

fn request_key(request_id: &str) -> String {
    format!("request:{request_id}")
}

fn row(connection_id: Uuid, key: String, expires_at: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        connection_id: Set(connection_id),
        assertion_id: Set(key),
        expires_at: Set(expires_at),
    }
}

/// Forgets assertions past their `remember_until`; run by the hourly sweeper,
/// not per response (one write less on every sign-in). A forgotten assertion
/// has expired, so it is refused as expired before the cache is asked.
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, DbErr> {
    crate::db::purge_expired::<Entity>(db, Column::ExpiresAt).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn claim(request_id: Option<&str>, named_by_assertion: bool) -> Claim {
        Claim {
            connection_id: Uuid::nil(),
            assertion_id: "_a1".into(),
            remember_until: Utc::now() + Duration::hours(2),
            request_id: request_id.map(str::to_string),
            named_by_assertion,
        }
    }

    fn keys(claim: &Claim) -> Vec<String> {
        claim
            .rows()
            .into_iter()
            .map(|row| row.assertion_id.unwrap())
            .collect()
    }

    #[test]
    fn an_assertion_naming_its_request_is_claimed_through_the_request_alone() {
        assert_eq!(keys(&claim(Some("_lk1"), true)), ["request:_lk1"]);
    }

    #[test]
    fn an_assertion_that_names_no_request_keeps_a_row_of_its_own() {
        assert_eq!(keys(&claim(Some("_lk1"), false)), ["_a1", "request:_lk1"]);
        assert_eq!(keys(&claim(None, false)), ["_a1"]);
    }
}
