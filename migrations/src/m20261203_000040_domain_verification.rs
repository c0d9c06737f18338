//! Domain claims must be proven through DNS before they route sign-ins.
//!
//! `org_domains` made a domain the first claimant's (its primary key was the
//! domain). `org_domain_claims` lets several organizations hold a pending claim
//! of one domain, each with its own random token to publish at
//! `_latchkey-challenge.<domain>`; a partial unique index lets only one claim of
//! a domain be verified. Existing claims were never proven, so they move over
//! as pending, each with a fresh token.

use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The server's format (`server/src/domains`): `lkverify_` and 16 random bytes
/// in hex. Copied here because a migration must not change when the code does.
fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("lkverify_{hex}")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgDomainClaims::Table)
                    .col(uuid(OrgDomainClaims::OrgId))
                    // Lower-case, without a trailing dot.
                    .col(string_len(OrgDomainClaims::Domain, 253))
                    .col(string_len(OrgDomainClaims::Token, 64))
                    .col(timestamp_with_time_zone(OrgDomainClaims::CreatedAt))
                    .col(timestamp_with_time_zone_null(OrgDomainClaims::VerifiedAt))
                    .col(timestamp_with_time_zone_null(OrgDomainClaims::CheckedAt))
                    // JSON: why the last check did not verify (shared::domain::DomainCheckFailure).
                    .col(text_null(OrgDomainClaims::CheckFailure))
                    .primary_key(
                        Index::create()
                            .col(OrgDomainClaims::OrgId)
                            .col(OrgDomainClaims::Domain),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrgDomainClaims::Table, OrgDomainClaims::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // One verified claim per domain, enforced by the database so two
        // organizations verifying at once cannot both win. Partial indexes are
        // the same SQL on SQLite and PostgreSQL. It also serves the sign-in lookup
        // (`domain = ? AND verified_at IS NOT NULL`).
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_org_domain_claims_verified \
             ON org_domain_claims (domain) WHERE verified_at IS NOT NULL",
        )
        .await?;

        // Old claims become pending claims; the domain stands in for the token
        // until each gets its own (domains were unique in the old table).
        db.execute_unprepared(
            "INSERT INTO org_domain_claims (org_id, domain, token, created_at) \
             SELECT org_id, domain, domain, created_at FROM org_domains",
        )
        .await?;
        let backend = manager.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT domain FROM org_domain_claims",
            ))
            .await?;
        for row in rows {
            let domain: String = row.try_get("", "domain")?;
            let update = Query::update()
                .table(OrgDomainClaims::Table)
                .value(OrgDomainClaims::Token, new_token())
                .and_where(Expr::col(OrgDomainClaims::Domain).eq(domain))
                .to_owned();
            manager.exec_stmt(update).await?;
        }
        manager
            .drop_table(Table::drop().table(OrgDomains::Table).to_owned())
            .await
    }

    /// Back to one claim per domain: only verified claims survive, since the
    /// old table would route every row it holds.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgDomains::Table)
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
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO org_domains (domain, org_id, created_at) \
                 SELECT domain, org_id, created_at FROM org_domain_claims \
                 WHERE verified_at IS NOT NULL",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(OrgDomainClaims::Table).to_owned())
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

#[derive(DeriveIden)]
enum OrgDomainClaims {
    Table,
    OrgId,
    Domain,
    Token,
    CreatedAt,
    VerifiedAt,
    CheckedAt,
    CheckFailure,
}
