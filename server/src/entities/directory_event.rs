use sea_orm::entity::prelude::*;

/// One change in an organization's directory or connections, in feed order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub id: Uuid,
    pub org_id: Uuid,
    /// e.g. `user.created` (`crate::events::EventType`).
    pub event_type: String,
    /// JSON: the `data` of the event.
    pub data: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
