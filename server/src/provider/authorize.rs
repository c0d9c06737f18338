//! The authorization request (OIDC Core §3.1.2.1), checked in the order
//! RFC 6749 §4.1.2.1 requires: while the client or its redirect URI is in
//! doubt the browser is shown an error page and sent nowhere; after that,
//! every refusal goes back to the app's redirect URI.

use super::apps;
use super::errors::{OAuthError, OAuthErrorCode};
use crate::entities::host_app;
use sea_orm::{DatabaseConnection, DbErr};

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub app: host_app::Model,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// `organization=<slug>`: straight to that organization's sign-in.
    pub organization: Option<String>,
    /// `login_hint=<email>`: route by the email's verified domain.
    pub login_hint: Option<String>,
    pub prompt: Prompt,
    /// `max_age` in seconds: an older sign-in must be repeated.
    pub max_age: Option<i64>,
    /// The request's parameters, to come back to after sign-in.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Sign in if needed.
    Default,
    /// Never show a page: `login_required` when nobody is signed in.
    None,
    /// Sign in again even when signed in.
    Login,
}

#[derive(Debug)]
pub enum Refusal {
    /// Shown in the browser: the client or redirect URI cannot be trusted.
    Page {
        title: &'static str,
        message: String,
    },
    /// Sent to the app's redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
    Database(DbErr),
}

impl From<DbErr> for Refusal {
    fn from(error: DbErr) -> Self {
        Refusal::Database(error)
    }
}

const MAX_VALUE_LEN: usize = 2048;

fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first.filter(|v| !v.is_empty())),
    }
}

fn page(title: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Page {
        title,
        message: message.into(),
    }
}

pub async fn validate(
    db: &DatabaseConnection,
    params: Vec<(String, String)>,
) -> Result<AuthorizationRequest, Refusal> {
    let (app, redirect_uri) = trusted_client(db, &params).await?;
    let state = single(&params, "state").ok().flatten().map(str::to_string);
    let refuse = |error: OAuthError| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    if let Some((name, _)) = params
        .iter()
        .find(|(name, _)| single(&params, name).is_err())
    {
        return Err(refuse(OAuthError::invalid_request(format!(
            "The parameter {name} is given more than once."
        ))));
    }
    if let Some((name, _)) = params.iter().find(|(_, value)| value.len() > MAX_VALUE_LEN) {
        return Err(refuse(OAuthError::invalid_request(format!(
            "The parameter {name} is longer than {MAX_VALUE_LEN} characters."
        ))));
    }
    let get = |name| single(&params, name).ok().flatten();
    if get("request").is_some() || get("request_uri").is_some() {
        return Err(refuse(OAuthError::new(
            OAuthErrorCode::RequestNotSupported,
            "Request objects are not supported; send the parameters in the query.",
        )));
    }
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(refuse(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                format!("response_type {other} is not supported; use code."),
            )))
        }
        None => {
            return Err(refuse(OAuthError::invalid_request(
                "response_type is missing; use code.",
            )))
        }
    }
    let scope = get("scope").unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(refuse(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "The scope must include openid.",
        )));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, _) => {
            return Err(refuse(OAuthError::invalid_request(
                "PKCE is required: send code_challenge with code_challenge_method=S256.",
            )))
        }
        (Some(_), method) if method != Some("S256") => {
            return Err(refuse(OAuthError::invalid_request(
                "code_challenge_method must be S256.",
            )))
        }
        (Some(challenge), _) if !super::codes::is_valid_challenge(challenge) => {
            return Err(refuse(OAuthError::invalid_request(
                "code_challenge must be the 43-character base64url SHA-256 of the code verifier.",
            )))
        }
        (Some(challenge), _) => challenge.to_string(),
    };
    let prompt = match get("prompt") {
        None => Prompt::Default,
        Some("none") => Prompt::None,
        Some("login") => Prompt::Login,
        Some("consent") | Some("select_account") => Prompt::Default,
        Some(other) => {
            return Err(refuse(OAuthError::invalid_request(format!(
                "prompt {other} is not supported."
            ))))
        }
    };
    let max_age = match get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(seconds)) if seconds >= 0 => Some(seconds),
        Some(_) => {
            return Err(refuse(OAuthError::invalid_request(
                "max_age must be a whole number of seconds.",
            )))
        }
    };
    Ok(AuthorizationRequest {
        redirect_uri: redirect_uri.clone(),
        scope: normalize_scope(scope),
        state: state.clone(),
        nonce: get("nonce").map(str::to_string),
        code_challenge,
        organization: get("organization").map(str::to_string),
        login_hint: get("login_hint").map(str::to_string),
        prompt,
        max_age,
        app,
        params,
    })
}

/// The registered client and the redirect URI it registered, exactly.
async fn trusted_client(
    db: &DatabaseConnection,
    params: &[(String, String)],
) -> Result<(host_app::Model, String), Refusal> {
    let client_id = single(params, "client_id")
        .map_err(|_| page("Sign-in request refused", "The request names client_id more than once."))?
        .ok_or_else(|| page("Sign-in request refused", "The request has no client_id: the application that sent you here is not set up correctly."))?;
    let app = apps::find(db, client_id).await?.ok_or_else(|| {
        page(
            "Unknown application",
            "No application is registered with this client_id. Ask the application's administrator to check its Latchkey settings.",
        )
    })?;
    let redirect_uri = single(params, "redirect_uri")
        .map_err(|_| {
            page(
                "Sign-in request refused",
                "The request names redirect_uri more than once.",
            )
        })?
        .ok_or_else(|| {
            page(
                "Sign-in request refused",
                "The request has no redirect_uri.",
            )
        })?;
    if !apps::redirect_uris(&app).iter().any(|r| r == redirect_uri) {
        return Err(page(
            "Sign-in request refused",
            format!(
                "{} asked to return you to an address it has not registered with Latchkey, so you were not sent there. Its administrator must register the exact redirect URI.",
                app.name
            ),
        ));
    }
    Ok((app, redirect_uri.to_string()))
}

/// Known scopes, each once, in a stable order.
fn normalize_scope(scope: &str) -> String {
    ["openid", "profile", "email"]
        .into_iter()
        .filter(|known| scope.split(' ').any(|s| s == *known))
        .collect::<Vec<_>>()
        .join(" ")
}

impl AuthorizationRequest {
    /// This request as a local path, without what signing in satisfies
    /// (`prompt`, `max_age`): where the browser comes back after sign-in.
    pub fn resume_path(&self) -> String {
        let kept: Vec<(&str, &str)> = self
            .params
            .iter()
            .filter(|(k, _)| k != "prompt" && k != "max_age")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let query = serde_urlencoded::to_string(kept).unwrap_or_default();
        format!("/oauth2/authorize?{query}")
    }
}

/// `redirect_uri` with the answer's parameters appended to its query.
pub fn answer_url(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
    }
    url.to_string()
}
