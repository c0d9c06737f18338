//! Single sign-on at run time: pending requests (SAML AuthnRequests, OIDC
//! state), the assertion replay cache, and the per-connection event log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SsoRequests::Table)
                    // The SAML AuthnRequest ID or the OIDC `state`: random, unguessable.
                    .col(string_len(SsoRequests::Id, 80).primary_key())
                    .col(uuid(SsoRequests::ConnectionId))
                    .col(uuid(SsoRequests::OrgId))
                    // `sign_in` or `test`.
                    .col(string_len(SsoRequests::Purpose, 16))
                    // The admin who started a test; never signed in as anyone else.
                    .col(uuid_null(SsoRequests::AdminUserId))
                    // Where to go after sign-in: a path of ours, checked when stored.
                    .col(text(SsoRequests::ReturnTo).default("/"))
                    // OIDC only: the nonce, and the PKCE verifier encrypted with the secret key.
                    .col(text_null(SsoRequests::Nonce))
                    .col(text_null(SsoRequests::PkceVerifier))
                    .col(timestamp_with_time_zone(SsoRequests::CreatedAt))
                    .col(timestamp_with_time_zone(SsoRequests::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoRequests::Table, SsoRequests::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sso_requests_expires")
                    .table(SsoRequests::Table)
                    .col(SsoRequests::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SamlReplay::Table)
                    .col(uuid(SamlReplay::ConnectionId))
                    .col(string_len(SamlReplay::AssertionId, 256))
                    .col(timestamp_with_time_zone(SamlReplay::ExpiresAt))
                    // The primary key is what refuses a second use, on every instance.
                    .primary_key(
                        Index::create()
                            .col(SamlReplay::ConnectionId)
                            .col(SamlReplay::AssertionId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_saml_replay_expires")
                    .table(SamlReplay::Table)
                    .col(SamlReplay::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SsoEvents::Table)
                    .col(pk_uuid(SsoEvents::Id))
                    .col(uuid(SsoEvents::ConnectionId))
                    .col(uuid(SsoEvents::OrgId))
                    // `sign_in` or `test`.
                    .col(string_len(SsoEvents::Kind, 16))
                    .col(boolean(SsoEvents::Success))
                    // A `shared::DiagnosisCode` when it failed.
                    .col(string_len_null(SsoEvents::Code, 64))
                    // Short, shown to a member on the error page and searchable by admins.
                    .col(string_len(SsoEvents::Reference, 16))
                    .col(text(SsoEvents::Subject).default(""))
                    .col(text(SsoEvents::Email).default(""))
                    .col(text(SsoEvents::FirstName).default(""))
                    .col(text(SsoEvents::LastName).default(""))
                    // JSON: the attributes or claims received, name → values.
                    .col(text(SsoEvents::Attributes).default("[]"))
                    .col(text_null(SsoEvents::Expected))
                    .col(text_null(SsoEvents::Received))
                    .col(text_null(SsoEvents::Detail))
                    .col(uuid_null(SsoEvents::UserId))
                    .col(timestamp_with_time_zone(SsoEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoEvents::Table, SsoEvents::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sso_events_connection_time")
                    .table(SsoEvents::Table)
                    .col(SsoEvents::ConnectionId)
                    .col(SsoEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SsoEvents::Table.into_iden(),
            SamlReplay::Table.into_iden(),
            SsoRequests::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SsoRequests {
    Table,
    Id,
    ConnectionId,
    OrgId,
    Purpose,
    AdminUserId,
    ReturnTo,
    Nonce,
    PkceVerifier,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SamlReplay {
    Table,
    ConnectionId,
    AssertionId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SsoEvents {
    Table,
    Id,
    ConnectionId,
    OrgId,
    Kind,
    Success,
    Code,
    Reference,
    Subject,
    Email,
    FirstName,
    LastName,
    Attributes,
    Expected,
    Received,
    Detail,
    UserId,
    CreatedAt,
}
