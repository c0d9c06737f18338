//! Test Connection and the event log. The test runs in a popup that goes to
//! the identity provider and back to our ACS; the ACS page hands the result's
//! ID to this page by `postMessage` (our origin only), and the result is read
//! through a server function and shown inline.

use crate::components::fields::{PRIMARY_BUTTON, SECONDARY_BUTTON};
use crate::functions::sso::{get_event_log, get_test_result};
use leptos::prelude::*;

/// The message the ACS page posts: `latchkey-test-result:<connection>:<event>`.
const RESULT_PREFIX: &str = "latchkey-test-result:";

/// `events_version` is bumped when a test finishes, to reload the event log;
/// `passed` is set when a test passes (the page's status follows it).
#[component]
pub fn TestConnection(
    connection_id: String,
    ready: bool,
    events_version: RwSignal<u32>,
    passed: RwSignal<bool>,
) -> impl IntoView {
    let waiting = RwSignal::new(false);
    let blocked = RwSignal::new(false);
    let abandoned = RwSignal::new(false);
    let event_id = RwSignal::new(None::<String>);
    listen_for_results(connection_id.clone(), event_id, waiting, events_version);
    // Filled from the browser when a test reports its event (never on the
    // server): the result's HTML, rendered by the server.
    let result = RwSignal::new(None::<String>);
    Effect::watch(
        move || event_id.get(),
        {
            let connection_id = connection_id.clone();
            move |event: &Option<String>, _, _| {
                result.set(None);
                let Some(event_id) = event.clone() else {
                    return;
                };
                let connection_id = connection_id.clone();
                leptos::task::spawn_local(async move {
                    let Ok(test) = get_test_result(connection_id, event_id).await else {
                        return;
                    };
                    if test.passed {
                        passed.set(true);
                    }
                    result.set(Some(test.html));
                });
            }
        },
        false,
    );
    let start = {
        let connection_id = connection_id.clone();
        move |_| {
            event_id.set(None);
            abandoned.set(false);
            let popup = open_popup(&connection_id);
            blocked.set(popup.is_none());
            waiting.set(popup.is_some());
            if let Some(popup) = popup {
                notice_when_closed(popup, waiting, abandoned);
            }
        }
    };
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="test-heading">
            <div class="flex flex-wrap items-center justify-between gap-3">
                <div>
                    <h2 id="test-heading" class="font-semibold">"Test Connection"</h2>
                    <p class="mt-1 text-sm text-slate-600">
                        "Sign in at your identity provider in a popup. Nobody is signed in to Latchkey by a test; you see exactly what the identity provider sent."
                    </p>
                </div>
                <button type="button" class=PRIMARY_BUTTON disabled=!ready on:click=start>
                    "Test Connection"
                </button>
            </div>
            {(!ready).then(|| view! {
                <p class="mt-3 text-sm text-amber-900">
                    "Fix the items in Connection Health first; the test starts once it reads Ready to test."
                </p>
            })}
            <Show when=move || blocked.get()>
                <p role="alert" class="mt-3 text-sm text-red-700">
                    "Your browser blocked the popup. Allow popups for this site, then press Test Connection again."
                </p>
            </Show>
            <Show when=move || waiting.get()>
                <p role="status" class="mt-3 text-sm text-slate-600">
                    "Waiting for your identity provider… Finish signing in in the popup."
                </p>
                <p class="mt-1 text-sm text-slate-600">
                    "If the popup shows an error page from your identity provider (for example, that the redirect URI does not match), the fix is on that side: compare its application settings with Service provider details above."
                </p>
            </Show>
            <Show when=move || abandoned.get()>
                <p role="alert" data-testid="test-abandoned" class="mt-3 text-sm text-amber-900">
                    "The test window closed before your identity provider sent Latchkey a response, so there is no result. If it showed an error (for example that the redirect URI or the ACS URL does not match), correct the application at your identity provider using the Service provider details on this page, then press Test Connection again."
                </p>
            </Show>
            {move || result.get().map(|html| view! { <div inner_html=html></div> })}
        </section>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
type Popup = web_sys::Window;
#[cfg(not(feature = "hydrate"))]
type Popup = ();

/// Opens the test popup; `None` when the browser blocked it.
fn open_popup(connection_id: &str) -> Option<Popup> {
    #[cfg(feature = "hydrate")]
    {
        let url = format!("/sso/test/{connection_id}");
        window()
            .open_with_url_and_target_and_features(
                &url,
                "latchkey-test",
                "popup,width=560,height=720",
            )
            .ok()
            .flatten()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = connection_id;
        None
    }
}

/// Stops waiting when the popup is closed without a result: the identity
/// provider showed its own error page (a Redirect URI it does not know, say)
/// and never sent the browser back. The popup must look closed twice in a row,
/// so a result posted just before our own page closes it still wins.
fn notice_when_closed(popup: Popup, waiting: RwSignal<bool>, abandoned: RwSignal<bool>) {
    #[cfg(feature = "hydrate")]
    {
        use std::cell::Cell;
        use std::rc::Rc;
        let interval = Rc::new(Cell::new(None::<IntervalHandle>));
        let closed_checks = Cell::new(0u8);
        let stop = interval.clone();
        let check = move || {
            if !waiting.get_untracked() {
                if let Some(handle) = stop.take() {
                    handle.clear();
                }
                return;
            }
            if popup.closed().unwrap_or(true) {
                closed_checks.set(closed_checks.get() + 1);
            }
            if closed_checks.get() >= 2 {
                waiting.set(false);
                abandoned.set(true);
            }
        };
        if let Ok(handle) = set_interval_with_handle(check, std::time::Duration::from_millis(400)) {
            interval.set(Some(handle));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (popup, waiting, abandoned);
    }
}

/// Takes results only from our own origin and only for this connection.
fn listen_for_results(
    connection_id: String,
    event_id: RwSignal<Option<String>>,
    waiting: RwSignal<bool>,
    events_version: RwSignal<u32>,
) {
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::message, move |ev| {
            let ours = window().location().origin().ok();
            if ours.as_deref() != Some(ev.origin().as_str()) {
                return;
            }
            let Some(message) = ev.data().as_string() else {
                return;
            };
            let Some((connection, event)) = message
                .strip_prefix(RESULT_PREFIX)
                .and_then(|rest| rest.split_once(':'))
            else {
                return;
            };
            if connection == connection_id {
                waiting.set(false);
                event_id.set(Some(event.to_string()));
                events_version.update(|v| *v += 1);
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (
            connection_id,
            event_id,
            waiting,
            events_version,
            RESULT_PREFIX,
        );
    }
}

/// Recent sign-ins and tests on this connection, newest first.
#[component]
pub fn EventLog(
    connection_id: String,
    event_log: String,
    events_version: RwSignal<u32>,
) -> impl IntoView {
    // The page's own load brings the first list; a finished test or Refresh
    // reads it again from the browser (never during hydration). Both are
    // rendered by the server (`event_html`).
    let events = RwSignal::new(Ok::<_, crate::error::AppError>(event_log));
    Effect::watch(
        move || events_version.get(),
        move |_, _, _| {
            let id = connection_id.clone();
            leptos::task::spawn_local(async move { events.set(get_event_log(id).await) });
        },
        false,
    );
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="events-heading">
            <div class="flex items-center justify-between gap-2">
                <h2 id="events-heading" class="font-semibold">"Sign-in events"</h2>
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| events_version.update(|v| *v += 1)>
                    "Refresh"
                </button>
            </div>
            {move || match events.get() {
                Ok(html) => view! { <div inner_html=html></div> }.into_any(),
                Err(error) => view! { <p class="mt-3 text-sm text-red-700">{error.to_string()}</p> }.into_any(),
            }}
        </section>
    }
    .into_any()
}
