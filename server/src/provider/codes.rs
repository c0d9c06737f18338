//! Authorization codes: single use, one minute, bound to the client, the
//! redirect URI and a PKCE S256 challenge. A replayed code is answered
//! `invalid_grant` and revokes the tokens the first redemption bought
//! (RFC 6749 §4.1.2).

use super::{digest, opaque_token};
use crate::entities::op_authorization_code::{ActiveModel, Column, Entity, Model};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const CODE_LIFETIME: Duration = Duration::seconds(60);

/// What a code stands for: who signed in, for which app, and how.
#[derive(Debug, Clone)]
pub struct Grant {
    pub app_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth: Authentication,
    /// The member's session, when it has a public ID (`sid`).
    pub sid: Option<String>,
}

/// How the member signed in to Latchkey, as the `amr`, `auth_time` and `idp` claims say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub time: DateTime<Utc>,
    /// `pwd` or `sso`.
    pub method: String,
    pub idp: Option<Uuid>,
}

pub async fn issue(db: &DatabaseConnection, grant: Grant) -> Result<String, DbErr> {
    let code = opaque_token();
    if let Some(sid) = &grant.sid {
        super::logout::remember_app(db, sid, grant.app_id, grant.user_id).await?;
    }
    ActiveModel {
        code_hash: Set(digest(&code)),
        app_id: Set(grant.app_id),
        user_id: Set(grant.user_id),
        org_id: Set(grant.org_id),
        redirect_uri: Set(grant.redirect_uri),
        scope: Set(grant.scope),
        nonce: Set(grant.nonce),
        code_challenge: Set(grant.code_challenge),
        auth_time: Set(grant.auth.time),
        amr: Set(grant.auth.method),
        idp: Set(grant.auth.idp),
        sid: Set(grant.sid),
        expires_at: Set(Utc::now() + CODE_LIFETIME),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(code)
}

pub enum Redemption {
    /// First use, in time: the grant it stands for.
    Redeemed(Box<Model>),
    /// Used before: tokens it bought are now revoked.
    Replayed,
    Expired,
    Unknown,
}

/// Marks the code used (atomically: of two concurrent redemptions one wins).
pub async fn redeem(db: &DatabaseConnection, code: &str) -> Result<Redemption, DbErr> {
    if code.is_empty() || code.len() > 256 {
        return Ok(Redemption::Unknown);
    }
    let hash = digest(code);
    let now = Utc::now();
    let marked = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::CodeHash.eq(hash.clone()))
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    let Some(model) = Entity::find_by_id(hash.clone()).one(db).await? else {
        return Ok(Redemption::Unknown);
    };
    if marked.rows_affected == 0 {
        super::tokens::revoke_for_code(db, &hash).await?;
        return Ok(Redemption::Replayed);
    }
    if model.expires_at <= now {
        return Ok(Redemption::Expired);
    }
    Ok(Redemption::Redeemed(Box::new(model)))
}

/// RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A S256 challenge is the base64url SHA-256 of a verifier: 43 characters.
pub fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Whether `verifier` is the one the S256 `challenge` was made from.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    super::same_digest(&computed, challenge)
}

/// Removes codes well past their expiry (kept a while to recognise replays).
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let before = Utc::now() - Duration::hours(1);
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_valid_verifier(verifier));
        assert!(is_valid_challenge(challenge));
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_challenge("not a challenge"));
    }
}
