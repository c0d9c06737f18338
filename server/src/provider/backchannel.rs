//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a
//! member's Latchkey session ends, each host app it signed in to is POSTed a
//! logout token naming the session, so the app ends its own.
//!
//! Delivery runs beside the request that ended the session: a member who
//! signs out is not kept waiting for the apps. An app that does not answer
//! 200 or 204 is tried again a few times, then given up on (the spec's
//! "SHOULD NOT retry indefinitely"); its own session still expires.
//!
//! Sessions also end where no logout code runs: deactivation, "End
//! sessions", Require SSO, expiry. Their apps are found by [`sweep`], which
//! every instance runs now and then: a remembered app whose session is gone
//! is claimed by deleting its row (so one instance tells it) and told.

use super::logout::{logout_token, take_apps, LogoutToken};
use super::Provider;
use crate::entities::host_app::{self, Model as HostApp};
use crate::entities::{op_session_app, session};
use crate::outbound::{self, OutboundPolicy};
use chrono::Utc;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use std::time::Duration;

/// Ended sessions handled per sweep.
const SWEEP_BATCH: u64 = 200;
/// How often each instance sweeps.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// The waits before the second and third attempts.
const RETRY_WAITS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];
/// How long an app has to answer one POST.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Tells every app the ended `session` signed in to. Returns how many apps
/// will be told; the POSTs go out in the background.
pub async fn notify_apps(provider: &Provider, session: &session::Model) -> Result<usize, DbErr> {
    let Some(sid) = session.sid.clone() else {
        return Ok(0);
    };
    let apps: Vec<HostApp> = take_apps(&provider.db, &sid)
        .await?
        .into_iter()
        .filter(|app| app.backchannel_logout_uri.is_some())
        .collect();
    let count = apps.len();
    for app in apps {
        let provider = provider.clone();
        let sid = sid.clone();
        let subject = session.user_id;
        tokio::spawn(async move {
            deliver(&provider, &app, subject, &sid).await;
        });
    }
    Ok(count)
}

/// Sweeps until the process ends.
pub async fn run_sweeper(provider: Provider) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        if let Err(error) = sweep(&provider).await {
            tracing::warn!(%error, "back-channel logout sweep failed");
        }
    }
}

/// Tells the apps of sessions that ended without a logout; returns how many
/// apps will be told.
pub async fn sweep(provider: &Provider) -> Result<usize, DbErr> {
    let live_sids = Query::select()
        .column(session::Column::Sid)
        .from(session::Entity)
        .and_where(session::Column::Sid.is_not_null())
        .to_owned();
    let ended = op_session_app::Entity::find()
        .filter(op_session_app::Column::Sid.not_in_subquery(live_sids))
        .limit(SWEEP_BATCH)
        .all(&provider.db)
        .await?;
    let mut told = 0;
    for link in ended {
        let claimed = op_session_app::Entity::delete_many()
            .filter(op_session_app::Column::Sid.eq(link.sid.clone()))
            .filter(op_session_app::Column::AppId.eq(link.app_id))
            .exec(&provider.db)
            .await?;
        if claimed.rows_affected != 1 {
            continue; // another instance took it
        }
        let Some(app) = host_app::Entity::find_by_id(link.app_id)
            .one(&provider.db)
            .await?
            .filter(|app| app.backchannel_logout_uri.is_some())
        else {
            continue;
        };
        told += 1;
        let provider = provider.clone();
        tokio::spawn(async move {
            deliver(&provider, &app, link.user_id, &link.sid).await;
        });
    }
    Ok(told)
}

async fn deliver(provider: &Provider, app: &HostApp, subject: uuid::Uuid, sid: &str) {
    let Some(uri) = app.backchannel_logout_uri.as_deref() else {
        return;
    };
    let mut waits = RETRY_WAITS.iter();
    loop {
        // A fresh token each attempt: each has its own jti and lifetime.
        let outcome = match token_for(provider, app, subject, sid).await {
            Ok(token) => post(provider, uri, &token).await,
            Err(error) => Err(error),
        };
        match (outcome, waits.next()) {
            (Ok(()), _) => {
                tracing::info!(client_id = %app.client_id, "back-channel logout delivered");
                return;
            }
            (Err(error), Some(wait)) => {
                tracing::warn!(client_id = %app.client_id, %error, "back-channel logout failed; retrying");
                tokio::time::sleep(*wait).await;
            }
            (Err(error), None) => {
                tracing::warn!(client_id = %app.client_id, %error, "back-channel logout given up");
                return;
            }
        }
    }
}

async fn token_for(
    provider: &Provider,
    app: &HostApp,
    subject: uuid::Uuid,
    sid: &str,
) -> Result<String, String> {
    let key = provider
        .keys
        .signing_key(&provider.db, &provider.secrets)
        .await
        .map_err(|e| e.to_string())?;
    let token = LogoutToken {
        issuer: &provider.issuer,
        client_id: &app.client_id,
        subject,
        sid,
        now: Utc::now(),
    };
    logout_token(&token, &key)
}

/// Back-Channel Logout §2.5: a form with `logout_token`; 200 or 204 is success.
async fn post(provider: &Provider, uri: &str, token: &str) -> Result<(), String> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", token)
        .finish();
    let request = http::Request::post(uri)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body.into_bytes())
        .map_err(|e| e.to_string())?;
    let policy = OutboundPolicy {
        allow_private_addresses: provider.allow_private_urls,
        timeout: ANSWER_TIMEOUT,
    };
    let response = outbound::send(request, policy)
        .await
        .map_err(|e| e.to_string())?;
    match response.status().as_u16() {
        200 | 204 => Ok(()),
        status => Err(format!("the app answered HTTP {status}")),
    }
}
