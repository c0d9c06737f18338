//! The id of the HTTP request being answered, for the rows it writes (audit
//! entries, SSO events), so one id finds a request in the proxy's log, ours,
//! the audit log and a connection's event list. Set by the HTTP layer for the
//! whole request; carried into the group-commit writer with each change.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: Option<String>;
}

/// Runs `work` with `id` as the current request id.
pub async fn scope<F: Future>(id: Option<String>, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The current request id; `None` outside a request (the CLI, background tasks).
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

/// The value of a row's `request_id` column: left out of the INSERT outside a
/// request, so code that runs before the column's migration (an upgrade's
/// earlier steps) still writes its rows.
pub fn column() -> sea_orm::ActiveValue<Option<String>> {
    match current() {
        Some(id) => sea_orm::ActiveValue::Set(Some(id)),
        None => sea_orm::ActiveValue::NotSet,
    }
}
