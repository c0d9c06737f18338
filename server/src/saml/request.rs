//! SP-initiated sign-in: the AuthnRequest, sent by HTTP-Redirect.

use chrono::Utc;
use rand::RngCore;
use samael::schema::{AuthnRequest, Issuer, NameIdPolicy};
use url::Url;

/// A new request ID: 128 random bits, starting with a letter as xs:ID requires.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("_lk{}", hex::encode(bytes))
}

/// Where to send the browser: the IdP's SSO URL with a deflated, base64
/// `SAMLRequest` and the `RelayState`.
pub fn redirect_url(
    request_id: &str,
    idp_sso_url: &str,
    sp_entity_id: &str,
    acs_url: &str,
    relay_state: &str,
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
    request
        .redirect(relay_state)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the IdP SSO URL is missing".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::io::Read;

    #[test]
    fn the_redirect_carries_a_deflated_request_for_our_acs() {
        let id = new_request_id();
        assert_eq!(id.len(), 35);
        let url = redirect_url(
            &id,
            "https://idp.example.com/sso?tenant=1",
            "https://sp/metadata",
            "https://sp/acs",
            "r1",
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
