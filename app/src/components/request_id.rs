//! The `X-Request-Id` a row was written under, shown where an admin reads
//! the row (audit log, sign-in events) so they can hand it to whoever reads
//! the server's logs. Nothing when the row was written outside a request.

use leptos::prelude::*;

#[component]
pub fn RequestId(id: Option<String>) -> impl IntoView {
    id.map(|id| {
        view! {
            <span class="block text-xs text-slate-600" title="The X-Request-Id of this request: search the server's logs for it">
                {format!("request {id}")}
            </span>
        }
    })
}
