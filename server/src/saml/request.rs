//! SP-initiated sign-in: the AuthnRequest, sent by HTTP-Redirect; and the
//! HTTP-Redirect encoding single logout messages share with it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use rand::RngCore;
use samael::schema::{AuthnRequest, Issuer, NameIdPolicy};
use samael::traits::ToXml;
use std::io::Write;
use url::Url;

/// A new request ID: `_lk` (xs:ID starts with a letter or `_`), the time
/// and 128 random bits (`db::time_ordered_key`: an answered request's rows
/// land at the end of their indexes, not on random pages).
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("_lk{}", crate::db::time_ordered_key(&hex::encode(bytes)))
}

/// The signature algorithm of signed requests (HTTP-Redirect binding).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Where to send the browser: the IdP's SSO URL with a deflated, base64
/// `SAMLRequest` and the `RelayState`, signed with `signing_key` when given
/// (SAML Bindings §3.4.4.1: the signature covers `SAMLRequest`, `RelayState`
/// and `SigAlg` exactly as they appear in the query).
pub fn redirect_url(
    request_id: &str,
    idp_sso_url: &str,
    sp_entity_id: &str,
    acs_url: &str,
    relay_state: &str,
    signing_key: Option<&PKey<Private>>,
) -> Result<Url, String> {
    let request = AuthnRequest {
        id: request_id.to_string(),
        version: "2.0".to_string(),
        issue_instant: Utc::now(),
        destination: Some(idp_sso_url.to_string()),
        issuer: Some(Issuer {
            value: Some(sp_entity_id.to_string()),
            ..Issuer::default()
        }),
        name_id_policy: Some(NameIdPolicy {
            allow_create: Some(true),
            format: None,
            sp_name_qualifier: None,
        }),
        assertion_consumer_service_url: Some(acs_url.to_string()),
        protocol_binding: Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST".to_string()),
        ..AuthnRequest::default()
    };
    let xml = request.to_string().map_err(|e| e.to_string())?;
    redirect_binding_url(
        idp_sso_url,
        MessageParam::Request,
        &xml,
        relay_state,
        signing_key,
    )
}

/// Which query parameter carries the message (SAML Bindings §3.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageParam {
    Request,
    Response,
}

impl MessageParam {
    pub fn name(self) -> &'static str {
        match self {
            MessageParam::Request => "SAMLRequest",
            MessageParam::Response => "SAMLResponse",
        }
    }
}

/// `destination` with the message deflated and base64-encoded in the query
/// (HTTP-Redirect binding), signed with `signing_key` when given. Query
/// parameters already in `destination` are kept outside the signed part.
pub fn redirect_binding_url(
    destination: &str,
    param: MessageParam,
    xml: &str,
    relay_state: &str,
    signing_key: Option<&PKey<Private>>,
) -> Result<Url, String> {
    let mut deflated = Vec::new();
    {
        let mut encoder = DeflateEncoder::new(&mut deflated, Compression::default());
        encoder
            .write_all(xml.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let mut message = format!("{}={}", param.name(), encode(&STANDARD.encode(&deflated)));
    if !relay_state.is_empty() {
        message.push_str(&format!("&RelayState={}", encode(relay_state)));
    }
    if let Some(key) = signing_key {
        message.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
        let signature = sign(key, message.as_bytes()).map_err(|e| e.to_string())?;
        message.push_str(&format!(
            "&Signature={}",
            encode(&STANDARD.encode(signature))
        ));
    }
    let mut url: Url = destination
        .parse()
        .map_err(|e: url::ParseError| e.to_string())?;
    let query = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{message}"),
        _ => message,
    };
    url.set_query(Some(&query));
    Ok(url)
}

/// application/x-www-form-urlencoded, as IdPs re-encode the values they check.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn sign(key: &PKey<Private>, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(data)?;
    signer.sign_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_redirect_carries_a_deflated_request_for_our_acs() {
        let id = new_request_id();
        assert_eq!(id.len(), 3 + 12 + 32);
        let url = redirect_url(
            &id,
            "https://idp.example.com/sso?tenant=1",
            "https://sp/metadata",
            "https://sp/acs",
            "r1",
            None,
        )
        .unwrap();
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["tenant"], "1");
        assert_eq!(pairs["RelayState"], "r1");
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(&pairs["SAMLRequest"])
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains(&format!("ID=\"{id}\"")), "{xml}");
        assert!(
            xml.contains("AssertionConsumerServiceURL=\"https://sp/acs\""),
            "{xml}"
        );
        assert!(xml.contains("https://sp/metadata"), "{xml}");
    }
}

#[cfg(test)]
mod signing_tests {
    use super::*;
    use openssl::sign::Verifier;

    #[test]
    fn a_signed_redirect_signs_request_relay_state_and_algorithm_in_that_order() {
        let generated = crate::saml::sp_keys::generate("test").unwrap();
        let key = crate::saml::sp_keys::open_private_key(&generated.private_key_pem).unwrap();
        let url = redirect_url(
            "_lk1",
            "https://idp.example.com/sso?tenant=a b",
            "https://sp/metadata",
            "https://sp/acs",
            "_lk1",
            Some(&key),
        )
        .unwrap();
        let query = url.query().unwrap();
        assert!(query.starts_with("tenant=a%20b&SAMLRequest="), "{query}");
        let signed =
            &query[query.find("SAMLRequest=").unwrap()..query.find("&Signature=").unwrap()];
        assert!(signed
            .ends_with("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"));
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let signature = STANDARD.decode(&pairs["Signature"]).unwrap();
        let certificate = openssl::x509::X509::from_der(&generated.certificate.der).unwrap();
        let public = certificate.public_key().unwrap();
        let verify = |data: &[u8]| {
            let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
            verifier.update(data).unwrap();
            verifier.verify(&signature).unwrap()
        };
        assert!(verify(signed.as_bytes()));
        assert!(!verify(signed.replace("_lk1", "_lk2").as_bytes()));
    }
}
