//! Email domains and "Sign in with SSO": a domain routes members to an
//! organization's identity provider only after that organization proved it
//! controls the domain (a TXT record `_latchkey-challenge.<domain>` holding the
//! claim's token). Anything else gets one answer that reveals nothing about
//! which organizations exist or claim what.

mod common;

use axum::http::StatusCode;
use common::*;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{json, Value};
use server::accounts::{self, NewUser};
use server::audit::Actor;
use server::entities::audit_event;
use shared::connection::AuthenticationOverview;
use shared::domain::{DomainCheckFailure, DomainClaim, DomainStatus};
use shared::Role;

const GLOBEX_ADMIN: &str = "hank@globex.test";
const CHALLENGE: &str = "_latchkey-challenge.acme.test";

/// An active, saved SAML connection for the admin's organization.
async fn saml_connection(app: &TestApp, admin: &str) {
    let created = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": "saml", "provider": "okta", "display_name": "" } }),
            Some(admin),
        )
        .await
        .json();
    let id = created["summary"]["id"].as_str().unwrap();
    let cert = include_str!("fixtures/saml/keys/idp.crt");
    let saved = app
        .call_json(
            "save_saml_connection",
            json!({ "id": id, "form": {
                "provider": "okta", "display_name": "", "sso_url": "https://idp.example.com/app/sso",
                "entity_id": "http://idp.example.com/exk1", "certificates_pem": cert,
                "mapping": created["saml"]["mapping"]
            }}),
            Some(admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
}

/// A second organization, `globex`, with its own Integrations Admin: the
/// attacker, or a rival claimant, in these tests.
async fn globex(app: &TestApp) -> String {
    accounts::create_organization(&app.db, "globex", "Globex", Actor::Cli)
        .await
        .unwrap();
    accounts::create_user(
        &app.db,
        NewUser {
            org_slug: "globex".into(),
            email: GLOBEX_ADMIN.into(),
            first_name: "Hank".into(),
            last_name: "Scorpio".into(),
            role: Role::IntegrationsAdmin,
            password: Some(PASSWORD.into()),
            source: shared::members::MemberSource::Manual,
        },
        Actor::Cli,
    )
    .await
    .unwrap();
    app.session_for(GLOBEX_ADMIN).await
}

async fn add_domain(app: &TestApp, admin: &str, domain: &str) -> TestResponse {
    app.call_json("add_org_domain", json!({ "domain": domain }), Some(admin))
        .await
}

async fn verify_domain(app: &TestApp, admin: &str, domain: &str) -> TestResponse {
    app.call_json(
        "verify_org_domain",
        json!({ "domain": domain }),
        Some(admin),
    )
    .await
}

/// The claim of `domain` in an overview the server returned.
fn claim(response: &TestResponse, domain: &str) -> DomainClaim {
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let overview: AuthenticationOverview = serde_json::from_value(response.json()).unwrap();
    overview
        .domains
        .into_iter()
        .find(|c| c.domain == domain)
        .unwrap_or_else(|| panic!("{domain} is not in {}", response.body))
}

/// Claims `domain` and returns the claim as the page shows it.
async fn claimed(app: &TestApp, admin: &str, domain: &str) -> DomainClaim {
    claim(&add_domain(app, admin, domain).await, domain)
}

fn start_sso(email: &str) -> String {
    url_encode(&[("email", email), ("next", "/settings/authentication")])
}

async fn sso_for(app: &TestApp, email: &str) -> TestResponse {
    app.call("start_sso", &start_sso(email), None).await
}

fn routes_to_idp(response: &TestResponse) -> bool {
    response
        .header("location")
        .is_some_and(|l| l.starts_with("https://idp.example.com/app/sso?SAMLRequest="))
}

/// Domain audit rows as `(action, outcome, detail)`, oldest first.
async fn domain_audit(app: &TestApp) -> Vec<(String, String, Value)> {
    audit_event::Entity::find()
        .order_by_asc(audit_event::Column::CreatedAt)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("domain_"))
        .map(|e| {
            (
                e.action,
                e.outcome,
                serde_json::from_str(&e.detail).unwrap(),
            )
        })
        .collect()
}

/// The attack: an organization claims a domain it does not own and sets up a
/// working IdP. Without the DNS proof the domain routes nothing, and the answer
/// is byte for byte the one for a domain nobody claims.
#[tokio::test]
async fn an_unverified_claim_routes_nothing() {
    let app = TestApp::spawn().await.with_acme().await;
    let attacker = globex(&app).await;
    saml_connection(&app, &attacker).await;
    let unknown = sso_for(&app, "someone@nobody.test").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);

    let claim = claimed(&app, &attacker, "acme.test").await;
    assert_eq!(claim.status, DomainStatus::Pending);

    let victim = sso_for(&app, "ceo@acme.test").await;
    assert_eq!(victim.status, StatusCode::NOT_FOUND);
    assert_eq!(victim.header("location"), None);
    assert_eq!(victim.body, unknown.body);
}

/// A verified domain routes to the IdP; an unknown domain, a claimed but
/// unverified one, and a verified one without SSO all read the same.
#[tokio::test]
async fn sign_in_with_sso_routes_by_verified_email_domain() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let unknown = sso_for(&app, "someone@acme.test").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);

    // Claimed as typed; stored normalized.
    let claim = claim_of(add_domain(&app, &admin, " @ACME.test ").await);
    assert_eq!(claim.record_name, CHALLENGE);
    saml_connection(&app, &admin).await;
    let pending = sso_for(&app, "someone@acme.test").await;
    assert_eq!(pending.status, StatusCode::NOT_FOUND);
    assert_eq!(pending.body, unknown.body);

    app.dns.publish_txt(CHALLENGE, &[&claim.record_value]);
    let verified = claim_of(verify_domain(&app, &admin, "acme.test").await);
    assert_eq!(verified.status, DomainStatus::Verified);
    let routed = sso_for(&app, "Someone@ACME.test").await;
    assert!(
        routes_to_idp(&routed),
        "{} {:?}",
        routed.status,
        routed.header("location")
    );
    assert!(routed
        .header("location")
        .unwrap()
        .contains("RelayState=_lk"));
    // Before the WASM loads (or with scripts off) the button posts the sign-in
    // form, password field included, to the same function: a real redirect.
    let form = url_encode(&[
        ("email", "someone@acme.test"),
        ("password", ""),
        ("next", "/settings"),
    ]);
    let posted = app
        .send(
            axum::http::Request::post("/api/start_sso")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html,application/xhtml+xml")
                .header("sec-fetch-site", "same-origin")
                .header("referer", "http://127.0.0.1:3000/login")
                .body(axum::body::Body::from(form))
                .unwrap(),
        )
        .await;
    assert_eq!(posted.status, StatusCode::FOUND, "{}", posted.body);
    assert!(routes_to_idp(&posted), "{:?}", posted.header("location"));

    // Verified, but no active connection: still the neutral answer.
    let other = TestApp::spawn().await.with_acme().await;
    let other_admin = other.session_for(ADMIN_EMAIL).await;
    let claim = claimed(&other, &other_admin, "acme.test").await;
    other.dns.publish_txt(CHALLENGE, &[&claim.record_value]);
    verify_domain(&other, &other_admin, "acme.test").await;
    let no_connection = sso_for(&other, "someone@acme.test").await;
    assert_eq!(no_connection.status, StatusCode::NOT_FOUND);
    assert_eq!(no_connection.body, unknown.body);
}

fn claim_of(response: TestResponse) -> DomainClaim {
    claim(&response, "acme.test")
}

/// Verify with no record published: the claim stays pending, says what was
/// looked up and when, and the failed check is audited.
#[tokio::test]
async fn verify_without_the_txt_record_stays_pending_with_the_reason() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let claim = claimed(&app, &admin, "acme.test").await;
    assert_eq!(claim.checked_at, None);
    assert_eq!(claim.last_failure, None);

    let checked = claim_of(verify_domain(&app, &admin, "acme.test").await);
    assert_eq!(checked.status, DomainStatus::Pending);
    assert!(checked.checked_at.is_some());
    assert_eq!(checked.verified_at, None);
    assert_eq!(checked.last_failure, Some(DomainCheckFailure::NoRecord));
    assert_eq!(
        checked.failure_message().as_deref(),
        Some("No TXT record found at _latchkey-challenge.acme.test")
    );
    // The page shows the same after a reload.
    let overview = app
        .call_json("get_authentication_overview", json!({}), Some(&admin))
        .await;
    assert_eq!(claim_of(overview), checked);

    let audit = domain_audit(&app).await;
    let (action, outcome, detail) = audit.last().unwrap();
    assert_eq!(
        (action.as_str(), outcome.as_str()),
        ("domain_verification", "failure")
    );
    assert_eq!(
        detail,
        &json!({ "domain": "acme.test", "record": CHALLENGE, "reason": "txt_record_missing" })
    );
    assert!(routes_nothing(&app).await);
}

async fn routes_nothing(app: &TestApp) -> bool {
    sso_for(app, "someone@acme.test").await.status == StatusCode::NOT_FOUND
}

/// A record with another value (a typo, or another claim's token): pending,
/// with what was found and what was expected.
#[tokio::test]
async fn verify_with_a_wrong_value_shows_found_and_expected() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    saml_connection(&app, &admin).await;
    let claim = claimed(&app, &admin, "acme.test").await;
    app.dns.publish_txt(CHALLENGE, &["lkverify_0000"]);

    let checked = claim_of(verify_domain(&app, &admin, "acme.test").await);
    assert_eq!(checked.status, DomainStatus::Pending);
    assert_eq!(
        checked.last_failure,
        Some(DomainCheckFailure::WrongValue {
            found: vec!["lkverify_0000".into()]
        })
    );
    assert_eq!(
        checked.failure_message().unwrap(),
        format!("Found 'lkverify_0000', expected '{}'", claim.record_value)
    );
    let (action, outcome, detail) = domain_audit(&app).await.pop().unwrap();
    assert_eq!(
        (action.as_str(), outcome.as_str()),
        ("domain_verification", "failure")
    );
    assert_eq!(detail["reason"], "txt_record_mismatch");
    assert_eq!(detail["found"], json!(["lkverify_0000"]));
    assert!(routes_nothing(&app).await);
}

/// A DNS failure (timeout, SERVFAIL) proves nothing either way: pending, with the reason.
#[tokio::test]
async fn verify_when_dns_fails_stays_pending_and_says_why() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    claimed(&app, &admin, "acme.test").await;
    app.dns
        .fail(CHALLENGE, "the DNS server did not answer in time");

    let checked = claim_of(verify_domain(&app, &admin, "acme.test").await);
    assert_eq!(checked.status, DomainStatus::Pending);
    assert_eq!(
        checked.last_failure,
        Some(DomainCheckFailure::LookupFailed {
            detail: "the DNS server did not answer in time".into()
        })
    );
    let (_, outcome, detail) = domain_audit(&app).await.pop().unwrap();
    assert_eq!(outcome, "failure");
    assert_eq!(detail["reason"], "dns_lookup_failed");
}

/// The right record verifies the claim, clears the last failure, is audited,
/// and from then on the domain routes.
#[tokio::test]
async fn verify_with_the_right_value_verifies_and_routes() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    saml_connection(&app, &admin).await;
    let claim = claimed(&app, &admin, "acme.test").await;
    verify_domain(&app, &admin, "acme.test").await;
    // Records published next to others, as at a real zone apex.
    app.dns
        .publish_txt(CHALLENGE, &["v=spf1 -all", &claim.record_value]);

    let verified = claim_of(verify_domain(&app, &admin, "acme.test").await);
    assert_eq!(verified.status, DomainStatus::Verified);
    assert!(verified.verified_at.is_some());
    assert_eq!(verified.last_failure, None);
    assert!(routes_to_idp(&sso_for(&app, "grace@acme.test").await));

    let audit = domain_audit(&app).await;
    let outcomes: Vec<(&str, &str)> = audit
        .iter()
        .map(|(a, o, _)| (a.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("domain_added", "success"),
            ("domain_verification", "failure"),
            ("domain_verification", "success"),
        ]
    );
    assert_eq!(
        audit[2].2,
        json!({ "domain": "acme.test", "record": CHALLENGE })
    );
}

/// Several organizations may hold pending claims of a domain; the first to
/// verify wins. The other claim can then neither verify (even with its own
/// token published) nor route; a new claim is refused; both refusals are
/// audited. When the winner gives the domain up, the other claim is pending again.
#[tokio::test]
async fn a_domain_verified_by_one_organization_cannot_be_claimed_or_verified_by_another() {
    let app = TestApp::spawn().await.with_acme().await;
    let acme = app.session_for(ADMIN_EMAIL).await;
    let rival = globex(&app).await;
    saml_connection(&app, &acme).await;

    let rival_claim = claimed(&app, &rival, "acme.test").await;
    let acme_claim = claimed(&app, &acme, "acme.test").await;
    assert_ne!(rival_claim.record_value, acme_claim.record_value);
    // Both tokens are in DNS (the rival talked someone into adding theirs too).
    app.dns.publish_txt(
        CHALLENGE,
        &[&acme_claim.record_value, &rival_claim.record_value],
    );

    let won = claim_of(verify_domain(&app, &acme, "acme.test").await);
    assert_eq!(won.status, DomainStatus::Verified);
    let lost = claim_of(verify_domain(&app, &rival, "acme.test").await);
    assert_eq!(lost.status, DomainStatus::VerifiedElsewhere);
    assert_eq!(lost.verified_at, None);

    let removed = app
        .call_json(
            "remove_org_domain",
            json!({ "domain": "acme.test" }),
            Some(&rival),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    let refused = add_domain(&app, &rival, "acme.test").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.json()["Invalid"][0]["code"], "domain_taken");

    // The domain still routes to the organization that proved it.
    let routed = sso_for(&app, "grace@acme.test").await;
    assert!(routes_to_idp(&routed));

    let refusals: Vec<Value> = domain_audit(&app)
        .await
        .into_iter()
        .filter(|(_, outcome, _)| outcome == "failure")
        .map(|(action, _, detail)| json!({ "action": action, "detail": detail }))
        .collect();
    assert_eq!(
        refusals,
        [
            json!({ "action": "domain_verification", "detail": { "domain": "acme.test", "reason": "domain_taken" } }),
            json!({ "action": "domain_added", "detail": { "domain": "acme.test", "reason": "domain_taken" } }),
        ]
    );

    // The winner gives the domain up: the rival may claim and prove it now.
    app.call_json(
        "remove_org_domain",
        json!({ "domain": "acme.test" }),
        Some(&acme),
    )
    .await;
    let reclaimed = claimed(&app, &rival, "acme.test").await;
    assert_eq!(reclaimed.status, DomainStatus::Pending);
    app.dns.publish_txt(CHALLENGE, &[&reclaimed.record_value]);
    let now_rivals = claim_of(verify_domain(&app, &rival, "acme.test").await);
    assert_eq!(now_rivals.status, DomainStatus::Verified);
}

/// Each claim has its own token, and an organization sees only its own.
#[tokio::test]
async fn claim_tokens_are_per_claim_and_shown_only_to_that_organization() {
    let app = TestApp::spawn().await.with_acme().await;
    let acme = app.session_for(ADMIN_EMAIL).await;
    let rival = globex(&app).await;
    let acme_claim = claimed(&app, &acme, "acme.test").await;
    let rival_claim = claimed(&app, &rival, "acme.test").await;
    assert!(acme_claim.record_value.starts_with("lkverify_"));
    assert_ne!(acme_claim.record_value, rival_claim.record_value);

    let rival_view = app
        .call_json("get_authentication_overview", json!({}), Some(&rival))
        .await;
    assert!(!rival_view.body.contains(&acme_claim.record_value));
    let member = app.session_for(MEMBER_EMAIL).await;
    let refused = app
        .call_json("get_authentication_overview", json!({}), Some(&member))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains(&acme_claim.record_value));
    assert_eq!(
        verify_domain(&app, &member, "acme.test").await.status,
        StatusCode::FORBIDDEN
    );
}

/// Public mail services and malformed domains are refused with a reason, a
/// second claim of the same domain says it is already listed, and members
/// cannot claim domains at all.
#[tokio::test]
async fn domains_are_validated_and_only_admins_claim_them() {
    let app = TestApp::spawn().await.with_acme().await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    for (domain, code) in [
        ("gmail.com", "public_domain"),
        ("https://acme.test", "invalid_domain"),
        ("", "required"),
    ] {
        let refused = add_domain(&app, &admin, domain).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{domain}");
        assert_eq!(refused.json()["Invalid"][0]["code"], code, "{domain}");
    }
    claimed(&app, &admin, "acme.test").await;
    let again = add_domain(&app, &admin, "ACME.test").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.json()["Invalid"][0]["code"], "domain_already_added");
    let unknown = verify_domain(&app, &admin, "other.test").await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["Invalid"][0]["code"], "domain_not_claimed");

    let member = app.session_for(MEMBER_EMAIL).await;
    assert_eq!(
        add_domain(&app, &member, "members.test").await.status,
        StatusCode::FORBIDDEN
    );

    let removed = app
        .call_json(
            "remove_org_domain",
            json!({ "domain": "ACME.test" }),
            Some(&admin),
        )
        .await;
    let overview: AuthenticationOverview = serde_json::from_value(removed.json()).unwrap();
    assert_eq!(overview.domains, []);
    let actions: Vec<String> = domain_audit(&app)
        .await
        .into_iter()
        .map(|(a, ..)| a)
        .collect();
    assert_eq!(actions, ["domain_added", "domain_removed"]);
}

/// Claims made before verification existed were never proven: the migration
/// keeps them as pending claims, each with its own fresh token, routing nothing.
#[tokio::test]
async fn claims_made_before_verification_become_pending() {
    use migrations::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};
    let dir = tempfile::tempdir().unwrap();
    let db = empty_database(dir.path()).await;
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let ours = names
        .iter()
        .position(|n| n == "m20261203_000040_domain_verification")
        .expect("the migration is registered");
    Migrator::up(&db, Some(ours as u32)).await.unwrap();
    let org = accounts::create_organization(&db, "acme", "Acme Inc.", Actor::Cli)
        .await
        .unwrap();
    let backend = db.get_database_backend();
    for domain in ["acme.test", "acme.example"] {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => {
                    "INSERT INTO org_domains (domain, org_id, created_at) VALUES ($1, $2, $3)"
                }
                _ => "INSERT INTO org_domains (domain, org_id, created_at) VALUES (?, ?, ?)",
            },
            [domain.into(), org.id.into(), chrono::Utc::now().into()],
        ))
        .await
        .unwrap();
    }
    Migrator::up(&db, Some(1)).await.unwrap();

    let claims = server::domains::store::claims(&db, org.id).await.unwrap();
    assert_eq!(claims.len(), 2);
    assert!(claims.iter().all(|c| c.status == DomainStatus::Pending));
    assert!(claims
        .iter()
        .all(|c| c.record_value.len() == "lkverify_".len() + 32
            && c.record_value.starts_with("lkverify_")));
    assert_ne!(claims[0].record_value, claims[1].record_value);
    assert_eq!(
        server::domains::store::verified_owner(&db, "acme.test")
            .await
            .unwrap(),
        None
    );
}
