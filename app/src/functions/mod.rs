//! Server functions, grouped by domain. The pages reach the server only through these.

pub mod audit;
pub mod auth;
pub mod connections;
pub mod members;
pub mod provisioning;
pub mod settings;
pub mod sso;
