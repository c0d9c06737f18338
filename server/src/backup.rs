//! `latchkey backup --to FILE`: a consistent copy of a SQLite database while
//! the server keeps serving (`VACUUM INTO` reads one snapshot, so writers never
//! wait). PostgreSQL is backed up with its own tools (README, Backups).

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "the database is PostgreSQL: back it up with pg_dump (see the README's Backups section)"
    )]
    NotSqlite,
    #[error("{0} already exists: choose a new file, a backup never overwrites one")]
    Exists(String),
    #[error("cannot create {path}: {error}")]
    Create { path: String, error: io::Error },
    #[error("the copy failed: {0}")]
    Copy(#[from] DbErr),
}

/// Writes a consistent copy of the database to `to`, readable by this user
/// only (it holds password hashes and sealed secrets). Returns its size.
pub async fn sqlite_copy(db: &DatabaseConnection, to: &Path) -> Result<u64, BackupError> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    let shown = to.display().to_string();
    // `VACUUM INTO` writes into an empty file it finds, so the file is made
    // first, private; `create_new` refuses one that exists.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(shown))
        }
        Err(error) => return Err(BackupError::Create { path: shown, error }),
    }
    let copied = db
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "VACUUM INTO ?",
            [shown.clone().into()],
        ))
        .await;
    if let Err(error) = copied {
        let _ = std::fs::remove_file(to);
        return Err(error.into());
    }
    std::fs::metadata(to)
        .map(|m| m.len())
        .map_err(|error| BackupError::Create { path: shown, error })
}
