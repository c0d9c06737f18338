//! The OpenID Connect relying party: no HTML, no UI knowledge.

pub mod discovery;
