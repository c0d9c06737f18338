//! Settings > User Provisioning: enable SCIM for an identity provider, copy the
//! base URL and the token (shown once), rotate or disable the token, and read the
//! recent SCIM requests.

use crate::components::fields::{
    CopyValue, ErrorBanner, Fact, FieldMessage, DANGER_BUTTON, INPUT_CLASS, PRIMARY_BUTTON,
    SECONDARY_BUTTON,
};
use crate::components::stacked_table as stacked;
use crate::components::use_announcer;
use crate::error::AppError;
use crate::functions::provisioning::{
    get_provisioning_overview, CancelScimRotation, CompleteScimRotation, DisableScim, EnableScim,
    RotateScimToken,
};
use crate::page_data::page_resource;
use crate::routes::settings::{AccessError, EmptyState};
use leptos::prelude::*;
use shared::catalogue::scim_providers;
use shared::provisioning::{
    field, name_or_default, validate_enable, EnableScimForm, ProvisioningOverview, RotationState,
    ScimConnectionView, ScimRequestView,
};
use shared::IdentityProvider;

#[component]
pub fn ProvisioningSettings() -> impl IntoView {
    let loaded = page_resource(|| (), |_| get_provisioning_overview());
    view! {
        <h1 class="text-2xl font-semibold">"User Provisioning"</h1>
        <p class="mt-1 text-slate-600">
            "Let your identity provider create, update and deactivate accounts automatically with SCIM 2.0."
        </p>
        <Suspense fallback=|| view! { <p class="mt-6 text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(overview) => view! { <Provisioning initial=overview/> }.into_any(),
                    Err(error) => view! { <AccessError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The page once loaded: every action answers with the new overview.
#[component]
fn Provisioning(initial: ProvisioningOverview) -> impl IntoView {
    let overview = RwSignal::new(initial);
    // The token from `Enable SCIM` or `Rotate Token`: shown until the page is left.
    let token = RwSignal::new(None::<String>);
    let enable = ServerAction::<EnableScim>::new();
    let rotate = ServerAction::<RotateScimToken>::new();
    let complete = ServerAction::<CompleteScimRotation>::new();
    let cancel = ServerAction::<CancelScimRotation>::new();
    let disable = ServerAction::<DisableScim>::new();
    let announcer = use_announcer();

    Effect::new(move |_| {
        if let Some(Ok(issued)) = enable.value().get() {
            overview.set(issued.overview);
            token.set(Some(issued.token));
            announcer.say("SCIM is on. Copy the Bearer Token below now: it is shown only once.");
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(issued)) = rotate.value().get() {
            overview.set(issued.overview);
            token.set(Some(issued.token));
            announcer.say("New Bearer Token issued; the old one works until you complete the rotation. Copy the new token now: it is shown only once.");
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(next)) = complete.value().get() {
            overview.set(next);
            token.set(None);
            announcer.say("Rotation complete: only the new token works now.");
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(next)) = cancel.value().get() {
            overview.set(next);
            token.set(None);
            announcer
                .say("Rotation cancelled: the new token no longer works; the old one still does.");
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(next)) = disable.value().get() {
            overview.set(next);
            token.set(None);
            announcer.say("SCIM is off: every token was revoked.");
        }
    });
    let card_error = Signal::derive(move || {
        [
            rotate.value().get().and_then(Result::err),
            complete.value().get().and_then(Result::err),
            cancel.value().get().and_then(Result::err),
            disable.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    });

    view! {
        {move || {
            let current = overview.get();
            let enabled = current.connection.as_ref().is_some_and(|c| c.enabled);
            let never_enabled = current.connection.is_none();
            view! {
                <Show when=move || never_enabled>
                    <EmptyState
                        heading="SCIM provisioning is off"
                        text="When you enable SCIM for Okta, Microsoft Entra ID, JumpCloud, OneLogin, CyberArk or any SCIM 2.0 client, you will:"
                        steps=&[
                            "Get a SCIM base URL and a bearer token to paste into your identity provider.",
                            "See new people get accounts, and leavers lose access, without doing it by hand.",
                            "Rotate the token without downtime, and see every request your identity provider makes.",
                        ]
                    />
                </Show>
                <Show when=move || !enabled>
                    <EnableForm action=enable/>
                </Show>
                {current.connection.clone().map(|connection| view! {
                    <ConnectionCard
                        connection
                        token
                        error=card_error
                        rotate
                        complete
                        cancel
                        disable
                    />
                })}
                <RequestLog requests=current.requests.clone()/>
            }
        }}
    }
}

#[component]
fn EnableForm(action: ServerAction<EnableScim>) -> impl IntoView {
    let provider = RwSignal::new(IdentityProvider::Okta);
    let name = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || {
        local_error
            .get()
            .or_else(|| action.value().get().and_then(Result::err))
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = EnableScimForm {
            provider: provider.get_untracked(),
            name: name.get_untracked(),
        };
        match validate_enable(&form).into_result() {
            Ok(()) => {
                local_error.set(None);
                action.dispatch(EnableScim { form });
            }
            Err(errors) => local_error.set(Some(errors.into())),
        }
    };
    view! {
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="enable-heading">
            <h2 id="enable-heading" class="text-lg font-semibold">"Set up SCIM provisioning"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Choose your identity provider. Latchkey then gives you a SCIM base URL and a bearer token to paste into its provisioning settings."
            </p>
            <form class="mt-4 space-y-4" on:submit=submit novalidate>
                <ErrorBanner error/>
                <div class="grid gap-4 sm:grid-cols-2">
                    <div>
                        <label for="scim-provider" class="block text-sm font-medium text-slate-800">
                            "Identity provider"
                        </label>
                        <select
                            id="scim-provider"
                            class=INPUT_CLASS
                            prop:value=move || provider.get().key()
                            on:change=move |ev| {
                                if let Some(p) = IdentityProvider::from_key(&event_target_value(&ev)) {
                                    provider.set(p);
                                }
                            }
                        >
                            {scim_providers()
                                .into_iter()
                                .map(|p| view! {
                                    <option value=p.key() selected=move || provider.get() == p>
                                        {p.scim_label()}
                                    </option>
                                })
                                .collect_view()}
                        </select>
                        <FieldMessage id="scim-provider-error" error field=field::PROVIDER/>
                    </div>
                    <div>
                        <label for="scim-name" class="block text-sm font-medium text-slate-800">
                            "Connection name"
                        </label>
                        <input
                            id="scim-name"
                            class=INPUT_CLASS
                            placeholder=move || name_or_default("", provider.get())
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                        />
                        <FieldMessage id="scim-name-error" error field=field::NAME/>
                    </div>
                </div>
                <button type="submit" class=PRIMARY_BUTTON disabled=move || action.pending().get()>
                    "Enable SCIM"
                </button>
            </form>
        </section>
    }
}

#[component]
fn ConnectionCard(
    connection: ScimConnectionView,
    token: RwSignal<Option<String>>,
    error: Signal<Option<AppError>>,
    rotate: ServerAction<RotateScimToken>,
    complete: ServerAction<CompleteScimRotation>,
    cancel: ServerAction<CancelScimRotation>,
    disable: ServerAction<DisableScim>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let rotating = matches!(connection.rotation, RotationState::InProgress { .. });
    let enabled = connection.enabled;
    let (status_class, status) = if enabled {
        ("bg-emerald-50 text-emerald-700 ring-emerald-200", "Enabled")
    } else {
        ("bg-slate-100 text-slate-600 ring-slate-200", "Disabled")
    };
    let rotation_text = match connection.rotation {
        RotationState::Idle => "One active token".to_string(),
        RotationState::InProgress { started_at } => format!(
            "Rotation in progress since {}: the old and the new token both work until you complete it",
            when(started_at)
        ),
    };
    view! {
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="scim-card-heading">
            <div class="flex items-center justify-between">
                <h2 id="scim-card-heading" class="text-lg font-semibold">{connection.name.clone()}</h2>
                <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 {status_class}")>
                    {status}
                </span>
            </div>
            <dl class="mt-3 grid gap-x-6 gap-y-1 text-sm sm:grid-cols-2">
                <Fact term="Identity provider" value=connection.provider.scim_label().to_string()/>
                <Fact term="Created" value=when(connection.created_at)/>
                <Fact
                    term="Last call from the IdP"
                    value=connection.last_called_at.map(when).unwrap_or_else(|| "Never".into())
                />
                <Fact
                    term="Token"
                    value=if enabled { rotation_text } else { "All tokens revoked".into() }
                />
            </dl>
            <div class="mt-4 space-y-4">
                <ErrorBanner error/>
                <Show when=move || enabled>
                    <CopyValue id="scim-base-url" label="SCIM Base URL" value=connection.base_url.clone()/>
                </Show>
                {move || token.get().map(|value| view! {
                    <div class="rounded-md border border-amber-300 bg-amber-50 p-3">
                        <p class="mb-2 text-sm font-medium text-amber-900">
                            "Copy this token now and paste it into your identity provider. It is shown only once; if you lose it, rotate the token."
                        </p>
                        <CopyValue id="scim-token" label="Bearer Token" value/>
                    </div>
                })}
                <Show when=move || enabled>
                    <div class="flex flex-wrap gap-2">
                        <Show when=move || !rotating>
                            <button type="button" class=SECONDARY_BUTTON
                                disabled=move || rotate.pending().get()
                                on:click=move |_| { rotate.dispatch(RotateScimToken {}); }>
                                "Rotate Token"
                            </button>
                        </Show>
                        <Show when=move || rotating>
                            <button type="button" class=PRIMARY_BUTTON
                                disabled=move || complete.pending().get()
                                on:click=move |_| { complete.dispatch(CompleteScimRotation {}); }>
                                "Complete Rotation"
                            </button>
                            <button type="button" class=SECONDARY_BUTTON
                                disabled=move || cancel.pending().get()
                                on:click=move |_| { cancel.dispatch(CancelScimRotation {}); }>
                                "Cancel Rotation"
                            </button>
                        </Show>
                        <Show when=move || !confirming.get()>
                            <button type="button" class=DANGER_BUTTON on:click=move |_| confirming.set(true)>
                                "Disable SCIM"
                            </button>
                        </Show>
                    </div>
                    <Show when=move || confirming.get()>
                        <div role="alertdialog" aria-labelledby="disable-title" class="rounded-md border border-red-200 bg-red-50 p-3">
                            <p id="disable-title" class="text-sm font-medium text-red-900">
                                "Disable SCIM? Every token stops working at once and your identity provider can no longer create, update or deactivate accounts. Existing users are not changed."
                            </p>
                            <div class="mt-2 flex gap-2">
                                <button type="button" class=DANGER_BUTTON
                                    disabled=move || disable.pending().get()
                                    on:click=move |_| { disable.dispatch(DisableScim {}); }>
                                    "Disable SCIM"
                                </button>
                                <button type="button" class=SECONDARY_BUTTON on:click=move |_| confirming.set(false)>
                                    "Keep SCIM on"
                                </button>
                            </div>
                        </div>
                    </Show>
                </Show>
            </div>
        </section>
    }
}

#[component]
fn RequestLog(requests: Vec<ScimRequestView>) -> impl IntoView {
    if requests.is_empty() {
        return view! {
            <section class="mt-8" aria-labelledby="log-heading">
                <h2 id="log-heading" class="text-lg font-semibold">"Recent SCIM requests"</h2>
                <p class="mt-1 text-sm text-slate-500">"No requests from your identity provider yet."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="mt-8" aria-labelledby="log-heading">
            <h2 id="log-heading" class="text-lg font-semibold">"Recent SCIM requests"</h2>
            <table class=format!("mt-2 {}", stacked::TABLE) aria-label="Recent SCIM requests">
                <thead class=format!("{} text-slate-500", stacked::HEAD)>
                    <tr><th class="pr-3">"Time"</th><th class="pr-3">"Method"</th><th class="pr-3">"Path"</th><th class="pr-3">"Status"</th><th>"Outcome"</th></tr>
                </thead>
                <tbody class=stacked::BODY>
                    {requests.into_iter().map(|r| view! {
                        <tr class=stacked::ROW>
                            <td data-label="Time" class=format!("{} whitespace-nowrap", stacked::CELL)>{when(r.at)}</td>
                            <td data-label="Method" class=format!("{} font-mono", stacked::CELL)>{r.method}</td>
                            <td data-label="Path" class=format!("{} font-mono break-all", stacked::CELL)>{r.path}</td>
                            <td data-label="Status" class=stacked::CELL>{r.status}</td>
                            <td data-label="Outcome" class=stacked::CELL>{r.outcome}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`, the same on the server and in the browser.
fn when(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_in_utc() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_795_435_200), "2026-11-23 12:00 UTC");
    }
}
