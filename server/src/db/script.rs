//! Several writes sent to the database as one, all or nothing.
//!
//! On SQLite every statement is a hop to the connection's own thread and back
//! (two context switches, the largest cost of a write in `perf`), so a script
//! goes as one multi-statement query inside a savepoint: one hop however many
//! rows it writes. PostgreSQL's prepared statements hold one command each, so
//! there the statements go one after another in the same savepoint, unless
//! the script says they are independent: then they go as the parts of one
//! statement (`WITH a AS (…), b AS (…) …`), one round trip.

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
    independent: bool,
}

impl Script {
    pub fn new(backend: DatabaseBackend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
            independent: false,
        }
    }

    /// A script whose statements neither read nor change a row another of
    /// them writes. PostgreSQL runs the parts of one statement on one snapshot
    /// (none sees what another wrote, and foreign keys are checked once all
    /// are done), so these may go as one: one round trip instead of one each.
    pub fn independent(backend: DatabaseBackend) -> Self {
        Self {
            independent: true,
            ..Self::new(backend)
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
            DatabaseBackend::Postgres if self.independent && self.statements.len() > 1 => txn
                .execute_raw(self.into_one_postgres_statement())
                .await
                .map(|_| ()),
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
        if self.goes_as_one_statement() {
            // One statement is a transaction of its own on PostgreSQL, and
            // without BEGIN and COMMIT it costs one round trip instead of three.
            return db
                .execute_raw(self.into_one_postgres_statement())
                .await
                .map(|_| ());
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

    /// Whether the script reaches PostgreSQL as one statement: a single one,
    /// or independent ones as the parts of one. (SQLite's multi-statement
    /// query is not one statement: each of its statements commits on its own.)
    pub fn goes_as_one_statement(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
            && (self.statements.len() == 1 || (self.independent && !self.statements.is_empty()))
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

    /// PostgreSQL: the statements as the parts of one, each but the last a
    /// `WITH` query of its own, their `$n` parameters numbered on across them.
    fn into_one_postgres_statement(self) -> Statement {
        let mut values: Vec<Value> = Vec::new();
        let mut parts: Vec<String> = Vec::new();
        for statement in self.statements {
            parts.push(renumber_parameters(&statement.sql, values.len()));
            values.extend(statement.values.map(|Values(v)| v).unwrap_or_default());
        }
        let last = parts.pop().unwrap_or_default();
        let with: Vec<String> = parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| format!("lk_part_{index} AS ({part})"))
            .collect();
        let sql = if with.is_empty() {
            last
        } else {
            format!("WITH {} {last}", with.join(", "))
        };
        Statement::from_sql_and_values(self.backend, sql, values)
    }
}

/// `sql` with every `$n` parameter outside quotes turned into `$(n + offset)`.
fn renumber_parameters(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut number = String::new();
                while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                    number.push(digit);
                }
                out.push('$');
                match number.parse::<usize>() {
                    Ok(n) => out.push_str(&(n + offset).to_string()),
                    // No statement has that many parameters: not one of ours.
                    Err(_) => out.push_str(&number),
                }
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
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
            id: Set(crate::db::new_row_id()),
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

    /// Which scripts `commit` sends as one statement, with no transaction
    /// around it: only PostgreSQL's, and only what it runs as one.
    #[test]
    fn only_postgres_scripts_of_one_statement_commit_without_a_transaction() {
        use sea_orm::DatabaseBackend::{Postgres, Sqlite};
        let org = Uuid::nil();
        let shapes = |backend| {
            let mut single = Script::new(backend);
            retire(&mut single, org, "a@acme.test");
            let mut dependent = Script::new(backend);
            let mut independent = Script::independent(backend);
            for email in ["a@acme.test", "b@acme.test"] {
                retire(&mut dependent, org, email);
                retire(&mut independent, org, email);
            }
            [Script::independent(backend), single, dependent, independent]
                .map(|script| script.goes_as_one_statement())
        };
        assert_eq!(shapes(Postgres), [false, true, false, true]);
        assert_eq!(shapes(Sqlite), [false; 4]);
    }

    #[test]
    fn independent_statements_become_one_postgres_statement() {
        use sea_orm::{DatabaseBackend, Statement, Value, Values};
        let backend = DatabaseBackend::Postgres;
        let mut script = Script::independent(backend);
        script.push_raw(Statement::from_sql_and_values(
            backend,
            r#"INSERT INTO "a" ("x", "y") VALUES ($1, $2)"#,
            [Value::from(1), Value::from(2)],
        ));
        script.push_raw(Statement::from_sql_and_values(
            backend,
            r#"UPDATE "b" SET "n" = $1 WHERE "w" = '$1' AND "q$1" = $2"#,
            [Value::from(3), Value::from(4)],
        ));
        script.push_raw(Statement::from_sql_and_values(
            backend,
            r#"DELETE FROM "c" WHERE "z" = $1"#,
            [Value::from(5)],
        ));
        let one = script.into_one_postgres_statement();
        assert_eq!(
            one.sql,
            concat!(
                r#"WITH lk_part_0 AS (INSERT INTO "a" ("x", "y") VALUES ($1, $2)), "#,
                r#"lk_part_1 AS (UPDATE "b" SET "n" = $3 WHERE "w" = '$1' AND "q$1" = $4) "#,
                r#"DELETE FROM "c" WHERE "z" = $5"#
            )
        );
        assert_eq!(one.values, Some(Values((1..=5).map(Value::from).collect())));
    }

    #[test]
    fn a_parameter_number_too_large_to_be_ours_is_left_as_it_is() {
        let sql = r#"SELECT $99999999999999999999999, $2"#;
        assert_eq!(
            super::renumber_parameters(sql, 3),
            r#"SELECT $99999999999999999999999, $5"#
        );
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
