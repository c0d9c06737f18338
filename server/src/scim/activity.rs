//! Per-request bookkeeping kept off the request path: the request log and the
//! time the IdP last called are gathered in memory and written in batches.

use crate::entities::{scim_connection, scim_request};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use uuid::Uuid;

/// How many log entries each connection keeps.
pub const KEEP_PER_CONNECTION: u64 = 200;
/// Most entries held in memory between flushes; beyond that the oldest are dropped.
const MAX_PENDING: usize = 10_000;
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub connection_id: Uuid,
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub outcome: String,
}

#[derive(Default)]
struct Pending {
    /// Each connection's newest entries. The log keeps only
    /// `KEEP_PER_CONNECTION` a connection, so older ones would be written only
    /// to be pruned: under SCIM load that was thousands of rows a flush, and
    /// dropping the oldest from the front of one long `Vec` moved the whole
    /// buffer on every request (6 % of a lookup's CPU in `perf`).
    records: HashMap<Uuid, VecDeque<RequestRecord>>,
    held: usize,
    last_called: HashMap<Uuid, DateTime<Utc>>,
}

impl Pending {
    fn push(&mut self, record: RequestRecord) {
        self.last_called.insert(record.connection_id, record.at);
        let queue = self.records.entry(record.connection_id).or_default();
        if queue.len() >= KEEP_PER_CONNECTION as usize || self.held >= MAX_PENDING {
            if queue.pop_front().is_none() {
                return;
            }
            self.held -= 1;
        }
        queue.push_back(record);
        self.held += 1;
    }
}

pub struct Activity {
    db: DatabaseConnection,
    pending: Mutex<Pending>,
    /// Serialises flushes, so two never write the same batch.
    flushing: tokio::sync::Mutex<()>,
}

impl Activity {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            db,
            pending: Mutex::new(Pending::default()),
            flushing: tokio::sync::Mutex::new(()),
        })
    }

    /// Starts the periodic flush; it ends when the last handle is dropped.
    pub fn spawn_flusher(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                let Some(activity) = weak.upgrade() else {
                    break;
                };
                if let Err(error) = activity.flush().await {
                    tracing::warn!(%error, "could not write the SCIM request log");
                }
            }
        });
    }

    /// Notes a request; never waits for the database.
    pub fn record(&self, record: RequestRecord) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    /// Writes what has gathered since the last flush, in one transaction that
    /// takes its turn with the other writers (`db::begin_write`).
    pub async fn flush(&self) -> Result<(), DbErr> {
        let _guard = self.flushing.lock().await;
        let Pending {
            records,
            last_called,
            ..
        } = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if last_called.is_empty() {
            return Ok(());
        }
        let (txn, _turn) = crate::db::begin_write(&self.db).await?;
        // A connection deleted meanwhile takes its entries with it.
        let live: HashSet<Uuid> = scim_connection::Entity::find()
            .select_only()
            .column(scim_connection::Column::Id)
            .filter(scim_connection::Column::Id.is_in(last_called.keys().copied()))
            .into_tuple()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let kept: Vec<&RequestRecord> = records
            .iter()
            .filter(|(connection_id, _)| live.contains(connection_id))
            .flat_map(|(_, queue)| queue)
            .collect();
        for chunk in kept.chunks(500) {
            let rows = chunk.iter().map(|r| scim_request::ActiveModel {
                id: Set(crate::db::new_row_id()),
                connection_id: Set(r.connection_id),
                created_at: Set(r.at),
                method: Set(r.method.chars().take(16).collect()),
                path: Set(r.path.chars().take(512).collect()),
                status: Set(i32::from(r.status)),
                outcome: Set(r.outcome.chars().take(254).collect()),
            });
            scim_request::Entity::insert_many(rows).exec(&txn).await?;
        }
        for (connection_id, at) in last_called.iter().filter(|(id, _)| live.contains(id)) {
            scim_connection::Entity::update_many()
                .col_expr(scim_connection::Column::LastCalledAt, Expr::value(*at))
                .filter(scim_connection::Column::Id.eq(*connection_id))
                .exec(&txn)
                .await?;
            prune(&txn, *connection_id).await?;
        }
        txn.commit().await
    }
}

/// Keeps a connection's newest `KEEP_PER_CONNECTION` entries.
async fn prune(db: &impl ConnectionTrait, connection_id: Uuid) -> Result<(), DbErr> {
    let cutoff = scim_request::Entity::find()
        .filter(scim_request::Column::ConnectionId.eq(connection_id))
        .order_by_desc(scim_request::Column::CreatedAt)
        .offset(KEEP_PER_CONNECTION)
        .one(db)
        .await?;
    if let Some(cutoff) = cutoff {
        scim_request::Entity::delete_many()
            .filter(scim_request::Column::ConnectionId.eq(connection_id))
            .filter(scim_request::Column::CreatedAt.lte(cutoff.created_at))
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(connection_id: Uuid, n: i64) -> RequestRecord {
        RequestRecord {
            connection_id,
            at: DateTime::from_timestamp(1_800_000_000 + n, 0).unwrap(),
            method: "GET".into(),
            path: format!("/Users/{n}"),
            status: 200,
            outcome: "ok".into(),
        }
    }

    /// Only the entries the log would keep wait for the flush: each
    /// connection's newest `KEEP_PER_CONNECTION`, and its last call.
    #[test]
    fn each_connection_keeps_only_its_newest_entries_until_the_flush() {
        let (busy, quiet) = (Uuid::new_v4(), Uuid::new_v4());
        let mut pending = Pending::default();
        for n in 0..250 {
            pending.push(request(busy, n));
        }
        pending.push(request(quiet, 7));
        let paths: Vec<&str> = pending.records[&busy]
            .iter()
            .map(|r| r.path.as_str())
            .collect();
        let expected: Vec<String> = (50..250).map(|n| format!("/Users/{n}")).collect();
        assert_eq!(paths, expected);
        assert_eq!(pending.records[&quiet].len(), 1);
        assert_eq!(pending.held, 201);
        assert_eq!(pending.last_called[&busy], request(busy, 249).at);
    }

    /// However many connections call, what waits in memory stays bounded.
    #[test]
    fn what_waits_is_bounded_across_connections() {
        let mut pending = Pending::default();
        for n in 0..(MAX_PENDING as i64 + 500) {
            pending.push(request(Uuid::new_v4(), n));
        }
        let held: usize = pending.records.values().map(VecDeque::len).sum();
        assert_eq!((pending.held, held), (MAX_PENDING, MAX_PENDING));
    }
}
