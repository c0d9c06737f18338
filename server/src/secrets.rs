//! Encryption of stored secrets (OIDC client secrets) with the instance's secret key.
//!
//! The key comes from `LATCHKEY_SECRET_KEY` (32 bytes, base64 or hex) or, when that is
//! absent, from `secret.key` in the data folder, generated on first start with
//! owner-only permissions. Ciphertexts are `v1:` + base64(nonce ‖ XChaCha20-Poly1305).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::fmt;
use std::path::Path;

const PREFIX: &str = "v1:";
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
                std::fs::create_dir_all(data_dir).map_err(file_error)?;
                let key = Self::generate();
                write_private(&path, &hex::encode(key.0)).map_err(file_error)?;
                Ok(key)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, SecretError> {
        let raw = stored
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(SecretError::Undecryptable)?;
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }
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

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let key = SecretKey::generate();
        let stored = key.encrypt("client-secret-123");
        assert!(stored.starts_with("v1:"));
        assert!(!stored.contains("client-secret-123"));
        assert_ne!(
            stored,
            key.encrypt("client-secret-123"),
            "fresh nonce each time"
        );
        assert_eq!(key.decrypt(&stored).unwrap(), "client-secret-123");
    }

    #[test]
    fn refuses_altered_values_and_other_keys() {
        let key = SecretKey::generate();
        let stored = key.encrypt("s3cret");
        let other = SecretKey::generate();
        assert_eq!(other.decrypt(&stored), Err(SecretError::Undecryptable));
        let mut altered = stored.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(key.decrypt(&altered), Err(SecretError::Undecryptable));
        for junk in ["", "v1:", "v1:!!!", "plain", "v2:AAAA"] {
            assert_eq!(key.decrypt(junk), Err(SecretError::Undecryptable), "{junk}");
        }
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
