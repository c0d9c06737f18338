//! The SAML 2.0 service provider: no HTML, no UI knowledge. So far the IdP
//! signing certificates and metadata (ours and the IdP's).

pub mod certificate;
pub mod metadata;
