//! Settings > Authentication: the organization's login URL, its SSO connections,
//! and the page of one connection (`?connection=<id>`).

mod connection;
mod create;
mod domains;
#[cfg(feature = "ssr")]
pub mod event_html;
mod health;
mod link_identity;
mod oidc_form;
mod saml_form;
mod sp_keys;
mod testing;

use crate::components::fields::{CopyValue, FieldMessage, StatusBadge};
use crate::components::use_announcer;
use crate::functions::connections::{get_authentication_overview, SetRequireSso};
use crate::page_data::page_resource;
use crate::routes::settings::AccessError;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use shared::connection::{ConnectionStatus, ConnectionSummary};

/// The query parameter that names the connection whose page is shown.
const CONNECTION_KEY: &str = "connection";

/// The address of one connection's page.
pub fn connection_href(id: &str) -> String {
    format!("/settings/authentication?{CONNECTION_KEY}={id}")
}

#[component]
pub fn AuthenticationSettings() -> impl IntoView {
    let query = use_query_map();
    let selected = Memo::new(move |_| query.read().get(CONNECTION_KEY));
    view! {
        <Suspense fallback=|| view! { <p class="mt-6 text-slate-500">"Loading…"</p> }>
            {move || {
                let selected = selected.get();
                Suspend::new(async move { part_view(selected).await })
            }}
        </Suspense>
    }
}

/// The overview and a connection's page are each their own WASM chunk: the
/// page of a connection never downloads the overview's forms, nor the other way.
async fn part_view(connection: Option<String>) -> AnyView {
    match connection {
        Some(id) => connection_part(id).await,
        None => overview_part().await,
    }
}

#[leptos::lazy]
fn connection_part(id: String) -> AnyView {
    view! { <connection::ConnectionPage id/> }.into_any()
}

#[leptos::lazy]
fn overview_part() -> AnyView {
    view! { <Overview/> }.into_any()
}

/// Loads the chunk of the part `url` shows. The route's preload runs it, and
/// hydration waits for the preload: a part whose code was still on its way
/// when hydration reached it could not take over the server's HTML.
#[cfg(feature = "hydrate")]
pub async fn preload_part(url: &leptos_router::location::Url) {
    if url.search_params().get(CONNECTION_KEY).is_some() {
        __preload_connection_part().await;
    } else {
        __preload_overview_part().await;
    }
}

#[component]
fn Overview() -> impl IntoView {
    let overview = page_resource(|| (), |_| get_authentication_overview());
    view! {
        <h1 class="text-2xl font-semibold">"Authentication"</h1>
        <p class="mt-1 text-slate-600">
            "Let members sign in with their company account through your identity provider."
        </p>
        <Suspense fallback=|| view! { <p class="mt-6 text-slate-500">"Loading connections…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! {
                        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5">
                            <h2 class="font-semibold">"Organization login URL"</h2>
                            <p class="mt-1 text-sm text-slate-600">
                                "Share this address with your team: it sends members of "
                                {overview.org_name.clone()}
                                " straight to your identity provider."
                            </p>
                            <div class="mt-3 max-w-2xl">
                                <CopyValue id="login-url" label="Login URL" value=overview.login_url.clone()/>
                            </div>
                        </section>
                        <domains::Domains domains=overview.domains.clone()/>
                        <RequireSso on=overview.require_sso has_tested=overview.has_tested_connection/>
                        <ConnectionList connections=overview.connections.clone()/>
                        <create::CreateConnection/>
                    }
                    .into_any(),
                    Err(error) => view! { <AccessError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConnectionList(connections: Vec<ConnectionSummary>) -> impl IntoView {
    if connections.is_empty() {
        return view! {
            <section class="mt-6 rounded-xl border border-dashed border-slate-300 bg-white p-6">
                <h2 class="text-lg font-semibold">"No SSO connections yet"</h2>
                <p class="mt-2 max-w-2xl text-slate-600">
                    "Create a connection below. Then copy Latchkey's service-provider details into your identity provider, paste your identity provider's details back here, and check Connection Health."
                </p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="mt-6" aria-label="SSO connections">
            <h2 class="text-lg font-semibold">"SSO connections"</h2>
            <ul class="mt-3 divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white">
                {connections
                    .into_iter()
                    .map(|c| {
                        let href = connection_href(&c.id);
                        view! {
                            <li class="flex items-center justify-between gap-4 px-5 py-4">
                                <div>
                                    <A href=href attr:class="font-medium text-indigo-700 hover:underline">
                                        {c.display_name.clone()}
                                    </A>
                                    <p class="text-sm text-slate-500">
                                        {c.protocol.label()} " · " {c.provider.label()}
                                    </p>
                                </div>
                                <div class="flex items-center gap-2">
                                    <ConnectionStatusBadge status=c.status/>
                                    <StatusBadge status=c.health/>
                                </div>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

/// "Require SSO": refused by the server until a connection has passed Test
/// Connection; admins keep password sign-in as break-glass access.
#[component]
fn RequireSso(on: bool, has_tested: bool) -> impl IntoView {
    let action = ServerAction::<SetRequireSso>::new();
    let current = RwSignal::new(on);
    let announcer = use_announcer();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(overview)) => {
            current.set(overview.require_sso);
            announcer.say(if overview.require_sso {
                "Require SSO is on: members sign in through SSO only."
            } else {
                "Require SSO is off: members may use passwords again."
            });
        }
        Some(Err(_)) => current.set(current.get_untracked()),
        None => {}
    });
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="require-sso-heading">
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div class="max-w-2xl">
                    <h2 id="require-sso-heading" class="font-semibold">"Require single sign-on"</h2>
                    <p class="mt-1 text-sm text-slate-600">
                        "Members must sign in through your identity provider; their passwords stop working. Integrations Admins keep password sign-in for emergencies (break-glass access), and every such sign-in is marked in the audit log."
                    </p>
                </div>
                <label for="require-sso" class="flex items-center gap-2 text-sm font-medium text-slate-800">
                    <input
                        id="require-sso"
                        type="checkbox"
                        role="switch"
                        class="h-5 w-5 rounded border-slate-300"
                        aria-describedby="require-sso-error"
                        prop:checked=move || current.get()
                        disabled=move || action.pending().get()
                        on:change=move |ev| {
                            action.dispatch(SetRequireSso { on: event_target_checked(&ev) });
                        }
                    />
                    "Require SSO"
                </label>
            </div>
            <p data-testid="require-sso-state" class="mt-3 text-sm text-slate-700">
                {move || if current.get() {
                    "On: members sign in through SSO only."
                } else if has_tested {
                    "Off: members may still use passwords."
                } else {
                    "Off. It can be turned on once a connection passes Test Connection."
                }}
            </p>
            <FieldMessage id="require-sso-error" error field="require_sso"/>
        </section>
    }
}

/// A connection's status as a badge: the word carries the meaning, the colour
/// only repeats it.
#[component]
pub fn ConnectionStatusBadge(status: ConnectionStatus) -> impl IntoView {
    let colours = match status {
        ConnectionStatus::Active => "bg-emerald-50 text-emerald-700",
        ConnectionStatus::ReadyToTest => "bg-indigo-50 text-indigo-700",
        ConnectionStatus::SetupIncomplete => "bg-amber-50 text-amber-800",
        ConnectionStatus::Inactive => "bg-slate-100 text-slate-600",
    };
    view! {
        <span
            class=format!("rounded-full px-2 py-0.5 text-xs font-medium {colours}")
            data-testid="connection-status"
        >
            {status.label()}
        </span>
    }
}
