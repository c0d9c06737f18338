//! The directory event feed (SPEC §14): every change to an organization's
//! users, groups and connections, written in the transaction that makes the
//! change, so the feed and the webhooks built on it never miss one.

use crate::entities::directory_event::{ActiveModel, Column, Entity, Model};
use crate::entities::{scim_group, sso_connection, user};
use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// The event types of SPEC §14, each with its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupUserAdded,
    GroupUserRemoved,
    ConnectionActivated,
    ConnectionDeactivated,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        use EventType::*;
        match self {
            UserCreated => "user.created",
            UserUpdated => "user.updated",
            UserDeactivated => "user.deactivated",
            UserReactivated => "user.reactivated",
            UserDeleted => "user.deleted",
            GroupCreated => "group.created",
            GroupUpdated => "group.updated",
            GroupDeleted => "group.deleted",
            GroupUserAdded => "group.user_added",
            GroupUserRemoved => "group.user_removed",
            ConnectionActivated => "connection.activated",
            ConnectionDeactivated => "connection.deactivated",
        }
    }
}

pub fn user_data(user: &user::Model) -> Value {
    json!({
        "id": user.id.to_string(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "active": user.active,
        "external_id": user.external_id,
    })
}

pub fn group_data(group: &scim_group::Model) -> Value {
    json!({
        "id": group.id.to_string(),
        "name": group.display_name,
        "external_id": group.external_id,
    })
}

pub fn membership_data(group: &scim_group::Model, user_id: Uuid) -> Value {
    json!({
        "group": { "id": group.id.to_string(), "name": group.display_name },
        "user": { "id": user_id.to_string() },
    })
}

pub fn connection_data(connection: &sso_connection::Model) -> Value {
    json!({
        "id": connection.id.to_string(),
        "name": connection.display_name,
        "protocol": connection.protocol,
        "provider": connection.provider,
    })
}

/// Records one event; call it inside the change's transaction.
pub async fn emit(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    event_type: EventType,
    data: Value,
) -> Result<(), DbErr> {
    emit_many(db, org_id, event_type, vec![data]).await
}

/// Records events of one type in one statement (a large group change).
pub async fn emit_many(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    event_type: EventType,
    data: Vec<Value>,
) -> Result<(), DbErr> {
    let rows = data
        .iter()
        .map(|data| row(org_id, event_type, data))
        .collect();
    insert_rows(db, rows).await
}

/// The row an event is stored as; its `seq` comes from the database.
pub fn row(org_id: Uuid, event_type: EventType, data: &Value) -> ActiveModel {
    ActiveModel {
        id: Set(crate::db::new_row_id()),
        org_id: Set(org_id),
        event_type: Set(event_type.as_str().to_string()),
        data: Set(data.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
}

/// Stores rows in order, in few statements (a group commit's events).
pub async fn insert_rows(db: &impl ConnectionTrait, rows: Vec<ActiveModel>) -> Result<(), DbErr> {
    for chunk in rows.chunks(500) {
        Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The newest event's `seq` (0 when there is none): where a new app's
/// webhooks start, so it is not sent the past.
pub async fn latest_seq(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let latest: Option<i64> = Entity::find()
        .select_only()
        .column(Column::Seq)
        .order_by_desc(Column::Seq)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(latest.unwrap_or(0))
}

/// Events after `after`, oldest first.
pub async fn after(db: &impl ConnectionTrait, after: i64, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Seq.gt(after))
        .order_by_asc(Column::Seq)
        .limit(limit)
        .all(db)
        .await
}

/// An event as the feed and webhooks show it.
pub fn describe(event: &Model, org_slug: &str) -> Value {
    json!({
        "id": event.id.to_string(),
        "type": event.event_type,
        "created_at": event.created_at.to_rfc3339(),
        "organization": { "id": event.org_id.to_string(), "slug": org_slug },
        "data": serde_json::from_str::<Value>(&event.data).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::EventType;

    #[test]
    fn event_types_have_the_names_spec_14_gives() {
        let names: Vec<&str> = [
            EventType::UserCreated,
            EventType::UserUpdated,
            EventType::UserDeactivated,
            EventType::UserReactivated,
            EventType::UserDeleted,
            EventType::GroupCreated,
            EventType::GroupUpdated,
            EventType::GroupDeleted,
            EventType::GroupUserAdded,
            EventType::GroupUserRemoved,
            EventType::ConnectionActivated,
            EventType::ConnectionDeactivated,
        ]
        .map(EventType::as_str)
        .to_vec();
        assert_eq!(
            names,
            [
                "user.created",
                "user.updated",
                "user.deactivated",
                "user.reactivated",
                "user.deleted",
                "group.created",
                "group.updated",
                "group.deleted",
                "group.user_added",
                "group.user_removed",
                "connection.activated",
                "connection.deactivated",
            ]
        );
    }
}
