//! Several writes sent to the database as one, all or nothing.
//!
//! On SQLite every statement is a hop to the connection's own thread and back
//! (two context switches, the largest cost of a write in `perf`), so a script
//! goes as one multi-statement query inside a savepoint: one hop however many
//! rows it writes. PostgreSQL's prepared statements hold one command each, so
//! there the statements go one after another in the same savepoint.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, QueryTrait,
    Statement, Value, Values,
};

/// The savepoint a script runs in. SQLite and PostgreSQL both find the most
/// recent one of a name, so scripts may nest.
const SAVEPOINT: &str = "lk_script";

/// Statements that apply together or not at all.
pub struct Script {
    backend: DatabaseBackend,
    statements: Vec<Statement>,
}

impl Script {
    pub fn new(backend: DatabaseBackend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
        }
    }

    /// Adds a SeaORM insert, update or delete.
    pub fn push(&mut self, query: &impl QueryTrait) {
        self.push_raw(query.build(self.backend));
    }

    /// Adds a statement written for this script's backend.
    pub fn push_raw(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Runs the statements in order inside the caller's transaction (its
    /// savepoint needs one on PostgreSQL). If one fails, what the others wrote
    /// is undone and its error is returned; the transaction itself goes on.
    pub async fn run_in(self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        if self.statements.is_empty() {
            return Ok(());
        }
        match self.backend {
            DatabaseBackend::Sqlite => self.run_as_one(txn).await,
            _ => self.run_one_by_one(txn).await,
        }
    }

    /// Runs the statements in order in `txn` with no savepoint of their own:
    /// for a caller inside a savepoint that undoes them, with all else it
    /// wrote, if one fails.
    pub async fn run_unguarded(self, txn: &impl ConnectionTrait) -> Result<(), DbErr> {
        match self.backend {
            DatabaseBackend::Sqlite if !self.statements.is_empty() => {
                txn.execute_raw(self.joined(None)).await.map(|_| ())
            }
            _ => {
                for statement in self.statements {
                    txn.execute_raw(statement).await?;
                }
                Ok(())
            }
        }
    }

    /// Runs the statements as a transaction of their own, in this process's
    /// turn to write. On SQLite BEGIN, the statements and COMMIT go as one
    /// query: one hop to the writer's thread instead of three.
    pub async fn commit(self, db: &DatabaseConnection) -> Result<(), DbErr> {
        if self.statements.is_empty() {
            return Ok(());
        }
        if self.backend != DatabaseBackend::Sqlite {
            // A failed statement drops the transaction, which rolls it back.
            let (txn, _turn) = super::begin_write(db).await?;
            self.run_unguarded(&txn).await?;
            return txn.commit().await;
        }
        let turn = super::write_turn(db).await?;
        // IMMEDIATE, as `begin_write`: the write lock is taken before anything is read.
        let joined = self.joined(Some(("BEGIN IMMEDIATE", "COMMIT")));
        match turn.db().execute_raw(joined).await {
            Ok(_) => Ok(()),
            Err(error) => {
                roll_back(turn.db()).await;
                Err(error)
            }
        }
    }

    async fn run_as_one(self, txn: &impl ConnectionTrait) -> Result<(), DbErr> {
        let joined = self.joined(Some((
            &format!("SAVEPOINT {SAVEPOINT}"),
            &format!("RELEASE SAVEPOINT {SAVEPOINT}"),
        )));
        match txn.execute_raw(joined).await {
            Ok(_) => Ok(()),
            Err(error) => {
                undo(txn).await?;
                Err(error)
            }
        }
    }

    async fn run_one_by_one(self, txn: &impl ConnectionTrait) -> Result<(), DbErr> {
        txn.execute_unprepared(&format!("SAVEPOINT {SAVEPOINT}"))
            .await?;
        if let Err(error) = self.run_unguarded(txn).await {
            undo(txn).await?;
            return Err(error);
        }
        txn.execute_unprepared(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))
            .await
            .map(|_| ())
    }

    /// The statements as one multi-statement query, between the two of
    /// `around` if given; SQLite binds the anonymous parameters in order
    /// across them.
    fn joined(self, around: Option<(&str, &str)>) -> Statement {
        let (head, tail) = around.unzip();
        let mut parts: Vec<String> = head.map(str::to_string).into_iter().collect();
        let mut values: Vec<Value> = Vec::new();
        for statement in self.statements {
            parts.push(statement.sql);
            values.extend(statement.values.map(|Values(v)| v).unwrap_or_default());
        }
        parts.extend(tail.map(str::to_string));
        Statement::from_sql_and_values(self.backend, parts.join(";\n"), values)
    }
}

/// Ends the transaction a failed `commit` left open. A statement that fails
/// leaves it open; BEGIN failing (the lock not taken in time) leaves none, and
/// SQLite then refuses the ROLLBACK, which is as it should be.
async fn roll_back(db: &DatabaseConnection) {
    if let Err(error) = db.execute_unprepared("ROLLBACK").await {
        if !error.to_string().contains("no transaction is active") {
            tracing::error!(%error, "could not roll back a failed script");
        }
    }
}

/// Back to the script's savepoint, which is then let go.
async fn undo(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    txn.execute_unprepared(&format!(
        "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
    ))
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::Script;
    use crate::entities::{organization, retired_account};
    use chrono::Utc;
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    };
    use uuid::Uuid;

    async fn database() -> (tempfile::TempDir, DatabaseConnection, Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let org = organization::ActiveModel {
            id: Set(Uuid::new_v4()),
            slug: Set("acme".into()),
            name: Set("Acme".into()),
            require_sso: Set(false),
            created_at: Set(Utc::now()),
        }
        .insert(&db)
        .await
        .unwrap();
        (dir, db, org.id)
    }

    fn retire(script: &mut Script, org_id: Uuid, email: &str) {
        script.push(&retired_account::Entity::insert(
            retired_account::ActiveModel {
                org_id: Set(org_id),
                email_normalized: Set(email.into()),
                reason: Set("test".into()),
                retired_at: Set(Utc::now()),
            },
        ));
    }

    /// Retires a@ and b@, then a@ again: the third statement fails.
    fn duplicate_third(backend: sea_orm::DatabaseBackend, org_id: Uuid) -> Script {
        let mut script = Script::new(backend);
        for email in ["a@acme.test", "b@acme.test", "a@acme.test"] {
            retire(&mut script, org_id, email);
        }
        script
    }

    async fn retired(db: &DatabaseConnection) -> Vec<String> {
        let mut emails: Vec<String> = retired_account::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.email_normalized)
            .collect();
        emails.sort();
        emails
    }

    /// A statement that fails undoes the ones before it in the same script,
    /// and nothing the transaction wrote before the script.
    #[tokio::test]
    async fn a_failing_statement_undoes_its_script_and_nothing_else() {
        let (_dir, db, org) = database().await;
        let backend = db.get_database_backend();
        let (txn, _turn) = crate::db::begin_write(&db).await.unwrap();
        let mut before = Script::new(backend);
        retire(&mut before, org, "kept@acme.test");
        before.run_in(&txn).await.unwrap();

        let failing = duplicate_third(backend, org);
        let error = failing.run_in(&txn).await.unwrap_err();
        assert!(crate::db::is_unique_violation(&error), "{error:?}");

        let mut after = Script::new(backend);
        retire(&mut after, org, "a@acme.test");
        retire(&mut after, org, "c@acme.test");
        after.run_in(&txn).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(
            retired(&db).await,
            ["a@acme.test", "c@acme.test", "kept@acme.test"]
        );
    }

    /// A script committed on its own is one transaction: a failing statement
    /// leaves none of its rows, and the writer is not left inside it (the
    /// next script and the next transaction begin and commit).
    #[tokio::test]
    async fn a_committed_script_is_all_or_nothing() {
        let (_dir, db, org) = database().await;
        let backend = db.get_database_backend();
        let failing = duplicate_third(backend, org);
        let error = failing.commit(&db).await.unwrap_err();
        assert!(crate::db::is_unique_violation(&error), "{error:?}");
        assert_eq!(retired(&db).await, Vec::<String>::new());

        let mut next = Script::new(backend);
        retire(&mut next, org, "a@acme.test");
        next.commit(&db).await.unwrap();
        let (txn, _turn) = crate::db::begin_write(&db).await.unwrap();
        let mut inside = Script::new(backend);
        retire(&mut inside, org, "c@acme.test");
        inside.run_in(&txn).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(retired(&db).await, ["a@acme.test", "c@acme.test"]);
    }

    /// Each statement gets its own values, in order, however many each takes.
    #[tokio::test]
    async fn every_statement_binds_its_own_values() {
        let (_dir, db, org) = database().await;
        let backend = db.get_database_backend();
        let (txn, _turn) = crate::db::begin_write(&db).await.unwrap();
        let mut script = Script::new(backend);
        for n in 0..20 {
            retire(&mut script, org, &format!("{n:02}@acme.test"));
        }
        script.push(&retired_account::Entity::delete_many().filter(
            retired_account::Column::EmailNormalized.is_in(["03@acme.test", "17@acme.test"]),
        ));
        script.run_in(&txn).await.unwrap();
        txn.commit().await.unwrap();
        let kept: Vec<String> = (0..20)
            .filter(|n| *n != 3 && *n != 17)
            .map(|n| format!("{n:02}@acme.test"))
            .collect();
        assert_eq!(retired(&db).await, kept);
    }
}
