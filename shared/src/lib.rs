//! Rules the browser and the server must agree on: plain data and pure functions,
//! compiled for both wasm32 and native. No I/O lives here.

pub mod account;
pub mod audit;
pub mod catalogue;
pub mod connection;
pub mod diagnosis;
pub mod doctor;
pub mod domain;
pub mod idp_url;
pub mod mapping;
pub mod members;
pub mod provisioning;
pub mod redirect;
pub mod sso_event;
pub mod time;
pub mod validate;

pub use account::{CurrentUser, Role};
pub use catalogue::{IdentityProvider, Protocol};
pub use diagnosis::{Diagnosis, DiagnosisCode};
pub use doctor::{CheckStatus, DoctorCheck};
pub use idp_url::IdpUrlPolicy;
pub use mapping::AttributeMapping;
pub use validate::{FieldError, FieldErrors};
