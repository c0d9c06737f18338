//! Opening the database (SQLite by default, PostgreSQL for several instances) and
//! applying migrations.

use crate::private_files;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::LikeExpr;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter, SqlErr, SqliteTransactionMode,
    SqlxSqliteConnector, Statement, TransactionOptions, TransactionTrait,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod kept_map;
mod script;
pub use script::Script;

/// Connects with the settings each backend needs. For SQLite: WAL so readers never
/// wait for the writer, foreign keys on, and a busy timeout instead of instant
/// "database is locked" errors.
pub async fn connect(database_url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(database_url) {
        let path = std::path::Path::new(&path);
        let cannot =
            |e: std::io::Error| DbErr::Custom(format!("cannot create {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            private_files::create_dir(dir).map_err(cannot)?;
        }
        private_files::create_file(path).map_err(cannot)?;
    }
    // Readers of a file keep their memory map across other connections' commits
    // (`kept_map`); without the VFS they work as before, only slower.
    let keep_maps = match sqlite_path(database_url) {
        Some(_) => kept_map::register()
            .inspect_err(|error| tracing::warn!(%error, "SQLite VFS unavailable"))
            .is_ok(),
        None => false,
    };
    let mut options = ConnectOptions::new(database_url.to_string());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(move |o| {
            let o = if keep_maps { o.vfs(kept_map::NAME) } else { o };
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(WRITE_WAIT)
                .create_if_missing(true)
                // SQLite's default page cache is 2 MB a connection: with 100,000
                // users every lookup and insert missed it and copied pages in
                // with read(2). Reads through a memory map, and a larger cache
                // for the pages a connection writes, keep them in memory.
                .pragma("mmap_size", "268435456")
                .pragma("cache_size", "-16384")
                // The commit that fills the WAL past this many pages copies it
                // back into the database and waits for the disk: a request
                // stalled for 700 ms under PATCH load. `checkpoint_periodically`
                // does that work beside the writers; this is only a backstop.
                .pragma("wal_autocheckpoint", "20000")
        });
    // sqlx pings a pooled connection on every checkout by default: one more round
    // trip per query (for SQLite a hop to the connection's worker thread, the
    // largest cost of a SCIM lookup in `perf`). A local file cannot drop a
    // connection; PostgreSQL's are pinged only after sitting idle, when a proxy
    // or a restart may have closed them.
    if database_url.starts_with("sqlite:") {
        options
            .max_connections(8)
            .min_connections(1)
            .test_before_acquire(false);
    } else {
        // Eight: the group commit's four writers and four for everything
        // else. Each is a PostgreSQL process on the same two cores, and 16
        // only added switching between them: SCIM lookup 10,584-11,133/s
        // against 11,038-12,180/s with eight, PATCH 4,325-4,349 against
        // 4,679-4,870/s (same host, alternating runs).
        options
            .max_connections(8)
            .test_before_acquire_if_idle_for(Duration::from_secs(30));
    }
    Database::connect(options).await
}

/// How long a write waits for SQLite: the busy timeout, and the wait for a
/// turn at the write gate.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// A place in the queue of writers to one SQLite file, held until dropped (after
/// the commit), and the connection to write through. PostgreSQL locks rows
/// itself, so there it holds nothing and writes through the pool.
#[must_use = "the turn ends when it is dropped: keep it until the commit"]
pub struct WriteTurn {
    _held: Option<tokio::sync::OwnedMutexGuard<()>>,
    db: DatabaseConnection,
}

impl WriteTurn {
    /// Where this turn's writes go: on SQLite the file's one writer connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Waits for this process's turn to write to the database. SQLite lets one
/// connection write at a time, and a connection that finds the file locked
/// polls with growing sleeps: under SCIM load the group-commit writer took the
/// lock again between every poll, and an admin's change waited seconds or
/// failed. Writers that take turns here are served in arrival order, and write
/// through the turn's connection (`WriteTurn::db`).
pub async fn write_turn(db: &DatabaseConnection) -> Result<WriteTurn, DbErr> {
    let Some(gate) = sqlite_gate(db) else {
        return Ok(WriteTurn {
            _held: None,
            db: db.clone(),
        });
    };
    match tokio::time::timeout(WRITE_WAIT, gate.queue.lock_owned()).await {
        Ok(guard) => Ok(WriteTurn {
            _held: Some(guard),
            db: gate.writer,
        }),
        Err(_) => Err(DbErr::Custom(format!(
            "waited {} s for a turn to write to the database",
            WRITE_WAIT.as_secs()
        ))),
    }
}

/// The writers' queue for one SQLite file and the one connection they all
/// write through. In WAL mode a connection that sees another connection's
/// commit throws away its page cache and unmaps its whole memory map (SQLite's
/// `pagerBeginReadTransaction`); when every write went through whichever pooled
/// connection was free, the next statement on each of the others paid for that
/// (TLB shootdowns, page faults and re-reads: `perf`). The writer only ever
/// sees its own commits, so its cache stays warm; readers keep their pool.
/// Same hour, SQLite: a SAML sign-in 2,450 → 2,120 µs of CPU, SCIM create
/// 2,606 → 3,167/s, PATCH 3,979 → 4,473/s.
#[derive(Clone)]
struct Gate {
    queue: Arc<tokio::sync::Mutex<()>>,
    writer: DatabaseConnection,
}

/// One gate per SQLite file, shared by every pool this process opens on it.
fn sqlite_gate(db: &DatabaseConnection) -> Option<Gate> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    static GATES: OnceLock<Mutex<HashMap<PathBuf, Gate>>> = OnceLock::new();
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename().to_path_buf();
    let mut gates = GATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let gate = gates.entry(file).or_insert_with(|| Gate {
        queue: Default::default(),
        writer: writer_for(db, &options),
    });
    Some(gate.clone())
}

/// A pool of one connection to the same file, opened when first used. An
/// in-memory database is private to its connection, so it writes through its
/// own pool.
fn writer_for(db: &DatabaseConnection, options: &SqliteConnectOptions) -> DatabaseConnection {
    let file = options.get_filename().to_string_lossy();
    if file == ":memory:" || file.starts_with("file:sqlx-in-memory") {
        return db.clone();
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(WRITE_WAIT)
        .idle_timeout(Duration::from_secs(60))
        .test_before_acquire(false)
        .connect_lazy_with(writer_options(options));
    SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
}

/// The readers' settings without the memory map: the writer's page cache is
/// never thrown away, so it holds what it writes, and a map would only keep
/// every page it ever touched in the server's memory (RSS after SCIM load went
/// from 66 to 120 MB with it, for no gain in speed).
///
/// The writer's cache is also smaller than a reader's (2 MB, not 16). A commit
/// after a page split scans the whole cache's hash table
/// (`pcache1TruncateUnsafe`: a split rekeys a page through the pending-byte
/// page number, so the truncation at commit cannot take its short path), and
/// with random keys most commits split a page. Pages it no longer holds come
/// back from the operating system's cache. `perf` at the ACS: the scan went
/// from 3.0 % to 0.5 % of the server's CPU; SCIM create and PATCH were faster too.
fn writer_options(options: &SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .clone()
        .pragma("mmap_size", "0")
        .pragma("cache_size", WRITER_CACHE_SIZE)
        // A group commit runs each change in a savepoint, and SQLite keeps what a
        // savepoint would undo in a sub-journal, spilled past 64 KB to a
        // temporary file: a few sign-ins in one commit made it spill, and every
        // fourth commit then created, wrote, unlinked and closed a file in
        // /var/tmp (`strace`). In memory it stays as large as one batch's pages.
        .pragma("temp_store", "memory")
}

const WRITER_CACHE_SIZE: &str = "-2048";

/// Begins a transaction that will write, in its turn (`write_turn`). On SQLite
/// it also takes the write lock at `BEGIN` (IMMEDIATE): a deferred transaction
/// that reads first holds a snapshot, and its first write fails at once with
/// SQLITE_BUSY_SNAPSHOT ("database is locked", no waiting) if another
/// connection committed since. Clippy refuses plain `begin` (clippy.toml), so
/// no write path can forget this. Keep the turn until after the commit.
pub async fn begin_write(
    db: &DatabaseConnection,
) -> Result<(DatabaseTransaction, WriteTurn), DbErr> {
    let turn = write_turn(db).await?;
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok((turn.db().begin_with_options(immediate).await?, turn))
}

/// Deletes the rows of `E` whose `expires_at` column is in the past, in turn
/// with the other writers; how many went. For the hourly sweeper.
pub async fn purge_expired<E: EntityTrait>(
    db: &DatabaseConnection,
    expires_at: E::Column,
) -> Result<u64, DbErr> {
    let turn = write_turn(db).await?;
    let deleted = E::delete_many()
        .filter(expires_at.lt(chrono::Utc::now()))
        .exec(turn.db())
        .await?;
    Ok(deleted.rows_affected)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Copies the SQLite WAL back into the database on its own connection and
/// without blocking writers (PASSIVE), so no request's commit pays for a
/// checkpoint. Nothing to do on PostgreSQL.
///
/// A checkpoint copies every page written since the last one and waits for
/// the disk; while it runs, the writer's commits wait on the same disk and
/// CPU. Every half second under SCIM create load that was tens of megabytes
/// and a 40-60 ms stall (p99); so the interval follows the write rate, and
/// each checkpoint stays near `CHECKPOINT_FRAMES` pages.
pub async fn checkpoint_periodically(db: DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let (mut wait, mut before) = (CHECKPOINT_WAIT.end, Wal::default());
    loop {
        tokio::time::sleep(wait).await;
        match checkpoint(&db).await {
            Ok(now) => {
                wait = next_checkpoint_wait(wait, now.written_since(before));
                before = now;
            }
            Err(error) => tracing::warn!(%error, "could not checkpoint the SQLite WAL"),
        }
    }
}

/// What `PRAGMA wal_checkpoint` says of the WAL: the frames it holds and how
/// many of them are now copied into the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Wal {
    frames: i64,
    copied: i64,
}

impl Wal {
    /// Frames written since the checkpoint that saw `before`. Once every frame
    /// is copied, the next commit starts the WAL over from its beginning, so a
    /// count that changed after such a checkpoint is all new.
    fn written_since(self, before: Wal) -> i64 {
        if self.frames == before.frames {
            0
        } else if before.frames == before.copied || self.frames < before.frames {
            self.frames
        } else {
            self.frames - before.frames
        }
    }
}

/// How many pages (4 KB each) a checkpoint should copy, about.
const CHECKPOINT_FRAMES: i64 = 1_000;
/// The shortest and longest wait between two checkpoints.
const CHECKPOINT_WAIT: std::ops::Range<Duration> =
    Duration::from_millis(20)..Duration::from_millis(500);

/// One PASSIVE checkpoint.
async fn checkpoint(db: &DatabaseConnection) -> Result<Wal, DbErr> {
    let pragma = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(PASSIVE)");
    let Some(row) = db.query_one_raw(pragma).await? else {
        return Ok(Wal::default());
    };
    // Columns: busy, frames in the WAL, frames copied.
    Ok(Wal {
        frames: row.try_get_by_index(1)?,
        copied: row.try_get_by_index(2)?,
    })
}

/// Halves the wait after a checkpoint that found more than its share of new
/// frames, and doubles it after one that found few.
fn next_checkpoint_wait(wait: Duration, written: i64) -> Duration {
    if written > CHECKPOINT_FRAMES {
        (wait / 2).max(CHECKPOINT_WAIT.start)
    } else if written < CHECKPOINT_FRAMES / 4 {
        (wait * 2).min(CHECKPOINT_WAIT.end)
    } else {
        wait
    }
}

/// Readiness: the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// A new row's primary key. Version 7 UUIDs begin with the time, so the rows a
/// commit writes share the rightmost leaf of each index on their id (and of
/// each index on an id that points at them, such as a membership's user)
/// instead of each landing on a random page: a group commit of many new rows
/// writes a few pages to the WAL instead of one per row and index.
pub fn new_row_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// A unique key that is not a row id (a SAML request ID, a session's `sid`):
/// the current time in milliseconds as 12 hex digits, then `random`. As with
/// [`new_row_id`], the time first puts each new key at the right edge of the
/// indexes on it, so a sign-in's keys share pages with the other new ones
/// instead of each dirtying a random page of its own. The time is no secret:
/// every such key is sent with an issue instant beside it anyway.
pub fn time_ordered_key(random: &str) -> String {
    let millis = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    format!("{millis:012x}{random}")
}

pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Where a LIKE pattern may match its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeAt {
    Anywhere,
    Start,
    End,
}

/// A LIKE pattern for `text` with `%`, `_` and backslash matched literally.
pub fn like(text: &str, at: LikeAt) -> LikeExpr {
    let mut pattern = String::with_capacity(text.len() + 2);
    if at != LikeAt::Start {
        pattern.push('%');
    }
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    if at != LikeAt::End {
        pattern.push('%');
    }
    LikeExpr::new(pattern).escape('\\')
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    /// What makes a key land at the end of its index: a later key sorts after.
    #[test]
    fn a_time_ordered_key_sorts_after_every_earlier_one() {
        let earlier = super::time_ordered_key("ff");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = super::time_ordered_key("00");
        assert!(earlier < later, "{earlier} then {later}");
        assert_eq!((earlier.len(), &earlier[12..]), (14, "ff"));
    }

    /// New rows' ids sort in the order they were made, both as text (SQLite
    /// stores a UUID as its text) and as bytes (PostgreSQL's uuid).
    #[test]
    fn new_row_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<uuid::Uuid> = (0..64).map(|_| super::new_row_id()).collect();
        let mut by_bytes = ids.clone();
        by_bytes.sort();
        let mut by_text = ids.clone();
        by_text.sort_by_key(|id| id.to_string());
        assert_eq!(by_bytes, ids);
        assert_eq!(by_text, ids);
    }

    #[test]
    fn finds_the_sqlite_file_to_create_its_folder() {
        assert_eq!(
            sqlite_path("sqlite://data/x.db?mode=rwc").as_deref(),
            Some("data/x.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://localhost/x"), None);
    }

    /// Under a steady write rate the wait settles where a checkpoint copies
    /// about `CHECKPOINT_FRAMES` pages, within its bounds.
    #[test]
    fn the_checkpoint_interval_follows_the_write_rate() {
        use super::{next_checkpoint_wait, CHECKPOINT_FRAMES, CHECKPOINT_WAIT};
        let settle = |frames_a_second: f64| {
            let mut wait = CHECKPOINT_WAIT.end;
            for _ in 0..20 {
                let written = (frames_a_second * wait.as_secs_f64()) as i64;
                wait = next_checkpoint_wait(wait, written);
            }
            wait
        };
        assert_eq!(settle(0.0), CHECKPOINT_WAIT.end);
        assert_eq!(settle(1e6), CHECKPOINT_WAIT.start);
        // 20,000 pages a second: 1,000 pages in about 50 ms.
        let wait = settle(20_000.0);
        let written = (20_000.0 * wait.as_secs_f64()) as i64;
        assert!(
            (CHECKPOINT_FRAMES / 4..=CHECKPOINT_FRAMES).contains(&written),
            "{wait:?}"
        );
    }

    /// New frames are counted from where the last checkpoint left the WAL:
    /// appended to it, or written from its start after it was all copied.
    #[test]
    fn new_wal_frames_are_counted_whether_or_not_the_wal_started_over() {
        use super::Wal;
        let wal = |frames, copied| Wal { frames, copied };
        // Nothing written since.
        assert_eq!(wal(700, 700).written_since(wal(700, 700)), 0);
        // All copied last time: the WAL started over and holds only new frames.
        assert_eq!(wal(900, 900).written_since(wal(700, 700)), 900);
        assert_eq!(wal(300, 300).written_since(wal(700, 700)), 300);
        // A reader kept the WAL from starting over: the new frames were appended.
        assert_eq!(wal(900, 400).written_since(wal(700, 400)), 200);
    }

    /// A transaction that reads, then writes, while another connection
    /// commits in between: begun with `begin_write` it keeps the write lock
    /// and both writes land; begun deferred, its write fails at once.
    #[tokio::test]
    async fn a_write_transaction_that_reads_first_survives_a_concurrent_commit() {
        use super::begin_write;
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let (_dir, db) = file_with_table_t().await;
        let count = "SELECT count(*) FROM t";

        let (txn, _turn) = begin_write(&db).await.unwrap();
        txn.execute_unprepared(count).await.unwrap();
        let other = db.clone();
        let concurrent =
            tokio::spawn(async move { other.execute_unprepared("INSERT INTO t VALUES (1)").await });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        txn.execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .expect("the write transaction keeps its lock");
        txn.commit().await.unwrap();
        concurrent.await.unwrap().expect("the other writer waited");

        #[allow(clippy::disallowed_methods)]
        let deferred = db.begin().await.unwrap();
        deferred.execute_unprepared(count).await.unwrap();
        db.execute_unprepared("INSERT INTO t VALUES (3)")
            .await
            .unwrap();
        let refused = deferred
            .execute_unprepared("INSERT INTO t VALUES (4)")
            .await;
        assert!(
            refused.is_err(),
            "a deferred transaction loses its snapshot"
        );
    }

    /// Every turn to write to one SQLite file writes through the same single
    /// connection, without the readers' memory map, whichever pool asked.
    #[tokio::test]
    async fn writes_to_one_file_go_through_one_connection() {
        use super::{connect, write_turn};
        use sea_orm::{ConnectionTrait, Statement};
        let (_dir, url) = temp_file_url();
        let (one, other) = (connect(&url).await.unwrap(), connect(&url).await.unwrap());
        let pragma = |db: sea_orm::DatabaseConnection, name: &'static str| async move {
            let sql = format!("PRAGMA {name}");
            let pragma = Statement::from_string(db.get_database_backend(), sql);
            let row = db.query_one_raw(pragma).await.unwrap().unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        };
        let mmap_size = |db| pragma(db, "mmap_size");
        let first = write_turn(&one).await.unwrap();
        let writer = first.db().get_sqlite_connection_pool().clone();
        assert_eq!(writer.options().get_max_connections(), 1);
        assert_eq!(mmap_size(first.db().clone()).await, 0);
        assert_eq!(pragma(first.db().clone(), "cache_size").await, -2048);
        // 2: savepoints' sub-journals and temporary tables stay in memory.
        assert_eq!(pragma(first.db().clone(), "temp_store").await, 2);
        assert_eq!(pragma(one.clone(), "temp_store").await, 0);
        assert_eq!(pragma(one.clone(), "cache_size").await, -16384);
        drop(first);
        let second = write_turn(&other).await.unwrap();
        let again = second.db().get_sqlite_connection_pool();
        assert!(std::sync::Arc::ptr_eq(
            &writer.connect_options(),
            &again.connect_options()
        ));
        assert_eq!(mmap_size(one.clone()).await, 268_435_456);
    }

    /// Writers to one SQLite file wait for their turn, across every pool the
    /// process has on it, and are served in the order they came.
    #[tokio::test]
    async fn writers_to_one_file_take_turns_in_arrival_order() {
        use super::{begin_write, connect, write_turn};
        use std::sync::{Arc, Mutex};
        use std::time::Duration;
        let (_dir, url) = temp_file_url();
        let (one, other) = (connect(&url).await.unwrap(), connect(&url).await.unwrap());
        let served = Arc::new(Mutex::new(Vec::new()));
        let held = write_turn(&one).await.unwrap();
        let mut waiting = Vec::new();
        for (n, db) in [(1, other), (2, one.clone())] {
            let served = served.clone();
            waiting.push(tokio::spawn(async move {
                let (txn, _turn) = begin_write(&db).await.unwrap();
                served.lock().unwrap().push(n);
                txn.commit().await.unwrap();
            }));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(served.lock().unwrap().is_empty(), "both wait for the turn");
        drop(held);
        for writer in waiting {
            writer.await.unwrap();
        }
        assert_eq!(*served.lock().unwrap(), vec![1, 2]);
    }

    /// A SQLite connection goes back to its pool as it is dropped, with no
    /// task and no ping (vendor/sqlx-core/LATCHKEY.md), and comes back clean:
    /// what a dropped transaction or a cancelled query left on it runs before
    /// the next holder's first statement.
    #[tokio::test]
    async fn a_released_sqlite_connection_is_idle_at_once_and_clean() {
        use super::write_turn;
        use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
        use std::time::Duration;
        let (_dir, db) = file_with_table_t().await;
        let turn = write_turn(&db).await.unwrap();
        let writer = turn.db();
        let pool = writer.get_sqlite_connection_pool();
        let count = |db: sea_orm::DatabaseConnection| async move {
            let sql = Statement::from_string(db.get_database_backend(), "SELECT count(*) FROM t");
            let row = db.query_one_raw(sql).await.unwrap().unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        };

        assert_eq!(count(writer.clone()).await, 0);
        // No await since the query: upstream's release task has not run yet.
        assert_eq!((pool.size(), pool.num_idle()), (1, 1));

        #[allow(clippy::disallowed_methods)]
        let dropped = writer.begin().await.unwrap();
        dropped
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        drop(dropped);
        writer
            .execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .expect("the dropped transaction rolled back first");
        assert_eq!(count(writer.clone()).await, 1);

        let long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                    WHERE x < 3000000) SELECT count(*) FROM c";
        let cancelled =
            tokio::time::timeout(Duration::from_millis(5), writer.execute_unprepared(long)).await;
        assert!(cancelled.is_err(), "the long query was cancelled");
        assert_eq!(count(writer.clone()).await, 1);
        assert_eq!((pool.size(), pool.num_idle()), (1, 1));
    }

    /// Latchkey's sqlx-sqlite (vendor/sqlx-sqlite/LATCHKEY.md): on a WAL file a
    /// statement that only reads runs on the caller's thread, a write goes to the
    /// connection's worker thread, and on an in-memory database everything does.
    #[tokio::test]
    async fn on_a_wal_file_only_reads_run_on_the_callers_thread() {
        use sea_orm::sqlx::sqlite::statements_run_on_this_thread as run_here;
        use sea_orm::{ConnectionTrait, DatabaseBackend::Sqlite, Statement};
        let insert = Statement::from_sql_and_values(Sqlite, "INSERT INTO t VALUES (?)", [1.into()]);
        let select =
            Statement::from_sql_and_values(Sqlite, "SELECT n FROM t WHERE n > ?", [0.into()]);
        let (_dir, file) = file_with_table_t().await;
        let memory = super::connect("sqlite::memory:").await.unwrap();
        memory
            .execute_unprepared("CREATE TABLE t (n INTEGER)")
            .await
            .unwrap();

        for db in [&file, &memory] {
            let before = run_here();
            db.execute_raw(insert.clone()).await.unwrap();
            assert_eq!(run_here(), before, "a write goes to the worker");
            let rows = db.query_all_raw(select.clone()).await.unwrap();
            assert_eq!(rows.len(), 1);
        }
        let before = run_here();
        file.query_all_raw(select.clone()).await.unwrap();
        assert_eq!(run_here(), before + 1, "a read on the file runs here");
        memory.query_all_raw(select).await.unwrap();
        assert_eq!(run_here(), before + 1, "in memory it goes to the worker");
    }

    /// What runs on the caller's thread never overtakes what the worker was sent:
    /// a read inside a write transaction sees its write, and the first read after
    /// the transaction is dropped sees it rolled back, on the same connection.
    #[tokio::test]
    async fn a_read_on_the_callers_thread_keeps_the_order_of_commands() {
        use super::begin_write;
        use sea_orm::{ConnectionTrait, DatabaseBackend::Sqlite, Statement};
        let (_dir, db) = file_with_table_t().await;
        let insert = Statement::from_sql_and_values(Sqlite, "INSERT INTO t VALUES (?)", [1.into()]);
        let count = Statement::from_sql_and_values(
            Sqlite,
            "SELECT count(*) FROM t WHERE n > ?",
            [0.into()],
        );
        let counted =
            |row: Option<sea_orm::QueryResult>| row.unwrap().try_get_by_index::<i64>(0).unwrap();

        for _ in 0..50 {
            let (txn, turn) = begin_write(&db).await.unwrap();
            txn.execute_raw(insert.clone()).await.unwrap();
            assert_eq!(counted(txn.query_one_raw(count.clone()).await.unwrap()), 1);
            drop(txn);
            let after = turn.db().query_one_raw(count.clone()).await.unwrap();
            assert_eq!(counted(after), 0, "the ROLLBACK ran first");
        }
        let (txn, turn) = begin_write(&db).await.unwrap();
        txn.execute_raw(insert).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(counted(turn.db().query_one_raw(count).await.unwrap()), 1);
    }

    /// Readers keep their memory map when another connection commits (no
    /// `munmap` per read), and still see every commit, also once a checkpoint
    /// has grown the file past what they had mapped.
    #[tokio::test]
    async fn readers_keep_their_memory_map_across_commits_and_see_each_one() {
        use super::{begin_write, kept_map};
        use sea_orm::{ConnectionTrait, Statement};
        let (dir, db) = file_with_table_t().await;
        db.execute_unprepared("ALTER TABLE t ADD COLUMN b BLOB")
            .await
            .unwrap();
        let totals = |db: sea_orm::DatabaseConnection| async move {
            let sql = "SELECT count(*), coalesce(sum(n), 0), coalesce(sum(length(b)), 0) FROM t WHERE n >= ?";
            let query = Statement::from_sql_and_values(db.get_database_backend(), sql, [0.into()]);
            let row = db.query_one_raw(query).await.unwrap().unwrap();
            let get = |i| row.try_get_by_index::<i64>(i).unwrap();
            (get(0), get(1), get(2))
        };
        let insert = |n: i64, bytes: usize| {
            let db = db.clone();
            async move {
                let (txn, _turn) = begin_write(&db).await.unwrap();
                let sql = "INSERT INTO t (n, b) VALUES (?, zeroblob(?))";
                let values = [n.into(), (bytes as i64).into()];
                txn.execute_raw(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    sql,
                    values,
                ))
                .await
                .unwrap();
                txn.commit().await.unwrap();
            }
        };
        let checkpoint = || async {
            let turn = super::write_turn(&db).await.unwrap();
            turn.db()
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .unwrap();
        };

        let skipped_before = kept_map::skipped_unmaps();
        let (mut count, mut sum, mut bytes) = (0, 0, 0);
        for n in 1..=40 {
            insert(n, 100).await;
            (count, sum, bytes) = (count + 1, sum + n, bytes + 100);
            assert_eq!(totals(db.clone()).await, (count, sum, bytes));
        }
        let skipped = kept_map::skipped_unmaps() - skipped_before;
        assert!(skipped >= 20, "only {skipped} of 40 reads kept their map");

        // Grow the file past its first chunk through checkpoints, reading in
        // between: it grows by whole chunks only.
        let path = dir.path().join("t.db");
        for round in 0..12 {
            for n in 0..16 {
                insert(1000 + round * 16 + n, 64 * 1024).await;
                (count, sum, bytes) = (count + 1, sum + 1000 + round * 16 + n, bytes + 64 * 1024);
            }
            checkpoint().await;
            let size = std::fs::metadata(&path).unwrap().len();
            assert_eq!(size % kept_map::CHUNK_SIZE as u64, 0, "{size} bytes");
            for _ in 0..8 {
                assert_eq!(totals(db.clone()).await, (count, sum, bytes));
            }
        }
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(
            size,
            2 * kept_map::CHUNK_SIZE as u64,
            "12 MB of rows in two chunks"
        );
    }

    /// A SQLite URL for a new file in a folder that lasts as long as the guard.
    fn temp_file_url() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        (dir, url)
    }

    /// A new SQLite file, connected, with one table `t (n INTEGER)`.
    async fn file_with_table_t() -> (tempfile::TempDir, sea_orm::DatabaseConnection) {
        use sea_orm::ConnectionTrait;
        let (dir, url) = temp_file_url();
        let db = super::connect(&url).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (n INTEGER)")
            .await
            .unwrap();
        (dir, db)
    }
}
