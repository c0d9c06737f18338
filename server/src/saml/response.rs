//! Validating a SAML Response with `samael` and xmlsec (SPEC §6), and turning
//! every refusal into a diagnosis an admin can act on.
//!
//! Identity is read only from samael's result, which holds nothing but the
//! content a configured certificate's signature covers.

use super::certificate::{sha256_fingerprint, ParsedCertificate};
use super::decrypt::{self, DecryptError, DecryptionKey};
use super::envelope::{self, Envelope};
use chrono::{DateTime, Duration, Utc};
use samael::crypto::{AllowedSignatureAlgorithm, ReduceMode};
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::{Error as SamlError, ServiceProvider, ServiceProviderBuilder};
use shared::{Diagnosis, DiagnosisCode};

/// The most our clock and the IdP's may differ (SPEC §6).
pub const CLOCK_SKEW: Duration = Duration::seconds(120);
/// How old an assertion may be when it arrives: a slow network and a slow
/// browser, plus the skew.
pub const MAX_ISSUE_DELAY: Duration = Duration::seconds(300);

const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

/// What one connection expects of a response.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    pub sp_entity_id: String,
    pub acs_url: String,
    pub idp_entity_id: String,
    /// One, or two during a rollover.
    pub certificates: Vec<ParsedCertificate>,
    pub allow_idp_initiated: bool,
    /// Whether our AuthnRequests are signed (an IdP refusal may be about that).
    pub sign_requests: bool,
}

/// One attribute of a verified assertion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SamlAttribute {
    pub name: String,
    pub values: Vec<String>,
}

/// The signed facts of an accepted assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// The IdP's session, named again in a LogoutRequest (single logout).
    pub session_index: Option<String>,
    pub attributes: Vec<SamlAttribute>,
    pub in_response_to: Option<String>,
    /// Until when the replay cache must remember the assertion ID.
    pub remember_until: DateTime<Utc>,
}

impl VerifiedAssertion {
    /// The first value of an attribute, matched by exact name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.values.iter().map(String::as_str).find(|v| !v.is_empty()))
    }
}

/// A connection's settings made ready for verification. samael takes the IdP
/// as metadata holding the certificates that are valid now; that metadata is
/// built once per settings and reused for every response, until one of those
/// certificates expires.
pub struct PreparedSettings {
    settings: SamlSettings,
    provider: Result<ServiceProvider, Diagnosis>,
    /// The DER of the certificates counted as current.
    current: Vec<samael::crypto::CertificateDer>,
    /// The same checks without signature verification, for a decrypted
    /// assertion whose Response signature this module has already verified
    /// over the ciphertext ([`Integrity::ResponseVerified`]).
    after_verified_response: Result<ServiceProvider, Diagnosis>,
    /// The last second (Unix time) at which every certificate counted as
    /// current when this was prepared is still valid.
    current_until: i64,
}

impl PreparedSettings {
    pub fn new(settings: SamlSettings, now: DateTime<Utc>) -> Self {
        let current: Vec<&ParsedCertificate> = settings
            .certificates
            .iter()
            .filter(|c| c.facts.not_after >= now.timestamp())
            .collect();
        let current_until = current
            .iter()
            .map(|c| c.facts.not_after)
            .min()
            .unwrap_or(i64::MAX);
        let provider = service_provider(&settings, &current, IdpKeys::Check);
        let after_verified_response = service_provider(&settings, &[], IdpKeys::AlreadyVerified);
        let current = current
            .iter()
            .map(|c| samael::crypto::CertificateDer::from(c.der.clone()))
            .collect();
        Self {
            settings,
            provider,
            current,
            after_verified_response,
            current_until,
        }
    }

    pub fn settings(&self) -> &SamlSettings {
        &self.settings
    }

    /// The DER of the IdP certificates valid when this was prepared.
    pub fn current_certificates(&self) -> &[samael::crypto::CertificateDer] {
        &self.current
    }

    /// Whether the certificates split into current and expired as they did
    /// when this was prepared.
    pub fn holds_at(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() <= self.current_until
    }
}

/// Whose signature vouches for the assertion's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Integrity {
    /// samael verifies the Response's or the Assertion's signature.
    Check,
    /// The Response's signature was verified over the encrypted assertion
    /// before decryption, and the document is what that signature covered.
    ResponseVerified,
}

/// Validates a decoded response already inspected by [`envelope::inspect`].
/// `request_id` is the pending request the response claims to answer, when
/// Latchkey knows it; `keys` open an encrypted assertion.
pub fn verify(
    prepared: &PreparedSettings,
    xml: &str,
    envelope: &Envelope,
    request_id: Option<&str>,
    now: DateTime<Utc>,
    keys: &[DecryptionKey],
) -> Result<VerifiedAssertion, Diagnosis> {
    if !envelope.is_success() {
        return Err(idp_error(envelope, prepared.settings.sign_requests));
    }
    // Never let xmlsec read a message before its limits are in place.
    super::xmlsec_limits::ensure().map_err(|e| {
        Diagnosis::new(DiagnosisCode::InvalidSamlResponse)
            .with_detail(format!("Signatures cannot be checked on this server: {e}."))
    })?;
    let settings = &prepared.settings;
    if settings.certificates.is_empty() {
        return Err(Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
            .with_detail("The connection has no IdP signing certificate."));
    }
    let rebuilt;
    let prepared = if prepared.holds_at(now) {
        prepared
    } else {
        rebuilt = PreparedSettings::new(settings.clone(), now);
        &rebuilt
    };
    if envelope.encrypted {
        let (xml, envelope, integrity) = open_encrypted(prepared, xml, envelope, keys, now)?;
        return verify_signed(prepared, &xml, &envelope, request_id, now, integrity);
    }
    verify_signed(prepared, xml, envelope, request_id, now, Integrity::Check)
}

fn expired_certificates(settings: &SamlSettings, now: DateTime<Utc>) -> Vec<&ParsedCertificate> {
    settings
        .certificates
        .iter()
        .filter(|c| c.facts.not_after < now.timestamp())
        .collect()
}

/// Decrypts the assertion. When the Response is signed, its signature is
/// verified over the ciphertext first and only what it covers is decrypted:
/// nothing the IdP did not sign reaches the decryption.
fn open_encrypted(
    prepared: &PreparedSettings,
    xml: &str,
    envelope: &Envelope,
    keys: &[DecryptionKey],
    now: DateTime<Utc>,
) -> Result<(String, Envelope, Integrity), Diagnosis> {
    use samael::crypto::CryptoProvider;
    let settings = &prepared.settings;
    let (source, integrity) = if envelope.response_signed {
        match samael::crypto::Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            &prepared.current,
            ReduceMode::PreDigest,
            Some(&ALLOWED_ALGORITHMS),
        ) {
            Ok(signed) => (signed, Integrity::ResponseVerified),
            Err(_) => {
                let expired = expired_certificates(settings, now);
                return Err(signature_failure(settings, xml, envelope, &expired));
            }
        }
    } else {
        (xml.to_string(), Integrity::Check)
    };
    let opened = decrypt::open(&source, keys, xml).map_err(|e| undecryptable(e, keys))?;
    let mut inner = envelope::inspect(&opened)?;
    inner.encrypted = true;
    Ok((opened, inner, integrity))
}

/// The diagnosis for an assertion that could not be decrypted.
fn undecryptable(error: DecryptError, keys: &[DecryptionKey]) -> Diagnosis {
    use DiagnosisCode as C;
    let ours = || {
        keys.iter()
            .map(|k| k.certificate.facts.sha256_fingerprint.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let accepted = "AES-GCM or AES-CBC content, RSA-OAEP key transport";
    match error {
        DecryptError::NoKeys => Diagnosis::new(C::AssertionUndecryptable)
            .with_expected("An encryption key on this connection")
            .with_received("(none)"),
        DecryptError::KeyTransportRefused(uri) => Diagnosis::new(C::EncryptionAlgorithmRefused)
            .with_expected(accepted)
            .with_received(uri)
            .with_detail("RSA PKCS#1 v1.5 key transport is refused: answers to forged messages can reveal the key (Bleichenbacher's attack)."),
        DecryptError::KeyTransportUnsupported(uri) | DecryptError::ContentUnsupported(uri) => {
            Diagnosis::new(C::EncryptionAlgorithmRefused)
                .with_expected(accepted)
                .with_received(uri)
        }
        DecryptError::NotForOurKeys { named } => Diagnosis::new(C::AssertionUndecryptable)
            .with_expected(format!("Encrypted for {}", ours()))
            .with_received(if named.is_empty() {
                "Encrypted for a key the response does not name".to_string()
            } else {
                format!("Encrypted for {}", named.join(", "))
            }),
        DecryptError::Malformed(what) => Diagnosis::new(C::InvalidSamlResponse)
            .with_detail(format!("The encrypted assertion cannot be read: {what}.")),
        // One answer for a bad padding, a bad tag and a bad plaintext.
        DecryptError::Unreadable => Diagnosis::new(C::InvalidSamlResponse).with_detail(
            "The encrypted assertion does not decrypt to one SAML assertion.",
        ),
    }
}

fn verify_signed(
    prepared: &PreparedSettings,
    xml: &str,
    envelope: &Envelope,
    request_id: Option<&str>,
    now: DateTime<Utc>,
    integrity: Integrity,
) -> Result<VerifiedAssertion, Diagnosis> {
    let settings = &prepared.settings;
    // The decrypted document is checked again: its Destination too.
    check_destination(settings, envelope)?;
    let expired = expired_certificates(settings, now);
    let provider = match integrity {
        Integrity::Check => &prepared.provider,
        Integrity::ResponseVerified => &prepared.after_verified_response,
    };
    let provider = provider.as_ref().map_err(Clone::clone)?;
    let ids: Vec<&str> = request_id.into_iter().collect();
    // PreDigest keeps exactly the bytes xmlsec digested: the strictest reduction,
    // and 1.7x faster than rebuilding a pruned tree (see benches/acs.rs).
    let assertion =
        match provider.parse_xml_response_with_mode(xml, Some(&ids), ReduceMode::PreDigest) {
            Ok(assertion) => assertion,
            Err(SamlError::FailedToValidateSignature) => {
                return Err(signature_failure(settings, xml, envelope, &expired))
            }
            Err(error) => return Err(explain(settings, envelope, error, now)),
        };
    let verified = verified_assertion(assertion, now);
    // With IdP-initiated sign-in allowed samael skips InResponseTo; a response
    // that names a request must still name the one we know.
    if let Some(received) = &verified.in_response_to {
        if request_id != Some(received.as_str()) {
            return Err(Diagnosis::new(DiagnosisCode::InResponseToUnknown)
                .with_expected(
                    request_id
                        .unwrap_or("A sign-in request Latchkey sent")
                        .to_string(),
                )
                .with_received(received.clone()));
        }
    }
    Ok(verified)
}

/// The second-level codes an IdP answers an unsigned request with when it
/// requires signed ones (SAML Core §3.2.2.2).
const REFUSED_REQUEST: [&str; 3] = ["RequestDenied", "RequestUnsupported", "Requester"];

fn idp_error(envelope: &Envelope, sign_requests: bool) -> Diagnosis {
    let status = envelope.status.clone().unwrap_or_default();
    let mut said = Vec::new();
    if let Some(message) = &envelope.status_message {
        said.push(format!("The identity provider said: {message}"));
    }
    let about_the_request = REFUSED_REQUEST
        .iter()
        .any(|code| status.ends_with(&format!(":{code}")));
    if about_the_request && !sign_requests {
        said.push(
            "It refused the sign-in request itself. If it requires signed requests, turn on Sign AuthnRequests on this connection and give it the Signing certificate (or have it import Latchkey's SAML metadata again).".to_string(),
        );
    }
    let diagnosis = Diagnosis::new(DiagnosisCode::IdpErrorStatus)
        .with_expected(envelope::STATUS_SUCCESS)
        .with_received(status);
    if said.is_empty() {
        diagnosis
    } else {
        diagnosis.with_detail(said.join(" "))
    }
}

/// The Destination is outside the assertion, so samael checks it only when the
/// Response itself is signed. A wrong one is refused either way.
fn check_destination(settings: &SamlSettings, envelope: &Envelope) -> Result<(), Diagnosis> {
    match &envelope.destination {
        Some(destination) if destination != &settings.acs_url => {
            Err(Diagnosis::new(DiagnosisCode::AcsUrlMismatch)
                .with_expected(settings.acs_url.clone())
                .with_received(destination.clone())
                .with_detail("The response's Destination is not this connection's ACS URL."))
        }
        _ => Ok(()),
    }
}

pub(super) const ALLOWED_ALGORITHMS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Whether samael is given the IdP's certificates to verify signatures with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdpKeys {
    Check,
    /// No certificates, so samael verifies no signature: only for a document
    /// whose signature was verified here ([`Integrity::ResponseVerified`]).
    AlreadyVerified,
}

fn service_provider(
    settings: &SamlSettings,
    certificates: &[&ParsedCertificate],
    keys: IdpKeys,
) -> Result<ServiceProvider, Diagnosis> {
    let metadata = idp_metadata(&settings.idp_entity_id, certificates, keys)?;
    ServiceProviderBuilder::default()
        .entity_id(settings.sp_entity_id.clone())
        .metadata_url(settings.sp_entity_id.clone())
        .acs_url(settings.acs_url.clone())
        .slo_url(None::<String>)
        .idp_metadata(metadata)
        .allow_idp_initiated(settings.allow_idp_initiated)
        .max_clock_skew(CLOCK_SKEW)
        .max_issue_delay(MAX_ISSUE_DELAY)
        .allowed_signature_algorithms(Some(ALLOWED_ALGORITHMS.to_vec()))
        .build()
        .map_err(|e| {
            Diagnosis::new(DiagnosisCode::ConnectionNotConfigured).with_detail(e.to_string())
        })
}

/// samael takes the IdP's keys as metadata. Without a certificate it would skip
/// signature checks altogether, so an empty list never gets this far unless
/// every certificate expired (then verification fails and is explained).
fn idp_metadata(
    entity_id: &str,
    certificates: &[&ParsedCertificate],
    idp_keys: IdpKeys,
) -> Result<EntityDescriptor, Diagnosis> {
    use base64::Engine;
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                base64::engine::general_purpose::STANDARD.encode(&c.der)
            )
        })
        .collect();
    // A certificate nobody holds keeps verification on when every real one expired.
    let keys = if keys.is_empty() && idp_keys == IdpKeys::Check {
        "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>".to_string()
    } else {
        keys
    };
    let xml = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{}\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}</md:IDPSSODescriptor></md:EntityDescriptor>",
        xml_escape(entity_id)
    );
    xml.parse::<EntityDescriptor>().map_err(|e| {
        Diagnosis::new(DiagnosisCode::ConnectionNotConfigured).with_detail(e.to_string())
    })
}

fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Why no configured certificate verified the signature.
fn signature_failure(
    settings: &SamlSettings,
    xml: &str,
    envelope: &Envelope,
    expired: &[&ParsedCertificate],
) -> Diagnosis {
    let configured = settings
        .certificates
        .iter()
        .map(|c| c.facts.sha256_fingerprint.clone())
        .collect::<Vec<_>>()
        .join(", ");
    if !envelope.signed {
        return Diagnosis::new(DiagnosisCode::InvalidSamlResponse)
            .with_expected("A signature on the Response or the Assertion")
            .with_received("No signature")
            .with_detail("Neither the Response nor the Assertion is signed. Turn on assertion signing in your identity provider.");
    }
    if envelope.signature_methods.iter().any(|m| m == RSA_SHA1) {
        return Diagnosis::new(DiagnosisCode::InvalidSamlResponse)
            .with_expected("RSA-SHA256 (or stronger)")
            .with_received("RSA-SHA1")
            .with_detail("The response is signed with SHA-1, which is no longer accepted. Set the signature algorithm to SHA-256 in your identity provider.");
    }
    // Decoded only here: a verification that failed is the one reader.
    let embedded = envelope.embedded_certificates();
    if let Some(cert) = expired_signer(xml, &embedded, expired) {
        let until = DateTime::from_timestamp(cert.facts.not_after, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        return Diagnosis::new(DiagnosisCode::CertificateExpired)
            .with_expected("A signing certificate that is valid today")
            .with_received(format!("{} (expired {until})", cert.facts.sha256_fingerprint))
            .with_detail("The identity provider signed with a certificate that has expired. Rotate the signing certificate in your identity provider, then paste the new one here.");
    }
    let embedded: Vec<String> = embedded.iter().map(|der| sha256_fingerprint(der)).collect();
    let known = |fingerprint: &String| {
        settings
            .certificates
            .iter()
            .any(|c| &c.facts.sha256_fingerprint == fingerprint)
    };
    if !embedded.is_empty() && !embedded.iter().any(known) {
        return Diagnosis::new(DiagnosisCode::CertificateMismatch)
            .with_expected(configured)
            .with_received(embedded.join(", "))
            .with_detail("The response was signed with a certificate that is not configured on this connection.");
    }
    Diagnosis::new(DiagnosisCode::InvalidSamlResponse)
        .with_expected(format!("A valid signature by {configured}"))
        .with_received("A signature that does not match the signed content")
        .with_detail("The signature does not verify: the response was changed after it was signed, or it was signed by another key.")
}

/// The expired configured certificate that signed the response, if any.
fn expired_signer<'a>(
    xml: &str,
    embedded: &[Vec<u8>],
    expired: &[&'a ParsedCertificate],
) -> Option<&'a ParsedCertificate> {
    if let Some(cert) = expired
        .iter()
        .find(|c| embedded.iter().any(|der| der == &c.der))
    {
        return Some(cert);
    }
    // No certificate in the document: try each expired one for a clear message.
    expired.iter().copied().find(|cert| {
        let der = samael::crypto::CertificateDer::from(cert.der.clone());
        use samael::crypto::CryptoProvider;
        samael::crypto::Crypto::reduce_xml_to_signed(xml, &[der], Default::default()).is_ok()
    })
}

fn explain(
    settings: &SamlSettings,
    envelope: &Envelope,
    error: SamlError,
    now: DateTime<Utc>,
) -> Diagnosis {
    use DiagnosisCode as C;
    match error {
        SamlError::DestinationValidationError {
            response_destination,
            ..
        } => Diagnosis::new(C::AcsUrlMismatch)
            .with_expected(settings.acs_url.clone())
            .with_received(response_destination.unwrap_or_else(|| "(none)".into())),
        SamlError::AssertionRecipientMismatch {
            assertion_recipient,
            ..
        } => Diagnosis::new(C::AcsUrlMismatch)
            .with_expected(settings.acs_url.clone())
            .with_received(assertion_recipient.unwrap_or_else(|| "(none)".into()))
            .with_detail("The assertion's Recipient is not this connection's ACS URL."),
        SamlError::AssertionIssuerMismatch { issuer, .. }
        | SamlError::ResponseIssuerMismatch { issuer, .. } => Diagnosis::new(C::IssuerMismatch)
            .with_expected(settings.idp_entity_id.clone())
            .with_received(issuer.unwrap_or_else(|| "(none)".into())),
        SamlError::AssertionConditionAudienceRestrictionFailed { .. } => {
            Diagnosis::new(C::AudienceMismatch)
                .with_expected(settings.sp_entity_id.clone())
                .with_received(if envelope.audiences.is_empty() {
                    "(none)".to_string()
                } else {
                    envelope.audiences.join(", ")
                })
        }
        SamlError::AssertionExpired { .. }
        | SamlError::ResponseExpired { .. }
        | SamlError::AssertionConditionExpired { .. }
        | SamlError::AssertionSubjectConfirmationExpired { .. }
        | SamlError::AssertionConditionExpiredBefore { .. }
        | SamlError::AssertionSubjectConfirmationExpiredBefore { .. } => {
            expired_diagnosis(envelope, now)
        }
        SamlError::AssertionInResponseToInvalid { .. }
        | SamlError::ResponseInResponseToInvalid { .. } => match &envelope.in_response_to {
            None => Diagnosis::new(C::IdpInitiatedNotAllowed)
                .with_expected("A response to a sign-in started by Latchkey")
                .with_received("An unsolicited (IdP-initiated) response"),
            Some(id) => Diagnosis::new(C::InResponseToUnknown)
                .with_expected("The ID of a sign-in request Latchkey sent in the last 10 minutes")
                .with_received(id.clone()),
        },
        SamlError::ResponseBadStatusCode { code } => Diagnosis::new(C::IdpErrorStatus)
            .with_expected(envelope::STATUS_SUCCESS)
            .with_received(code),
        other => Diagnosis::new(C::InvalidSamlResponse).with_detail(other.to_string()),
    }
}

/// Says how far outside the validity window our clock was.
fn expired_diagnosis(envelope: &Envelope, now: DateTime<Utc>) -> Diagnosis {
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let window = match (envelope.not_before, envelope.not_on_or_after) {
        (Some(from), Some(to)) => format!("{} to {}", fmt(from), fmt(to)),
        (None, Some(to)) => format!("until {}", fmt(to)),
        (Some(from), None) => format!("from {}", fmt(from)),
        (None, None) => envelope
            .issue_instant
            .map(|t| format!("issued {}", fmt(t)))
            .unwrap_or_else(|| "(no validity window)".into()),
    };
    let difference = match (envelope.not_before, envelope.not_on_or_after) {
        (Some(from), _) if now < from => Some(format!(
            "The assertion becomes valid {} s after our clock's time ({}): the identity provider's clock is ahead, or ours is behind.",
            (from - now).num_seconds(),
            fmt(now)
        )),
        (_, Some(to)) if now >= to => Some(format!(
            "The assertion expired {} s before it arrived (our clock: {}).",
            (now - to).num_seconds(),
            fmt(now)
        )),
        _ => envelope.issue_instant.map(|issued| {
            format!(
                "The assertion was issued {} s before it arrived (our clock: {}); at most {} s are accepted.",
                (now - issued).num_seconds(),
                fmt(now),
                MAX_ISSUE_DELAY.num_seconds()
            )
        }),
    };
    let mut diagnosis = Diagnosis::new(DiagnosisCode::ResponseExpired)
        .with_expected(format!(
            "Our clock ({}) inside the assertion's validity window, ±{} s",
            fmt(now),
            CLOCK_SKEW.num_seconds()
        ))
        .with_received(window);
    if let Some(difference) = difference {
        diagnosis = diagnosis.with_detail(difference);
    }
    diagnosis
}

fn verified_assertion(assertion: Assertion, now: DateTime<Utc>) -> VerifiedAssertion {
    let subject = assertion.subject.as_ref();
    let name_id = subject.and_then(|s| s.name_id.as_ref());
    let confirmation = subject
        .and_then(|s| s.subject_confirmations.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.subject_confirmation_data.as_ref());
    let attributes = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|statement| statement.attributes.iter())
        .filter_map(|attribute| {
            Some(SamlAttribute {
                name: attribute.name.clone()?,
                values: attribute
                    .values
                    .iter()
                    .filter_map(|v| v.value.as_ref().map(|s| s.trim().to_string()))
                    .collect(),
            })
        })
        .collect();
    let not_on_or_after = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after)
        .or_else(|| confirmation.and_then(|c| c.not_on_or_after));
    VerifiedAssertion {
        assertion_id: assertion.id.clone(),
        name_id: name_id
            .map(|n| n.value.trim().to_string())
            .unwrap_or_default(),
        name_id_format: name_id.and_then(|n| n.format.clone()),
        session_index: assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|statement| statement.session_index.clone()),
        attributes,
        in_response_to: confirmation.and_then(|c| c.in_response_to.clone()),
        remember_until: not_on_or_after.unwrap_or(now + MAX_ISSUE_DELAY) + CLOCK_SKEW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::certificate::parse_pem_bundle;

    /// A rollover: the certificate valid now expires in a minute, the other
    /// one already has. The prepared split holds until that minute is up.
    #[test]
    fn prepared_settings_hold_until_a_current_certificate_expires() {
        let now = Utc::now();
        let pem = concat!(
            include_str!("../../tests/fixtures/saml/keys/idp.crt"),
            include_str!("../../tests/fixtures/saml/keys/expired.crt")
        );
        let mut certificates = parse_pem_bundle(pem).unwrap();
        certificates[0].facts.not_after = now.timestamp() + 60;
        certificates[1].facts.not_after = now.timestamp() - 60;
        let prepared = PreparedSettings::new(
            SamlSettings {
                sp_entity_id: "https://sso.example.com/sp".into(),
                acs_url: "https://sso.example.com/acs".into(),
                idp_entity_id: "https://idp.example.com".into(),
                certificates,
                allow_idp_initiated: false,
                sign_requests: false,
            },
            now,
        );
        assert!(prepared.provider.is_ok());
        assert_eq!(
            [0, 60, 61].map(|s| prepared.holds_at(now + Duration::seconds(s))),
            [true, true, false]
        );
    }

    #[test]
    fn a_refused_request_suggests_signing_only_when_requests_are_not_signed() {
        let envelope = Envelope {
            status: Some("urn:oasis:names:tc:SAML:2.0:status:Requester / urn:oasis:names:tc:SAML:2.0:status:RequestDenied".into()),
            status_message: Some("Signature required".into()),
            ..Envelope::default()
        };
        let unsigned = idp_error(&envelope, false);
        assert_eq!(unsigned.code, DiagnosisCode::IdpErrorStatus);
        let detail = unsigned.detail.unwrap();
        assert!(
            detail.starts_with("The identity provider said: Signature required"),
            "{detail}"
        );
        assert!(detail.contains("turn on Sign AuthnRequests"), "{detail}");
        let signed = idp_error(&envelope, true);
        assert_eq!(
            signed.detail.as_deref(),
            Some("The identity provider said: Signature required")
        );
        let other = Envelope {
            status: Some("urn:oasis:names:tc:SAML:2.0:status:Responder / urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into()),
            ..Envelope::default()
        };
        assert_eq!(idp_error(&other, false).detail, None);
    }
}
