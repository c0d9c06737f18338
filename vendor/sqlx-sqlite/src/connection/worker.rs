use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use futures_channel::oneshot;
use futures_intrusive::sync::{Mutex, MutexGuard};
use sqlx_core::sql_str::SqlStr;
use tracing::span::Span;

use sqlx_core::error::Error;
use sqlx_core::transaction::{
    begin_ansi_transaction_sql, commit_ansi_transaction_sql, rollback_ansi_transaction_sql,
};
use sqlx_core::Either;

use crate::connection::establish::EstablishParams;
use crate::connection::execute;
use crate::connection::ConnectionState;
use crate::{SqliteArguments, SqliteQueryResult, SqliteRow, SqliteStatement};

#[cfg(feature = "deserialize")]
use crate::connection::deserialize::{deserialize, serialize, SchemaName, SqliteOwnedBuf};

// Each SQLite connection has a dedicated thread.

// TODO: Tweak this so that we can use a thread pool per pool of SQLite3 connections to reduce
//       OS resource usage. Low priority because a high concurrent load for SQLite3 is very
//       unlikely.

// Latchkey: a read, and a transaction's BEGIN, COMMIT or ROLLBACK that writes nothing
// to the file, run on the caller's thread when the connection allows it
// (`EstablishParams::inline_reads`) and the worker thread has nothing left to run.
// Everything else still goes to the worker thread, in order (LATCHKEY.md).

pub(crate) struct ConnectionWorker {
    command_tx: flume::Sender<(Command, tracing::Span)>,
    /// Mutex for locking access to the database.
    pub(crate) shared: Arc<WorkerSharedState>,
    /// Latchkey: whether reads may run on the caller's thread.
    inline_reads: bool,
}

pub(crate) struct WorkerSharedState {
    transaction_depth: AtomicUsize,
    cached_statements_size: AtomicUsize,
    /// Latchkey: commands sent to the worker thread that it has not finished. The
    /// caller's thread uses the connection only when this is 0, so nothing it runs
    /// overtakes a command sent before (a dropped transaction's ROLLBACK, say).
    queued: AtomicUsize,
    /// Latchkey: a COMMIT or ROLLBACK ran but its caller was gone; the ROLLBACK its
    /// `Transaction` sends when dropped must be ignored (upstream a local of the
    /// worker loop; shared now that a ROLLBACK may run on the caller's thread).
    ignore_next_start_rollback: AtomicBool,
    pub(crate) conn: Mutex<ConnectionState>,
}

impl WorkerSharedState {
    pub(crate) fn get_transaction_depth(&self) -> usize {
        self.transaction_depth.load(Ordering::Acquire)
    }

    pub(crate) fn get_cached_statements_size(&self) -> usize {
        self.cached_statements_size.load(Ordering::Acquire)
    }
}

enum Command {
    Prepare {
        query: SqlStr,
        tx: oneshot::Sender<Result<SqliteStatement, Error>>,
    },
    #[cfg(feature = "offline")]
    Describe {
        query: SqlStr,
        tx: oneshot::Sender<Result<sqlx_core::describe::Describe<crate::Sqlite>, Error>>,
    },
    Execute {
        query: SqlStr,
        arguments: Option<SqliteArguments>,
        persistent: bool,
        tx: flume::Sender<Result<Either<SqliteQueryResult, SqliteRow>, Error>>,
        limit: Option<usize>,
    },
    #[cfg(feature = "deserialize")]
    Serialize {
        schema: Option<SchemaName>,
        tx: oneshot::Sender<Result<SqliteOwnedBuf, Error>>,
    },
    #[cfg(feature = "deserialize")]
    Deserialize {
        schema: Option<SchemaName>,
        data: SqliteOwnedBuf,
        read_only: bool,
        tx: oneshot::Sender<Result<(), Error>>,
    },
    Begin {
        tx: rendezvous_oneshot::Sender<Result<(), Error>>,
        statement: Option<SqlStr>,
    },
    Commit {
        tx: rendezvous_oneshot::Sender<Result<(), Error>>,
    },
    Rollback {
        tx: Option<rendezvous_oneshot::Sender<Result<(), Error>>>,
    },
    ClearCache {
        tx: oneshot::Sender<()>,
    },
    Ping {
        tx: oneshot::Sender<()>,
    },
    Shutdown {
        tx: oneshot::Sender<()>,
    },
}

impl ConnectionWorker {
    pub(crate) async fn establish(params: EstablishParams) -> Result<Self, Error> {
        let (establish_tx, establish_rx) = oneshot::channel();

        thread::Builder::new()
            .name(params.thread_name.clone())
            .spawn(move || {
                let (command_tx, command_rx) = flume::bounded(params.command_channel_size);

                let conn = match params.establish() {
                    Ok(conn) => conn,
                    Err(e) => {
                        establish_tx.send(Err(e)).ok();
                        return;
                    }
                };

                let shared = Arc::new(WorkerSharedState {
                    transaction_depth: AtomicUsize::new(0),
                    cached_statements_size: AtomicUsize::new(0),
                    queued: AtomicUsize::new(0),
                    ignore_next_start_rollback: AtomicBool::new(false),
                    conn: Mutex::new(conn, true),
                });

                if establish_tx
                    .send(Ok(Self {
                        command_tx,
                        shared: Arc::clone(&shared),
                        inline_reads: params.inline_reads,
                    }))
                    .is_err()
                {
                    return;
                }

                // If COMMIT or ROLLBACK is processed but not acknowledged, there would be another
                // ROLLBACK sent when the `Transaction` drops. We need to ignore it otherwise we
                // would rollback an already completed transaction.
                // (Latchkey: `shared.ignore_next_start_rollback`.)

                // Latchkey: the worker holds the connection only while it runs a command
                // (upstream: always, until `UnlockDb`), so that the caller's thread can
                // run the next one once `queued` says the worker is done.
                'commands: for (cmd, span) in command_rx {
                    let mut conn = lock_blocking(&shared.conn);
                    let _guard = span.enter();
                    'command: {
                    match cmd {
                        Command::Prepare { query, tx } => {
                            tx.send(prepare(&mut conn, query)).ok();

                            // This may issue an unnecessary write on failure,
                            // but it doesn't matter in the grand scheme of things.
                            update_cached_statements_size(
                                &conn,
                                &shared.cached_statements_size,
                            );
                        }
                        #[cfg(feature = "offline")]
                        Command::Describe { query, tx } => {
                            tx.send(crate::connection::describe::describe(&mut conn, query)).ok();
                        }
                        Command::Execute {
                            query,
                            arguments,
                            persistent,
                            tx,
                            limit
                        } => {
                            run_execute(&mut conn, query, arguments, persistent, limit, &tx);
                            update_cached_statements_size(&conn, &shared.cached_statements_size);
                        }
                        Command::Begin { tx, statement } => {
                            let depth = shared.transaction_depth.load(Ordering::Acquire);

                            let is_custom_statement = statement.is_some();
                            let statement = match statement {
                                // custom `BEGIN` statements are not allowed if
                                // we're already in a transaction (we need to
                                // issue a `SAVEPOINT` instead)
                                Some(_) if depth > 0 => {
                                    if tx.blocking_send(Err(Error::InvalidSavePointStatement)).is_err() {
                                        break 'commands;
                                    }
                                    break 'command;
                                },
                                Some(statement) => statement,
                                None => begin_ansi_transaction_sql(depth),
                            };
                            let res =
                                conn.handle
                                    .exec(statement.as_str())
                                    .and_then(|res| {
                                        if is_custom_statement && !conn.handle.in_transaction() {
                                            return Err(Error::BeginFailed)
                                        }

                                        shared.transaction_depth.fetch_add(1, Ordering::Release);

                                        Ok(res)
                                    });
                            let res_ok = res.is_ok();

                            if tx.blocking_send(res).is_err() && res_ok {
                                // The BEGIN was processed but not acknowledged. This means no
                                // `Transaction` was created and so there is no way to commit /
                                // rollback this transaction. We need to roll it back
                                // immediately otherwise it would remain started forever.
                                if let Err(error) = conn
                                    .handle
                                    .exec(rollback_ansi_transaction_sql(depth + 1).as_str())
                                    .map(|_| {
                                        shared.transaction_depth.fetch_sub(1, Ordering::Release);
                                    })
                                {
                                    // The rollback failed. To prevent leaving the connection
                                    // in an inconsistent state we shutdown this worker which
                                    // causes any subsequent operation on the connection to fail.
                                    tracing::error!(%error, "failed to rollback cancelled transaction");
                                    break 'commands;
                                }
                            }
                        }
                        Command::Commit { tx } => {
                            let depth = shared.transaction_depth.load(Ordering::Acquire);

                            let res = if depth > 0 {
                                conn.handle
                                    .exec(commit_ansi_transaction_sql(depth).as_str())
                                    .map(|_| {
                                        shared.transaction_depth.fetch_sub(1, Ordering::Release);
                                    })
                            } else {
                                Ok(())
                            };
                            let res_ok = res.is_ok();

                            if tx.blocking_send(res).is_err() && res_ok {
                                // The COMMIT was processed but not acknowledged. This means that
                                // the `Transaction` doesn't know it was committed and will try to
                                // rollback on drop. We need to ignore that rollback.
                                shared.ignore_next_start_rollback.store(true, Ordering::Release);
                            }
                        }
                        Command::Rollback { tx } => {
                            if tx.is_none()
                                && shared.ignore_next_start_rollback.swap(false, Ordering::AcqRel)
                            {
                                break 'command;
                            }

                            let depth = shared.transaction_depth.load(Ordering::Acquire);

                            let res = if depth > 0 {
                                conn.handle
                                    .exec(rollback_ansi_transaction_sql(depth).as_str())
                                    .map(|_| {
                                        shared.transaction_depth.fetch_sub(1, Ordering::Release);
                                    })
                            } else {
                                Ok(())
                            };

                            let res_ok = res.is_ok();

                            if let Some(tx) = tx {
                                if tx.blocking_send(res).is_err() && res_ok {
                                    // The ROLLBACK was processed but not acknowledged. This means
                                    // that the `Transaction` doesn't know it was rolled back and
                                    // will try to rollback again on drop. We need to ignore that
                                    // rollback.
                                    shared.ignore_next_start_rollback.store(true, Ordering::Release);
                                }
                            }
                        }
                        #[cfg(feature = "deserialize")]
                        Command::Serialize { schema, tx } => {
                            tx.send(serialize(&mut conn, schema)).ok();
                        }
                        #[cfg(feature = "deserialize")]
                        Command::Deserialize { schema, data, read_only, tx } => {
                            tx.send(deserialize(&mut conn, schema, data, read_only)).ok();
                        }
                        Command::ClearCache { tx } => {
                            conn.statements.clear();
                            update_cached_statements_size(&conn, &shared.cached_statements_size);
                            tx.send(()).ok();
                        }
                        Command::Ping { tx } => {
                            tx.send(()).ok();
                        }
                        Command::Shutdown { tx } => {
                            // drop the connection references before sending confirmation
                            // and ending the command loop
                            drop(conn);
                            drop(shared);
                            let _ = tx.send(());
                            return;
                        }
                    }
                    }
                    // Latchkey: only once the connection is unlocked, so that a caller
                    // who sees 0 can take it.
                    drop(conn);
                    shared.queued.fetch_sub(1, Ordering::AcqRel);
                }
            })?;

        establish_rx.await.map_err(|_| Error::WorkerCrashed)?
    }

    pub(crate) async fn prepare(&mut self, query: SqlStr) -> Result<SqliteStatement, Error> {
        self.oneshot_cmd(|tx| Command::Prepare { query, tx })
            .await?
    }

    #[cfg(feature = "offline")]
    pub(crate) async fn describe(
        &mut self,
        query: SqlStr,
    ) -> Result<sqlx_core::describe::Describe<crate::Sqlite>, Error> {
        self.oneshot_cmd(|tx| Command::Describe { query, tx })
            .await?
    }

    pub(crate) async fn execute(
        &mut self,
        query: SqlStr,
        args: Option<SqliteArguments>,
        chan_size: usize,
        persistent: bool,
        limit: Option<usize>,
    ) -> Result<flume::Receiver<Result<Either<SqliteQueryResult, SqliteRow>, Error>>, Error> {
        // Latchkey: a cached statement that only reads runs here, its rows queued in
        // full before the caller reads them (no round trip to the worker thread).
        if persistent {
            if let Some(mut conn) = self.idle_connection() {
                if only_reads(&mut conn, query.as_str()) {
                    let (tx, rx) = flume::unbounded();
                    run_execute(&mut conn, query, args, persistent, limit, &tx);
                    update_cached_statements_size(&conn, &self.shared.cached_statements_size);
                    count_run_here();
                    return Ok(rx);
                }
            }
        }

        let (tx, rx) = flume::bounded(chan_size);

        self.send_async(Command::Execute {
            query,
            arguments: args,
            persistent,
            tx,
            limit,
        })
        .await?;

        Ok(rx)
    }

    pub(crate) async fn begin(&mut self, statement: Option<SqlStr>) -> Result<(), Error> {
        // Latchkey: a deferred BEGIN or a SAVEPOINT takes no lock, so it never waits.
        // A custom statement (BEGIN IMMEDIATE) may wait for the write lock: worker.
        if statement.is_none() {
            if let Some(mut conn) = self.idle_connection() {
                let depth = self.shared.transaction_depth.load(Ordering::Acquire);
                conn.handle
                    .exec(begin_ansi_transaction_sql(depth).as_str())?;
                self.shared.transaction_depth.fetch_add(1, Ordering::Release);
                count_run_here();
                return Ok(());
            }
        }
        self.oneshot_cmd_with_ack(|tx| Command::Begin { tx, statement })
            .await?
    }

    pub(crate) async fn commit(&mut self) -> Result<(), Error> {
        if let Some(mut conn) = self.idle_ending() {
            return end_transaction(&mut conn, &self.shared, commit_ansi_transaction_sql);
        }
        self.oneshot_cmd_with_ack(|tx| Command::Commit { tx })
            .await?
    }

    pub(crate) async fn rollback(&mut self) -> Result<(), Error> {
        if let Some(mut conn) = self.idle_ending() {
            return end_transaction(&mut conn, &self.shared, rollback_ansi_transaction_sql);
        }
        self.oneshot_cmd_with_ack(|tx| Command::Rollback { tx: Some(tx) })
            .await?
    }

    pub(crate) fn start_rollback(&mut self) -> Result<(), Error> {
        if let Some(mut conn) = self.idle_ending() {
            if self.shared.ignore_next_start_rollback.swap(false, Ordering::AcqRel) {
                return Ok(());
            }
            return end_transaction(&mut conn, &self.shared, rollback_ansi_transaction_sql);
        }
        self.send(Command::Rollback { tx: None })
    }

    pub(crate) async fn ping(&mut self) -> Result<(), Error> {
        self.oneshot_cmd(|tx| Command::Ping { tx }).await
    }

    #[cfg(feature = "deserialize")]
    pub(crate) async fn deserialize(
        &mut self,
        schema: Option<SchemaName>,
        data: SqliteOwnedBuf,
        read_only: bool,
    ) -> Result<(), Error> {
        self.oneshot_cmd(|tx| Command::Deserialize {
            schema,
            data,
            read_only,
            tx,
        })
        .await?
    }

    #[cfg(feature = "deserialize")]
    pub(crate) async fn serialize(
        &mut self,
        schema: Option<SchemaName>,
    ) -> Result<SqliteOwnedBuf, Error> {
        self.oneshot_cmd(|tx| Command::Serialize { schema, tx })
            .await?
    }

    async fn oneshot_cmd<F, T>(&mut self, command: F) -> Result<T, Error>
    where
        F: FnOnce(oneshot::Sender<T>) -> Command,
    {
        let (tx, rx) = oneshot::channel();

        self.send_async(command(tx)).await?;

        rx.await.map_err(|_| Error::WorkerCrashed)
    }

    async fn oneshot_cmd_with_ack<F, T>(&mut self, command: F) -> Result<T, Error>
    where
        F: FnOnce(rendezvous_oneshot::Sender<T>) -> Command,
    {
        let (tx, rx) = rendezvous_oneshot::channel();

        self.send_async(command(tx)).await?;

        rx.recv().await.map_err(|_| Error::WorkerCrashed)
    }

    pub(crate) async fn clear_cache(&mut self) -> Result<(), Error> {
        self.oneshot_cmd(|tx| Command::ClearCache { tx }).await
    }

    pub(crate) async fn unlock_db(&mut self) -> Result<MutexGuard<'_, ConnectionState>, Error> {
        // Latchkey: the worker holds the lock only while it runs a command, so wait
        // until it has run every command sent so far (upstream: an `UnlockDb` command).
        self.ping().await?;
        Ok(self.shared.conn.lock().await)
    }

    /// Send a command to the worker to shut down the processing thread.
    ///
    /// A `WorkerCrashed` error may be returned if the thread has already stopped.
    pub(crate) fn shutdown(&mut self) -> impl Future<Output = Result<(), Error>> {
        let (tx, rx) = oneshot::channel();

        let send_res = self.send(Command::Shutdown { tx });

        async move {
            send_res?;

            // wait for the response
            rx.await.map_err(|_| Error::WorkerCrashed)
        }
    }

    /// Latchkey: the connection, for this thread to use now, if reads may run here and
    /// the worker thread has finished every command sent to it.
    fn idle_connection(&self) -> Option<MutexGuard<'_, ConnectionState>> {
        if !self.inline_reads || self.shared.queued.load(Ordering::Acquire) != 0 {
            return None;
        }
        self.shared.conn.try_lock()
    }

    /// Latchkey: the connection, as `idle_connection`, to end a transaction here:
    /// unless the transaction has written to the file, whose COMMIT writes and may
    /// sync it (a checkpoint), which stays on the worker thread.
    fn idle_ending(&self) -> Option<MutexGuard<'_, ConnectionState>> {
        let mut conn = self.idle_connection()?;
        let depth = self.shared.transaction_depth.load(Ordering::Acquire);
        (depth != 1 || !conn.handle.in_write_transaction()).then_some(conn)
    }

    /// Latchkey: every command to the worker thread goes through here or
    /// `send_async`, which count it in `queued`.
    fn send(&self, command: Command) -> Result<(), Error> {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.command_tx
            .send((command, Span::current()))
            .map_err(|_| Error::WorkerCrashed)
    }

    async fn send_async(&self, command: Command) -> Result<(), Error> {
        // Counted before it can be seen; uncounted if the send does not happen
        // (the worker is gone, or the caller stopped waiting for room).
        let sending = Uncount(&self.shared.queued);
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.command_tx
            .send_async((command, Span::current()))
            .await
            .map_err(|_| Error::WorkerCrashed)?;
        std::mem::forget(sending);
        Ok(())
    }
}

/// Latchkey: takes back a count in `queued` when dropped.
struct Uncount<'a>(&'a AtomicUsize);

impl Drop for Uncount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Latchkey: the worker thread's lock on the connection, for one command.
fn lock_blocking(conn: &Mutex<ConnectionState>) -> MutexGuard<'_, ConnectionState> {
    conn.try_lock()
        .unwrap_or_else(|| futures_executor::block_on(conn.lock()))
}

/// Latchkey: whether each statement of `query` only reads (SELECT, WITH or VALUES
/// that SQLite says leave the file as it is). The statements are prepared and
/// cached as `execute::iter` would; a query that fails to prepare is left to the
/// worker thread, which reports the error as before.
fn only_reads(conn: &mut ConnectionState, query: &str) -> bool {
    let ConnectionState {
        handle, statements, ..
    } = conn;
    let Ok(statement) = statements.get(query, true) else {
        return false;
    };
    let mut reads = true;
    loop {
        match statement.prepare_next(handle) {
            Ok(Some(prepared)) => reads &= is_a_read(prepared.handle),
            Ok(None) => break,
            Err(_) => {
                reads = false;
                break;
            }
        }
    }
    statement.reset().is_ok() && reads
}

fn is_a_read(statement: &crate::statement::StatementHandle) -> bool {
    let sql = statement.sql().trim_start();
    let keyword = sql
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    statement.read_only()
        && ["select", "with", "values"]
            .iter()
            .any(|k| keyword.eq_ignore_ascii_case(k))
}

/// Latchkey: COMMIT or ROLLBACK (of the innermost savepoint) on this thread, as the
/// worker thread does.
fn end_transaction(
    conn: &mut ConnectionState,
    shared: &WorkerSharedState,
    sql: fn(usize) -> SqlStr,
) -> Result<(), Error> {
    let depth = shared.transaction_depth.load(Ordering::Acquire);
    if depth == 0 {
        return Ok(());
    }
    count_run_here();
    conn.handle.exec(sql(depth).as_str())?;
    shared.transaction_depth.fetch_sub(1, Ordering::Release);
    Ok(())
}

/// Runs a statement, sending each result to `tx` (upstream inline in the worker loop;
/// Latchkey: shared with the caller's thread).
fn run_execute(
    conn: &mut ConnectionState,
    query: SqlStr,
    arguments: Option<SqliteArguments>,
    persistent: bool,
    limit: Option<usize>,
    tx: &flume::Sender<Result<Either<SqliteQueryResult, SqliteRow>, Error>>,
) {
    let iter = match execute::iter(conn, query, arguments, persistent) {
        Ok(iter) => iter,
        Err(e) => {
            tx.send(Err(e)).ok();
            return;
        }
    };

    match limit {
        None => {
            for res in iter {
                let has_error = res.is_err();
                if tx.send(res).is_err() || has_error {
                    break;
                }
            }
        }
        Some(limit) => {
            let mut iter = iter;
            let mut rows_returned = 0;

            while let Some(res) = iter.next() {
                if let Ok(ok) = &res {
                    if ok.is_right() {
                        rows_returned += 1;
                        if rows_returned >= limit {
                            drop(iter);
                            let _ = tx.send(res);
                            break;
                        }
                    }
                }
                let has_error = res.is_err();
                if tx.send(res).is_err() || has_error {
                    break;
                }
            }
        }
    }
}

fn prepare(conn: &mut ConnectionState, query: SqlStr) -> Result<SqliteStatement, Error> {
    // prepare statement object (or checkout from cache)
    let statement = conn.statements.get(query.as_str(), true)?;

    let mut parameters = 0;
    let mut columns = None;
    let mut column_names = None;

    while let Some(statement) = statement.prepare_next(&mut conn.handle)? {
        parameters += statement.handle.bind_parameter_count();

        // the first non-empty statement is chosen as the statement we pull columns from
        if !statement.columns.is_empty() && columns.is_none() {
            columns = Some(Arc::clone(statement.columns));
            column_names = Some(Arc::clone(statement.column_names));
        }
    }

    Ok(SqliteStatement {
        sql: query,
        columns: columns.unwrap_or_default(),
        column_names: column_names.unwrap_or_default(),
        parameters,
    })
}

fn update_cached_statements_size(conn: &ConnectionState, size: &AtomicUsize) {
    size.store(conn.statements.len(), Ordering::Release);
}

// A oneshot channel where send completes only after the receiver receives the value.
mod rendezvous_oneshot {
    use super::oneshot::{self, Canceled};

    pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
        let (inner_tx, inner_rx) = oneshot::channel();
        (Sender { inner: inner_tx }, Receiver { inner: inner_rx })
    }

    pub struct Sender<T> {
        inner: oneshot::Sender<(T, oneshot::Sender<()>)>,
    }

    impl<T> Sender<T> {
        pub async fn send(self, value: T) -> Result<(), Canceled> {
            let (ack_tx, ack_rx) = oneshot::channel();
            self.inner.send((value, ack_tx)).map_err(|_| Canceled)?;
            ack_rx.await
        }

        pub fn blocking_send(self, value: T) -> Result<(), Canceled> {
            futures_executor::block_on(self.send(value))
        }
    }

    pub struct Receiver<T> {
        inner: oneshot::Receiver<(T, oneshot::Sender<()>)>,
    }

    impl<T> Receiver<T> {
        pub async fn recv(self) -> Result<T, Canceled> {
            let (value, ack_tx) = self.inner.await?;
            ack_tx.send(()).map_err(|_| Canceled)?;
            Ok(value)
        }
    }
}

thread_local! {
    /// Latchkey: statements, BEGINs, COMMITs and ROLLBACKs this thread ran itself.
    static RUN_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count_run_here() {
    RUN_HERE.with(|n| n.set(n.get() + 1));
}

/// Latchkey: how many statements, BEGINs, COMMITs and ROLLBACKs this thread has run
/// on a connection itself, instead of sending them to its worker thread (for tests).
pub fn statements_run_on_this_thread() -> u64 {
    RUN_HERE.with(|n| n.get())
}
