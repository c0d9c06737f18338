use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub email_normalized: String,
    pub first_name: String,
    pub last_name: String,
    /// argon2id PHC string; `None` for SSO-only accounts.
    pub password_hash: Option<String>,
    pub active: bool,
    /// The identity provider's own identifier for this user (SCIM `externalId`).
    pub external_id: Option<String>,
    /// JSON object with the SCIM attributes that have no column of their own.
    pub scim_attributes: Option<String>,
    /// How the account came to exist: `manual`, `sso` or `scim` (`shared::members::MemberSource`).
    pub source: String,
    pub last_sign_in_at: Option<DateTimeUtc>,
    /// The session method of the last sign-in (`password`, `break_glass`, `saml`, `oidc`).
    pub last_sign_in_method: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// A user's one membership (`ux_memberships_user`), read with the user.
impl Related<super::membership::Entity> for Entity {
    fn to() -> RelationDef {
        use super::membership;
        super::reference::<membership::Entity, Entity>(membership::Column::UserId, Column::Id).rev()
    }
}

impl ActiveModelBehavior for ActiveModel {}
