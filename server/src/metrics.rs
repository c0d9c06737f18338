//! Prometheus metrics (SPEC §11, issue 19.4). Off unless `LATCHKEY_METRICS_LISTEN`
//! names an address: then a second listener, apart from the public one, answers
//! `GET /metrics`. Until the recorder is installed every `record_*` call is a
//! no-op, so the request paths pay nothing when metrics are off.
//!
//! Labels take only values from a closed set (protocol keys, diagnosis codes,
//! HTTP methods we route, status codes), so a caller cannot grow the series.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use shared::{DiagnosisCode, Protocol};
use std::sync::OnceLock;
use std::time::Duration;

const SIGN_INS: &str = "latchkey_sign_ins_total";
const ACS_SECONDS: &str = "latchkey_saml_acs_seconds";
const TOKEN_EXCHANGE_SECONDS: &str = "latchkey_oidc_token_exchange_seconds";
const SCIM_REQUESTS: &str = "latchkey_scim_requests_total";
const SCIM_SECONDS: &str = "latchkey_scim_request_seconds";
const ACTIVE_SESSIONS: &str = "latchkey_active_sessions";
const POOL_CONNECTIONS: &str = "latchkey_db_pool_connections";
const POOL_IDLE: &str = "latchkey_db_pool_idle_connections";

/// Latency buckets from 1 ms to 5 s: an ACS verifies a signature in about a
/// millisecond, an OIDC token exchange waits on the IdP for tens to hundreds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist only in tests that install their own;
            // then this handle renders nothing, which the tests would show.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        SIGN_INS,
        "SSO sign-ins by protocol and result (success or the diagnosis code)"
    );
    metrics::describe_histogram!(
        ACS_SECONDS,
        metrics::Unit::Seconds,
        "Time to answer a SAML response at the ACS"
    );
    metrics::describe_histogram!(
        TOKEN_EXCHANGE_SECONDS,
        metrics::Unit::Seconds,
        "Time to redeem an OIDC code and check the ID token"
    );
    metrics::describe_counter!(SCIM_REQUESTS, "SCIM requests by method and status");
    metrics::describe_histogram!(
        SCIM_SECONDS,
        metrics::Unit::Seconds,
        "Time to answer a SCIM request, by method"
    );
    metrics::describe_gauge!(
        ACTIVE_SESSIONS,
        "Sessions not yet expired, read at each scrape"
    );
    metrics::describe_gauge!(POOL_CONNECTIONS, "Database connections open in the pool");
    metrics::describe_gauge!(POOL_IDLE, "Database connections idle in the pool");
}

/// One finished SSO sign-in through a connection of `protocol` (its stored
/// key): `refused` is the diagnosis when it failed.
pub fn record_sign_in(protocol: &str, refused: Option<DiagnosisCode>) {
    let protocol = Protocol::from_key(protocol).map_or("unknown", Protocol::key);
    let result = refused.map_or("success", DiagnosisCode::code);
    metrics::counter!(SIGN_INS, "protocol" => protocol, "result" => result).increment(1);
}

pub fn record_acs(elapsed: Duration) {
    metrics::histogram!(ACS_SECONDS).record(elapsed.as_secs_f64());
}

pub fn record_token_exchange(elapsed: Duration) {
    metrics::histogram!(TOKEN_EXCHANGE_SECONDS).record(elapsed.as_secs_f64());
}

pub fn record_scim_request(method: &axum::http::Method, status: u16, elapsed: Duration) {
    let method = scim_method(method);
    metrics::counter!(SCIM_REQUESTS, "method" => method, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(SCIM_SECONDS, "method" => method).record(elapsed.as_secs_f64());
}

/// The methods SCIM routes; anything else is counted as `other`.
fn scim_method(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "other",
    }
}

#[derive(Clone)]
struct Scrape {
    db: DatabaseConnection,
    handle: PrometheusHandle,
}

/// The metrics listener's routes: only `GET /metrics`.
pub fn router(db: DatabaseConnection, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(Scrape { db, handle })
}

async fn render(State(scrape): State<Scrape>) -> impl IntoResponse {
    refresh_gauges(&scrape.db).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        scrape.handle.render(),
    )
}

/// Gauges read from their source at each scrape rather than kept up to date
/// on every request: a scrape every few seconds costs one indexed count.
async fn refresh_gauges(db: &DatabaseConnection) {
    use crate::entities::session;
    match session::Entity::find()
        .filter(session::Column::ExpiresAt.gt(chrono::Utc::now()))
        .count(db)
        .await
    {
        Ok(live) => metrics::gauge!(ACTIVE_SESSIONS).set(live as f64),
        Err(error) => tracing::warn!(%error, "metrics: cannot count sessions"),
    }
    let (size, idle) = match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => return,
    };
    metrics::gauge!(POOL_CONNECTIONS).set(f64::from(size));
    metrics::gauge!(POOL_IDLE).set(idle as f64);
}
