use sea_orm::entity::prelude::*;

/// A sign-in or test that left for the identity provider and has not come back.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub connection_id: Uuid,
    pub org_id: Uuid,
    /// `sign_in` or `test`.
    pub purpose: String,
    pub admin_user_id: Option<Uuid>,
    pub return_to: String,
    pub nonce: Option<String>,
    /// Ciphertext from `secrets::SecretKey::encrypt`.
    pub pkce_verifier: Option<String>,
    /// SHA-256 (hex) of the secret in the starting browser's cookie (`sso::binding`).
    pub browser_binding: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
