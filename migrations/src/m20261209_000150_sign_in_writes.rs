//! Fewer pages written per sign-in. A bound identity no longer records when it
//! was last used: nothing read it, and updating it dirtied a random page of
//! `sso_identities` on every sign-in (SPEC §13: last-used times stay off the
//! request's critical path). A member's last sign-in is on their user row.

use crate::columns::{add, drop};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SsoIdentities {
    Table,
    LastUsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop(manager, SsoIdentities::Table, SsoIdentities::LastUsedAt).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Filled with the current time, as a sign-in would have.
        let mut column = timestamp_with_time_zone(SsoIdentities::LastUsedAt);
        add(
            manager,
            SsoIdentities::Table,
            column.default(Expr::current_timestamp()),
        )
        .await
    }
}
