use sea_orm::entity::prelude::*;

/// An identity provider's subject, bound to the account it signs in to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub connection_id: Uuid,
    /// SAML NameID or OIDC `sub`.
    pub subject: String,
    pub user_id: Uuid,
    /// `sign_in` or `admin_link`.
    pub origin: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// A sign-in reads the identity, its user and the membership in one query.
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        super::reference::<Entity, super::user::Entity>(Column::UserId, super::user::Column::Id)
    }
}

impl ActiveModelBehavior for ActiveModel {}
