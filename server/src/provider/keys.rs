//! The keys host apps' ID tokens are signed with (RS256, 2048-bit RSA).
//!
//! Private keys are sealed in the database, so every instance signs with the
//! same key. `latchkey rotate-signing-key` adds a new key and retires the
//! others; a retired key stays in the JWKS for as long as a token it signed
//! can live, so rotation never breaks a sign-in in flight.

use crate::entities::op_signing_key::{ActiveModel, Column, Entity, Model};
use crate::secrets::{SecretKey, SecretSlot};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use openidconnect::core::CoreRsaPrivateSigningKey;
use openidconnect::JsonWebKeyId;
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::RwLock;

pub const ALGORITHM: &str = "RS256";
/// How long an ID token is valid: also how long a retired key stays published.
pub const ID_TOKEN_LIFETIME: Duration = Duration::hours(1);
/// How long an instance signs with the key it loaded before asking which key is
/// current (another instance, or the CLI, may have rotated): a rotation is in
/// force on every instance within this time.
const RELOAD_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The current signing key: which key is current is read at most once a second,
/// and a key is decrypted and parsed only when it changes.
#[derive(Clone, Default)]
pub struct KeyRing {
    cached: Arc<RwLock<Option<Loaded>>>,
}

struct Loaded {
    kid: String,
    key: Arc<CoreRsaPrivateSigningKey>,
    at: Instant,
}

impl KeyRing {
    pub async fn signing_key(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretKey,
    ) -> Result<Arc<CoreRsaPrivateSigningKey>, DbErr> {
        if let Some(loaded) = self.cached.read().await.as_ref() {
            if loaded.at.elapsed() < RELOAD_AFTER {
                return Ok(loaded.key.clone());
            }
        }
        let mut slot = self.cached.write().await;
        let model = match current(db).await? {
            Some(model) => model,
            None => insert_new(db, secrets).await?,
        };
        let key = match slot.as_ref() {
            Some(loaded) if loaded.kid == model.kid => loaded.key.clone(),
            _ => Arc::new(open(&model, secrets)?),
        };
        *slot = Some(Loaded {
            kid: model.kid,
            key: key.clone(),
            at: Instant::now(),
        });
        Ok(key)
    }

    /// Forgets the loaded key (after a rotation in this process).
    pub async fn forget(&self) {
        *self.cached.write().await = None;
    }
}

/// The newest key that is not retired.
async fn current(db: &DatabaseConnection) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::RetiredAt.is_null())
        .order_by_desc(Column::CreatedAt)
        .one(db)
        .await
}

fn open(model: &Model, secrets: &SecretKey) -> Result<CoreRsaPrivateSigningKey, DbErr> {
    let pem = secrets
        .decrypt(SecretSlot::SigningKey(&model.kid), &model.private_key)
        .map_err(|e| DbErr::Custom(format!("signing key {}: {e}", model.kid)))?;
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(model.kid.clone())))
        .map_err(|e| DbErr::Custom(format!("signing key {}: {e}", model.kid)))
}

/// Adds a new key and retires every other; returns the new key's `kid`.
pub async fn rotate(db: &DatabaseConnection, secrets: &SecretKey) -> Result<String, DbErr> {
    let new = insert_new(db, secrets).await?;
    Entity::update_many()
        .col_expr(
            Column::RetiredAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(Column::RetiredAt.is_null())
        .filter(Column::Kid.ne(new.kid.clone()))
        .exec(db)
        .await?;
    Ok(new.kid)
}

async fn insert_new(db: &DatabaseConnection, secrets: &SecretKey) -> Result<Model, DbErr> {
    let generated = tokio::task::spawn_blocking(generate)
        .await
        .map_err(|e| DbErr::Custom(format!("key generation stopped: {e}")))??;
    ActiveModel {
        private_key: Set(secrets.encrypt(SecretSlot::SigningKey(&generated.kid), &generated.pem)),
        kid: Set(generated.kid),
        algorithm: Set(ALGORITHM.to_string()),
        public_jwk: Set(generated.jwk.to_string()),
        created_at: Set(Utc::now()),
        retired_at: Set(None),
    }
    .insert(db)
    .await
}

struct Generated {
    kid: String,
    pem: String,
    jwk: serde_json::Value,
}

fn generate() -> Result<Generated, DbErr> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| DbErr::Custom(format!("RSA key generation: {e}")))?;
    let pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| DbErr::Custom(format!("RSA key encoding: {e}")))?;
    let kid = super::opaque_token()[..22].to_string();
    let jwk = serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": ALGORITHM,
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    });
    Ok(Generated {
        kid,
        pem: pem.to_string(),
        jwk,
    })
}

/// The JWKS document: live keys, and retired ones whose tokens may still live.
pub async fn published(db: &DatabaseConnection) -> Result<serde_json::Value, DbErr> {
    let still_valid = Utc::now() - ID_TOKEN_LIFETIME - Duration::minutes(5);
    let keys = Entity::find()
        .filter(
            Condition::any()
                .add(Column::RetiredAt.is_null())
                .add(Column::RetiredAt.gt(still_valid)),
        )
        .order_by_desc(Column::CreatedAt)
        .all(db)
        .await?;
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
        .collect();
    Ok(serde_json::json!({ "keys": keys }))
}
