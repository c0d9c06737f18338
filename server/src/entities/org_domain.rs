use sea_orm::entity::prelude::*;

/// An email domain an organization claims for "Sign in with SSO".
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_domains")]
pub struct Model {
    /// Lower-case, without a trailing dot.
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain: String,
    pub org_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
