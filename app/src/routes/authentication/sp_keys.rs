//! Latchkey's own certificates for a SAML connection: the one IdPs check our
//! signed AuthnRequests with and the one they encrypt assertions for. Each can
//! be rotated; the old one keeps working until the admin removes it.

use super::connection::Changes;
use crate::components::fields::{CopyValue, ErrorBanner, SECONDARY_BUTTON};
use crate::functions::connections::ChangeSpKey;
use leptos::prelude::*;
use shared::connection::{SpCertificate, SpKeyChange, SpKeyPurpose};
use shared::time::format_utc;

fn notice(purpose: SpKeyPurpose, change: SpKeyChange) -> &'static str {
    match (purpose, change) {
        (SpKeyPurpose::Signing, SpKeyChange::Rotate) => {
            "New signing key made. Requests are signed with it now: give your identity provider the new Signing certificate (or have it read the metadata again), then remove the old key."
        }
        (SpKeyPurpose::Encryption, SpKeyChange::Rotate) => {
            "New encryption key made. Assertions encrypted for either certificate are accepted: give your identity provider the new Encryption certificate, then remove the old key."
        }
        (SpKeyPurpose::Signing, SpKeyChange::RemovePrevious) => "Old signing key removed.",
        (SpKeyPurpose::Encryption, SpKeyChange::RemovePrevious) => {
            "Old encryption key removed. Assertions encrypted for it are refused from now on."
        }
    }
}

fn key_word(purpose: SpKeyPurpose) -> &'static str {
    match purpose {
        SpKeyPurpose::Signing => "signing",
        SpKeyPurpose::Encryption => "encryption",
    }
}

fn explanation(purpose: SpKeyPurpose) -> &'static str {
    match purpose {
        SpKeyPurpose::Signing => {
            "Your identity provider checks signed AuthnRequests with it (when Sign AuthnRequests is on)."
        }
        SpKeyPurpose::Encryption => {
            "Your identity provider encrypts assertions for it (when it is set to encrypt)."
        }
    }
}

#[component]
pub fn ServiceProviderKeys(id: String, certificates: Vec<SpCertificate>) -> impl IntoView {
    let changes = expect_context::<Changes>();
    let change = ServerAction::<ChangeSpKey>::new();
    // What was asked last, to say what happened when it succeeds.
    let asked = RwSignal::new(None::<(SpKeyPurpose, SpKeyChange)>);
    let error = Signal::derive(move || change.value().get().and_then(Result::err));
    Effect::new(move |_| {
        if let Some(Ok(_)) = change.value().get() {
            if let Some((purpose, what)) = asked.get_untracked() {
                changes.done(notice(purpose, what));
            }
        }
    });
    let purposes = [SpKeyPurpose::Signing, SpKeyPurpose::Encryption];
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="sp-keys-heading">
            <h2 id="sp-keys-heading" class="font-semibold">"Signing and encryption certificates"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Latchkey's own certificates for this connection. Identity providers that import Latchkey's SAML metadata read them from there; otherwise copy them into your identity provider."
            </p>
            <div class="mt-3"><ErrorBanner error/></div>
            <div class="mt-4 space-y-5">
                {purposes
                    .into_iter()
                    .map(|purpose| {
                        let mine: Vec<SpCertificate> = certificates
                            .iter()
                            .filter(|c| c.purpose == purpose)
                            .cloned()
                            .collect();
                        view! { <KeyOfPurpose id=id.clone() purpose certificates=mine change asked/> }
                    })
                    .collect_view()}
            </div>
        </section>
    }
}

#[component]
fn KeyOfPurpose(
    id: String,
    purpose: SpKeyPurpose,
    certificates: Vec<SpCertificate>,
    change: ServerAction<ChangeSpKey>,
    asked: RwSignal<Option<(SpKeyPurpose, SpKeyChange)>>,
) -> impl IntoView {
    let current = certificates.iter().find(|c| c.current).cloned();
    let previous = certificates.iter().find(|c| !c.current).cloned();
    let word = key_word(purpose);
    let dispatch = move |what: SpKeyChange| {
        asked.set(Some((purpose, what)));
        change.dispatch(ChangeSpKey {
            id: id.clone(),
            purpose,
            change: what,
        });
    };
    let (what, label) = match &previous {
        Some(_) => (
            SpKeyChange::RemovePrevious,
            format!("Remove old {word} key"),
        ),
        None => (SpKeyChange::Rotate, format!("Rotate {word} key")),
    };
    view! {
        <div class="rounded-lg border border-slate-100 p-4">
            {current.map(|c| view! {
                <CopyValue id=format!("sp-{word}-certificate") label=purpose.label() value=c.pem.clone()/>
                <p class="mt-1 text-xs text-slate-500">{explanation(purpose)}</p>
                <p class="mt-1 text-xs text-slate-500">
                    "SHA-256 " <span class="break-all font-mono">{c.facts.sha256_fingerprint.clone()}</span>
                    <span class="whitespace-nowrap">" · valid until " {format_utc(c.facts.not_after)}</span>
                </p>
            })}
            {previous.map(|c| view! {
                <p class="mt-3 rounded-md bg-amber-50 px-3 py-2 text-xs text-amber-900">
                    "The old " {word} " certificate is still accepted until you remove it: "
                    <span class="break-all font-mono">{c.facts.sha256_fingerprint.clone()}</span>
                    ". Remove it once your identity provider uses the new one."
                </p>
            })}
            <button
                type="button"
                class=format!("{SECONDARY_BUTTON} mt-3")
                disabled=move || change.pending().get()
                on:click=move |_| dispatch(what)
            >
                {label}
            </button>
        </div>
    }
}
