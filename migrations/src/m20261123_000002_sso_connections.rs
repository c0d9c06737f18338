//! SSO connections: one row per SAML or OIDC connection of an organization.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SsoConnections::Table)
                    .col(pk_uuid(SsoConnections::Id))
                    .col(uuid(SsoConnections::OrgId))
                    .col(string_len(SsoConnections::Protocol, 8))
                    .col(string_len(SsoConnections::Provider, 32))
                    .col(string_len(SsoConnections::DisplayName, 120))
                    .col(boolean(SsoConnections::Active).default(true))
                    .col(text(SsoConnections::SamlSsoUrl).default(""))
                    .col(text(SsoConnections::SamlEntityId).default(""))
                    // Up to two PEM certificates (a rollover), concatenated.
                    .col(text(SsoConnections::SamlCertificates).default(""))
                    .col(boolean(SsoConnections::AllowIdpInitiated).default(false))
                    .col(text(SsoConnections::MappingEmail).default(""))
                    .col(text(SsoConnections::MappingFirstName).default(""))
                    .col(text(SsoConnections::MappingLastName).default(""))
                    .col(text(SsoConnections::MappingFullName).default(""))
                    .col(text(SsoConnections::OidcIssuerUrl).default(""))
                    .col(text(SsoConnections::OidcClientId).default(""))
                    // Encrypted with the instance's secret key; never plain text.
                    .col(text_null(SsoConnections::OidcClientSecret))
                    // JSON of the discovered endpoints, kept from the last successful save.
                    .col(text_null(SsoConnections::OidcDiscovery))
                    .col(timestamp_with_time_zone_null(SsoConnections::TestedAt))
                    .col(timestamp_with_time_zone(SsoConnections::CreatedAt))
                    .col(timestamp_with_time_zone(SsoConnections::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoConnections::Table, SsoConnections::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sso_connections_org")
                    .table(SsoConnections::Table)
                    .col(SsoConnections::OrgId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SsoConnections::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
    OrgId,
    Protocol,
    Provider,
    DisplayName,
    Active,
    SamlSsoUrl,
    SamlEntityId,
    SamlCertificates,
    AllowIdpInitiated,
    MappingEmail,
    MappingFirstName,
    MappingLastName,
    MappingFullName,
    OidcIssuerUrl,
    OidcClientId,
    OidcClientSecret,
    OidcDiscovery,
    TestedAt,
    CreatedAt,
    UpdatedAt,
}
