//! Encryption of stored secrets (OIDC client secrets) with the instance's secret key.
//!
//! The key comes from `LATCHKEY_SECRET_KEY` (32 bytes, base64 or hex) or, when that is
//! absent, from `secret.key` in the data folder, generated on first start with
//! owner-only permissions. Ciphertexts are `v2:` + base64(nonce ‖ XChaCha20-Poly1305),
//! with the value's place (table, column, row) as associated data: a ciphertext
//! copied into another row or column, by someone who can write the database but
//! does not hold the key, does not decrypt there. Version 1 values (no associated
//! data) are re-sealed as version 2 when the server starts (`reseal_legacy`).

use crate::entities::sso_connection;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::fmt;
use std::path::Path;
use uuid::Uuid;

/// Where a sealed value is stored. It is bound into the ciphertext, so the
/// value decrypts only in the place it was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSlot<'a> {
    /// `sso_connection.oidc_client_secret` of this connection.
    ClientSecret(Uuid),
    /// `sso_request.pkce_verifier` of the request with this id (its state).
    PkceVerifier(&'a str),
    /// `host_apps.webhook_secret` of this host app.
    WebhookSecret(Uuid),
    /// `op_signing_keys.private_key` of the key with this `kid`.
    SigningKey(&'a str),
    /// `saml_sp_keys.private_key` of the key with this id.
    SamlKey(Uuid),
    /// `sessions.idp_id_token` of a session opened through this OIDC connection.
    IdpIdToken(Uuid),
}

impl SecretSlot<'_> {
    fn associated_data(&self) -> String {
        match self {
            SecretSlot::ClientSecret(id) => {
                format!("latchkey:v2:sso_connection.oidc_client_secret:{id}")
            }
            SecretSlot::PkceVerifier(id) => format!("latchkey:v2:sso_request.pkce_verifier:{id}"),
            SecretSlot::WebhookSecret(id) => format!("latchkey:v2:host_apps.webhook_secret:{id}"),
            SecretSlot::SigningKey(kid) => format!("latchkey:v2:op_signing_keys.private_key:{kid}"),
            SecretSlot::SamlKey(id) => format!("latchkey:v2:saml_sp_keys.private_key:{id}"),
            SecretSlot::IdpIdToken(id) => format!("latchkey:v2:sessions.idp_id_token:{id}"),
        }
    }
}

const PREFIX: &str = "v2:";
const LEGACY_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct SecretKey([u8; 32]);

/// Never print the key, not even in debug output.
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("LATCHKEY_SECRET_KEY must be 32 bytes written as base64 or hex")]
    BadKey,
    #[error("cannot read or create the secret key file {0}: {1}")]
    KeyFile(String, String),
    #[error(
        "a stored secret could not be decrypted: the secret key changed or the value was altered"
    )]
    Undecryptable,
}

impl SecretError {
    pub fn code(&self) -> &'static str {
        match self {
            SecretError::BadKey => "bad_secret_key",
            SecretError::KeyFile(..) => "secret_key_file",
            SecretError::Undecryptable => "secret_undecryptable",
        }
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// Parses 32 bytes given as base64 (standard) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| STANDARD.decode(text).ok())
            .ok_or(SecretError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Self(key))
    }

    /// The configured key, or the data folder's key file (created when missing).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, SecretError> {
        if let Some(text) = configured.filter(|t| !t.trim().is_empty()) {
            return Self::parse(text);
        }
        let path = data_dir.join("secret.key");
        let file_error =
            |e: std::io::Error| SecretError::KeyFile(path.display().to_string(), e.to_string());
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::private_files::create_dir(data_dir).map_err(file_error)?;
                let key = Self::generate();
                write_private(&path, &hex::encode(key.0)).map_err(file_error)?;
                Ok(key)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// Seals `plaintext` for `slot`.
    pub fn encrypt(&self, slot: SecretSlot<'_>, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = slot.associated_data();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: aad.as_bytes(),
        };
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Opens a value sealed for `slot`; a value sealed for any other place,
    /// altered, or sealed with another key is `Undecryptable`.
    pub fn decrypt(&self, slot: SecretSlot<'_>, stored: &str) -> Result<String, SecretError> {
        let aad = slot.associated_data();
        self.open(stored, PREFIX, aad.as_bytes())
    }

    /// Opens a version 1 value (sealed without associated data).
    fn decrypt_legacy(&self, stored: &str) -> Result<String, SecretError> {
        self.open(stored, LEGACY_PREFIX, b"")
    }

    fn open(&self, stored: &str, prefix: &str, aad: &[u8]) -> Result<String, SecretError> {
        let raw = stored
            .strip_prefix(prefix)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(SecretError::Undecryptable)?;
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let payload = Payload { msg: sealed, aad };
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// Re-seals every version 1 client secret as version 2 (bound to its row).
/// Runs at start; a value that does not open with this key is left as it is
/// (the connection then asks for its secret again) and counted in the answer.
pub async fn reseal_legacy(
    db: &DatabaseConnection,
    key: &SecretKey,
) -> Result<ResealReport, DbErr> {
    let legacy = sso_connection::Entity::find()
        .filter(sso_connection::Column::OidcClientSecret.starts_with(LEGACY_PREFIX))
        .all(db)
        .await?;
    let mut report = ResealReport::default();
    for connection in legacy {
        let stored = connection.oidc_client_secret.clone().unwrap_or_default();
        let Ok(plain) = key.decrypt_legacy(&stored) else {
            report.undecryptable += 1;
            continue;
        };
        let resealed = key.encrypt(SecretSlot::ClientSecret(connection.id), &plain);
        // Only if nobody changed it meanwhile (another instance starting, an admin saving).
        let updated = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::OidcClientSecret,
                Expr::value(resealed),
            )
            .filter(sso_connection::Column::Id.eq(connection.id))
            .filter(sso_connection::Column::OidcClientSecret.eq(stored))
            .exec(db)
            .await?;
        report.resealed += updated.rows_affected;
    }
    Ok(report)
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub resealed: u64,
    pub undecryptable: u64,
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECTION: Uuid = Uuid::from_u128(1);

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let key = SecretKey::generate();
        let slot = SecretSlot::ClientSecret(CONNECTION);
        let stored = key.encrypt(slot, "client-secret-123");
        assert!(stored.starts_with("v2:"));
        assert!(!stored.contains("client-secret-123"));
        assert_ne!(
            stored,
            key.encrypt(slot, "client-secret-123"),
            "fresh nonce each time"
        );
        assert_eq!(key.decrypt(slot, &stored).unwrap(), "client-secret-123");
    }

    #[test]
    fn a_value_opens_only_in_the_place_it_was_sealed_for() {
        let key = SecretKey::generate();
        let stored = key.encrypt(SecretSlot::ClientSecret(CONNECTION), "s3cret");
        for elsewhere in [
            SecretSlot::ClientSecret(Uuid::from_u128(2)),
            SecretSlot::PkceVerifier(&CONNECTION.to_string()),
        ] {
            assert_eq!(
                key.decrypt(elsewhere, &stored),
                Err(SecretError::Undecryptable),
                "{elsewhere:?}"
            );
        }
    }

    #[test]
    fn refuses_altered_values_and_other_keys() {
        let key = SecretKey::generate();
        let slot = SecretSlot::PkceVerifier("state-1");
        let stored = key.encrypt(slot, "s3cret");
        let other = SecretKey::generate();
        assert_eq!(
            other.decrypt(slot, &stored),
            Err(SecretError::Undecryptable)
        );
        let mut altered = stored.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(key.decrypt(slot, &altered), Err(SecretError::Undecryptable));
        for junk in ["", "v2:", "v2:!!!", "plain", "v1:AAAA"] {
            assert_eq!(
                key.decrypt(slot, junk),
                Err(SecretError::Undecryptable),
                "{junk}"
            );
        }
    }

    #[test]
    fn a_version_1_value_opens_only_through_the_legacy_path() {
        let key = SecretKey::generate();
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = key
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), b"old".as_slice())
            .unwrap();
        let v1 = format!("v1:{}", STANDARD.encode([nonce.to_vec(), sealed].concat()));
        assert_eq!(key.decrypt_legacy(&v1).unwrap(), "old");
        let slot = SecretSlot::ClientSecret(CONNECTION);
        assert_eq!(key.decrypt(slot, &v1), Err(SecretError::Undecryptable));
    }

    #[test]
    fn parses_hex_and_base64_keys_and_refuses_others() {
        let hex_key = "00".repeat(32);
        assert!(SecretKey::parse(&hex_key).is_ok());
        assert!(SecretKey::parse(&STANDARD.encode([7u8; 32])).is_ok());
        assert_eq!(SecretKey::parse("short").unwrap_err(), SecretError::BadKey);
        assert_eq!(
            SecretKey::parse(&"00".repeat(31)).unwrap_err(),
            SecretError::BadKey
        );
    }

    #[test]
    fn key_file_is_created_once_with_owner_only_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load(None, dir.path()).unwrap();
        let second = SecretKey::load(None, dir.path()).unwrap();
        assert_eq!(first.0, second.0);
        let mode = std::fs::metadata(dir.path().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let debug = format!("{first:?}");
        assert!(!debug.contains(&hex::encode(first.0)));
    }
}
