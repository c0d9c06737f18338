//! SeaORM entities, one module per table (schema in the `migrations` crate).

pub mod audit_event;
pub mod membership;
pub mod organization;
pub mod scim_connection;
pub mod scim_group;
pub mod scim_group_member;
pub mod scim_request;
pub mod scim_token;
pub mod session;
pub mod sso_connection;
pub mod user;
