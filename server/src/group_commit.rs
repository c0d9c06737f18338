//! Group commit: writers hand their change to a queue; a writer task takes every
//! change waiting, runs each in its own savepoint inside one transaction, commits
//! once, and only then answers each caller. "201 Created" still means durable,
//! but a burst of IdP writes pays for one commit (and one write of each shared
//! index page) instead of one per request, and on SQLite the writers queue here
//! instead of sleeping in its busy handler.
//!
//! A change runs inside the batch's transaction, so what it reads is current:
//! read, decide and write in one change and no other write comes between them.
//! Its audit entries and directory events are appended rows that nothing in the
//! batch reads back: they are kept aside and written once per batch, in order,
//! before the commit (a change rolled back takes its rows with it).

use crate::audit::{self, AuditEntry};
use crate::db::Script;
use crate::entities::{audit_event, directory_event};
use crate::events::{self, EventType};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub type BoxFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// What a change decided. `Err(e)`: roll back what it wrote and answer `e`.
/// `Ok(answer)`: keep what it wrote and, once committed, answer `answer`, which
/// may itself be an error (a refusal whose audit row must be kept).
pub type Outcome<T, E> = Result<Result<T, E>, E>;

/// The most changes one transaction carries: enough to amortise the commit,
/// few enough that the first caller in a batch is not kept waiting long.
const MAX_BATCH: usize = 128;

type Reply = Box<dyn FnOnce(Option<&DbErr>) + Send>;
type Job =
    Box<dyn for<'t> FnOnce(&'t DatabaseTransaction, &'t Batch) -> BoxFuture<'t, Reply> + Send>;

/// The savepoint a guarded change runs in.
const SAVEPOINT: &str = "lk_change";

/// What the changes of one batch share: the rows they append, and whether the
/// savepoint of an earlier change is still set.
///
/// A change that succeeds leaves its savepoint set: the next guarded change
/// releases it in the same query that sets its own, and the commit releases
/// the last. Every statement is a round trip the writer (and every change
/// queued behind it) waits for; this saves one a change.
#[derive(Default)]
struct Batch {
    appended: Appended,
    savepoint_set: AtomicBool,
}

impl Batch {
    /// Sets a savepoint for the next change, releasing the one before.
    async fn set_savepoint(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let sql = if self.savepoint_set.swap(true, Ordering::Relaxed) {
            format!("RELEASE SAVEPOINT {SAVEPOINT}; SAVEPOINT {SAVEPOINT}")
        } else {
            format!("SAVEPOINT {SAVEPOINT}")
        };
        txn.execute_unprepared(&sql).await.map(|_| ())
    }

    /// Undoes what the change since the savepoint wrote; the savepoint stays set.
    async fn roll_back_to_savepoint(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        txn.execute_unprepared(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))
            .await
            .map(|_| ())
    }
}

/// The rows a batch appends after its changes.
#[derive(Default)]
struct Appended(std::sync::Mutex<Rows>);

#[derive(Default)]
struct Rows {
    audit: Vec<audit_event::ActiveModel>,
    events: Vec<directory_event::ActiveModel>,
}

impl Appended {
    fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
        // Only the batch's own task touches it, one change at a time.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn mark(&self) -> (usize, usize) {
        let rows = self.rows();
        (rows.audit.len(), rows.events.len())
    }

    fn truncate(&self, (audit, events): (usize, usize)) {
        let mut rows = self.rows();
        rows.audit.truncate(audit);
        rows.events.truncate(events);
    }

    fn take(&self) -> Rows {
        std::mem::take(&mut *self.rows())
    }
}

/// One change's view of its batch: its transaction (a savepoint) and the rows
/// it appends.
pub struct Change<'t> {
    pub txn: &'t DatabaseTransaction,
    appended: &'t Appended,
    /// In a savepoint of its own, which undoes all it wrote if it fails.
    guarded: bool,
}

impl Change<'_> {
    /// Runs `script` in the change's transaction, all or nothing: inside the
    /// change's own savepoint as it is (on PostgreSQL two round trips fewer),
    /// otherwise in one of the script's.
    pub async fn run(&self, script: Script) -> Result<(), DbErr> {
        if self.guarded {
            script.run_unguarded(self.txn).await
        } else {
            script.run_in(self.txn).await
        }
    }

    /// As `run`, for a script that breaks no constraint (it writes no unique
    /// value anew), so only a failing database makes it fail. On PostgreSQL it
    /// then goes with no savepoint at all, two round trips fewer on the writer
    /// every change waits for; if it fails anyway, the transaction is aborted
    /// and every change of the batch answers an error, none kept.
    pub async fn run_conflict_free(&self, script: Script) -> Result<(), DbErr> {
        match self.txn.get_database_backend() {
            DatabaseBackend::Postgres => script.run_unguarded(self.txn).await,
            _ => self.run(script).await,
        }
    }

    pub fn audit(&self, entry: AuditEntry) {
        self.appended.rows().audit.push(audit::row(entry));
    }

    pub fn event(&self, org_id: Uuid, event_type: EventType, data: &Value) {
        let row = events::row(org_id, event_type, data);
        self.appended.rows().events.push(row);
    }
}

pub struct GroupCommit {
    writers: Vec<mpsc::UnboundedSender<Job>>,
    backend: DatabaseBackend,
}

/// What a change writes, so changes to one resource always go to one writer.
/// On PostgreSQL several writers run at once; two of them locking the same
/// rows in different orders would deadlock (seen in the PATCH benchmark before
/// changes were routed by resource), so a user's or group's changes are
/// serialised on one writer. Any value that names the resource will do: its
/// id, or for a creation the name that must be unique.
pub type WriteKey<'a> = &'a [u8];

impl GroupCommit {
    /// Starts the writer tasks: one on SQLite, which has one writer anyway;
    /// four on PostgreSQL, whose commits wait on the disk and whose statements
    /// each cost a round trip, so one writer would leave it mostly idle. Two and
    /// eight were both slower than four (PATCH 2,739-2,848/s and 2,706-2,829/s
    /// against 3,106-3,203/s, same machine, alternating runs).
    pub fn start(db: DatabaseConnection) -> Self {
        let backend = db.get_database_backend();
        let count = match backend {
            DatabaseBackend::Sqlite => 1,
            _ => 4,
        };
        let writers = (0..count)
            .map(|_| {
                let (queue, receiver) = mpsc::unbounded_channel();
                tokio::spawn(write_batches(db.clone(), receiver));
                queue
            })
            .collect();
        Self { writers, backend }
    }

    fn writer(&self, key: WriteKey<'_>) -> &mpsc::UnboundedSender<Job> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        &self.writers[(hasher.finish() % self.writers.len() as u64) as usize]
    }

    /// Runs `change` in the next batch of the writer for `key` and answers once
    /// that batch is committed.
    pub async fn write<T, E, F>(&self, key: WriteKey<'_>, change: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'t> FnOnce(&'t Change<'t>) -> BoxFuture<'t, Outcome<T, E>> + Send + 'static,
    {
        self.write_with(key, Undo::Savepoint, change).await
    }

    /// As `write`, with `undo` saying what takes back a change that fails.
    pub async fn write_with<T, E, F>(
        &self,
        key: WriteKey<'_>,
        undo: Undo,
        change: F,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'t> FnOnce(&'t Change<'t>) -> BoxFuture<'t, Outcome<T, E>> + Send + 'static,
    {
        // On PostgreSQL a script undoes itself only inside a savepoint, and the
        // change's own costs no more round trips than the script's would. A
        // read-then-script change sets its script's savepoint only if needed.
        let guard = match undo {
            Undo::Script if self.backend == DatabaseBackend::Sqlite => Guard::None,
            Undo::ReadThenScript => Guard::None,
            _ => Guard::Savepoint,
        };
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        // The writer is another task: the change runs under its caller's request id.
        let request_id = crate::request_context::current();
        let job: Job = Box::new(move |txn, batch| {
            Box::pin(crate::request_context::scope(
                request_id,
                run_change(txn, batch, guard, change, answer),
            ))
        });
        if self.writer(key).send(job).is_err() {
            return Err(E::from(stopped()));
        }
        answered.await.unwrap_or_else(|_| Err(E::from(stopped())))
    }
}

/// What takes back a change that fails, as its writer says.
#[derive(Debug, Clone, Copy)]
pub enum Undo {
    /// A savepoint around the change: any change.
    Savepoint,
    /// On SQLite nothing more: the change's writes are one `db::Script`, after
    /// any reads, and undo themselves (two hops fewer on the writer every
    /// change waits for). On PostgreSQL a savepoint as `Savepoint`: there a
    /// script undoes itself only inside one, and any failed statement aborts
    /// the whole transaction (every change in the batch).
    Script,
    /// For a change that reads, then writes one script last, through
    /// `Change::run` or `Change::run_conflict_free`: no savepoint around the
    /// change on either backend. Its reads change nothing to undo (on
    /// PostgreSQL a read that fails aborts the batch), and its script undoes
    /// itself: in a savepoint of its own, or, when it breaks no constraint, on
    /// PostgreSQL with none at all. A PATCH then costs the writer two round
    /// trips instead of three.
    ReadThenScript,
}

/// What undoes a change that fails.
#[derive(Clone, Copy)]
enum Guard {
    /// A savepoint around the change.
    Savepoint,
    /// Nothing: the change's writes undo themselves.
    None,
}

fn stopped() -> DbErr {
    DbErr::Custom("the write was not completed: its batch failed".to_string())
}

/// Runs one change. A change that keeps nothing is answered at once; one that
/// keeps its writes is answered after the batch's commit.
async fn run_change<T, E, F>(
    txn: &DatabaseTransaction,
    batch: &Batch,
    guard: Guard,
    change: F,
    answer: oneshot::Sender<Result<T, E>>,
) -> Reply
where
    T: Send + 'static,
    E: From<DbErr> + Send + 'static,
    F: for<'t> FnOnce(&'t Change<'t>) -> BoxFuture<'t, Outcome<T, E>>,
{
    let appended = &batch.appended;
    let mark = appended.mark();
    let kept = match guard {
        Guard::Savepoint => in_savepoint(txn, batch, change).await,
        Guard::None => {
            let view = Change {
                txn,
                appended,
                guarded: false,
            };
            change(&view).await
        }
    };
    if kept.is_err() {
        appended.truncate(mark);
    }
    match kept {
        Err(e) => {
            let _ = answer.send(Err(e));
            Box::new(|_| {})
        }
        Ok(result) => Box::new(move |commit_failed| {
            let reply = match commit_failed {
                None => result,
                Some(e) => Err(E::from(DbErr::Custom(format!("commit failed: {e}")))),
            };
            let _ = answer.send(reply);
        }),
    }
}

async fn in_savepoint<T, E, F>(txn: &DatabaseTransaction, batch: &Batch, change: F) -> Outcome<T, E>
where
    E: From<DbErr>,
    F: for<'t> FnOnce(&'t Change<'t>) -> BoxFuture<'t, Outcome<T, E>>,
{
    batch.set_savepoint(txn).await.map_err(E::from)?;
    let view = Change {
        txn,
        appended: &batch.appended,
        guarded: true,
    };
    let outcome = change(&view).await;
    if outcome.is_err() {
        // If even this fails the transaction is broken, and its commit
        // answers every change in the batch with the error.
        if let Err(error) = batch.roll_back_to_savepoint(txn).await {
            tracing::error!(%error, "cannot roll a failed change back to its savepoint");
        }
    }
    outcome
}

async fn write_batches(db: DatabaseConnection, mut receiver: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Its own task, so a change that panics fails its batch (every caller
        // in it gets an error) and the writer goes on with the next.
        if let Err(e) = tokio::spawn(commit_batch(db.clone(), batch)).await {
            tracing::error!(error = %e, "a group-commit batch panicked; its writes were rolled back");
        }
    }
}

async fn commit_batch(db: DatabaseConnection, batch: Vec<Job>) {
    // A batch's first change may only read: it must hold the write lock from BEGIN.
    let (txn, _turn) = match crate::db::begin_write(&db).await {
        Ok(txn) => txn,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a group-commit batch");
            return; // dropping the jobs answers every caller with an error
        }
    };
    let shared = Batch::default();
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        replies.push(job(&txn, &shared).await);
    }
    let committed = match write_appended(&txn, shared.appended.take()).await {
        Ok(()) => txn.commit().await,
        Err(e) => Err(e), // dropping the transaction rolls the whole batch back
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, "a group-commit batch did not commit");
    }
    for reply in replies {
        reply(committed.as_ref().err());
    }
}

/// Up to this many audit rows and as many events go as one statement: well
/// under both backends' bind-parameter limits (`audit::insert_rows`).
const APPENDED_IN_ONE: usize = 50;

async fn write_appended(txn: &DatabaseTransaction, rows: Rows) -> Result<(), DbErr> {
    if rows.audit.len() > APPENDED_IN_ONE || rows.events.len() > APPENDED_IN_ONE {
        audit::insert_rows(txn, rows.audit).await?;
        return events::insert_rows(txn, rows.events).await;
    }
    // The audit rows and the events are new rows in two tables: independent,
    // so one round trip (on SQLite one hop to the writer) instead of two.
    let mut script = Script::independent(txn.get_database_backend());
    if !rows.audit.is_empty() {
        script.push(&audit_event::Entity::insert_many(rows.audit));
    }
    if !rows.events.is_empty() {
        script.push(&directory_event::Entity::insert_many(rows.events));
    }
    script.run_unguarded(txn).await
}
