//! Storing Latchkey's own SAML keys per connection: one signing and one
//! encryption key, each `current`, plus the `previous` one after a rotation.
//!
//! A connection gets its keys the first time anything needs them (its page,
//! its metadata, a signed request, an encrypted response), so connections
//! made before keys existed need no migration step. The unique
//! (connection, purpose, slot) index makes that safe on several instances:
//! the slower insert fails and the winner's key is read back.

use crate::audit::Actor;
use crate::entities::saml_sp_key::{ActiveModel, Column, Entity, Model};
use crate::saml::certificate::{parse_pem_bundle, ParsedCertificate};
use crate::saml::decrypt::DecryptionKey;
use crate::saml::metadata::SpMetadataKeys;
use crate::saml::sp_keys::{self, KeyPurpose};
use crate::secrets::{SecretKey, SecretSlot};
use chrono::Utc;
use openssl::pkey::{PKey, Private};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde_json::json;
use shared::connection::{SpCertificate, SpKeyPurpose};
use uuid::Uuid;

const CURRENT: &str = "current";
const PREVIOUS: &str = "previous";

/// Why a rotation or removal was refused. The message is for the admin.
#[derive(Debug, thiserror::Error)]
pub enum SpKeyError {
    #[error("An old {0} key is still kept. Remove it once your identity provider uses the new certificate, then rotate again.")]
    PreviousStillKept(&'static str),
    #[error("There is no old {0} key to remove.")]
    NoPreviousKey(&'static str),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl SpKeyError {
    pub fn code(&self) -> &'static str {
        match self {
            SpKeyError::PreviousStillKept(_) => "previous_key_kept",
            SpKeyError::NoPreviousKey(_) => "no_previous_key",
            SpKeyError::Database(_) => "database",
        }
    }
}

/// One stored key with its certificate read.
pub struct StoredKey {
    pub model: Model,
    pub certificate: ParsedCertificate,
}

impl StoredKey {
    pub fn purpose(&self) -> Option<KeyPurpose> {
        KeyPurpose::from_key(&self.model.purpose)
    }

    pub fn is_current(&self) -> bool {
        self.model.slot == CURRENT
    }
}

/// Every key of the connection, creating the current ones it lacks. Current
/// keys come first, then previous ones.
pub async fn ensure(
    db: &DatabaseConnection,
    secrets: &SecretKey,
    connection_id: Uuid,
) -> Result<Vec<StoredKey>, DbErr> {
    let mut keys = load(db, connection_id).await?;
    let mut created = false;
    for purpose in KeyPurpose::ALL {
        let has_current = keys
            .iter()
            .any(|k| k.purpose() == Some(purpose) && k.is_current());
        if !has_current {
            insert(db, secrets, connection_id, purpose, CURRENT).await?;
            created = true;
        }
    }
    if created {
        keys = load(db, connection_id).await?;
    }
    Ok(keys)
}

async fn load(db: &DatabaseConnection, connection_id: Uuid) -> Result<Vec<StoredKey>, DbErr> {
    let models = Entity::find()
        .filter(Column::ConnectionId.eq(connection_id))
        .order_by_asc(Column::Slot)
        .order_by_asc(Column::Purpose)
        .all(db)
        .await?;
    models
        .into_iter()
        .map(|model| {
            let certificate = parse_pem_bundle(&model.certificate_pem)
                .ok()
                .and_then(|mut c| c.pop())
                .ok_or_else(|| {
                    DbErr::Custom(format!("SAML key {} has no certificate", model.id))
                })?;
            Ok(StoredKey { model, certificate })
        })
        .collect()
}

/// Generates and stores a key in `slot`. A concurrent insert of the same
/// slot wins over this one, which is then dropped.
async fn insert(
    db: &DatabaseConnection,
    secrets: &SecretKey,
    connection_id: Uuid,
    purpose: KeyPurpose,
    slot: &str,
) -> Result<(), DbErr> {
    let model = new_key(secrets, connection_id, purpose, slot).await?;
    match model.insert(db).await {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Ok(()),
        Err(error) => Err(error),
    }
}

async fn new_key(
    secrets: &SecretKey,
    connection_id: Uuid,
    purpose: KeyPurpose,
    slot: &str,
) -> Result<ActiveModel, DbErr> {
    let name = format!("Latchkey SAML {} {connection_id}", purpose.key());
    let generated = tokio::task::spawn_blocking(move || sp_keys::generate(&name))
        .await
        .map_err(|e| DbErr::Custom(format!("key generation stopped: {e}")))?
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let id = crate::db::new_row_id();
    Ok(ActiveModel {
        id: Set(id),
        connection_id: Set(connection_id),
        purpose: Set(purpose.key().to_string()),
        slot: Set(slot.to_string()),
        private_key: Set(secrets.encrypt(SecretSlot::SamlKey(id), &generated.private_key_pem)),
        certificate_pem: Set(generated.certificate.pem),
        created_at: Set(Utc::now()),
    })
}

fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

fn open(secrets: &SecretKey, key: &StoredKey) -> Result<PKey<Private>, DbErr> {
    let pem = secrets
        .decrypt(SecretSlot::SamlKey(key.model.id), &key.model.private_key)
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    sp_keys::open_private_key(&pem).map_err(|e| DbErr::Custom(e.to_string()))
}

/// The keys an encrypted assertion may be opened with: current, then previous.
pub async fn decryption_keys(
    db: &DatabaseConnection,
    secrets: &SecretKey,
    connection_id: Uuid,
) -> Result<Vec<DecryptionKey>, DbErr> {
    ensure(db, secrets, connection_id)
        .await?
        .into_iter()
        .filter(|k| k.purpose() == Some(KeyPurpose::Encryption))
        .map(|k| {
            Ok(DecryptionKey {
                private_key: open(secrets, &k)?,
                certificate: k.certificate,
            })
        })
        .collect()
}

/// The key AuthnRequests are signed with.
pub async fn signing_key(
    db: &DatabaseConnection,
    secrets: &SecretKey,
    connection_id: Uuid,
) -> Result<PKey<Private>, DbErr> {
    let keys = ensure(db, secrets, connection_id).await?;
    let current = keys
        .iter()
        .find(|k| k.purpose() == Some(KeyPurpose::Signing) && k.is_current())
        .ok_or_else(|| DbErr::Custom("no current signing key".into()))?;
    open(secrets, current)
}

/// What the connection's SP metadata publishes.
pub fn metadata_keys(keys: &[StoredKey], sign_requests: bool) -> SpMetadataKeys {
    let of = |purpose: KeyPurpose| {
        keys.iter()
            .filter(|k| k.purpose() == Some(purpose))
            .map(|k| k.certificate.der.clone())
            .collect()
    };
    SpMetadataKeys {
        sign_requests,
        signing: of(KeyPurpose::Signing),
        encryption: of(KeyPurpose::Encryption),
    }
}

/// The certificates as the connection page shows them.
pub fn certificates(keys: &[StoredKey]) -> Vec<SpCertificate> {
    keys.iter()
        .filter_map(|k| {
            Some(SpCertificate {
                purpose: shared_purpose(k.purpose()?),
                current: k.is_current(),
                pem: k.certificate.pem.clone(),
                facts: k.certificate.facts.clone(),
            })
        })
        .collect()
}

pub fn shared_purpose(purpose: KeyPurpose) -> SpKeyPurpose {
    match purpose {
        KeyPurpose::Signing => SpKeyPurpose::Signing,
        KeyPurpose::Encryption => SpKeyPurpose::Encryption,
    }
}

pub fn from_shared(purpose: SpKeyPurpose) -> KeyPurpose {
    match purpose {
        SpKeyPurpose::Signing => KeyPurpose::Signing,
        SpKeyPurpose::Encryption => KeyPurpose::Encryption,
    }
}

/// Makes a new current key; the old one becomes `previous`, still published
/// and still decrypting. Refused while an older previous key is kept, so a key
/// the IdP may still use is never dropped by a rotation.
pub async fn rotate(
    db: &DatabaseConnection,
    secrets: &SecretKey,
    org_id: Uuid,
    actor: Actor,
    connection_id: Uuid,
    purpose: KeyPurpose,
) -> Result<(), SpKeyError> {
    let keys = ensure(db, secrets, connection_id).await?;
    let mine = |slot: &str| {
        keys.iter()
            .find(|k| k.purpose() == Some(purpose) && k.model.slot == slot)
    };
    if mine(PREVIOUS).is_some() {
        return Err(SpKeyError::PreviousStillKept(purpose.key()));
    }
    let Some(current) = mine(CURRENT) else {
        return Err(DbErr::Custom("no current key".into()).into());
    };
    let new = new_key(secrets, connection_id, purpose, CURRENT).await?;
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let demoted = Entity::update_many()
        .col_expr(Column::Slot, sea_orm::sea_query::Expr::value(PREVIOUS))
        .filter(Column::Id.eq(current.model.id))
        .filter(Column::Slot.eq(CURRENT))
        .exec(&txn)
        .await?;
    if demoted.rows_affected != 1 {
        // Rotated at the same moment elsewhere: that rotation stands.
        return Err(SpKeyError::PreviousStillKept(purpose.key()));
    }
    new.insert(&txn).await?;
    let detail = json!({ "protocol": "saml", "sp_key": purpose.key(), "change": "rotated" });
    super::store::record_update(&txn, org_id, actor, connection_id, detail).await?;
    txn.commit().await?;
    Ok(())
}

/// Forgets the previous key of `purpose`: it no longer decrypts and is no
/// longer published.
pub async fn remove_previous(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: Actor,
    connection_id: Uuid,
    purpose: KeyPurpose,
) -> Result<(), SpKeyError> {
    let (txn, _turn) = crate::db::begin_write(db).await?;
    let removed = Entity::delete_many()
        .filter(Column::ConnectionId.eq(connection_id))
        .filter(Column::Purpose.eq(purpose.key()))
        .filter(Column::Slot.eq(PREVIOUS))
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(SpKeyError::NoPreviousKey(purpose.key()));
    }
    let detail =
        json!({ "protocol": "saml", "sp_key": purpose.key(), "change": "previous_removed" });
    super::store::record_update(&txn, org_id, actor, connection_id, detail).await?;
    txn.commit().await?;
    Ok(())
}
