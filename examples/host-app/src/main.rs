//! An example host app: the SaaS product that runs Latchkey. It signs members
//! in through Latchkey with the `openidconnect` crate (discovery, PKCE, ID
//! token verification), shows their claims, lists an organization's directory
//! with an app token, and prints webhooks whose signature checks out.
//!
//! ```text
//! latchkey create-app --name "Example" --redirect-uri http://127.0.0.1:4000/callback \
//!     --webhook-url http://127.0.0.1:4000/webhooks          # prints the three secrets
//! LATCHKEY_ISSUER=http://127.0.0.1:3000 CLIENT_ID=… CLIENT_SECRET=… WEBHOOK_SECRET=… \
//!     cargo run -p example-host-app
//! ```

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct Settings {
    issuer: String,
    client_id: String,
    client_secret: String,
    webhook_secret: String,
    app_url: String,
}

impl Settings {
    fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
        Ok(Self {
            issuer: var("LATCHKEY_ISSUER")?,
            client_id: var("CLIENT_ID")?,
            client_secret: var("CLIENT_SECRET")?,
            webhook_secret: var("WEBHOOK_SECRET").unwrap_or_default(),
            app_url: var("APP_URL").unwrap_or_else(|_| "http://127.0.0.1:4000".into()),
        })
    }
}

/// Sign-ins in flight (by `state`), signed-in members (by cookie), webhooks seen.
#[derive(Default)]
struct Memory {
    pending: HashMap<String, (PkceCodeVerifier, Nonce)>,
    members: HashMap<String, serde_json::Value>,
    webhooks: Vec<String>,
}

#[derive(Clone)]
struct App {
    settings: Arc<Settings>,
    client: Arc<Client>,
    http: Http,
    memory: Arc<Mutex<Memory>>,
}

/// `openidconnect`'s HTTP calls, made with reqwest (no redirects followed).
#[derive(Clone)]
struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut answer = HttpResponse::new(response.bytes().await?.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let http = Http(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?,
    );
    let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| e.to_string())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| format!("discovery: {e}"))?;
    let redirect =
        RedirectUrl::new(format!("{}/callback", settings.app_url)).map_err(|e| e.to_string())?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_redirect_uri(redirect);
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:4000".into());
    let app = App {
        settings: Arc::new(settings),
        client: Arc::new(client),
        http,
        memory: Arc::default(),
    };
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/directory", get(directory))
        .route("/webhooks", post(webhook))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| e.to_string())?;
    println!("Example host app on http://{listen}");
    axum::serve(listener, router)
        .await
        .map_err(|e| e.to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .find_map(|c| c.trim().strip_prefix("example_session="))
        .map(str::to_string)
}

async fn home(State(app): State<App>, headers: HeaderMap) -> Html<String> {
    let memory = app.memory.lock().unwrap();
    let member = cookie(&headers).and_then(|c| memory.members.get(&c).cloned());
    let body = match member {
        Some(claims) => format!(
            "<h1>Signed in as {}</h1><pre id=\"claims\">{}</pre><p><a href=\"/directory?org={}\">Your organization's directory</a></p>",
            escape(claims["email"].as_str().unwrap_or_default()),
            escape(&serde_json::to_string_pretty(&claims).unwrap_or_default()),
            escape(claims["org_slug"].as_str().unwrap_or_default()),
        ),
        None => "<h1>Example host app</h1><form action=\"/login\"><label>Organization <input name=\"organization\"></label> <button>Sign in with SSO</button></form>".into(),
    };
    let hooks: String = memory
        .webhooks
        .iter()
        .rev()
        .map(|h| format!("<li><code>{}</code></li>", escape(h)))
        .collect();
    Html(format!("<!doctype html><title>Example host app</title>{body}<h2>Webhooks received</h2><ul id=\"webhooks\">{hooks}</ul>"))
}

#[derive(Deserialize)]
struct LoginQuery {
    organization: Option<String>,
}

async fn login(State(app): State<App>, Query(query): Query<LoginQuery>) -> Redirect {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = app
        .client
        .authorize_url(
            AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    if let Some(org) = query.organization.filter(|o| !o.is_empty()) {
        request = request.add_extra_param("organization", org);
    }
    let (url, state, nonce) = request.url();
    app.memory
        .lock()
        .unwrap()
        .pending
        .insert(state.secret().clone(), (verifier, nonce));
    Redirect::to(url.as_str())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(State(app): State<App>, Query(query): Query<CallbackQuery>) -> Response {
    if let Some(error) = query.error {
        let why = query.error_description.unwrap_or_default();
        return (
            StatusCode::BAD_REQUEST,
            format!("Latchkey said {error}: {why}"),
        )
            .into_response();
    }
    let pending = query
        .state
        .and_then(|state| app.memory.lock().unwrap().pending.remove(&state));
    let (Some(code), Some((verifier, nonce))) = (query.code, pending) else {
        return (StatusCode::BAD_REQUEST, "unknown or replayed sign-in").into_response();
    };
    let exchange = match app.client.exchange_code(AuthorizationCode::new(code)) {
        Ok(exchange) => exchange.set_pkce_verifier(verifier),
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let tokens = match exchange.request_async(&app.http).await {
        Ok(tokens) => tokens,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("token: {e}")).into_response(),
    };
    let Some(id_token) = tokens.id_token() else {
        return (StatusCode::BAD_GATEWAY, "no ID token").into_response();
    };
    // The standard claims are verified by the library; Latchkey's own claims
    // (org_slug, groups, role, amr, idp) come with the verified payload.
    let verifier = app.client.id_token_verifier();
    if let Err(e) = id_token.claims(&verifier, &nonce) {
        return (StatusCode::BAD_GATEWAY, format!("ID token: {e}")).into_response();
    }
    let payload = id_token.to_string();
    let claims = payload
        .split('.')
        .nth(1)
        .and_then(|part| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .unwrap_or_default();
    let session = CsrfToken::new_random().secret().clone();
    app.memory
        .lock()
        .unwrap()
        .members
        .insert(session.clone(), claims);
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = format!("example_session={session}; HttpOnly; SameSite=Lax; Path=/").parse()
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct DirectoryQuery {
    org: String,
}

/// Lists the organization's users with an app token (`client_credentials`).
async fn directory(State(app): State<App>, Query(query): Query<DirectoryQuery>) -> Response {
    let issuer = app.settings.issuer.trim_end_matches('/');
    let token = app
        .http
        .0
        .post(format!("{issuer}/oauth2/token"))
        .basic_auth(&app.settings.client_id, Some(&app.settings.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "directory")])
        .send()
        .await;
    let token: Option<String> = match token {
        Ok(response) => response
            .text()
            .await
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["access_token"].as_str().map(str::to_string)),
        Err(_) => None,
    };
    let Some(token) = token else {
        return (StatusCode::BAD_GATEWAY, "no app token").into_response();
    };
    let users = app
        .http
        .0
        .get(format!("{issuer}/api/v1/organizations/{}/users", query.org))
        .bearer_auth(token)
        .send()
        .await;
    let body = match users {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let page: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let rows: String = page["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            format!(
                "<li>{} ({})</li>",
                escape(u["email"].as_str().unwrap_or_default()),
                escape(u["role"].as_str().unwrap_or_default())
            )
        })
        .collect();
    Html(format!("<!doctype html><title>Directory</title><h1>Directory of {}</h1><ul id=\"users\">{rows}</ul>", escape(&query.org))).into_response()
}

/// Accepts a webhook only when its `Latchkey-Signature` is right and recent.
async fn webhook(State(app): State<App>, headers: HeaderMap, body: String) -> StatusCode {
    let presented = headers
        .get("latchkey-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut parts = presented.split(',');
    let timestamp = parts.next().and_then(|p| p.strip_prefix("t="));
    let signature = parts.next().and_then(|p| p.strip_prefix("v1="));
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return StatusCode::UNAUTHORIZED;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (now - t).abs() < 300);
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app.settings.webhook_secret.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let valid = hex::decode(signature).is_ok_and(|sig| mac.verify_slice(&sig).is_ok());
    if !fresh || !valid {
        return StatusCode::UNAUTHORIZED;
    }
    println!("webhook: {body}");
    let mut memory = app.memory.lock().unwrap();
    memory.webhooks.push(body);
    let excess = memory.webhooks.len().saturating_sub(20);
    memory.webhooks.drain(..excess);
    StatusCode::NO_CONTENT
}
