//! SCIM provisioning: connections with their bearer tokens, groups and their
//! members, a short log of recent SCIM requests, and the SCIM fields of users.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(connections()).await?;
        manager.create_table(tokens()).await?;
        manager.create_table(groups()).await?;
        manager.create_table(group_members()).await?;
        manager.create_table(request_log()).await?;
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(Users::ExternalId, 254))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    // JSON object: the SCIM attributes that have no column of their own.
                    .add_column(text_null(Users::ScimAttributes))
                    .to_owned(),
            )
            .await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ScimRequestLog::Table.into_iden(),
            ScimGroupMembers::Table.into_iden(),
            ScimGroups::Table.into_iden(),
            ScimTokens::Table.into_iden(),
            ScimConnections::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for index in ["ix_users_org_external_id", "ix_users_org_created"] {
            manager
                .drop_index(Index::drop().name(index).table(Users::Table).to_owned())
                .await?;
        }
        for column in [Users::ExternalId, Users::ScimAttributes] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

fn connections() -> TableCreateStatement {
    Table::create()
        .table(ScimConnections::Table)
        .col(pk_uuid(ScimConnections::Id))
        .col(uuid(ScimConnections::OrgId))
        .col(string_len(ScimConnections::Provider, 32))
        .col(string_len(ScimConnections::Name, 120))
        // `enabled` or `disabled`.
        .col(string_len(ScimConnections::Status, 16))
        .col(timestamp_with_time_zone(ScimConnections::CreatedAt))
        .col(timestamp_with_time_zone_null(ScimConnections::DisabledAt))
        .col(timestamp_with_time_zone_null(ScimConnections::LastCalledAt))
        .foreign_key(
            ForeignKey::create()
                .from(ScimConnections::Table, ScimConnections::OrgId)
                .to(Organizations::Table, Organizations::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn tokens() -> TableCreateStatement {
    Table::create()
        .table(ScimTokens::Table)
        .col(pk_uuid(ScimTokens::Id))
        .col(uuid(ScimTokens::ConnectionId))
        // SHA-256 (hex) of the token: a copy of the table authenticates nobody.
        .col(string_len_uniq(ScimTokens::TokenHash, 64))
        // `active`, `pending` (issued by a rotation not yet completed) or `revoked`.
        .col(string_len(ScimTokens::State, 16))
        .col(timestamp_with_time_zone(ScimTokens::CreatedAt))
        .col(timestamp_with_time_zone_null(ScimTokens::RevokedAt))
        .foreign_key(
            ForeignKey::create()
                .from(ScimTokens::Table, ScimTokens::ConnectionId)
                .to(ScimConnections::Table, ScimConnections::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn groups() -> TableCreateStatement {
    Table::create()
        .table(ScimGroups::Table)
        .col(pk_uuid(ScimGroups::Id))
        .col(uuid(ScimGroups::OrgId))
        .col(string_len(ScimGroups::DisplayName, 254))
        // Lower-cased display name: lookups ignore case, as IdPs expect.
        .col(string_len(ScimGroups::DisplayNameNormalized, 254))
        .col(string_len_null(ScimGroups::ExternalId, 254))
        .col(timestamp_with_time_zone(ScimGroups::CreatedAt))
        .col(timestamp_with_time_zone(ScimGroups::UpdatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(ScimGroups::Table, ScimGroups::OrgId)
                .to(Organizations::Table, Organizations::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn group_members() -> TableCreateStatement {
    Table::create()
        .table(ScimGroupMembers::Table)
        .col(uuid(ScimGroupMembers::GroupId))
        .col(uuid(ScimGroupMembers::UserId))
        .primary_key(
            Index::create()
                .col(ScimGroupMembers::GroupId)
                .col(ScimGroupMembers::UserId),
        )
        .foreign_key(
            ForeignKey::create()
                .from(ScimGroupMembers::Table, ScimGroupMembers::GroupId)
                .to(ScimGroups::Table, ScimGroups::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .from(ScimGroupMembers::Table, ScimGroupMembers::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn request_log() -> TableCreateStatement {
    Table::create()
        .table(ScimRequestLog::Table)
        .col(pk_uuid(ScimRequestLog::Id))
        .col(uuid(ScimRequestLog::ConnectionId))
        .col(timestamp_with_time_zone(ScimRequestLog::CreatedAt))
        .col(string_len(ScimRequestLog::Method, 16))
        // The path without query string; never a token or a body.
        .col(string_len(ScimRequestLog::Path, 512))
        .col(integer(ScimRequestLog::Status))
        .col(string_len(ScimRequestLog::Outcome, 254))
        .foreign_key(
            ForeignKey::create()
                .from(ScimRequestLog::Table, ScimRequestLog::ConnectionId)
                .to(ScimConnections::Table, ScimConnections::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ix_scim_connections_org")
            .table(ScimConnections::Table)
            .col(ScimConnections::OrgId)
            .to_owned(),
        Index::create()
            .name("ix_scim_tokens_connection")
            .table(ScimTokens::Table)
            .col(ScimTokens::ConnectionId)
            .to_owned(),
        Index::create()
            .name("ix_scim_groups_org_name")
            .table(ScimGroups::Table)
            .col(ScimGroups::OrgId)
            .col(ScimGroups::DisplayNameNormalized)
            .to_owned(),
        Index::create()
            .name("ix_scim_groups_org_created")
            .table(ScimGroups::Table)
            .col(ScimGroups::OrgId)
            .col(ScimGroups::CreatedAt)
            .to_owned(),
        Index::create()
            .name("ix_scim_group_members_user")
            .table(ScimGroupMembers::Table)
            .col(ScimGroupMembers::UserId)
            .to_owned(),
        Index::create()
            .name("ix_scim_request_log_connection_time")
            .table(ScimRequestLog::Table)
            .col(ScimRequestLog::ConnectionId)
            .col(ScimRequestLog::CreatedAt)
            .to_owned(),
        Index::create()
            .name("ix_users_org_external_id")
            .table(Users::Table)
            .col(Users::OrgId)
            .col(Users::ExternalId)
            .to_owned(),
        // Stable paging order for SCIM lists.
        Index::create()
            .name("ix_users_org_created")
            .table(Users::Table)
            .col(Users::OrgId)
            .col(Users::CreatedAt)
            .col(Users::Id)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrgId,
    CreatedAt,
    ExternalId,
    ScimAttributes,
}

#[derive(DeriveIden)]
enum ScimConnections {
    Table,
    Id,
    OrgId,
    Provider,
    Name,
    Status,
    CreatedAt,
    DisabledAt,
    LastCalledAt,
}

#[derive(DeriveIden)]
enum ScimTokens {
    Table,
    Id,
    ConnectionId,
    TokenHash,
    State,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ScimGroups {
    Table,
    Id,
    OrgId,
    DisplayName,
    DisplayNameNormalized,
    ExternalId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimGroupMembers {
    Table,
    GroupId,
    UserId,
}

#[derive(DeriveIden)]
enum ScimRequestLog {
    Table,
    Id,
    ConnectionId,
    CreatedAt,
    Method,
    Path,
    Status,
    Outcome,
}
