//! Sign-in hardening (issue #14): the failed sign-in throttle moves from each
//! instance's memory into the database, so every instance behind a load
//! balancer counts the same failures; pending SSO requests remember the hash
//! of the browser secret that binds them to the browser that started them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignInThrottle::Table)
                    // `account` (a normalized email) or `address` (a client address).
                    .col(string_len(SignInThrottle::Kind, 16))
                    .col(string_len(SignInThrottle::Key, 254))
                    .col(integer(SignInThrottle::Failures))
                    // Unix milliseconds, so the upsert can compare them the same
                    // way on SQLite and PostgreSQL.
                    .col(big_integer(SignInThrottle::WindowStartedMs))
                    // 0 when the key is not blocked.
                    .col(big_integer(SignInThrottle::BlockedUntilMs).default(0))
                    .primary_key(
                        Index::create()
                            .col(SignInThrottle::Kind)
                            .col(SignInThrottle::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sign_in_throttle_window")
                    .table(SignInThrottle::Table)
                    .col(SignInThrottle::WindowStartedMs)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SsoRequests::Table)
                    .add_column(string_len_null(SsoRequests::BrowserBinding, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SsoRequests::Table)
                    .drop_column(SsoRequests::BrowserBinding)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SignInThrottle::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SsoRequests {
    Table,
    BrowserBinding,
}

#[derive(DeriveIden)]
enum SignInThrottle {
    Table,
    Kind,
    Key,
    Failures,
    WindowStartedMs,
    BlockedUntilMs,
}
