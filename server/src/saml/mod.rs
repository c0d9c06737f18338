//! The SAML 2.0 service provider: no HTML, no UI knowledge. The IdP signing
//! certificates and metadata (ours and the IdP's), AuthnRequests, and response
//! validation.

pub mod certificate;
pub mod decrypt;
pub mod envelope;
pub mod identity;
pub mod logout;
pub mod metadata;
pub mod request;
pub mod response;
pub mod signature_shape;
pub mod sp_keys;
pub mod verifier;
pub mod xmlsec_limits;

/// The bytes of base64 text as XML carries it: wrapped in lines, indented.
pub(crate) fn decode_wrapped_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}
