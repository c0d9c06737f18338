//! SeaORM entities, one module per table (schema in the `migrations` crate).

pub mod audit_event;
pub mod directory_event;
pub mod host_app;
pub mod membership;
pub mod op_access_token;
pub mod op_authorization_code;
pub mod op_signing_key;
pub mod org_domain;
pub mod organization;
pub mod retired_account;
pub mod saml_replay;
pub mod saml_sp_key;
pub mod scim_connection;
pub mod scim_group;
pub mod scim_group_member;
pub mod scim_request;
pub mod scim_token;
pub mod session;
pub mod setup_link;
pub mod sign_in_throttle;
pub mod sso_connection;
pub mod sso_event;
pub mod sso_identity;
pub mod sso_request;
pub mod user;
pub mod webhook_delivery;
