//! The HTTP layer: one router that merges the pages, server functions, health
//! checks and (later) the protocol endpoints, with the cross-cutting guards.

mod client_address;
mod csrf;
mod directory_api;
mod headers;
mod health;
mod logout;
mod management_api;
mod org_login;
mod plain_page;
mod provider;
mod request_id;
mod saml;
pub mod scim;
mod setup_link;
mod site;
mod site_files;
mod sso;

use crate::backend::ServerBackend;
use crate::config::Config;
use crate::connections::service::ConnectionService;
use crate::connections::PublicUrls;
use crate::domains::dns::{Dns, HickoryTxt};
use crate::outbound::OutboundPolicy;
use crate::secrets::{SecretError, SecretKey};
use crate::sso::SsoService;
use crate::throttle::{SignInThrottle, ThrottlePolicy};
use app::backend::BackendHandle;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, render_app_async_with_context, LeptosRoutes};
use sea_orm::DatabaseConnection;
use site::{SiteBundle, SiteSource};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

/// Largest request body accepted by forms and server functions.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares. Cloned for each request (axum's `State`), so it
/// is one reference count: cloning the services inside it field by field was
/// 4 % of the CPU of a SCIM lookup.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// Copy on write: a state changed after routers were built from it (tests
/// swap a service) leaves those routers with the one they had.
impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Services {
        Arc::make_mut(&mut self.0)
    }
}

#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    pub backend: BackendHandle,
    /// Encrypts stored secrets; never logged, never sent to a browser.
    pub secrets: SecretKey,
    pub sso: SsoService,
    /// Ending sessions everywhere: host apps and identity providers.
    pub logout: crate::sso::logout::LogoutService,
    /// The SCIM endpoints' shared parts (token cache, request bookkeeping).
    pub scim: crate::scim::Scim,
    /// Latchkey as the OpenID Provider of host apps.
    pub provider: crate::provider::Provider,
    /// The WASM bundle, JS, CSS and favicon, held in memory.
    site: Arc<SiteBundle>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Config) -> Result<Self, SecretError> {
        let dns = Arc::new(HickoryTxt::new(config.dns_server));
        Self::with_dns(db, config, dns)
    }

    /// As `new`, with the DNS lookups of domain verification answered by `dns`
    /// (tests answer them without a network).
    pub fn with_dns(db: DatabaseConnection, config: Config, dns: Dns) -> Result<Self, SecretError> {
        let secrets = SecretKey::load(config.secret_key.as_deref(), &config.data_dir)?;
        let config = Arc::new(config);
        let outbound = OutboundPolicy {
            allow_private_addresses: config.allow_private_urls,
            ..OutboundPolicy::default()
        };
        let writes = Arc::new(crate::group_commit::GroupCommit::start(db.clone()));
        let sso = SsoService {
            db: db.clone(),
            urls: PublicUrls::new(&config.public_url),
            secure_cookies: config.public_url.scheme() == "https",
            secrets: secrets.clone(),
            outbound,
            jwks: Default::default(),
            saml_verifier: Default::default(),
            saml_settings: Default::default(),
            writes: writes.clone(),
        };
        let scim = crate::scim::Scim::new(db.clone(), &config.public_url, writes);
        let provider = crate::provider::Provider::new(
            db.clone(),
            secrets.clone(),
            &config.public_url,
            config.allow_private_urls,
        );
        let logout = crate::sso::logout::LogoutService {
            sso: sso.clone(),
            provider: provider.clone(),
        };
        let backend = ServerBackend {
            sso: sso.clone(),
            logout: logout.clone(),
            db: db.clone(),
            config: config.clone(),
            throttle: Arc::new(SignInThrottle::new(db.clone(), ThrottlePolicy::default())),
            connections: ConnectionService {
                db: db.clone(),
                secrets: secrets.clone(),
                urls: PublicUrls::new(&config.public_url),
                outbound,
                dns,
            },
            provisioning: crate::provisioning::ProvisioningService { scim: scim.clone() },
        };
        let (site, source) = SiteBundle::for_site_root(config.site_root.as_deref());
        tracing::info!(?source, "site files loaded");
        // HydrationScripts reads the split manifest under this folder; with
        // the site embedded there is none (a path under a file names nothing)
        // and the page context gives the manifest instead.
        let leptos_site_root = match source {
            SiteSource::Folder(folder) => folder,
            SiteSource::Embedded => "/dev/null/embedded-site".into(),
        };
        let leptos = LeptosOptions::builder()
            .output_name(option_env!("LEPTOS_OUTPUT_NAME").unwrap_or("latchkey"))
            .site_root(leptos_site_root)
            .site_pkg_dir("pkg")
            .site_addr(config.listen)
            .build();
        Ok(Self(Arc::new(Services {
            db,
            config,
            leptos,
            backend: BackendHandle(Arc::new(backend)),
            secrets,
            sso,
            logout,
            scim,
            provider,
            site: Arc::new(site),
        })))
    }
}

impl AppState {
    /// Sends host apps' webhooks, with the same outbound rules as metadata fetches.
    pub fn webhook_dispatcher(&self) -> crate::provider::webhooks::Dispatcher {
        crate::provider::webhooks::Dispatcher {
            db: self.db.clone(),
            secrets: self.secrets.clone(),
            outbound: OutboundPolicy {
                allow_private_addresses: self.config.allow_private_urls,
                ..OutboundPolicy::default()
            },
            retry: Default::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    // `/login/{org_slug}` starts a sign-in before it renders (`org_login`).
    let routes: Vec<_> = generate_route_list(App)
        .into_iter()
        .filter(|route| route.path() != org_login::PAGE_PATH)
        .collect();
    let context = {
        let backend = state.backend.clone();
        let split_manifest = state.site.split_manifest();
        move || {
            provide_context(backend.clone());
            if let Some(manifest) = split_manifest.clone() {
                provide_context(manifest);
            }
            headers::provide_page_nonce();
        }
    };
    let page_shell = {
        let options = state.leptos.clone();
        move || shell(options.clone())
    };
    // Renders the pages leptos' route list does not route: the page of a
    // member's start that does not leave (`org_login`), and "not found".
    let render_page = render_app_async_with_context(context.clone(), page_shell.clone());
    // Protocol endpoints set their own body limits; pages and server functions share one.
    let pages = Router::new()
        .merge(health::router())
        .merge(sso::router())
        .route(org_login::PAGE_PATH, org_login::route(render_page.clone()))
        .route(
            "/pkg/{*file}",
            get(site_bundle_file).layer(CompressionLayer::new().gzip(true)),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), page_shell.clone())
        // Pages stream uncompressed so Suspense chunks arrive at once.
        .fallback(
            root_file_or_page(state.site.clone(), render_page)
                .layer(CompressionLayer::new().gzip(true)),
        )
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    // SCIM has its own bearer-token guard and a larger body limit (big group PATCHes);
    // the CSRF guard looks at /api only.
    Router::new()
        .merge(saml::router())
        .merge(logout::router())
        .merge(provider::router())
        .merge(directory_api::router())
        .merge(management_api::router())
        .merge(setup_link::router())
        .merge(scim::router(&state))
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            state.config.clone(),
            csrf::refuse_cross_site_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.config.clone(),
            client_address::resolve,
        ))
        .layer(axum::middleware::from_fn(headers::security_headers))
        // Its lines run in the request-id span below rather than a span of their own.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|_: &axum::http::Request<_>| tracing::Span::current()),
        )
        // Outermost, so every log line of the request, the trace layer's too,
        // runs inside the span that names the request id.
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}

/// A file of the site's `/pkg` folder (see [`site`]).
async fn site_bundle_file(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    state
        .site
        .respond(&format!("pkg/{file}"), &headers)
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

type ResponseFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// Anything no route claims: a file at the site's root (the favicon) to a
/// GET or HEAD, else the app's own "not found" page.
fn root_file_or_page<R>(
    site: Arc<SiteBundle>,
    render_page: impl Fn(Request<Body>) -> R + Clone + Send + Sync + 'static,
) -> impl Fn(Request<Body>) -> ResponseFuture + Clone + Send + Sync + 'static
where
    R: std::future::Future<Output = Response> + Send + 'static,
{
    move |request: Request<Body>| {
        let reads = matches!(*request.method(), Method::GET | Method::HEAD);
        let path = request.uri().path().trim_start_matches('/');
        match reads
            .then(|| site.respond(path, request.headers()))
            .flatten()
        {
            Some(file) => Box::pin(std::future::ready(file)),
            None => Box::pin(render_page(request)),
        }
    }
}
