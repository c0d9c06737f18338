//! Connection Health: the setup doctor's checks, computed by `shared` exactly as
//! the server computes them.

use crate::components::fields::{now_unix, StatusBadge, SECONDARY_BUTTON};
use leptos::prelude::*;
use shared::connection::{connection_checks, ConnectionDetail};
use shared::doctor::{ready_to_test, summary_label};

#[component]
pub fn ConnectionHealth(detail: ConnectionDetail) -> impl IntoView {
    let checks = connection_checks(detail.saml.as_ref(), detail.oidc.as_ref(), None, now_unix());
    let ready = ready_to_test(&checks);
    let label = summary_label(&checks);
    let show_details = RwSignal::new(false);
    view! {
        <aside class="h-fit rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="health-heading">
            <div class="flex items-center justify-between gap-2">
                <h2 id="health-heading" class="font-semibold">"Connection Health"</h2>
                <button
                    type="button"
                    class=SECONDARY_BUTTON
                    aria-expanded=move || show_details.get().to_string()
                    on:click=move |_| show_details.update(|v| *v = !*v)
                >
                    {move || if show_details.get() { "Hide details" } else { "Show details" }}
                </button>
            </div>
            <p
                data-testid="health-summary"
                class=if ready {
                    "mt-3 rounded-md bg-emerald-50 px-3 py-2 text-sm font-medium text-emerald-800"
                } else {
                    "mt-3 rounded-md bg-amber-50 px-3 py-2 text-sm font-medium text-amber-900"
                }
            >
                {label}
            </p>
            <ul class="mt-4 space-y-3" aria-label="Setup checks">
                {checks
                    .into_iter()
                    .map(|check| {
                        let detail = check.detail.clone();
                        view! {
                            <li data-check=check.key data-status=check.status.key()>
                                <div class="flex items-center justify-between gap-2">
                                    <span class="text-sm font-medium">{check.label.clone()}</span>
                                    <StatusBadge status=check.status/>
                                </div>
                                <p class="mt-0.5 text-xs text-slate-600 wrap-anywhere">{check.message.clone()}</p>
                                {detail.map(|value| view! {
                                    <pre
                                        class="mt-1 overflow-x-auto whitespace-pre-wrap break-all rounded bg-slate-50 p-2 text-xs text-slate-700"
                                        class:hidden=move || !show_details.get()
                                    >
                                        {value}
                                    </pre>
                                })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </aside>
    }
}
