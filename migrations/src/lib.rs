//! Schema migrations, applied at start and by `latchkey migrate`.
//! One migration per file: `DeriveMigrationName` names each after its module.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_accounts;
mod m20261123_000002_sso_connections;
mod m20261123_000003_sso_sign_in;
mod m20261123_000004_scim;
mod m20261123_000005_org_domains;
mod m20261203_000020_sign_in_hardening;
mod m20261203_000040_domain_verification;
mod m20261203_000060_sso_identities;
mod m20261204_000080_host_apps;
mod m20261204_000090_directory_events;
mod m20261204_000100_setup_links;
mod m20261205_000110_member_directory;
mod m20261206_000120_request_ids;
mod m20261207_000130_saml_sp_keys;
mod m20261208_000140_logout;
mod m20261209_000150_sign_in_writes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_accounts::Migration),
            Box::new(m20261123_000002_sso_connections::Migration),
            Box::new(m20261123_000003_sso_sign_in::Migration),
            Box::new(m20261123_000004_scim::Migration),
            Box::new(m20261123_000005_org_domains::Migration),
            Box::new(m20261203_000020_sign_in_hardening::Migration),
            Box::new(m20261203_000040_domain_verification::Migration),
            Box::new(m20261203_000060_sso_identities::Migration),
            Box::new(m20261204_000080_host_apps::Migration),
            Box::new(m20261204_000090_directory_events::Migration),
            Box::new(m20261204_000100_setup_links::Migration),
            Box::new(m20261205_000110_member_directory::Migration),
            Box::new(m20261206_000120_request_ids::Migration),
            Box::new(m20261207_000130_saml_sp_keys::Migration),
            Box::new(m20261208_000140_logout::Migration),
            Box::new(m20261209_000150_sign_in_writes::Migration),
        ]
    }
}
