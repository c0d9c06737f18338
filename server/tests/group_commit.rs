//! The group commit under the SCIM writes: each change is all or nothing inside a
//! shared transaction, a refusal can keep its audit row, and a change that
//! panics fails only its own batch.

mod common;

use common::TestApp;
use sea_orm::EntityTrait;
use sea_orm::{ConnectionTrait, DbErr, Statement};
use server::audit::{Actor, AuditAction, AuditEntry};
use server::db::Script;
use server::entities::audit_event;
use server::group_commit::{BoxFuture, Change, GroupCommit, Outcome, Undo};
use std::sync::Arc;

async fn probe_table(app: &TestApp) {
    app.db
        .execute_unprepared("CREATE TABLE gc_probe (n BIGINT PRIMARY KEY)")
        .await
        .unwrap();
}

fn insert(app: &TestApp, n: i64) -> Statement {
    Statement::from_sql_and_values(
        app.db.get_database_backend(),
        match app.db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => "INSERT INTO gc_probe (n) VALUES ($1)",
            _ => "INSERT INTO gc_probe (n) VALUES (?)",
        },
        [n.into()],
    )
}

async fn stored(app: &TestApp) -> Vec<i64> {
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT n FROM gc_probe ORDER BY n",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<i64>("", "n").unwrap())
        .collect()
}

/// The probe numbers of the audit rows stored, in order.
async fn audited_probes(app: &TestApp) -> Vec<i64> {
    let mut audited: Vec<i64> = audit_event::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .filter_map(|row| serde_json::from_str::<serde_json::Value>(&row.detail).ok())
        .filter_map(|detail| detail["probe"].as_i64())
        .collect();
    audited.sort();
    audited
}

#[derive(Debug, PartialEq)]
enum Answer {
    Refused(&'static str),
    Db(String),
}

impl From<DbErr> for Answer {
    fn from(e: DbErr) -> Self {
        Answer::Db(e.to_string())
    }
}

/// Fifty changes at once: the ones that fail leave nothing behind, the refusal
/// keeps what it wrote, a duplicate key fails alone, and the rest are stored.
#[tokio::test]
async fn each_change_in_a_batch_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    probe_table(&app).await;
    let writes = Arc::new(GroupCommit::start(app.db.clone()));
    let mut tasks = Vec::new();
    for n in 0..50i64 {
        let (writes, first, second) = (writes.clone(), insert(&app, n), insert(&app, 1000 + n));
        let duplicate = insert(&app, 0);
        tasks.push(tokio::spawn(async move {
            writes
                .write(b"probe", move |change| {
                    Box::pin(async move {
                        change.txn.execute_raw(first).await?;
                        change.audit(probe_entry(n));
                        match n % 5 {
                            // Wrote one row, then changed its mind: roll back.
                            1 => return Err(Answer::Refused("rolled back")),
                            // Wrote one row and refuses, keeping it (an audited refusal).
                            2 => return Ok(Err(Answer::Refused("kept"))),
                            // A second statement fails: the first is undone too.
                            3 if n > 0 => {
                                change.txn.execute_raw(duplicate).await?;
                            }
                            _ => {
                                change.txn.execute_raw(second).await?;
                            }
                        }
                        Ok(Ok(n))
                    })
                })
                .await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let mut expected_rows = Vec::new();
    for (n, answer) in (0..50i64).zip(&answers) {
        match n % 5 {
            1 => assert_eq!(answer, &Err(Answer::Refused("rolled back"))),
            2 => {
                assert_eq!(answer, &Err(Answer::Refused("kept")));
                expected_rows.push(n);
            }
            3 => assert!(matches!(answer, Err(Answer::Db(_))), "{n}: {answer:?}"),
            _ => {
                assert_eq!(answer, &Ok(n));
                expected_rows.extend([n, 1000 + n]);
            }
        }
    }
    expected_rows.sort();
    assert_eq!(stored(&app).await, expected_rows);
    // The audit rows of the changes rolled back went with them.
    let audited = audited_probes(&app).await;
    let kept: Vec<i64> = (0..50).filter(|n| n % 5 != 1 && n % 5 != 3).collect();
    assert_eq!(audited, kept);
}

/// Changes that write through one script need no savepoint of their own: one
/// whose script fails leaves nothing, not even its audit row, and the others
/// in its batch are stored.
#[tokio::test]
async fn an_atomic_change_whose_script_fails_leaves_nothing() {
    a_change_whose_script_fails_leaves_nothing(Mode::Atomic).await;
}

/// The same for a change that may read before its script: no savepoint around
/// the change on either backend, the script in one of its own.
#[tokio::test]
async fn a_read_then_atomic_change_whose_script_fails_leaves_nothing() {
    a_change_whose_script_fails_leaves_nothing(Mode::ReadThenAtomic).await;
}

/// The same for a change in its own savepoint, where the script runs
/// without one of its own.
#[tokio::test]
async fn a_guarded_change_whose_script_fails_leaves_nothing() {
    a_change_whose_script_fails_leaves_nothing(Mode::Savepoint).await;
}

#[derive(Clone, Copy)]
enum Mode {
    Savepoint,
    Atomic,
    ReadThenAtomic,
}

async fn a_change_whose_script_fails_leaves_nothing(mode: Mode) {
    let app = TestApp::spawn().await;
    probe_table(&app).await;
    let writes = Arc::new(GroupCommit::start(app.db.clone()));
    let backend = app.db.get_database_backend();
    let mut tasks = Vec::new();
    for n in 0..50i64 {
        let writes = writes.clone();
        let mut script = Script::new(backend);
        script.push_raw(insert(&app, n));
        // Every third change's second row repeats its first: a duplicate key.
        let second = if n % 3 == 1 { n } else { 1000 + n };
        script.push_raw(insert(&app, second));
        let change = probe_change(script, n);
        tasks.push(tokio::spawn(async move {
            match mode {
                Mode::Savepoint => writes.write(b"probe", change).await,
                Mode::Atomic => writes.write_with(b"probe", Undo::Script, change).await,
                Mode::ReadThenAtomic => {
                    writes
                        .write_with(b"probe", Undo::ReadThenScript, change)
                        .await
                }
            }
        }));
    }
    let mut expected_rows = Vec::new();
    let mut failed = Vec::new();
    for (n, task) in (0..50i64).zip(tasks) {
        match task.await.unwrap() {
            Ok(answer) => {
                assert_eq!(answer, n);
                expected_rows.extend([n, 1000 + n]);
            }
            Err(Answer::Db(_)) => failed.push(n),
            Err(other) => panic!("{n}: {other:?}"),
        }
    }
    assert_eq!(failed, (0..50).filter(|n| n % 3 == 1).collect::<Vec<_>>());
    expected_rows.sort();
    assert_eq!(stored(&app).await, expected_rows);
    assert_eq!(
        audited_probes(&app).await,
        (0..50).filter(|n| n % 3 != 1).collect::<Vec<_>>()
    );
}

/// Runs `script`, then audits probe `n`.
fn probe_change(
    script: Script,
    n: i64,
) -> impl for<'t> FnOnce(&'t Change<'t>) -> BoxFuture<'t, Outcome<i64, Answer>> + Send + 'static {
    move |change| {
        Box::pin(async move {
            change.run(script).await?;
            change.audit(probe_entry(n));
            Ok(Ok(n))
        })
    }
}

fn probe_entry(n: i64) -> AuditEntry {
    AuditEntry {
        org_id: None,
        actor: Actor::Cli,
        action: AuditAction::ScimUserCreated,
        success: true,
        detail: serde_json::json!({ "probe": n }),
        client_ip: None,
    }
}

/// A change that panics fails the callers of its batch with an error, never a
/// hang, and the writer goes on with the next batch.
#[tokio::test]
async fn a_panicking_change_fails_its_batch_and_the_writer_goes_on() {
    let app = TestApp::spawn().await;
    probe_table(&app).await;
    let writes = GroupCommit::start(app.db.clone());
    let first = insert(&app, 1);
    let panicked: Result<(), Answer> = writes
        .write(b"probe", move |change| {
            Box::pin(async move {
                change.txn.execute_raw(first).await?;
                panic!("a bug in one change");
            })
        })
        .await;
    assert!(matches!(panicked, Err(Answer::Db(_))), "{panicked:?}");
    let second = insert(&app, 2);
    let next: Result<i64, Answer> = writes
        .write(b"probe", move |change| {
            Box::pin(async move {
                change.txn.execute_raw(second).await?;
                Ok(Ok(2))
            })
        })
        .await;
    assert_eq!(next, Ok(2));
    assert_eq!(stored(&app).await, vec![2]);
}
