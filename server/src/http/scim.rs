//! The SCIM endpoints at `/scim/v2/{scim_connection_id}/…`: a thin layer over
//! `crate::scim` that authenticates, parses, answers in the SCIM error schema and
//! notes each request in the (buffered) request log.

use super::AppState;
use crate::scim::activity::RequestRecord;
use crate::scim::discovery::{self, MAX_BODY_BYTES, MAX_RESULTS};
use crate::scim::errors::ScimError;
use crate::scim::groups::{self, GroupDraft};
use crate::scim::patch;
use crate::scim::resource::{
    parse_attribute_list, project, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA,
};
use crate::scim::schema::ResourceKind;
use crate::scim::store::{group_patch_document, Caller, Store};
use crate::scim::users::{self, UserDraft};
use crate::scim::{connections, AttrPath, Filter, Scim};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::Utc;
use serde_json::{json, Value};
use tower_http::limit::RequestBodyLimitLayer;

pub const CONTENT_TYPE: &str = "application/scim+json";

/// The short word the request log shows for a response.
#[derive(Clone, Copy)]
struct Outcome(&'static str);

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, scim_body(&self.to_json())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(Outcome(self.outcome()));
        response
    }
}

fn scim_body(value: &Value) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        value.to_string(),
    )
}

fn ok(value: Value) -> Response {
    (StatusCode::OK, scim_body(&value)).into_response()
}

type Answer = Result<Response, ScimError>;

pub fn router(state: &AppState) -> Router<AppState> {
    let scim = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .route("/.search", post(search_everything))
        .fallback(unknown_endpoint);
    Router::new()
        .nest("/scim/v2/{connection_id}", scim)
        .layer(axum::middleware::from_fn_with_state(
            state.scim.clone(),
            guard,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
}

/// Authenticates every request, turns plain errors into SCIM errors and notes the
/// request in the log (in memory; written later in batches).
async fn guard(State(scim): State<Scim>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let response = guarded(scim, request, next).await;
    crate::metrics::record_scim_request(&method, response.status().as_u16(), started.elapsed());
    response
}

async fn guarded(scim: Scim, mut request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let full_path = request.uri().path().to_string();
    let connection_id = full_path
        .strip_prefix("/scim/v2/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = match connections::authenticate(
        &scim.db,
        &scim.tokens,
        &connection_id,
        authorization,
    )
    .await
    {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    let status = response.status();
    let is_scim = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(CONTENT_TYPE.as_bytes()));
    if !is_scim && (status.is_client_error() || status.is_server_error()) {
        response = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ScimError::PayloadTooLarge(format!(
                "The request body is larger than {} KB.",
                MAX_BODY_BYTES / 1024
            )),
            StatusCode::METHOD_NOT_ALLOWED => {
                ScimError::MethodNotAllowed(format!("{method} is not supported here."))
            }
            StatusCode::NOT_FOUND => ScimError::NotFound("No such SCIM endpoint.".into()),
            s if s.is_server_error() => ScimError::Internal("The server could not answer.".into()),
            _ => ScimError::InvalidSyntax("The request could not be read.".into()),
        }
        .into_response();
    }
    let outcome = response
        .extensions()
        .get::<Outcome>()
        .map(|o| o.0)
        .unwrap_or("ok");
    let path = full_path
        .strip_prefix(&format!("/scim/v2/{connection_id}"))
        .unwrap_or(&full_path);
    scim.activity.record(RequestRecord {
        connection_id: caller.connection_id,
        at: Utc::now(),
        method,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        },
        status: response.status().as_u16(),
        outcome: outcome.to_string(),
    });
    response
}

async fn unknown_endpoint() -> ScimError {
    ScimError::NotFound("No such SCIM endpoint.".into())
}

async fn search_everything() -> ScimError {
    ScimError::NotImplemented(
        "Searching several resource types at once is not supported; use /Users/.search or /Groups/.search.".into(),
    )
}

fn base_of(state: &AppState, caller: &Caller) -> String {
    state.scim.base_url(caller.connection_id)
}

// ---------------------------------------------------------------- discovery

async fn service_provider_config(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    ok(discovery::service_provider_config(&base_of(
        &state, &caller,
    )))
}

async fn resource_types(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    ok(discovery::list(discovery::resource_types(&base_of(
        &state, &caller,
    ))))
}

async fn resource_type(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Answer {
    discovery::resource_types(&base_of(&state, &caller))
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(ok)
        .ok_or_else(|| ScimError::NotFound(format!("No resource type \"{}\".", short(&id))))
}

async fn schemas(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    ok(discovery::list(discovery::schemas(&base_of(
        &state, &caller,
    ))))
}

async fn schema(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Answer {
    discovery::schemas(&base_of(&state, &caller))
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&id))
        })
        .map(ok)
        .ok_or_else(|| ScimError::NotFound(format!("No schema \"{}\".", short(&id))))
}

fn short(s: &str) -> String {
    s.chars().take(100).collect()
}

// ------------------------------------------------------------ request input

fn parse_json(body: &Bytes) -> Result<Value, ScimError> {
    if body.is_empty() {
        return Err(ScimError::InvalidSyntax(
            "The request body is empty; send a JSON object.".into(),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ScimError::InvalidSyntax(format!(
            "The request body is not valid JSON (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })?;
    if holds_nul(&value) {
        return Err(ScimError::InvalidValue(
            "Values may not contain the NUL character (\\u0000).".into(),
        ));
    }
    Ok(value)
}

/// Whether any key or string holds NUL, which no attribute may (and
/// PostgreSQL text cannot store).
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// `filter`, paging and attribute selection, from a query string or a search body.
struct Query {
    filter: Option<Filter>,
    start_index: u64,
    count: u64,
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn number(name: &str, value: Option<&str>) -> Result<Option<i64>, ScimError> {
    value
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::InvalidValue(format!("\"{name}\" must be an integer.")))
        })
        .transpose()
}

impl Query {
    fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ScimError> {
        let filter = match find(pairs, "filter") {
            Some(f) if f.contains('\0') => {
                return Err(ScimError::InvalidFilter(
                    "The filter may not contain the NUL character.".into(),
                ))
            }
            Some(f) if !f.trim().is_empty() => Some(Filter::parse(f)?),
            _ => None,
        };
        let start_index = number("startIndex", find(pairs, "startIndex"))?
            .unwrap_or(1)
            .max(1) as u64;
        let count = number("count", find(pairs, "count"))?
            .unwrap_or(100)
            .clamp(0, MAX_RESULTS as i64) as u64;
        // `sortBy` is ignored: sorting is not offered (ServiceProviderConfig says so)
        // and lists keep their stable creation order.
        Ok(Self {
            filter,
            start_index,
            count,
            attributes: parse_attribute_list(find(pairs, "attributes"))?,
            excluded: parse_attribute_list(find(pairs, "excludedAttributes"))?,
        })
    }

    fn from_raw(raw: Option<String>) -> Result<Self, ScimError> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        Self::from_pairs(&pairs)
    }

    fn from_search(body: &Bytes) -> Result<Self, ScimError> {
        let Value::Object(body) = parse_json(body)? else {
            return Err(ScimError::InvalidSyntax(
                "A search request must be a JSON object.".into(),
            ));
        };
        let mut pairs = Vec::new();
        for (key, value) in body {
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => continue,
            };
            pairs.push((key, text));
        }
        Self::from_pairs(&pairs)
    }

    fn shape(&self, resource: Value, schema: &str) -> Value {
        project(resource, schema, &self.attributes, &self.excluded)
    }

    /// Whether the answer needs group members at all.
    fn wants_members(&self) -> bool {
        let named =
            |paths: &[AttrPath]| paths.iter().any(|p| p.attr.eq_ignore_ascii_case("members"));
        if !self.attributes.is_empty() {
            return named(&self.attributes);
        }
        !named(&self.excluded)
    }
}

fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Response {
    ok(json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    }))
}

fn created(resource: Value) -> Response {
    let location = resource["meta"]["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut response = (StatusCode::CREATED, scim_body(&resource)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The SCIM store for one request: the database, the caller's base URL, and
/// the group commit every write goes through.
fn store<'a>(state: &'a AppState, base: &'a str) -> Store<'a> {
    Store {
        db: &state.db,
        base,
        writes: &state.scim.writes,
    }
}

// -------------------------------------------------------------------- users

async fn list_users(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::from_raw(raw)?;
    answer_users(&state, &caller, query).await
}

async fn search_users(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let query = Query::from_search(&body)?;
    answer_users(&state, &caller, query).await
}

async fn answer_users(state: &AppState, caller: &Caller, query: Query) -> Answer {
    let base = base_of(state, caller);
    let store = store(state, &base);
    let page = store
        .list_users(
            caller,
            query.filter.as_ref(),
            query.start_index,
            query.count,
        )
        .await?;
    let resources = page
        .items
        .iter()
        .map(|u| query.shape(users::to_resource(u, &base), USER_SCHEMA))
        .collect();
    Ok(list_response(page.total, query.start_index, resources))
}

async fn create_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let draft = UserDraft::from_document(parse_json(&body)?)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    let user = store.create_user(&caller, draft).await?;
    Ok(created(
        query.shape(users::to_resource(&user, &base), USER_SCHEMA),
    ))
}

async fn get_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    let user = store.user(&caller, &id).await?;
    Ok(ok(
        query.shape(users::to_resource(&user, &base), USER_SCHEMA)
    ))
}

async fn replace_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    // The body is read after the user is found, so an unknown id is a 404 first.
    let user = store
        .update_user(&caller, &id, move |_| {
            UserDraft::from_document(parse_json(&body)?)
        })
        .await?;
    Ok(ok(
        query.shape(users::to_resource(&user, &base), USER_SCHEMA)
    ))
}

async fn patch_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let operations = patch::parse_request(&parse_json(&body)?, ResourceKind::User)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    let doc_base = base.clone();
    let user = store
        .update_user(&caller, &id, move |current| {
            let mut doc = users::patch_document(current, &doc_base);
            patch::apply_all(&mut doc, &operations, ResourceKind::User)?;
            UserDraft::from_patched(doc)
        })
        .await?;
    Ok(ok(
        query.shape(users::to_resource(&user, &base), USER_SCHEMA)
    ))
}

async fn delete_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Answer {
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    store.delete_user(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ------------------------------------------------------------------- groups

async fn list_groups(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::from_raw(raw)?;
    answer_groups(&state, &caller, query).await
}

async fn search_groups(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let query = Query::from_search(&body)?;
    answer_groups(&state, &caller, query).await
}

async fn answer_groups(state: &AppState, caller: &Caller, query: Query) -> Answer {
    let base = base_of(state, caller);
    let store = store(state, &base);
    let page = store
        .list_groups(
            caller,
            query.filter.as_ref(),
            query.start_index,
            query.count,
        )
        .await?;
    let members = if query.wants_members() {
        let ids: Vec<_> = page.items.iter().map(|g| g.id).collect();
        Some(store.members(&ids).await?)
    } else {
        None
    };
    let resources = page
        .items
        .iter()
        .map(|g| {
            let m = members
                .as_ref()
                .and_then(|m| m.get(&g.id))
                .map(Vec::as_slice);
            query.shape(groups::to_resource(g, m, &base), GROUP_SCHEMA)
        })
        .collect();
    Ok(list_response(page.total, query.start_index, resources))
}

async fn create_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let draft = GroupDraft::from_document(parse_json(&body)?)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    let (group, members) = store.create_group(&caller, draft).await?;
    Ok(created(query.shape(
        groups::to_resource(&group, Some(&members), &base),
        GROUP_SCHEMA,
    )))
}

async fn get_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    let group = store.group(&caller, &id).await?;
    let members = if query.wants_members() {
        store.members(&[group.id]).await?.remove(&group.id)
    } else {
        None
    };
    Ok(ok(query.shape(
        groups::to_resource(&group, members.as_deref(), &base),
        GROUP_SCHEMA,
    )))
}

async fn replace_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    // Read inside the change, after the group is found: a missing group is a
    // 404 whatever the body says.
    let document = parse_json(&body);
    let (group, members) = store
        .update_group(&caller, &id, move |_, _| {
            GroupDraft::from_document(document?)
        })
        .await?;
    Ok(ok(query.shape(
        groups::to_resource(&group, Some(&members), &base),
        GROUP_SCHEMA,
    )))
}

async fn patch_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let query = Query::from_raw(raw)?;
    let operations = patch::parse_request(&parse_json(&body)?, ResourceKind::Group)?;
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    let doc_base = base.clone();
    let (group, members) = store
        .update_group(&caller, &id, move |current, old| {
            let mut doc = group_patch_document(current, old, &doc_base);
            patch::apply_all(&mut doc, &operations, ResourceKind::Group)?;
            GroupDraft::from_patched(doc)
        })
        .await?;
    Ok(ok(query.shape(
        groups::to_resource(&group, Some(&members), &base),
        GROUP_SCHEMA,
    )))
}

async fn delete_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Answer {
    let base = base_of(&state, &caller);
    let store = store(&state, &base);
    store.delete_group(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
