//! One connection: service-provider details, the IdP form, Connection Health,
//! and activate / deactivate / delete.

use super::health::ConnectionHealth;
use super::link_identity::LinkIdentity;
use super::oidc_form::OidcForm;
use super::saml_form::SamlForm;
use super::sp_keys::ServiceProviderKeys;
use super::testing::{EventLog, TestConnection};
use super::ConnectionStatusBadge;
use crate::components::fields::{CopyValue, DANGER_BUTTON, SECONDARY_BUTTON};
use crate::functions::connections::{get_connection_page, DeleteConnection, SetConnectionActive};
use crate::page_data::page_resource;
use crate::routes::settings::AccessError;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use shared::connection::{ConnectionPageData, ConnectionStatus};

/// Shared by the parts of a connection page: reload after a change, and say what happened.
#[derive(Clone, Copy)]
pub struct Changes {
    /// Bumped after every successful change, to reload the saved state.
    pub version: RwSignal<u32>,
    /// What the last change did, shown until the next one ("Saved.").
    pub notice: RwSignal<Option<&'static str>>,
}

impl Changes {
    pub fn done(&self, notice: &'static str) {
        self.notice.set(Some(notice));
        self.version.update(|v| *v += 1);
    }
}

#[component]
pub fn ConnectionPage(id: String) -> impl IntoView {
    let changes = Changes {
        version: RwSignal::new(0u32),
        notice: RwSignal::new(None),
    };
    provide_context(changes);
    let version = changes.version;
    let detail = page_resource(
        move || (id.clone(), version.get()),
        |(id, _)| get_connection_page(id),
    );
    view! {
        <A href="/settings/authentication" attr:class="text-sm text-indigo-700 hover:underline">
            "← All connections"
        </A>
        // Always in the page, so screen readers announce each new notice.
        <p
            role="status"
            class=move || {
                if changes.notice.get().is_some() {
                    "mt-3 rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800"
                } else {
                    "text-sm text-emerald-800"
                }
            }
        >
            {move || changes.notice.get()}
        </p>
        <Suspense fallback=|| view! { <p class="mt-6 text-slate-500">"Loading the connection…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(data) => view! { <Connection data/> }.into_any(),
                    Err(error) => view! { <AccessError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Connection(data: ConnectionPageData) -> impl IntoView {
    let ConnectionPageData {
        detail,
        event_log,
        linked_subject,
    } = data;
    let summary = detail.summary.clone();
    let sp = detail.service_provider.clone();
    let events_version = RwSignal::new(0u32);
    // A test that passes here makes a connection ready to test Active at once.
    let test_passed = RwSignal::new(false);
    let saved_status = summary.status;
    let status = move || match (saved_status, test_passed.get()) {
        (ConnectionStatus::ReadyToTest, true) => ConnectionStatus::Active,
        (status, _) => status,
    };
    view! {
        <header class="mt-3 flex flex-wrap items-start justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold">{summary.display_name.clone()}</h1>
                <p class="mt-1 flex flex-wrap items-center gap-x-2 text-slate-600">
                    {summary.protocol.label()} " connection · " {summary.provider.label()}
                    {move || view! { <ConnectionStatusBadge status=status()/> }}
                </p>
                <p class="mt-1 text-sm text-slate-600" data-testid="connection-next-step">
                    {move || status().next_step()}
                </p>
            </div>
            <Lifecycle id=summary.id.clone() active=summary.active/>
        </header>
        <div class="mt-6 grid gap-6 xl:grid-cols-[1fr_22rem]">
            <div class="space-y-6">
                <section class="rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="sp-heading">
                    <h2 id="sp-heading" class="font-semibold">"Service provider details"</h2>
                    <p class="mt-1 text-sm text-slate-600">
                        "Copy these into your identity provider's application settings."
                    </p>
                    <div class="mt-4 space-y-4">
                        {sp.acs_url.clone().map(|v| view! { <CopyValue id="acs-url" label="ACS URL" value=v/> })}
                        {sp.entity_id.clone().map(|v| view! {
                            <CopyValue id="sp-entity-id" label="Audience URI / Entity ID" value=v/>
                        })}
                        {sp.redirect_uri.clone().map(|v| view! {
                            <CopyValue id="redirect-uri" label="Redirect URI" value=v/>
                        })}
                        {sp.slo_url.clone().map(|v| view! {
                            <CopyValue id="slo-url" label="SLO URL" value=v/>
                        })}
                        {sp.post_logout_redirect_uri.clone().map(|v| view! {
                            <CopyValue id="post-logout-redirect-uri" label="Post-logout redirect URI" value=v/>
                        })}
                        {sp.backchannel_logout_uri.clone().map(|v| view! {
                            <CopyValue id="backchannel-logout-uri" label="Back-channel logout URI" value=v/>
                        })}
                        {sp.metadata_url.clone().map(|v| view! {
                            <p class="text-sm text-slate-600">
                                "Your identity provider can also import "
                                <a href=v.clone() class="font-medium text-indigo-700 hover:underline" target="_blank" rel="noopener">
                                    "Latchkey's SAML metadata"
                                </a>
                                " from " <code class="break-all text-xs">{v.clone()}</code> "."
                            </p>
                        })}
                    </div>
                </section>
                {match (detail.saml.clone(), detail.oidc.clone()) {
                    (Some(saml), _) => {
                        let certificates = saml.sp_certificates.clone();
                        view! {
                            <SamlForm id=summary.id.clone() provider=summary.provider display_name=summary.display_name.clone() saml/>
                            <ServiceProviderKeys id=summary.id.clone() certificates/>
                        }
                        .into_any()
                    }
                    (None, Some(oidc)) => view! {
                        <OidcForm id=summary.id.clone() provider=summary.provider display_name=summary.display_name.clone() oidc/>
                    }
                    .into_any(),
                    (None, None) => ().into_any(),
                }}
                <EventLog connection_id=summary.id.clone() event_log events_version/>
            </div>
            <div class="space-y-6">
                <ConnectionHealth detail=detail.clone()/>
                <TestConnection connection_id=summary.id.clone() ready=summary.ready_to_test events_version passed=test_passed/>
                <LinkIdentity
                    connection_id=summary.id.clone()
                    usable=summary.active && summary.ready_to_test
                    linked=linked_subject
                />
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn Lifecycle(id: String, active: bool) -> impl IntoView {
    let changes = expect_context::<Changes>();
    let toggle = ServerAction::<SetConnectionActive>::new();
    let delete = ServerAction::<DeleteConnection>::new();
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(detail)) = toggle.value().get() {
            changes.done(if detail.summary.active {
                "Connection activated."
            } else {
                "Connection deactivated. Members cannot sign in through it until you activate it again."
            });
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/settings/authentication", Default::default());
        }
    });
    let toggle_id = id.clone();
    view! {
        <div class="flex flex-col items-end gap-2">
            <div class="flex gap-2">
                <button
                    type="button"
                    class=SECONDARY_BUTTON
                    on:click=move |_| {
                        toggle.dispatch(SetConnectionActive { id: toggle_id.clone(), active: !active });
                    }
                >
                    {if active { "Deactivate" } else { "Activate" }}
                </button>
                <button type="button" class=DANGER_BUTTON on:click=move |_| confirming.set(true)>
                    "Delete"
                </button>
            </div>
            <Show when=move || confirming.get()>
                <div role="alertdialog" aria-labelledby="delete-question" class="max-w-sm rounded-lg border border-red-200 bg-red-50 p-3 text-sm">
                    <p id="delete-question" class="text-red-900">
                        "Delete this connection? Members can no longer sign in through it, and your identity provider's settings for it stop working."
                    </p>
                    <div class="mt-2 flex justify-end gap-2">
                        <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirming.set(false)>
                            "Cancel"
                        </button>
                        <button
                            type="button"
                            class="rounded-md bg-red-600 px-3 py-2 text-sm font-medium text-white hover:bg-red-500"
                            on:click={
                                let id = id.clone();
                                move |_| {
                                    delete.dispatch(DeleteConnection { id: id.clone() });
                                }
                            }
                        >
                            "Delete connection"
                        </button>
                    </div>
                </div>
            </Show>
        </div>
    }
}
