//! Latchkey's own SAML key pairs: generating one (an RSA key and a
//! self-signed certificate IdPs import from our metadata), and reading a
//! stored private key back. No database here: `connections::sp_keys` stores them.

use super::certificate::{parse_pem_bundle, ParsedCertificate};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};

/// RSA 2048 is what every IdP we list accepts for both signing and encryption.
const RSA_BITS: u32 = 2048;
/// IdPs do not check an SP certificate's dates, but some refuse an expired
/// one on import; ten years outlives any connection's setup.
const VALID_DAYS: u32 = 3650;

/// What a key is for. One key per purpose, so rotating one leaves the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    Signing,
    Encryption,
}

impl KeyPurpose {
    pub const ALL: [KeyPurpose; 2] = [KeyPurpose::Signing, KeyPurpose::Encryption];

    pub fn key(self) -> &'static str {
        match self {
            KeyPurpose::Signing => "signing",
            KeyPurpose::Encryption => "encryption",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// A new key pair: the private key as PKCS#8 PEM (to be sealed before it is
/// stored) and its certificate.
pub struct GeneratedKey {
    pub private_key_pem: String,
    pub certificate: ParsedCertificate,
}

#[derive(Debug, thiserror::Error)]
pub enum SpKeyError {
    #[error("the key could not be generated: {0}")]
    Generate(#[from] openssl::error::ErrorStack),
    #[error("the generated certificate could not be read back: {0}")]
    Certificate(String),
}

/// Generates an RSA key and a self-signed certificate naming `common_name`.
/// CPU-bound (tens of milliseconds): call it off the async runtime.
pub fn generate(common_name: &str) -> Result<GeneratedKey, SpKeyError> {
    let key = PKey::from_rsa(Rsa::generate(RSA_BITS)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("O", "Latchkey")?;
    name.append_entry_by_text("CN", common_name)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    builder.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    builder.set_not_after(&*Asn1Time::days_from_now(VALID_DAYS)?)?;
    builder.sign(&key, MessageDigest::sha256())?;
    let pem = String::from_utf8(builder.build().to_pem()?)
        .map_err(|e| SpKeyError::Certificate(e.to_string()))?;
    let certificate = parse_pem_bundle(&pem)
        .map_err(|e| SpKeyError::Certificate(e.to_string()))?
        .pop()
        .ok_or_else(|| SpKeyError::Certificate("no certificate".into()))?;
    let private_key_pem = String::from_utf8(key.private_key_to_pem_pkcs8()?)
        .map_err(|e| SpKeyError::Certificate(e.to_string()))?;
    Ok(GeneratedKey {
        private_key_pem,
        certificate,
    })
}

/// Reads a private key written by [`generate`].
pub fn open_private_key(pem: &str) -> Result<PKey<Private>, openssl::error::ErrorStack> {
    PKey::private_key_from_pem(pem.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_matches_its_certificate() {
        let generated = generate("Latchkey encryption test").unwrap();
        let facts = &generated.certificate.facts;
        assert!(
            facts.subject.contains("Latchkey encryption test"),
            "{}",
            facts.subject
        );
        assert_eq!(facts.subject, facts.issuer);
        assert!(facts.not_after - facts.not_before >= 3649 * 86_400);
        let key = open_private_key(&generated.private_key_pem).unwrap();
        let certificate = X509::from_der(&generated.certificate.der).unwrap();
        assert!(certificate.public_key().unwrap().public_eq(&key));
        assert_eq!(key.bits(), RSA_BITS);
    }

    #[test]
    fn purposes_round_trip_through_their_keys() {
        for purpose in KeyPurpose::ALL {
            assert_eq!(KeyPurpose::from_key(purpose.key()), Some(purpose));
        }
        assert_eq!(KeyPurpose::from_key("other"), None);
    }
}
