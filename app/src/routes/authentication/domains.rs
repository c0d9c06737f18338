//! The email domains that route "Sign in with SSO" to this organization, and
//! the DNS record that proves each one is the organization's.

use crate::components::fields::{
    CopyValue, ErrorBanner, TextInput, PRIMARY_BUTTON, SECONDARY_BUTTON,
};
use crate::components::use_announcer;
use crate::error::AppError;
use crate::functions::connections::{AddOrgDomain, RemoveOrgDomain, VerifyOrgDomain};
use leptos::prelude::*;
use shared::domain::{DomainClaim, DomainStatus};
use shared::time::format_utc;

#[component]
pub fn Domains(domains: Vec<DomainClaim>) -> impl IntoView {
    let add = ServerAction::<AddOrgDomain>::new();
    let remove = ServerAction::<RemoveOrgDomain>::new();
    let verify = ServerAction::<VerifyOrgDomain>::new();
    let list = RwSignal::new(domains);
    let domain = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<AppError>);
    // The domain whose Verify is running, so only its button says so.
    let verifying = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(overview)) = add.value().get() {
            list.set(overview.domains);
            domain.set(String::new());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(overview)) = remove.value().get() {
            list.set(overview.domains);
        }
    });
    let announcer = use_announcer();
    Effect::new(move |_| {
        if let Some(Ok(overview)) = verify.value().get() {
            let checked = verifying.get_untracked();
            if let Some(claim) = overview
                .domains
                .iter()
                .find(|c| Some(&c.domain) == checked.as_ref())
            {
                announcer.say(verify_outcome(claim));
            }
            list.set(overview.domains);
        }
    });
    let error = Signal::derive(move || {
        local_error.get().or_else(|| {
            add.value()
                .get()
                .and_then(Result::err)
                .or_else(|| remove.value().get().and_then(Result::err))
                .or_else(|| verify.value().get().and_then(Result::err))
        })
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = domain.get_untracked();
        match shared::domain::validate_domain("domain", &value) {
            Ok(()) => {
                local_error.set(None);
                add.dispatch(AddOrgDomain { domain: value });
            }
            Err(e) => local_error.set(Some(AppError::Invalid(shared::FieldErrors(vec![e])))),
        }
    };
    let on_verify = Callback::new(move |target: String| {
        local_error.set(None);
        verifying.set(Some(target.clone()));
        verify.dispatch(VerifyOrgDomain { domain: target });
    });
    let on_remove = Callback::new(move |target: String| {
        local_error.set(None);
        remove.dispatch(RemoveOrgDomain { domain: target });
    });
    let checking =
        Signal::derive(move || verify.pending().get().then(|| verifying.get()).flatten());
    view! {
        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="domains-heading">
            <h2 id="domains-heading" class="font-semibold">"Email domains"</h2>
            <p class="mt-1 max-w-2xl text-sm text-slate-600">
                "Members who enter an address at a verified domain and choose Sign in with SSO are sent to your identity provider. Prove each domain is yours with a DNS record; once verified, no other organization can claim it."
            </p>
            <div class="mt-3">
                <ErrorBanner error/>
            </div>
            <ul class="mt-3 space-y-3" aria-label="Claimed domains">
                {move || list
                    .get()
                    .into_iter()
                    .map(|claim| view! { <DomainRow claim checking on_verify on_remove/> })
                    .collect_view()}
            </ul>
            <form class="mt-4 flex max-w-xl items-end gap-2" on:submit=submit novalidate>
                <div class="flex-1">
                    <TextInput id="domain" label="Domain" value=domain error placeholder="initech.com"/>
                </div>
                <button type="submit" class=SECONDARY_BUTTON disabled=move || add.pending().get()>
                    "Add domain"
                </button>
            </form>
        </section>
    }
}

/// One claim: its state, and while pending the record to publish and Verify.
#[component]
fn DomainRow(
    claim: DomainClaim,
    checking: Signal<Option<String>>,
    on_verify: Callback<String>,
    on_remove: Callback<String>,
) -> impl IntoView {
    let name_id = format!("domain-{}", claim.domain.replace('.', "-"));
    let (badge_class, badge) = match claim.status {
        DomainStatus::Verified => (
            "bg-emerald-50 text-emerald-700 ring-emerald-200",
            "Verified",
        ),
        DomainStatus::Pending => (
            "bg-amber-50 text-amber-800 ring-amber-200",
            "Pending verification",
        ),
        DomainStatus::VerifiedElsewhere => (
            "bg-red-50 text-red-700 ring-red-200",
            "Verified by another organization",
        ),
    };
    let status_key = match claim.status {
        DomainStatus::Verified => "verified",
        DomainStatus::Pending => "pending",
        DomainStatus::VerifiedElsewhere => "verified_elsewhere",
    };
    let body = match claim.status {
        DomainStatus::Verified => view! {
            <p class="mt-2 text-sm text-slate-600" data-testid="domain-state">
                "Verified " {claim.verified_at.map(format_utc).unwrap_or_default()}
                ". Members at this domain who choose Sign in with SSO are sent to your identity provider."
            </p>
        }
        .into_any(),
        DomainStatus::VerifiedElsewhere => view! {
            <p class="mt-2 text-sm text-red-800" data-testid="domain-state">
                "Another organization verified this domain first, so it routes no sign-ins to yours. Remove it here; if your company owns the domain, ask your Latchkey operator for help."
            </p>
        }
        .into_any(),
        DomainStatus::Pending => view! { <PendingRecord claim=claim.clone() checking on_verify/> }.into_any(),
    };
    let domain = claim.domain.clone();
    let labelled_by = name_id.clone();
    view! {
        <li
            class="rounded-lg border border-slate-200 p-4"
            data-domain=claim.domain.clone()
            data-status=status_key
            aria-labelledby=labelled_by
        >
            <div class="flex flex-wrap items-center justify-between gap-2">
                <div class="flex flex-wrap items-center gap-2">
                    <span id=name_id class="font-mono font-medium">{claim.domain.clone()}</span>
                    <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 {badge_class}")>
                        {badge}
                    </span>
                </div>
                <button
                    type="button"
                    class=SECONDARY_BUTTON
                    aria-label=format!("Remove {}", claim.domain)
                    on:click=move |_| on_remove.run(domain.clone())
                >
                    "Remove"
                </button>
            </div>
            {body}
        </li>
    }
}

/// What a finished Verify found, in one sentence for screen readers (the page
/// shows the same through the claim's badge and its last-check line).
fn verify_outcome(claim: &DomainClaim) -> String {
    match (claim.status, claim.failure_message()) {
        (DomainStatus::Verified, _) => format!("{} is verified.", claim.domain),
        (_, Some(message)) => format!("{} is not verified: {message}", claim.domain),
        (_, None) => format!("{} is not verified yet.", claim.domain),
    }
}

/// The TXT record to add, the Verify button, and what the last check found.
#[component]
fn PendingRecord(
    claim: DomainClaim,
    checking: Signal<Option<String>>,
    on_verify: Callback<String>,
) -> impl IntoView {
    let slug = claim.domain.replace('.', "-");
    let last_check = match (claim.checked_at, claim.failure_message()) {
        (Some(at), Some(message)) => format!("Last checked {}: {message}", format_utc(at)),
        (Some(at), None) => format!("Last checked {}.", format_utc(at)),
        (None, _) => "Not checked yet.".to_string(),
    };
    let failed = claim.last_failure.is_some();
    let code = claim.last_failure.as_ref().map(|f| f.code());
    let domain = claim.domain.clone();
    let this = claim.domain.clone();
    let busy = move || checking.get().as_deref() == Some(this.as_str());
    let busy_label = busy.clone();
    view! {
        <div class="mt-3 space-y-3">
            <p class="text-sm text-slate-700">
                "Add this TXT record at your DNS provider, then press Verify. Until it is verified, this domain routes no sign-ins."
            </p>
            <div class="grid gap-3 md:grid-cols-2">
                <CopyValue id=format!("txt-name-{slug}") label="TXT record name" value=claim.record_name.clone()/>
                <CopyValue id=format!("txt-value-{slug}") label="TXT record value" value=claim.record_value.clone()/>
            </div>
            <div class="flex flex-wrap items-center gap-3">
                <button
                    type="button"
                    class=PRIMARY_BUTTON
                    disabled=busy
                    on:click=move |_| on_verify.run(domain.clone())
                >
                    {move || if busy_label() { "Checking…" } else { "Verify" }}
                </button>
                <p
                    data-testid="domain-check"
                    data-code=code
                    class=if failed { "text-sm text-red-800" } else { "text-sm text-slate-500" }
                >
                    {last_check}
                </p>
            </div>
            <p class="text-xs text-slate-500">
                "A new record can take a few minutes to appear, depending on your DNS provider. Keep it in place after verifying."
            </p>
        </div>
    }
}
