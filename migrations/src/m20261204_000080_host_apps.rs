//! Latchkey as the OpenID Provider of host apps (SPEC §14).
//!
//! `host_apps` are the registered clients: the client secret is kept as its
//! SHA-256 (it is 256 random bits, so a slow hash adds nothing), the webhook
//! secret sealed with the instance key. `op_signing_keys` hold the ID-token
//! keys, sealed; a rotated key stays published until its tokens expire.
//! Authorization codes and access tokens are kept as hashes, so reading the
//! tables redeems nothing. Sessions learn which SSO connection opened them
//! (the `idp` claim).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HostApps::Table)
                    .col(uuid(HostApps::Id).primary_key())
                    .col(string_len(HostApps::Name, 200))
                    .col(string_len_uniq(HostApps::ClientId, 64))
                    .col(string_len(HostApps::ClientSecretHash, 64))
                    // JSON array of the exact redirect URIs.
                    .col(text(HostApps::RedirectUris))
                    .col(string_len_null(HostApps::WebhookUrl, 2048))
                    .col(text_null(HostApps::WebhookSecret))
                    .col(timestamp_with_time_zone(HostApps::CreatedAt))
                    .col(timestamp_with_time_zone(HostApps::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OpSigningKeys::Table)
                    .col(string_len(OpSigningKeys::Kid, 64).primary_key())
                    .col(string_len(OpSigningKeys::Algorithm, 16))
                    .col(text(OpSigningKeys::PrivateKey))
                    .col(text(OpSigningKeys::PublicJwk))
                    .col(timestamp_with_time_zone(OpSigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(OpSigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OpAuthorizationCodes::Table)
                    .col(string_len(OpAuthorizationCodes::CodeHash, 64).primary_key())
                    .col(uuid(OpAuthorizationCodes::AppId))
                    .col(uuid(OpAuthorizationCodes::UserId))
                    .col(uuid(OpAuthorizationCodes::OrgId))
                    .col(string_len(OpAuthorizationCodes::RedirectUri, 2048))
                    .col(string_len(OpAuthorizationCodes::Scope, 1024))
                    .col(string_len_null(OpAuthorizationCodes::Nonce, 512))
                    .col(string_len(OpAuthorizationCodes::CodeChallenge, 128))
                    .col(timestamp_with_time_zone(OpAuthorizationCodes::AuthTime))
                    // `pwd` or `sso`.
                    .col(string_len(OpAuthorizationCodes::Amr, 16))
                    .col(uuid_null(OpAuthorizationCodes::Idp))
                    .col(timestamp_with_time_zone(OpAuthorizationCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OpAuthorizationCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OpAuthorizationCodes::Table, OpAuthorizationCodes::AppId)
                            .to(HostApps::Table, HostApps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OpAuthorizationCodes::Table, OpAuthorizationCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OpAccessTokens::Table)
                    .col(string_len(OpAccessTokens::TokenHash, 64).primary_key())
                    .col(uuid(OpAccessTokens::AppId))
                    .col(uuid_null(OpAccessTokens::UserId))
                    .col(uuid_null(OpAccessTokens::OrgId))
                    .col(string_len(OpAccessTokens::Scope, 1024))
                    // The code it was redeemed for: a replayed code revokes it.
                    .col(string_len_null(OpAccessTokens::CodeHash, 64))
                    .col(timestamp_with_time_zone_null(OpAccessTokens::AuthTime))
                    .col(string_len_null(OpAccessTokens::Amr, 16))
                    .col(uuid_null(OpAccessTokens::Idp))
                    .col(timestamp_with_time_zone(OpAccessTokens::CreatedAt))
                    .col(timestamp_with_time_zone(OpAccessTokens::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OpAccessTokens::Table, OpAccessTokens::AppId)
                            .to(HostApps::Table, HostApps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OpAccessTokens::Table, OpAccessTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_op_access_tokens_code")
                    .table(OpAccessTokens::Table)
                    .col(OpAccessTokens::CodeHash)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(uuid_null(Sessions::SsoConnectionId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::SsoConnectionId)
                    .to_owned(),
            )
            .await?;
        for table in [
            OpAccessTokens::Table.into_iden(),
            OpAuthorizationCodes::Table.into_iden(),
            OpSigningKeys::Table.into_iden(),
            HostApps::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum HostApps {
    Table,
    Id,
    Name,
    ClientId,
    ClientSecretHash,
    RedirectUris,
    WebhookUrl,
    WebhookSecret,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OpSigningKeys {
    Table,
    Kid,
    Algorithm,
    PrivateKey,
    PublicJwk,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum OpAuthorizationCodes {
    Table,
    CodeHash,
    AppId,
    UserId,
    OrgId,
    RedirectUri,
    Scope,
    Nonce,
    CodeChallenge,
    AuthTime,
    Amr,
    Idp,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OpAccessTokens {
    Table,
    TokenHash,
    AppId,
    UserId,
    OrgId,
    Scope,
    CodeHash,
    AuthTime,
    Amr,
    Idp,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    SsoConnectionId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
