//! The directory event feed and webhooks (SPEC §14), fed real SCIM changes
//! and delivered to a real HTTP receiver on loopback that checks each
//! signature the way a host app must, fails when told to, and records order.

mod common;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use server::provider::apps::{self, NewApp};
use server::provider::webhooks::{signature, Dispatcher, RetryPolicy};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A host app's webhook endpoint: verifies signatures, answers 500 while told
/// to fail, and keeps every verified body in arrival order.
#[derive(Clone, Default)]
struct Receiver {
    secret: Arc<Mutex<String>>,
    fail_next: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let receiver = self.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let receiver = receiver.clone();
                async move { receiver.take(&headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}/hook")
    }

    fn take(&self, headers: &HeaderMap, body: &str) -> StatusCode {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let presented = headers
            .get("latchkey-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let timestamp: i64 = presented
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_default();
        let expected = signature(&self.secret.lock().unwrap(), timestamp, body);
        let fresh = (chrono::Utc::now().timestamp() - timestamp).abs() < 300;
        if presented != expected || !fresh {
            return StatusCode::UNAUTHORIZED;
        }
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        self.received
            .lock()
            .unwrap()
            .push(serde_json::from_str(body).unwrap());
        StatusCode::NO_CONTENT
    }

    fn types(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[("LATCHKEY_ALLOW_PRIVATE_URLS", "true")])
        .await
        .with_acme()
        .await
}

/// Registers an app whose webhook is `receiver`; returns its credentials.
async fn register(app: &TestApp, receiver: &Receiver) -> apps::Credentials {
    let url = receiver.start().await;
    let created = app
        .register_app(&["https://app.example.com/callback"], Some(url))
        .await;
    *receiver.secret.lock().unwrap() = created.webhook_secret.clone();
    created
}

/// Retries at once, so a test need not wait out the backoff.
/// A running app with SCIM on and a host app whose webhooks reach the receiver:
/// where every provisioning-event test starts. (app, receiver, the host app's
/// credentials, the SCIM connection, its token)
async fn hooked() -> (TestApp, Receiver, apps::Credentials, uuid::Uuid, String) {
    let app = spawn().await;
    let receiver = Receiver::default();
    let credentials = register(&app, &receiver).await;
    let (connection, token) = app.enable_scim().await;
    (app, receiver, credentials, connection, token)
}

fn dispatcher(app: &TestApp) -> Dispatcher {
    let mut dispatcher = app.state.webhook_dispatcher();
    dispatcher.retry = RetryPolicy {
        first_wait: chrono::Duration::zero(),
        ..RetryPolicy::default()
    };
    dispatcher
}

async fn scim_user(app: &TestApp, connection: uuid::Uuid, token: &str, email: &str) -> String {
    let response = app
        .scim(
            "POST",
            connection,
            "/Users",
            Some(token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "name": { "givenName": "Grace", "familyName": "Hopper" },
                "active": true,
            })),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    response.json()["id"].as_str().unwrap().to_string()
}

/// Deactivates user `id` over SCIM; the resource the PATCH answers.
async fn deactivate(app: &TestApp, connection: uuid::Uuid, token: &str, id: &str) -> Value {
    let response = app
        .scim(
            "PATCH",
            connection,
            &format!("/Users/{id}"),
            Some(token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "path": "active", "value": false }],
            })),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()
}

async fn app_token(app: &TestApp, client_id: &str, client_secret: &str) -> String {
    let form = [("grant_type", "client_credentials"), ("scope", "directory")];
    let response = app
        .token_request(Some((client_id, client_secret)), &form)
        .await;
    response.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_change_is_in_the_feed_and_reaches_the_webhook_signed_and_in_order() {
    let (app, receiver, credentials, connection, token) = hooked().await;
    let grace = scim_user(&app, connection, &token, "grace@acme.test").await;
    let group = app
        .scim(
            "POST",
            connection,
            "/Groups",
            Some(&token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{ "value": grace }],
            })),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    deactivate(&app, connection, &token, &grace).await;
    let deleted = app
        .scim(
            "DELETE",
            connection,
            &format!("/Users/{grace}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let expected = [
        "user.created",
        "group.created",
        "group.user_added",
        "user.deactivated",
        "user.deleted",
    ];

    // The feed, in two pages.
    let bearer = app_token(&app, &credentials.client_id, &credentials.client_secret).await;
    let feed = |after: String| {
        let request = Request::get(format!("/api/v1/events?limit=3&after={after}"))
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .body(Body::empty())
            .unwrap();
        app.send(request)
    };
    // The feed holds everything since the start (acme's two accounts first), in pages.
    let mut pages = vec![feed("0".into()).await.json()];
    while !pages.last().unwrap()["data"].as_array().unwrap().is_empty() {
        let cursor = pages.last().unwrap()["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        pages.push(feed(cursor).await.json());
    }
    let types: Vec<&str> = pages
        .iter()
        .flat_map(|page| page["data"].as_array().unwrap())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[..2], ["user.created", "user.created"]);
    assert_eq!(types[2..], expected);
    let (last, before) = (&pages[pages.len() - 1], &pages[pages.len() - 2]);
    assert_eq!(
        last["next_cursor"], before["next_cursor"],
        "an empty page keeps the cursor"
    );
    let created = &pages[0]["data"][2];
    assert_eq!(created["organization"]["slug"], "acme");
    assert_eq!(created["data"]["email"], "grace@acme.test");
    assert_eq!(created["data"]["id"], json!(grace));

    // The webhook: the receiver is down for the first two attempts.
    receiver.fail_next.store(2, Ordering::SeqCst);
    let dispatcher = dispatcher(&app);
    for _ in 0..5 {
        dispatcher.tick().await.unwrap();
    }
    assert_eq!(
        receiver.types(),
        expected,
        "every event once, in order, after the retries"
    );
    assert_eq!(receiver.attempts.load(Ordering::SeqCst), expected.len() + 2);
    let delivered = receiver.received.lock().unwrap()[0].clone();
    assert_eq!(delivered, *created, "the webhook body is the feed's event");
}

#[tokio::test]
async fn a_failing_event_holds_back_its_organizations_later_events_and_the_failure_is_visible() {
    let (app, receiver, credentials, connection, token) = hooked().await;
    scim_user(&app, connection, &token, "one@acme.test").await;
    scim_user(&app, connection, &token, "two@acme.test").await;
    receiver.fail_next.store(usize::MAX, Ordering::SeqCst);
    let mut dispatcher = app.state.webhook_dispatcher();
    let report = dispatcher.tick().await.unwrap();
    assert_eq!(
        (report.fanned_out, report.delivered, report.failed_attempts),
        (2, 0, 1)
    );
    // Waiting on the backoff: nothing more is tried, and nothing overtakes.
    let report = dispatcher.tick().await.unwrap();
    assert_eq!((report.delivered, report.failed_attempts), (0, 0));
    assert_eq!(receiver.attempts.load(Ordering::SeqCst), 1);

    let status = server::provider::webhooks::status(&app.db).await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].client_id, credentials.client_id);
    assert_eq!(
        (status[0].pending, status[0].delivered, status[0].failed),
        (2, 0, 0)
    );
    assert_eq!(
        status[0].last_error.as_deref(),
        Some("the webhook answered HTTP 500")
    );

    // A day later it is given up, and the next event goes.
    dispatcher.retry.give_up_after = chrono::Duration::zero();
    dispatcher.retry.first_wait = chrono::Duration::zero();
    receiver.fail_next.store(1, Ordering::SeqCst);
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    for delivery in server::entities::webhook_delivery::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
    {
        let mut due: server::entities::webhook_delivery::ActiveModel = delivery.into();
        due.next_attempt_at = Set(chrono::Utc::now());
        due.update(&app.db).await.unwrap();
    }
    dispatcher.tick().await.unwrap();
    dispatcher.tick().await.unwrap();
    let status = server::provider::webhooks::status(&app.db).await.unwrap();
    assert_eq!(
        (status[0].pending, status[0].delivered, status[0].failed),
        (0, 1, 1)
    );
    assert_eq!(receiver.types(), ["user.created"]);
}

#[tokio::test]
async fn a_change_committed_before_a_crash_is_delivered_once_by_the_instances_that_remain() {
    let (app, receiver, _, connection, token) = hooked().await;
    // The change commits; the instance that made it dies before any delivery.
    for n in 0..3 {
        scim_user(&app, connection, &token, &format!("user{n}@acme.test")).await;
    }
    // An instance that claimed a delivery and died holds it only until its claim expires.
    let second = app
        .second_instance(&[("LATCHKEY_ALLOW_PRIVATE_URLS", "true")])
        .await;
    let third = app
        .second_instance(&[("LATCHKEY_ALLOW_PRIVATE_URLS", "true")])
        .await;
    let (a, b) = (dispatcher(&second), dispatcher(&third));
    for _ in 0..3 {
        let (x, y) = tokio::join!(a.tick(), b.tick());
        x.unwrap();
        y.unwrap();
    }
    assert_eq!(
        receiver.types(),
        ["user.created"; 3],
        "each event exactly once"
    );
    assert_eq!(receiver.attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_new_app_is_not_sent_the_past_and_an_app_without_a_webhook_is_sent_nothing() {
    let app = spawn().await;
    let (connection, token) = app.enable_scim().await;
    scim_user(&app, connection, &token, "before@acme.test").await;
    let receiver = Receiver::default();
    register(&app, &receiver).await;
    let plain = NewApp {
        name: "No hooks".into(),
        redirect_uris: vec!["https://app.example.com/cb".into()],
        webhook_url: None,
        ..Default::default()
    };
    apps::create(&app.db, &app.state.secrets, plain, false)
        .await
        .unwrap();
    scim_user(&app, connection, &token, "after@acme.test").await;
    let report = dispatcher(&app).tick().await.unwrap();
    assert_eq!((report.fanned_out, report.delivered), (1, 1));
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["data"]["email"], "after@acme.test");
}

#[tokio::test]
async fn connection_changes_made_by_an_admin_are_events_too() {
    let app = spawn().await;
    let receiver = Receiver::default();
    register(&app, &receiver).await;
    let admin = app.session_for(ADMIN_EMAIL).await;
    let created = app
        .call_json(
            "create_connection",
            json!({ "new": { "protocol": "saml", "provider": "okta", "display_name": "Okta" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let id = created.json()["summary"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (function, body) in [
        (
            "set_connection_active",
            json!({ "id": id, "active": false }),
        ),
        ("set_connection_active", json!({ "id": id, "active": true })),
        ("delete_connection", json!({ "id": id })),
    ] {
        let response = app.call_json(function, body, Some(&admin)).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{function}: {}",
            response.body
        );
    }
    dispatcher(&app).tick().await.unwrap();
    assert_eq!(
        receiver.types(),
        [
            "connection.activated",
            "connection.deactivated",
            "connection.activated",
            "connection.deactivated",
        ]
    );
    let last = receiver.received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last["data"]["id"], json!(id));
    assert_eq!(last["data"]["protocol"], "saml");
}

/// An IdP that says again what is stored (a resync, a retried PATCH or PUT)
/// changes nothing: the user keeps its lastModified, and the host app is sent
/// no event.
#[tokio::test]
async fn a_scim_write_that_changes_nothing_is_not_an_event() {
    let (app, receiver, _, connection, token) = hooked().await;
    let grace = scim_user(&app, connection, &token, "grace@acme.test").await;
    deactivate(&app, connection, &token, &grace).await;
    let path = format!("/Users/{grace}");
    let stored = app.scim("GET", connection, &path, Some(&token), None).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);

    let again = deactivate(&app, connection, &token, &grace).await;
    let same_document = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace@acme.test",
        "name": { "givenName": "Grace", "familyName": "Hopper" },
        "active": false,
    });
    let put = app
        .scim("PUT", connection, &path, Some(&token), Some(same_document))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(again, stored.json());
    assert_eq!(put.json(), stored.json());

    let dispatcher = dispatcher(&app);
    for _ in 0..3 {
        dispatcher.tick().await.unwrap();
    }
    assert_eq!(receiver.types(), ["user.created", "user.deactivated"]);
}

#[tokio::test]
async fn a_group_write_is_an_event_only_for_what_it_changes() {
    let (app, receiver, _, connection, token) = hooked().await;
    let grace = scim_user(&app, connection, &token, "grace@acme.test").await;
    let ada = scim_user(&app, connection, &token, "ada@acme.test").await;
    let document = |name: &str, members: &[&str]| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": members.iter().map(|id| json!({ "value": id })).collect::<Vec<_>>(),
        })
    };
    let created = app
        .scim(
            "POST",
            connection,
            "/Groups",
            Some(&token),
            Some(document("Engineering", &[&grace])),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let path = format!("/Groups/{}", created.json()["id"].as_str().unwrap());
    let put = |doc: Value| app.scim("PUT", connection, &path, Some(&token), Some(doc));

    // A resync that says what is stored answers the stored group, untouched.
    let resync = put(document("Engineering", &[&grace])).await;
    assert_eq!(resync.status, StatusCode::OK, "{}", resync.body);
    assert_eq!(resync.json(), created.json());
    // Membership only: the membership events, no group.updated. (lastModified
    // counts milliseconds.)
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let joined = put(document("Engineering", &[&grace, &ada])).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert_ne!(
        joined.json()["meta"]["lastModified"],
        created.json()["meta"]["lastModified"]
    );
    // A rename: group.updated.
    let renamed = put(document("Platform", &[&grace, &ada])).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);

    let dispatcher = dispatcher(&app);
    for _ in 0..3 {
        dispatcher.tick().await.unwrap();
    }
    assert_eq!(
        receiver.types(),
        [
            "user.created",
            "user.created",
            "group.created",
            "group.user_added",
            "group.user_added",
            "group.updated",
        ]
    );
}
