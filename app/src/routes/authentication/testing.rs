//! Test Connection and the event log. The test runs in a popup that goes to
//! the identity provider and back to our ACS; the ACS page hands the result's
//! ID to this page by `postMessage` (our origin only), and the result is read
//! through a server function and shown inline.

use crate::components::fields::{PRIMARY_BUTTON, SECONDARY_BUTTON};
use crate::components::request_id::RequestId;
use crate::functions::sso::{get_sso_event, get_sso_events};
use leptos::prelude::*;
use shared::sso_event::{SsoEvent, SsoEventKind};
use shared::time::format_utc;

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
    // Filled from the browser when a test reports its event (never on the server).
    let result = RwSignal::new(None::<SsoEvent>);
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
                    let event = get_sso_event(connection_id, event_id).await.ok();
                    if event.as_ref().is_some_and(|e| e.success) {
                        passed.set(true);
                    }
                    result.set(event);
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
            {move || result.get().map(|event| view! { <TestResult event/> })}
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

/// A test's outcome: who signed in and every attribute, or what went wrong,
/// what it means, how to fix it, and expected beside received.
#[component]
pub fn TestResult(event: SsoEvent) -> impl IntoView {
    let attributes =
        (!event.attributes.is_empty()).then(|| view! { <Attributes event=event.clone()/> });
    match event.diagnosis.clone() {
        None => view! {
            <div data-testid="test-result" data-outcome="success" class="mt-4 rounded-lg border border-emerald-200 bg-emerald-50 p-4">
                <p class="font-semibold text-emerald-900">"Test passed"</p>
                <p class="mt-1 text-sm text-emerald-900">
                    "Signed in as " <strong data-testid="test-email">{event.email.clone()}</strong>
                    {person_name(&event).map(|n| format!(" ({n})"))}
                    ". Members can sign in through this connection."
                </p>
                <p class="mt-1 text-xs text-emerald-800">"Subject (NameID / sub): " <code>{event.subject.clone()}</code></p>
                <RequestId id=event.request_id.clone()/>
                {attributes}
            </div>
        }
        .into_any(),
        Some(diagnosis) => view! {
            <div data-testid="test-result" data-outcome="failure" data-code=diagnosis.code.code() class="mt-4 rounded-lg border border-red-200 bg-red-50 p-4">
                <p class="font-semibold text-red-900">{diagnosis.title()}</p>
                <p class="mt-1 font-mono text-xs text-red-800">{diagnosis.code.code()}</p>
                <dl class="mt-3 space-y-2 text-sm">
                    <div>
                        <dt class="font-medium text-slate-900">"What it means"</dt>
                        <dd class="text-slate-700">{diagnosis.meaning()}</dd>
                    </div>
                    <div>
                        <dt class="font-medium text-slate-900">"How to fix it"</dt>
                        <dd class="text-slate-700">{diagnosis.fix()}</dd>
                    </div>
                </dl>
                {(diagnosis.expected.is_some() || diagnosis.received.is_some()).then(|| view! {
                    <table class="mt-3 w-full table-fixed text-left text-sm" aria-label="Expected and received">
                        <thead>
                            <tr class="text-xs uppercase tracking-wide text-slate-600">
                                <th class="w-1/2 pb-1">"Expected"</th>
                                <th class="w-1/2 pb-1">"Received"</th>
                            </tr>
                        </thead>
                        <tbody>
                            <tr class="align-top">
                                <td data-testid="expected" class="wrap-anywhere pr-3 font-mono text-xs">{diagnosis.expected.clone()}</td>
                                <td data-testid="received" class="wrap-anywhere font-mono text-xs">{diagnosis.received.clone()}</td>
                            </tr>
                        </tbody>
                    </table>
                })}
                {diagnosis.detail.clone().map(|d| view! { <p class="mt-2 text-sm text-slate-700">{d}</p> })}
                <p class="mt-2 text-xs text-slate-600">"Reference " {event.reference.clone()}</p>
                <RequestId id=event.request_id.clone()/>
                {attributes}
            </div>
        }
        .into_any(),
    }
}

fn person_name(event: &SsoEvent) -> Option<String> {
    let name = format!("{} {}", event.first_name, event.last_name)
        .trim()
        .to_string();
    (!name.is_empty()).then_some(name)
}

#[component]
fn Attributes(event: SsoEvent) -> impl IntoView {
    view! {
        <table class="mt-3 w-full text-left text-sm" aria-label="Attributes received">
            <caption class="pb-1 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                "Attributes received"
            </caption>
            <tbody>
                {event
                    .attributes
                    .into_iter()
                    .map(|a| view! {
                        <tr class="border-t border-slate-200 align-top">
                            <th scope="row" class="break-all py-1 pr-3 font-mono text-xs font-normal text-slate-600">{a.name}</th>
                            <td class="break-all py-1 font-mono text-xs">{a.values.join(", ")}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Recent sign-ins and tests on this connection, newest first.
#[component]
pub fn EventLog(
    connection_id: String,
    events: Vec<SsoEvent>,
    events_version: RwSignal<u32>,
) -> impl IntoView {
    // The page's own load brings the first list; a finished test or Refresh
    // reads it again from the browser (never during hydration).
    let events = RwSignal::new(Ok::<_, crate::error::AppError>(events));
    Effect::watch(
        move || events_version.get(),
        move |_, _, _| {
            let id = connection_id.clone();
            leptos::task::spawn_local(async move { events.set(get_sso_events(id).await) });
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
                        Ok(list) if list.is_empty() => view! {
                            <p class="mt-3 text-sm text-slate-600">"No sign-ins or tests yet. Run Test Connection to see the first one here."</p>
                        }
                        .into_any(),
                        Ok(list) => view! { <EventTable list/> }.into_any(),
                        Err(error) => view! { <p class="mt-3 text-sm text-red-700">{error.to_string()}</p> }.into_any(),
            }}
        </section>
    }
    .into_any()
}

#[component]
fn EventTable(list: Vec<SsoEvent>) -> impl IntoView {
    view! {
        <ul class="mt-3 divide-y divide-slate-200" aria-label="Sign-in events">
            {list
                .into_iter()
                .map(|event| {
                    let outcome = match &event.diagnosis {
                        None => "Success".to_string(),
                        Some(d) => d.code.code().to_string(),
                    };
                    let who = if event.email.is_empty() { event.subject.clone() } else { event.email.clone() };
                    view! {
                        <li class="py-2" data-kind=event.kind.key() data-outcome=if event.success { "success" } else { "failure" }>
                            <details>
                                <summary class="flex cursor-pointer flex-wrap items-center gap-x-3 gap-y-1 text-sm">
                                    <span class="font-mono text-xs text-slate-500">{format_utc(event.at)}</span>
                                    <span class="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{event.kind.label()}</span>
                                    <span class=if event.success { "font-medium text-emerald-700" } else { "font-mono text-xs font-medium text-red-700" }>
                                        {outcome}
                                    </span>
                                    <span class="text-slate-700">{who}</span>
                                    <span class="ml-auto font-mono text-xs text-slate-500">{event.reference.clone()}</span>
                                </summary>
                                <EventDetail event=event.clone()/>
                            </details>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

#[component]
fn EventDetail(event: SsoEvent) -> impl IntoView {
    if event.kind == SsoEventKind::Test || event.diagnosis.is_some() {
        view! { <TestResult event/> }.into_any()
    } else {
        view! {
            <div class="mt-2 text-sm">
                <p>"Signed in " {event.email.clone()} " · subject " <code>{event.subject.clone()}</code></p>
                <RequestId id=event.request_id.clone()/>
                <Attributes event/>
            </div>
        }
        .into_any()
    }
}
