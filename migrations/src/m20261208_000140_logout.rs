//! Single logout. A session gets a public ID (`sid`, the claim host apps see
//! in ID tokens and back-channel logout tokens) and remembers what the IdP
//! needs to end its own session: the SAML NameID and SessionIndex, or the
//! OIDC ID token (sealed) and `sid`. The provider remembers which host apps a
//! session signed in to, so ending it can tell each of them. Host apps may
//! register where members return after logout and where back-channel logout
//! tokens go. A SAML connection may name the IdP's Single Logout URL, and a
//! logout we started waits in `pending_logouts` for the IdP's answer.

use crate::columns::{add, drop};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Sid,
    SsoConnectionId,
    IdpNameId,
    IdpNameIdFormat,
    IdpSessionIndex,
    IdpIdToken,
    IdpSid,
}

#[derive(DeriveIden)]
enum OpAuthorizationCodes {
    Table,
    Sid,
}

#[derive(DeriveIden)]
enum OpSessionApps {
    Table,
    Sid,
    AppId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HostApps {
    Table,
    Id,
    PostLogoutRedirectUris,
    BackchannelLogoutUri,
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
    SamlIdpSloUrl,
}

#[derive(DeriveIden)]
enum PendingLogouts {
    Table,
    Id,
    ConnectionId,
    ReturnTo,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(
            manager,
            Sessions::Table,
            &mut string_len_null(Sessions::Sid, 64),
        )
        .await?;
        for column in [
            Sessions::IdpNameId,
            Sessions::IdpNameIdFormat,
            Sessions::IdpSessionIndex,
            Sessions::IdpIdToken,
            Sessions::IdpSid,
        ] {
            add(manager, Sessions::Table, &mut text_null(column)).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_sessions_sid")
                    .table(Sessions::Table)
                    .col(Sessions::Sid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // An IdP's logout request names its subject on one connection.
        manager
            .create_index(
                Index::create()
                    .name("ix_sessions_idp_subject")
                    .table(Sessions::Table)
                    .col(Sessions::SsoConnectionId)
                    .col(Sessions::IdpNameId)
                    .to_owned(),
            )
            .await?;
        add(
            manager,
            OpAuthorizationCodes::Table,
            &mut string_len_null(OpAuthorizationCodes::Sid, 64),
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(OpSessionApps::Table)
                    .col(string_len(OpSessionApps::Sid, 64))
                    .col(uuid(OpSessionApps::AppId))
                    .col(uuid(OpSessionApps::UserId))
                    .col(timestamp_with_time_zone(OpSessionApps::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(OpSessionApps::Sid)
                            .col(OpSessionApps::AppId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OpSessionApps::Table, OpSessionApps::AppId)
                            .to(HostApps::Table, HostApps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        add(
            manager,
            HostApps::Table,
            text(HostApps::PostLogoutRedirectUris).default("[]"),
        )
        .await?;
        add(
            manager,
            HostApps::Table,
            &mut text_null(HostApps::BackchannelLogoutUri),
        )
        .await?;
        add(
            manager,
            SsoConnections::Table,
            text(SsoConnections::SamlIdpSloUrl).default(""),
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(PendingLogouts::Table)
                    .col(string_len(PendingLogouts::Id, 128).primary_key())
                    .col(uuid(PendingLogouts::ConnectionId))
                    .col(text(PendingLogouts::ReturnTo))
                    .col(timestamp_with_time_zone(PendingLogouts::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PendingLogouts::Table, PendingLogouts::ConnectionId)
                            .to(SsoConnections::Table, SsoConnections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PendingLogouts::Table).to_owned())
            .await?;
        drop(
            manager,
            SsoConnections::Table,
            SsoConnections::SamlIdpSloUrl,
        )
        .await?;
        drop(manager, HostApps::Table, HostApps::BackchannelLogoutUri).await?;
        drop(manager, HostApps::Table, HostApps::PostLogoutRedirectUris).await?;
        manager
            .drop_table(Table::drop().table(OpSessionApps::Table).to_owned())
            .await?;
        drop(
            manager,
            OpAuthorizationCodes::Table,
            OpAuthorizationCodes::Sid,
        )
        .await?;
        for index in ["ix_sessions_idp_subject", "ux_sessions_sid"] {
            manager
                .drop_index(Index::drop().name(index).table(Sessions::Table).to_owned())
                .await?;
        }
        for column in [
            Sessions::IdpSid,
            Sessions::IdpIdToken,
            Sessions::IdpSessionIndex,
            Sessions::IdpNameIdFormat,
            Sessions::IdpNameId,
            Sessions::Sid,
        ] {
            drop(manager, Sessions::Table, column).await?;
        }
        Ok(())
    }
}
