//! Pending SSO requests: a sign-in or test that left for the identity provider.
//! A response must name one (SAML `InResponseTo`, OIDC `state`) unless the
//! connection accepts IdP-initiated sign-in; each is used once: an OIDC
//! `state` by [`take`], a SAML request by its response's `replay::Claim`.

use crate::entities::sso_request::{ActiveModel, Column, Entity, Model};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    Set,
};
use uuid::Uuid;

/// How long a member may spend at the identity provider.
pub const REQUEST_LIFETIME: Duration = Duration::minutes(10);

/// Why the browser went to the identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// An admin's Test Connection: nobody is signed in by it.
    Test,
    /// An Integrations Admin links their identity at the IdP to their own
    /// account (`admin_user_id`); nobody is signed in by it.
    Link,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Test => "test",
            Purpose::Link => "link",
        }
    }

    fn parse(value: &str) -> Purpose {
        match value {
            "test" => Purpose::Test,
            "link" => Purpose::Link,
            _ => Purpose::SignIn,
        }
    }
}

/// A request to store.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: String,
    pub connection_id: Uuid,
    pub org_id: Uuid,
    pub purpose: Purpose,
    pub admin_user_id: Option<Uuid>,
    pub return_to: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    /// SHA-256 of the browser secret (`sso::binding`).
    pub browser_binding: Option<String>,
}

/// A stored request, read back when the response arrives.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub id: String,
    pub connection_id: Uuid,
    pub purpose: Purpose,
    pub admin_user_id: Option<Uuid>,
    pub return_to: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub browser_binding: Option<String>,
}

impl From<Model> for PendingRequest {
    fn from(model: Model) -> Self {
        Self {
            purpose: Purpose::parse(&model.purpose),
            id: model.id,
            connection_id: model.connection_id,
            admin_user_id: model.admin_user_id,
            return_to: model.return_to,
            nonce: model.nonce,
            pkce_verifier: model.pkce_verifier,
            browser_binding: model.browser_binding,
        }
    }
}

pub async fn store(db: &DatabaseConnection, new: NewRequest) -> Result<(), DbErr> {
    let now = Utc::now();
    let turn = crate::db::write_turn(db).await?;
    ActiveModel {
        id: Set(new.id),
        connection_id: Set(new.connection_id),
        org_id: Set(new.org_id),
        purpose: Set(new.purpose.as_str().to_string()),
        admin_user_id: Set(new.admin_user_id),
        return_to: Set(shared::redirect::local_path(Some(&new.return_to))),
        nonce: Set(new.nonce),
        pkce_verifier: Set(new.pkce_verifier),
        browser_binding: Set(new.browser_binding),
        created_at: Set(now),
        expires_at: Set(now + REQUEST_LIFETIME),
    }
    .insert(turn.db())
    .await?;
    Ok(())
}

/// Uses up the live request with this ID on this connection and returns it;
/// `None` when it is unknown, expired, someone else's, or already used.
///
/// A request answers once. Of two responses racing for it (a double submit, or
/// an attacker racing the member) only one DELETE removes the row and gets it
/// back (RETURNING, one statement); the other gets `None` and is refused like
/// any unknown or used request.
pub async fn take(
    db: &DatabaseConnection,
    connection_id: Uuid,
    id: &str,
) -> Result<Option<PendingRequest>, DbErr> {
    let Some(live) = live(connection_id, id) else {
        return Ok(None);
    };
    let turn = crate::db::write_turn(db).await?;
    let mut deleted = Entity::delete_many()
        .filter(live)
        .exec_with_returning(turn.db())
        .await?;
    Ok(deleted.pop().map(PendingRequest::from))
}

/// The live request with this ID on this connection, not yet answered, left
/// in place: a SAML response uses it up only with what it leads to
/// (`replay::Claim`), in the same commit, instead of in a write of its own
/// before it is even checked.
pub async fn find_live(
    db: &DatabaseConnection,
    connection_id: Uuid,
    id: &str,
) -> Result<Option<PendingRequest>, DbErr> {
    let Some(live) = live(connection_id, id) else {
        return Ok(None);
    };
    let unanswered = live.add(crate::sso::replay::request_unanswered(connection_id, id));
    let found = Entity::find().filter(unanswered).one(db).await?;
    Ok(found.map(PendingRequest::from))
}

/// The request `id` of this connection, unless it has expired. `None` for an
/// ID not shaped like ours: IDs we issue are short and URL-safe, and anything
/// else (a NUL byte, a megabyte) is nobody's request and never reaches the
/// database.
fn live(connection_id: Uuid, id: &str) -> Option<Condition> {
    is_request_id(id).then(|| {
        Condition::all()
            .add(Column::Id.eq(id))
            .add(Column::ConnectionId.eq(connection_id))
            .add(Column::ExpiresAt.gt(Utc::now()))
    })
}

fn is_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Forgets requests nobody answered in time; run by the hourly sweeper.
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, DbErr> {
    crate::db::purge_expired::<Entity>(db, Column::ExpiresAt).await
}

#[cfg(test)]
mod tests {
    use super::is_request_id;

    #[test]
    fn only_ids_shaped_like_ours_are_looked_up() {
        assert!(is_request_id("_lk00ff"));
        assert!(is_request_id("Ab-_09"));
        for other in ["", "\0", "a b", "x\u{0}y", "é", &"a".repeat(65)] {
            assert!(!is_request_id(other), "{other:?}");
        }
    }
}
