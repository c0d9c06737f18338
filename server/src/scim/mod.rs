//! The SCIM 2.0 protocol layer (RFC 7643, RFC 7644): no HTML, no UI knowledge.
//! Grammar (`filter`, `path`), documents (`resource`, `users`, `groups`), PATCH,
//! evaluation, discovery, storage, tokens and the request bookkeeping.

pub mod activity;
pub mod bench;
pub mod connections;
pub mod discovery;
pub mod errors;
pub mod eval;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod path;
pub mod resource;
pub mod schema;
pub mod store;
pub mod tokens;
mod user_changes;
pub mod users;

pub use errors::ScimError;
pub use filter::{AttrPath, CompareOp, Filter, FilterError, Number, Value};
pub use path::{PatchPath, PathError};

use sea_orm::DatabaseConnection;
use std::sync::Arc;
use uuid::Uuid;

/// What the SCIM endpoints share: storage, the token cache and the bookkeeping.
#[derive(Clone)]
pub struct Scim {
    pub db: DatabaseConnection,
    /// The public URL without a trailing slash.
    pub public_base: String,
    pub tokens: Arc<connections::TokenCache>,
    pub activity: Arc<activity::Activity>,
    pub writes: Arc<crate::group_commit::GroupCommit>,
}

impl Scim {
    /// `writes` is the process's group commit, which SSO sign-ins share.
    pub fn new(
        db: DatabaseConnection,
        public_url: &url::Url,
        writes: Arc<crate::group_commit::GroupCommit>,
    ) -> Self {
        let activity = activity::Activity::new(db.clone());
        activity.spawn_flusher();
        Self {
            writes,
            db,
            public_base: public_base(public_url),
            tokens: Arc::new(connections::TokenCache::default()),
            activity,
        }
    }

    /// The SCIM base URL an admin copies into the IdP.
    pub fn base_url(&self, connection_id: Uuid) -> String {
        base_url(&self.public_base, connection_id)
    }
}

/// The public URL without a trailing slash.
pub fn public_base(public_url: &url::Url) -> String {
    public_url.as_str().trim_end_matches('/').to_string()
}

/// A SCIM connection's base URL under `public_base` (see [`public_base`]).
pub fn base_url(public_base: &str, connection_id: Uuid) -> String {
    format!("{public_base}/scim/v2/{connection_id}")
}
