use sea_orm::entity::prelude::*;

/// An authorization code handed to a host app, kept until it expires so that a
/// replay can be recognised (and the tokens it bought revoked).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "op_authorization_codes")]
pub struct Model {
    /// SHA-256 (hex) of the code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    pub app_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    pub auth_time: DateTimeUtc,
    /// `pwd` or `sso`.
    pub amr: String,
    /// The SSO connection the member signed in through.
    pub idp: Option<Uuid>,
    /// The member's session, for the ID token's `sid`.
    pub sid: Option<String>,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
