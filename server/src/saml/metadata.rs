//! SAML 2.0 metadata: reading an identity provider's, writing Latchkey's own.
//!
//! [`parse_idp_metadata`] turns the XML an admin uploads (Okta, Entra ID,
//! Google Workspace, ADFS, …) into the three things a SAML connection needs:
//! the IdP's entity ID, its single sign-on URL and its signing certificate(s).
//! [`sp_metadata_xml`] writes the service-provider metadata the admin gives
//! to the IdP.

use roxmltree::{Document, Node, ParsingOptions};
use thiserror::Error;

use super::certificate::{parse_pem_bundle, wrap_base64_as_pem, CertificateError};

/// The largest metadata document accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;
/// How many distinct signing certificates are kept from metadata.
pub const MAX_METADATA_CERTIFICATES: usize = 2;

pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const PROTOCOL_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const BINDING_HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const NAMEID_FORMAT_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// The bindings Latchkey can send an AuthnRequest with, best first.
const SUPPORTED_BINDINGS: [&str; 2] = [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST];

/// What a SAML connection needs from an identity provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The IdP's `entityID`: the Issuer its responses carry.
    pub entity_id: String,
    /// Where to send the AuthnRequest.
    pub sso_url: String,
    /// The binding of `sso_url`: [`BINDING_HTTP_REDIRECT`] when the IdP offers
    /// it, else [`BINDING_HTTP_POST`].
    pub sso_binding: String,
    /// The signing certificates as normalized PEM, in document order, without
    /// duplicates; one or two.
    pub certificates_pem: Vec<String>,
    /// The `NameIDFormat` values the IdP announces, in document order,
    /// without duplicates; often empty.
    pub name_id_formats: Vec<String>,
    /// `WantAuthnRequestsSigned="true"`: the IdP refuses unsigned requests.
    pub wants_signed_requests: bool,
    /// The HTTP-Redirect `SingleLogoutService`, the binding our logout
    /// messages use; empty when the IdP has none.
    pub slo_url: String,
}

/// Why uploaded metadata was refused. [`MetadataError::code`] is stable; the
/// `Display` text is written for the admin.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    #[error(
        "No metadata was provided. Upload or paste your identity provider's SAML metadata XML."
    )]
    Empty,

    #[error("The metadata is too large ({size} bytes; at most {max} are accepted). Upload the metadata of your single identity provider, not a federation's aggregate.")]
    TooLarge { size: usize, max: usize },

    #[error("This is a URL, not the metadata itself. Open the URL in a browser and upload or paste the XML it returns.")]
    UrlInsteadOfXml,

    #[error("The metadata is not well-formed XML (line {line}, column {column}: {detail}). Make sure you copied the whole file, unchanged.")]
    NotXml {
        line: u32,
        column: u32,
        detail: String,
    },

    #[error("The metadata contains a DOCTYPE declaration, which is refused for security reasons. SAML metadata never needs one: download the metadata again directly from your identity provider.")]
    DoctypeRefused,

    #[error("This is not SAML 2.0 metadata: the document starts with <{root}>{}, but SAML metadata starts with <EntityDescriptor> or <EntitiesDescriptor> in the namespace urn:oasis:names:tc:SAML:2.0:metadata.", namespace_note(namespace.as_deref()))]
    NotSamlMetadata {
        root: String,
        namespace: Option<String>,
    },

    #[error("This looks like service-provider metadata (it has an SPSSODescriptor but no IDPSSODescriptor), perhaps Latchkey's own. Upload the metadata of your identity provider instead.")]
    ServiceProviderMetadata,

    #[error("The metadata has no identity provider description (IDPSSODescriptor). Upload the SAML metadata of your identity provider.")]
    NoIdpDescriptor,

    #[error("The metadata describes {count} identity providers ({}). Upload the metadata of the single identity provider this connection should use.", list_entity_ids(entity_ids, *count))]
    MultipleIdps {
        count: usize,
        /// The first few entity IDs, for the message.
        entity_ids: Vec<String>,
    },

    #[error("The metadata's EntityDescriptor has no entityID. Download the metadata again from your identity provider, or enter the settings by hand.")]
    NoEntityId,

    #[error("{}", no_sso_message(bindings))]
    NoSsoService {
        /// The bindings the IdP does offer, if any.
        bindings: Vec<String>,
    },

    #[error("The metadata has no signing certificate (a KeyDescriptor with use=\"signing\", or with no use, holding an X509Certificate). Download the metadata again, or enter the settings by hand and paste the signing certificate.")]
    NoSigningCertificate,

    #[error("The metadata lists {count} different signing certificates; at most {max} are accepted (the current one and, during a rollover, the next one). Remove retired certificates at your identity provider, or enter the settings by hand and paste the current signing certificate.")]
    TooManyCertificates { count: usize, max: usize },

    #[error("A signing certificate in the metadata could not be read. {0}")]
    InvalidCertificate(CertificateError),
}

impl MetadataError {
    /// A stable key for tests, styling and telemetry.
    pub fn code(&self) -> &'static str {
        match self {
            MetadataError::Empty => "metadata_empty",
            MetadataError::TooLarge { .. } => "metadata_too_large",
            MetadataError::UrlInsteadOfXml => "metadata_is_url",
            MetadataError::NotXml { .. } => "metadata_not_xml",
            MetadataError::DoctypeRefused => "metadata_doctype_refused",
            MetadataError::NotSamlMetadata { .. } => "not_saml_metadata",
            MetadataError::ServiceProviderMetadata => "service_provider_metadata",
            MetadataError::NoIdpDescriptor => "no_idp_descriptor",
            MetadataError::MultipleIdps { .. } => "multiple_idps",
            MetadataError::NoEntityId => "no_entity_id",
            MetadataError::NoSsoService { .. } => "no_sso_service",
            MetadataError::NoSigningCertificate => "no_signing_certificate",
            MetadataError::TooManyCertificates { .. } => "too_many_certificates",
            MetadataError::InvalidCertificate(_) => "invalid_certificate",
        }
    }
}

fn namespace_note(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!(" in the namespace {ns}"),
        None => " without a namespace".to_string(),
    }
}

fn list_entity_ids(entity_ids: &[String], count: usize) -> String {
    let mut list = entity_ids.join(", ");
    if count > entity_ids.len() {
        list.push_str(", …");
    }
    list
}

fn no_sso_message(bindings: &[String]) -> String {
    if bindings.is_empty() {
        "The metadata has no single sign-on URL (SingleSignOnService). Download the metadata again from your identity provider, or enter the settings by hand.".to_string()
    } else {
        format!(
            "The metadata's single sign-on URLs use only bindings Latchkey does not support ({}). Latchkey needs HTTP-Redirect or HTTP-POST: enable one at your identity provider, or enter the settings by hand.",
            bindings.join(", ")
        )
    }
}

fn is_md(node: &Node, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(NS_METADATA)
}

fn md_children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |n| is_md(n, name))
}

/// All text inside `node`, comments and markup left out.
fn text_content(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

/// Reads an identity provider's SAML 2.0 metadata.
///
/// The root may be an `EntityDescriptor` or an `EntitiesDescriptor` holding
/// exactly one identity provider. Namespaces are matched by URI, so any
/// prefix (or none) works. DOCTYPE declarations are refused, which rules out
/// external entities and entity expansion.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, MetadataError> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(MetadataError::TooLarge {
            size: xml.len(),
            max: MAX_METADATA_BYTES,
        });
    }
    let trimmed = xml.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(MetadataError::Empty);
    }
    if (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
        && !trimmed.contains(char::is_whitespace)
    {
        return Err(MetadataError::UrlInsteadOfXml);
    }
    // roxmltree refuses a DTD already (`allow_dtd: false`); this also
    // catches one in a place where the parser would call it a syntax error.
    if trimmed.contains("<!DOCTYPE") {
        return Err(MetadataError::DoctypeRefused);
    }
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => MetadataError::DoctypeRefused,
        other => {
            let pos = other.pos();
            let detail = other.to_string();
            // roxmltree ends most messages with " at LINE:COLUMN"; the
            // message shows the position already.
            let detail = detail
                .strip_suffix(&format!(" at {pos}"))
                .unwrap_or(&detail)
                .to_string();
            MetadataError::NotXml {
                line: pos.row,
                column: pos.col,
                detail,
            }
        }
    })?;

    let root = doc.root_element();
    let entities: Vec<Node> = if is_md(&root, "EntityDescriptor") {
        vec![root]
    } else if is_md(&root, "EntitiesDescriptor") {
        root.descendants()
            .filter(|n| is_md(n, "EntityDescriptor"))
            .collect()
    } else {
        return Err(MetadataError::NotSamlMetadata {
            root: root.tag_name().name().to_string(),
            namespace: root.tag_name().namespace().map(str::to_string),
        });
    };

    let idps: Vec<Node> = entities
        .iter()
        .copied()
        .filter(|e| md_children(*e, "IDPSSODescriptor").next().is_some())
        .collect();
    let entity = match idps.as_slice() {
        [] => {
            let has_sp = entities
                .iter()
                .any(|e| md_children(*e, "SPSSODescriptor").next().is_some());
            return Err(if has_sp {
                MetadataError::ServiceProviderMetadata
            } else {
                MetadataError::NoIdpDescriptor
            });
        }
        [only] => *only,
        several => {
            return Err(MetadataError::MultipleIdps {
                count: several.len(),
                entity_ids: several
                    .iter()
                    .take(5)
                    .map(|e| e.attribute("entityID").unwrap_or("(no entityID)").trim())
                    .map(str::to_string)
                    .collect(),
            })
        }
    };

    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or(MetadataError::NoEntityId)?
        .to_string();

    // An entity may describe SAML 1.1 and 2.0 separately: take the 2.0 one.
    let descriptors: Vec<Node> = md_children(entity, "IDPSSODescriptor").collect();
    let descriptor = descriptors
        .iter()
        .copied()
        .find(|d| {
            d.attribute("protocolSupportEnumeration")
                .is_some_and(|p| p.split_whitespace().any(|p| p == PROTOCOL_SAML2))
        })
        .unwrap_or(descriptors[0]);

    let (sso_binding, sso_url) = pick_sso_service(descriptor)?;
    let certificates_pem = signing_certificates(descriptor)?;

    let mut name_id_formats: Vec<String> = Vec::new();
    for format in md_children(descriptor, "NameIDFormat") {
        let value = text_content(format).trim().to_string();
        if !value.is_empty() && !name_id_formats.contains(&value) {
            name_id_formats.push(value);
        }
    }

    let wants_signed_requests = descriptor
        .attribute("WantAuthnRequestsSigned")
        .is_some_and(|v| matches!(v.trim(), "true" | "1"));
    let slo_url = md_children(descriptor, "SingleLogoutService")
        .filter(|s| s.attribute("Binding").map(str::trim) == Some(BINDING_HTTP_REDIRECT))
        .find_map(|s| {
            s.attribute("Location")
                .map(str::trim)
                .filter(|l| !l.is_empty())
        })
        .unwrap_or_default()
        .to_string();
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        slo_url,
        sso_binding,
        certificates_pem,
        name_id_formats,
        wants_signed_requests,
    })
}

fn pick_sso_service(descriptor: Node) -> Result<(String, String), MetadataError> {
    let services: Vec<(&str, &str)> = md_children(descriptor, "SingleSignOnService")
        .filter_map(|s| {
            let binding = s.attribute("Binding")?.trim();
            let location = s.attribute("Location")?.trim();
            (!location.is_empty()).then_some((binding, location))
        })
        .collect();
    for wanted in SUPPORTED_BINDINGS {
        if let Some((binding, location)) = services.iter().find(|(b, _)| *b == wanted) {
            return Ok((binding.to_string(), location.to_string()));
        }
    }
    let mut bindings: Vec<String> = Vec::new();
    for (binding, _) in services {
        if !bindings.iter().any(|b| b == binding) {
            bindings.push(binding.to_string());
        }
    }
    Err(MetadataError::NoSsoService { bindings })
}

fn signing_certificates(descriptor: Node) -> Result<Vec<String>, MetadataError> {
    let mut ders: Vec<Vec<u8>> = Vec::new();
    let mut pems: Vec<String> = Vec::new();
    let signing_keys = md_children(descriptor, "KeyDescriptor")
        .filter(|k| k.attribute("use").is_none_or(|u| u.trim() == "signing"));
    for key in signing_keys {
        let certificates = key.descendants().filter(|n| {
            n.is_element()
                && n.tag_name().name() == "X509Certificate"
                && n.tag_name().namespace() == Some(NS_XMLDSIG)
        });
        for certificate in certificates {
            let b64: String = text_content(certificate)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if b64.is_empty() {
                continue;
            }
            let parsed = parse_pem_bundle(&wrap_base64_as_pem(&b64))
                .map_err(MetadataError::InvalidCertificate)?;
            for cert in parsed {
                if !ders.contains(&cert.der) {
                    ders.push(cert.der);
                    pems.push(cert.pem);
                }
            }
        }
    }
    match pems.len() {
        0 => Err(MetadataError::NoSigningCertificate),
        n if n > MAX_METADATA_CERTIFICATES => Err(MetadataError::TooManyCertificates {
            count: n,
            max: MAX_METADATA_CERTIFICATES,
        }),
        _ => Ok(pems),
    }
}

/// Latchkey's own certificates a connection's metadata publishes (DER), and
/// whether it signs its AuthnRequests.
#[derive(Debug, Clone, Default)]
pub struct SpMetadataKeys {
    pub sign_requests: bool,
    /// Current first, then one being rotated out.
    pub signing: Vec<Vec<u8>>,
    /// Current first: IdPs that read one certificate take the first.
    pub encryption: Vec<Vec<u8>>,
}

/// Latchkey's SAML 2.0 service-provider metadata for one connection.
///
/// Elements follow the order of the OASIS metadata schema. Attribute values
/// are escaped; characters XML 1.0 cannot carry at all (control characters
/// other than tab, line feed and carriage return) become U+FFFD.
/// `slo_url` is our Single Logout service, offered for both bindings.
pub fn sp_metadata_xml(
    entity_id: &str,
    acs_url: &str,
    slo_url: &str,
    keys: &SpMetadataKeys,
) -> String {
    let mut descriptors = String::new();
    for der in &keys.signing {
        descriptors.push_str(&key_descriptor("signing", der, &[]));
    }
    for der in &keys.encryption {
        let methods: Vec<&str> = super::decrypt::CONTENT_ALGORITHMS
            .iter()
            .chain(super::decrypt::KEY_TRANSPORT_ALGORITHMS.iter())
            .copied()
            .collect();
        descriptors.push_str(&key_descriptor("encryption", der, &methods));
    }
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<md:EntityDescriptor xmlns:md=\"{ns}\" xmlns:ds=\"{dsig}\" entityID=\"{entity_id}\">\n",
            "  <md:SPSSODescriptor protocolSupportEnumeration=\"{protocol}\" AuthnRequestsSigned=\"{signed}\" WantAssertionsSigned=\"true\">\n",
            "{descriptors}",
            "    <md:SingleLogoutService Binding=\"{redirect}\" Location=\"{slo_url}\"/>\n",
            "    <md:SingleLogoutService Binding=\"{binding}\" Location=\"{slo_url}\"/>\n",
            "    <md:NameIDFormat>{name_id}</md:NameIDFormat>\n",
            "    <md:AssertionConsumerService Binding=\"{binding}\" Location=\"{acs_url}\" index=\"0\" isDefault=\"true\"/>\n",
            "  </md:SPSSODescriptor>\n",
            "</md:EntityDescriptor>\n",
        ),
        ns = NS_METADATA,
        dsig = NS_XMLDSIG,
        entity_id = escape_attribute(entity_id),
        protocol = PROTOCOL_SAML2,
        signed = keys.sign_requests,
        descriptors = descriptors,
        name_id = NAMEID_FORMAT_EMAIL,
        binding = BINDING_HTTP_POST,
        redirect = BINDING_HTTP_REDIRECT,
        slo_url = escape_attribute(slo_url),
        acs_url = escape_attribute(acs_url),
    )
}

fn key_descriptor(usage: &str, der: &[u8], methods: &[&str]) -> String {
    use base64::Engine;
    let certificate = base64::engine::general_purpose::STANDARD.encode(der);
    let methods: String = methods
        .iter()
        .map(|m| format!("      <md:EncryptionMethod Algorithm=\"{m}\"/>\n"))
        .collect();
    format!(
        "    <md:KeyDescriptor use=\"{usage}\">\n      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n{methods}    </md:KeyDescriptor>\n"
    )
}

/// Escapes a value for a double-quoted XML attribute, so that a parser reads
/// back exactly `value` (attribute-value normalization included).
fn escape_attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{a}' | '\u{d}'
        | '\u{20}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}'
        | '\u{10000}'..='\u{10ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_through_a_parser() {
        let tricky = "https://sso.example.com/a?x=1&y=<2>\"'\ttab\nline\r\u{e9}";
        let xml = sp_metadata_xml(tricky, tricky, tricky, &SpMetadataKeys::default());
        let doc = Document::parse(&xml).expect("well-formed");
        let root = doc.root_element();
        assert_eq!(root.attribute("entityID"), Some(tricky));
        let acs = root
            .descendants()
            .find(|n| n.tag_name().name() == "AssertionConsumerService")
            .unwrap();
        assert_eq!(acs.attribute("Location"), Some(tricky));
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        assert_eq!(
            escape_attribute("a\u{0}b\u{1b}c\u{fffe}"),
            "a\u{fffd}b\u{fffd}c\u{fffd}"
        );
    }

    #[test]
    fn every_error_has_a_code_and_a_sentence() {
        let errors = [
            MetadataError::Empty,
            MetadataError::TooLarge { size: 2, max: 1 },
            MetadataError::UrlInsteadOfXml,
            MetadataError::NotXml {
                line: 1,
                column: 2,
                detail: "x".into(),
            },
            MetadataError::DoctypeRefused,
            MetadataError::NotSamlMetadata {
                root: "html".into(),
                namespace: None,
            },
            MetadataError::ServiceProviderMetadata,
            MetadataError::NoIdpDescriptor,
            MetadataError::MultipleIdps {
                count: 2,
                entity_ids: vec!["a".into(), "b".into()],
            },
            MetadataError::NoEntityId,
            MetadataError::NoSsoService { bindings: vec![] },
            MetadataError::NoSsoService {
                bindings: vec!["urn:x".into()],
            },
            MetadataError::NoSigningCertificate,
            MetadataError::TooManyCertificates { count: 3, max: 2 },
            MetadataError::InvalidCertificate(CertificateError::BadBase64 { index: 0 }),
        ];
        for error in errors {
            assert!(!error.code().is_empty());
            let message = error.to_string();
            assert!(message.ends_with('.'), "{message}");
            assert!(message.chars().next().unwrap().is_uppercase(), "{message}");
        }
    }
}
