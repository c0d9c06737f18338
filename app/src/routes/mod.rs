//! One module per area of the site.

pub mod audit;
pub mod authentication;
pub mod handover;
pub mod home;
pub mod lazy;
pub mod login;
pub mod members;
pub mod not_found;
pub mod provisioning;
pub mod settings;
