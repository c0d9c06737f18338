//! The HTTP request id on the rows a request writes: audit entries and SSO
//! events. Older rows and rows written outside a request have none.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    RequestId,
}

#[derive(DeriveIden)]
enum SsoEvents {
    Table,
    RequestId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(string_len_null(AuditEvents::RequestId, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SsoEvents::Table)
                    .add_column(string_len_null(SsoEvents::RequestId, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(AuditEvents::RequestId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SsoEvents::Table)
                    .drop_column(SsoEvents::RequestId)
                    .to_owned(),
            )
            .await
    }
}
