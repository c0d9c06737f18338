//! Access tokens: opaque, kept as hashes, one hour. A member's token opens
//! userinfo; an app's own (`client_credentials`) token opens the directory API.

use super::codes::Authentication;
use super::{digest, opaque_token};
use crate::entities::op_access_token::{ActiveModel, Column, Entity, Model};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use uuid::Uuid;

pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);

/// Whom a token speaks for.
pub enum Bearer {
    /// A member signed in to the app through Latchkey.
    Member {
        user_id: Uuid,
        org_id: Uuid,
        auth: Authentication,
        /// Hash of the code redeemed for it.
        code_hash: String,
    },
    /// The app itself.
    App,
}

pub async fn issue(
    db: &DatabaseConnection,
    app_id: Uuid,
    bearer: Bearer,
    scope: &str,
) -> Result<String, DbErr> {
    let token = opaque_token();
    let now = Utc::now();
    let mut model = ActiveModel {
        token_hash: Set(digest(&token)),
        app_id: Set(app_id),
        user_id: Set(None),
        org_id: Set(None),
        scope: Set(scope.to_string()),
        code_hash: Set(None),
        auth_time: Set(None),
        amr: Set(None),
        idp: Set(None),
        created_at: Set(now),
        expires_at: Set(now + ACCESS_TOKEN_LIFETIME),
    };
    if let Bearer::Member {
        user_id,
        org_id,
        auth,
        code_hash,
    } = bearer
    {
        model.user_id = Set(Some(user_id));
        model.org_id = Set(Some(org_id));
        model.code_hash = Set(Some(code_hash));
        model.auth_time = Set(Some(auth.time));
        model.amr = Set(Some(auth.method));
        model.idp = Set(auth.idp);
    }
    model.insert(db).await?;
    Ok(token)
}

/// The live token with this value, if any.
pub async fn find(db: &DatabaseConnection, token: &str) -> Result<Option<Model>, DbErr> {
    if token.is_empty() || token.len() > 256 {
        return Ok(None);
    }
    let found = Entity::find_by_id(digest(token)).one(db).await?;
    Ok(found.filter(|t| t.expires_at > Utc::now()))
}

pub async fn revoke_for_code(db: &DatabaseConnection, code_hash: &str) -> Result<u64, DbErr> {
    let result = Entity::delete_many()
        .filter(Column::CodeHash.eq(code_hash))
        .exec(db)
        .await?;
    if result.rows_affected > 0 {
        tracing::warn!(
            revoked = result.rows_affected,
            "an authorization code was replayed; the tokens it bought are revoked"
        );
    }
    Ok(result.rows_affected)
}

pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
