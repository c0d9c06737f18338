//! The management API for host apps (SPEC §14): with a `management` token the
//! host app creates, lists and removes organizations and asks for setup links
//! that make a customer's IT admin the organization's Integrations Admin.

use super::directory_api::{authorize_app, ApiError, MANAGEMENT_SCOPE};
use super::AppState;
use crate::accounts::{self, find_organization, AccountError};
use crate::audit::Actor;
use crate::entities::{org_domain, organization};
use crate::provider::directory::{encode_cursor, ListQuery};
use crate::provider::setup_links::{self, SetupLinkError};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/organizations", get(list).post(create))
        .route("/api/v1/organizations/{slug}", delete(remove))
        .route(
            "/api/v1/organizations/{slug}/setup-links",
            axum::routing::post(create_setup_link),
        )
        .route(
            "/api/v1/organizations/{slug}/setup-links/{id}",
            delete(revoke_setup_link),
        )
        .layer(RequestBodyLimitLayer::new(16 * 1024))
}

/// A JSON body of exactly this shape; anything else says what is wrong.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("The JSON body is not as expected: {e}.")))
}

async fn app_actor(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let app = authorize_app(state, headers, MANAGEMENT_SCOPE).await?;
    Ok(Actor::HostApp {
        client_id: app.client_id,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganization {
    slug: String,
    name: String,
    #[serde(default)]
    domains: Vec<String>,
}

fn describe(org: &organization::Model, claims: &[org_domain::Model]) -> serde_json::Value {
    let domains: Vec<_> = claims
        .iter()
        .map(|claim| {
            json!({
                "domain": claim.domain,
                "verified": claim.verified_at.is_some(),
                // What the organization's IT admin publishes to prove the domain.
                "txt_record": {
                    "name": shared::domain::challenge_record_name(&claim.domain),
                    "value": claim.token,
                },
            })
        })
        .collect();
    json!({
        "id": org.id.to_string(),
        "slug": org.slug,
        "name": org.name,
        "require_sso": org.require_sso,
        "created_at": org.created_at.to_rfc3339(),
        "domains": domains,
    })
}

/// Domains the new organization may claim: valid, and proven by no one else.
async fn checked_domains(state: &AppState, domains: &[String]) -> Result<Vec<String>, ApiError> {
    let mut checked = Vec::new();
    for raw in domains {
        shared::domain::validate_domain("domains", raw)
            .map_err(|e| ApiError::BadRequest(format!("{raw}: {}", e.message)))?;
        let domain = shared::domain::normalize_domain(raw);
        if crate::domains::store::verified_owner(&state.db, &domain)
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict(
                "domain_taken",
                format!("{domain} is verified by another organization."),
            ));
        }
        if !checked.contains(&domain) {
            checked.push(domain);
        }
    }
    Ok(checked)
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let actor = app_actor(&state, &headers).await?;
    let new: NewOrganization = body(&bytes)?;
    let domains = checked_domains(&state, &new.domains).await?;
    let org = accounts::create_organization(&state.db, new.slug.trim(), &new.name, actor.clone())
        .await
        .map_err(|error| match error {
            AccountError::OrganizationExists(slug) => ApiError::Conflict(
                "organization_exists",
                format!("An organization with the slug {slug} already exists."),
            ),
            AccountError::Invalid(errors) => ApiError::BadRequest(errors.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        })?;
    for domain in &domains {
        crate::domains::store::claim(&state.db, org.id, actor.clone(), domain)
            .await
            .map_err(|e| ApiError::Conflict("domain_taken", format!("{domain}: {e}.")))?;
    }
    let claims = org_domain::Entity::find()
        .filter(org_domain::Column::OrgId.eq(org.id))
        .order_by_asc(org_domain::Column::Domain)
        .all(&state.db)
        .await?;
    Ok((StatusCode::CREATED, Json(describe(&org, &claims))).into_response())
}

async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app_actor(&state, &headers).await?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query is malformed.".into()))?;
    if let Some((name, _)) = pairs.iter().find(|(k, _)| k != "cursor" && k != "limit") {
        return Err(ApiError::BadRequest(format!(
            "Unknown parameter {name}; the list takes cursor and limit."
        )));
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let query = ListQuery::parse(get("cursor"), get("limit"), None).map_err(ApiError::Directory)?;
    let mut select = organization::Entity::find()
        .order_by_asc(organization::Column::Id)
        .limit(query.limit + 1);
    if let Some(after) = query.after {
        select = select.filter(organization::Column::Id.gt(after));
    }
    let mut orgs = select.all(&state.db).await?;
    let more = orgs.len() as u64 > query.limit;
    orgs.truncate(query.limit as usize);
    let next_cursor = more
        .then(|| orgs.last().map(|o| encode_cursor(o.id)))
        .flatten();
    let ids: Vec<_> = orgs.iter().map(|o| o.id).collect();
    let claims = org_domain::Entity::find()
        .filter(org_domain::Column::OrgId.is_in(ids))
        .order_by_asc(org_domain::Column::Domain)
        .all(&state.db)
        .await?;
    let data: Vec<_> = orgs
        .iter()
        .map(|org| {
            let own: Vec<_> = claims
                .iter()
                .filter(|c| c.org_id == org.id)
                .cloned()
                .collect();
            describe(org, &own)
        })
        .collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })).into_response())
}

async fn organization(state: &AppState, slug: &str) -> Result<organization::Model, ApiError> {
    find_organization(&state.db, slug)
        .await?
        .ok_or(ApiError::NotFound("No organization has this slug."))
}

/// Removes the organization with its accounts, connections and settings.
async fn remove(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    app_actor(&state, &headers).await?;
    let org = organization(&state, &slug).await?;
    tracing::warn!(org = %org.slug, "a host app removed an organization");
    organization::Entity::delete_by_id(org.id)
        .exec(&state.db)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSetupLink {
    email: String,
    lifetime_days: Option<i64>,
}

fn setup_link_error(error: SetupLinkError) -> ApiError {
    match error {
        SetupLinkError::NotFound | SetupLinkError::OrganizationNotFound(_) => {
            ApiError::NotFound("No such setup link or organization.")
        }
        SetupLinkError::Database(detail) => {
            ApiError::Directory(crate::provider::directory::DirectoryError::Database(detail))
        }
        other => ApiError::BadRequest(other.to_string()),
    }
}

async fn create_setup_link(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let actor = app_actor(&state, &headers).await?;
    let new: NewSetupLink = body(&bytes)?;
    let link = setup_links::create(
        &state.db,
        state.config.public_url.as_str(),
        &slug,
        &new.email,
        new.lifetime_days,
        actor,
    )
    .await
    .map_err(setup_link_error)?;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

async fn revoke_setup_link(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let actor = app_actor(&state, &headers).await?;
    let org = organization(&state, &slug).await?;
    setup_links::revoke(&state.db, org.id, &id, actor)
        .await
        .map_err(setup_link_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
