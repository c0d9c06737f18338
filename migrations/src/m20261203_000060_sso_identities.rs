//! SSO sign-ins are matched on the identity provider's subject, not on email.
//!
//! `sso_identities` binds (connection, subject) to one account the first time
//! that subject signs in; later sign-ins follow the binding, so an IdP that
//! hands an old email to a new person does not hand them the old account.
//! `retired_accounts` remembers the emails whose accounts SCIM deleted, so an
//! SSO sign-in cannot bring them back by just-in-time creation.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SsoIdentities::Table)
                    .col(uuid(SsoIdentities::Id).primary_key())
                    .col(uuid(SsoIdentities::OrgId))
                    .col(uuid(SsoIdentities::ConnectionId))
                    // SAML NameID or OIDC `sub`, exactly as the IdP sent it.
                    .col(string_len(SsoIdentities::Subject, 1024))
                    .col(uuid(SsoIdentities::UserId))
                    // `sign_in` (bound at a first sign-in) or `admin_link`.
                    .col(string_len(SsoIdentities::Origin, 16))
                    .col(timestamp_with_time_zone(SsoIdentities::CreatedAt))
                    .col(timestamp_with_time_zone(SsoIdentities::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoIdentities::Table, SsoIdentities::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoIdentities::Table, SsoIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One account per subject, and one subject per account, per connection.
        for (name, column) in [
            ("ux_sso_identities_subject", SsoIdentities::Subject),
            ("ux_sso_identities_user", SsoIdentities::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SsoIdentities::Table)
                        .col(SsoIdentities::ConnectionId)
                        .col(column)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(RetiredAccounts::Table)
                    .col(uuid(RetiredAccounts::OrgId))
                    .col(string_len(RetiredAccounts::EmailNormalized, 320))
                    // `scim_deleted`.
                    .col(string_len(RetiredAccounts::Reason, 32))
                    .col(timestamp_with_time_zone(RetiredAccounts::RetiredAt))
                    .primary_key(
                        Index::create()
                            .col(RetiredAccounts::OrgId)
                            .col(RetiredAccounts::EmailNormalized),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RetiredAccounts::Table, RetiredAccounts::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RetiredAccounts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SsoIdentities::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SsoIdentities {
    Table,
    Id,
    OrgId,
    ConnectionId,
    Subject,
    UserId,
    Origin,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum RetiredAccounts {
    Table,
    OrgId,
    EmailNormalized,
    Reason,
    RetiredAt,
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}
