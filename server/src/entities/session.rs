use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// The cookie value's time and SHA-256 (`sessions::session_key`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub user_id: Uuid,
    pub org_id: Uuid,
    /// How the session was opened: `password`, `break_glass`, `saml`, `oidc`.
    pub method: String,
    /// The SSO connection that opened the session, if SSO did.
    pub sso_connection_id: Option<Uuid>,
    pub client_ip: Option<String>,
    /// The session's public ID: the `sid` claim host apps see.
    pub sid: Option<String>,
    /// For SAML Single Logout: the subject and session the IdP asserted.
    pub idp_name_id: Option<String>,
    pub idp_name_id_format: Option<String>,
    pub idp_session_index: Option<String>,
    /// For OIDC RP-initiated logout: the IdP's ID token, sealed
    /// (`SecretSlot::IdpIdToken`), sent back as `id_token_hint`.
    pub idp_id_token: Option<String>,
    /// The IdP's own `sid` claim, which its back-channel logout names.
    pub idp_sid: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
