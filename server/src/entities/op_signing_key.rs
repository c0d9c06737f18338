use sea_orm::entity::prelude::*;

/// A key Latchkey signs host apps' ID tokens with.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "op_signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// `RS256`.
    pub algorithm: String,
    /// PKCS#1 PEM, sealed with the instance key (`SecretSlot::SigningKey`).
    pub private_key: String,
    /// The public half as a JWK (JSON), as JWKS publishes it.
    pub public_jwk: String,
    pub created_at: DateTimeUtc,
    /// Set when a newer key took over; published until its tokens expire.
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
