//! Single sign-on at run time, for either protocol: starting a sign-in or a
//! test, pending requests, the replay cache, the event log, and just-in-time
//! accounts. The protocol checks themselves live in `saml` and `oidc`.

pub mod accounts;
pub mod binding;
pub mod events;
pub mod finish;
pub mod identities;
pub mod logout;
pub mod oidc_flow;
pub mod replay;
pub mod requests;
pub mod saml_flow;
pub mod saml_settings;
pub mod service;

pub use service::SsoService;
