//! Opening the database (SQLite by default, PostgreSQL for several instances) and
//! applying migrations.

use crate::private_files;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::LikeExpr;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqlErr};
use std::time::Duration;

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
    let mut options = ConnectOptions::new(database_url.to_string());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
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
        options
            .max_connections(16)
            .test_before_acquire_if_idle_for(Duration::from_secs(30));
    }
    Database::connect(options).await
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Copies the SQLite WAL back into the database every half second, on its own
/// connection and without blocking writers (PASSIVE), so no request's commit
/// pays for a checkpoint. Nothing to do on PostgreSQL.
pub async fn checkpoint_periodically(db: DatabaseConnection) {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if let Err(error) = db
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            tracing::warn!(%error, "could not checkpoint the SQLite WAL");
        }
    }
}

/// Readiness: the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
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

    #[test]
    fn finds_the_sqlite_file_to_create_its_folder() {
        assert_eq!(
            sqlite_path("sqlite://data/x.db?mode=rwc").as_deref(),
            Some("data/x.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://localhost/x"), None);
    }
}
