//! Reading the IdP's public signing certificate(s) that an admin pastes, or
//! that an IdP's metadata carries.
//!
//! [`parse_pem_bundle`] accepts one certificate, or two during a signing-key
//! rollover, as PEM `-----BEGIN CERTIFICATE-----` blocks. Everything else is
//! refused with a [`CertificateError`] whose message tells the admin what to
//! paste instead.

use std::fmt::Write as _;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// How many certificates a connection keeps at once: the current one and,
/// during a rollover, the next one.
pub const MAX_CERTIFICATES: usize = 2;

/// The largest PEM text accepted, in bytes. Two RSA 4096 certificates with
/// long subjects stay far below it.
pub const MAX_PEM_BYTES: usize = 64 * 1024;

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";
const PEM_LINE_WIDTH: usize = 64;

/// Decodes with or without `=` padding; some tools drop it.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The facts read from one X.509 certificate (the doctor checks them).
pub use shared::doctor::CertificateFacts;

/// One certificate that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCertificate {
    /// The certificate re-encoded as PEM: a BEGIN line, base64 in 64-character
    /// lines, an END line, each ended by `\n`.
    pub pem: String,
    /// The DER bytes.
    pub der: Vec<u8>,
    pub facts: CertificateFacts,
}

/// Why pasted certificate text was refused. [`CertificateError::code`] is
/// stable; the `Display` text is written for the admin.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertificateError {
    #[error("No certificate was provided. Paste your identity provider's signing certificate, including the -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- lines.")]
    Missing,

    #[error("The certificate text is too large ({size} bytes; at most {max} are accepted). Paste only your identity provider's signing certificate.")]
    TooLarge { size: usize, max: usize },

    #[error("This is a private key ({label}), not a certificate, and Latchkey did not save it. Paste your identity provider's public signing certificate instead: it starts with -----BEGIN CERTIFICATE-----. Keep the private key secret.")]
    PrivateKeyPasted { label: String },

    #[error("Too many certificates: found {count}, but at most {max} are accepted (the current signing certificate and, during a rollover, the next one).")]
    TooMany { count: usize, max: usize },

    #[error("{}", not_a_certificate_message(label))]
    NotACertificate { label: String },

    #[error("This does not look like a certificate. Paste your identity provider's signing certificate in PEM format: it starts with -----BEGIN CERTIFICATE----- and ends with -----END CERTIFICATE-----.")]
    NotPem,

    #[error("This looks like a certificate without its -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- lines. Paste the whole certificate, including those two lines.")]
    MissingPemMarkers,

    #[error("Line {line} has text outside the certificate. Paste only the -----BEGIN CERTIFICATE----- … -----END CERTIFICATE----- block(s), with nothing before, between or after them.")]
    TextOutsideCertificate { line: usize },

    #[error("{} is incomplete: {reason}. Copy the whole certificate again, from -----BEGIN CERTIFICATE----- through -----END CERTIFICATE-----.", ordinal_certificate(*index))]
    Unterminated { index: usize, reason: String },

    #[error("{} is damaged: its contents are not valid base64. Copy the certificate again without changing it.", ordinal_certificate(*index))]
    BadBase64 { index: usize },

    #[error("{} could not be read as an X.509 certificate ({detail}). Copy the certificate again without changing it, or download it again from your identity provider.", ordinal_certificate(*index))]
    BadDer { index: usize, detail: String },
}

impl CertificateError {
    /// A stable key for tests, styling and telemetry.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateError::Missing => "certificate_missing",
            CertificateError::TooLarge { .. } => "certificate_too_large",
            CertificateError::PrivateKeyPasted { .. } => "private_key_pasted",
            CertificateError::TooMany { .. } => "too_many_certificates",
            CertificateError::NotACertificate { .. } | CertificateError::NotPem => {
                "not_a_certificate"
            }
            CertificateError::MissingPemMarkers => "missing_pem_markers",
            CertificateError::TextOutsideCertificate { .. } => "text_outside_certificate",
            CertificateError::Unterminated { .. }
            | CertificateError::BadBase64 { .. }
            | CertificateError::BadDer { .. } => "certificate_malformed",
        }
    }
}

fn ordinal_certificate(index: usize) -> String {
    match index {
        0 => "The certificate".to_string(),
        1 => "The second certificate".to_string(),
        n => format!("Certificate {}", n + 1),
    }
}

fn not_a_certificate_message(label: &str) -> String {
    let hint = match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => "This is a public key on its own, not a certificate.",
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
            "This is a certificate signing request (CSR), not a certificate."
        }
        "PKCS7" | "CMS" => "This is a PKCS #7 bundle, not a single certificate.",
        "X509 CRL" => "This is a certificate revocation list, not a certificate.",
        "TRUSTED CERTIFICATE" => {
            "This is an OpenSSL trusted certificate, which carries extra data."
        }
        _ => "This is not a certificate.",
    };
    format!(
        "{hint} It starts with -----BEGIN {label}-----, but a certificate starts with -----BEGIN CERTIFICATE-----. Paste your identity provider's signing certificate."
    )
}

/// One `-----BEGIN X----- … -----END X-----` block found in the text.
struct PemBlock<'a> {
    label: &'a str,
    body: &'a str,
}

/// Parses one or two PEM certificates.
///
/// Whitespace anywhere (blank lines, CRLF, indentation, a block pasted on one
/// line) is tolerated; any other text before, between or after the blocks is
/// refused. A certificate pasted twice is kept once.
pub fn parse_pem_bundle(text: &str) -> Result<Vec<ParsedCertificate>, CertificateError> {
    if text.len() > MAX_PEM_BYTES {
        return Err(CertificateError::TooLarge {
            size: text.len(),
            max: MAX_PEM_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(CertificateError::Missing);
    }
    // A private key anywhere wins over every other complaint: it is the one
    // mistake the admin must hear about.
    if let Some(label) = find_private_key_label(text) {
        return Err(CertificateError::PrivateKeyPasted { label });
    }
    if !text.contains(BEGIN) {
        return Err(if looks_like_bare_base64(text) {
            CertificateError::MissingPemMarkers
        } else {
            CertificateError::NotPem
        });
    }

    let blocks = split_pem_blocks(text)?;
    if let Some(block) = blocks.iter().find(|b| !is_certificate_label(b.label)) {
        return Err(CertificateError::NotACertificate {
            label: block.label.to_string(),
        });
    }
    if blocks.len() > MAX_CERTIFICATES {
        return Err(CertificateError::TooMany {
            count: blocks.len(),
            max: MAX_CERTIFICATES,
        });
    }

    let mut certificates: Vec<ParsedCertificate> = Vec::with_capacity(blocks.len());
    for (index, block) in blocks.iter().enumerate() {
        let parsed = parse_block(index, block.body)?;
        if !certificates.iter().any(|c| c.der == parsed.der) {
            certificates.push(parsed);
        }
    }
    Ok(certificates)
}

/// Wraps a bare base64 certificate body (as SAML metadata's
/// `ds:X509Certificate` holds it) in PEM BEGIN/END lines, removing all
/// whitespace and breaking the body into 64-character lines. It does not
/// check the contents: pass the result to [`parse_pem_bundle`].
pub fn wrap_base64_as_pem(b64: &str) -> String {
    let body: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    pem_from_body("CERTIFICATE", &body)
}

/// The SHA-256 fingerprint of DER bytes as uppercase hex pairs joined by `:`.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

fn pem_from_body(label: &str, body: &str) -> String {
    let mut pem = String::with_capacity(body.len() + body.len() / PEM_LINE_WIDTH + 64);
    let _ = writeln!(pem, "{BEGIN}{label}{DASHES}");
    // The body is ASCII when it came from base64; chunk by chars so that
    // anything else cannot split a code point.
    let chars: Vec<char> = body.chars().collect();
    for line in chars.chunks(PEM_LINE_WIDTH) {
        pem.extend(line);
        pem.push('\n');
    }
    let _ = writeln!(pem, "{END}{label}{DASHES}");
    pem
}

fn is_certificate_label(label: &str) -> bool {
    matches!(label, "CERTIFICATE" | "X509 CERTIFICATE")
}

/// The label of the first `-----BEGIN … PRIVATE KEY-----` line, if any.
fn find_private_key_label(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let label = after
            .split(DASHES)
            .next()
            .and_then(|l| l.lines().next())
            .unwrap_or("")
            .trim();
        if label.contains("PRIVATE KEY") {
            return Some(label.to_string());
        }
        rest = after;
    }
    // PuTTY's format carries no BEGIN line.
    if text.trim_start().starts_with("PuTTY-User-Key-File") {
        return Some("PuTTY private key".to_string());
    }
    None
}

fn looks_like_bare_base64(text: &str) -> bool {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    // A real certificate is hundreds of characters; a short word is not one.
    compact.len() >= 64
        && compact
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// 1-based line number of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Fails with the line of the first non-whitespace character in
/// `text[from..to]`, if there is one.
fn ensure_only_whitespace(text: &str, from: usize, to: usize) -> Result<(), CertificateError> {
    match text[from..to].find(|c: char| !c.is_whitespace()) {
        Some(offset) => Err(CertificateError::TextOutsideCertificate {
            line: line_of(text, from + offset),
        }),
        None => Ok(()),
    }
}

fn split_pem_blocks(text: &str) -> Result<Vec<PemBlock<'_>>, CertificateError> {
    let mut blocks = Vec::new();
    let mut pos = 0;
    while let Some(found) = text[pos..].find(BEGIN) {
        let begin_at = pos + found;
        ensure_only_whitespace(text, pos, begin_at)?;
        let index = blocks.len();
        let label_start = begin_at + BEGIN.len();
        let label_len =
            text[label_start..]
                .find(DASHES)
                .ok_or_else(|| CertificateError::Unterminated {
                    index,
                    reason: "the BEGIN line is cut off".to_string(),
                })?;
        let label = &text[label_start..label_start + label_len];
        if label.contains('\n') || label.trim() != label || label.is_empty() {
            return Err(CertificateError::Unterminated {
                index,
                reason: "the BEGIN line is cut off".to_string(),
            });
        }
        let body_start = label_start + label_len + DASHES.len();
        let end_found =
            text[body_start..]
                .find(END)
                .ok_or_else(|| CertificateError::Unterminated {
                    index,
                    reason: "the -----END CERTIFICATE----- line is missing".to_string(),
                })?;
        let end_at = body_start + end_found;
        let body = &text[body_start..end_at];
        if body.contains(BEGIN) {
            return Err(CertificateError::Unterminated {
                index,
                reason: "the -----END CERTIFICATE----- line is missing".to_string(),
            });
        }
        let end_label_start = end_at + END.len();
        let end_marker = format!("{label}{DASHES}");
        if !text[end_label_start..].starts_with(&end_marker) {
            return Err(CertificateError::Unterminated {
                index,
                reason: format!("the END line does not match -----BEGIN {label}-----"),
            });
        }
        blocks.push(PemBlock { label, body });
        pos = end_label_start + end_marker.len();
    }
    ensure_only_whitespace(text, pos, text.len())?;
    Ok(blocks)
}

fn parse_block(index: usize, body: &str) -> Result<ParsedCertificate, CertificateError> {
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(CertificateError::Unterminated {
            index,
            reason: "there is nothing between the BEGIN and END lines".to_string(),
        });
    }
    // RFC 1421 headers (`Proc-Type:` …) are never part of a certificate and
    // fail base64 decoding here, as they should.
    let der = LENIENT_BASE64
        .decode(compact.as_bytes())
        .map_err(|_| CertificateError::BadBase64 { index })?;
    let facts = read_facts(&der).map_err(|detail| CertificateError::BadDer { index, detail })?;
    let pem = pem_from_body("CERTIFICATE", &STANDARD.encode(&der));
    Ok(ParsedCertificate { pem, der, facts })
}

fn read_facts(der: &[u8]) -> Result<CertificateFacts, String> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| match e {
        x509_parser::nom::Err::Incomplete(_) => "the data ends too early".to_string(),
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(format!(
            "{} unexpected bytes follow the certificate",
            rest.len()
        ));
    }
    let validity = cert.validity();
    Ok(CertificateFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sha256_fingerprint: sha256_fingerprint(der),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_uppercase_hex_pairs() {
        // SHA-256 of the empty input.
        assert_eq!(
            sha256_fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }

    #[test]
    fn wrap_breaks_lines_at_64() {
        let body = "A".repeat(130);
        let pem = wrap_base64_as_pem(&format!("  {}\r\n{} ", &body[..70], &body[70..]));
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 2);
        assert_eq!(lines[4], "-----END CERTIFICATE-----");
        assert!(pem.ends_with("-----\n"));
    }

    #[test]
    fn every_error_has_a_code_and_a_sentence() {
        let errors = [
            CertificateError::Missing,
            CertificateError::TooLarge { size: 1, max: 0 },
            CertificateError::PrivateKeyPasted {
                label: "PRIVATE KEY".into(),
            },
            CertificateError::TooMany { count: 3, max: 2 },
            CertificateError::NotACertificate {
                label: "PUBLIC KEY".into(),
            },
            CertificateError::NotPem,
            CertificateError::MissingPemMarkers,
            CertificateError::TextOutsideCertificate { line: 1 },
            CertificateError::Unterminated {
                index: 0,
                reason: "x".into(),
            },
            CertificateError::BadBase64 { index: 1 },
            CertificateError::BadDer {
                index: 2,
                detail: "x".into(),
            },
        ];
        for error in errors {
            assert!(!error.code().is_empty());
            let message = error.to_string();
            assert!(message.ends_with('.'), "{message}");
            assert!(message.chars().next().unwrap().is_uppercase(), "{message}");
        }
    }
}
