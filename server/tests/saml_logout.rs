//! SAML Single Logout against a real IdP library: pysaml2 (`tests/saml/slo.py`)
//! verifies the LogoutRequest Latchkey sends when a member signs out and
//! answers it; it sends IdP-initiated LogoutRequests by both bindings and
//! verifies our signed answers. Every forged, unsigned or replayed message is
//! refused and ends nothing.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::saml_idp::*;
use common::*;
use serde_json::{json, Value};
use server::entities::sso_event;

struct Setup {
    app: TestApp,
    connection: SamlConnection,
    metadata: String,
}

impl Setup {
    /// A SAML connection whose IdP has a Single Logout URL.
    async fn new() -> Self {
        Self::with_idp_slo_url(IDP_SLO_URL).await
    }

    /// A SAML connection whose IdP SLO URL is `slo_url` (empty: none).
    async fn with_idp_slo_url(slo_url: &str) -> Self {
        let (app, admin, connection) = app_with_saml_connection().await;
        save_saml_form(&app, &admin, &connection, json!({ "slo_url": slo_url })).await;
        let metadata = app
            .send(
                Request::get(format!("/sso/saml/{}/metadata", connection.id))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .body;
        Self {
            app,
            connection,
            metadata,
        }
    }

    fn slo_path(&self) -> String {
        format!("/sso/saml/{}/slo", self.connection.id)
    }

    /// A member signs in through the IdP; returns their session cookie and
    /// the NameID the IdP asserted.
    async fn member_signs_in(&self) -> (String, String) {
        let start = SamlStart::at(&self.app).await;
        let case = "ok_okta_signed_assertion";
        let forged = forge_answer(&self.connection.id, case, start.request_id());
        let response = start.answer(&self.app, &self.connection.id, &forged).await;
        let cookie = response.session_cookie().expect("signed in");
        let event = self.app.last_sso_event().await;
        (cookie, event.subject)
    }

    async fn is_live(&self, cookie: &str) -> bool {
        server::sessions::find_live(&self.app.db, cookie)
            .await
            .unwrap()
            .is_some()
    }

    async fn get(&self, path_and_query: &str) -> TestResponse {
        self.app
            .send(
                Request::get(path_and_query)
                    .header("sec-fetch-site", "cross-site")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> TestResponse {
        self.app
            .send(
                Request::post(path)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header("sec-fetch-site", "cross-site")
                    .body(Body::from(url_encode(form)))
                    .unwrap(),
            )
            .await
    }

    async fn last_event(&self) -> sso_event::Model {
        self.app.last_sso_event().await
    }

    /// An IdP-initiated LogoutRequest from pysaml2, by `binding`.
    fn idp_request(&self, name_id: &str, binding: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "send-request",
            "--name-id",
            name_id,
            "--binding",
            binding,
            "--relay-state",
            "idp-relay",
        ];
        args.extend(extra);
        let sent = slo_peer(&self.metadata, &args);
        assert_eq!(sent["ok"], true, "{sent}");
        sent
    }

    /// Delivers an IdP request the way the browser would carry it.
    async fn deliver(&self, sent: &Value) -> TestResponse {
        match sent.get("url").and_then(Value::as_str) {
            Some(url) => self.get(&path_of(url)).await,
            None => {
                let mut form = vec![("SAMLRequest", sent["SAMLRequest"].as_str().unwrap())];
                if let Some(relay) = sent["RelayState"].as_str() {
                    form.push(("RelayState", relay));
                }
                self.post_form(&path_of(sent["action"].as_str().unwrap()), &form)
                    .await
            }
        }
    }
}

/// `/sso/…?query` of one of our absolute URLs.
fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    assert_eq!(
        parsed.origin().ascii_serialization(),
        PUBLIC_URL,
        "not our URL: {url}"
    );
    match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_string(),
    }
}

fn location(response: &TestResponse) -> String {
    response
        .header("location")
        .unwrap_or_else(|| panic!("no redirect ({}): {}", response.status, response.body))
        .to_string()
}

#[tokio::test]
async fn our_metadata_offers_single_logout_by_both_bindings() {
    let setup = Setup::new().await;
    let slo = format!("{PUBLIC_URL}{}", setup.slo_path());
    for binding in ["HTTP-Redirect", "HTTP-POST"] {
        let element = format!(
            "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:{binding}\" Location=\"{slo}\"/>"
        );
        assert!(setup.metadata.contains(&element), "{}", setup.metadata);
    }
}

#[tokio::test]
async fn signing_out_sends_the_idp_a_signed_logout_request_and_its_answer_completes_it() {
    let setup = Setup::new().await;
    let (cookie, name_id) = setup.member_signs_in().await;

    let signed_out = setup.app.call("logout", "", Some(&cookie)).await;
    let to_idp = location(&signed_out);
    assert!(
        to_idp.starts_with(&format!("{IDP_SLO_URL}?SAMLRequest=")),
        "{to_idp}"
    );
    assert!(!setup.is_live(&cookie).await, "the session ends at once");

    // pysaml2 verifies the query signature with the certificate in our metadata.
    let received = slo_peer(&setup.metadata, &["receive-request", "--url", &to_idp]);
    assert_eq!(received["ok"], true, "{received}");
    assert_eq!(received["name_id"], json!(name_id));
    assert_eq!(
        received["issuer"],
        json!(format!(
            "{PUBLIC_URL}/sso/saml/{}/metadata",
            setup.connection.id
        ))
    );
    assert_eq!(received["destination"], json!(IDP_SLO_URL));
    assert_eq!(
        received["sig_alg"],
        json!("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    assert_eq!(
        received["session_indexes"].as_array().map(Vec::len),
        Some(1),
        "{received}"
    );

    let answered = setup
        .get(&path_of(received["response_url"].as_str().unwrap()))
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
    assert_eq!(location(&answered), "/login");
    let event = setup.last_event().await;
    assert_eq!(
        (event.kind.as_str(), event.success),
        ("logout", true),
        "{event:?}"
    );

    // The answer completes one logout: replayed, it is not recognised.
    let replayed = setup
        .get(&path_of(received["response_url"].as_str().unwrap()))
        .await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        setup.last_event().await.code.as_deref(),
        Some("logout_request_unknown")
    );
}

#[tokio::test]
async fn the_idp_ends_a_members_sessions_by_either_binding_and_gets_a_signed_answer() {
    let setup = Setup::new().await;
    for binding in ["redirect", "post"] {
        let (cookie, name_id) = setup.member_signs_in().await;
        let sent = setup.idp_request(&name_id, binding, &[]);
        let response = setup.deliver(&sent).await;
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "{binding}: {}",
            response.body
        );
        assert!(
            !setup.is_live(&cookie).await,
            "{binding}: the session ended"
        );

        let answer = location(&response);
        assert!(
            answer.starts_with(&format!("{IDP_SLO_URL}?SAMLResponse=")),
            "{answer}"
        );
        let read = slo_peer(&setup.metadata, &["read-response", "--url", &answer]);
        assert_eq!(read["ok"], true, "{binding}: {read}");
        assert_eq!(read["in_response_to"], sent["id"], "{binding}");
        assert_eq!(
            read["status"],
            json!("urn:oasis:names:tc:SAML:2.0:status:Success")
        );
        assert_eq!(read["destination"], json!(IDP_SLO_URL));
        assert!(answer.contains("RelayState=idp-relay"), "{answer}");
        let event = setup.last_event().await;
        assert_eq!((event.kind.as_str(), event.success), ("logout", true));
        assert_eq!(event.subject, name_id);
    }
}

#[tokio::test]
async fn forged_unsigned_and_misaddressed_logout_requests_end_nothing() {
    let setup = Setup::new().await;
    let (cookie, name_id) = setup.member_signs_in().await;

    let mut cases: Vec<(&str, Value, &str)> = vec![
        (
            "unsigned, redirect",
            setup.idp_request(&name_id, "redirect", &["--unsigned"]),
            "logout_unsigned",
        ),
        (
            "unsigned, post",
            setup.idp_request(&name_id, "post", &["--unsigned"]),
            "logout_unsigned",
        ),
        (
            "another issuer, signed with the IdP's key",
            setup.idp_request(&name_id, "redirect", &["--issuer", "http://evil.test/idp"]),
            "issuer_mismatch",
        ),
    ];
    cases.push((
        "signed with RSA-SHA1",
        setup.idp_request(&name_id, "redirect", &["--sig-alg", "rsa-sha1"]),
        "logout_signature_invalid",
    ));
    cases.push((
        "addressed to another service provider",
        setup.idp_request(
            &name_id,
            "post",
            &["--destination-attr", "https://other.example.com/slo"],
        ),
        "logout_destination_mismatch",
    ));
    // The RelayState changed after signing: the query signature no longer verifies.
    let mut tampered = setup.idp_request(&name_id, "redirect", &[]);
    let url = tampered["url"]
        .as_str()
        .unwrap()
        .replace("RelayState=idp-relay", "RelayState=evil");
    tampered["url"] = json!(url);
    cases.push(("tampered query", tampered, "logout_signature_invalid"));
    for (name, sent, code) in cases {
        let response = setup.deliver(&sent).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            response.body
        );
        assert!(response.header("location").is_none(), "{name}");
        assert!(
            setup.is_live(&cookie).await,
            "{name}: the session must survive"
        );
        let event = setup.last_event().await;
        assert_eq!(event.code.as_deref(), Some(code), "{name}: {event:?}");
        assert_eq!(event.kind, "logout", "{name}");
    }
}

#[tokio::test]
async fn a_logout_answer_nobody_asked_for_is_refused() {
    let setup = Setup::new().await;
    // A LogoutResponse is only accepted InResponseTo a logout we started:
    // pysaml2 answers a request of ours that was never stored.
    let (cookie, _) = setup.member_signs_in().await;
    let signed_out = setup.app.call("logout", "", Some(&cookie)).await;
    let received = slo_peer(
        &setup.metadata,
        &["receive-request", "--url", &location(&signed_out)],
    );
    <server::entities::pending_logout::Entity as sea_orm::EntityTrait>::delete_many()
        .exec(&setup.app.db)
        .await
        .unwrap();
    let answered = setup
        .get(&path_of(received["response_url"].as_str().unwrap()))
        .await;
    assert_eq!(answered.status, StatusCode::BAD_REQUEST);
    assert!(answered.header("location").is_none());
    let event = setup.last_event().await;
    assert_eq!(event.code.as_deref(), Some("logout_request_unknown"));
}

#[tokio::test]
async fn without_an_idp_slo_url_signing_out_ends_the_session_here_only() {
    let setup = Setup::with_idp_slo_url("").await;
    let (cookie, _) = setup.member_signs_in().await;
    let signed_out = setup.app.call("logout", "", Some(&cookie)).await;
    assert_eq!(location(&signed_out), "/login");
    assert!(!setup.is_live(&cookie).await);
}
