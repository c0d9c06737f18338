use sea_orm::entity::prelude::*;

/// A bearer token issued to a host app: for a member (userinfo) or, with no
/// user, for the app itself (`client_credentials`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "op_access_tokens")]
pub struct Model {
    /// SHA-256 (hex) of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub app_id: Uuid,
    pub user_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    pub scope: String,
    pub code_hash: Option<String>,
    pub auth_time: Option<DateTimeUtc>,
    pub amr: Option<String>,
    pub idp: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
