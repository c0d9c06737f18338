//! Server-side sessions. The browser holds a token; the database holds only
//! its SHA-256 (`session_key`), so reading the table opens no session.

use crate::db::Script;
use crate::entities::{session, user};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use uuid::Uuid;

/// How long a session lasts: a working day.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// How a session was opened; stored with it and written in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    /// An Integrations Admin's password sign-in while the organization requires SSO.
    BreakGlass,
    Saml,
    Oidc,
    /// A setup link made its holder the organization's Integrations Admin.
    SetupLink,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::BreakGlass => "break_glass",
            SignInMethod::Saml => "saml",
            SignInMethod::Oidc => "oidc",
            SignInMethod::SetupLink => "setup_link",
        }
    }

    /// The methods that are single sign-on: the only sessions a member may hold
    /// while the organization requires SSO.
    pub const SSO: [SignInMethod; 2] = [SignInMethod::Saml, SignInMethod::Oidc];

    /// Whether a session opened with `method` (as stored) may be used: while the
    /// organization requires SSO, a member's session must come from SSO;
    /// Integrations Admins keep password sign-in as break-glass access.
    pub fn session_allowed(method: &str, require_sso: bool, integrations_admin: bool) -> bool {
        !require_sso || integrations_admin || SignInMethod::SSO.iter().any(|m| m.as_str() == method)
    }
}

/// How many characters of a session token are the time it was opened.
const TIME_PREFIX: usize = 12;

/// A new session token, the time (`db::time_ordered_key`) then 256 random
/// bits, and its row's key.
fn new_session_token() -> (String, String) {
    let token = crate::db::time_ordered_key(&new_token());
    let key = timed_key(&token[..TIME_PREFIX], &token);
    (token, key)
}

fn timed_key(time: &str, token: &str) -> String {
    format!(
        "{time}{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
    )
}

/// The key of a session token's row: the token's time, then its SHA-256.
/// The time first puts each new session at the right edge of the table's key
/// index, where a random hash alone dirtied a random page on every sign-in.
/// A token from before the time prefix (its 43 random characters alone) keeps
/// the key it was stored under, the hex SHA-256. Anything else is no token,
/// and is not looked up.
pub fn session_key(token: &str) -> Option<String> {
    let random = |part: &str| {
        part.len() == 43
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if random(token) {
        return Some(hex::encode(Sha256::digest(token.as_bytes())));
    }
    let (time, rest) = token.split_at_checked(TIME_PREFIX)?;
    let time_ok = time.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (time_ok && random(rest)).then(|| timed_key(time, token))
}

/// 256 random bits, base64url: session tokens, and the provider's codes,
/// access tokens and client secrets.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the identity provider needs, when the session ends, to end its own
/// session too (single logout).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdpSession {
    /// SAML: the subject and the IdP's SessionIndex, sent back in a LogoutRequest.
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// OIDC: the ID token (sealed with `SecretSlot::IdpIdToken`) for
    /// `id_token_hint`, and the IdP's `sid`, which its back-channel logout names.
    pub sealed_id_token: Option<String>,
    pub sid: Option<String>,
}

/// Opens a session and returns the token for the cookie.
pub async fn open(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    org_id: Uuid,
    method: SignInMethod,
    client_ip: Option<IpAddr>,
) -> Result<String, DbErr> {
    insert(db, user_id, org_id, (method, None), client_ip).await
}

/// Opens a session for a sign-in through the SSO connection `connection_id`
/// (host apps learn it as the `idp` claim).
pub async fn open_via_sso(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    org_id: Uuid,
    (method, connection_id, idp): (SignInMethod, Uuid, IdpSession),
    client_ip: Option<IpAddr>,
) -> Result<String, DbErr> {
    insert(
        db,
        user_id,
        org_id,
        (method, Some((connection_id, idp))),
        client_ip,
    )
    .await
}

/// As `open_via_sso`, added to a script that the caller runs.
pub fn push_open_via_sso(
    script: &mut Script,
    user_id: Uuid,
    org_id: Uuid,
    (method, connection_id, idp): (SignInMethod, Uuid, IdpSession),
    client_ip: Option<IpAddr>,
) -> String {
    push_open(
        script,
        user_id,
        org_id,
        (method, Some((connection_id, idp))),
        client_ip,
    )
}

async fn insert(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    org_id: Uuid,
    via: (SignInMethod, Option<(Uuid, IdpSession)>),
    client_ip: Option<IpAddr>,
) -> Result<String, DbErr> {
    let opening = Opening::new(user_id, org_id, via, client_ip);
    opening.session.exec_without_returning(db).await?;
    opening.last_sign_in.exec(db).await?;
    Ok(opening.token)
}

fn push_open(
    script: &mut Script,
    user_id: Uuid,
    org_id: Uuid,
    via: (SignInMethod, Option<(Uuid, IdpSession)>),
    client_ip: Option<IpAddr>,
) -> String {
    let opening = Opening::new(user_id, org_id, via, client_ip);
    script.push(&opening.session);
    script.push(&opening.last_sign_in);
    opening.token
}

/// What opening a session writes: its row and the member's last sign-in.
struct Opening {
    token: String,
    session: sea_orm::Insert<session::ActiveModel>,
    last_sign_in: sea_orm::UpdateMany<user::Entity>,
}

impl Opening {
    fn new(
        user_id: Uuid,
        org_id: Uuid,
        (method, via_sso): (SignInMethod, Option<(Uuid, IdpSession)>),
        client_ip: Option<IpAddr>,
    ) -> Self {
        let (token, key) = new_session_token();
        let now = Utc::now();
        let (sso_connection_id, idp) = match via_sso {
            Some((id, idp)) => (Some(id), idp),
            None => (None, IdpSession::default()),
        };
        let session = session::Entity::insert(session::ActiveModel {
            token_hash: Set(key),
            user_id: Set(user_id),
            org_id: Set(org_id),
            method: Set(method.as_str().to_string()),
            sso_connection_id: Set(sso_connection_id),
            client_ip: Set(client_ip.map(|ip| ip.to_string())),
            // Public, unrelated to the cookie: knowing a sid opens nothing.
            sid: Set(Some(crate::db::time_ordered_key(&new_token()))),
            idp_name_id: Set(idp.name_id),
            idp_name_id_format: Set(idp.name_id_format),
            idp_session_index: Set(idp.session_index),
            idp_id_token: Set(idp.sealed_id_token),
            idp_sid: Set(idp.sid),
            created_at: Set(now),
            expires_at: Set(now + SESSION_LIFETIME),
        });
        // Sessions are purged when they expire; the members list keeps the last sign-in.
        let last_sign_in = user::Entity::update_many()
            .col_expr(user::Column::LastSignInAt, Expr::value(now))
            .col_expr(user::Column::LastSignInMethod, Expr::value(method.as_str()))
            .filter(user::Column::Id.eq(user_id));
        Self {
            token,
            session,
            last_sign_in,
        }
    }
}

/// The live session for a token, if any. Tokens of the wrong shape are not looked up.
pub async fn find_live(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<session::Model>, DbErr> {
    let Some(key) = session_key(token) else {
        return Ok(None);
    };
    let found = session::Entity::find_by_id(key).one(db).await?;
    Ok(found.filter(|s| s.expires_at > Utc::now()))
}

/// The session with this token and its account, while the session may still
/// be used: the account is active and, while the organization requires SSO, a
/// member's session came from SSO. Checked on every use, not only when Require
/// SSO is turned on: a password sign-in that raced the switch opens nothing.
pub async fn live_account(
    db: &sea_orm::DatabaseConnection,
    token: &str,
) -> Result<Option<(session::Model, crate::accounts::Account)>, DbErr> {
    let Some(session) = find_live(db, token).await? else {
        return Ok(None);
    };
    let account = crate::accounts::account_by_id(db, session.user_id).await?;
    Ok(account
        .filter(|a| a.user.active)
        .filter(|a| {
            SignInMethod::session_allowed(
                &session.method,
                a.org.require_sso,
                a.role.is_integrations_admin(),
            )
        })
        .map(|account| (session, account)))
}

pub async fn close(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<session::Model>, DbErr> {
    let Some(key) = session_key(token) else {
        return Ok(None);
    };
    let found = session::Entity::find_by_id(key.clone()).one(db).await?;
    session::Entity::delete_by_id(key).exec(db).await?;
    Ok(found)
}

/// Ends the sessions the IdP names in a SAML LogoutRequest: its subject on
/// this connection and, when it lists them, only those SessionIndexes.
pub async fn close_for_idp_subject(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    name_id: &str,
    session_indexes: &[String],
) -> Result<Vec<session::Model>, DbErr> {
    let mut query = session::Entity::find()
        .filter(session::Column::SsoConnectionId.eq(connection_id))
        .filter(session::Column::IdpNameId.eq(name_id));
    if !session_indexes.is_empty() {
        query = query.filter(session::Column::IdpSessionIndex.is_in(session_indexes.to_vec()));
    }
    close_found(db, query.all(db).await?).await
}

/// Ends every session a user opened through this connection (an OIDC IdP's
/// back-channel logout that names its subject but no session).
pub async fn close_for_user_via(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<session::Model>, DbErr> {
    let found = session::Entity::find()
        .filter(session::Column::SsoConnectionId.eq(connection_id))
        .filter(session::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    close_found(db, found).await
}

/// Ends the sessions an OIDC IdP's back-channel logout names by its `sid`.
pub async fn close_for_idp_sid(
    db: &impl ConnectionTrait,
    connection_id: Uuid,
    idp_sid: &str,
) -> Result<Vec<session::Model>, DbErr> {
    let found = session::Entity::find()
        .filter(session::Column::SsoConnectionId.eq(connection_id))
        .filter(session::Column::IdpSid.eq(idp_sid))
        .all(db)
        .await?;
    close_found(db, found).await
}

async fn close_found(
    db: &impl ConnectionTrait,
    found: Vec<session::Model>,
) -> Result<Vec<session::Model>, DbErr> {
    if !found.is_empty() {
        session::Entity::delete_many()
            .filter(session::Column::TokenHash.is_in(found.iter().map(|s| s.token_hash.clone())))
            .exec(db)
            .await?;
    }
    Ok(found)
}

/// Ends every session of a user at once (deactivation).
pub async fn close_all_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    let result = close_all_query(user_id).exec(db).await?;
    Ok(result.rows_affected)
}

/// What `close_all_for_user` runs, for a caller that sends it with other writes.
pub fn close_all_query(user_id: Uuid) -> sea_orm::DeleteMany<session::Entity> {
    session::Entity::delete_many().filter(session::Column::UserId.eq(user_id))
}

/// Ends, in the organization, every session not opened through SSO whose user
/// is not an Integrations Admin: "Require SSO" was just turned on, and a member's
/// earlier password sign-in must not outlive it. Returns how many ended.
pub async fn close_member_password_sessions(
    db: &impl ConnectionTrait,
    org_id: Uuid,
) -> Result<u64, DbErr> {
    let admins = crate::accounts::admin_ids(db, org_id).await?;
    let result = session::Entity::delete_many()
        .filter(session::Column::OrgId.eq(org_id))
        .filter(session::Column::Method.is_not_in(SignInMethod::SSO.map(SignInMethod::as_str)))
        .filter(session::Column::UserId.is_not_in(admins))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Removes sessions past their expiry; run now and then, off the request path.
pub async fn purge_expired(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let result = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_need_an_sso_session_while_sso_is_required() {
        use SignInMethod::*;
        for (method, require_sso, admin, allowed) in [
            (Password, false, false, true),
            (Password, true, false, false),
            (BreakGlass, true, false, false),
            (Password, true, true, true),
            (BreakGlass, true, true, true),
            (Saml, true, false, true),
            (Oidc, true, false, true),
        ] {
            assert_eq!(
                SignInMethod::session_allowed(method.as_str(), require_sso, admin),
                allowed,
                "{method:?} require_sso={require_sso} admin={admin}"
            );
        }
        assert!(!SignInMethod::session_allowed("unknown", true, false));
    }

    #[test]
    fn tokens_are_32_random_bytes() {
        let a = new_token();
        assert_ne!(a, new_token());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn a_session_key_is_the_tokens_time_then_its_hash() {
        let (token, key) = new_session_token();
        let (time, random) = token.split_at(TIME_PREFIX);
        assert_eq!(URL_SAFE_NO_PAD.decode(random).unwrap().len(), 32);
        let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        assert_eq!(key, format!("{time}{digest}"));
        assert_eq!(session_key(&token), Some(key.clone()));
        // Keys sort as the sessions were opened.
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(new_session_token().1 > key);
    }

    #[test]
    fn a_token_from_before_the_time_prefix_keeps_its_hex_key() {
        let token = new_token();
        let hex_digest = hex::encode(Sha256::digest(token.as_bytes()));
        assert_eq!(session_key(&token), Some(hex_digest));
    }

    #[test]
    fn malformed_tokens_have_no_key() {
        let (token, _) = new_session_token();
        let random = &token[TIME_PREFIX..];
        for bad in [
            "",
            &token[1..],
            &format!("{token}a"),
            &format!("zzzzzzzzzzzz{random}"),
            &format!("0000000000AB{random}"),
            &format!("{}.{}", &token[..20], &token[21..]),
        ] {
            assert_eq!(session_key(bad), None, "{bad}");
        }
    }
}
