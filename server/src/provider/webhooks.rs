//! Webhook delivery to host apps (SPEC §14): at least once, in order per
//! organization, retried with exponential backoff and jitter for a day.
//!
//! A change only writes its event (in its own transaction); everything here
//! runs off the request path. Each tick fans new events out into per-app
//! delivery rows, then sends each (app, organization)'s oldest undelivered
//! event when it is due. A delivery is claimed with a conditional UPDATE, so
//! several instances on one database send each event once.

use crate::entities::{host_app, organization, webhook_delivery};
use crate::events;
use crate::outbound::{self, OutboundPolicy};
use crate::secrets::{SecretKey, SecretSlot};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use sha2::Sha256;
use std::collections::HashMap;
use uuid::Uuid;

pub const SIGNATURE_HEADER: &str = "Latchkey-Signature";

/// When deliveries are retried and given up on.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first retry's wait (before jitter); each later one doubles, up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// How long after the event an undeliverable event is given up.
    pub give_up_after: Duration,
    /// How long one instance holds a claimed delivery.
    pub claim_for: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_wait: Duration::seconds(5),
            max_wait: Duration::hours(1),
            give_up_after: Duration::hours(24),
            claim_for: Duration::seconds(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempts + 1`: doubling, with ±20 % jitter so
    /// that many failed deliveries do not retry in step.
    pub fn wait_after(&self, attempts: i32) -> Duration {
        let doubled = self.first_wait * 2_i32.saturating_pow(attempts.clamp(1, 20) as u32 - 1);
        let base = doubled.min(self.max_wait);
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        Duration::milliseconds((base.num_milliseconds() as f64 * jitter) as i64)
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[derive(Clone)]
pub struct Dispatcher {
    pub db: DatabaseConnection,
    pub secrets: SecretKey,
    pub outbound: OutboundPolicy,
    pub retry: RetryPolicy,
}

/// What one tick did (for tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    pub fanned_out: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
}

impl Dispatcher {
    /// Runs until the process ends, one tick a second.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "webhook delivery tick failed");
            }
        }
    }

    pub async fn tick(&self) -> Result<TickReport, DbErr> {
        let mut report = TickReport {
            fanned_out: self.fan_out().await?,
            ..TickReport::default()
        };
        for queue in self.due_queues().await? {
            // In order: a failure holds back the organization's later events.
            for delivery in queue {
                if !self.claim(&delivery).await? {
                    break;
                }
                match self.send(&delivery).await {
                    Ok(()) => report.delivered += 1,
                    Err(why) => {
                        report.failed_attempts += 1;
                        self.record_failure(&delivery, &why).await?;
                        break;
                    }
                }
            }
        }
        Ok(report)
    }

    /// New events become delivery rows for every app with a webhook URL.
    async fn fan_out(&self) -> Result<u64, DbErr> {
        let apps = host_app::Entity::find()
            .filter(host_app::Column::WebhookUrl.is_not_null())
            .all(&self.db)
            .await?;
        let mut added = 0;
        for app in apps {
            let new = events::after(&self.db, app.webhook_cursor, 500).await?;
            let Some(last) = new.last().map(|e| e.seq) else {
                continue;
            };
            let now = Utc::now();
            let rows = new.iter().map(|event| webhook_delivery::ActiveModel {
                id: Set(crate::db::new_row_id()),
                app_id: Set(app.id),
                event_seq: Set(event.seq),
                org_id: Set(event.org_id),
                attempts: Set(0),
                next_attempt_at: Set(now),
                locked_until: Set(None),
                delivered_at: Set(None),
                failed_at: Set(None),
                last_error: Set(None),
                created_at: Set(event.created_at),
            });
            // Another instance may have fanned out the same events: one row each.
            webhook_delivery::Entity::insert_many(rows)
                .on_conflict_do_nothing_on([
                    webhook_delivery::Column::AppId,
                    webhook_delivery::Column::EventSeq,
                ])
                .exec_without_returning(&self.db)
                .await?;
            host_app::Entity::update_many()
                .col_expr(host_app::Column::WebhookCursor, Expr::value(last))
                .filter(host_app::Column::Id.eq(app.id))
                .filter(host_app::Column::WebhookCursor.lt(last))
                .exec(&self.db)
                .await?;
            added += new.len() as u64;
        }
        Ok(added)
    }

    /// Each (app, organization)'s pending deliveries in event order, when the
    /// oldest is due: a later event never overtakes one being retried.
    async fn due_queues(&self) -> Result<Vec<Vec<webhook_delivery::Model>>, DbErr> {
        let pending = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::DeliveredAt.is_null())
            .filter(webhook_delivery::Column::FailedAt.is_null())
            .order_by_asc(webhook_delivery::Column::EventSeq)
            .limit(1000)
            .all(&self.db)
            .await?;
        let now = Utc::now();
        let mut order = Vec::new();
        let mut queues: HashMap<(Uuid, Uuid), Vec<webhook_delivery::Model>> = HashMap::new();
        for delivery in pending {
            let key = (delivery.app_id, delivery.org_id);
            if !queues.contains_key(&key) {
                order.push(key);
            }
            queues.entry(key).or_default().push(delivery);
        }
        let is_due = |d: &webhook_delivery::Model| {
            d.next_attempt_at <= now && d.locked_until.is_none_or(|until| until < now)
        };
        Ok(order
            .into_iter()
            .filter_map(|key| queues.remove(&key))
            .filter(|queue| queue.first().is_some_and(is_due))
            .collect())
    }

    /// Takes the delivery for this instance; false when another one has it.
    async fn claim(&self, delivery: &webhook_delivery::Model) -> Result<bool, DbErr> {
        let now = Utc::now();
        let claimed = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::LockedUntil,
                Expr::value(now + self.retry.claim_for),
            )
            .filter(webhook_delivery::Column::Id.eq(delivery.id))
            .filter(webhook_delivery::Column::DeliveredAt.is_null())
            .filter(
                Condition::any()
                    .add(webhook_delivery::Column::LockedUntil.is_null())
                    .add(webhook_delivery::Column::LockedUntil.lt(now)),
            )
            .exec(&self.db)
            .await?;
        Ok(claimed.rows_affected == 1)
    }

    /// POSTs the event; an error says why it did not land.
    async fn send(&self, delivery: &webhook_delivery::Model) -> Result<(), String> {
        let (app, body) = self.payload(delivery).await.map_err(|e| e.to_string())?;
        let url = app
            .webhook_url
            .clone()
            .ok_or("the app has no webhook URL any more")?;
        let secret = app
            .webhook_secret
            .as_deref()
            .ok_or("the app has no webhook secret")
            .and_then(|sealed| {
                self.secrets
                    .decrypt(SecretSlot::WebhookSecret(app.id), sealed)
                    .map_err(|_| "the webhook secret cannot be decrypted")
            })?;
        let request = http::Request::post(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&secret, Utc::now().timestamp(), &body),
            )
            .body(body.into_bytes())
            .map_err(|e| e.to_string())?;
        let response = outbound::send(request, self.outbound)
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!(
                "the webhook answered HTTP {}",
                response.status().as_u16()
            ));
        }
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::DeliveredAt,
                Expr::value(Utc::now()),
            )
            .col_expr(
                webhook_delivery::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::value(delivery.attempts + 1),
            )
            .filter(webhook_delivery::Column::Id.eq(delivery.id))
            .exec(&self.db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn payload(
        &self,
        delivery: &webhook_delivery::Model,
    ) -> Result<(host_app::Model, String), DbErr> {
        let app = host_app::Entity::find_by_id(delivery.app_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("host app".into()))?;
        let event = crate::entities::directory_event::Entity::find_by_id(delivery.event_seq)
            .one(&self.db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("event".into()))?;
        let slug = organization::Entity::find_by_id(event.org_id)
            .one(&self.db)
            .await?
            .map(|org| org.slug)
            .unwrap_or_default();
        Ok((app, events::describe(&event, &slug).to_string()))
    }

    async fn record_failure(
        &self,
        delivery: &webhook_delivery::Model,
        why: &str,
    ) -> Result<(), DbErr> {
        let attempts = delivery.attempts + 1;
        let now = Utc::now();
        let give_up = now - delivery.created_at >= self.retry.give_up_after;
        tracing::warn!(
            delivery = %delivery.id,
            attempts,
            gave_up = give_up,
            reason = why,
            "webhook delivery failed"
        );
        let mut model: webhook_delivery::ActiveModel = delivery.clone().into();
        model.attempts = Set(attempts);
        model.locked_until = Set(None);
        model.last_error = Set(Some(why.chars().take(500).collect()));
        if give_up {
            model.failed_at = Set(Some(now));
        } else {
            model.next_attempt_at = Set(now + self.retry.wait_after(attempts));
        }
        model.update(&self.db).await?;
        Ok(())
    }
}

/// One line of `latchkey app-deliveries`: where each app's webhooks stand.
#[derive(Debug, serde::Serialize)]
pub struct DeliveryStatus {
    pub client_id: String,
    pub webhook_url: Option<String>,
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
    pub last_error: Option<String>,
}

pub async fn status(db: &DatabaseConnection) -> Result<Vec<DeliveryStatus>, DbErr> {
    let apps = host_app::Entity::find()
        .order_by_asc(host_app::Column::CreatedAt)
        .all(db)
        .await?;
    let mut counts: HashMap<Uuid, DeliveryStatus> = HashMap::new();
    for app in &apps {
        counts.insert(
            app.id,
            DeliveryStatus {
                client_id: app.client_id.clone(),
                webhook_url: app.webhook_url.clone(),
                pending: 0,
                delivered: 0,
                failed: 0,
                last_error: None,
            },
        );
    }
    let deliveries = webhook_delivery::Entity::find()
        .order_by_asc(webhook_delivery::Column::EventSeq)
        .all(db)
        .await?;
    for delivery in deliveries {
        let Some(status) = counts.get_mut(&delivery.app_id) else {
            continue;
        };
        match (delivery.delivered_at, delivery.failed_at) {
            (Some(_), _) => status.delivered += 1,
            (None, Some(_)) => status.failed += 1,
            (None, None) => status.pending += 1,
        }
        if delivery.last_error.is_some() {
            status.last_error = delivery.last_error;
        }
    }
    Ok(apps
        .iter()
        .filter_map(|app| counts.remove(&app.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{\"a\":1}"),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn retries_double_from_about_five_seconds_with_jitter() {
        let policy = RetryPolicy::default();
        for (attempts, base) in [(1, 5_000), (2, 10_000), (3, 20_000), (20, 3_600_000)] {
            let wait = policy.wait_after(attempts).num_milliseconds();
            assert!(
                (base * 8 / 10..=base * 12 / 10).contains(&wait),
                "{attempts}: {wait}"
            );
        }
    }
}
