//! SeaORM entities, one module per table (schema in the `migrations` crate).

pub mod audit_event;
pub mod membership;
pub mod organization;
pub mod session;
pub mod sso_connection;
pub mod user;
