//! Logout for host apps (OpenID Connect RP-Initiated Logout 1.0 and
//! Back-Channel Logout 1.0): which apps a session signed in to, the
//! `id_token_hint` a logout request carries, the registered places a member
//! may be sent back to, and the logout tokens the apps are told with.

use super::keys;
use crate::entities::host_app::Model as HostApp;
use crate::entities::{op_session_app, op_signing_key};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKey, PrivateSigningKey};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The event a logout token carries (Back-Channel Logout §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid: it is sent at once.
const LOGOUT_TOKEN_LIFETIME_SECS: i64 = 120;
/// The longest `id_token_hint` read.
const MAX_HINT_LEN: usize = 8 * 1024;

/// Remembers that the member's session `sid` signed in to the app.
pub async fn remember_app(
    db: &impl ConnectionTrait,
    sid: &str,
    app_id: Uuid,
    user_id: Uuid,
) -> Result<(), DbErr> {
    op_session_app::Entity::insert(op_session_app::ActiveModel {
        sid: Set(sid.to_string()),
        app_id: Set(app_id),
        user_id: Set(user_id),
        created_at: Set(Utc::now()),
    })
    .on_conflict_do_nothing_on([op_session_app::Column::Sid, op_session_app::Column::AppId])
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// The apps the ended session `sid` signed in to; they are forgotten.
pub async fn take_apps(db: &impl ConnectionTrait, sid: &str) -> Result<Vec<HostApp>, DbErr> {
    let links = op_session_app::Entity::find()
        .filter(op_session_app::Column::Sid.eq(sid))
        .all(db)
        .await?;
    if links.is_empty() {
        return Ok(Vec::new());
    }
    op_session_app::Entity::delete_many()
        .filter(op_session_app::Column::Sid.eq(sid))
        .exec(db)
        .await?;
    crate::entities::host_app::Entity::find()
        .filter(crate::entities::host_app::Column::Id.is_in(links.iter().map(|l| l.app_id)))
        .all(db)
        .await
}

/// What a verified `id_token_hint` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The client the token was issued to.
    pub client_id: String,
    pub subject: String,
    pub sid: Option<String>,
}

/// Why an `id_token_hint` is refused; the message is shown on the refusal page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HintError {
    #[error("The id_token_hint is not a JWT signed by Latchkey.")]
    Malformed,
    #[error("The id_token_hint is signed with a key Latchkey does not know.")]
    UnknownKey,
    #[error("The id_token_hint's signature does not verify.")]
    BadSignature,
    #[error("The id_token_hint was issued by {0}, not by this Latchkey.")]
    OtherIssuer(String),
    #[error("Latchkey could not read its keys: {0}")]
    Database(String),
}

/// Verifies an ID token Latchkey issued, expired or not (RP-Initiated Logout
/// §2: the hint may have expired), with any key Latchkey ever signed with.
pub async fn verify_hint(
    db: &impl ConnectionTrait,
    issuer: &str,
    token: &str,
) -> Result<Hint, HintError> {
    if token.len() > MAX_HINT_LEN {
        return Err(HintError::Malformed);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(HintError::Malformed);
    };
    let header: Value = decode_json(header).ok_or(HintError::Malformed)?;
    if header["alg"] != keys::ALGORITHM {
        return Err(HintError::Malformed);
    }
    let kid = header["kid"].as_str().ok_or(HintError::Malformed)?;
    let stored = op_signing_key::Entity::find_by_id(kid.to_string())
        .one(db)
        .await
        .map_err(|e| HintError::Database(e.to_string()))?
        .ok_or(HintError::UnknownKey)?;
    let jwk: CoreJsonWebKey =
        serde_json::from_str(&stored.public_jwk).map_err(|_| HintError::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| HintError::Malformed)?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    jwk.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        signed.as_bytes(),
        &signature,
    )
    .map_err(|_| HintError::BadSignature)?;
    let claims: Map<String, Value> = decode_json(payload).ok_or(HintError::Malformed)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    match text("iss") {
        Some(iss) if iss == issuer => {}
        other => return Err(HintError::OtherIssuer(other.unwrap_or_default())),
    }
    let client_id = match claims.get("aud") {
        Some(Value::String(aud)) => aud.clone(),
        Some(Value::Array(auds)) if auds.len() == 1 => {
            auds[0].as_str().ok_or(HintError::Malformed)?.to_string()
        }
        _ => return Err(HintError::Malformed),
    };
    Ok(Hint {
        client_id,
        subject: text("sub").ok_or(HintError::Malformed)?,
        sid: text("sid"),
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether `uri` is one of the app's registered post-logout redirect URIs
/// (compared exactly, as redirect URIs are).
pub fn is_registered_return(app: &HostApp, uri: &str) -> bool {
    super::apps::post_logout_redirect_uris(app)
        .iter()
        .any(|registered| registered == uri)
}

/// What a logout token says.
pub struct LogoutToken<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The member (the ID token's `sub`).
    pub subject: Uuid,
    pub sid: &'a str,
    pub now: DateTime<Utc>,
}

/// A logout token (Back-Channel Logout §2.4): a JWT of type `logout+jwt`,
/// signed with the key ID tokens are signed with, naming the session ended.
pub fn logout_token(
    token: &LogoutToken<'_>,
    key: &CoreRsaPrivateSigningKey,
) -> Result<String, String> {
    let verification = key.as_verification_key();
    let kid = verification
        .key_id()
        .map(|k| k.as_str().to_string())
        .ok_or("the signing key has no kid")?;
    let header = json!({"alg": keys::ALGORITHM, "kid": kid, "typ": "logout+jwt"});
    let claims = json!({
        "iss": token.issuer,
        "aud": token.client_id,
        "sub": token.subject.to_string(),
        "sid": token.sid,
        "iat": token.now.timestamp(),
        "exp": token.now.timestamp() + LOGOUT_TOKEN_LIFETIME_SECS,
        "jti": super::opaque_token(),
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let signed = format!("{}.{}", encode(&header), encode(&claims));
    let signature = key
        .sign(
            &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            signed.as_bytes(),
        )
        .map_err(|e| e.to_string())?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}
