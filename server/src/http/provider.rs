//! Latchkey's OpenID Provider endpoints for host apps (SPEC §14): discovery,
//! JWKS, authorize, token and userinfo. The rules live in `crate::provider`;
//! this file turns HTTP into calls and answers into HTTP.

use super::directory_api::{DIRECTORY_SCOPE, MANAGEMENT_SCOPE};
use super::sso::{redirect_to_idp, urlencode};
use super::{plain_page, AppState};
use crate::provider::authorize::{self, AuthorizationRequest, Prompt, Refusal};
use crate::provider::claims::{self, IdTokenRequest};
use crate::provider::codes::{self, Authentication, Grant, Redemption};
use crate::provider::errors::{OAuthError, OAuthErrorCode};
use crate::provider::tokens::{self, Bearer};
use crate::provider::{apps, keys, Provider};
use crate::sessions::SignInMethod;
use crate::sso::service::{SignInStart, StartError};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use tower_http::limit::RequestBodyLimitLayer;

/// Largest form a client sends the token endpoint or an authorization POST.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// Longest authorization request that can be resumed after sign-in.
const MAX_RESUME_LEN: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize_get).post(authorize_post))
        .route("/oauth2/token", axum::routing::post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .layer(RequestBodyLimitLayer::new(MAX_FORM_BYTES))
}

async fn discovery(State(state): State<AppState>) -> Response {
    let provider = &state.provider;
    let document = serde_json::json!({
        "issuer": provider.issuer,
        "authorization_endpoint": provider.endpoint("/oauth2/authorize"),
        "token_endpoint": provider.endpoint("/oauth2/token"),
        "userinfo_endpoint": provider.endpoint("/oauth2/userinfo"),
        "jwks_uri": provider.endpoint("/oauth2/jwks"),
        "end_session_endpoint": provider.endpoint("/oauth2/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys::ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", DIRECTORY_SCOPE, MANAGEMENT_SCOPE],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "email",
            "email_verified", "name", "given_name", "family_name", "org_id", "org_slug",
            "groups", "role", "idp", "sid"
        ],
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    cacheable(Json(document).into_response())
}

async fn jwks(State(state): State<AppState>) -> Response {
    // Publish a key before the first token needs it, so clients can cache.
    if let Err(error) = state
        .provider
        .keys
        .signing_key(&state.db, &state.secrets)
        .await
    {
        tracing::error!(%error, "no signing key");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match keys::published(&state.db).await {
        Ok(set) => {
            let mut response = Json(set).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            cacheable(response)
        }
        Err(error) => {
            tracing::error!(%error, "JWKS failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

async fn authorize_get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match serde_urlencoded::from_str(query.as_deref().unwrap_or("")) {
        Ok(params) => authorize(&state, params, &headers).await,
        Err(_) => plain_page::refused(
            "Sign-in request refused",
            "The request's query is malformed.",
        ),
    }
}

async fn authorize_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serde_urlencoded::from_bytes(&body) {
        Ok(params) if is_form(&headers) => authorize(&state, params, &headers).await,
        _ => plain_page::refused(
            "Sign-in request refused",
            "The request must be an application/x-www-form-urlencoded form.",
        ),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn authorize(
    state: &AppState,
    params: Vec<(String, String)>,
    headers: &HeaderMap,
) -> Response {
    let request = match authorize::validate(&state.db, params).await {
        Ok(request) => request,
        Err(Refusal::Page { title, message }) => return plain_page::refused(title, &message),
        Err(Refusal::Redirect {
            redirect_uri,
            state: client_state,
            error,
        }) => {
            return redirect_error(
                &state.provider,
                &redirect_uri,
                client_state.as_deref(),
                &error,
            )
        }
        Err(Refusal::Database(error)) => {
            tracing::error!(%error, "authorization request failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let signed_in = match signed_in_for(state, &request, headers).await {
        Ok(signed_in) => signed_in,
        Err(error) => {
            tracing::error!(%error, "authorization request failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    match signed_in {
        Some(grant) => answer_with_code(&state.provider, &request, grant).await,
        None if request.prompt == Prompt::None => redirect_error(
            &state.provider,
            &request.redirect_uri,
            request.state.as_deref(),
            &OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "Nobody is signed in to Latchkey.",
            ),
        ),
        None => send_to_sign_in(state, &request).await,
    }
}

/// The browser's member, when their session satisfies the request: the
/// organization it names, `prompt=login` and `max_age`.
async fn signed_in_for(
    state: &AppState,
    request: &AuthorizationRequest,
    headers: &HeaderMap,
) -> Result<Option<Grant>, sea_orm::DbErr> {
    let Some(token) = app::ssr::session_token_in(headers) else {
        return Ok(None);
    };
    let Some((session, account)) = crate::sessions::live_account(&state.db, &token).await? else {
        return Ok(None);
    };
    let org_matches = request
        .organization
        .as_deref()
        .is_none_or(|slug| slug == account.org.slug);
    let fresh_enough = request
        .max_age
        .is_none_or(|seconds| (Utc::now() - session.created_at).num_seconds() <= seconds);
    if !org_matches || !fresh_enough || request.prompt == Prompt::Login {
        return Ok(None);
    }
    let is_sso = SignInMethod::SSO
        .iter()
        .any(|m| m.as_str() == session.method);
    Ok(Some(Grant {
        app_id: request.app.id,
        user_id: account.user.id,
        org_id: account.org.id,
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth: Authentication {
            time: session.created_at,
            method: if is_sso { "sso" } else { "pwd" }.to_string(),
            idp: session.sso_connection_id,
        },
        sid: session.sid.clone(),
    }))
}

async fn answer_with_code(
    provider: &Provider,
    request: &AuthorizationRequest,
    grant: Grant,
) -> Response {
    match codes::issue(&provider.db, grant).await {
        Ok(code) => {
            let mut pairs = vec![("code", code.as_str())];
            if let Some(client_state) = &request.state {
                pairs.push(("state", client_state));
            }
            pairs.push(("iss", &provider.issuer));
            Redirect::to(&authorize::answer_url(&request.redirect_uri, &pairs)).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "could not issue an authorization code");
            redirect_error(
                provider,
                &request.redirect_uri,
                request.state.as_deref(),
                &OAuthError::server_error(),
            )
        }
    }
}

fn redirect_error(
    provider: &Provider,
    redirect_uri: &str,
    client_state: Option<&str>,
    error: &OAuthError,
) -> Response {
    let mut pairs = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(client_state) = client_state {
        pairs.push(("state", client_state));
    }
    pairs.push(("iss", &provider.issuer));
    Redirect::to(&authorize::answer_url(redirect_uri, &pairs)).into_response()
}

/// Nobody (or not the right member) is signed in: to the organization's
/// identity provider when the request says which, else to the sign-in page;
/// either way back to this request afterwards.
async fn send_to_sign_in(state: &AppState, request: &AuthorizationRequest) -> Response {
    let next = request.resume_path();
    if next.len() > MAX_RESUME_LEN {
        return redirect_error(
            &state.provider,
            &request.redirect_uri,
            request.state.as_deref(),
            &OAuthError::invalid_request(
                "The authorization request is too long to resume after sign-in.",
            ),
        );
    }
    let started = if let Some(slug) = &request.organization {
        Some(state.sso.start_sign_in(slug, None, &next).await)
    } else if let Some(email) = &request.login_hint {
        Some(state.sso.start_sign_in_for_email(email, &next).await)
    } else {
        None
    };
    let sign_in_page = format!("/login?next={}", urlencode(&next));
    match started {
        Some(Ok(SignInStart::Started(started))) => redirect_to_idp(started),
        Some(Ok(SignInStart::Choose { org_slug, .. })) => Redirect::to(
            &shared::redirect::org_login_path(&org_slug, None, Some(&next)),
        )
        .into_response(),
        // The organization page says why its single sign-on cannot start.
        Some(Err(
            StartError::Refused { .. } | StartError::NotConfigured(_) | StartError::UnsafeIdpUrl(_),
        )) => match &request.organization {
            Some(slug) => Redirect::to(&shared::redirect::org_login_path(slug, None, Some(&next)))
                .into_response(),
            None => Redirect::to(&sign_in_page).into_response(),
        },
        Some(Err(StartError::Database(error))) => {
            tracing::error!(%error, "could not start single sign-on");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Some(Err(StartError::NotAvailable)) | None => Redirect::to(&sign_in_page).into_response(),
    }
}

/// The token endpoint's answers: JSON, never cached (RFC 6749 §5.1).
fn token_answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn token_error(error: &OAuthError, basic_auth: bool) -> Response {
    let status = match error.code {
        OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthErrorCode::ServerError => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = token_answer(status, error.to_json());
    if status == StatusCode::UNAUTHORIZED && basic_auth {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"latchkey\""),
        );
    }
    response
}

/// The client's credentials: HTTP Basic (each part form-encoded, RFC 6749
/// §2.3.1) or `client_id` and `client_secret` in the form, never both.
struct ClientCredentials {
    id: String,
    secret: String,
    basic: bool,
}

fn client_credentials(
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<ClientCredentials, OAuthError> {
    let in_form = |name| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidClient, why);
    match (basic, in_form("client_secret")) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "Authenticate the client one way: HTTP Basic or client_secret in the form, not both.",
        )),
        (Some(encoded), None) => {
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| invalid("The Basic credentials are not valid base64."))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| invalid("The Basic credentials have no colon."))?;
            let decode = |part: &str| {
                url::form_urlencoded::parse(format!("x={part}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Ok(ClientCredentials {
                id: decode(id),
                secret: decode(secret),
                basic: true,
            })
        }
        (None, Some(secret)) => Ok(ClientCredentials {
            id: in_form("client_id").unwrap_or_default(),
            secret,
            basic: false,
        }),
        (None, None) => Err(invalid(
            "Client authentication is required: client_secret_basic or client_secret_post.",
        )),
    }
}

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) if is_form(&headers) => form,
        _ => {
            return token_error(
                &OAuthError::invalid_request("Send an application/x-www-form-urlencoded form."),
                false,
            )
        }
    };
    if let Some((name, _)) = form
        .iter()
        .find(|(k, _)| form.iter().filter(|(n, _)| n == k).count() > 1)
    {
        return token_error(
            &OAuthError::invalid_request(format!("The parameter {name} is given more than once.")),
            false,
        );
    }
    let credentials = match client_credentials(&headers, &form) {
        Ok(credentials) => credentials,
        Err(error) => return token_error(&error, headers.contains_key(header::AUTHORIZATION)),
    };
    let app = match apps::authenticate(&state.db, &credentials.id, &credentials.secret).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return token_error(
                &OAuthError::new(
                    OAuthErrorCode::InvalidClient,
                    "The client ID or secret is wrong.",
                ),
                credentials.basic,
            )
        }
        Err(error) => return token_error(&error.into(), false),
    };
    let get = |name| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let answer = match get("grant_type") {
        Some("authorization_code") => redeem_code(&state, &app, &get).await,
        Some("client_credentials") => app_token(&state, &app, get("scope")).await,
        Some(other) => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!(
                "grant_type {other} is not supported; use authorization_code or client_credentials."
            ),
        )),
        None => Err(OAuthError::invalid_request("grant_type is missing.")),
    };
    match answer {
        Ok(body) => token_answer(StatusCode::OK, body),
        Err(error) => token_error(&error, credentials.basic),
    }
}

async fn redeem_code<'a>(
    state: &AppState,
    app: &crate::entities::host_app::Model,
    get: &impl Fn(&'static str) -> Option<&'a str>,
) -> Result<serde_json::Value, OAuthError> {
    let code = get("code").ok_or_else(|| OAuthError::invalid_request("code is missing."))?;
    let redirect_uri = get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing."))?;
    let verifier = get("code_verifier").ok_or_else(|| {
        OAuthError::invalid_request("code_verifier is missing: PKCE is required.")
    })?;
    if !codes::is_valid_verifier(verifier) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636).",
        ));
    }
    let grant = match codes::redeem(&state.db, code).await? {
        Redemption::Redeemed(grant) => grant,
        Redemption::Replayed => {
            return Err(OAuthError::invalid_grant(
                "The code was already used; the tokens issued for it are revoked.",
            ))
        }
        Redemption::Expired => return Err(OAuthError::invalid_grant("The code has expired.")),
        Redemption::Unknown => return Err(OAuthError::invalid_grant("The code is not valid.")),
    };
    if grant.app_id != app.id {
        return Err(OAuthError::invalid_grant(
            "The code was issued to another client.",
        ));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the one in the authorization request.",
        ));
    }
    if !codes::verifier_matches(verifier, &grant.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge.",
        ));
    }
    let member = claims::member(&state.db, grant.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The member's account is no longer active."))?;
    let auth = Authentication {
        time: grant.auth_time,
        method: grant.amr.clone(),
        idp: grant.idp,
    };
    let bearer = Bearer::Member {
        user_id: grant.user_id,
        org_id: grant.org_id,
        auth: auth.clone(),
        code_hash: grant.code_hash.clone(),
    };
    let access_token = tokens::issue(&state.db, app.id, bearer, &grant.scope).await?;
    let key = state
        .provider
        .keys
        .signing_key(&state.db, &state.secrets)
        .await?;
    let request = IdTokenRequest {
        issuer: &state.provider.issuer,
        client_id: &app.client_id,
        scope: &grant.scope,
        nonce: grant.nonce.as_deref(),
        auth: &auth,
        access_token: &access_token,
        code,
        sid: grant.sid.as_deref(),
        now: Utc::now(),
    };
    let id_token = claims::id_token(&member, request, &key).map_err(|error| {
        tracing::error!(%error, "could not sign an ID token");
        OAuthError::server_error()
    })?;
    Ok(serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": tokens::ACCESS_TOKEN_LIFETIME.num_seconds(),
        "id_token": id_token,
        "scope": grant.scope,
    }))
}

/// A token for the app itself: `directory` (the default) reads the directory
/// API, `management` creates organizations and setup links.
async fn app_token(
    state: &AppState,
    app: &crate::entities::host_app::Model,
    scope: Option<&str>,
) -> Result<serde_json::Value, OAuthError> {
    let requested: Vec<&str> = scope
        .unwrap_or(DIRECTORY_SCOPE)
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(unknown) = requested
        .iter()
        .find(|s| **s != DIRECTORY_SCOPE && **s != MANAGEMENT_SCOPE)
    {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            format!(
                "An app token's scope can be directory and management; {unknown} is not known."
            ),
        ));
    }
    let granted: Vec<&str> = [DIRECTORY_SCOPE, MANAGEMENT_SCOPE]
        .into_iter()
        .filter(|known| requested.contains(known))
        .collect();
    let granted = if granted.is_empty() {
        DIRECTORY_SCOPE.to_string()
    } else {
        granted.join(" ")
    };
    let access_token = tokens::issue(&state.db, app.id, Bearer::App, &granted).await?;
    Ok(serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": tokens::ACCESS_TOKEN_LIFETIME.num_seconds(),
        "scope": granted,
    }))
}

/// The bearer token in the `Authorization` header, if any.
pub(super) fn presented_bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// RFC 6750 §3: a missing token gets a bare challenge, a bad one says so.
pub(super) fn bearer_error(status: StatusCode, error: Option<&OAuthError>) -> Response {
    let challenge = match error {
        Some(error) => format!(
            "Bearer realm=\"latchkey\", error=\"{}\", error_description=\"{}\"",
            error.code.as_str(),
            error.description.replace('"', "'")
        ),
        None => "Bearer realm=\"latchkey\"".to_string(),
    };
    let body = error.map_or_else(
        || serde_json::json!({"error": "invalid_request"}),
        OAuthError::to_json,
    );
    let mut response = token_answer(status, body);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(presented) = presented else {
        return bearer_error(StatusCode::UNAUTHORIZED, None);
    };
    let invalid = |why: &str| {
        bearer_error(
            StatusCode::UNAUTHORIZED,
            Some(&OAuthError::new(OAuthErrorCode::InvalidToken, why)),
        )
    };
    let found = match tokens::find(&state.db, presented).await {
        Ok(found) => found,
        Err(error) => return token_error(&error.into(), false),
    };
    let Some(token) = found else {
        return invalid("The access token is unknown or expired.");
    };
    let (Some(user_id), Some(auth_time), Some(amr)) =
        (token.user_id, token.auth_time, token.amr.clone())
    else {
        return bearer_error(
            StatusCode::FORBIDDEN,
            Some(&OAuthError::new(
                OAuthErrorCode::InsufficientScope,
                "This token belongs to the app, not to a member.",
            )),
        );
    };
    match claims::member(&state.db, user_id).await {
        Ok(Some(member)) => {
            let auth = Authentication {
                time: auth_time,
                method: amr,
                idp: token.idp,
            };
            token_answer(
                StatusCode::OK,
                claims::userinfo(&member, &token.scope, &auth),
            )
        }
        Ok(None) => invalid("The member's account is no longer active."),
        Err(error) => token_error(&error.into(), false),
    }
}
