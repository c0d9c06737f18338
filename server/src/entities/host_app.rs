use sea_orm::entity::prelude::*;

/// A host app registered as an OpenID Connect client of Latchkey.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_apps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub client_id: String,
    /// SHA-256 (hex) of the client secret.
    pub client_secret_hash: String,
    /// JSON array of the redirect URIs, compared exactly.
    pub redirect_uris: String,
    /// JSON array of where members may return after logout, compared exactly.
    pub post_logout_redirect_uris: String,
    /// Where back-channel logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    pub webhook_url: Option<String>,
    /// Sealed with the instance key (`SecretSlot::WebhookSecret`).
    pub webhook_secret: Option<String>,
    /// The last event `seq` fanned out into this app's webhook deliveries.
    pub webhook_cursor: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
