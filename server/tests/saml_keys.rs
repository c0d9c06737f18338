//! Latchkey's own SAML keys against a real IdP library: pysaml2 verifies our
//! signed AuthnRequests with the certificate from our metadata, and encrypts
//! assertions for the certificate our metadata names. Rotation keeps the old
//! key working until the admin removes it; a connection that requires
//! encryption refuses a plain assertion.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::saml_idp::*;
use common::*;
use serde_json::{json, Value};

struct Setup {
    app: TestApp,
    admin: String,
    connection: SamlConnection,
}

impl Setup {
    async fn new() -> Self {
        let (app, admin, connection) = app_with_saml_connection().await;
        Self {
            app,
            admin,
            connection,
        }
    }

    /// Saves the connection with its two signing and encryption switches.
    async fn save_switches(&self, sign_requests: bool, require_encryption: bool) -> Value {
        let switches = json!({
            "sign_requests": sign_requests,
            "require_encryption": require_encryption,
        });
        save_saml_form(&self.app, &self.admin, &self.connection, switches).await
    }

    async fn page(&self) -> Value {
        self.app
            .call_json(
                "get_connection_page",
                json!({ "id": self.connection.id }),
                Some(&self.admin),
            )
            .await
            .json()
    }

    async fn metadata(&self) -> String {
        let response = self
            .app
            .send(
                Request::get(format!("/sso/saml/{}/metadata", self.connection.id))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        response.body
    }

    async fn change_key(&self, purpose: &str, change: &str) -> TestResponse {
        self.app
            .call_json(
                "change_sp_key",
                json!({ "id": self.connection.id, "purpose": purpose, "change": change }),
                Some(&self.admin),
            )
            .await
    }

    /// Starts a sign-in at `/login/acme`, has pysaml2 answer it with `case`
    /// for the IdP's copy of our metadata, and posts the answer to the ACS.
    async fn sign_in(&self, case: &str, idp_copy_of_metadata: &str) -> TestResponse {
        let start = SamlStart::at(&self.app).await;
        let forged = forge_for_metadata(
            &self.connection.id,
            &[case],
            idp_copy_of_metadata,
            Some(start.request_id()),
        );
        start
            .answer(&self.app, &self.connection.id, &forged[case])
            .await
    }

    async fn assert_signed_in(&self, response: &TestResponse) {
        let event = self.app.last_sso_event().await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{event:?}");
        assert!(response.session_cookie().is_some());
    }

    async fn assert_refused(
        &self,
        response: &TestResponse,
        code: &str,
    ) -> server::entities::sso_event::Model {
        assert!(response.session_cookie().is_none(), "{}", response.body);
        let event = self.app.last_sso_event().await;
        assert_eq!(event.code.as_deref(), Some(code), "{event:?}");
        event
    }
}

/// The SHA-256 fingerprints of a connection's certificates of one purpose,
/// current first, from its detail (a change's answer, or the page's `detail`).
fn fingerprints(detail: &Value, purpose: &str) -> Vec<(String, bool)> {
    detail["saml"]["sp_certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["purpose"] == purpose)
        .map(|c| {
            (
                c["facts"]["sha256_fingerprint"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                c["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// pysaml2, as an IdP with want_authn_requests_signed, receives the redirect.
fn idp_receives(redirect: &str, sp_metadata: &str) -> Value {
    let file = std::env::temp_dir().join(format!(
        "latchkey-verify-{}-{}.xml",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::write(&file, sp_metadata).unwrap();
    let keys = fixtures().join("keys");
    let output = std::process::Command::new(python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml/verify_request.py"))
        .args(["--sp-metadata", &file.display().to_string()])
        .args(["--idp-entity-id", IDP_ENTITY_ID])
        .args(["--idp-key", &keys.join("idp.key").display().to_string()])
        .args(["--idp-cert", &keys.join("idp.crt").display().to_string()])
        .args(["--url", redirect])
        .output()
        .expect("run verify_request.py (pysaml2)");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "verify_request.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("verify_request.py prints JSON")
}

#[tokio::test]
async fn signed_requests_verify_at_a_pysaml2_idp_and_a_changed_one_does_not() {
    let setup = Setup::new().await;
    // Unsigned (the default): an IdP that wants signed requests refuses it.
    let unsigned = SamlStart::at(&setup.app).await;
    let location = unsigned.response.header("location").unwrap().to_string();
    assert!(!location.contains("Signature="), "{location}");
    let metadata = setup.metadata().await;
    assert!(
        metadata.contains("AuthnRequestsSigned=\"false\""),
        "{metadata}"
    );
    let refused = idp_receives(&location, &metadata);
    assert_eq!(refused["ok"], false, "{refused}");

    let saved = setup.save_switches(true, false).await;
    assert_eq!(saved["saml"]["sign_requests"], true);
    let metadata = setup.metadata().await;
    assert!(
        metadata.contains("AuthnRequestsSigned=\"true\""),
        "{metadata}"
    );
    let signed = SamlStart::at(&setup.app).await;
    let location = signed.response.header("location").unwrap().to_string();
    let received = idp_receives(&location, &metadata);
    assert_eq!(
        received,
        json!({
            "ok": true,
            "id": signed.request_id(),
            "issuer": format!("{PUBLIC_URL}/sso/saml/{}/metadata", setup.connection.id),
            "acs_url": format!("{PUBLIC_URL}/sso/saml/{}/acs", setup.connection.id),
        })
    );

    // The signature covers the RelayState: another one is refused.
    let changed = location.replace(
        &format!("RelayState={}", signed.request_id()),
        "RelayState=_lkforged",
    );
    assert_ne!(changed, location);
    assert_eq!(idp_receives(&changed, &metadata)["ok"], false);

    // After a rotation the new key signs; the IdP that re-read the metadata accepts it.
    let rotated = setup.change_key("Signing", "Rotate").await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let page = setup.page().await;
    let signing = fingerprints(&page["detail"], "Signing");
    assert_eq!(signing.len(), 2);
    assert_eq!((signing[0].1, signing[1].1), (true, false));
    let after = SamlStart::at(&setup.app).await;
    let location = after.response.header("location").unwrap().to_string();
    assert_eq!(idp_receives(&location, &setup.metadata().await)["ok"], true);
}

#[tokio::test]
async fn a_connection_that_requires_encryption_refuses_a_plain_assertion() {
    let setup = Setup::new().await;
    let metadata = setup.metadata().await;
    // Encrypted assertions are accepted without the switch too.
    setup
        .assert_signed_in(
            &setup
                .sign_in("ok_encrypted_aes256_gcm_signed_assertion", &metadata)
                .await,
        )
        .await;
    let saved = setup.save_switches(false, true).await;
    assert_eq!(saved["saml"]["require_encryption"], true);
    let plain = setup.sign_in("ok_okta_signed_assertion", &metadata).await;
    let event = setup
        .assert_refused(&plain, "assertion_not_encrypted")
        .await;
    assert_eq!(event.expected.as_deref(), Some("An EncryptedAssertion"));
    setup
        .assert_signed_in(
            &setup
                .sign_in("ok_encrypted_aes128_cbc_signed_response", &metadata)
                .await,
        )
        .await;
}

#[tokio::test]
async fn a_rotated_encryption_key_decrypts_until_the_admin_removes_it() {
    let setup = Setup::new().await;
    let before = setup.metadata().await;
    let old = fingerprints(&setup.page().await["detail"], "Encryption");
    assert_eq!(old.len(), 1);

    let rotated = setup.change_key("Encryption", "Rotate").await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let both = fingerprints(&rotated.json(), "Encryption");
    assert_eq!(both.len(), 2);
    let new = both[0].0.clone();
    assert_eq!(both, vec![(new.clone(), true), (old[0].0.clone(), false)]);

    // An IdP that has not re-read the metadata still encrypts for the old key.
    let case = "ok_encrypted_aes256_gcm_signed_assertion";
    setup
        .assert_signed_in(&setup.sign_in(case, &before).await)
        .await;

    // A second rotation would drop a key the IdP may still use.
    let again = setup.change_key("Encryption", "Rotate").await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
    assert!(again.body.contains("previous_key_kept"), "{}", again.body);

    let removed = setup.change_key("Encryption", "RemovePrevious").await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(
        fingerprints(&removed.json(), "Encryption"),
        vec![(new.clone(), true)]
    );
    let refused = setup.sign_in(case, &before).await;
    let event = setup
        .assert_refused(&refused, "assertion_undecryptable")
        .await;
    assert_eq!(event.expected, Some(format!("Encrypted for {new}")));
    assert_eq!(event.received, Some(format!("Encrypted for {}", old[0].0)));

    setup
        .assert_signed_in(&setup.sign_in(case, &setup.metadata().await).await)
        .await;
    let nothing_left = setup.change_key("Encryption", "RemovePrevious").await;
    assert_eq!(nothing_left.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        nothing_left.body.contains("no_previous_key"),
        "{}",
        nothing_left.body
    );
}

/// Only an Integrations Admin of the connection's organization changes its keys.
#[tokio::test]
async fn keys_are_changed_only_by_the_organizations_admin() {
    let setup = Setup::new().await;
    let member = setup.app.session_for(MEMBER_EMAIL).await;
    let response = setup
        .app
        .call_json(
            "change_sp_key",
            json!({ "id": setup.connection.id, "purpose": "Encryption", "change": "Rotate" }),
            Some(&member),
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{}", response.body);
    let anonymous = setup
        .app
        .call_json(
            "change_sp_key",
            json!({ "id": setup.connection.id, "purpose": "Encryption", "change": "Rotate" }),
            None,
        )
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );
    assert_eq!(
        fingerprints(&setup.page().await["detail"], "Encryption").len(),
        1
    );
}
