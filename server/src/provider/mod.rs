//! Latchkey as the OpenID Provider of the host apps that run it (SPEC §14):
//! registered clients, ID-token keys, authorization codes, access tokens and
//! the claims a host app learns about a member. No HTTP here: the handlers in
//! `http::provider` parse requests and call this.

pub mod apps;
pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod codes;
pub mod directory;
pub mod errors;
pub mod keys;
pub mod logout;
pub mod setup_links;
pub mod tokens;
pub mod webhooks;

use crate::secrets::SecretKey;
use sea_orm::DatabaseConnection;

/// The provider's shared parts; cheap to clone.
#[derive(Clone)]
pub struct Provider {
    pub db: DatabaseConnection,
    pub secrets: SecretKey,
    /// The public URL without a trailing slash: the `iss` of every token.
    pub issuer: String,
    pub keys: keys::KeyRing,
    /// Whether host apps' webhook URLs may name private addresses (tests, labs).
    pub allow_private_urls: bool,
}

impl Provider {
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretKey,
        public_url: &url::Url,
        allow_private_urls: bool,
    ) -> Self {
        Self {
            db,
            secrets,
            issuer: public_url.as_str().trim_end_matches('/').to_string(),
            keys: keys::KeyRing::default(),
            allow_private_urls,
        }
    }

    /// `<issuer><path>`, e.g. the token endpoint.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// 256 random bits, base64url: codes, tokens and client secrets (the
/// session token's generator).
pub(crate) fn opaque_token() -> String {
    crate::sessions::new_token()
}

/// SHA-256 (hex) of an opaque value: what the database keeps instead of it.
pub(crate) fn digest(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// Compares two digests in constant time.
pub(crate) fn same_digest(a: &str, b: &str) -> bool {
    crate::scim::tokens::constant_time_eq(a.as_bytes(), b.as_bytes())
}
