#![recursion_limit = "256"]
//! The Latchkey server: storage, accounts, the HTTP layer and the command line.

pub mod accounts;
pub mod audit;
pub mod backend;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod connections;
pub mod db;
pub mod domains;
pub mod entities;
pub mod events;
pub mod http;
pub mod oidc;
pub mod outbound;
pub mod password;
pub mod private_files;
pub mod provider;
pub mod provisioning;
pub mod proxies;
pub mod saml;
pub mod scim;
pub mod secrets;
pub mod sessions;
pub mod sso;
pub mod throttle;
