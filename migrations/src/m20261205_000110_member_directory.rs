//! Settings > Members: where each account came from and when it last signed in.
//! Sessions expire and are purged, so the last sign-in is kept on the user.
//! Existing accounts get the source their columns imply: SCIM wrote an
//! `externalId` or extra attributes; a password means someone created the
//! account by hand; anything else came in through SSO just in time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            // `manual`, `sso` or `scim` (see `server::members::MemberSource`).
            string_len(Users::Source, 16).default("manual").to_owned(),
            timestamp_with_time_zone_null(Users::LastSignInAt),
            // A session method: `password`, `break_glass`, `saml`, `oidc`.
            string_len_null(Users::LastSignInMethod, 16),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE users SET source = CASE \
               WHEN external_id IS NOT NULL OR scim_attributes IS NOT NULL THEN 'scim' \
               WHEN password_hash IS NOT NULL THEN 'manual' \
               ELSE 'sso' END",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE users SET (last_sign_in_at, last_sign_in_method) = \
               (SELECT s.created_at, s.method FROM sessions s WHERE s.user_id = users.id \
                ORDER BY s.created_at DESC LIMIT 1)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Users::Source, Users::LastSignInAt, Users::LastSignInMethod] {
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

#[derive(DeriveIden)]
enum Users {
    Table,
    Source,
    LastSignInAt,
    LastSignInMethod,
}
