//! ACS validation speed: how many Okta-shaped signed responses one core checks
//! per second (decode, envelope, xmlsec signature, every SPEC §6 condition,
//! identity mapping). The replay-cache insert is a database write and is
//! measured by the HTTP tests, not here.
//!
//! Run: `cargo bench -p server --bench acs` (needs the pysaml2 venv that
//! `scripts/test` installs; set LATCHKEY_PYTHON to use another Python).

use base64::Engine;
use chrono::Utc;
use server::saml::certificate::parse_pem_bundle;
use server::saml::envelope;
use server::saml::identity::map_identity;
use server::saml::response::{verify, PreparedSettings, SamlSettings};
use shared::AttributeMapping;
use std::path::Path;
use std::time::{Duration, Instant};

// The allocator the server runs with (src/main.rs), so that this measures
// what a server does per response.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SP: &str = "https://sso.example.com/sso/saml/bench/metadata";
const ACS: &str = "https://sso.example.com/sso/saml/bench/acs";
const IDP: &str = "http://idp.test/okta";
const CASE: &str = "ok_okta_signed_both";

fn main() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml");
    let response = forge(&fixtures);
    let certificates =
        parse_pem_bundle(&std::fs::read_to_string(fixtures.join("keys/idp.crt")).unwrap()).unwrap();
    let settings = SamlSettings {
        sp_entity_id: SP.into(),
        acs_url: ACS.into(),
        idp_entity_id: IDP.into(),
        certificates,
        allow_idp_initiated: false,
        sign_requests: false,
    };
    // The server prepares a connection's settings once (`sso::saml_flow`).
    let settings = PreparedSettings::new(settings, Utc::now());
    let mapping = AttributeMapping::new("email", "firstName", "lastName");
    let request_id = format!("_req-{CASE}");
    let validate = || {
        let xml = envelope::decode(&response).unwrap();
        let facts = envelope::inspect(&xml).unwrap();
        let assertion =
            verify(&settings, &xml, &facts, Some(&request_id), Utc::now(), &[]).unwrap();
        map_identity(&assertion, &mapping).unwrap()
    };
    assert_eq!(validate().email, "ada@initech.test");

    for _ in 0..200 {
        validate();
    }
    let budget = Duration::from_secs(5);
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < budget {
        validate();
        count += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&response)
        .unwrap()
        .len();
    println!("ACS validation, Okta-shaped response ({decoded} bytes, Response and Assertion signed, RSA-SHA256), one thread:");
    println!(
        "  {count} validations in {elapsed:.2} s = {:.0} per second per core ({:.1} µs each); budget ≥ 5,000/s",
        count as f64 / elapsed,
        elapsed * 1e6 / count as f64
    );
}

fn forge(fixtures: &Path) -> String {
    let python = std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/latchkey/venv/bin/python",
            std::env::var("HOME").unwrap()
        )
    });
    let key = |name: &str| fixtures.join("keys").join(name).display().to_string();
    let output = std::process::Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml/forge.py"))
        .args(["--cases", &fixtures.join("cases").display().to_string()])
        .args(["--idp-key", &key("idp.key"), "--idp-cert", &key("idp.crt")])
        .args([
            "--attacker-key",
            &key("attacker.key"),
            "--attacker-cert",
            &key("attacker.crt"),
        ])
        .args([
            "--idp-entity-id",
            IDP,
            "--sp-entity-id",
            SP,
            "--acs-url",
            ACS,
        ])
        .args(["--request-id-prefix", "_req-", "--only", CASE])
        .output()
        .expect("run forge.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&output.stdout).unwrap();
    map[CASE].clone()
}
