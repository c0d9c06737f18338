//! The directory event feed and the webhook outbox (SPEC §14).
//!
//! `directory_events` is written in the same transaction as the change it
//! describes, so a change is never without its event (nothing lost on a crash);
//! its `seq` orders the feed. Each host app with a webhook URL gets one
//! `webhook_deliveries` row per event, fanned out from its `webhook_cursor`
//! by whichever instance gets there first (the unique key keeps it to one).

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The event goes into every SCIM write's transaction, so it is kept
        // cheap: on SQLite `seq` is the rowid itself (no AUTOINCREMENT
        // bookkeeping; events are never deleted from the top), and the event
        // id (random) carries no index of its own.
        let seq = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => integer(DirectoryEvents::Seq).primary_key().to_owned(),
            _ => big_integer(DirectoryEvents::Seq)
                .auto_increment()
                .primary_key()
                .to_owned(),
        };
        manager
            .create_table(
                Table::create()
                    .table(DirectoryEvents::Table)
                    .col(seq)
                    .col(uuid(DirectoryEvents::Id))
                    .col(uuid(DirectoryEvents::OrgId))
                    // e.g. `user.created` (SPEC §14).
                    .col(string_len(DirectoryEvents::EventType, 40))
                    .col(text(DirectoryEvents::Data))
                    .col(timestamp_with_time_zone(DirectoryEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(HostApps::Table)
                    .add_column(big_integer(HostApps::WebhookCursor).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(uuid(WebhookDeliveries::AppId))
                    .col(big_integer(WebhookDeliveries::EventSeq))
                    .col(uuid(WebhookDeliveries::OrgId))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LockedUntil,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::FailedAt))
                    .col(string_len_null(WebhookDeliveries::LastError, 500))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::AppId)
                            .to(HostApps::Table, HostApps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_webhook_deliveries_event")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::AppId)
                    .col(WebhookDeliveries::EventSeq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(HostApps::Table)
                    .drop_column(HostApps::WebhookCursor)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(DirectoryEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DirectoryEvents {
    Table,
    Seq,
    Id,
    OrgId,
    EventType,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HostApps {
    Table,
    Id,
    WebhookCursor,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    AppId,
    EventSeq,
    OrgId,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    DeliveredAt,
    FailedAt,
    LastError,
    CreatedAt,
}
