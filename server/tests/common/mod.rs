//! A test harness: the real router over a real database, SQLite by default and
//! PostgreSQL when `TEST_DATABASE_URL` is set (each test gets its own database).
#![allow(dead_code)]

pub mod oidc_peer;
pub mod saml_idp;
pub mod scim;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use server::accounts::{self, NewUser};
use server::audit::Actor;
use server::config::Config;
use server::http::{router, AppState};
use shared::Role;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// The public URL test apps that meet a real IdP build their URLs from.
pub const PUBLIC_URL: &str = "http://127.0.0.1:3000";
pub const ADMIN_EMAIL: &str = "admin@acme.test";
pub const MEMBER_EMAIL: &str = "member@acme.test";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub db: DatabaseConnection,
    pub state: AppState,
    pub router: axum::Router,
    pub client: SocketAddr,
    /// What DNS answers when a domain is verified; nothing until a test publishes it.
    pub dns: Arc<TestDns>,
    _dir: tempfile::TempDir,
}

/// A DNS zone in memory for domain verification: tests publish TXT records (or
/// make the lookup fail) and the server's Verify reads them, with no network.
#[derive(Default)]
pub struct TestDns {
    answers: Mutex<HashMap<String, Result<Vec<String>, String>>>,
}

impl TestDns {
    /// Publishes TXT records at `name` (replacing any there).
    pub fn publish_txt(&self, name: &str, values: &[&str]) {
        let values = values.iter().map(|v| v.to_string()).collect();
        self.answers
            .lock()
            .unwrap()
            .insert(name.to_ascii_lowercase(), Ok(values));
    }

    /// Lookups of `name` fail, as when the DNS server times out.
    pub fn fail(&self, name: &str, reason: &str) {
        self.answers
            .lock()
            .unwrap()
            .insert(name.to_ascii_lowercase(), Err(reason.to_string()));
    }
}

#[async_trait::async_trait]
impl server::domains::dns::TxtLookup for TestDns {
    async fn txt(&self, name: &str) -> Result<Vec<String>, server::domains::dns::LookupFailed> {
        match self.answers.lock().unwrap().get(&name.to_ascii_lowercase()) {
            Some(Ok(values)) => Ok(values.clone()),
            Some(Err(reason)) => Err(server::domains::dns::LookupFailed(reason.clone())),
            None => Ok(Vec::new()),
        }
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestResponse {
    /// A sign-in refused: 400, and no session cookie set.
    pub fn assert_refused_without_session(&self) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.body);
        assert!(self.session_cookie().is_none());
    }

    /// The body as the error a server function answered with.
    pub fn app_error(&self) -> app::error::AppError {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not an AppError ({e}): {}", self.body))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The session cookie value the response sets, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("latchkey_session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_string())
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the app with extra configuration, e.g. `LATCHKEY_PUBLIC_URL`.
    pub async fn spawn_with(settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => fresh_postgres_database(&url).await,
            _ => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        };
        let config = Config::from_lookup(|name| {
            settings
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| match name {
                    "LATCHKEY_DATABASE_URL" => Some(database_url.clone()),
                    "LATCHKEY_DATA_DIR" => Some(dir.path().display().to_string()),
                    _ => None,
                })
        })
        .expect("config");
        let db = server::db::connect(&config.database_url)
            .await
            .expect("connect");
        server::db::migrate(&db).await.expect("migrate");
        let dns = Arc::new(TestDns::default());
        let state = AppState::with_dns(db.clone(), config, dns.clone()).expect("state");
        let router = router(state.clone());
        Self {
            db,
            state,
            router,
            client: "203.0.113.7:50000".parse().unwrap(),
            dns,
            _dir: dir,
        }
    }

    /// Changes the running app's state (a smaller verifier pool, say) and
    /// rebuilds the router over it.
    pub fn change_state(&mut self, change: impl FnOnce(&mut AppState)) {
        change(&mut self.state);
        self.router = router(self.state.clone());
    }

    /// Another instance of the app (its own router, state and connection pool)
    /// on this one's database, as behind a load balancer. `settings` override
    /// this instance's configuration.
    pub async fn second_instance(&self, settings: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = self.state.config.clone();
        let config = Config::from_lookup(|name| {
            settings
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| match name {
                    "LATCHKEY_DATABASE_URL" => Some(base.database_url.clone()),
                    "LATCHKEY_DATA_DIR" => Some(base.data_dir.display().to_string()),
                    "LATCHKEY_PUBLIC_URL" => Some(base.public_url.to_string()),
                    _ => None,
                })
        })
        .expect("config");
        let db = server::db::connect(&config.database_url)
            .await
            .expect("connect");
        let state = AppState::with_dns(db.clone(), config, self.dns.clone()).expect("state");
        let router = router(state.clone());
        TestApp {
            db,
            state,
            router,
            client: self.client,
            dns: self.dns.clone(),
            _dir: dir,
        }
    }

    /// The organization `acme` with an Integrations Admin and a Member.
    pub async fn with_acme(self) -> Self {
        accounts::create_organization(&self.db, "acme", "Acme Inc.", Actor::Cli)
            .await
            .expect("org");
        self.add_user(ADMIN_EMAIL, Role::IntegrationsAdmin).await;
        self.add_user(MEMBER_EMAIL, Role::Member).await;
        self
    }

    pub async fn add_user(&self, email: &str, role: Role) {
        accounts::create_user(
            &self.db,
            NewUser {
                org_slug: "acme".into(),
                email: email.into(),
                first_name: "Test".into(),
                last_name: "User".into(),
                role,
                password: Some(PASSWORD.into()),
                source: shared::members::MemberSource::Manual,
            },
            Actor::Cli,
        )
        .await
        .expect("user");
    }

    /// Registers the host app "Acme CRM" (private webhook addresses as this
    /// app's configuration allows) and returns its credentials.
    pub async fn register_app(
        &self,
        redirect_uris: &[&str],
        webhook_url: Option<String>,
    ) -> server::provider::apps::Credentials {
        let new = server::provider::apps::NewApp {
            name: "Acme CRM".into(),
            redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
            webhook_url,
            ..Default::default()
        };
        let allow_private = self.state.config.allow_private_urls;
        server::provider::apps::create(&self.db, &self.state.secrets, new, allow_private)
            .await
            .expect("app registered")
    }

    /// A form POSTed to the token endpoint, the client authenticated with
    /// HTTP Basic when `basic` names its (id, secret).
    pub async fn token_request(
        &self,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> TestResponse {
        use base64::Engine;
        let mut builder = Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some((id, secret)) = basic {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            builder = builder.header(header::AUTHORIZATION, format!("Basic {encoded}"));
        }
        let body = serde_urlencoded::to_string(form).unwrap();
        self.send(builder.body(Body::from(body)).unwrap()).await
    }

    /// The account with this email (the first, when several organizations have one).
    pub async fn account(&self, email: &str) -> server::accounts::Account {
        accounts::accounts_by_email(&self.db, email)
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("account")
    }

    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        request.extensions_mut().insert(ConnectInfo(self.client));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> TestResponse {
        let mut builder = Request::get(path).header(header::ACCEPT, "text/html");
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, format!("latchkey_session={cookie}"));
        }
        self.send(builder.body(Body::empty()).unwrap()).await
    }

    /// A server-function call as the WASM client makes it.
    pub async fn call(&self, function: &str, form: &str, cookie: Option<&str>) -> TestResponse {
        let mut builder = Request::post(format!("/api/{function}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin");
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, format!("latchkey_session={cookie}"));
        }
        self.send(builder.body(Body::from(form.to_string())).unwrap())
            .await
    }

    /// A JSON server-function call (the connection functions take JSON).
    pub async fn call_json(
        &self,
        function: &str,
        body: serde_json::Value,
        cookie: Option<&str>,
    ) -> TestResponse {
        let mut builder = Request::post(format!("/api/{function}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("sec-fetch-site", "same-origin");
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, format!("latchkey_session={cookie}"));
        }
        self.send(builder.body(Body::from(body.to_string())).unwrap())
            .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> TestResponse {
        self.call("login", &login_form(email, password), None).await
    }

    /// Signs in and returns the session cookie, failing the test otherwise.
    pub async fn session_for(&self, email: &str) -> String {
        let response = self.sign_in(email, PASSWORD).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        response.session_cookie().expect("session cookie")
    }

    /// Enables SCIM for `acme` as its admin; returns the connection id and the token.
    pub async fn enable_scim(&self) -> (uuid::Uuid, String) {
        self.enable_scim_for("acme").await
    }

    pub async fn enable_scim_for(&self, slug: &str) -> (uuid::Uuid, String) {
        let org = accounts::find_organization(&self.db, slug)
            .await
            .unwrap()
            .expect("organization");
        let admin = server::scim::connections::Admin {
            org_id: org.id,
            actor: Actor::Cli,
        };
        let (connection, token) =
            server::scim::connections::enable(&self.db, &admin, "okta", "Okta SCIM")
                .await
                .expect("enable SCIM");
        (connection.id, token)
    }

    /// The admin of `acme` as the SCIM connection functions take it.
    pub async fn scim_admin(&self) -> server::scim::connections::Admin {
        let org = accounts::find_organization(&self.db, "acme")
            .await
            .unwrap()
            .expect("organization");
        server::scim::connections::Admin {
            org_id: org.id,
            actor: Actor::Cli,
        }
    }

    /// A SCIM request to `/scim/v2/{connection}{path}` with a bearer token.
    pub async fn scim(
        &self,
        method: &str,
        connection: uuid::Uuid,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("/scim/v2/{connection}{path}"))
            .header(header::ACCEPT, "application/scim+json");
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/scim+json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    /// Makes acme a SAML connection (Okta, nothing filled in) and posts it a
    /// SAMLResponse that is not XML: a refused sign-in with a diagnosis.
    /// `request_id` is sent as `X-Request-Id`.
    pub async fn post_unreadable_saml_response(&self, request_id: Option<&str>) -> TestResponse {
        let admin = self.session_for(ADMIN_EMAIL).await;
        let created = self
            .call_json(
                "create_connection",
                serde_json::json!({ "new": { "protocol": "saml", "provider": "okta", "display_name": "" } }),
                Some(&admin),
            )
            .await
            .json();
        let acs = format!(
            "/sso/saml/{}/acs",
            created["summary"]["id"].as_str().unwrap()
        );
        let mut request =
            Request::post(acs).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        self.send(
            request
                .body(Body::from("SAMLResponse=bm90LXhtbA%3D%3D"))
                .unwrap(),
        )
        .await
    }

    /// The newest SSO sign-in or test event.
    pub async fn last_sso_event(&self) -> server::entities::sso_event::Model {
        use sea_orm::{EntityTrait, QueryOrder};
        use server::entities::sso_event;
        sso_event::Entity::find()
            .order_by_desc(sso_event::Column::CreatedAt)
            .one(&self.db)
            .await
            .unwrap()
            .expect("an event was recorded")
    }

    /// Audit rows as `(action, outcome, actor)`, oldest first.
    pub async fn audit(&self) -> Vec<(String, String, String)> {
        use sea_orm::{EntityTrait, QueryOrder};
        use server::entities::audit_event;
        audit_event::Entity::find()
            .order_by_asc(audit_event::Column::CreatedAt)
            .all(&self.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.outcome, e.actor))
            .collect()
    }
}

pub fn login_form(email: &str, password: &str) -> String {
    url_encode(&[("email", email), ("password", password), ("next", "/")])
}

pub fn url_encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// An empty database of its own, not migrated: SQLite in `dir`, or a fresh
/// PostgreSQL database when `TEST_DATABASE_URL` is set.
pub async fn empty_database(dir: &std::path::Path) -> DatabaseConnection {
    let url = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => fresh_postgres_database(&url).await,
        _ => format!("sqlite://{}?mode=rwc", dir.join("empty.db").display()),
    };
    server::db::connect(&url).await.expect("connect")
}

async fn fresh_postgres_database(admin_url: &str) -> String {
    let name = format!("lk_t_{}", uuid::Uuid::new_v4().simple());
    let admin: DatabaseConnection = Database::connect(admin_url).await.expect("postgres");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A port nothing listens on now, for a peer or a server started as a process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
