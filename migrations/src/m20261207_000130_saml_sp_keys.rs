//! Latchkey's own SAML keys, one set per connection: a key that signs
//! AuthnRequests and a key IdPs encrypt assertions for. Each purpose has a
//! `current` key and, after a rotation, the `previous` one, still published
//! and still able to decrypt until the admin removes it. Private keys are
//! sealed with the instance key. The connection says whether it signs its
//! requests and whether it refuses assertions that are not encrypted.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SamlSpKeys {
    Table,
    Id,
    ConnectionId,
    Purpose,
    Slot,
    PrivateKey,
    CertificatePem,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
    SamlSignRequests,
    SamlRequireEncryption,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SamlSpKeys::Table)
                    .col(uuid(SamlSpKeys::Id).primary_key())
                    .col(uuid(SamlSpKeys::ConnectionId))
                    // `signing` or `encryption`.
                    .col(string_len(SamlSpKeys::Purpose, 16))
                    // `current` or `previous`.
                    .col(string_len(SamlSpKeys::Slot, 16))
                    .col(text(SamlSpKeys::PrivateKey))
                    .col(text(SamlSpKeys::CertificatePem))
                    .col(timestamp_with_time_zone(SamlSpKeys::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SamlSpKeys::Table, SamlSpKeys::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Two instances creating a connection's first key at once: one insert wins.
        manager
            .create_index(
                Index::create()
                    .name("ux_saml_sp_keys_slot")
                    .table(SamlSpKeys::Table)
                    .col(SamlSpKeys::ConnectionId)
                    .col(SamlSpKeys::Purpose)
                    .col(SamlSpKeys::Slot)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for column in [
            SsoConnections::SamlSignRequests,
            SsoConnections::SamlRequireEncryption,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SsoConnections::Table)
                        .add_column(boolean(column).default(false))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            SsoConnections::SamlSignRequests,
            SsoConnections::SamlRequireEncryption,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SsoConnections::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(SamlSpKeys::Table).to_owned())
            .await
    }
}
