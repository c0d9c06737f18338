//! The shape every XML signature in a SAML Response must have before xmlsec
//! reads it.
//!
//! xmlsec does whatever a signature asks: it dereferences `ds:Reference` URIs
//! (any URL), runs the transforms the message names (XSLT and XPath among
//! them) and follows `ds:RetrievalMethod`. All of that happens while the digest
//! is computed, that is before anything is known to be signed by the IdP, so an
//! unauthenticated POST to the ACS could make the server fetch URLs of the
//! attacker's choosing. Honest IdPs sign the enclosing element with one
//! reference and two transforms; everything else is refused here, and xmlsec
//! itself is limited the same way (`xmlsec_limits`) in case a rule here is
//! ever loosened.

use super::envelope::{ASSERTION_NS, DSIG_NS, PROTOCOL_NS};
use roxmltree::Node;
use shared::{Diagnosis, DiagnosisCode};

pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const EXCLUSIVE_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXCLUSIVE_C14N_WITH_COMMENTS: &str =
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
/// The digests accepted for the one reference (SHA-1 is broken for this use).
pub const DIGESTS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// The `ec:InclusiveNamespaces` child an exclusive C14N transform may carry.
const EXCLUSIVE_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Reference transforms an honest IdP uses: drop the signature from what it
/// signs, then canonicalize.
pub fn is_allowed_transform(algorithm: &str) -> bool {
    matches!(
        algorithm,
        ENVELOPED_SIGNATURE | EXCLUSIVE_C14N | EXCLUSIVE_C14N_WITH_COMMENTS
    )
}

fn is_exclusive_c14n(algorithm: &str) -> bool {
    matches!(algorithm, EXCLUSIVE_C14N | EXCLUSIVE_C14N_WITH_COMMENTS)
}

fn refused(expected: &str, received: impl Into<String>, detail: &str) -> Diagnosis {
    Diagnosis::new(DiagnosisCode::InvalidSamlResponse)
        .with_expected(expected.to_string())
        .with_received(received)
        .with_detail(detail.to_string())
}

/// Checks every `ds:Signature` in the document.
pub fn check(root: Node) -> Result<(), Diagnosis> {
    check_signed_by(
        root,
        &[(PROTOCOL_NS, "Response"), (ASSERTION_NS, "Assertion")],
    )
}

/// The same rules for a single logout message: signed as a whole, and only there.
pub fn check_logout(root: Node) -> Result<(), Diagnosis> {
    check_signed_by(
        root,
        &[
            (PROTOCOL_NS, "LogoutRequest"),
            (PROTOCOL_NS, "LogoutResponse"),
        ],
    )
}

/// Checks every `ds:Signature`, which may only sit in one of `parents`.
fn check_signed_by(root: Node, parents: &[(&str, &str)]) -> Result<(), Diagnosis> {
    for signature in root.descendants().filter(|n| is(*n, DSIG_NS, "Signature")) {
        check_signature(signature, parents)?;
    }
    Ok(())
}

fn check_signature(signature: Node, parents: &[(&str, &str)]) -> Result<(), Diagnosis> {
    let signed = signature
        .parent_element()
        .filter(|p| parents.iter().any(|(ns, name)| is(*p, ns, name)))
        .ok_or_else(|| {
            let names: Vec<&str> = parents.iter().map(|(_, name)| *name).collect();
            refused(
                &format!("Signatures on the {} only", names.join(" or the ")),
                format!(
                    "A signature inside <{}>",
                    signature
                        .parent_element()
                        .map_or("(document)", |p| p.tag_name().name())
                ),
                "The response carries a signature in a place no identity provider puts one.",
            )
        })?;
    for child in signature.children().filter(Node::is_element) {
        match (child.tag_name().namespace(), child.tag_name().name()) {
            (Some(DSIG_NS), "SignedInfo" | "SignatureValue") => {}
            (Some(DSIG_NS), "KeyInfo") => check_key_info(child)?,
            (_, name) => {
                return Err(refused(
                    "SignedInfo, SignatureValue and KeyInfo",
                    format!("<{name}> inside the signature"),
                    "The signature carries extra content (such as ds:Object), which identity providers never send.",
                ))
            }
        }
    }
    let signed_info = only_child(signature, "SignedInfo", "one SignedInfo")?;
    check_canonicalization(signed_info)?;
    let reference = only_child(signed_info, "Reference", "exactly one Reference")?;
    check_reference_uri(reference, signed)?;
    check_transforms(reference)?;
    check_digest(reference)
}

fn only_child<'a, 'input>(
    parent: Node<'a, 'input>,
    name: &str,
    expected: &str,
) -> Result<Node<'a, 'input>, Diagnosis> {
    let found: Vec<Node> = parent
        .children()
        .filter(|n| is(*n, DSIG_NS, name))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        several => Err(refused(
            &format!("A signature with {expected}"),
            format!("{} <ds:{name}> elements", several.len()),
            "Each signature must cover exactly the element it sits in, with one reference.",
        )),
    }
}

fn check_canonicalization(signed_info: Node) -> Result<(), Diagnosis> {
    let algorithm = signed_info
        .children()
        .find(|n| is(*n, DSIG_NS, "CanonicalizationMethod"))
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or("(none)");
    if is_exclusive_c14n(algorithm) {
        Ok(())
    } else {
        Err(refused(
            EXCLUSIVE_C14N,
            algorithm,
            "The signature is canonicalized with an algorithm other than exclusive C14N, which SAML identity providers use.",
        ))
    }
}

/// The reference must name the element the signature sits in: by its ID, or
/// the whole document when that element is the root.
fn check_reference_uri(reference: Node, signed: Node) -> Result<(), Diagnosis> {
    let uri = reference.attribute("URI");
    let id = signed.attribute("ID").unwrap_or_default();
    let whole_document = uri == Some("") && signed.parent_element().is_none();
    let this_element = !id.is_empty() && uri.and_then(|u| u.strip_prefix('#')) == Some(id);
    if whole_document || this_element {
        return Ok(());
    }
    Err(refused(
        &format!("URI=\"#{id}\" (the <{}> it signs)", signed.tag_name().name()),
        format!("URI=\"{}\"", uri.unwrap_or("(missing)")),
        "The signature's reference points somewhere other than the element it sits in. Latchkey never fetches or follows references.",
    ))
}

fn check_transforms(reference: Node) -> Result<(), Diagnosis> {
    let transforms = reference
        .children()
        .filter(|n| is(*n, DSIG_NS, "Transforms"))
        .flat_map(|t| t.children().filter(Node::is_element));
    for transform in transforms {
        let algorithm = transform.attribute("Algorithm").unwrap_or("(none)");
        let allowed = is(transform, DSIG_NS, "Transform") && is_allowed_transform(algorithm);
        let plain = transform.children().filter(Node::is_element).all(|c| {
            is_exclusive_c14n(algorithm) && is(c, EXCLUSIVE_C14N_NS, "InclusiveNamespaces")
        });
        if !allowed || !plain {
            return Err(refused(
                "The enveloped-signature and exclusive C14N transforms",
                algorithm,
                "The signature asks for a transform identity providers do not use (such as XSLT or XPath); it is refused before anything is run.",
            ));
        }
    }
    Ok(())
}

fn check_digest(reference: Node) -> Result<(), Diagnosis> {
    let algorithm = reference
        .children()
        .find(|n| is(*n, DSIG_NS, "DigestMethod"))
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or("(none)");
    if DIGESTS.contains(&algorithm) {
        return Ok(());
    }
    let detail = if algorithm == SHA1_DIGEST {
        "The response is digested with SHA-1, which is no longer accepted. Set the digest algorithm to SHA-256 in your identity provider."
    } else {
        "The signature uses a digest algorithm Latchkey does not accept."
    };
    Err(refused("SHA-256 (or SHA-384, SHA-512)", algorithm, detail))
}

/// The key is always the connection's certificate: KeyInfo is read for a
/// diagnosis only, and nothing in it may point elsewhere.
fn check_key_info(key_info: Node) -> Result<(), Diagnosis> {
    for child in key_info.children().filter(Node::is_element) {
        let allowed = child.tag_name().namespace() == Some(DSIG_NS)
            && matches!(child.tag_name().name(), "X509Data" | "KeyName" | "KeyValue");
        if !allowed {
            return Err(refused(
                "A KeyInfo with X509Data only",
                format!("<{}> in KeyInfo", child.tag_name().name()),
                "The signature's KeyInfo points to a key elsewhere (such as ds:RetrievalMethod). Latchkey uses the certificate saved on the connection and never follows such pointers.",
            ));
        }
    }
    Ok(())
}

fn is(node: Node, namespace: &str, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roxmltree::Document;

    fn response(signature: &str) -> String {
        format!(
            r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_r"><saml:Assertion ID="_a">{signature}</saml:Assertion></samlp:Response>"##
        )
    }

    fn signature(uri: &str, transforms: &str, key_info: &str) -> String {
        format!(
            r#"<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{uri}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>x</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>x</ds:SignatureValue>{key_info}</ds:Signature>"#
        )
    }

    const HONEST_TRANSFORMS: &str = r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform>"#;
    const CERT: &str = "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>AA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo>";

    fn checked(xml: &str) -> Result<(), Diagnosis> {
        check(Document::parse(xml).unwrap().root_element())
    }

    #[test]
    fn an_honest_signature_passes() {
        assert_eq!(
            checked(&response(&signature("#_a", HONEST_TRANSFORMS, CERT))),
            Ok(())
        );
    }

    #[test]
    fn every_dangerous_shape_is_refused_with_what_was_received() {
        let xslt = r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>"#;
        let xpath = r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>1</ds:XPath></ds:Transform>"#;
        let c14n_child = r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ds:XPath>1</ds:XPath></ds:Transform>"#;
        let retrieval =
            r#"<ds:KeyInfo><ds:RetrievalMethod URI="http://169.254.169.254/"/></ds:KeyInfo>"#;
        let two_refs = signature("#_a", HONEST_TRANSFORMS, CERT).replace(
            "</ds:SignedInfo>",
            r##"<ds:Reference URI="#_a"/></ds:SignedInfo>"##,
        );
        let object = signature("#_a", HONEST_TRANSFORMS, CERT)
            .replace("</ds:Signature>", "<ds:Object/></ds:Signature>");
        let inclusive = signature("#_a", HONEST_TRANSFORMS, CERT).replace(
            "http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod",
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/><ds:SignatureMethod",
        );
        let sha1 = signature("#_a", HONEST_TRANSFORMS, CERT).replace(
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        );
        let cases = [
            (
                "external URI",
                signature("http://127.0.0.1:1/x", HONEST_TRANSFORMS, CERT),
                "URI=\"http://127.0.0.1:1/x\"",
            ),
            (
                "other element",
                signature("#_r", HONEST_TRANSFORMS, CERT),
                "URI=\"#_r\"",
            ),
            (
                "no URI",
                signature("#_a", HONEST_TRANSFORMS, CERT).replace(" URI=\"#_a\"", ""),
                "URI=\"(missing)\"",
            ),
            (
                "empty URI off the root",
                signature("", HONEST_TRANSFORMS, CERT),
                "URI=\"\"",
            ),
            (
                "xslt",
                signature("#_a", xslt, CERT),
                "http://www.w3.org/TR/1999/REC-xslt-19991116",
            ),
            (
                "xpath",
                signature("#_a", xpath, CERT),
                "http://www.w3.org/TR/1999/REC-xpath-19991116",
            ),
            (
                "c14n with an xpath child",
                signature("#_a", c14n_child, CERT),
                "http://www.w3.org/2001/10/xml-exc-c14n#",
            ),
            (
                "retrieval method",
                signature("#_a", HONEST_TRANSFORMS, retrieval),
                "<RetrievalMethod> in KeyInfo",
            ),
            ("two references", two_refs, "2 <ds:Reference> elements"),
            ("ds:Object", object, "<Object> inside the signature"),
            (
                "inclusive c14n",
                inclusive,
                "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            ),
            (
                "sha1 digest",
                sha1,
                "http://www.w3.org/2000/09/xmldsig#sha1",
            ),
        ];
        for (name, signature, received) in cases {
            let error = checked(&response(&signature)).expect_err(name);
            assert_eq!(error.code, DiagnosisCode::InvalidSamlResponse, "{name}");
            assert_eq!(error.received.as_deref(), Some(received), "{name}");
        }
    }

    #[test]
    fn a_signature_outside_the_response_and_assertion_is_refused() {
        let xml = response(&format!(
            "<saml:Subject>{}</saml:Subject>",
            signature("#_a", HONEST_TRANSFORMS, CERT)
        ));
        let error = checked(&xml).unwrap_err();
        assert_eq!(
            error.received.as_deref(),
            Some("A signature inside <Subject>")
        );
    }

    #[test]
    fn an_empty_uri_is_the_whole_document_only_on_the_root() {
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_r">{}</samlp:Response>"#,
            signature("", HONEST_TRANSFORMS, CERT)
        );
        assert_eq!(checked(&xml), Ok(()));
    }
}
