use sea_orm::entity::prelude::*;

/// A host app a session signed in to: ending the session tells it. A row
/// whose session is gone (ended by any path) is swept up and its app told.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "op_session_apps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sid: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: Uuid,
    /// The member: the `sub` of the logout token.
    pub user_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
