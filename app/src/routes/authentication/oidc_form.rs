//! The IdP side of an OIDC connection. Saving runs OpenID discovery first.

use super::connection::Changes;
use super::saml_form::ProviderSelect;
use crate::components::fields::{ErrorBanner, TextInput, PRIMARY_BUTTON};
use crate::error::AppError;
use crate::functions::connections::SaveOidcConnection;
use leptos::prelude::*;
use shared::catalogue::default_display_name;
use shared::connection::{field, validate_oidc_form, OidcForm as OidcFormData, OidcSettings};
use shared::{IdentityProvider, Protocol};

#[component]
pub fn OidcForm(
    id: String,
    provider: IdentityProvider,
    display_name: String,
    oidc: OidcSettings,
) -> impl IntoView {
    let changes = expect_context::<Changes>();
    let save = ServerAction::<SaveOidcConnection>::new();
    let provider = RwSignal::new(provider);
    let display_name = RwSignal::new(display_name);
    let issuer_url = RwSignal::new(oidc.issuer_url.clone());
    let client_id = RwSignal::new(oidc.client_id.clone());
    let client_secret = RwSignal::new(String::new());
    let has_secret = oidc.has_client_secret;
    // The server's rule for plain http:// addresses, so the form refuses what Save would.
    let url_policy = oidc.url_policy;
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || {
        local_error
            .get()
            .or_else(|| save.value().get().and_then(Result::err))
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            changes.done("Saved. Discovery succeeded.");
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = OidcFormData {
            provider: Some(provider.get_untracked()),
            display_name: display_name.get_untracked(),
            issuer_url: issuer_url.get_untracked(),
            client_id: client_id.get_untracked(),
            client_secret: client_secret.get_untracked(),
        };
        match validate_oidc_form(&form, has_secret, url_policy).into_result() {
            Ok(()) => {
                local_error.set(None);
                changes.notice.set(None);
                save.dispatch(SaveOidcConnection {
                    id: id.clone(),
                    form,
                });
            }
            Err(errors) => local_error.set(Some(errors.into())),
        }
    };
    let secret_placeholder = if has_secret {
        "Saved. Leave blank to keep it."
    } else {
        "Paste the client secret"
    };

    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="idp-heading">
            <h2 id="idp-heading" class="font-semibold">"IdP configuration"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "From your identity provider's OIDC application. On Save, Latchkey reads the provider's discovery document to find its endpoints."
            </p>
            <form class="mt-4 space-y-4" on:submit=submit novalidate>
                <ErrorBanner error/>
                <div class="grid gap-4 sm:grid-cols-2">
                    <ProviderSelect protocol=Protocol::Oidc provider on_change=move |p| provider.set(p)/>
                    <TextInput
                        id="display-name"
                        label="Display name"
                        field=field::DISPLAY_NAME
                        value=display_name
                        error
                        placeholder=Signal::derive(move || default_display_name(provider.get()))
                    />
                </div>
                <TextInput
                    id="issuer-url"
                    label="Issuer URL"
                    field=field::ISSUER_URL
                    value=issuer_url
                    error
                    placeholder="https://login.example.com/oauth2/default".to_string()
                />
                <div class="grid gap-4 sm:grid-cols-2">
                    <TextInput id="client-id" label="Client ID" field=field::CLIENT_ID value=client_id error/>
                    <TextInput
                        id="client-secret"
                        label="Client Secret"
                        field=field::CLIENT_SECRET
                        value=client_secret
                        error
                        input_type="password"
                        placeholder=secret_placeholder.to_string()
                        hint="Stored encrypted; never shown again."
                    />
                </div>
                <div class="flex items-center gap-3">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Checking discovery…" } else { "Save" }}
                    </button>
                </div>
            </form>
            {oidc.discovery.clone().map(|found| view! {
                <div class="mt-5 rounded-lg bg-slate-50 p-4" aria-labelledby="endpoints-heading">
                    <h3 id="endpoints-heading" class="text-sm font-semibold">"Discovered endpoints"</h3>
                    <dl class="mt-2 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-xs">
                        <dt class="text-slate-500">"Authorization"</dt>
                        <dd class="break-all font-mono" data-testid="authorization-endpoint">{found.authorization_endpoint.clone()}</dd>
                        <dt class="text-slate-500">"Token"</dt>
                        <dd class="break-all font-mono" data-testid="token-endpoint">{found.token_endpoint.clone()}</dd>
                        <dt class="text-slate-500">"UserInfo"</dt>
                        <dd class="break-all font-mono" data-testid="userinfo-endpoint">
                            {found.userinfo_endpoint.clone().unwrap_or_else(|| "Not announced".into())}
                        </dd>
                        <dt class="text-slate-500">"JWKS"</dt>
                        <dd class="break-all font-mono" data-testid="jwks-endpoint">{found.jwks_uri.clone()}</dd>
                    </dl>
                </div>
            })}
        </section>
    }
    .into_any()
}
