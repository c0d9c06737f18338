//! Email domains an organization claims, so "Sign in with SSO" can find it
//! from a member's email address. A domain belongs to one organization.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgDomains::Table)
                    // Lower-case; the primary key makes a domain one organization's.
                    .col(string_len(OrgDomains::Domain, 253).primary_key())
                    .col(uuid(OrgDomains::OrgId))
                    .col(timestamp_with_time_zone(OrgDomains::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrgDomains::Table, OrgDomains::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_org_domains_org")
                    .table(OrgDomains::Table)
                    .col(OrgDomains::OrgId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrgDomains::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OrgDomains {
    Table,
    Domain,
    OrgId,
    CreatedAt,
}
