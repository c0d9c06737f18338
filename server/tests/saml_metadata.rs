//! `parse_idp_metadata` over the IdP-shaped fixtures in tests/fixtures/saml/metadata.

use std::time::{Duration, Instant};

use server::saml::certificate::parse_pem_bundle;
use server::saml::metadata::{
    parse_idp_metadata, MetadataError, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, MAX_METADATA_BYTES,
};

const SIGNING_FP: &str = "85:4E:76:25:3F:0F:56:E0:5C:30:65:BF:6E:44:4C:31:EC:0A:EB:09:F1:80:61:DB:44:B3:0A:ED:60:E8:5A:DB";
const NEXT_FP: &str = "6A:37:1A:5A:81:1C:8F:C2:2D:07:7F:31:D5:58:37:6E:95:15:43:8E:EC:96:8F:2E:EC:00:D0:65:C1:7E:15:D6";
const EXPIRED_FP: &str = "8F:D2:10:DB:75:B0:C9:95:D3:28:E1:62:7E:19:9F:C7:8A:D0:F3:24:3B:E5:A7:96:6B:EF:FD:51:B0:C8:5A:B2";

const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

fn read(path: &str) -> String {
    let path = format!("{}/tests/fixtures/saml/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn metadata_fixture(name: &str) -> String {
    read(&format!("metadata/{name}"))
}

fn cert_body(name: &str) -> String {
    read(&format!("certs/{name}"))
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

fn fingerprints(pems: &[String]) -> Vec<String> {
    pems.iter()
        .map(|pem| {
            let parsed = parse_pem_bundle(pem).expect("certificates_pem re-parses");
            assert_eq!(parsed.len(), 1);
            assert_eq!(&parsed[0].pem, pem, "certificates_pem is normalized");
            parsed[0].facts.sha256_fingerprint.clone()
        })
        .collect()
}

struct Good {
    file: &'static str,
    entity_id: &'static str,
    sso_url: &'static str,
    sso_binding: &'static str,
    fingerprints: &'static [&'static str],
    name_id_formats: &'static [&'static str],
}

#[test]
fn idp_fixtures_are_read() {
    let okta_sso =
        "https://dev-48213579.okta.com/app/dev-48213579_latchkey_1/exk8q2w3e4R5t6Y7u8i9/sso/saml";
    let entra_tenant = "7f3c2a10-5b9e-4d8a-a1c2-3e4f5a6b7c8d";
    let entra_sso = format!("https://login.microsoftonline.com/{entra_tenant}/saml2");
    let entra_entity = format!("https://sts.windows.net/{entra_tenant}/");
    let cases = [
        Good {
            // md: prefix; POST listed before Redirect; Redirect wins.
            file: "okta.xml",
            entity_id: "http://www.okta.com/exk8q2w3e4R5t6Y7u8i9",
            sso_url: okta_sso,
            sso_binding: BINDING_HTTP_REDIRECT,
            fingerprints: &[SIGNING_FP],
            name_id_formats: &[UNSPECIFIED, EMAIL],
        },
        Good {
            // Default namespace, enveloped Signature and RoleDescriptors
            // before the IDPSSODescriptor.
            file: "entra-id.xml",
            entity_id: entra_entity.leak(),
            sso_url: entra_sso.leak(),
            sso_binding: BINDING_HTTP_REDIRECT,
            fingerprints: &[SIGNING_FP],
            name_id_formats: &[],
        },
        Good {
            // CRLF line endings; certificate base64 broken at 76 columns.
            file: "google.xml",
            entity_id: "https://accounts.google.com/o/saml2?idpid=C03k9x2m7",
            sso_url: "https://accounts.google.com/o/saml2/idp?idpid=C03k9x2m7",
            sso_binding: BINDING_HTTP_REDIRECT,
            fingerprints: &[NEXT_FP],
            name_id_formats: &[EMAIL],
        },
        Good {
            // Rollover: two signing certificates plus a duplicate without a
            // use attribute; the encryption certificate and the
            // SPSSODescriptor's keys are ignored; &amp; is decoded.
            file: "adfs-rollover.xml",
            entity_id: "http://adfs.example.test/adfs/services/trust",
            sso_url: "https://adfs.example.test/adfs/ls/?redirect=1&x=y",
            sso_binding: BINDING_HTTP_REDIRECT,
            fingerprints: &[SIGNING_FP, NEXT_FP],
            name_id_formats: &[EMAIL, PERSISTENT, TRANSIENT],
        },
        Good {
            // EntitiesDescriptor with one SP and one IdP; POST only; the
            // ds prefix is declared on the root.
            file: "entities-one-idp.xml",
            entity_id: "https://idp.example.test/idp/shibboleth",
            sso_url: "https://idp.example.test/idp/profile/SAML2/POST/SSO",
            sso_binding: BINDING_HTTP_POST,
            fingerprints: &[SIGNING_FP],
            name_id_formats: &[],
        },
    ];
    for case in cases {
        let xml = metadata_fixture(case.file);
        let metadata = parse_idp_metadata(&xml)
            .unwrap_or_else(|e| panic!("{}: [{}] {e}", case.file, e.code()));
        assert_eq!(metadata.entity_id, case.entity_id, "{}", case.file);
        assert_eq!(metadata.sso_url, case.sso_url, "{}", case.file);
        assert_eq!(metadata.sso_binding, case.sso_binding, "{}", case.file);
        assert_eq!(
            fingerprints(&metadata.certificates_pem),
            case.fingerprints,
            "{}",
            case.file
        );
        assert_eq!(
            metadata.name_id_formats, case.name_id_formats,
            "{}",
            case.file
        );
    }
}

#[test]
fn bad_fixtures_are_refused() {
    let cases = [
        (
            "bad-sp-metadata.xml",
            "service_provider_metadata",
            "this looks like service-provider metadata",
        ),
        ("bad-xxe.xml", "metadata_doctype_refused", "DOCTYPE"),
        (
            "bad-billion-laughs.xml",
            "metadata_doctype_refused",
            "DOCTYPE",
        ),
        (
            "bad-doctype-empty.xml",
            "metadata_doctype_refused",
            "DOCTYPE",
        ),
        (
            "bad-no-signing-cert.xml",
            "no_signing_certificate",
            "no signing certificate",
        ),
        (
            "bad-two-idps.xml",
            "multiple_idps",
            "https://idp.example.test/idp/shibboleth, https://idp.other.test/idp/shibboleth",
        ),
        (
            "bad-login-page.html",
            "metadata_not_xml",
            "line 6, column 1: expected 'meta' tag, not 'head')",
        ),
        (
            "bad-saml-response.xml",
            "not_saml_metadata",
            "<Response> in the namespace urn:oasis:names:tc:SAML:2.0:protocol",
        ),
    ];
    for (file, code, phrase) in cases {
        let error = parse_idp_metadata(&metadata_fixture(file))
            .err()
            .unwrap_or_else(|| panic!("{file}: accepted"));
        assert_eq!(error.code(), code, "{file}: {error}");
        let message = error.to_string();
        assert!(
            message.to_lowercase().contains(&phrase.to_lowercase()),
            "{file}: {message:?} lacks {phrase:?}"
        );
    }
}

#[test]
fn entity_expansion_is_never_attempted() {
    // The billion-laughs payload expands to 3 GB; refusing it must be instant.
    let xml = metadata_fixture("bad-billion-laughs.xml");
    let started = Instant::now();
    for _ in 0..100 {
        assert_eq!(
            parse_idp_metadata(&xml).unwrap_err(),
            MetadataError::DoctypeRefused
        );
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    // And the external entity's target never shows up anywhere.
    let error = parse_idp_metadata(&metadata_fixture("bad-xxe.xml")).unwrap_err();
    assert!(!error.to_string().contains("root:"));
}

/// Minimal IdP metadata with the given pieces, `md:`/`ds:` prefixed.
fn idp(entity_attr: &str, keys: &str, sso: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"{entity_attr}>
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
{keys}
{sso}
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

fn key(use_attr: &str, body: &str) -> String {
    format!(
        r#"    <md:KeyDescriptor{use_attr}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
    )
}

fn sso(binding: &str, location: &str) -> String {
    format!(r#"    <md:SingleSignOnService Binding="{binding}" Location="{location}"/>"#)
}

const ENTITY: &str = r#" entityID="https://idp.example.test/""#;

#[test]
fn inline_cases() {
    let signing = cert_body("idp-signing.pem");
    let next = cert_body("idp-next.pem");
    let expired = cert_body("expired.pem");
    let sign_key = key(r#" use="signing""#, &signing);
    let redirect = sso(BINDING_HTTP_REDIRECT, "https://idp.example.test/redirect");
    let post = sso(BINDING_HTTP_POST, "https://idp.example.test/post");
    let soap = sso(
        "urn:oasis:names:tc:SAML:2.0:bindings:SOAP",
        "https://idp.example.test/soap",
    );
    let artifact = sso(
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact",
        "https://idp.example.test/artifact",
    );

    // (name, xml, Ok((sso_url, fingerprints)) or Err(code))
    type Expect = Result<(&'static str, Vec<&'static str>), &'static str>;
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "POST only",
            idp(ENTITY, &sign_key, &post),
            Ok(("https://idp.example.test/post", vec![SIGNING_FP])),
        ),
        (
            "Redirect after SOAP and POST",
            idp(ENTITY, &sign_key, &[soap.clone(), post.clone(), redirect.clone()].join("\n")),
            Ok(("https://idp.example.test/redirect", vec![SIGNING_FP])),
        ),
        (
            "an empty Location is skipped",
            idp(
                ENTITY,
                &sign_key,
                &[sso(BINDING_HTTP_REDIRECT, "  "), post.clone()].join("\n"),
            ),
            Ok(("https://idp.example.test/post", vec![SIGNING_FP])),
        ),
        (
            "an expired certificate is still read",
            idp(ENTITY, &key("", &expired), &redirect),
            Ok(("https://idp.example.test/redirect", vec![EXPIRED_FP])),
        ),
        (
            "comment inside X509Certificate",
            idp(
                ENTITY,
                &key("", &format!("{}<!-- wrapped -->\n{}", &signing[..100], &signing[100..])),
                &redirect,
            ),
            Ok(("https://idp.example.test/redirect", vec![SIGNING_FP])),
        ),
        (
            "an empty X509Certificate next to a real one",
            idp(ENTITY, &[key("", "  "), sign_key.clone()].join("\n"), &redirect),
            Ok(("https://idp.example.test/redirect", vec![SIGNING_FP])),
        ),
        (
            "no entityID",
            idp("", &sign_key, &redirect),
            Err("no_entity_id"),
        ),
        (
            "blank entityID",
            idp(r#" entityID="  ""#, &sign_key, &redirect),
            Err("no_entity_id"),
        ),
        ("no SSO service", idp(ENTITY, &sign_key, ""), Err("no_sso_service")),
        (
            "SOAP and Artifact only",
            idp(ENTITY, &sign_key, &[soap.clone(), artifact.clone()].join("\n")),
            Err("no_sso_service"),
        ),
        (
            "no KeyDescriptor",
            idp(ENTITY, "", &redirect),
            Err("no_signing_certificate"),
        ),
        (
            "encryption only",
            idp(ENTITY, &key(r#" use="encryption""#, &signing), &redirect),
            Err("no_signing_certificate"),
        ),
        (
            "three signing certificates",
            idp(
                ENTITY,
                &[key("", &signing), key("", &next), key("", &expired)].join("\n"),
                &redirect,
            ),
            Err("too_many_certificates"),
        ),
        (
            "damaged base64",
            idp(ENTITY, &key("", &signing.replacen('M', "*", 1)), &redirect),
            Err("invalid_certificate"),
        ),
        (
            "truncated certificate",
            idp(ENTITY, &key("", &signing[..signing.len() / 2]), &redirect),
            Err("invalid_certificate"),
        ),
        ("empty", String::new(), Err("metadata_empty")),
        ("whitespace", "\n \t".into(), Err("metadata_empty")),
        (
            "a URL",
            "https://login.microsoftonline.com/x/federationmetadata/2007-06/federationmetadata.xml"
                .into(),
            Err("metadata_is_url"),
        ),
        ("JSON", r#"{"issuer":"https://idp.example.test"}"#.into(), Err("metadata_not_xml")),
        ("plain text", "not metadata at all".into(), Err("metadata_not_xml")),
        (
            "truncated XML",
            idp(ENTITY, &sign_key, &redirect)[..300].to_string(),
            Err("metadata_not_xml"),
        ),
        (
            "undeclared entity",
            idp(r#" entityID="&ext;""#, &sign_key, &redirect),
            Err("metadata_not_xml"),
        ),
        (
            "EntityDescriptor without namespace",
            idp(ENTITY, &sign_key, &redirect)
                .replace("xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"", "xmlns:md=\"urn:example:other\""),
            Err("not_saml_metadata"),
        ),
        (
            "empty EntitiesDescriptor",
            r#"<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>"#.into(),
            Err("no_idp_descriptor"),
        ),
        (
            "AttributeAuthority only",
            r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></EntityDescriptor>"#.into(),
            Err("no_idp_descriptor"),
        ),
        (
            "DOCTYPE after the root element",
            format!("{}\n<!DOCTYPE x>", idp(ENTITY, &sign_key, &redirect)),
            Err("metadata_doctype_refused"),
        ),
        (
            "too large",
            format!(
                "{}<!--{}-->",
                idp(ENTITY, &sign_key, &redirect),
                " ".repeat(MAX_METADATA_BYTES)
            ),
            Err("metadata_too_large"),
        ),
    ];
    for (name, xml, expect) in cases {
        let result = parse_idp_metadata(&xml);
        match (result, expect) {
            (Ok(metadata), Ok((url, fps))) => {
                assert_eq!(metadata.entity_id, "https://idp.example.test/", "{name}");
                assert_eq!(metadata.sso_url, url, "{name}");
                assert_eq!(fingerprints(&metadata.certificates_pem), fps, "{name}");
            }
            (Err(error), Err(code)) => assert_eq!(error.code(), code, "{name}: {error}"),
            (Ok(metadata), Err(code)) => panic!("{name}: expected {code}, got {metadata:?}"),
            (Err(error), Ok(_)) => panic!("{name}: [{}] {error}", error.code()),
        }
    }
}

#[test]
fn any_prefix_works_and_namespaces_decide() {
    let signing = cert_body("idp-signing.pem");
    let xml = format!(
        r#"<?xml version="1.0"?>
<saml2md:EntityDescriptor xmlns:saml2md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.test/">
  <saml2md:Extensions><shibmd:Scope xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" regexp="false">example.test</shibmd:Scope></saml2md:Extensions>
  <saml2md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <saml2md:KeyDescriptor>
      <dsig:KeyInfo xmlns:dsig="http://www.w3.org/2000/09/xmldsig#"><dsig:X509Data><dsig:X509Certificate>{signing}</dsig:X509Certificate></dsig:X509Data></dsig:KeyInfo>
    </saml2md:KeyDescriptor>
    <!-- An X509Certificate outside the xmldsig namespace is not a certificate. -->
    <saml2md:KeyDescriptor use="signing"><X509Certificate>{signing}</X509Certificate></saml2md:KeyDescriptor>
    <saml2md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="https://idp.example.test/sso"/>
  </saml2md:IDPSSODescriptor>
  <saml2md:Organization><saml2md:OrganizationName xml:lang="en">Example</saml2md:OrganizationName><saml2md:OrganizationDisplayName xml:lang="en">Example</saml2md:OrganizationDisplayName><saml2md:OrganizationURL xml:lang="en">https://example.test/</saml2md:OrganizationURL></saml2md:Organization>
</saml2md:EntityDescriptor>"#
    );
    let metadata = parse_idp_metadata(&xml).unwrap();
    assert_eq!(fingerprints(&metadata.certificates_pem), [SIGNING_FP]);

    // The same element names in another namespace are not metadata.
    let wrong_ds = xml.replace(
        "http://www.w3.org/2000/09/xmldsig#",
        "http://www.w3.org/2000/09/xmldsig-wrong#",
    );
    assert_eq!(
        parse_idp_metadata(&wrong_ds).unwrap_err(),
        MetadataError::NoSigningCertificate
    );
}

#[test]
fn the_saml2_descriptor_wins_over_a_saml1_one() {
    let signing = cert_body("idp-signing.pem");
    let xml = format!(
        r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.test/">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol urn:mace:shibboleth:1.0">
    <SingleSignOnService Binding="urn:mace:shibboleth:1.0:profiles:AuthnRequest" Location="https://idp.example.test/shib1"/>
  </IDPSSODescriptor>
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{signing}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
    <SingleSignOnService Binding="{BINDING_HTTP_POST}" Location="https://idp.example.test/saml2"/>
  </IDPSSODescriptor>
</EntityDescriptor>"#
    );
    let metadata = parse_idp_metadata(&xml).unwrap();
    assert_eq!(metadata.sso_url, "https://idp.example.test/saml2");
}

#[test]
fn error_details() {
    let error = parse_idp_metadata("<a>\n  <b>\n</a>").unwrap_err();
    match &error {
        MetadataError::NotXml { line, column, .. } => assert_eq!((*line, *column), (3, 1)),
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("line 3, column 1"), "{error}");

    let soap_only = idp(
        ENTITY,
        &key("", &cert_body("idp-signing.pem")),
        &sso(
            "urn:oasis:names:tc:SAML:2.0:bindings:SOAP",
            "https://idp.example.test/soap",
        ),
    );
    let error = parse_idp_metadata(&soap_only).unwrap_err();
    assert_eq!(
        error,
        MetadataError::NoSsoService {
            bindings: vec!["urn:oasis:names:tc:SAML:2.0:bindings:SOAP".into()]
        }
    );
    assert!(error.to_string().contains("HTTP-Redirect or HTTP-POST"));

    let damaged = idp(
        ENTITY,
        &key("", &cert_body("idp-signing.pem").replacen('M', "*", 1)),
        &sso(BINDING_HTTP_POST, "https://idp.example.test/post"),
    );
    let error = parse_idp_metadata(&damaged).unwrap_err();
    assert!(
        matches!(error, MetadataError::InvalidCertificate(ref inner) if inner.code() == "certificate_malformed")
    );
    assert!(error.to_string().contains("not valid base64"), "{error}");
}
