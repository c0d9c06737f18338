//! The IdP side of a SAML connection: typed in, or imported from metadata.

use super::connection::Changes;
use crate::components::fields::{
    ErrorBanner, TextArea, TextInput, INPUT_CLASS, PRIMARY_BUTTON, SECONDARY_BUTTON,
};
use crate::components::use_announcer;
use crate::error::AppError;
use crate::functions::connections::{ImportSamlMetadata, SaveSamlConnection};
use leptos::prelude::*;
use shared::catalogue::{default_display_name, providers_for};
use shared::connection::{
    field, validate_saml_form, MetadataSource, SamlForm as SamlFormData, SamlSettings,
};
use shared::mapping::switch_provider;
use shared::{AttributeMapping, IdentityProvider, Protocol};

const IMPORTED: &str =
    "Imported the IdP SSO URL, IdP Entity ID and certificate below. Review them, then Save.";
const IMPORTED_SIGNED: &str = "Imported the IdP SSO URL, IdP Entity ID and certificate below. The metadata asks for signed requests, so Sign AuthnRequests is on. Review them, then Save.";

#[derive(Clone, Copy)]
struct MappingSignals {
    email: RwSignal<String>,
    first_name: RwSignal<String>,
    last_name: RwSignal<String>,
    full_name: RwSignal<String>,
}

impl MappingSignals {
    fn new(mapping: AttributeMapping) -> Self {
        Self {
            email: RwSignal::new(mapping.email),
            first_name: RwSignal::new(mapping.first_name),
            last_name: RwSignal::new(mapping.last_name),
            full_name: RwSignal::new(mapping.full_name),
        }
    }

    fn get(&self) -> AttributeMapping {
        AttributeMapping {
            email: self.email.get_untracked(),
            first_name: self.first_name.get_untracked(),
            last_name: self.last_name.get_untracked(),
            full_name: self.full_name.get_untracked(),
        }
    }

    fn set(&self, mapping: AttributeMapping) {
        self.email.set(mapping.email);
        self.first_name.set(mapping.first_name);
        self.last_name.set(mapping.last_name);
        self.full_name.set(mapping.full_name);
    }
}

#[component]
pub fn SamlForm(
    id: String,
    provider: IdentityProvider,
    display_name: String,
    saml: SamlSettings,
) -> impl IntoView {
    let changes = expect_context::<Changes>();
    let save = ServerAction::<SaveSamlConnection>::new();
    let import = ServerAction::<ImportSamlMetadata>::new();
    let provider = RwSignal::new(provider);
    let display_name = RwSignal::new(display_name);
    let sso_url = RwSignal::new(saml.sso_url.clone());
    let slo_url = RwSignal::new(saml.slo_url.clone());
    let entity_id = RwSignal::new(saml.entity_id.clone());
    let (first_pem, second_pem) = split_certificates(&saml.certificates_pem);
    let certificates = RwSignal::new(first_pem);
    let rollover_certificate = RwSignal::new(second_pem);
    let mapping = MappingSignals::new(saml.mapping.clone());
    let allow_idp_initiated = RwSignal::new(saml.allow_idp_initiated);
    let sign_requests = RwSignal::new(saml.sign_requests);
    let require_encryption = RwSignal::new(saml.require_encryption);
    // The server's rule for plain http:// addresses, so the form refuses what Save would.
    let url_policy = saml.url_policy;
    let metadata_url = RwSignal::new(String::new());
    let metadata_xml = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<AppError>);
    let imported = RwSignal::new(false);
    let imported_signed = RwSignal::new(false);
    let announcer = use_announcer();

    let error = Signal::derive(move || {
        local_error.get().or_else(|| {
            import
                .value()
                .get()
                .and_then(Result::err)
                .or_else(|| save.value().get().and_then(Result::err))
        })
    });

    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            changes.done("Saved.");
        }
    });
    // Imported values go into the form for review; nothing is saved yet.
    Effect::new(move |_| {
        if let Some(Ok(found)) = import.value().get() {
            sso_url.set(found.sso_url);
            slo_url.set(found.slo_url);
            entity_id.set(found.entity_id);
            let (first, second) = split_certificates(&found.certificates_pem);
            certificates.set(first);
            rollover_certificate.set(second);
            if found.wants_signed_requests {
                sign_requests.set(true);
            }
            imported_signed.set(found.wants_signed_requests);
            imported.set(true);
            announcer.say(if found.wants_signed_requests {
                IMPORTED_SIGNED
            } else {
                IMPORTED
            });
        }
    });

    let change_provider = move |next: IdentityProvider| {
        let previous = provider.get_untracked();
        mapping.set(switch_provider(&mapping.get(), previous, next));
        provider.set(next);
    };

    let save_id = id.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = SamlFormData {
            provider: Some(provider.get_untracked()),
            display_name: display_name.get_untracked(),
            sso_url: sso_url.get_untracked(),
            slo_url: slo_url.get_untracked(),
            entity_id: entity_id.get_untracked(),
            certificates_pem: join_certificates(
                &certificates.get_untracked(),
                &rollover_certificate.get_untracked(),
            ),
            mapping: mapping.get(),
            allow_idp_initiated: allow_idp_initiated.get_untracked(),
            sign_requests: sign_requests.get_untracked(),
            require_encryption: require_encryption.get_untracked(),
        };
        match validate_saml_form(&form, url_policy).into_result() {
            Ok(()) => {
                local_error.set(None);
                changes.notice.set(None);
                import.value().set(None);
                save.dispatch(SaveSamlConnection {
                    id: save_id.clone(),
                    form,
                });
            }
            Err(errors) => local_error.set(Some(errors.into())),
        }
    };
    let import_from = move |source: MetadataSource| {
        local_error.set(None);
        save.value().set(None);
        import.dispatch(ImportSamlMetadata { source });
    };

    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="idp-heading">
            <h2 id="idp-heading" class="font-semibold">"IdP configuration"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Import your identity provider's metadata, or type its details. Blank fields can be saved; Connection Health lists what is still missing."
            </p>
            <div class="mt-4 rounded-lg bg-slate-50 p-4">
                <h3 class="text-sm font-semibold">"Import from metadata"</h3>
                <div class="mt-2 flex items-end gap-2">
                    <div class="flex-1">
                        <TextInput
                            id="metadata-url"
                            label="Metadata URL"
                            field=field::METADATA_URL
                            value=metadata_url
                            error
                            placeholder="https://idp.example.com/app/metadata".to_string()
                        />
                    </div>
                    <button
                        type="button"
                        class=format!("{SECONDARY_BUTTON} mb-[1.9rem]")
                        disabled=move || import.pending().get()
                        on:click=move |_| import_from(MetadataSource::Url(metadata_url.get_untracked()))
                    >
                        "Import from URL"
                    </button>
                </div>
                <details class="mt-2">
                    <summary class="cursor-pointer text-sm text-indigo-700">"Paste metadata XML instead"</summary>
                    <div class="mt-2 space-y-2">
                        <TextArea id="metadata-xml" label="Metadata XML" field=field::METADATA_XML value=metadata_xml error/>
                        <button
                            type="button"
                            class=SECONDARY_BUTTON
                            disabled=move || import.pending().get()
                            on:click=move |_| import_from(MetadataSource::Xml(metadata_xml.get_untracked()))
                        >
                            "Import XML"
                        </button>
                    </div>
                </details>
                <Show when=move || imported.get()>
                    <p class="mt-2 text-sm text-emerald-800">
                        {move || if imported_signed.get() { IMPORTED_SIGNED } else { IMPORTED }}
                    </p>
                </Show>
            </div>
            <form class="mt-5 space-y-4" on:submit=submit novalidate>
                <ErrorBanner error/>
                <div class="grid gap-4 sm:grid-cols-2">
                    <ProviderSelect protocol=Protocol::Saml provider on_change=change_provider/>
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
                    id="idp-sso-url"
                    label="IdP SSO URL"
                    field=field::SSO_URL
                    value=sso_url
                    error
                    placeholder="https://idp.example.com/sso/saml".to_string()
                />
                <TextInput
                    id="idp-slo-url"
                    label="IdP SLO URL"
                    field=field::SLO_URL
                    value=slo_url
                    error
                    placeholder="https://idp.example.com/slo/saml".to_string()
                    hint="Optional. With it, signing out here also signs members out of your identity provider, and its logouts end their sessions here (give it the SLO URL above)."
                />
                <TextInput
                    id="idp-entity-id"
                    label="IdP Entity ID"
                    field=field::ENTITY_ID
                    value=entity_id
                    error
                    placeholder="http://www.okta.com/exk…".to_string()
                />
                <TextArea
                    id="x509-certificate"
                    label="X.509 Certificate"
                    field=field::CERTIFICATES
                    value=certificates
                    error
                    placeholder="-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----"
                    hint="The IdP's signing certificate in PEM form, with its BEGIN and END lines."
                />
                <TextArea
                    id="x509-certificate-rollover"
                    label="Second certificate (rollover)"
                    field="rollover_certificate"
                    value=rollover_certificate
                    error
                    hint="Optional. While your identity provider switches signing certificates, paste the new one here: responses signed with either are accepted. Remove the old one once the switch is done."
                />
                <fieldset class="rounded-lg border border-slate-200 p-4">
                    <legend class="px-1 text-sm font-semibold">"Attribute mapping"</legend>
                    <p class="text-xs text-slate-500">
                        "The names of the SAML attributes your identity provider sends. They are case-sensitive. Use NameID for email to take the subject's NameID."
                    </p>
                    <div class="mt-3 grid gap-4 sm:grid-cols-3">
                        <TextInput id="map-email" label="email" field="email" value=mapping.email error/>
                        <TextInput id="map-first-name" label="first_name" field="first_name" value=mapping.first_name error/>
                        <TextInput id="map-last-name" label="last_name" field="last_name" value=mapping.last_name error/>
                    </div>
                    <div class="mt-3 max-w-sm">
                        <TextInput
                            id="map-full-name"
                            label="full_name"
                            field="full_name"
                            value=mapping.full_name
                            error
                            hint="Optional: one attribute with the whole name, instead of first and last."
                        />
                    </div>
                </fieldset>
                <Switch
                    id="allow-idp-initiated"
                    label="Allow IdP-initiated sign-in"
                    checked=allow_idp_initiated
                    hint="Lets members start from their identity provider's app dashboard (for example an Okta or Entra tile). Leave it off unless members need it: sign-ins started here are bound to a request Latchkey sent, which is safer."
                />
                <Switch
                    id="sign-requests"
                    label="Sign AuthnRequests"
                    checked=sign_requests
                    hint="Signs each sign-in request with this connection's Signing certificate (below), for identity providers that require signed requests, such as ADFS and Shibboleth. Importing metadata that asks for it turns this on."
                />
                <Switch
                    id="require-encryption"
                    label="Require encrypted assertions"
                    checked=require_encryption
                    hint="Refuses assertions that are not encrypted. Set your identity provider to encrypt them with the Encryption certificate (below) first. Encrypted assertions are accepted either way."
                />
                <div class="flex items-center gap-3">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || save.pending().get()>
                        "Save"
                    </button>
                </div>
            </form>
        </section>
    }
    .into_any()
}

/// A checkbox with its label and, below, what it does.
#[component]
fn Switch(
    id: &'static str,
    label: &'static str,
    checked: RwSignal<bool>,
    hint: &'static str,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    view! {
        <div class="flex items-start gap-3">
            <input
                id=id
                type="checkbox"
                class="mt-1 h-4 w-4 rounded border-slate-300"
                aria-describedby=hint_id.clone()
                prop:checked=move || checked.get()
                on:change=move |ev| checked.set(event_target_checked(&ev))
            />
            // The hint stays outside the label: "Identity provider" must name only the dropdown.
            <div class="text-sm">
                <label for=id class="font-medium text-slate-800">{label}</label>
                <p id=hint_id class="text-xs text-slate-500">{hint}</p>
            </div>
        </div>
    }
}

/// The IdP dropdown for an existing connection: only providers of its protocol.
#[component]
pub fn ProviderSelect<F>(
    protocol: Protocol,
    provider: RwSignal<IdentityProvider>,
    on_change: F,
) -> impl IntoView
where
    F: Fn(IdentityProvider) + 'static,
{
    view! {
        <div>
            <label for="identity-provider" class="block text-sm font-medium text-slate-800">
                "Identity provider"
            </label>
            <select
                id="identity-provider"
                class=INPUT_CLASS
                on:change=move |ev| {
                    if let Some(p) = IdentityProvider::from_key(&event_target_value(&ev)) {
                        on_change(p);
                    }
                }
            >
                {providers_for(protocol)
                    .into_iter()
                    .map(|p| view! { <option value=p.key() selected=move || provider.get() == p>{p.label()}</option> })
                    .collect_view()}
            </select>
        </div>
    }
}

/// Splits saved PEM text into the first certificate and the rest (the rollover slot).
fn split_certificates(pem: &str) -> (String, String) {
    const END: &str = "-----END CERTIFICATE-----";
    match pem.find(END) {
        Some(at) => {
            let (first, rest) = pem.split_at(at + END.len());
            (first.trim().to_string(), rest.trim().to_string())
        }
        None => (pem.trim().to_string(), String::new()),
    }
}

fn join_certificates(first: &str, second: &str) -> String {
    match (first.trim(), second.trim()) {
        (first, "") => first.to_string(),
        ("", second) => second.to_string(),
        (first, second) => format!("{first}\n{second}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
    const B: &str = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----";

    #[test]
    fn certificates_split_into_the_two_slots_and_join_back() {
        let both = join_certificates(A, B);
        assert_eq!(split_certificates(&both), (A.to_string(), B.to_string()));
        assert_eq!(split_certificates(A), (A.to_string(), String::new()));
        assert_eq!(split_certificates(""), (String::new(), String::new()));
        assert_eq!(join_certificates("", B), B);
        assert_eq!(join_certificates(A, "  "), A);
    }
}
