//! OpenID Connect sign-in and Test Connection against a real OpenID Provider:
//! the OpenID-certified npm package `oidc-provider` (end2end/peers/oidc-provider.mjs),
//! started on loopback for each test. Its control API registers our Redirect
//! URI, rotates its keys and alters the next ID token, so every refusal below
//! is fed a token the provider really issued (or forged with its keys).

mod common;

use axum::http::{header, StatusCode};
use common::oidc_peer::*;
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use server::entities::{audit_event, session, user};
use std::time::Duration;

/// The app, an admin session, and an OIDC connection saved against the provider.
struct Setup {
    app: TestApp,
    admin: String,
    connection: String,
    provider: Provider,
}

impl Setup {
    async fn new() -> Self {
        Self::with_secret(CLIENT_SECRET).await
    }

    async fn with_secret(secret: &str) -> Self {
        let provider = Provider::start().await;
        let app = TestApp::spawn_with(&[
            ("LATCHKEY_ALLOW_PRIVATE_URLS", "true"),
            ("LATCHKEY_PUBLIC_URL", PUBLIC_URL),
        ])
        .await
        .with_acme()
        .await;
        let admin = app.session_for(ADMIN_EMAIL).await;
        let connection = create_oidc_connection(&app, &admin, &provider, secret).await;
        Self {
            app,
            admin,
            connection,
            provider,
        }
    }

    /// `/login/acme`: the provider's URL and the cookie binding the sign-in to this browser.
    async fn start_sign_in(&self) -> (String, String) {
        let started = self.app.get("/login/acme?next=/settings", None).await;
        assert!(
            started.status.is_redirection(),
            "{}: {}",
            started.status,
            started.body
        );
        started_at_provider(&started)
    }

    /// Test Connection's first stop.
    async fn start_test(&self) -> (String, String) {
        let started = self
            .app
            .get(&format!("/sso/test/{}", self.connection), Some(&self.admin))
            .await;
        assert!(
            started.status.is_redirection(),
            "{}: {}",
            started.status,
            started.body
        );
        started_at_provider(&started)
    }

    /// A whole Test Connection run as `login` (fetches the keys, signs nobody in).
    async fn passing_test_run(&self, login: &str) {
        let (authorize, binding) = self.start_test().await;
        let back = self.provider.sign_in(&authorize, login).await;
        let finished = self.callback(&back, Some(&binding)).await;
        assert_eq!(finished.status, StatusCode::OK, "{}", finished.body);
        assert!(self.app.last_sso_event().await.success);
    }

    /// Our callback, as the browser that started the sign-in calls it.
    async fn callback(&self, url: &str, binding: Option<&str>) -> TestResponse {
        let path = url.strip_prefix(PUBLIC_URL).expect("our callback");
        let mut request = axum::http::Request::get(path).header(header::ACCEPT, "text/html");
        if let Some(binding) = binding {
            request = request.header(header::COOKIE, binding);
        }
        self.app
            .send(request.body(axum::body::Body::empty()).unwrap())
            .await
    }

    /// A whole sign-in as `login`, with the provider altering the ID token as told.
    async fn sign_in_as(&self, login: &str, tamper: Option<&str>) -> TestResponse {
        if let Some(mode) = tamper {
            self.provider.tamper(mode).await;
        }
        let (authorize, binding) = self.start_sign_in().await;
        let back = self.provider.sign_in(&authorize, login).await;
        self.callback(&back, Some(&binding)).await
    }

    /// A refused sign-in: the plain error page, and the event log's code and check.
    async fn assert_refused(
        &self,
        case: &str,
        response: &TestResponse,
        code: &str,
        received: &str,
    ) {
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            response.body
        );
        assert!(response.session_cookie().is_none(), "{case}");
        let event = self.app.last_sso_event().await;
        assert!(!event.success, "{case}");
        assert_eq!(event.code.as_deref(), Some(code), "{case}: {event:?}");
        let diagnosis = format!(
            "{:?} {:?} {:?}",
            event.expected, event.received, event.detail
        );
        assert!(
            diagnosis.contains(received),
            "{case}: expected {received:?} in the diagnosis: {diagnosis}"
        );
        let sessions = session::Entity::find().all(&self.app.db).await.unwrap();
        // Only the admin's session from set-up exists.
        assert_eq!(sessions.len(), 1, "{case}: nobody else may be signed in");
    }
}

/// A member signs in through the provider: PKCE, state and nonce in the
/// request; the account is created just in time; back to the page they wanted.
#[tokio::test]
async fn a_member_signs_in_and_gets_an_account() {
    let setup = Setup::new().await;
    let (authorize, binding) = setup.start_sign_in().await;
    let query: std::collections::HashMap<String, String> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    assert!(binding.starts_with(&format!("lk_oidc_{}=", query["state"])));

    let back = setup
        .provider
        .sign_in(&authorize, "new.person@acme.test")
        .await;
    let signed_in = setup.callback(&back, Some(&binding)).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(signed_in.header("location"), Some("/settings"));
    assert!(signed_in.session_cookie().is_some());
    let member = user::Entity::find()
        .filter(user::Column::Email.eq("new.person@acme.test"))
        .one(&setup.app.db)
        .await
        .unwrap()
        .expect("created just in time");
    assert_eq!(
        (member.first_name.as_str(), member.last_name.as_str()),
        ("Peter", "Gibbons")
    );
    let event = setup.app.last_sso_event().await;
    assert!(event.success, "{event:?}");
    assert_eq!(event.email, "new.person@acme.test");
    let signed_in_audit = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("sign_in"))
        .all(&setup.app.db)
        .await
        .unwrap();
    assert!(
        signed_in_audit
            .iter()
            .any(|e| e.detail.contains("\"oidc\"")),
        "{signed_in_audit:?}"
    );

    // The same answer cannot be used twice.
    let replayed = setup.callback(&back, Some(&binding)).await;
    assert_eq!(
        replayed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        replayed.body
    );
    assert!(replayed.session_cookie().is_none());
    let event = setup.app.last_sso_event().await;
    assert_eq!(event.code.as_deref(), Some("state_mismatch"));
    assert!(event
        .received
        .unwrap_or_default()
        .contains("unknown, expired or used"));
}

/// Test Connection signs nobody in and records what the provider sent.
#[tokio::test]
async fn test_connection_passes_and_signs_nobody_in() {
    let setup = Setup::new().await;
    let (authorize, binding) = setup.start_test().await;
    let back = setup.provider.sign_in(&authorize, "tester@acme.test").await;
    let finished = setup.callback(&back, Some(&binding)).await;
    assert_eq!(finished.status, StatusCode::OK, "{}", finished.body);
    assert!(
        finished.body.contains("latchkey-test-result:"),
        "{}",
        finished.body
    );
    assert!(finished.session_cookie().is_none());
    let event = setup.app.last_sso_event().await;
    assert!(event.success && event.kind == "test", "{event:?}");
    assert!(
        event.attributes.contains("given_name"),
        "{}",
        event.attributes
    );
    assert!(user::Entity::find()
        .filter(user::Column::Email.eq("tester@acme.test"))
        .one(&setup.app.db)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let setup = Setup::with_secret("not-the-secret").await;
    let response = setup.sign_in_as("someone@acme.test", None).await;
    setup
        .assert_refused("response", &response, "invalid_client", "invalid_client")
        .await;
}

/// Every ID token the provider issues altered (or forged with a key it does
/// not publish) is refused with the check that caught it.
#[tokio::test]
async fn altered_id_tokens_are_refused_with_the_failed_check() {
    let setup = Setup::new().await;
    let cases = [
        ("wrong_audience", "id_token_invalid", "aud someone-else"),
        ("expired", "id_token_invalid", "The exp check failed"),
        (
            "issuer_mismatch",
            "id_token_invalid",
            "The iss check failed",
        ),
        (
            "bad_signature",
            "id_token_invalid",
            "The signature check failed",
        ),
        ("alg_none", "id_token_invalid", "alg none"),
        // The classic confusion: an HMAC keyed with the client secret we share.
        ("hs256", "id_token_invalid", "alg HS256"),
        (
            "unknown_kid",
            "id_token_invalid",
            "not among the keys published there now",
        ),
        ("nonce_mismatch", "nonce_mismatch", "not-the-nonce-you-sent"),
        ("other_azp", "id_token_invalid", "azp someone-else"),
    ];
    for (mode, code, received) in cases {
        let response = setup.sign_in_as("someone@acme.test", Some(mode)).await;
        setup.assert_refused(mode, &response, code, received).await;
    }
}

/// An ID token with only the required claims: UserInfo supplies the email
/// and names (for the same `sub`), and the member gets in.
#[tokio::test]
async fn userinfo_fills_the_claims_the_id_token_lacks() {
    let setup = Setup::new().await;
    let response = setup.sign_in_as("sparse@acme.test", Some("minimal")).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    let event = setup.app.last_sso_event().await;
    assert!(event.success, "{event:?}");
    assert_eq!(
        (
            event.email.as_str(),
            event.first_name.as_str(),
            event.last_name.as_str()
        ),
        ("sparse@acme.test", "Peter", "Gibbons")
    );
}

/// A key the provider took out of its JWKS (rotated out, or revoked after a
/// leak) stops being trusted once the JWKS's max-age has passed: whoever holds
/// it cannot sign members in any more.
#[tokio::test]
async fn a_key_the_provider_removed_is_refused_after_its_max_age() {
    let setup = Setup::new().await;
    let provider = &setup.provider;
    provider
        .control(reqwest::Method::PUT, "jwks-cache", json!({ "max_age": 1 }))
        .await;
    setup.passing_test_run("first@acme.test").await;
    provider
        .control(reqwest::Method::POST, "rotate-keys", json!({}))
        .await;
    let retired = provider
        .control(reqwest::Method::POST, "retire-key", json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let response = setup
        .sign_in_as("leaked@acme.test", Some("retired_key"))
        .await;
    let kid = retired["kid"].as_str().unwrap();
    setup
        .assert_refused(
            "retired_key",
            &response,
            "id_token_invalid",
            &format!("kid {kid} (not among the keys published there now)"),
        )
        .await;
}

/// Tokens naming keys nobody published make Latchkey ask for the JWKS again
/// at most once per cooldown, however many arrive.
#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_cooldown() {
    let setup = Setup::new().await;
    let provider = &setup.provider;
    setup.passing_test_run("first@acme.test").await;
    let fetches = |stats: Value| stats["jwks_fetches"].as_u64().unwrap();
    let before = fetches(
        provider
            .control(reqwest::Method::GET, "stats", Value::Null)
            .await,
    );
    for attempt in 0..3 {
        let response = setup
            .sign_in_as("forger@acme.test", Some("unknown_kid"))
            .await;
        setup
            .assert_refused(
                "unknown_kid",
                &response,
                "id_token_invalid",
                "not among the keys published there now",
            )
            .await;
        let after = fetches(
            provider
                .control(reqwest::Method::GET, "stats", Value::Null)
                .await,
        );
        assert_eq!(after, before + 1, "after attempt {attempt}");
    }
}

/// The provider rotates its signing key: the first token signed with the new
/// key makes Latchkey fetch the JWKS again, once, and the sign-in succeeds.
#[tokio::test]
async fn key_rotation_is_handled_by_one_jwks_refetch() {
    let setup = Setup::new().await;
    let first = setup.sign_in_as("first@acme.test", None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    setup
        .provider
        .control(reqwest::Method::POST, "rotate-keys", json!({}))
        .await;
    let after_rotation = setup.sign_in_as("second@acme.test", None).await;
    assert_eq!(
        after_rotation.status,
        StatusCode::SEE_OTHER,
        "{}",
        after_rotation.body
    );
}

#[tokio::test]
async fn missing_and_unverified_emails_are_refused() {
    let setup = Setup::new().await;
    let missing = setup.sign_in_as("noemail-user", None).await;
    setup
        .assert_refused("missing", &missing, "email_claim_missing", "Claims:")
        .await;
    let unverified = setup.sign_in_as("unverified@acme.test", None).await;
    setup
        .assert_refused(
            "unverified",
            &unverified,
            "email_not_verified",
            "email_verified false",
        )
        .await;
}

/// The state must be one we issued, and the browser must be the one that
/// started the sign-in (login CSRF); a provider's error says what it was.
#[tokio::test]
async fn state_and_browser_binding_are_enforced() {
    let setup = Setup::new().await;
    let (authorize, binding) = setup.start_sign_in().await;
    let back = setup
        .provider
        .sign_in(&authorize, "someone@acme.test")
        .await;
    let other_browser = setup.callback(&back, None).await;
    setup
        .assert_refused(
            "other_browser",
            &other_browser,
            "state_mismatch",
            "Another browser",
        )
        .await;

    let forged = format!(
        "{PUBLIC_URL}/sso/oidc/{}/callback?code=abc&state=forged",
        setup.connection
    );
    let unknown = setup.callback(&forged, Some(&binding)).await;
    setup
        .assert_refused("unknown", &unknown, "state_mismatch", "state forged")
        .await;

    let (_, binding) = setup.start_sign_in().await;
    let state = binding
        .trim_start_matches("lk_oidc_")
        .split('=')
        .next()
        .unwrap()
        .to_string();
    let denied = format!(
        "{PUBLIC_URL}/sso/oidc/{}/callback?error=access_denied&error_description=User%20not%20assigned&state={state}",
        setup.connection
    );
    let refused = setup.callback(&denied, Some(&binding)).await;
    setup
        .assert_refused(
            "refused",
            &refused,
            "idp_error",
            "access_denied: User not assigned",
        )
        .await;
}

/// Garbage on the callback gets a clear page, never a 500.
#[tokio::test]
async fn bad_callback_input_is_refused_cleanly() {
    let setup = Setup::new().await;
    for query in [
        "",
        "?state=",
        "?code=%ZZ&state=%00",
        "?state[]=x",
        "?error=x",
    ] {
        let url = format!("{PUBLIC_URL}/sso/oidc/{}/callback{query}", setup.connection);
        let response = setup.callback(&url, None).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            response.body
        );
    }
    let unknown = setup
        .callback(
            &format!("{PUBLIC_URL}/sso/oidc/not-a-connection/callback?code=1&state=2"),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// A member deactivated in Latchkey (by an admin or SCIM) is refused even
/// though the provider vouches for them.
#[tokio::test]
async fn a_deactivated_member_is_refused() {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let setup = Setup::new().await;
    let mut member = user::Entity::find()
        .filter(user::Column::Email.eq(MEMBER_EMAIL))
        .one(&setup.app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    member.active = Set(false);
    member.update(&setup.app.db).await.unwrap();

    let refused = setup.sign_in_as(MEMBER_EMAIL, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.session_cookie().is_none());
    let event = setup.app.last_sso_event().await;
    assert_eq!(event.code.as_deref(), Some("user_deactivated"));
    assert!(refused.body.contains(&event.reference));
}

/// Login CSRF: the binding cookie's value is checked, not only its name. A
/// callback carrying a cookie named after the state but holding `1` (what the
/// cookie used to hold) or another browser's secret is refused; the browser
/// that started the sign-in, with its secret, gets in.
#[tokio::test]
async fn callback_needs_the_starting_browsers_secret_not_just_its_cookie_name() {
    let setup = Setup::new().await;
    let (_, someone_elses) = setup.start_sign_in().await;
    let someone_elses_secret = someone_elses.split_once('=').unwrap().1.to_string();
    for forged_value in ["1".to_string(), someone_elses_secret] {
        let (authorize, binding) = setup.start_sign_in().await;
        let (name, secret) = binding.split_once('=').unwrap();
        assert_eq!(secret.len(), 43, "32 random bytes: {binding}");
        let back = setup
            .provider
            .sign_in(&authorize, "someone@acme.test")
            .await;
        let forged = format!("{name}={forged_value}");
        let refused = setup.callback(&back, Some(&forged)).await;
        setup
            .assert_refused(&forged, &refused, "state_mismatch", "different secret")
            .await;
    }
    let signed_in = setup.sign_in_as("someone@acme.test", None).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
}

impl Setup {
    /// A sign-in the account rules refused (the IdP vouched for the person):
    /// 403, nobody signed in, and the event's code.
    async fn assert_account_refused(&self, response: &TestResponse, code: &str) {
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{}", response.body);
        assert!(response.session_cookie().is_none());
        let event = self.app.last_sso_event().await;
        assert_eq!((event.success, event.code.as_deref()), (false, Some(code)));
        assert!(response.body.contains(&event.reference));
    }

    async fn user(&self, email: &str) -> Option<user::Model> {
        user::Entity::find()
            .filter(user::Column::EmailNormalized.eq(email))
            .one(&self.app.db)
            .await
            .unwrap()
    }

    /// "Link my SSO identity" as the admin, signing in at the provider as `login`.
    async fn link_as(&self, login: &str) -> TestResponse {
        let started = self
            .app
            .call_json(
                "link_sso_identity",
                json!({ "connection_id": self.connection }),
                Some(&self.admin),
            )
            .await;
        let (authorize, binding) = started_at_provider(&started);
        let back = self.provider.sign_in(&authorize, login).await;
        self.callback(&back, Some(&binding)).await
    }

    async fn my_identity(&self, session: &str) -> Value {
        self.app
            .call_json(
                "my_sso_identity",
                json!({ "connection_id": self.connection }),
                Some(session),
            )
            .await
            .json()
    }
}

/// The provider's subject, not the email, picks the account once it signed in:
/// someone new who is given an old address (another subject, same email) is
/// refused instead of opening the old account.
#[tokio::test]
async fn an_email_given_to_a_new_person_does_not_open_the_old_account() {
    let setup = Setup::new().await;
    // Login "ada": subject "ada", email ada@initech.test.
    let first = setup.sign_in_as("ada", None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let ada = setup.user("ada@initech.test").await.expect("created");

    // Login "ada@initech.test": another subject with the same email.
    let newcomer = setup.sign_in_as("ada@initech.test", None).await;
    setup
        .assert_account_refused(&newcomer, "identity_conflict")
        .await;
    let event = setup.app.last_sso_event().await;
    assert_eq!(
        (event.expected.as_deref(), event.received.as_deref()),
        (
            Some("ada@initech.test signs in through this connection as ada"),
            Some("ada@initech.test for ada@initech.test")
        )
    );

    let again = setup.sign_in_as("ada", None).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let me = setup
        .app
        .call("whoami", "", Some(&again.session_cookie().unwrap()))
        .await
        .json();
    assert_eq!(me["user_id"], ada.id.to_string());
}

/// SSO never takes over an Integrations Admin who has a password: the admin
/// links their identity from their own session first, and only that identity
/// signs them in.
#[tokio::test]
async fn an_admin_with_a_password_is_signed_in_by_sso_only_after_linking() {
    let setup = Setup::new().await;
    let before = setup.sign_in_as(ADMIN_EMAIL, None).await;
    setup
        .assert_account_refused(&before, "admin_link_required")
        .await;
    assert_eq!(setup.my_identity(&setup.admin).await, Value::Null);

    // A member cannot start a link; the admin can.
    let member = setup.app.session_for(MEMBER_EMAIL).await;
    let refused = setup
        .app
        .call_json(
            "link_sso_identity",
            json!({ "connection_id": setup.connection }),
            Some(&member),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let linked = setup.link_as("admin-at-idp").await;
    assert_eq!(linked.status, StatusCode::SEE_OTHER, "{}", linked.body);
    assert_eq!(
        linked.header("location"),
        Some(format!("/settings/authentication?connection={}", setup.connection).as_str())
    );
    assert!(linked.session_cookie().is_none(), "a link signs nobody in");
    assert_eq!(setup.my_identity(&setup.admin).await, json!("admin-at-idp"));
    let audit = setup.app.audit().await;
    assert!(
        audit
            .iter()
            .any(|(action, _, actor)| action == "sso_identity_linked" && actor == ADMIN_EMAIL),
        "{audit:?}"
    );

    // The linked subject signs the admin in; an IdP account that merely
    // carries the admin's email still does not.
    let after = setup.sign_in_as("admin-at-idp", None).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "{}", after.body);
    let me = setup
        .app
        .call("whoami", "", Some(&after.session_cookie().unwrap()))
        .await
        .json();
    assert_eq!(me["email"], ADMIN_EMAIL);
    let impostor = setup.sign_in_as(ADMIN_EMAIL, None).await;
    setup
        .assert_account_refused(&impostor, "identity_conflict")
        .await;
}

/// An account SCIM deleted is not created again by an SSO sign-in; SCIM
/// creating it again lifts that.
#[tokio::test]
async fn an_account_scim_deleted_is_not_brought_back_by_sso() {
    let setup = Setup::new().await;
    assert_eq!(
        setup.sign_in_as("ada", None).await.status,
        StatusCode::SEE_OTHER
    );
    let ada = setup.user("ada@initech.test").await.unwrap();
    let (scim, token) = setup.app.enable_scim().await;
    let deleted = setup
        .app
        .scim(
            "DELETE",
            scim,
            &format!("/Users/{}", ada.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);

    let refused = setup.sign_in_as("ada", None).await;
    setup.assert_account_refused(&refused, "user_deleted").await;
    assert!(setup.user("ada@initech.test").await.is_none());

    let created = setup
        .app
        .scim(
            "POST",
            scim,
            "/Users",
            Some(&token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@initech.test",
                "name": { "givenName": "Ada", "familyName": "Lovelace" },
                "active": true
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let back = setup.sign_in_as("ada", None).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
}
