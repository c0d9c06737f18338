//! The SAML ACS against responses signed by a real SAML library: pysaml2 (with
//! xmlsec1) renders every case in `fixtures/saml/cases/` fresh, and each must
//! end exactly as its case file says. Then the flows around it: just-in-time
//! accounts, RelayState, replay, Test Connection, and refused members.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::saml_idp::*;
use common::*;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{json, Value};
use server::entities::{sso_connection, user};
use server::sso::binding::{self, Flow};
use server::sso::requests::{self, NewRequest, Purpose};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use uuid::Uuid;

#[derive(Debug, serde::Deserialize)]
struct Case {
    description: String,
    expect: String,
    shape: String,
}

fn cases() -> BTreeMap<String, Case> {
    std::fs::read_dir(fixtures().join("cases"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let case = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (name, case)
        })
        .collect()
}

struct Setup {
    app: TestApp,
    admin: String,
    /// The browser's sign-in cookies (`lk_saml_<request>=<secret>`), one per
    /// pending request started with `pending`; `post_acs` sends them all.
    browser: std::sync::Mutex<Vec<String>>,
}

impl Setup {
    async fn new() -> Self {
        let app = TestApp::spawn_with(&[("LATCHKEY_PUBLIC_URL", PUBLIC_URL)])
            .await
            .with_acme()
            .await;
        let admin = app.session_for(ADMIN_EMAIL).await;
        Self {
            app,
            admin,
            browser: Default::default(),
        }
    }

    /// A saved SAML connection for `provider`, with the IdP certificate and,
    /// as a rollover slot, the expired one.
    async fn connection(&self, provider: &str, allow_idp_initiated: bool) -> String {
        let id = create_saml_connection(&self.app, &self.admin, provider, &idp_certificates())
            .await
            .id;
        if allow_idp_initiated {
            let model = sso_connection::Entity::find_by_id(Uuid::parse_str(&id).unwrap())
                .one(&self.app.db)
                .await
                .unwrap()
                .unwrap();
            let mut model = model.into_active_model();
            model.allow_idp_initiated = Set(true);
            model.update(&self.app.db).await.unwrap();
        }
        id
    }

    /// A sign-in request as `/login/…` stores it, bound to this test's browser.
    async fn pending(&self, connection: &str, id: &str, purpose: Purpose, return_to: &str) {
        let cookie = self
            .pending_elsewhere(connection, id, purpose, return_to)
            .await;
        self.browser.lock().unwrap().push(cookie);
    }

    /// A sign-in request started in another browser; returns that browser's
    /// cookie. It replaces a request of that ID still waiting: the forged
    /// responses answer fixed IDs, and a refused response leaves its request.
    async fn pending_elsewhere(
        &self,
        connection: &str,
        id: &str,
        purpose: Purpose,
        return_to: &str,
    ) -> String {
        server::entities::sso_request::Entity::delete_by_id(id.to_string())
            .exec(&self.app.db)
            .await
            .unwrap();
        let connection = Uuid::parse_str(connection).unwrap();
        let issued = binding::issue();
        let model = sso_connection::Entity::find_by_id(connection)
            .one(&self.app.db)
            .await
            .unwrap()
            .unwrap();
        requests::store(
            &self.app.db,
            NewRequest {
                id: id.to_string(),
                connection_id: connection,
                org_id: model.org_id,
                purpose,
                admin_user_id: None,
                return_to: return_to.to_string(),
                nonce: None,
                pkce_verifier: None,
                browser_binding: Some(issued.hash),
            },
        )
        .await
        .unwrap();
        format!("{}={}", binding::cookie_name(Flow::Saml, id), issued.secret)
    }

    /// The diagnosis codes of the connection's sign-in events, sorted (none
    /// for a success).
    async fn event_codes(&self, connection: &str) -> Vec<Option<String>> {
        let events = self
            .app
            .call_json(
                "get_sso_events",
                json!({ "connection_id": connection }),
                Some(&self.admin),
            )
            .await
            .json();
        let mut codes: Vec<Option<String>> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["diagnosis"]["code"].as_str().map(str::to_string))
            .collect();
        codes.sort();
        codes
    }

    /// How many rows `E` holds.
    async fn count<E: EntityTrait>(&self) -> usize {
        E::find().all(&self.app.db).await.unwrap().len()
    }

    /// The connection's SP metadata, as an IdP downloads it.
    async fn metadata(&self, connection: &str) -> String {
        let response = self
            .app
            .send(
                Request::get(format!("/sso/saml/{connection}/metadata"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        response.body
    }

    async fn post_acs(
        &self,
        connection: &str,
        saml_response: &str,
        relay_state: &str,
    ) -> TestResponse {
        let cookies = self.browser.lock().unwrap().join("; ");
        self.post_acs_with(connection, saml_response, relay_state, &cookies)
            .await
    }

    /// The ACS as a browser holding exactly `cookies` posts to it.
    async fn post_acs_with(
        &self,
        connection: &str,
        saml_response: &str,
        relay_state: &str,
        cookies: &str,
    ) -> TestResponse {
        let body = url_encode(&[("SAMLResponse", saml_response), ("RelayState", relay_state)]);
        // The IdP's page posts cross-site: no Sec-Fetch-Site: same-origin here.
        let mut request = Request::post(format!("/sso/saml/{connection}/acs"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "cross-site");
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        self.app.send(request.body(Body::from(body)).unwrap()).await
    }
}

/// Every case in the fixtures folder, SP-initiated (or IdP-initiated where the
/// case says so), ends with the code its file names, and only `ok` cases sign
/// anyone in. Refusals never sign in the attacker's identity.
#[tokio::test]
async fn every_fixture_case_ends_as_its_file_says() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let entra = setup.connection("microsoft_entra_id", false).await;
    let idp_initiated = setup.connection("okta", true).await;
    let cases = cases();
    assert!(cases.len() >= 44, "the fixtures folder holds the cases");

    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, case) in &cases {
        let connection = if name == "ok_idp_initiated" {
            idp_initiated.as_str()
        } else if case.shape == "entra" {
            entra.as_str()
        } else {
            okta.as_str()
        };
        groups.entry(connection).or_default().push(name);
    }
    let mut failures = Vec::new();
    for (connection, names) in groups {
        let metadata = setup.metadata(connection).await;
        let responses = forge_for_metadata(connection, &names, &metadata, None);
        for name in names {
            let case = &cases[name];
            setup
                .pending(connection, &format!("_req-{name}"), Purpose::SignIn, "/")
                .await;
            let response = setup
                .post_acs(connection, &responses[name], &format!("_req-{name}"))
                .await;
            let event = setup.app.last_sso_event().await;
            let outcome = if response.status == StatusCode::SEE_OTHER && event.success {
                "ok".to_string()
            } else {
                event.code.clone().unwrap_or_else(|| "(no code)".into())
            };
            if outcome != case.expect {
                failures.push(format!(
                    "{name}: expected {}, got {outcome} (HTTP {}; {:?} / {:?}) — {}",
                    case.expect, response.status, event.received, event.detail, case.description
                ));
            }
            if case.expect != "ok" {
                assert!(
                    response.session_cookie().is_none(),
                    "{name} opened a session"
                );
                assert_ne!(event.email, "evil@attacker.test", "{name}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "cases that did not end as expected:\n{}",
        failures.join("\n")
    );
    // The reference, RetrievalMethod and XSLT cases name the canary: nothing fetched it.
    assert_eq!(
        canary().hits.load(Ordering::SeqCst),
        0,
        "the ACS fetched a URL"
    );

    // Nobody but the real person got an account.
    let emails: Vec<String> = user::Entity::find()
        .all(&setup.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert!(
        emails.contains(&"ada@initech.test".to_string()),
        "{emails:?}"
    );
    assert!(
        !emails
            .iter()
            .any(|e| e.contains("attacker") || e.contains("evil")),
        "{emails:?}"
    );
}

/// The first sign-in creates a member with the IdP's names and no password;
/// the session works and the browser returns to where it started.
#[tokio::test]
async fn first_sign_in_creates_the_member_and_returns_to_the_page() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let responses = forge(&okta, &["ok_okta_signed_both"]);
    setup
        .pending(
            &okta,
            "_req-ok_okta_signed_both",
            Purpose::SignIn,
            "/settings/authentication",
        )
        .await;
    let response = setup
        .post_acs(
            &okta,
            &responses["ok_okta_signed_both"],
            "_req-ok_okta_signed_both",
        )
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    assert_eq!(
        response.header("location"),
        Some("/settings/authentication")
    );
    let cookie = response.session_cookie().expect("a session");
    let me = setup.app.call("whoami", "", Some(&cookie)).await.json();
    assert_eq!(me["email"], "ada@initech.test");
    assert_eq!(me["first_name"], "Ada");
    assert_eq!(me["last_name"], "Lovelace");
    assert_eq!(me["role"], "member");
    // SSO-created accounts have no password: a password sign-in cannot work.
    assert_eq!(
        setup.app.sign_in("ada@initech.test", "").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let audit = setup.app.audit().await;
    assert!(
        audit
            .iter()
            .any(|(action, outcome, actor)| action == "sign_in"
                && outcome == "success"
                && actor == "ada@initech.test"),
        "{audit:?}"
    );
}

/// A returning member signs in to the account the first sign-in made. Their
/// identity's row is read, never rewritten: a sign-in writes no last-used time
/// (SPEC §13); the user row keeps the last sign-in.
#[tokio::test]
async fn a_returning_member_reaches_the_same_account_and_rewrites_no_identity() {
    use sea_orm::{ColumnTrait, QueryFilter};
    use server::entities::sso_identity;
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let cases = ["ok_okta_signed_both", "ok_okta_signed_assertion"];
    let responses = forge(&okta, &cases);
    let users_before = setup.count::<user::Entity>().await;
    let mut accounts = Vec::new();
    let mut identities = Vec::new();
    for case in cases {
        let request = format!("_req-{case}");
        setup.pending(&okta, &request, Purpose::SignIn, "/").await;
        let response = setup.post_acs(&okta, &responses[case], &request).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
        let cookie = response.session_cookie().expect("a session");
        let me = setup.app.call("whoami", "", Some(&cookie)).await.json();
        accounts.push(me["email"].as_str().unwrap().to_string());
        identities.push(
            sso_identity::Entity::find()
                .all(&setup.app.db)
                .await
                .unwrap(),
        );
    }
    assert_eq!(accounts, vec!["ada@initech.test", "ada@initech.test"]);
    // An answered request is left to expire, and is nobody's any more.
    let okta_id = Uuid::parse_str(&okta).unwrap();
    for case in cases {
        let request = format!("_req-{case}");
        let found = requests::find_live(&setup.app.db, okta_id, &request).await;
        assert_eq!(found.unwrap().map(|p| p.id), None);
        let stored = server::entities::sso_request::Entity::find_by_id(request.clone())
            .one(&setup.app.db)
            .await
            .unwrap();
        assert_eq!(stored.map(|r| r.id), Some(request));
    }
    assert_eq!(identities[0].len(), 1);
    assert_eq!(identities[1], identities[0]);
    let ada = user::Entity::find()
        .filter(user::Column::Email.eq("ada@initech.test"))
        .one(&setup.app.db)
        .await
        .unwrap()
        .unwrap();
    let since_sign_in = chrono::Utc::now() - ada.last_sign_in_at.expect("a last sign-in");
    assert!(
        since_sign_in < chrono::Duration::minutes(1),
        "{since_sign_in}"
    );
    assert_eq!(setup.count::<user::Entity>().await, users_before + 1);
}

/// A response accepted once is refused the second time: by the replay cache
/// for IdP-initiated responses, and because the request was used up otherwise.
#[tokio::test]
async fn a_response_is_accepted_once() {
    let setup = Setup::new().await;
    let idp_initiated = setup.connection("okta", true).await;
    let response = &forge(&idp_initiated, &["ok_idp_initiated"])["ok_idp_initiated"];
    let first = setup.post_acs(&idp_initiated, response, "/settings").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    // IdP-initiated RelayState may name a page of ours.
    assert_eq!(first.header("location"), Some("/settings"));
    let second = setup.post_acs(&idp_initiated, response, "").await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert!(second.session_cookie().is_none());
    assert_eq!(
        setup.app.last_sso_event().await.code.as_deref(),
        Some("response_replayed")
    );
    assert!(
        second.body.contains("already been used")
            || second.body.contains("used before")
            || second.body.contains("reference"),
        "{}",
        second.body
    );

    let okta = setup.connection("okta", false).await;
    let response = &forge(&okta, &["ok_okta_signed_assertion"])["ok_okta_signed_assertion"];
    setup
        .pending(&okta, "_req-ok_okta_signed_assertion", Purpose::SignIn, "/")
        .await;
    assert_eq!(
        setup.post_acs(&okta, response, "").await.status,
        StatusCode::SEE_OTHER
    );
    let again = setup.post_acs(&okta, response, "").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.session_cookie().is_none());
}

/// The replay cache's keys for a connection, in order.
async fn replay_keys(setup: &Setup, connection: &str) -> Vec<String> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    use server::entities::saml_replay;
    saml_replay::Entity::find()
        .filter(saml_replay::Column::ConnectionId.eq(Uuid::parse_str(connection).unwrap()))
        .order_by_asc(saml_replay::Column::AssertionId)
        .all(&setup.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.assertion_id)
        .collect()
}

/// An assertion that names our request in its signed InResponseTo is claimed
/// through that request alone (one replay row a sign-in, not two), and a
/// replay of it is still refused, as an answer to a request already answered.
#[tokio::test]
async fn an_assertion_naming_its_request_is_claimed_through_the_request() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let case = "ok_okta_signed_assertion";
    let response = &forge(&okta, &[case])[case];
    let request = format!("_req-{case}");
    setup.pending(&okta, &request, Purpose::SignIn, "/").await;
    let first = setup.post_acs(&okta, response, "").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert_eq!(
        replay_keys(&setup, &okta).await,
        [format!("request:{request}")]
    );

    let replayed = setup.post_acs(&okta, response, &request).await;
    replayed.assert_refused_without_session();
    assert_eq!(
        setup.event_codes(&okta).await,
        [None, Some("in_response_to_unknown".to_string())]
    );
    assert_eq!(
        replay_keys(&setup, &okta).await,
        [format!("request:{request}")]
    );
}

/// An assertion that names no request (IdP-initiated) keeps its own replay
/// row even when the RelayState named a request of ours: replaying it with
/// another fresh request of the same browser is refused, signing nobody in.
#[tokio::test]
async fn an_assertion_naming_no_request_is_used_once_whatever_request_comes_with_it() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", true).await;
    let response = &forge(&okta, &["ok_idp_initiated"])["ok_idp_initiated"];
    setup
        .pending(&okta, "_lk-first", Purpose::SignIn, "/")
        .await;
    setup
        .pending(&okta, "_lk-second", Purpose::SignIn, "/")
        .await;
    let first = setup.post_acs(&okta, response, "_lk-first").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);

    let replayed = setup.post_acs(&okta, response, "_lk-second").await;
    replayed.assert_refused_without_session();
    let keys = replay_keys(&setup, &okta).await;
    let (requests, assertions): (Vec<_>, Vec<_>) =
        keys.iter().partition(|key| key.starts_with("request:"));
    assert_eq!(requests, ["request:_lk-first"]);
    assert_eq!(assertions.len(), 1, "{keys:?}");
}

/// IdP-initiated RelayState can only lead to a path of ours.
#[tokio::test]
async fn relay_state_cannot_redirect_off_site() {
    let setup = Setup::new().await;
    let connection = setup.connection("okta", true).await;
    let response = &forge(&connection, &["ok_idp_initiated"])["ok_idp_initiated"];
    let signed_in = setup
        .post_acs(&connection, response, "https://evil.test/phish")
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.header("location"), Some("/"));
}

/// Test Connection: the admin sees the result, nobody is signed in, and the
/// popup page talks only to our own origin.
#[tokio::test]
async fn a_test_run_records_the_result_and_signs_nobody_in() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let responses = forge(&okta, &["ok_okta_signed_both", "wrong_audience"]);
    for (name, expect_success) in [("ok_okta_signed_both", true), ("wrong_audience", false)] {
        setup
            .pending(&okta, &format!("_req-{name}"), Purpose::Test, "/")
            .await;
        let response = setup
            .post_acs(&okta, &responses[name], &format!("_req-{name}"))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        assert!(response.session_cookie().is_none());
        assert!(response.body.contains("postMessage"));
        assert!(
            response.body.contains("\"http://127.0.0.1:3000\""),
            "{}",
            response.body
        );
        let event = setup.app.last_sso_event().await;
        assert_eq!(event.kind, "test");
        assert_eq!(event.success, expect_success);

        // The panel reads the result through a server function.
        let result = setup
            .app
            .call_json(
                "get_sso_event",
                json!({ "connection_id": okta, "event_id": event.id.to_string() }),
                Some(&setup.admin),
            )
            .await;
        assert_eq!(result.status, StatusCode::OK, "{}", result.body);
        let result: Value = result.json();
        if expect_success {
            assert_eq!(result["email"], "ada@initech.test");
            let names: Vec<&str> = result["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["email", "firstName", "lastName"]);
        } else {
            assert_eq!(result["diagnosis"]["code"], "audience_mismatch");
            assert_eq!(
                result["diagnosis"]["expected"],
                format!("{PUBLIC_URL}/sso/saml/{okta}/metadata")
            );
            assert_eq!(
                result["diagnosis"]["received"],
                "https://other-sp.test/saml/metadata"
            );
        }
    }
    // A passed test is remembered on the connection.
    let model = sso_connection::Entity::find_by_id(Uuid::parse_str(&okta).unwrap())
        .one(&setup.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(model.tested_at.is_some());
    let detail = setup
        .app
        .call_json("get_connection", json!({ "id": okta }), Some(&setup.admin))
        .await
        .json();
    assert_eq!(detail["summary"]["status"], "Active", "{detail}");
    // No member account was created by the test.
    assert_eq!(
        user::Entity::find().all(&setup.app.db).await.unwrap().len(),
        2
    );
    // Members cannot read a connection's events.
    let member = setup.app.session_for(MEMBER_EMAIL).await;
    let denied = setup
        .app
        .call_json(
            "get_sso_events",
            json!({ "connection_id": okta }),
            Some(&member),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let listed = setup
        .app
        .call_json(
            "get_sso_events",
            json!({ "connection_id": okta }),
            Some(&setup.admin),
        )
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

/// A deactivated member is refused, with a page that names the reason and a
/// reference, and no session.
#[tokio::test]
async fn a_deactivated_member_is_refused() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let responses = forge(&okta, &["ok_okta_signed_both", "ok_okta_signed_response"]);
    setup
        .pending(&okta, "_req-ok_okta_signed_both", Purpose::SignIn, "/")
        .await;
    assert_eq!(
        setup
            .post_acs(&okta, &responses["ok_okta_signed_both"], "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let ada = user::Entity::find()
        .all(&setup.app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "ada@initech.test")
        .unwrap();
    let mut ada = ada.into_active_model();
    ada.active = Set(false);
    ada.update(&setup.app.db).await.unwrap();

    setup
        .pending(&okta, "_req-ok_okta_signed_response", Purpose::SignIn, "/")
        .await;
    let refused = setup
        .post_acs(&okta, &responses["ok_okta_signed_response"], "")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.session_cookie().is_none());
    let event = setup.app.last_sso_event().await;
    assert_eq!(event.code.as_deref(), Some("user_deactivated"));
    assert!(
        refused.body.contains(&event.reference),
        "the page shows the reference"
    );
    assert!(
        !refused.body.contains("Expected"),
        "members do not see the technical record"
    );
}

/// The ACS keeps each connection's prepared certificates in memory. A new
/// certificate written to the connection's row (a save through this instance
/// or another one sharing the database) is used for the very next response,
/// and the old one is trusted no more.
#[tokio::test]
async fn a_certificate_changed_in_the_database_is_in_force_at_the_next_response() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let responses = forge(&okta, &["ok_okta_signed_both", "wrong_key"]);
    let post = |case: &'static str| {
        let (setup, okta, response) = (&setup, &okta, responses[case].clone());
        async move {
            setup
                .pending(okta, &format!("_req-{case}"), Purpose::SignIn, "/")
                .await;
            let answer = setup.post_acs(okta, &response, "").await;
            let code = setup.app.last_sso_event().await.code;
            (answer.status, code)
        }
    };
    let mismatch = (
        StatusCode::BAD_REQUEST,
        Some("certificate_mismatch".to_string()),
    );
    assert_eq!(post("wrong_key").await, mismatch, "the attacker's key");

    let mut row = sso_connection::Entity::find_by_id(Uuid::parse_str(&okta).unwrap())
        .one(&setup.app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    row.saml_certificates =
        Set(std::fs::read_to_string(fixtures().join("keys/attacker.crt")).unwrap());
    row.update(&setup.app.db).await.unwrap();

    assert_eq!(
        post("ok_okta_signed_both").await,
        mismatch,
        "the certificate that was replaced"
    );
    assert_eq!(
        post("wrong_key").await.0,
        StatusCode::SEE_OTHER,
        "the certificate now configured"
    );
}

/// Bad input at the ACS: garbage, an empty form, an unknown connection and
/// an oversized body are refused cleanly, never with a 500.
#[tokio::test]
async fn bad_acs_input_is_refused_cleanly() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    for body in ["%%%garbage%%%", "", "PHNhbWxwOlJlc3BvbnNlPg=="] {
        let response = setup.post_acs(&okta, body, "").await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.body
        );
        assert_eq!(
            setup.app.last_sso_event().await.code.as_deref(),
            Some("invalid_saml_response")
        );
    }
    let unknown = setup.post_acs(&Uuid::new_v4().to_string(), "x", "").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let not_uuid = setup.post_acs("not-a-uuid", "x", "").await;
    assert_eq!(not_uuid.status, StatusCode::NOT_FOUND);
    let huge = "A".repeat(600 * 1024);
    let oversized = setup.post_acs(&okta, &huge, "").await;
    assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// Even a message that got past the shape rules could not make xmlsec fetch a
/// URL or run XSLT: its limits are process-wide. samael is called directly
/// here, without `signature_shape`, on the attacks that name the canary.
#[tokio::test]
async fn xmlsec_itself_opens_no_url_and_runs_no_xslt() {
    use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
    use server::saml::xmlsec_limits;
    xmlsec_limits::ensure().expect("limits installed");
    for gone in [
        "http://www.w3.org/TR/1999/REC-xslt-19991116",
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
        "http://www.w3.org/2002/06/xmldsig-filter2",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/2000/09/xmldsig#base64",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    ] {
        assert!(!xmlsec_limits::knows(gone), "xmlsec still runs {gone}");
    }
    assert!(xmlsec_limits::knows(
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    ));

    let attacks = ["external_reference", "retrieval_method", "xslt_transform"];
    let responses = forge("xmlsec-limits", &attacks);
    let pem = std::fs::read_to_string(fixtures().join("keys/idp.crt")).unwrap();
    let der = server::saml::certificate::parse_pem_bundle(&pem).unwrap()[0]
        .der
        .clone();
    for attack in attacks {
        let xml = server::saml::envelope::decode(&responses[attack]).unwrap();
        let reduced = Crypto::reduce_xml_to_signed(
            &xml,
            &[CertificateDer::from(der.clone())],
            ReduceMode::PreDigest,
        );
        // KeyInfo is not signed and never read for the key: the RetrievalMethod
        // leaves the honest signature valid, and is not followed.
        assert_eq!(reduced.is_ok(), attack == "retrieval_method", "{attack}");
    }
    assert_eq!(
        canary().hits.load(Ordering::SeqCst),
        0,
        "xmlsec fetched a URL"
    );
}

/// When the verification threads cannot take a response in time, the ACS
/// refuses it at once with `server_busy`, and nobody is signed in.
#[tokio::test]
async fn a_response_that_cannot_be_checked_in_time_is_refused_as_busy() {
    let mut setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let responses = forge(&okta, &["ok_okta_signed_both"]);
    // No time at all: every verification misses its deadline.
    setup.app.change_state(|state| {
        state.sso.saml_verifier =
            server::saml::verifier::VerifierPool::new(1, 1, std::time::Duration::ZERO)
    });
    setup
        .pending(&okta, "_req-ok_okta_signed_both", Purpose::SignIn, "/")
        .await;
    let response = setup
        .post_acs(
            &okta,
            &responses["ok_okta_signed_both"],
            "_req-ok_okta_signed_both",
        )
        .await;
    response.assert_refused_without_session();
    let event = setup.app.last_sso_event().await;
    assert_eq!(event.code.as_deref(), Some("server_busy"), "{event:?}");
    assert_eq!(
        event.received.as_deref(),
        Some("the verification did not finish within 0 s")
    );
}

/// Two different signed responses to one sign-in request, posted at once
/// (as a double-submit or an attacker racing the member would): the request is
/// used up atomically, so exactly one signs in and the other is refused as an
/// unknown or used request.
#[tokio::test]
async fn two_responses_racing_for_one_request_sign_in_once() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let case = "ok_okta_signed_assertion";
    // Each forge run makes fresh assertion IDs, so the replay cache cannot tell
    // the two apart: only the request can.
    let first = forge(&okta, &[case]).remove(case).unwrap();
    let second = forge(&okta, &[case]).remove(case).unwrap();
    let request_id = format!("_req-{case}");
    setup
        .pending(&okta, &request_id, Purpose::SignIn, "/")
        .await;
    let (a, b) = tokio::join!(
        setup.post_acs(&okta, &first, &request_id),
        setup.post_acs(&okta, &second, &request_id)
    );
    one_signed_in(a, b);
    assert_eq!(
        setup.event_codes(&okta).await,
        [None, Some("in_response_to_unknown".to_string())]
    );
}

/// Of two answers to responses raced against each other, one signed in and
/// the other was refused without a session.
fn one_signed_in(a: TestResponse, b: TestResponse) {
    let (won, lost) = match a.session_cookie() {
        Some(_) => (a, b),
        None => (b, a),
    };
    assert_eq!(won.status, StatusCode::SEE_OTHER, "{}", won.body);
    assert_eq!(lost.status, StatusCode::BAD_REQUEST, "{}", lost.body);
    assert!(lost.session_cookie().is_none(), "both responses signed in");
}

/// Login CSRF: a response to a sign-in started in another browser (the
/// attacker's, who then makes the victim's browser post it) is refused when
/// the victim's browser has no sign-in cookie for it, and when it has one by
/// that name with another secret; only the browser that started it gets in.
/// Each refusal is in the event log and the audit log, and signs nobody in.
#[tokio::test]
async fn acs_accepts_a_response_only_in_the_browser_that_started_the_sign_in() {
    use sea_orm::{ColumnTrait, QueryFilter};
    use server::entities::audit_event;
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let response = &forge(&okta, &["ok_okta_signed_both"])["ok_okta_signed_both"];
    let id = "_req-ok_okta_signed_both";
    let name = binding::cookie_name(Flow::Saml, id);
    let other_secret = format!("{name}={}", binding::issue().secret);
    let name_only = format!("{name}=1");
    let cases = [
        ("", "sent no sign-in cookie"),
        (other_secret.as_str(), "holds a different secret"),
        // A cookie of the right name is not enough: the value is checked.
        (name_only.as_str(), "holds a different secret"),
    ];
    for (victim_cookies, received) in &cases {
        let _attacker = setup
            .pending_elsewhere(&okta, id, Purpose::SignIn, "/")
            .await;
        let refused = setup
            .post_acs_with(&okta, response, id, victim_cookies)
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{victim_cookies}");
        assert!(refused.session_cookie().is_none(), "{victim_cookies}");
        let event = setup.app.last_sso_event().await;
        assert_eq!(event.code.as_deref(), Some("browser_mismatch"), "{event:?}");
        assert!(
            event
                .received
                .as_deref()
                .unwrap_or_default()
                .contains(received),
            "{event:?}"
        );
        assert!(refused.body.contains(&event.reference));
    }
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("sign_in_failed"))
        .all(&setup.app.db)
        .await
        .unwrap();
    assert_eq!(
        audited
            .iter()
            .filter(|e| e.detail.contains("\"browser_mismatch\""))
            .count(),
        3,
        "{audited:?}"
    );
    setup.pending(&okta, id, Purpose::SignIn, "/").await;
    let accepted = setup.post_acs(&okta, response, id).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
    assert!(accepted.session_cookie().is_some());
    // The used cookie is cleared.
    let cleared = accepted
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0"));
    assert!(cleared, "{:?}", accepted.headers);
}

/// A response refused before it is verified (here: posted from another
/// browser, as by an attacker who learned the request ID) does not use up the
/// member's request: their own response still signs them in, once.
#[tokio::test]
async fn a_refused_response_leaves_the_members_request_to_them() {
    let setup = Setup::new().await;
    let okta = setup.connection("okta", false).await;
    let case = "ok_okta_signed_both";
    let response = &forge(&okta, &[case])[case];
    let id = format!("_req-{case}");
    setup.pending(&okta, &id, Purpose::SignIn, "/").await;
    let attacker = setup.post_acs_with(&okta, response, &id, "").await;
    assert_eq!(
        attacker.status,
        StatusCode::BAD_REQUEST,
        "{}",
        attacker.body
    );
    assert_eq!(
        setup.app.last_sso_event().await.code.as_deref(),
        Some("browser_mismatch")
    );

    let member = setup.post_acs(&okta, response, &id).await;
    assert_eq!(member.status, StatusCode::SEE_OTHER, "{}", member.body);
    assert!(member.session_cookie().is_some());
    let again = setup.post_acs(&okta, response, &id).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(again.session_cookie().is_none());
    assert_eq!(
        setup.app.last_sso_event().await.code.as_deref(),
        Some("in_response_to_unknown")
    );
}

/// One IdP-initiated response posted twice at once (a double submit, or an
/// attacker racing the member): the replay cache lets exactly one sign in,
/// the other is refused as replayed, and one account and one session exist.
#[tokio::test]
async fn one_idp_initiated_response_racing_itself_signs_in_once() {
    use server::entities::session;
    let setup = Setup::new().await;
    let connection = setup.connection("okta", true).await;
    let case = "ok_idp_initiated";
    let response = &forge(&connection, &[case])[case];
    let users_before = setup.count::<user::Entity>().await;
    let sessions_before = setup.count::<session::Entity>().await;
    let (a, b) = tokio::join!(
        setup.post_acs(&connection, response, ""),
        setup.post_acs(&connection, response, "")
    );
    one_signed_in(a, b);
    assert_eq!(setup.count::<user::Entity>().await, users_before + 1);
    assert_eq!(setup.count::<session::Entity>().await, sessions_before + 1);
    assert_eq!(
        setup.event_codes(&connection).await,
        [None, Some("response_replayed".to_string())]
    );
}

/// A member signed in once by an IdP-initiated response on a connection that
/// accepts them: the setup, the connection and a second, unused response for
/// the same member.
async fn returning_member() -> (Setup, String, String) {
    let setup = Setup::new().await;
    let connection = setup.connection("okta", true).await;
    let case = "ok_idp_initiated";
    let first = forge(&connection, &[case]).remove(case).unwrap();
    let second = forge(&connection, &[case]).remove(case).unwrap();
    assert_eq!(
        setup.post_acs(&connection, &first, "").await.status,
        StatusCode::SEE_OTHER
    );
    (setup, connection, second)
}

/// A returning member's second response, answering a request of its own,
/// signs in with the identity's use recorded; replaying it then is refused
/// and changes nothing: no session, and the names it carries are not applied.
#[tokio::test]
async fn a_replayed_response_for_a_returning_member_changes_nothing() {
    use server::entities::session;
    let (setup, connection, second) = returning_member().await;
    assert_eq!(
        setup.post_acs(&connection, &second, "").await.status,
        StatusCode::SEE_OTHER
    );
    let sessions = setup.count::<session::Entity>().await;
    let member = user::Entity::find()
        .all(&setup.app.db)
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|u| u.created_at)
        .unwrap();
    // Names changed since, by provisioning: a replay must not put the old ones back.
    let mut renamed = member.clone().into_active_model();
    renamed.first_name = Set("Renamed".into());
    renamed.update(&setup.app.db).await.unwrap();

    let replayed = setup.post_acs(&connection, &second, "").await;
    assert_eq!(
        replayed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        replayed.body
    );
    assert!(replayed.session_cookie().is_none());
    assert_eq!(
        setup.app.last_sso_event().await.code.as_deref(),
        Some("response_replayed")
    );
    assert_eq!(setup.count::<session::Entity>().await, sessions);
    let after = user::Entity::find_by_id(member.id)
        .one(&setup.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.first_name, "Renamed");
}

/// A returning member's response posted twice at once: both sign-ins' rows go
/// to the group commit, often in one batch. The second's replay row breaks the
/// unique key inside that batch; only its own writes are undone, so exactly
/// one session is opened and the other answer is a refusal as replayed.
#[tokio::test]
async fn a_returning_members_response_racing_itself_signs_in_once() {
    use server::entities::session;
    let (setup, connection, second) = returning_member().await;
    let users = setup.count::<user::Entity>().await;
    let sessions = setup.count::<session::Entity>().await;
    let (a, b) = tokio::join!(
        setup.post_acs(&connection, &second, ""),
        setup.post_acs(&connection, &second, "")
    );
    one_signed_in(a, b);
    assert_eq!(setup.count::<user::Entity>().await, users);
    assert_eq!(setup.count::<session::Entity>().await, sessions + 1);
    assert_eq!(
        setup.event_codes(&connection).await,
        [None, None, Some("response_replayed".to_string())]
    );
}

/// Starting a SAML sign-in at `/login/{org}` answers `303 See Other` from the
/// server to any HTTP client, and sets the binding cookie for the
/// ACS only: over http without SameSite (browsers send it on a same-site
/// POST), over https `SameSite=None; Secure` so the identity provider's
/// cross-site POST carries it. The pending request keeps only its hash.
#[tokio::test]
async fn starting_a_saml_sign_in_binds_it_to_the_browser() {
    use sea_orm::{ColumnTrait, QueryFilter};
    use server::entities::sso_request;
    for (public_url, attributes) in [
        (PUBLIC_URL, "HttpOnly"),
        ("https://sso.example.com", "HttpOnly; SameSite=None; Secure"),
    ] {
        let app = TestApp::spawn_with(&[("LATCHKEY_PUBLIC_URL", public_url)])
            .await
            .with_acme()
            .await;
        let admin = app.session_for(ADMIN_EMAIL).await;
        let setup = Setup {
            app,
            admin,
            browser: Default::default(),
        };
        let okta = setup.connection("okta", false).await;
        let model = sso_connection::Entity::find_by_id(Uuid::parse_str(&okta).unwrap())
            .one(&setup.app.db)
            .await
            .unwrap()
            .unwrap();
        let mut model = model.into_active_model();
        model.active = Set(true);
        model.update(&setup.app.db).await.unwrap();

        let started = SamlStart::at(&setup.app).await;
        let cookie = started.set_cookie.clone();
        let (pair, rest) = cookie.split_once("; ").unwrap();
        let (name, secret) = pair.split_once('=').unwrap();
        assert_eq!(
            rest,
            format!("Path=/sso/saml/{okta}/acs; Max-Age=600; {attributes}")
        );
        let request_id = name.strip_prefix("lk_saml_").unwrap();
        let location = started.response.header("location").unwrap();
        assert!(
            location.contains(&format!("RelayState={request_id}")),
            "{location}"
        );
        let stored = sso_request::Entity::find()
            .filter(sso_request::Column::Id.eq(request_id))
            .one(&setup.app.db)
            .await
            .unwrap()
            .expect("the pending request");
        let hash = stored.browser_binding.expect("bound");
        assert_ne!(hash, secret);
        assert_eq!(hash.len(), 64);
    }
}

/// Expired requests and assertions are no longer purged on every sign-in
/// (a write less each); the hourly sweeper forgets them and keeps live ones.
#[tokio::test]
async fn the_sweeper_forgets_expired_requests_and_assertions_only() {
    use server::entities::{saml_replay, sso_request};
    let setup = Setup::new().await;
    let connection = setup.connection("okta", false).await;
    let connection_id = Uuid::parse_str(&connection).unwrap();
    setup
        .pending(&connection, "_live", Purpose::SignIn, "/")
        .await;
    setup
        .pending(&connection, "_stale", Purpose::SignIn, "/")
        .await;
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let stale = sso_request::Entity::find_by_id("_stale".to_string())
        .one(&setup.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut stale = stale.into_active_model();
    stale.expires_at = Set(past);
    stale.update(&setup.app.db).await.unwrap();
    for (assertion_id, expires_at) in [("_used", past + chrono::Duration::hours(1)), ("_old", past)]
    {
        saml_replay::ActiveModel {
            connection_id: Set(connection_id),
            assertion_id: Set(assertion_id.into()),
            expires_at: Set(expires_at),
        }
        .insert(&setup.app.db)
        .await
        .unwrap();
    }
    // A stale request is nobody's even before the sweeper runs.
    let take = |id: &'static str| requests::take(&setup.app.db, connection_id, id);
    assert!(take("_stale").await.unwrap().is_none());

    assert_eq!(requests::purge_expired(&setup.app.db).await.unwrap(), 1);
    assert_eq!(
        server::sso::replay::purge_expired(&setup.app.db)
            .await
            .unwrap(),
        1
    );

    let requests_left: Vec<String> = sso_request::Entity::find()
        .all(&setup.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(requests_left, vec!["_live".to_string()]);
    let assertions_left: Vec<String> = saml_replay::Entity::find()
        .all(&setup.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.assertion_id)
        .collect();
    assert_eq!(assertions_left, vec!["_used".to_string()]);
    // The live one answers once.
    assert!(take("_live").await.unwrap().is_some());
    assert!(take("_live").await.unwrap().is_none());
}
