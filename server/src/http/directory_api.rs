//! The directory API for host apps (SPEC §14): `client_credentials` tokens
//! with the `directory` scope read any organization's users and groups.

use super::provider::{bearer_error, presented_bearer};
use super::AppState;
use crate::accounts::find_organization;
use crate::entities::organization;
use crate::provider::directory::{self, DirectoryError, ListQuery};
use crate::provider::errors::{OAuthError, OAuthErrorCode};
use crate::provider::tokens;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// The scope a `client_credentials` token needs for these endpoints.
pub const DIRECTORY_SCOPE: &str = "directory";
/// The scope a `client_credentials` token needs to manage organizations.
pub const MANAGEMENT_SCOPE: &str = "management";
const LIST_PARAMETERS: [&str; 3] = ["cursor", "limit", "updated_since"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/organizations/{slug}/users", get(list_users))
        .route("/api/v1/organizations/{slug}/users/{id}", get(one_user))
        .route("/api/v1/organizations/{slug}/groups", get(list_groups))
        .route("/api/v1/events", get(event_feed))
}

/// Why a directory request is refused; each answer has a stable `error` code.
#[derive(Debug)]
pub(super) enum ApiError {
    /// No token (a bare challenge) or a bad one.
    Unauthorized(Option<OAuthError>),
    Forbidden(OAuthError),
    NotFound(&'static str),
    BadRequest(String),
    /// A request that conflicts with what exists (a taken slug, say).
    Conflict(&'static str, String),
    Directory(DirectoryError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = |code: &str, description: String| {
            Json(serde_json::json!({ "error": code, "error_description": description }))
        };
        match self {
            ApiError::Unauthorized(error) => bearer_error(StatusCode::UNAUTHORIZED, error.as_ref()),
            ApiError::Forbidden(error) => bearer_error(StatusCode::FORBIDDEN, Some(&error)),
            ApiError::NotFound(what) => {
                (StatusCode::NOT_FOUND, body("not_found", what.to_string())).into_response()
            }
            ApiError::BadRequest(why) => {
                (StatusCode::BAD_REQUEST, body("invalid_request", why)).into_response()
            }
            ApiError::Conflict(code, why) => {
                (StatusCode::CONFLICT, body(code, why)).into_response()
            }
            ApiError::Directory(DirectoryError::Database(detail)) => {
                tracing::error!(%detail, "directory API failed");
                let answer = body("server_error", "Try again shortly.".into());
                (StatusCode::SERVICE_UNAVAILABLE, answer).into_response()
            }
            ApiError::Directory(error) => (
                StatusCode::BAD_REQUEST,
                body(error.code(), error.to_string()),
            )
                .into_response(),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        ApiError::Directory(error.into())
    }
}

async fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    authorize_app(state, headers, DIRECTORY_SCOPE)
        .await
        .map(|_| ())
}

/// The app whose token this is, when the token carries `scope`.
pub(super) async fn authorize_app(
    state: &AppState,
    headers: &HeaderMap,
    scope: &str,
) -> Result<crate::entities::host_app::Model, ApiError> {
    let presented = presented_bearer(headers).ok_or(ApiError::Unauthorized(None))?;
    let token = tokens::find(&state.db, presented).await?.ok_or_else(|| {
        ApiError::Unauthorized(Some(OAuthError::new(
            OAuthErrorCode::InvalidToken,
            "The access token is unknown or expired.",
        )))
    })?;
    let has_scope = token.scope.split(' ').any(|s| s == scope);
    if token.user_id.is_some() || !has_scope {
        return Err(ApiError::Forbidden(OAuthError::new(
            OAuthErrorCode::InsufficientScope,
            format!("Use a client_credentials token with scope={scope}."),
        )));
    }
    use sea_orm::EntityTrait;
    crate::entities::host_app::Entity::find_by_id(token.app_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::Unauthorized(None))
}

/// The organization named in the path, for an authorized app.
async fn organization_for(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
) -> Result<organization::Model, ApiError> {
    authorize(state, headers).await?;
    find_organization(&state.db, slug)
        .await?
        .ok_or(ApiError::NotFound("No organization has this slug."))
}

fn list_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| ApiError::BadRequest("The query is malformed.".into()))?;
    if let Some((name, _)) = pairs
        .iter()
        .find(|(k, _)| !LIST_PARAMETERS.contains(&k.as_str()))
    {
        return Err(ApiError::BadRequest(format!(
            "Unknown parameter {name}; lists take cursor, limit and updated_since."
        )));
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    ListQuery::parse(get("cursor"), get("limit"), get("updated_since")).map_err(ApiError::Directory)
}

/// An authorized list request: its organization and its checked query.
async fn list_request(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    query: Option<&str>,
) -> Result<(organization::Model, ListQuery), ApiError> {
    let org = organization_for(state, headers, slug).await?;
    Ok((org, list_query(query)?))
}

async fn list_users(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (org, query) = list_request(&state, &headers, &slug, query.as_deref()).await?;
    let page = directory::users(&state.db, org.id, &query)
        .await
        .map_err(ApiError::Directory)?;
    Ok(Json(page).into_response())
}

async fn list_groups(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (org, query) = list_request(&state, &headers, &slug, query.as_deref()).await?;
    let page = directory::groups(&state.db, org.id, &query)
        .await
        .map_err(ApiError::Directory)?;
    Ok(Json(page).into_response())
}

async fn one_user(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    const NO_SUCH_USER: &str = "No user has this id in the organization.";
    let org = organization_for(&state, &headers, &slug).await?;
    let id = id.parse().map_err(|_| ApiError::NotFound(NO_SUCH_USER))?;
    let user = directory::user_by_id(&state.db, org.id, id)
        .await
        .map_err(ApiError::Directory)?
        .ok_or(ApiError::NotFound(NO_SUCH_USER))?;
    Ok(Json(user).into_response())
}

/// `GET /api/v1/events?after=<cursor>&limit=<n>`: every directory and
/// connection change, oldest first. `next_cursor` is where to ask next time,
/// also when nothing new has happened.
async fn event_feed(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers).await?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query is malformed.".into()))?;
    if let Some((name, _)) = pairs.iter().find(|(k, _)| k != "after" && k != "limit") {
        return Err(ApiError::BadRequest(format!(
            "Unknown parameter {name}; the feed takes after and limit."
        )));
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let after = match get("after") {
        None => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or(ApiError::Directory(DirectoryError::InvalidCursor))?,
    };
    let limit = ListQuery::parse(None, get("limit"), None)
        .map_err(ApiError::Directory)?
        .limit;
    let found = crate::events::after(&state.db, after, limit).await?;
    let slugs = organization_slugs(&state, &found).await?;
    let next_cursor = found.last().map_or(after, |e| e.seq).to_string();
    let data: Vec<serde_json::Value> = found
        .iter()
        .map(|event| {
            let slug = slugs.get(&event.org_id).map_or("", String::as_str);
            crate::events::describe(event, slug)
        })
        .collect();
    Ok(Json(serde_json::json!({ "data": data, "next_cursor": next_cursor })).into_response())
}

async fn organization_slugs(
    state: &AppState,
    events: &[crate::entities::directory_event::Model],
) -> Result<std::collections::HashMap<uuid::Uuid, String>, ApiError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.org_id).collect();
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|org| (org.id, org.slug))
        .collect())
}
