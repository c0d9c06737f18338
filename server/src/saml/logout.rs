//! SAML Single Logout (SAML Core §3.7, Bindings §3.4 and §3.5): the
//! LogoutRequest Latchkey sends when a member signs out, the LogoutResponse
//! it answers an IdP's request with, and the reading of what the IdP sends to
//! the SLO URL.
//!
//! Every message from the IdP must be signed by a current IdP certificate:
//! over the query in the HTTP-Redirect binding, inside the message (checked
//! by xmlsec, after the same shape rules as a Response) in the HTTP-POST
//! binding. An unsigned logout request would let any web page sign a member
//! out, and an unsigned response could complete a logout nobody answered.

use super::envelope::{child, is, ASSERTION_NS, DSIG_NS, PROTOCOL_NS, STATUS_SUCCESS};
use super::request::{redirect_binding_url, MessageParam, RSA_SHA256};
use super::response::{PreparedSettings, ALLOWED_ALGORITHMS};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use flate2::read::DeflateDecoder;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Verifier;
use roxmltree::{Document, Node, ParsingOptions};
use samael::crypto::{CryptoProvider, ReduceMode};
use shared::{Diagnosis, DiagnosisCode};
use std::io::Read;
use url::Url;

/// The largest logout message read, decoded and inflated. Real ones are ~2 KB.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// How far the IdP's clock may be ahead of or behind ours.
const CLOCK_SKEW: Duration = Duration::seconds(120);
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";

/// The digest of a query-signature algorithm we accept (SHA-1 is refused,
/// as in responses).
fn redirect_digest(algorithm: &str) -> Option<MessageDigest> {
    match algorithm {
        RSA_SHA256 => Some(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// How a message reached the SLO URL.
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    /// HTTP-Redirect: the raw query string, exactly as received.
    Redirect { query: &'a str },
    /// HTTP-POST: the form fields.
    Post { form: &'a [(String, String)] },
}

/// An IdP's LogoutRequest: end this subject's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpLogoutRequest {
    pub id: String,
    pub issuer: Option<String>,
    pub destination: Option<String>,
    pub name_id: String,
    /// Empty: every session of the subject.
    pub session_indexes: Vec<String>,
    pub not_on_or_after: Option<DateTime<Utc>>,
}

/// An IdP's answer to our LogoutRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpLogoutResponse {
    pub in_response_to: Option<String>,
    pub issuer: Option<String>,
    pub destination: Option<String>,
    /// The top-level status code and, when it is not Success, the second level.
    pub status: String,
    pub sub_status: Option<String>,
}

impl IdpLogoutResponse {
    pub fn is_success(&self) -> bool {
        self.status == STATUS_SUCCESS
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutMessage {
    Request(IdpLogoutRequest),
    Response(IdpLogoutResponse),
}

/// A message the signature check let through, with its RelayState.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedLogout {
    pub message: LogoutMessage,
    pub relay_state: Option<String>,
}

/// Why a message to the SLO URL was not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutError {
    /// Neither SAMLRequest nor SAMLResponse, or not readable.
    Malformed(String),
    Unsigned,
    SignatureAlgorithmRefused(String),
    /// No current IdP certificate verifies it.
    BadSignature,
    IssuerMismatch {
        expected: String,
        received: String,
    },
    DestinationMismatch {
        expected: String,
        received: String,
    },
    Expired {
        not_on_or_after: DateTime<Utc>,
    },
}

impl LogoutError {
    /// The diagnosis the connection's event log shows.
    pub fn diagnosis(&self) -> Diagnosis {
        use DiagnosisCode as C;
        match self {
            LogoutError::Malformed(detail) => {
                Diagnosis::new(C::InvalidSamlResponse).with_detail(detail.clone())
            }
            LogoutError::Unsigned => Diagnosis::new(C::LogoutUnsigned)
                .with_expected("A logout message signed with RSA-SHA256 or stronger")
                .with_received("No signature"),
            LogoutError::SignatureAlgorithmRefused(algorithm) => {
                Diagnosis::new(C::LogoutSignatureInvalid)
                    .with_expected("RSA-SHA256, RSA-SHA384 or RSA-SHA512")
                    .with_received(algorithm.clone())
            }
            LogoutError::BadSignature => Diagnosis::new(C::LogoutSignatureInvalid)
                .with_expected("A signature by a certificate in X.509 Certificate")
                .with_received("A signature no current certificate verifies"),
            LogoutError::IssuerMismatch { expected, received } => Diagnosis::new(C::IssuerMismatch)
                .with_expected(expected.clone())
                .with_received(received.clone()),
            LogoutError::DestinationMismatch { expected, received } => {
                Diagnosis::new(C::LogoutDestinationMismatch)
                    .with_expected(expected.clone())
                    .with_received(received.clone())
            }
            LogoutError::Expired { not_on_or_after } => Diagnosis::new(C::ResponseExpired)
                .with_expected(format!(
                    "Our clock ({}) before the request's NotOnOrAfter",
                    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
                ))
                .with_received(not_on_or_after.to_rfc3339_opts(SecondsFormat::Secs, true)),
        }
    }
}

/// Who we are and whom we expect, for one connection.
pub struct SloParties<'a> {
    pub idp: &'a PreparedSettings,
    /// Our SLO URL: the Destination the IdP must name.
    pub slo_url: &'a str,
    pub now: DateTime<Utc>,
}

/// Reads, verifies and checks a message sent to the SLO URL.
pub fn read(binding: Binding<'_>, parties: &SloParties<'_>) -> Result<ReceivedLogout, LogoutError> {
    let (xml, relay_state) = match binding {
        Binding::Redirect { query } => read_redirect(query, parties)?,
        Binding::Post { form } => read_post(form, parties)?,
    };
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(&xml, options)
        .map_err(|e| LogoutError::Malformed(format!("The message is not well-formed XML: {e}.")))?;
    let message = facts(doc.root_element())?;
    check(&message, parties)?;
    Ok(ReceivedLogout {
        message,
        relay_state,
    })
}

fn malformed(detail: &str) -> LogoutError {
    LogoutError::Malformed(detail.to_string())
}

/// HTTP-Redirect: the signature covers `SAMLRequest|SAMLResponse`,
/// `RelayState` and `SigAlg` exactly as they appear in the query (Bindings
/// §3.4.4.1), so they are taken undecoded.
fn read_redirect(
    query: &str,
    parties: &SloParties<'_>,
) -> Result<(String, Option<String>), LogoutError> {
    let raw = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    };
    let decoded = |value: &str| {
        url::form_urlencoded::parse(format!("v={value}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (param, message) = match (raw("SAMLRequest"), raw("SAMLResponse")) {
        (Some(value), None) => ("SAMLRequest", value),
        (None, Some(value)) => ("SAMLResponse", value),
        _ => {
            return Err(malformed(
                "The query must carry one SAMLRequest or SAMLResponse.",
            ))
        }
    };
    let (Some(sig_alg), Some(signature)) = (raw("SigAlg"), raw("Signature")) else {
        return Err(LogoutError::Unsigned);
    };
    let mut signed = format!("{param}={message}");
    if let Some(relay_state) = raw("RelayState") {
        signed.push_str(&format!("&RelayState={relay_state}"));
    }
    signed.push_str(&format!("&SigAlg={sig_alg}"));
    let algorithm = decoded(sig_alg);
    let digest = redirect_digest(&algorithm)
        .ok_or_else(|| LogoutError::SignatureAlgorithmRefused(algorithm.clone()))?;
    let signature = STANDARD
        .decode(decoded(signature))
        .map_err(|_| malformed("The Signature parameter is not base64."))?;
    let verified = parties.idp.current_certificates().iter().any(|der| {
        verifies(der.der_data(), digest, signed.as_bytes(), &signature).unwrap_or(false)
    });
    if !verified {
        return Err(LogoutError::BadSignature);
    }
    let deflated = STANDARD
        .decode(decoded(message))
        .map_err(|_| malformed("The message is not base64."))?;
    let mut xml = String::new();
    DeflateDecoder::new(deflated.as_slice())
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_string(&mut xml)
        .map_err(|_| malformed("The message is not deflated UTF-8 XML."))?;
    if xml.len() > MAX_MESSAGE_BYTES {
        return Err(malformed("The message is larger than 64 KB."));
    }
    Ok((xml, raw("RelayState").map(decoded)))
}

fn verifies(
    der: &[u8],
    digest: MessageDigest,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    let public = openssl::x509::X509::from_der(der)?.public_key()?;
    let mut verifier = Verifier::new(digest, &public)?;
    verifier.update(data)?;
    verifier.verify(signature)
}

/// HTTP-POST: the message carries an enveloped signature over itself, which
/// xmlsec verifies; only what the signature covers is read afterwards.
fn read_post(
    form: &[(String, String)],
    parties: &SloParties<'_>,
) -> Result<(String, Option<String>), LogoutError> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let encoded = match (field("SAMLRequest"), field("SAMLResponse")) {
        (Some(value), None) | (None, Some(value)) => value,
        _ => {
            return Err(malformed(
                "The form must carry one SAMLRequest or SAMLResponse.",
            ))
        }
    };
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.len() > MAX_MESSAGE_BYTES * 4 / 3 + 4 {
        return Err(malformed("The message is larger than 64 KB."));
    }
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| malformed("The message is not base64."))?;
    let xml = String::from_utf8(bytes).map_err(|_| malformed("The message is not UTF-8 XML."))?;
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(malformed(
            "The message contains a DOCTYPE or entity declaration, which SAML forbids.",
        ));
    }
    {
        let doc = Document::parse(&xml)
            .map_err(|e| malformed(&format!("The message is not well-formed XML: {e}.")))?;
        let root = doc.root_element();
        if child(root, DSIG_NS, "Signature").is_none() {
            return Err(LogoutError::Unsigned);
        }
        // Before xmlsec reads a signature: it would act on what it names.
        super::signature_shape::check_logout(root)
            .map_err(|d| LogoutError::Malformed(d.detail.unwrap_or_default()))?;
    }
    super::xmlsec_limits::ensure().map_err(|e| {
        malformed(&format!(
            "Signatures cannot be checked on this server: {e}."
        ))
    })?;
    let signed = samael::crypto::Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        &xml,
        parties.idp.current_certificates(),
        ReduceMode::PreDigest,
        Some(&ALLOWED_ALGORITHMS),
    )
    .map_err(|_| LogoutError::BadSignature)?;
    Ok((signed, field("RelayState").map(str::to_string)))
}

fn text(node: Node) -> Option<String> {
    node.text()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn facts(root: Node) -> Result<LogoutMessage, LogoutError> {
    let attribute = |name: &str| root.attribute(name).map(str::to_string);
    let issuer = child(root, ASSERTION_NS, "Issuer").and_then(text);
    if is(root, PROTOCOL_NS, "LogoutRequest") {
        let name_id = child(root, ASSERTION_NS, "NameID")
            .and_then(text)
            .ok_or_else(|| malformed("The LogoutRequest names no NameID."))?;
        let not_on_or_after = match root.attribute("NotOnOrAfter") {
            Some(value) => Some(
                DateTime::parse_from_rfc3339(value)
                    .map_err(|_| malformed("NotOnOrAfter is not a date and time."))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        return Ok(LogoutMessage::Request(IdpLogoutRequest {
            id: attribute("ID").ok_or_else(|| malformed("The LogoutRequest has no ID."))?,
            issuer,
            destination: attribute("Destination"),
            name_id,
            session_indexes: root
                .children()
                .filter(|n| is(*n, PROTOCOL_NS, "SessionIndex"))
                .filter_map(text)
                .collect(),
            not_on_or_after,
        }));
    }
    if is(root, PROTOCOL_NS, "LogoutResponse") {
        let code =
            child(root, PROTOCOL_NS, "Status").and_then(|s| child(s, PROTOCOL_NS, "StatusCode"));
        let status = code
            .and_then(|c| c.attribute("Value"))
            .ok_or_else(|| malformed("The LogoutResponse has no StatusCode."))?;
        return Ok(LogoutMessage::Response(IdpLogoutResponse {
            in_response_to: attribute("InResponseTo"),
            issuer,
            destination: attribute("Destination"),
            status: status.to_string(),
            sub_status: code
                .and_then(|c| child(c, PROTOCOL_NS, "StatusCode"))
                .and_then(|c| c.attribute("Value"))
                .map(str::to_string),
        }));
    }
    Err(LogoutError::Malformed(format!(
        "The document is a <{}>, not a SAML LogoutRequest or LogoutResponse.",
        root.tag_name().name()
    )))
}

fn check(message: &LogoutMessage, parties: &SloParties<'_>) -> Result<(), LogoutError> {
    let (issuer, destination) = match message {
        LogoutMessage::Request(r) => (&r.issuer, &r.destination),
        LogoutMessage::Response(r) => (&r.issuer, &r.destination),
    };
    let expected_issuer = &parties.idp.settings().idp_entity_id;
    if issuer.as_deref() != Some(expected_issuer.as_str()) {
        return Err(LogoutError::IssuerMismatch {
            expected: expected_issuer.clone(),
            received: issuer.clone().unwrap_or_else(|| "(none)".into()),
        });
    }
    // Destination is required in signed messages sent by a binding (Bindings
    // §3.4.5.2, §3.5.5.2): it keeps a message for another SP from being replayed here.
    if destination.as_deref() != Some(parties.slo_url) {
        return Err(LogoutError::DestinationMismatch {
            expected: parties.slo_url.to_string(),
            received: destination.clone().unwrap_or_else(|| "(none)".into()),
        });
    }
    if let LogoutMessage::Request(IdpLogoutRequest {
        not_on_or_after: Some(not_on_or_after),
        ..
    }) = message
    {
        if parties.now - CLOCK_SKEW >= *not_on_or_after {
            return Err(LogoutError::Expired {
                not_on_or_after: *not_on_or_after,
            });
        }
    }
    Ok(())
}

/// XML-escapes text and attribute values.
fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn instant(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The subject and session a LogoutRequest of ours names.
pub struct LogoutSubject<'a> {
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

/// Where and as whom a message of ours goes.
pub struct Outgoing<'a> {
    pub id: &'a str,
    /// The IdP's SLO URL.
    pub destination: &'a str,
    pub sp_entity_id: &'a str,
    pub relay_state: &'a str,
    pub signing_key: &'a PKey<Private>,
    pub now: DateTime<Utc>,
}

/// Our LogoutRequest, signed, by HTTP-Redirect.
pub fn request_url(outgoing: &Outgoing<'_>, subject: &LogoutSubject<'_>) -> Result<Url, String> {
    let format = subject
        .name_id_format
        .map(|f| format!(" Format=\"{}\"", escape(f)))
        .unwrap_or_default();
    let session_index = subject
        .session_index
        .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
        .unwrap_or_default();
    let xml = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\" \
         NotOnOrAfter=\"{until}\">\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <saml:NameID{format}>{name_id}</saml:NameID>{session_index}\
         </samlp:LogoutRequest>",
        id = escape(outgoing.id),
        now = instant(outgoing.now),
        until = instant(outgoing.now + Duration::minutes(10)),
        destination = escape(outgoing.destination),
        issuer = escape(outgoing.sp_entity_id),
        name_id = escape(subject.name_id),
    );
    redirect_binding_url(
        outgoing.destination,
        MessageParam::Request,
        &xml,
        outgoing.relay_state,
        Some(outgoing.signing_key),
    )
}

/// How an IdP's logout request ended here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutStatus {
    Success,
    /// Something failed on our side; the IdP should not count the logout done.
    Failed,
}

/// Our LogoutResponse to the IdP's request `in_response_to`, signed, by HTTP-Redirect.
pub fn response_url(
    outgoing: &Outgoing<'_>,
    in_response_to: &str,
    status: LogoutStatus,
) -> Result<Url, String> {
    let code = match status {
        LogoutStatus::Success => STATUS_SUCCESS,
        LogoutStatus::Failed => STATUS_RESPONDER,
    };
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{destination}\" \
         InResponseTo=\"{in_response_to}\">\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <samlp:Status><samlp:StatusCode Value=\"{code}\"/></samlp:Status>\
         </samlp:LogoutResponse>",
        id = escape(outgoing.id),
        now = instant(outgoing.now),
        destination = escape(outgoing.destination),
        in_response_to = escape(in_response_to),
        issuer = escape(outgoing.sp_entity_id),
    );
    redirect_binding_url(
        outgoing.destination,
        MessageParam::Response,
        &xml,
        outgoing.relay_state,
        Some(outgoing.signing_key),
    )
}
