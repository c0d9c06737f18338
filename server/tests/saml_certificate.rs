//! `parse_pem_bundle` over the openssl-made fixtures in tests/fixtures/saml/certs.

use server::saml::certificate::{
    parse_pem_bundle, sha256_fingerprint, wrap_base64_as_pem, CertificateError, CertificateFacts,
    MAX_PEM_BYTES,
};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/saml/certs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The base64 between the BEGIN and END lines, on one line.
fn body_of(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn signing_facts() -> CertificateFacts {
    CertificateFacts {
        subject: "C=US, O=Latchkey Test IdP, CN=idp.example.test".into(),
        issuer: "C=US, O=Latchkey Test IdP, CN=idp.example.test".into(),
        sha256_fingerprint: "85:4E:76:25:3F:0F:56:E0:5C:30:65:BF:6E:44:4C:31:EC:0A:EB:09:F1:80:61:DB:44:B3:0A:ED:60:E8:5A:DB".into(),
        not_before: 1_795_441_696, // 2026-11-23T13:48:16Z
        not_after: 2_426_161_696,  // 2046-11-18T13:48:16Z
    }
}

fn next_facts() -> CertificateFacts {
    CertificateFacts {
        subject: "C=US, O=Latchkey Test IdP, CN=idp-next.example.test".into(),
        issuer: "C=US, O=Latchkey Test IdP, CN=idp-next.example.test".into(),
        sha256_fingerprint: "6A:37:1A:5A:81:1C:8F:C2:2D:07:7F:31:D5:58:37:6E:95:15:43:8E:EC:96:8F:2E:EC:00:D0:65:C1:7E:15:D6".into(),
        not_before: 1_795_441_697,
        not_after: 2_426_161_697,
    }
}

fn expired_facts() -> CertificateFacts {
    CertificateFacts {
        subject: "C=US, O=Latchkey Test IdP, CN=expired.example.test".into(),
        issuer: "C=US, O=Latchkey Test IdP, CN=expired.example.test".into(),
        sha256_fingerprint: "8F:D2:10:DB:75:B0:C9:95:D3:28:E1:62:7E:19:9F:C7:8A:D0:F3:24:3B:E5:A7:96:6B:EF:FD:51:B0:C8:5A:B2".into(),
        not_before: 1_577_836_800, // 2020-01-01T00:00:00Z
        not_after: 1_609_459_200,  // 2021-01-01T00:00:00Z
    }
}

#[test]
fn fixture_certificates_yield_the_facts_openssl_reports() {
    let cases = [
        ("idp-signing.pem", signing_facts()),
        ("idp-next.pem", next_facts()),
        ("expired.pem", expired_facts()),
    ];
    let openssl_facts = fixture("facts.txt");
    for (file, facts) in cases {
        let pem = fixture(file);
        let parsed = parse_pem_bundle(&pem).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(parsed.len(), 1, "{file}");
        assert_eq!(parsed[0].facts, facts, "{file}");
        // openssl's own fingerprint, recorded by generate.sh.
        assert!(
            openssl_facts.contains(&format!("sha256 Fingerprint={}", facts.sha256_fingerprint)),
            "{file}: fingerprint differs from facts.txt"
        );
        assert_eq!(sha256_fingerprint(&parsed[0].der), facts.sha256_fingerprint);
        // openssl writes canonical PEM, so normalizing changes nothing.
        assert_eq!(parsed[0].pem, pem, "{file}");
    }
}

#[test]
fn two_certificates_are_accepted_in_order() {
    let text = format!("{}{}", fixture("idp-signing.pem"), fixture("idp-next.pem"));
    let parsed = parse_pem_bundle(&text).unwrap();
    let facts: Vec<CertificateFacts> = parsed.into_iter().map(|c| c.facts).collect();
    assert_eq!(facts, vec![signing_facts(), next_facts()]);
}

#[test]
fn whitespace_variants_are_accepted_and_normalized() {
    let pem = fixture("idp-signing.pem");
    let body = body_of(&pem);
    let crlf = pem.replace('\n', "\r\n");
    let indented: String = pem.lines().map(|l| format!("    {l}  \n")).collect();
    let one_line = format!("-----BEGIN CERTIFICATE----- {body} -----END CERTIFICATE-----");
    let no_newline_at_end = pem.trim_end().to_string();
    let long_lines = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
    let blank_lines = format!(
        "\n\n{}\n\n\t\n{}\n\n",
        pem.trim_end(),
        fixture("idp-next.pem").trim_end()
    );
    let bom = format!("\u{feff}{pem}");
    let no_padding = {
        // Drop the '=' padding some tools omit (only when there is any).
        let trimmed = body.trim_end_matches('=');
        format!("-----BEGIN CERTIFICATE-----\n{trimmed}\n-----END CERTIFICATE-----")
    };
    let legacy_label = pem.replace("CERTIFICATE-----", "X509 CERTIFICATE-----");
    let cases: [(&str, &str, usize); 9] = [
        ("crlf", &crlf, 1),
        ("indented", &indented, 1),
        ("one line", &one_line, 1),
        ("no newline at end", &no_newline_at_end, 1),
        ("one long base64 line", &long_lines, 1),
        ("blank lines around and between", &blank_lines, 2),
        ("byte order mark", &bom, 1),
        ("no base64 padding", &no_padding, 1),
        ("X509 CERTIFICATE label", &legacy_label, 1),
    ];
    for (name, text, count) in cases {
        let parsed = parse_pem_bundle(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.len(), count, "{name}");
        assert_eq!(parsed[0].pem, pem, "{name}: not normalized");
        assert_eq!(parsed[0].facts, signing_facts(), "{name}");
    }
}

#[test]
fn the_same_certificate_twice_is_kept_once() {
    let pem = fixture("idp-signing.pem");
    let twice = format!("{pem}\n{}", pem.replace('\n', "\r\n"));
    let parsed = parse_pem_bundle(&twice).unwrap();
    assert_eq!(parsed.len(), 1);
}

#[test]
fn wrap_base64_as_pem_restores_the_pem() {
    let pem = fixture("expired.pem");
    let body = body_of(&pem);
    assert_eq!(wrap_base64_as_pem(&body), pem);
    // Metadata often breaks the base64 at 76 characters, with indentation.
    let reflowed: String = body
        .as_bytes()
        .chunks(76)
        .map(|c| format!("\n        {}", std::str::from_utf8(c).unwrap()))
        .collect();
    assert_eq!(wrap_base64_as_pem(&reflowed), pem);
}

/// Inputs that must be refused, with the code and a phrase the admin sees.
#[test]
fn refusals() {
    let signing = fixture("idp-signing.pem");
    let next = fixture("idp-next.pem");
    let expired = fixture("expired.pem");
    let body = body_of(&signing);
    let pkcs8 = fixture("private-key-pkcs8.pem");
    let rsa = fixture("private-key-rsa.pem");

    let three = format!("{signing}{next}{expired}");
    let cert_then_key = format!("{signing}{pkcs8}");
    let key_then_three = format!("{rsa}{three}");
    let ec_key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrY\n-----END EC PRIVATE KEY-----\n";
    let encrypted_key =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkq\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let openssh_key =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n-----END OPENSSH PRIVATE KEY-----\n";
    let putty_key = "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\n";
    let bare_body_wrapped: String = signing
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(|l| format!("{l}\n"))
        .collect();
    let openssl_text_dump = format!("Certificate:\n    Data:\n        Version: 3 (0x2)\n{signing}");
    let trailing_text = format!("{signing}Valid until 2046\n");
    let text_between = format!("{signing}\nand the next one:\n{next}");
    let bad_base64 = signing.replacen(&body[10..14], "!@#$", 1);
    let not_der = "-----BEGIN CERTIFICATE-----\nSGVsbG8sIHRoaXMgaXMgbm90IGEgY2VydGlmaWNhdGUu\n-----END CERTIFICATE-----\n";
    let truncated_body: String = {
        let lines: Vec<&str> = signing.lines().collect();
        let mut kept: Vec<&str> = lines[..lines.len() - 4].to_vec();
        kept.push(lines[lines.len() - 1]);
        kept.join("\n")
    };
    let trailing_der_bytes = {
        use base64::Engine as _;
        let parsed = parse_pem_bundle(&signing).unwrap();
        let mut der = parsed[0].der.clone();
        der.extend_from_slice(&[0, 0, 0]);
        wrap_base64_as_pem(&base64::engine::general_purpose::STANDARD.encode(der))
    };
    let no_end = signing.replace("-----END CERTIFICATE-----\n", "");
    let mismatched_end = signing.replace("END CERTIFICATE", "END PUBLIC KEY");
    let second_without_end = format!(
        "{}{}",
        signing,
        next.replace("-----END CERTIFICATE-----\n", "")
    );
    let empty_block = "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n";
    let too_large = " ".repeat(MAX_PEM_BYTES + 1);
    let csr = fixture("request.csr.pem");
    let public_key = fixture("public-key.pem");

    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("empty", "", "certificate_missing", "No certificate"),
        (
            "whitespace only",
            " \r\n\t\n",
            "certificate_missing",
            "No certificate",
        ),
        (
            "PKCS#8 private key",
            &pkcs8,
            "private_key_pasted",
            "private key",
        ),
        (
            "RSA private key",
            &rsa,
            "private_key_pasted",
            "public signing certificate",
        ),
        (
            "certificate with its key",
            &cert_then_key,
            "private_key_pasted",
            "private key",
        ),
        (
            "key before three certificates",
            &key_then_three,
            "private_key_pasted",
            "private key",
        ),
        (
            "EC private key",
            ec_key,
            "private_key_pasted",
            "private key",
        ),
        (
            "encrypted private key",
            encrypted_key,
            "private_key_pasted",
            "private key",
        ),
        (
            "OpenSSH private key",
            openssh_key,
            "private_key_pasted",
            "private key",
        ),
        (
            "PuTTY private key",
            putty_key,
            "private_key_pasted",
            "private key",
        ),
        (
            "three certificates",
            &three,
            "too_many_certificates",
            "found 3",
        ),
        (
            "certificate request",
            &csr,
            "not_a_certificate",
            "signing request",
        ),
        ("public key", &public_key, "not_a_certificate", "public key"),
        (
            "bare base64, one line",
            &body,
            "missing_pem_markers",
            "BEGIN CERTIFICATE",
        ),
        (
            "bare base64, wrapped",
            &bare_body_wrapped,
            "missing_pem_markers",
            "BEGIN CERTIFICATE",
        ),
        (
            "prose",
            "please see the attached certificate",
            "not_a_certificate",
            "PEM",
        ),
        (
            "openssl -text dump",
            &openssl_text_dump,
            "text_outside_certificate",
            "Line 1",
        ),
        (
            "text after",
            &trailing_text,
            "text_outside_certificate",
            "Line 22",
        ),
        (
            "text between",
            &text_between,
            "text_outside_certificate",
            "Line 23",
        ),
        ("bad base64", &bad_base64, "certificate_malformed", "base64"),
        (
            "base64 of not a certificate",
            not_der,
            "certificate_malformed",
            "X.509",
        ),
        (
            "truncated body",
            &truncated_body,
            "certificate_malformed",
            "X.509",
        ),
        (
            "bytes after the certificate",
            &trailing_der_bytes,
            "certificate_malformed",
            "unexpected bytes",
        ),
        (
            "no END line",
            &no_end,
            "certificate_malformed",
            "END CERTIFICATE----- line is missing",
        ),
        (
            "mismatched END line",
            &mismatched_end,
            "certificate_malformed",
            "does not match",
        ),
        (
            "second without END",
            &second_without_end,
            "certificate_malformed",
            "second certificate",
        ),
        (
            "empty block",
            empty_block,
            "certificate_malformed",
            "nothing between",
        ),
        (
            "too large",
            &too_large,
            "certificate_too_large",
            "too large",
        ),
    ];
    let count = cases.len();
    for (name, input, code, phrase) in cases {
        let error = match parse_pem_bundle(input) {
            Ok(certs) => panic!("{name}: accepted {} certificate(s)", certs.len()),
            Err(e) => e,
        };
        assert_eq!(error.code(), code, "{name}: {error}");
        let message = error.to_string();
        assert!(
            message.contains(phrase),
            "{name}: {message:?} lacks {phrase:?}"
        );
    }
    assert!(count >= 28);
}

#[test]
fn private_key_message_says_what_to_paste_instead() {
    let error = parse_pem_bundle(&fixture("private-key-rsa.pem")).unwrap_err();
    assert_eq!(
        error,
        CertificateError::PrivateKeyPasted {
            label: "RSA PRIVATE KEY".into()
        }
    );
    let message = error.to_string();
    assert!(message.starts_with("This is a private key (RSA PRIVATE KEY), not a certificate,"));
    assert!(message.contains("public signing certificate instead"));
    assert!(message.contains("-----BEGIN CERTIFICATE-----"));
    // The key material itself is never echoed back.
    assert!(!message.contains("MII"));
}

#[test]
fn too_many_reports_the_count() {
    let text = format!(
        "{}{}{}",
        fixture("idp-signing.pem"),
        fixture("idp-next.pem"),
        fixture("expired.pem")
    );
    assert_eq!(
        parse_pem_bundle(&text).unwrap_err(),
        CertificateError::TooMany { count: 3, max: 2 }
    );
}
