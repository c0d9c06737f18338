//! Opening an `EncryptedAssertion` (XML Encryption 1.1) with one of the
//! connection's encryption keys, so that the same checks run on the assertion
//! as on a plain one.
//!
//! The result is the Response with the decrypted Assertion in the place of the
//! `EncryptedAssertion`. Decrypting proves nothing: our encryption certificate
//! is public, so anyone can encrypt an assertion for us. Only the signature
//! checked afterwards (`response.rs`) decides.
//!
//! Accepted: RSA-OAEP key transport (both URIs, any SHA-2 or SHA-1 digest and
//! MGF1), AES-GCM and AES-CBC content. Refused by name: RSA PKCS#1 v1.5 key
//! transport (Bleichenbacher's attack recovers the key from our answers) and
//! Triple DES. Every failure after the key is unwrapped (CBC padding, GCM tag,
//! a plaintext that is not one Assertion) is the same error, so our answers
//! are no padding oracle.

use super::certificate::{sha256_fingerprint, ParsedCertificate};
use super::envelope::{child, is, ASSERTION_NS, DSIG_NS, PROTOCOL_NS};
use openssl::md::{Md, MdRef};
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use roxmltree::{Document, Node, ParsingOptions};

pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";

pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const AES192_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes192-gcm";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub const AES192_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes192-cbc";
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const TRIPLE_DES_CBC: &str = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc";

/// What our metadata offers, strongest first: IdPs that read it pick from these.
pub const CONTENT_ALGORITHMS: [&str; 6] = [
    AES256_GCM, AES128_GCM, AES192_GCM, AES256_CBC, AES128_CBC, AES192_CBC,
];
pub const KEY_TRANSPORT_ALGORITHMS: [&str; 2] = [RSA_OAEP_MGF1P, RSA_OAEP];

/// At most this many `EncryptedKey`s are tried (one per recipient; IdPs send one).
const MAX_ENCRYPTED_KEYS: usize = 4;

/// One of the connection's encryption keys.
pub struct DecryptionKey {
    pub private_key: PKey<Private>,
    pub certificate: ParsedCertificate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("this connection has no encryption key")]
    NoKeys,
    #[error("the encrypted assertion is malformed: {0}")]
    Malformed(&'static str),
    #[error("key transport {0} is refused")]
    KeyTransportRefused(String),
    #[error("key transport {0} is not supported")]
    KeyTransportUnsupported(String),
    #[error("content encryption {0} is not supported")]
    ContentUnsupported(String),
    /// No key of ours unwraps the content key. `named` are the fingerprints of
    /// the certificates the IdP says it encrypted for, when it says.
    #[error("the assertion was encrypted for another key")]
    NotForOurKeys { named: Vec<String> },
    #[error("the decrypted assertion could not be read")]
    Unreadable,
}

/// Returns the Response with its one `EncryptedAssertion` replaced by the
/// decrypted Assertion.
///
/// `context` is the document as it arrived. The plaintext may use prefixes
/// declared on its ancestors there (`xsi`, say), which `response_xml` no
/// longer declares when it is the canonical form a Response signature
/// covered; the Assertion is given those declarations itself. Declarations do
/// not change what a signature over the Assertion covers (exclusive C14N).
pub fn open(
    response_xml: &str,
    keys: &[DecryptionKey],
    context: &str,
) -> Result<String, DecryptError> {
    if keys.is_empty() {
        return Err(DecryptError::NoKeys);
    }
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(response_xml, options)
        .map_err(|_| DecryptError::Malformed("not well-formed XML"))?;
    let root = doc.root_element();
    if !is(root, PROTOCOL_NS, "Response") {
        return Err(DecryptError::Malformed("not a Response"));
    }
    let encrypted_assertion = root
        .children()
        .find(|n| is(*n, ASSERTION_NS, "EncryptedAssertion"))
        .ok_or(DecryptError::Malformed(
            "no EncryptedAssertion in the Response",
        ))?;
    let data = child(encrypted_assertion, XENC_NS, "EncryptedData")
        .ok_or(DecryptError::Malformed("no EncryptedData"))?;
    let content = ContentAlgorithm::of(algorithm(data)?)?;
    let session_key = unwrap_session_key(encrypted_assertion, data, keys, content.key_len())?;
    let ciphertext = cipher_value(data)?;
    let plaintext = content
        .decrypt(&session_key, &ciphertext)
        .ok_or(DecryptError::Unreadable)?;
    let assertion = String::from_utf8(plaintext).map_err(|_| DecryptError::Unreadable)?;
    let mut scope = namespaces_at_encrypted_assertion(context)?;
    for (prefix, uri) in declared(encrypted_assertion) {
        if !scope.iter().any(|(p, _)| *p == prefix) {
            scope.push((prefix, uri));
        }
    }
    let assertion = with_declarations(&assertion, &scope).ok_or(DecryptError::Unreadable)?;
    check_single_assertion(&assertion)?;
    let range = encrypted_assertion.range();
    let mut opened = String::with_capacity(response_xml.len());
    opened.push_str(&response_xml[..range.start]);
    opened.push_str(&assertion);
    opened.push_str(&response_xml[range.end..]);
    Ok(opened)
}

fn unwrap_session_key(
    encrypted_assertion: Node,
    data: Node,
    keys: &[DecryptionKey],
    key_len: usize,
) -> Result<Vec<u8>, DecryptError> {
    let in_key_info = child(data, DSIG_NS, "KeyInfo")
        .into_iter()
        .flat_map(|info| info.children().filter(|n| is(*n, XENC_NS, "EncryptedKey")));
    let beside = encrypted_assertion
        .children()
        .filter(|n| is(*n, XENC_NS, "EncryptedKey"));
    let encrypted_keys: Vec<Node> = in_key_info.chain(beside).take(MAX_ENCRYPTED_KEYS).collect();
    if encrypted_keys.is_empty() {
        return Err(DecryptError::Malformed("no EncryptedKey"));
    }
    let mut named = Vec::new();
    for encrypted_key in encrypted_keys {
        let transport = KeyTransport::of(encrypted_key)?;
        let wrapped = cipher_value(encrypted_key)?;
        named.extend(named_certificate(encrypted_key));
        for key in keys {
            if let Some(session_key) = transport.unwrap(&key.private_key, &wrapped) {
                if session_key.len() == key_len {
                    return Ok(session_key);
                }
                return Err(DecryptError::Unreadable);
            }
        }
    }
    Err(DecryptError::NotForOurKeys { named })
}

/// RSA-OAEP with the digest and mask function the `EncryptionMethod` names.
struct KeyTransport {
    digest: &'static MdRef,
    mgf1: &'static MdRef,
}

impl KeyTransport {
    fn of(encrypted_key: Node) -> Result<Self, DecryptError> {
        let uri = algorithm(encrypted_key)?;
        let method = child(encrypted_key, XENC_NS, "EncryptionMethod")
            .ok_or(DecryptError::Malformed("no EncryptionMethod"))?;
        let digest = match child(method, DSIG_NS, "DigestMethod") {
            Some(node) => digest(node.attribute("Algorithm").unwrap_or_default())
                .ok_or_else(|| DecryptError::KeyTransportUnsupported(uri.to_string()))?,
            None => Md::sha1(),
        };
        let mgf1 = match uri {
            RSA_OAEP_MGF1P => Md::sha1(),
            RSA_OAEP => match child(method, XENC11_NS, "MGF") {
                Some(node) => mgf1(node.attribute("Algorithm").unwrap_or_default())
                    .ok_or_else(|| DecryptError::KeyTransportUnsupported(uri.to_string()))?,
                None => Md::sha1(),
            },
            RSA_1_5 => return Err(DecryptError::KeyTransportRefused(uri.to_string())),
            other => return Err(DecryptError::KeyTransportUnsupported(other.to_string())),
        };
        Ok(Self { digest, mgf1 })
    }

    fn unwrap(&self, key: &PKey<Private>, wrapped: &[u8]) -> Option<Vec<u8>> {
        let mut ctx = PkeyCtx::new(key).ok()?;
        ctx.decrypt_init().ok()?;
        ctx.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
        ctx.set_rsa_oaep_md(self.digest).ok()?;
        ctx.set_rsa_mgf1_md(self.mgf1).ok()?;
        let mut out = Vec::new();
        ctx.decrypt_to_vec(wrapped, &mut out).ok()?;
        Some(out)
    }
}

fn digest(uri: &str) -> Option<&'static MdRef> {
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => Md::sha1(),
        "http://www.w3.org/2001/04/xmldsig-more#sha224" => Md::sha224(),
        "http://www.w3.org/2001/04/xmlenc#sha256" => Md::sha256(),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Md::sha384(),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Md::sha512(),
        _ => return None,
    })
}

fn mgf1(uri: &str) -> Option<&'static MdRef> {
    Some(
        match uri.strip_prefix("http://www.w3.org/2009/xmlenc11#mgf1")? {
            "sha1" => Md::sha1(),
            "sha224" => Md::sha224(),
            "sha256" => Md::sha256(),
            "sha384" => Md::sha384(),
            "sha512" => Md::sha512(),
            _ => return None,
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentAlgorithm {
    Gcm(usize),
    Cbc(usize),
}

impl ContentAlgorithm {
    fn of(uri: &str) -> Result<Self, DecryptError> {
        Ok(match uri {
            AES128_GCM => Self::Gcm(16),
            AES192_GCM => Self::Gcm(24),
            AES256_GCM => Self::Gcm(32),
            AES128_CBC => Self::Cbc(16),
            AES192_CBC => Self::Cbc(24),
            AES256_CBC => Self::Cbc(32),
            other => return Err(DecryptError::ContentUnsupported(other.to_string())),
        })
    }

    fn key_len(self) -> usize {
        match self {
            Self::Gcm(n) | Self::Cbc(n) => n,
        }
    }

    /// `None` for any failure: the caller must not tell them apart.
    fn decrypt(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::Gcm(n) => {
                const IV: usize = 12;
                const TAG: usize = 16;
                if data.len() < IV + TAG {
                    return None;
                }
                let cipher = match n {
                    16 => Cipher::aes_128_gcm(),
                    24 => Cipher::aes_192_gcm(),
                    _ => Cipher::aes_256_gcm(),
                };
                let (iv, rest) = data.split_at(IV);
                let (body, tag) = rest.split_at(rest.len() - TAG);
                openssl::symm::decrypt_aead(cipher, key, Some(iv), &[], body, tag).ok()
            }
            Self::Cbc(n) => {
                const BLOCK: usize = 16;
                if data.len() < 2 * BLOCK || !data.len().is_multiple_of(BLOCK) {
                    return None;
                }
                let cipher = match n {
                    16 => Cipher::aes_128_cbc(),
                    24 => Cipher::aes_192_cbc(),
                    _ => Cipher::aes_256_cbc(),
                };
                let (iv, body) = data.split_at(BLOCK);
                let mut crypter = Crypter::new(cipher, Mode::Decrypt, key, Some(iv)).ok()?;
                crypter.pad(false);
                let mut out = vec![0; body.len() + BLOCK];
                let mut len = crypter.update(body, &mut out).ok()?;
                len += crypter.finalize(&mut out[len..]).ok()?;
                out.truncate(len);
                // XML Encryption's padding: the last byte counts the padding
                // bytes, whose other values are arbitrary (not PKCS#7).
                let pad = usize::from(*out.last()?);
                if pad == 0 || pad > BLOCK || pad > out.len() {
                    return None;
                }
                out.truncate(out.len() - pad);
                Some(out)
            }
        }
    }
}

/// A namespace declaration: the prefix (`None` for the default) and its URI.
type Declaration = (Option<String>, String);

fn namespaces_at_encrypted_assertion(context: &str) -> Result<Vec<Declaration>, DecryptError> {
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(context, options)
        .map_err(|_| DecryptError::Malformed("not well-formed XML"))?;
    let place = doc
        .descendants()
        .find(|n| is(*n, ASSERTION_NS, "EncryptedAssertion"))
        .ok_or(DecryptError::Malformed(
            "no EncryptedAssertion in the Response",
        ))?;
    Ok(declared(place))
}

/// The namespaces in scope at `node`.
fn declared(node: Node) -> Vec<Declaration> {
    node.namespaces()
        // `xml` is bound without a declaration and may not be declared again.
        .filter(|n| n.name() != Some("xml"))
        .map(|n| (n.name().map(str::to_string), n.uri().to_string()))
        .collect()
}

/// `text` with `scope`'s declarations added to its first start tag, except
/// those the tag makes itself.
fn with_declarations(text: &str, scope: &[Declaration]) -> Option<String> {
    let start = text.find('<')?;
    let name_end = start
        + 1
        + text[start + 1..].find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')?;
    let tag_end = start_tag_end(text, start)?;
    let tag = &text[start..tag_end];
    let mut added = String::new();
    for (prefix, uri) in scope {
        let attribute = match prefix {
            Some(prefix) => format!("xmlns:{prefix}"),
            None => "xmlns".to_string(),
        };
        let declares = tag
            .split(|c: char| c.is_ascii_whitespace())
            .any(|part| part.starts_with(&format!("{attribute}=")));
        if !declares {
            added.push_str(&format!(" {attribute}=\"{}\"", escape_attribute(uri)));
        }
    }
    Some(format!("{}{added}{}", &text[..name_end], &text[name_end..]))
}

/// Where the start tag beginning at `start` ends (after its `>`), skipping
/// quoted attribute values.
fn start_tag_end(text: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text[start..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(start + i + 1),
            _ => {}
        }
    }
    None
}

/// The decrypted text must be exactly one SAML Assertion element, so that
/// splicing it in cannot change anything around it.
fn check_single_assertion(text: &str) -> Result<(), DecryptError> {
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") || text.contains("<?xml") {
        return Err(DecryptError::Unreadable);
    }
    let wrapper = format!("<w>{text}</w>");
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc =
        Document::parse_with_options(&wrapper, options).map_err(|_| DecryptError::Unreadable)?;
    let mut children = doc
        .root_element()
        .children()
        .filter(|n| !(n.is_text() && n.text().is_some_and(|t| t.trim().is_empty())));
    match (children.next(), children.next()) {
        (Some(only), None) if is(only, ASSERTION_NS, "Assertion") => Ok(()),
        _ => Err(DecryptError::Unreadable),
    }
}

fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, DecryptError> {
    child(node, XENC_NS, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or(DecryptError::Malformed("no EncryptionMethod Algorithm"))
}

fn cipher_value(node: Node) -> Result<Vec<u8>, DecryptError> {
    let text = child(node, XENC_NS, "CipherData")
        .and_then(|d| child(d, XENC_NS, "CipherValue"))
        .and_then(|v| v.text())
        .ok_or(DecryptError::Malformed("no CipherValue"))?;
    super::decode_wrapped_base64(text).ok_or(DecryptError::Malformed("a CipherValue is not base64"))
}

/// The certificate an `EncryptedKey` says it was made for, as a fingerprint.
fn named_certificate(encrypted_key: Node) -> Option<String> {
    let text = encrypted_key
        .descendants()
        .find(|n| is(*n, DSIG_NS, "X509Certificate"))?
        .text()?;
    super::decode_wrapped_base64(text).map(|der| sha256_fingerprint(&der))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:EncryptedAssertion>X</saml:EncryptedAssertion></samlp:Response>"#;

    /// The plaintext as it would be spliced into RESPONSE, checked.
    fn check_in_place(text: &str) -> Result<(), DecryptError> {
        let scope = namespaces_at_encrypted_assertion(RESPONSE)?;
        let declared = with_declarations(text, &scope).ok_or(DecryptError::Unreadable)?;
        check_single_assertion(&declared)
    }

    #[test]
    fn only_one_assertion_element_may_be_spliced_in() {
        // The prefix is declared on the Response, as IdPs that encrypt in place do.
        let fine = r#"<saml:Assertion ID="_a"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#;
        assert_eq!(check_in_place(fine), Ok(()));
        let scope = namespaces_at_encrypted_assertion(RESPONSE).unwrap();
        let declared = with_declarations(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" a='>'>"#,
            &scope,
        )
        .unwrap();
        assert_eq!(
            declared,
            r#"<saml:Assertion xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" a='>'>"#
        );
        for bad in [
            "<saml:Assertion/><saml:Assertion/>",
            "<saml:Assertion/></saml:EncryptedAssertion><saml:Assertion>",
            "text<saml:Assertion/>",
            "<samlp:Response/>",
            "<Assertion/>",
            "<!DOCTYPE x><saml:Assertion/>",
            "<saml:Assertion><!-- c --></saml:Assertion",
            "",
        ] {
            assert_eq!(check_in_place(bad), Err(DecryptError::Unreadable), "{bad}");
        }
    }

    #[test]
    fn cbc_removes_xml_encryption_padding_and_refuses_a_bad_one() {
        let key = [7u8; 32];
        let iv = [9u8; 16];
        let encrypt = |plain: &[u8]| {
            let mut crypter =
                Crypter::new(Cipher::aes_256_cbc(), Mode::Encrypt, &key, Some(&iv)).unwrap();
            crypter.pad(false);
            let mut out = vec![0; plain.len() + 32];
            let mut n = crypter.update(plain, &mut out).unwrap();
            n += crypter.finalize(&mut out[n..]).unwrap();
            out.truncate(n);
            [iv.to_vec(), out].concat()
        };
        // 5 bytes of text, 11 bytes of padding whose last byte counts them.
        let mut padded = b"hello".to_vec();
        padded.extend([0xAA; 10]);
        padded.push(11);
        let algorithm = ContentAlgorithm::of(AES256_CBC).unwrap();
        assert_eq!(
            algorithm.decrypt(&key, &encrypt(&padded)),
            Some(b"hello".to_vec())
        );
        let mut bad = padded.clone();
        *bad.last_mut().unwrap() = 17;
        assert_eq!(algorithm.decrypt(&key, &encrypt(&bad)), None);
        assert_eq!(algorithm.decrypt(&key, &[1, 2, 3]), None);
        assert_eq!(
            ContentAlgorithm::of(AES128_GCM)
                .unwrap()
                .decrypt(&[0; 16], &[0; 20]),
            None
        );
    }

    #[test]
    fn weak_and_unknown_algorithms_are_named() {
        assert_eq!(
            ContentAlgorithm::of(TRIPLE_DES_CBC),
            Err(DecryptError::ContentUnsupported(TRIPLE_DES_CBC.into()))
        );
        let xml = format!(r#"<k xmlns="{XENC_NS}"><EncryptionMethod Algorithm="{RSA_1_5}"/></k>"#);
        let doc = Document::parse(&xml).unwrap();
        assert_eq!(
            KeyTransport::of(doc.root_element()).err(),
            Some(DecryptError::KeyTransportRefused(RSA_1_5.into()))
        );
    }
}
