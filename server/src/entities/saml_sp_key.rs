use sea_orm::entity::prelude::*;

/// One of Latchkey's own SAML keys for a connection (`saml::sp_keys`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_sp_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub connection_id: Uuid,
    /// `signing` or `encryption` (`saml::sp_keys::KeyPurpose`).
    pub purpose: String,
    /// `current` or `previous`.
    pub slot: String,
    /// PKCS#8 PEM, sealed with the instance key (`SecretSlot::SamlKey`).
    pub private_key: String,
    pub certificate_pem: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
