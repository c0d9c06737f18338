//! Setup links (SPEC §14): a one-time URL that makes a customer's IT admin,
//! who has no account yet, the organization's Integrations Admin. Only the
//! token's SHA-256 is kept; a link is used once, expires, and can be revoked.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SetupLinks::Table)
                    .col(uuid(SetupLinks::Id).primary_key())
                    .col(uuid(SetupLinks::OrgId))
                    .col(string_len(SetupLinks::Email, 320))
                    .col(string_len_uniq(SetupLinks::TokenHash, 64))
                    // `cli` or `app:<client_id>`.
                    .col(string_len(SetupLinks::CreatedBy, 100))
                    .col(timestamp_with_time_zone(SetupLinks::CreatedAt))
                    .col(timestamp_with_time_zone(SetupLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(SetupLinks::UsedAt))
                    .col(timestamp_with_time_zone_null(SetupLinks::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SetupLinks::Table, SetupLinks::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SetupLinks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SetupLinks {
    Table,
    Id,
    OrgId,
    Email,
    TokenHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}
