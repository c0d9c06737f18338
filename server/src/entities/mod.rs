//! SeaORM entities, one module per table (schema in the `migrations` crate).

pub mod audit_event;
pub mod directory_event;
pub mod host_app;
pub mod membership;
pub mod op_access_token;
pub mod op_authorization_code;
pub mod op_session_app;
pub mod op_signing_key;
pub mod org_domain;
pub mod organization;
pub mod pending_logout;
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

use sea_orm::{EntityTrait, RelationDef};

/// The relation of a column of `From`'s table that refers to a column of
/// `To`'s (a foreign key in the migrations), for reading both in one query.
fn reference<From: EntityTrait, To: EntityTrait>(
    from: From::Column,
    to: To::Column,
) -> RelationDef {
    From::belongs_to(To::default()).from(from).to(to).into()
}
