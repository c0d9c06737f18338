//! Settings > Audit log: sign-ins (password, SAML, break-glass), failures with
//! their diagnosis code, connection and SCIM changes, token events.

use crate::components::fields::INPUT_CLASS;
use crate::components::pager::Pager;
use crate::components::request_id::RequestId;
use crate::components::stacked_table as stacked;
use crate::functions::audit::get_audit_log;
use crate::page_data::page_resource;
use crate::routes::settings::AccessError;
use leptos::prelude::*;
use shared::audit::{AuditKind, AuditQuery, AuditRow};
use shared::time::format_utc;

#[component]
pub fn AuditLog() -> impl IntoView {
    let kind = RwSignal::new(None::<AuditKind>);
    let user = RwSignal::new(String::new());
    let page = RwSignal::new(0u64);
    let log = page_resource(
        move || AuditQuery {
            kind: kind.get(),
            user: user.get(),
            page: page.get(),
        },
        get_audit_log,
    );
    view! {
        <h1 class="text-2xl font-semibold">"Audit log"</h1>
        <p class="mt-1 text-slate-600">
            "Every sign-in, failed sign-in and change to your organization's sign-in and provisioning settings, newest first."
        </p>
        <div class="mt-4 flex flex-wrap items-end gap-4">
            <div>
                <label for="audit-kind" class="block text-sm font-medium text-slate-800">"Kind"</label>
                <select
                    id="audit-kind"
                    class=INPUT_CLASS
                    on:change=move |ev| {
                        kind.set(AuditKind::from_key(&event_target_value(&ev)));
                        page.set(0);
                    }
                >
                    <option value="">"Everything"</option>
                    {AuditKind::ALL
                        .into_iter()
                        .map(|k| view! { <option value=k.key()>{k.label()}</option> })
                        .collect_view()}
                </select>
            </div>
            <div>
                <label for="audit-user" class="block text-sm font-medium text-slate-800">"User"</label>
                <input
                    id="audit-user"
                    type="search"
                    class=INPUT_CLASS
                    placeholder="name@company.com"
                    on:change=move |ev| {
                        user.set(event_target_value(&ev));
                        page.set(0);
                    }
                />
            </div>
        </div>
        <Transition fallback=|| view! { <p class="mt-6 text-slate-500">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Ok(result) => {
                        let has_next = result.has_next;
                        let current = result.page;
                        view! {
                            <AuditTable rows=result.rows/>
                            <Pager page current has_next back="Newer" forward="Older"/>
                        }
                        .into_any()
                    }
                    Err(error) => view! { <AccessError error/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
pub fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="mt-6 text-slate-600">"Nothing matches these filters."</p> }
            .into_any();
    }
    view! {
        <table class=format!("mt-6 {}", stacked::TABLE) aria-label="Audit events">
            <thead class=stacked::HEAD>
                <tr class="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
                    <th class="py-2 pr-3">"Time"</th>
                    <th class="py-2 pr-3">"Who"</th>
                    <th class="py-2 pr-3">"What"</th>
                    <th class="py-2 pr-3">"Result"</th>
                    <th class="py-2">"Details"</th>
                </tr>
            </thead>
            <tbody class=stacked::BODY>
                {rows
                    .into_iter()
                    .map(|row| view! {
                        <tr class=stacked::ROW data-action=row.action.clone()>
                            <td data-label="Time" class=format!("{} whitespace-nowrap font-mono text-xs text-slate-500", stacked::CELL)>{format_utc(row.at)}</td>
                            <td data-label="Who" class=format!("{} break-all", stacked::CELL)>{row.actor.clone()}</td>
                            <td data-label="What" class=format!("{} font-mono text-xs", stacked::CELL)>{row.action.clone()}</td>
                            <td data-label="Result" class=format!("{} {}", stacked::CELL, if row.success { "text-emerald-700" } else { "text-red-700" })>
                                {if row.success { "Success" } else { "Failed" }}
                            </td>
                            <td data-label="Details" class=format!("{} break-all font-mono text-xs text-slate-600", stacked::CELL)>
                                {row
                                    .details
                                    .iter()
                                    .map(|(k, v)| format!("{k}: {v}"))
                                    .collect::<Vec<_>>()
                                    .join(" · ")}
                                <RequestId id=row.request_id.clone()/>
                            </td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
