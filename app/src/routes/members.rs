//! Settings > Members: who is in the organization, where each account came
//! from, when it last signed in; and, for accounts the IdP does not manage,
//! deactivate / reactivate / end sessions / the admin role (`?member=<id>`).

use crate::components::fields::{ErrorBanner, Fact, INPUT_CLASS, SECONDARY_BUTTON};
use crate::components::pager::Pager;
use crate::components::stacked_table as stacked;
use crate::error::AppError;
use crate::functions::members::{change_member, get_member, list_members};
use crate::page_data::page_resource;
use crate::routes::audit::AuditTable;
use crate::routes::settings::AccessError;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use shared::members::{
    label, status_label, GroupSummary, MemberAction, MemberDetail, MemberQuery, MemberRow,
    MembersPage, MEMBERS_PAGE_SIZE,
};
use shared::time::{format_utc, format_utc_minutes};

/// A row's buttons: smaller, so a row stays one line high on a desktop.
const COMPACT_BUTTON: &str = "whitespace-nowrap rounded-md border border-slate-300 bg-white px-2.5 py-1 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-50";

#[component]
pub fn MembersSettings() -> impl IntoView {
    let query = use_query_map();
    let selected = Memo::new(move |_| query.read().get("member"));
    view! {
        {move || match selected.get() {
            Some(id) => view! { <MemberPage id/> }.into_any(),
            None => view! { <MemberList/> }.into_any(),
        }}
    }
}

/// A change by hand, and what the page says about it afterwards.
#[derive(Clone, Copy)]
struct Changes {
    action: Action<(String, MemberAction), Result<MemberDetail, AppError>>,
    /// The last action dispatched (the action's own input clears once it resolves).
    last: RwSignal<Option<MemberAction>>,
}

impl Changes {
    fn new() -> Self {
        Changes {
            action: Action::new(|(id, action): &(String, MemberAction)| {
                change_member(id.clone(), *action)
            }),
            last: RwSignal::new(None),
        }
    }

    fn run(self, id: String, action: MemberAction) {
        self.last.set(Some(action));
        self.action.dispatch((id, action));
    }

    /// Bumps after each change, so lists and details read again.
    fn version(self) -> usize {
        self.action.version().get()
    }

    fn done(self) -> Option<String> {
        match (self.action.value().get(), self.last.get()) {
            (Some(Ok(detail)), Some(action)) => Some(action.done(detail.member.display_name())),
            _ => None,
        }
    }

    fn error(self) -> Signal<Option<AppError>> {
        let action = self.action;
        Signal::derive(move || action.value().get().and_then(Result::err))
    }
}

#[component]
fn MemberList() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let group = RwSignal::new(None::<String>);
    let page = RwSignal::new(0u64);
    let changes = Changes::new();
    let list = page_resource(
        move || {
            let query = MemberQuery {
                search: search.get(),
                group: group.get(),
                page: page.get(),
            };
            (query, changes.version())
        },
        |(query, _)| list_members(query),
    );
    view! {
        <h1 class="text-2xl font-semibold">"Members"</h1>
        <p class="mt-1 text-slate-600">
            "Everyone with an account in your organization: how they got it, when they last signed in, and what your identity provider put them in."
        </p>
        <div class="mt-4 max-w-md">
            <label for="member-search" class="block text-sm font-medium text-slate-800">{label::SEARCH}</label>
            <input
                id="member-search"
                type="search"
                class=INPUT_CLASS
                placeholder="Name or email"
                on:input=move |ev| {
                    search.set(event_target_value(&ev));
                    page.set(0);
                }
            />
        </div>
        <ChangeStatus changes/>
        <Transition fallback=|| view! { <p class="mt-6 text-slate-500">"Loading members…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(result) => view! {
                        <ScimNote enabled=result.scim_enabled/>
                        <Groups groups=result.groups.clone() selected=group page/>
                        <MemberTable result changes search page/>
                    }
                    .into_any(),
                    Err(error) => view! { <AccessError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Says what the last change did, or why it was refused.
#[component]
fn ChangeStatus(changes: Changes) -> impl IntoView {
    view! {
        <div class="mt-4">
            <ErrorBanner error=changes.error()/>
            <p role="status" class="text-sm font-medium text-emerald-800">
                {move || changes.done()}
            </p>
        </div>
    }
}

#[component]
fn ScimNote(enabled: bool) -> impl IntoView {
    enabled.then(|| view! {
        <p class="mt-4 max-w-3xl rounded-md border border-sky-200 bg-sky-50 px-3 py-2 text-sm text-sky-900">
            "SCIM provisioning is on. Your identity provider manages the members it provisioned (source: SCIM): change them there, and the change reaches Latchkey at its next sync. You can still end their sessions here."
        </p>
    })
}

/// The IdP's groups; choosing one lists its members.
#[component]
fn Groups(
    groups: Vec<GroupSummary>,
    selected: RwSignal<Option<String>>,
    page: RwSignal<u64>,
) -> impl IntoView {
    if groups.is_empty() {
        return ().into_any();
    }
    let chip = "rounded-full border px-3 py-1 text-sm aria-pressed:border-indigo-600 aria-pressed:bg-indigo-50 aria-pressed:text-indigo-800 border-slate-300 bg-white text-slate-700 hover:bg-slate-50";
    let choose = move |id: Option<String>| {
        selected.set(id);
        page.set(0);
    };
    view! {
        <section class="mt-6" aria-labelledby="groups-heading">
            <h2 id="groups-heading" class="text-sm font-semibold text-slate-800">"Groups from your identity provider"</h2>
            <div class="mt-2 flex flex-wrap gap-2">
                <button
                    type="button"
                    class=chip
                    aria-pressed=move || selected.get().is_none().to_string()
                    on:click=move |_| choose(None)
                >
                    "Everyone"
                </button>
                {groups
                    .into_iter()
                    .map(|g| {
                        let id = g.id.clone();
                        let pressed = id.clone();
                        view! {
                            <button
                                type="button"
                                class=chip
                                aria-pressed=move || (selected.get().as_deref() == Some(pressed.as_str())).to_string()
                                on:click=move |_| choose(Some(id.clone()))
                            >
                                {format!("{} · {}", g.name, count(g.member_count, "member"))}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
    .into_any()
}

fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[component]
fn MemberTable(
    result: MembersPage,
    changes: Changes,
    search: RwSignal<String>,
    page: RwSignal<u64>,
) -> impl IntoView {
    let first = result.page * MEMBERS_PAGE_SIZE + 1;
    let last = result.page * MEMBERS_PAGE_SIZE + result.rows.len() as u64;
    let within = result
        .group
        .as_ref()
        .map(|g| format!(" in {}", g.name))
        .unwrap_or_default();
    if result.rows.is_empty() {
        let text = match search.get_untracked().trim() {
            "" => format!("No members{within} yet."),
            term => format!("No members{within} match “{term}”."),
        };
        return view! { <p class="mt-6 text-slate-600">{text}</p> }.into_any();
    }
    let (has_next, current) = (result.has_next, result.page);
    // Without SCIM groups the column would only hold dashes.
    let show_groups = !result.groups.is_empty();
    view! {
        <p class="mt-6 text-sm text-slate-600" data-testid="member-count">
            {format!("Showing {first}–{last} of {}{within}", count(result.total, "member"))}
        </p>
        <table class=format!("mt-2 {}", stacked::TABLE) aria-label="Members">
            <thead class=stacked::HEAD>
                <tr class="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
                    <th class="py-2 pr-3">"Member"</th>
                    <th class="py-2 pr-3">"Role"</th>
                    <th class="py-2 pr-3">"Status"</th>
                    <th class="py-2 pr-3">"Source"</th>
                    <th class="py-2 pr-3">"Last sign-in"</th>
                    {show_groups.then(|| view! { <th class="py-2 pr-3">"Groups"</th> })}
                    <th class="py-2"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody class=stacked::BODY>
                {result
                    .rows
                    .into_iter()
                    .map(|row| view! { <MemberListRow row changes show_groups/> })
                    .collect_view()}
            </tbody>
        </table>
        <Pager page current has_next back="Previous" forward="Next"/>
    }
    .into_any()
}

#[component]
fn MemberListRow(row: MemberRow, changes: Changes, show_groups: bool) -> impl IntoView {
    let cell = |extra: &str| format!("{} {extra}", stacked::CELL);
    let href = format!("/settings/members?member={}", row.id);
    let display = row.display_name().to_string();
    // The list offers the everyday actions; the role is changed on the member's page.
    let actions: Vec<MemberAction> = row
        .allowed
        .iter()
        .copied()
        .filter(|a| !matches!(a, MemberAction::MakeAdmin | MemberAction::RemoveAdmin))
        .collect();
    view! {
        <tr class=stacked::ROW data-member=row.email.clone()>
            <td data-label="Member" class=cell("")>
                <A href=href attr:class="font-medium text-indigo-700 hover:underline">{display}</A>
                <span class="block break-words text-slate-600 md:text-xs">{row.email.clone()}</span>
            </td>
            <td data-label="Role" class=cell("")>{row.role.label()}</td>
            <td data-label="Status" class=cell("")><MemberStatus active=row.active/></td>
            <td data-label="Source" class=cell("")>{row.source.label()}</td>
            <td data-label="Last sign-in" class=cell("text-slate-600 md:text-xs")>{last_sign_in(&row)}</td>
            {show_groups.then(|| view! { <td data-label="Groups" class=cell("text-slate-600")>{groups_text(&row)}</td> })}
            <td data-label="Actions" class=cell("")>
                <ActionButtons id=row.id.clone() actions changes managed=row.managed_by_scim compact=true/>
            </td>
        </tr>
    }
}

fn last_sign_in(row: &MemberRow) -> String {
    row.last_sign_in
        .as_ref()
        .map(|s| format!("{} · {}", format_utc_minutes(s.at), s.method))
        .unwrap_or_else(|| "Never".into())
}

fn groups_text(row: &MemberRow) -> String {
    if row.groups.is_empty() {
        "—".into()
    } else {
        row.groups.join(", ")
    }
}

/// Status in words and colour (the words alone carry it).
#[component]
fn MemberStatus(active: bool) -> impl IntoView {
    let class = if active {
        "bg-emerald-50 text-emerald-700 ring-emerald-200"
    } else {
        "bg-slate-100 text-slate-700 ring-slate-300"
    };
    view! {
        <span
            data-testid="member-status"
            class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 {class}")
        >
            {status_label(active)}
        </span>
    }
}

#[component]
fn ActionButtons(
    id: String,
    actions: Vec<MemberAction>,
    changes: Changes,
    managed: bool,
    #[prop(optional)] explain: bool,
    #[prop(optional)] compact: bool,
) -> impl IntoView {
    let pending = changes.action.pending();
    let button = if compact {
        COMPACT_BUTTON
    } else {
        SECONDARY_BUTTON
    };
    view! {
        <div class=if compact { "flex flex-wrap items-center gap-2 md:flex-nowrap" } else { "grid gap-4 sm:grid-cols-2" }>
            {actions
                .into_iter()
                .map(|action| {
                    let id = id.clone();
                    let run = move |_| changes.run(id.clone(), action);
                    view! {
                        <div>
                            <button type="button" class=button disabled=move || pending.get() on:click=run>
                                {action.label()}
                            </button>
                            {explain.then(|| view! { <p class="mt-1 text-xs text-slate-600">{action.consequence()}</p> })}
                        </div>
                    }
                })
                .collect_view()}
            {(managed && !explain).then(|| view! { <span class="text-xs text-slate-600">"Managed by your IdP"</span> })}
        </div>
    }
}

#[component]
fn MemberPage(id: String) -> impl IntoView {
    let changes = Changes::new();
    let detail = page_resource(
        move || (id.clone(), changes.version()),
        |(id, _)| get_member(id),
    );
    view! {
        <A href="/settings/members" attr:class="text-sm font-medium text-indigo-700 hover:underline">"← All members"</A>
        <ChangeStatus changes/>
        <Transition fallback=|| view! { <p class="mt-6 text-slate-500">"Loading the member…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <MemberView detail changes/> }.into_any(),
                    Err(AppError::MemberNotFound) => view! {
                        <p role="alert" class="mt-6 text-red-700">{AppError::MemberNotFound.to_string()}</p>
                    }
                    .into_any(),
                    Err(error) => view! { <AccessError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn MemberView(detail: MemberDetail, changes: Changes) -> impl IntoView {
    let member = detail.member;
    let title = member.display_name().to_string();
    let sessions = match detail.live_sessions {
        0 => "Not signed in".to_string(),
        n => format!("Signed in on {}", count(n, "browser")),
    };
    view! {
        <div class="mt-3 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-semibold">{title}</h1>
            <MemberStatus active=member.active/>
        </div>
        <p class="mt-1 break-all text-slate-600">{member.email.clone()}</p>
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5" aria-label="Account">
            <dl class="grid gap-x-6 gap-y-1 text-sm sm:grid-cols-2">
                <Fact term="Role" value=member.role.label().to_string()/>
                <Fact term="Source" value=member.source.label().to_string()/>
                <Fact term="Last sign-in" value=last_sign_in(&member)/>
                <Fact term="Sessions" value=sessions/>
                <Fact term="Groups" value=groups_text(&member)/>
                <Fact term="Member since" value=format_utc(detail.created_at)/>
            </dl>
        </section>
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="member-actions">
            <h2 id="member-actions" class="font-semibold">"Actions"</h2>
            {member.managed_by_scim.then(|| view! {
                <p class="mt-1 text-sm text-slate-600">
                    "Your identity provider manages this member through SCIM: change their status, name or groups there. You can still sign them out here."
                </p>
            })}
            <div class="mt-3">
                <ActionButtons id=member.id.clone() actions=member.allowed.clone() changes managed=member.managed_by_scim explain=true/>
            </div>
        </section>
        <section class="mt-6" aria-labelledby="member-activity">
            <h2 id="member-activity" class="font-semibold">"Recent activity"</h2>
            <AuditTable rows=detail.recent_events/>
        </section>
    }
}
