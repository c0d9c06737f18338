//! Rules the browser and the server must agree on: plain data and pure functions,
//! compiled for both wasm32 and native. No I/O lives here.

pub mod account;
pub mod redirect;
pub mod validate;

pub use account::{CurrentUser, Role};
pub use validate::{FieldError, FieldErrors};
