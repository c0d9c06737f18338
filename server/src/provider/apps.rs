//! Host apps registered as OpenID Connect clients (`latchkey create-app`).

use super::{digest, opaque_token, same_digest};
use crate::entities::host_app::{self, ActiveModel, Column, Entity, Model};
use crate::secrets::{SecretKey, SecretSlot};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde::Serialize;

const MAX_URL_LEN: usize = 2048;
const MAX_NAME_LEN: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppError {
    #[error("the app needs a name of 1 to {MAX_NAME_LEN} characters")]
    InvalidName,
    #[error("give at least one --redirect-uri")]
    NoRedirectUri,
    #[error("redirect URI \"{0}\" is refused: {1}")]
    InvalidRedirectUri(String, &'static str),
    #[error("webhook URL \"{0}\" is refused: {1}")]
    InvalidWebhookUrl(String, &'static str),
    #[error("post-logout redirect URI \"{0}\" is refused: {1}")]
    InvalidPostLogoutRedirectUri(String, &'static str),
    #[error("back-channel logout URI \"{0}\" is refused: {1}")]
    InvalidBackchannelLogoutUri(String, &'static str),
    #[error("no app has the client ID \"{0}\"")]
    NotFound(String),
    #[error("database error: {0}")]
    Database(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidName => "invalid_name",
            AppError::NoRedirectUri => "no_redirect_uri",
            AppError::InvalidRedirectUri(..) => "invalid_redirect_uri",
            AppError::InvalidWebhookUrl(..) => "invalid_webhook_url",
            AppError::InvalidPostLogoutRedirectUri(..) => "invalid_post_logout_redirect_uri",
            AppError::InvalidBackchannelLogoutUri(..) => "invalid_backchannel_logout_uri",
            AppError::NotFound(_) => "app_not_found",
            AppError::Database(_) => "database",
        }
    }
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        AppError::Database(error.to_string())
    }
}

#[derive(Debug, Default)]
pub struct NewApp {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub webhook_url: Option<String>,
    /// Where members may return after logging out (OIDC RP-Initiated Logout).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are POSTed (OIDC Back-Channel Logout).
    pub backchannel_logout_uri: Option<String>,
}

/// What `create-app` prints: the secrets, shown this once.
#[derive(Debug, Serialize)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
}

/// What `list-apps` prints: never a secret.
#[derive(Debug, Serialize)]
pub struct AppSummary {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub webhook_url: Option<String>,
    pub created_at: String,
}

/// Where `allow_private` lets plain http reach any host (labs and tests);
/// otherwise http is for the loopback only (RFC 8252 §7.3).
pub fn check_redirect_uri(uri: &str, allow_private: bool) -> Result<(), AppError> {
    let refuse = |why| Err(AppError::InvalidRedirectUri(uri.to_string(), why));
    if uri.len() > MAX_URL_LEN {
        return refuse("it is longer than 2048 characters");
    }
    let Ok(parsed) = url::Url::parse(uri) else {
        return refuse("it is not an absolute URL");
    };
    if parsed.fragment().is_some() {
        return refuse("a redirect URI must not have a #fragment (RFC 6749 §3.1.2)");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return refuse("it must not carry a user name or password");
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_private || is_loopback(&parsed) => Ok(()),
        "http" => refuse("use https (plain http is only for localhost)"),
        _ => refuse("use an https URL"),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A post-logout redirect URI follows the redirect URI's rules: the member's
/// browser is sent there.
fn check_post_logout_redirect_uri(uri: &str, allow_private: bool) -> Result<(), AppError> {
    check_redirect_uri(uri, allow_private).map_err(|error| match error {
        AppError::InvalidRedirectUri(uri, why) => AppError::InvalidPostLogoutRedirectUri(uri, why),
        other => other,
    })
}

/// The server posts to a back-channel logout URI as it posts webhooks.
fn check_backchannel_logout_uri(uri: &str, allow_private: bool) -> Result<(), AppError> {
    check_webhook_url(uri, allow_private).map_err(|error| match error {
        AppError::InvalidWebhookUrl(uri, why) => AppError::InvalidBackchannelLogoutUri(uri, why),
        other => other,
    })
}

fn check_webhook_url(uri: &str, allow_private: bool) -> Result<(), AppError> {
    let refuse = |why| Err(AppError::InvalidWebhookUrl(uri.to_string(), why));
    if uri.len() > MAX_URL_LEN {
        return refuse("it is longer than 2048 characters");
    }
    match url::Url::parse(uri).map(|u| u.scheme().to_string()) {
        Ok(scheme) if scheme == "https" => Ok(()),
        Ok(scheme) if scheme == "http" && allow_private => Ok(()),
        Ok(_) => refuse("use an https URL"),
        Err(_) => refuse("it is not an absolute URL"),
    }
}

pub async fn create(
    db: &DatabaseConnection,
    secrets: &SecretKey,
    new: NewApp,
    allow_private: bool,
) -> Result<Credentials, AppError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(AppError::InvalidName);
    }
    if new.redirect_uris.is_empty() {
        return Err(AppError::NoRedirectUri);
    }
    for uri in &new.redirect_uris {
        check_redirect_uri(uri, allow_private)?;
    }
    if let Some(url) = &new.webhook_url {
        check_webhook_url(url, allow_private)?;
    }
    for uri in &new.post_logout_redirect_uris {
        check_post_logout_redirect_uri(uri, allow_private)?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        check_backchannel_logout_uri(uri, allow_private)?;
    }
    let id = crate::db::new_row_id();
    let credentials = Credentials {
        client_id: format!("app_{}", id.simple()),
        client_secret: opaque_token(),
        webhook_secret: format!("whsec_{}", opaque_token()),
    };
    let now = Utc::now();
    ActiveModel {
        id: Set(id),
        name: Set(name.to_string()),
        client_id: Set(credentials.client_id.clone()),
        client_secret_hash: Set(digest(&credentials.client_secret)),
        redirect_uris: Set(serde_json::to_string(&new.redirect_uris).unwrap_or_default()),
        post_logout_redirect_uris: Set(
            serde_json::to_string(&new.post_logout_redirect_uris).unwrap_or_default()
        ),
        backchannel_logout_uri: Set(new.backchannel_logout_uri),
        webhook_url: Set(new.webhook_url),
        webhook_secret: Set(Some(
            secrets.encrypt(SecretSlot::WebhookSecret(id), &credentials.webhook_secret),
        )),
        // A new app's webhooks start from now, not from the past.
        webhook_cursor: Set(crate::events::latest_seq(db).await?),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(credentials)
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<AppSummary>, AppError> {
    let apps = Entity::find()
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await?;
    Ok(apps
        .into_iter()
        .map(|app| AppSummary {
            redirect_uris: redirect_uris(&app),
            post_logout_redirect_uris: post_logout_redirect_uris(&app),
            backchannel_logout_uri: app.backchannel_logout_uri,
            client_id: app.client_id,
            name: app.name,
            webhook_url: app.webhook_url,
            created_at: app.created_at.to_rfc3339(),
        })
        .collect())
}

/// Replaces the client secret; the old one stops working at once.
pub async fn rotate_secret(db: &DatabaseConnection, client_id: &str) -> Result<String, AppError> {
    let app = find(db, client_id)
        .await?
        .ok_or_else(|| AppError::NotFound(client_id.to_string()))?;
    let secret = opaque_token();
    let mut active: ActiveModel = app.into();
    active.client_secret_hash = Set(digest(&secret));
    active.updated_at = Set(Utc::now());
    active.update(db).await?;
    Ok(secret)
}

/// Removes the app with its codes and tokens.
pub async fn delete(db: &DatabaseConnection, client_id: &str) -> Result<(), AppError> {
    let deleted = Entity::delete_many()
        .filter(Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound(client_id.to_string()));
    }
    Ok(())
}

pub async fn find(db: &DatabaseConnection, client_id: &str) -> Result<Option<Model>, DbErr> {
    if client_id.is_empty() || client_id.len() > 64 {
        return Ok(None);
    }
    Entity::find()
        .filter(host_app::Column::ClientId.eq(client_id))
        .one(db)
        .await
}

/// The app whose client ID and secret these are, if they match.
pub async fn authenticate(
    db: &DatabaseConnection,
    client_id: &str,
    client_secret: &str,
) -> Result<Option<Model>, DbErr> {
    let Some(app) = find(db, client_id).await? else {
        return Ok(None);
    };
    let matches = same_digest(&app.client_secret_hash, &digest(client_secret));
    Ok(matches.then_some(app))
}

pub fn redirect_uris(app: &Model) -> Vec<String> {
    serde_json::from_str(&app.redirect_uris).unwrap_or_default()
}

pub fn post_logout_redirect_uris(app: &Model) -> Vec<String> {
    serde_json::from_str(&app.post_logout_redirect_uris).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragment() {
        let cases = [
            ("https://app.example.com/callback", false, true),
            ("http://localhost:3000/cb", false, true),
            ("http://127.0.0.1:8080/cb", false, true),
            ("http://[::1]/cb", false, true),
            ("http://app.example.com/cb", false, false),
            ("http://app.example.com/cb", true, true),
            ("https://app.example.com/cb#x", false, false),
            ("https://user:pw@app.example.com/cb", false, false),
            ("javascript:alert(1)", true, false),
            ("/relative", false, false),
        ];
        for (uri, allow_private, accepted) in cases {
            assert_eq!(
                check_redirect_uri(uri, allow_private).is_ok(),
                accepted,
                "{uri}"
            );
        }
    }
}
