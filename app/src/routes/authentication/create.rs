//! The create form: protocol, identity provider, optional display name.

use crate::components::fields::{ErrorBanner, FieldMessage, INPUT_CLASS, PRIMARY_BUTTON};
use crate::error::AppError;
use crate::functions::connections::CreateConnection as CreateConnectionFn;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use shared::catalogue::{default_display_name, providers_for};
use shared::connection::{field, validate_new_connection, NewConnection};
use shared::{IdentityProvider, Protocol};

#[component]
pub fn CreateConnection() -> impl IntoView {
    let create = ServerAction::<CreateConnectionFn>::new();
    let protocol = RwSignal::new(Protocol::Saml);
    let provider = RwSignal::new(IdentityProvider::Okta);
    let display_name = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || {
        local_error
            .get()
            .or_else(|| create.value().get().and_then(Result::err))
    });

    // Switching protocol keeps the provider when it supports the new protocol.
    let choose_protocol = move |p: Protocol| {
        protocol.set(p);
        if !provider.get_untracked().supports(p) {
            provider.set(IdentityProvider::Okta);
        }
    };

    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(detail)) = create.value().get() {
            navigate(
                &super::connection_href(&detail.summary.id),
                Default::default(),
            );
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewConnection {
            protocol: protocol.get_untracked(),
            provider: provider.get_untracked(),
            display_name: display_name.get_untracked(),
        };
        match validate_new_connection(&new).into_result() {
            Ok(()) => {
                local_error.set(None);
                create.dispatch(CreateConnectionFn { new });
            }
            Err(errors) => local_error.set(Some(errors.into())),
        }
    };

    view! {
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="create-heading">
            <h2 id="create-heading" class="text-lg font-semibold">"New connection"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Pick how your identity provider talks to Latchkey. SAML works with every provider listed; OIDC with those that offer it."
            </p>
            <form class="mt-4 space-y-4" on:submit=submit novalidate>
                <ErrorBanner error/>
                <fieldset>
                    <legend class="text-sm font-medium text-slate-800">"Protocol"</legend>
                    <div class="mt-2 flex gap-6">
                        {Protocol::ALL
                            .iter()
                            .map(|p| {
                                let p = *p;
                                let id = format!("protocol-{}", p.key());
                                view! {
                                    <label class="flex items-center gap-2 text-sm">
                                        <input
                                            type="radio"
                                            name="protocol"
                                            id=id
                                            value=p.key()
                                            prop:checked=move || protocol.get() == p
                                            on:change=move |_| choose_protocol(p)
                                        />
                                        {p.label()}
                                    </label>
                                }
                            })
                            .collect_view()}
                    </div>
                </fieldset>
                <div class="grid gap-4 sm:grid-cols-2">
                    <div>
                        <label for="identity-provider" class="block text-sm font-medium text-slate-800">
                            "Identity provider"
                        </label>
                        <select
                            id="identity-provider"
                            class=INPUT_CLASS
                            prop:value=move || provider.get().key()
                            on:change=move |ev| {
                                if let Some(p) = IdentityProvider::from_key(&event_target_value(&ev)) {
                                    provider.set(p);
                                }
                            }
                        >
                            {move || {
                                providers_for(protocol.get())
                                    .into_iter()
                                    .map(|p| {
                                        view! {
                                            <option value=p.key() selected=move || provider.get() == p>
                                                {p.label()}
                                            </option>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </select>
                        <FieldMessage id="identity-provider-error" error field=field::PROVIDER/>
                    </div>
                    <div>
                        <label for="display-name" class="block text-sm font-medium text-slate-800">
                            "Display name"
                        </label>
                        <input
                            id="display-name"
                            class=INPUT_CLASS
                            placeholder=move || default_display_name(provider.get())
                            prop:value=move || display_name.get()
                            on:input=move |ev| display_name.set(event_target_value(&ev))
                        />
                        <FieldMessage id="display-name-error" error field=field::DISPLAY_NAME/>
                    </div>
                </div>
                <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>
                    "Create"
                </button>
            </form>
        </section>
    }
}
