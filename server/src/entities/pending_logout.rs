use sea_orm::entity::prelude::*;

/// A logout Latchkey sent to an IdP, waiting for its answer: the SAML
/// LogoutRequest ID or the OIDC `state`, and where the member goes afterwards.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_logouts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub connection_id: Uuid,
    pub return_to: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
