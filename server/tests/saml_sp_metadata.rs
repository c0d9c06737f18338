//! `sp_metadata_xml`: its shape, and validity against the OASIS SAML 2.0
//! metadata schema (tests/schemas, checked with xmllint when installed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use server::saml::metadata::{parse_idp_metadata, sp_metadata_xml, MetadataError, SpMetadataKeys};

const SCHEMA: &str = "tests/schemas/saml-schema-metadata-2.0.xsd";

fn xmllint_available() -> bool {
    match Command::new("xmllint").arg("--version").output() {
        Ok(output) => output.status.success(),
        Err(_) => false,
    }
}

fn temp_file(xml: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "latchkey-sp-metadata-{}-{}.xml",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, xml).unwrap();
    path
}

/// Runs xmllint against the vendored schema; returns (success, output).
fn validate_file(file: &Path) -> (bool, String) {
    let output = Command::new("xmllint")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--noout", "--nonet", "--schema", SCHEMA])
        .arg(file)
        .output()
        .expect("xmllint runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn validate(xml: &str) -> (bool, String) {
    let file = temp_file(xml);
    let result = validate_file(&file);
    let _ = std::fs::remove_file(&file);
    result
}

const INPUTS: &[(&str, &str)] = &[
    (
        "https://latchkey.example.com/saml/sp/acme",
        "https://latchkey.example.com/saml/acs/acme",
    ),
    (
        "https://sso.example.com/saml/metadata?tenant=a&conn=<b>\"'",
        "https://sso.example.com/saml/acs?tenant=a&conn=b",
    ),
    ("urn:latchkey:sp:acme", "http://localhost:3000/saml/acs/1"),
];

#[test]
fn sp_metadata_has_the_expected_shape() {
    let (entity_id, acs) = INPUTS[1];
    let xml = sp_metadata_xml(
        entity_id,
        acs,
        "https://sp.example.com/slo",
        &SpMetadataKeys::default(),
    );
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor "));
    assert!(xml.contains("entityID=\"https://sso.example.com/saml/metadata?tenant=a&amp;conn=&lt;b&gt;&quot;&apos;\""));

    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "EntityDescriptor");
    assert_eq!(
        root.tag_name().namespace(),
        Some("urn:oasis:names:tc:SAML:2.0:metadata")
    );
    assert_eq!(root.attribute("entityID"), Some(entity_id));

    let sp: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(sp.len(), 1);
    assert_eq!(sp[0].tag_name().name(), "SPSSODescriptor");
    assert_eq!(
        sp[0].attribute("protocolSupportEnumeration"),
        Some("urn:oasis:names:tc:SAML:2.0:protocol")
    );
    assert_eq!(sp[0].attribute("AuthnRequestsSigned"), Some("false"));
    assert_eq!(sp[0].attribute("WantAssertionsSigned"), Some("true"));

    let children: Vec<_> = sp[0].children().filter(|n| n.is_element()).collect();
    let names: Vec<&str> = children.iter().map(|n| n.tag_name().name()).collect();
    assert_eq!(
        names,
        [
            "SingleLogoutService",
            "SingleLogoutService",
            "NameIDFormat",
            "AssertionConsumerService"
        ]
    );
    let slo: Vec<(Option<&str>, Option<&str>)> = children[..2]
        .iter()
        .map(|n| (n.attribute("Binding"), n.attribute("Location")))
        .collect();
    assert_eq!(
        slo,
        [
            (
                Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"),
                Some("https://sp.example.com/slo")
            ),
            (
                Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"),
                Some("https://sp.example.com/slo")
            ),
        ]
    );
    assert_eq!(
        children[2].text(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    let acs_node = children[3];
    assert_eq!(
        acs_node.attribute("Binding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    assert_eq!(acs_node.attribute("Location"), Some(acs));
    assert_eq!(acs_node.attribute("index"), Some("0"));
    assert_eq!(acs_node.attribute("isDefault"), Some("true"));
}

#[test]
fn our_own_metadata_is_refused_as_idp_metadata() {
    let xml = sp_metadata_xml(
        INPUTS[0].0,
        INPUTS[0].1,
        "https://sp.example.com/slo",
        &SpMetadataKeys::default(),
    );
    assert_eq!(
        parse_idp_metadata(&xml).unwrap_err(),
        MetadataError::ServiceProviderMetadata
    );
}

#[test]
fn sp_metadata_validates_against_the_saml_metadata_schema() {
    if !xmllint_available() {
        eprintln!(
            "SKIPPED sp_metadata_validates_against_the_saml_metadata_schema: xmllint is not installed (apt-get install libxml2-utils)"
        );
        return;
    }
    for (entity_id, acs) in INPUTS {
        let xml = sp_metadata_xml(
            entity_id,
            acs,
            "https://sp.example.com/slo",
            &SpMetadataKeys::default(),
        );
        let (ok, output) = validate(&xml);
        assert!(
            ok,
            "schema validation failed for {entity_id}:\n{output}\n{xml}"
        );
        assert!(output.contains("validates"), "{output}");
    }

    // The check has teeth: the schema refuses NameIDFormat after the
    // AssertionConsumerService, and a missing protocolSupportEnumeration.
    let xml = sp_metadata_xml(
        INPUTS[0].0,
        INPUTS[0].1,
        "https://sp.example.com/slo",
        &SpMetadataKeys::default(),
    );
    let name_id_line = xml
        .lines()
        .find(|l| l.contains("<md:NameIDFormat>"))
        .unwrap()
        .to_string();
    let reordered = xml.replace(&format!("{name_id_line}\n"), "").replace(
        "  </md:SPSSODescriptor>",
        &format!("{name_id_line}\n  </md:SPSSODescriptor>"),
    );
    assert_ne!(reordered, xml);
    let (ok, output) = validate(&reordered);
    assert!(!ok, "misordered metadata validated:\n{output}");
    assert!(output.contains("NameIDFormat"), "{output}");

    let no_protocol = xml.replace(
        " protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"",
        "",
    );
    let (ok, output) = validate(&no_protocol);
    assert!(
        !ok,
        "metadata without protocolSupportEnumeration validated:\n{output}"
    );
}

#[test]
fn idp_fixtures_are_schema_valid() {
    if !xmllint_available() {
        eprintln!("SKIPPED idp_fixtures_are_schema_valid: xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    // entra-id.xml is left out: its fed:* RoleDescriptor types need the
    // WS-Federation schema, as real Entra ID metadata does.
    for file in [
        "okta.xml",
        "google.xml",
        "adfs-rollover.xml",
        "entities-one-idp.xml",
        "bad-sp-metadata.xml",
        "bad-two-idps.xml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/saml/metadata")
            .join(file);
        let (ok, output) = validate_file(&path);
        assert!(ok, "{file}:\n{output}");
    }
}

fn keys_for_test() -> SpMetadataKeys {
    let certificate = |name: &str| {
        server::saml::sp_keys::generate(name)
            .unwrap()
            .certificate
            .der
    };
    SpMetadataKeys {
        sign_requests: true,
        signing: vec![certificate("signing")],
        encryption: vec![certificate("encryption new"), certificate("encryption old")],
    }
}

#[test]
fn sp_metadata_publishes_our_signing_and_encryption_certificates() {
    let keys = keys_for_test();
    let (entity_id, acs) = INPUTS[0];
    let xml = sp_metadata_xml(entity_id, acs, "https://sp.example.com/slo", &keys);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let sp = doc
        .descendants()
        .find(|n| n.has_tag_name("SPSSODescriptor"))
        .unwrap();
    assert_eq!(sp.attribute("AuthnRequestsSigned"), Some("true"));
    let children: Vec<_> = sp.children().filter(|n| n.is_element()).collect();
    let names: Vec<&str> = children.iter().map(|n| n.tag_name().name()).collect();
    assert_eq!(
        names,
        [
            "KeyDescriptor",
            "KeyDescriptor",
            "KeyDescriptor",
            "SingleLogoutService",
            "SingleLogoutService",
            "NameIDFormat",
            "AssertionConsumerService"
        ]
    );
    let published: Vec<(Option<&str>, Vec<u8>)> = children[..3]
        .iter()
        .map(|d| {
            let text = d
                .descendants()
                .find(|n| n.has_tag_name("X509Certificate"))
                .and_then(|n| n.text())
                .unwrap();
            use base64::Engine;
            (
                d.attribute("use"),
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        published,
        vec![
            (Some("signing"), keys.signing[0].clone()),
            (Some("encryption"), keys.encryption[0].clone()),
            (Some("encryption"), keys.encryption[1].clone()),
        ]
    );
    let methods: Vec<&str> = children[1]
        .children()
        .filter(|n| n.has_tag_name("EncryptionMethod"))
        .filter_map(|n| n.attribute("Algorithm"))
        .collect();
    assert_eq!(methods[0], "http://www.w3.org/2009/xmlenc11#aes256-gcm");
    assert!(methods.contains(&"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"));
    assert!(!methods
        .iter()
        .any(|m| m.contains("rsa-1_5") || m.contains("tripledes")));
    if xmllint_available() {
        let (ok, output) = validate(&xml);
        assert!(ok, "schema validation failed:\n{output}\n{xml}");
    }
}
