use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// `saml` or `oidc` (see `shared::Protocol`).
    pub protocol: String,
    /// A `shared::IdentityProvider` key.
    pub provider: String,
    pub display_name: String,
    pub active: bool,
    pub saml_sso_url: String,
    pub saml_entity_id: String,
    pub saml_certificates: String,
    /// The IdP's Single Logout URL (HTTP-Redirect); empty when it has none.
    pub saml_idp_slo_url: String,
    pub allow_idp_initiated: bool,
    /// Sign AuthnRequests with the connection's signing key.
    pub saml_sign_requests: bool,
    /// Refuse assertions that are not encrypted.
    pub saml_require_encryption: bool,
    pub mapping_email: String,
    pub mapping_first_name: String,
    pub mapping_last_name: String,
    pub mapping_full_name: String,
    pub oidc_issuer_url: String,
    pub oidc_client_id: String,
    /// Ciphertext from `secrets::SecretKey::encrypt`.
    pub oidc_client_secret: Option<String>,
    pub oidc_discovery: Option<String>,
    pub tested_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// The ACS reads a connection with its organization in one query.
impl Related<super::organization::Entity> for Entity {
    fn to() -> RelationDef {
        super::reference::<Entity, super::organization::Entity>(
            Column::OrgId,
            super::organization::Column::Id,
        )
    }
}

impl ActiveModelBehavior for ActiveModel {}
