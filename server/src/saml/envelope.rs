//! A first look at a SAML Response, before any signature is checked.
//!
//! Nothing read here decides who signs in: identity comes only from the
//! content the signature covers (see `response.rs`). The envelope refuses
//! shapes that no honest IdP sends (DOCTYPE, several assertions, comments
//! inside the assertion), finds the pending request the response answers, and
//! gathers the values a diagnosis shows next to what we expected.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use roxmltree::{Document, Node, NodeType, ParsingOptions};
use shared::{Diagnosis, DiagnosisCode};

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// The largest decoded response accepted. Real responses are a few KB; a big
/// group list stays far below this.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What the unsigned document says. Used for routing and diagnosis only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub in_response_to: Option<String>,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    /// The top-level status code, and the IdP's message when it sent one.
    pub status: Option<String>,
    pub status_message: Option<String>,
    /// Whether the Response or the Assertion carries an `ds:Signature`.
    pub signed: bool,
    /// Whether the Response itself carries one.
    pub response_signed: bool,
    /// The assertion is an `EncryptedAssertion`: the assertion facts below are
    /// read once it is decrypted (`decrypt::open`, then `inspect` again).
    pub encrypted: bool,
    /// The signature algorithms named by the document's signatures.
    pub signature_methods: Vec<String>,
    /// The base64 text of every certificate embedded in a signature's KeyInfo:
    /// only a failed verification reads them (`embedded_certificates`).
    pub embedded_certificate_texts: Vec<String>,
    pub audiences: Vec<String>,
    pub recipients: Vec<String>,
    pub issue_instant: Option<DateTime<Utc>>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_on_or_after: Option<DateTime<Utc>>,
}

impl Envelope {
    pub fn is_success(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == STATUS_SUCCESS)
    }

    /// DER of every certificate embedded in a signature's KeyInfo that decodes.
    pub fn embedded_certificates(&self) -> Vec<Vec<u8>> {
        self.embedded_certificate_texts
            .iter()
            .filter_map(|text| super::decode_wrapped_base64(text))
            .collect()
    }
}

fn malformed(detail: impl Into<String>) -> Diagnosis {
    Diagnosis::new(DiagnosisCode::InvalidSamlResponse).with_detail(detail)
}

/// Decodes the `SAMLResponse` form value (base64, line breaks allowed).
pub fn decode(saml_response: &str) -> Result<String, Diagnosis> {
    let raw = saml_response.as_bytes();
    if raw.is_empty() {
        return Err(no_response());
    }
    // Most IdPs send one line of base64: decode it as it is. Only when that
    // fails, and there is whitespace to remove, copy it without.
    let bytes = match decode_within_limit(raw) {
        Ok(bytes) => bytes,
        Err(_) if raw.iter().any(u8::is_ascii_whitespace) => {
            let compact: Vec<u8> = raw
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            if compact.is_empty() {
                return Err(no_response());
            }
            decode_within_limit(&compact)?
        }
        Err(error) => return Err(error),
    };
    String::from_utf8(bytes).map_err(|_| malformed("The SAMLResponse is not UTF-8 XML."))
}

fn no_response() -> Diagnosis {
    malformed(
        "The request carried no SAMLResponse. The identity provider must POST it to the ACS URL.",
    )
}

fn decode_within_limit(base64: &[u8]) -> Result<Vec<u8>, Diagnosis> {
    if base64.len() > MAX_RESPONSE_BYTES * 4 / 3 + 4 {
        return Err(malformed(format!(
            "The SAMLResponse is larger than {} KB.",
            MAX_RESPONSE_BYTES / 1024
        )));
    }
    STANDARD
        .decode(base64)
        .map_err(|_| malformed("The SAMLResponse is not valid base64."))
}

/// Parses and checks the document's shape, and reads the envelope facts.
pub fn inspect(xml: &str) -> Result<Envelope, Diagnosis> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(malformed(
            "The response contains a DOCTYPE or entity declaration, which SAML forbids.",
        ));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options)
        .map_err(|e| malformed(format!("The response is not well-formed XML: {e}.")))?;
    let root = doc.root_element();
    if !is(root, PROTOCOL_NS, "Response") {
        return Err(malformed(format!(
            "The document is a <{}>, not a SAML <samlp:Response>.",
            root.tag_name().name()
        )));
    }
    let mut envelope = Envelope {
        in_response_to: root.attribute("InResponseTo").map(str::to_string),
        destination: root.attribute("Destination").map(str::to_string),
        issuer: child(root, ASSERTION_NS, "Issuer").and_then(text),
        ..Envelope::default()
    };
    read_status(root, &mut envelope);
    // Before anything else reads a signature: xmlsec would act on what it names.
    super::signature_shape::check(root)?;

    let assertions: Vec<Node> = root
        .descendants()
        .filter(|n| is(*n, ASSERTION_NS, "Assertion") || is(*n, ASSERTION_NS, "EncryptedAssertion"))
        .collect();
    match assertions.as_slice() {
        [] if !envelope.is_success() => return Ok(envelope),
        [] => return Err(malformed("The response contains no assertion.")),
        [encrypted] if is(*encrypted, ASSERTION_NS, "EncryptedAssertion") => {
            if encrypted.parent_element() != Some(root) {
                return Err(malformed(
                    "The EncryptedAssertion is not a child of the Response.",
                ));
            }
            envelope.encrypted = true;
        }
        [assertion] => read_assertion(*assertion, &mut envelope)?,
        several => {
            return Err(malformed(format!(
                "The response contains {} assertions; exactly one is accepted.",
                several.len()
            )))
        }
    }
    read_signatures(root, &mut envelope);
    Ok(envelope)
}

fn read_status(root: Node, envelope: &mut Envelope) {
    let Some(status) = child(root, PROTOCOL_NS, "Status") else {
        return;
    };
    envelope.status = child(status, PROTOCOL_NS, "StatusCode").and_then(|code| {
        // A second-level code says more ("AuthnFailed") than the first ("Responder").
        let top = code.attribute("Value")?.to_string();
        match child(code, PROTOCOL_NS, "StatusCode").and_then(|c| c.attribute("Value")) {
            Some(sub) => Some(format!("{top} / {sub}")),
            None => Some(top),
        }
    });
    envelope.status_message = child(status, PROTOCOL_NS, "StatusMessage").and_then(text);
    // Keep the comparison with Success exact: only the top-level code counts.
    if let Some(code) = envelope.status.as_mut() {
        if code.starts_with(STATUS_SUCCESS) && code != STATUS_SUCCESS {
            code.truncate(STATUS_SUCCESS.len());
        }
    }
}

fn read_assertion(assertion: Node, envelope: &mut Envelope) -> Result<(), Diagnosis> {
    // A comment or processing instruction inside signed content changes what a
    // text reader sees without breaking the signature (the NameID truncation attack).
    if assertion
        .descendants()
        .any(|n| matches!(n.node_type(), NodeType::Comment | NodeType::PI))
    {
        return Err(malformed(
            "The assertion contains an XML comment or processing instruction, which identity providers never send.",
        ));
    }
    envelope.issue_instant = assertion.attribute("IssueInstant").and_then(parse_time);
    if envelope.issuer.is_none() {
        envelope.issuer = child(assertion, ASSERTION_NS, "Issuer").and_then(text);
    }
    for node in assertion.descendants() {
        if is(node, ASSERTION_NS, "Audience") {
            envelope.audiences.extend(text(node));
        } else if is(node, ASSERTION_NS, "SubjectConfirmationData") {
            envelope
                .recipients
                .extend(node.attribute("Recipient").map(str::to_string));
        } else if is(node, ASSERTION_NS, "Conditions") {
            envelope.not_before = node.attribute("NotBefore").and_then(parse_time);
            envelope.not_on_or_after = node.attribute("NotOnOrAfter").and_then(parse_time);
        }
    }
    if envelope.in_response_to.is_none() {
        envelope.in_response_to = assertion
            .descendants()
            .find(|n| is(*n, ASSERTION_NS, "SubjectConfirmationData"))
            .and_then(|n| n.attribute("InResponseTo"))
            .map(str::to_string);
    }
    Ok(())
}

fn read_signatures(root: Node, envelope: &mut Envelope) {
    for signature in root.descendants().filter(|n| is(*n, DSIG_NS, "Signature")) {
        let parent = signature.parent_element();
        if parent
            .is_some_and(|p| is(p, PROTOCOL_NS, "Response") || is(p, ASSERTION_NS, "Assertion"))
        {
            envelope.signed = true;
        }
        if parent == Some(root) {
            envelope.response_signed = true;
        }
        for node in signature.descendants() {
            if is(node, DSIG_NS, "SignatureMethod") {
                envelope
                    .signature_methods
                    .extend(node.attribute("Algorithm").map(str::to_string));
            } else if is(node, DSIG_NS, "X509Certificate") {
                envelope
                    .embedded_certificate_texts
                    .push(node.text().unwrap_or_default().to_string());
            }
        }
    }
}

/// Whether `node` is the element `name` in `namespace`.
pub(super) fn is(node: Node, namespace: &str, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(namespace)
}

/// The first child element `name` in `namespace`.
pub(super) fn child<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    name: &str,
) -> Option<Node<'a, 'input>> {
    node.children().find(|n| is(*n, namespace, name))
}

fn text(node: Node) -> Option<String> {
    node.text()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="_req1" Destination="https://sp/acs"><saml:Issuer>https://idp</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a" IssueInstant="2026-11-23T10:00:00Z"><saml:Issuer>https://idp</saml:Issuer><saml:Subject><saml:NameID>ada@initech.test</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData Recipient="https://sp/acs" InResponseTo="_req1"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2026-11-23T09:59:00Z" NotOnOrAfter="2026-11-23T10:05:00Z"><saml:AudienceRestriction><saml:Audience>https://sp/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions></saml:Assertion></samlp:Response>"#;

    #[test]
    fn reads_the_envelope_of_a_plain_response() {
        let envelope = inspect(RESPONSE).unwrap();
        assert_eq!(envelope.in_response_to.as_deref(), Some("_req1"));
        assert_eq!(envelope.destination.as_deref(), Some("https://sp/acs"));
        assert_eq!(envelope.issuer.as_deref(), Some("https://idp"));
        assert_eq!(envelope.audiences, vec!["https://sp/metadata"]);
        assert_eq!(envelope.recipients, vec!["https://sp/acs"]);
        assert!(envelope.is_success());
        assert!(!envelope.signed);
        assert!(envelope.not_on_or_after.is_some());
    }

    #[test]
    fn refuses_doctype_two_assertions_comments_and_other_roots() {
        let doctype = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{RESPONSE}");
        let two = RESPONSE.replace(
            "</samlp:Response>",
            "<saml:Assertion ID=\"_b\"/></samlp:Response>",
        );
        let comment = RESPONSE.replace("ada@initech.test", "ada@initech.test<!---->.evil");
        let other = "<foo/>";
        for bad in [
            doctype.as_str(),
            two.as_str(),
            comment.as_str(),
            other,
            "not xml",
        ] {
            let error = inspect(bad).unwrap_err();
            assert_eq!(error.code, DiagnosisCode::InvalidSamlResponse, "{bad}");
            assert!(error.detail.is_some());
        }
    }

    #[test]
    fn an_encrypted_assertion_is_read_later_and_must_be_the_responses_child() {
        let encrypted = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="_req1" Destination="https://sp/acs"><saml:Issuer>https://idp</saml:Issuer><saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion></samlp:Response>"#;
        let envelope = inspect(encrypted).unwrap();
        assert!(envelope.encrypted);
        assert!(!envelope.response_signed);
        assert_eq!(envelope.in_response_to.as_deref(), Some("_req1"));
        assert!(envelope.audiences.is_empty());

        let nested = encrypted
            .replace(
                "<saml:EncryptedAssertion>",
                "<samlp:Extensions><saml:EncryptedAssertion>",
            )
            .replace(
                "</saml:EncryptedAssertion>",
                "</saml:EncryptedAssertion></samlp:Extensions>",
            );
        assert_eq!(
            inspect(&nested).unwrap_err().code,
            DiagnosisCode::InvalidSamlResponse
        );
        let plain_and_encrypted = RESPONSE.replace(
            "</samlp:Response>",
            "<saml:EncryptedAssertion/></samlp:Response>",
        );
        let refused = inspect(&plain_and_encrypted).unwrap_err();
        assert_eq!(
            refused.detail.as_deref(),
            Some("The response contains 2 assertions; exactly one is accepted.")
        );
    }

    #[test]
    fn an_error_status_without_assertion_is_read_not_refused() {
        let xml = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode><samlp:StatusMessage>User is not assigned</samlp:StatusMessage></samlp:Status></samlp:Response>"#;
        let envelope = inspect(xml).unwrap();
        assert!(!envelope.is_success());
        assert_eq!(
            envelope.status.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:status:Responder / urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
        );
        assert_eq!(
            envelope.status_message.as_deref(),
            Some("User is not assigned")
        );
    }

    #[test]
    fn decode_refuses_garbage_and_empty_input() {
        assert!(decode("").is_err());
        assert!(decode("%%%not base64%%%").is_err());
        assert!(decode(&STANDARD.encode([0xff, 0xfe, 0x00])).is_err());
        assert_eq!(decode(&STANDARD.encode("<a/>")).unwrap(), "<a/>");
        let huge = "A".repeat(MAX_RESPONSE_BYTES * 2);
        assert!(decode(&huge)
            .unwrap_err()
            .detail
            .unwrap()
            .contains("larger"));
    }

    #[test]
    fn decode_takes_base64_wrapped_in_lines() {
        let encoded = STANDARD.encode(RESPONSE);
        let wrapped: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        assert_eq!(decode(&wrapped.join("\r\n")).unwrap(), RESPONSE);
        assert_eq!(decode(&format!(" {encoded}\n")).unwrap(), RESPONSE);
        assert_eq!(decode(" \r\n\t").unwrap_err(), no_response());
    }

    #[test]
    fn embedded_certificates_are_decoded_when_asked() {
        let der = vec![0x30, 0x82, 0x01, 0x0a];
        let envelope = Envelope {
            embedded_certificate_texts: vec![
                format!("\n  {}\n", STANDARD.encode(&der)),
                "not base64".into(),
            ],
            ..Envelope::default()
        };
        assert_eq!(envelope.embedded_certificates(), vec![der]);
    }
}
