//! Organization settings, for Integrations Admins only. The layout asks the server
//! (which checks the role) before showing anything.

use crate::components::AppHeader;
use crate::error::AppError;
use crate::functions::auth::whoami;
use crate::functions::settings::settings_access;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;
use shared::CurrentUser;

#[component]
pub fn SettingsLayout() -> impl IntoView {
    let access = Resource::new(|| (), |_| settings_access());
    let location = use_location();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match access.await {
                    Ok(user) => view! { <SettingsFrame user/> }.into_any(),
                    Err(AppError::Unauthenticated) => {
                        let next = location.pathname.get_untracked();
                        view! { <Redirect path=format!("/login?next={next}")/> }.into_any()
                    }
                    Err(AppError::Forbidden) => view! { <ForbiddenPage/> }.into_any(),
                    Err(error) => view! {
                        <p role="alert" class="p-6 text-red-700">{error.to_string()}</p>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SettingsFrame(user: CurrentUser) -> impl IntoView {
    let link = "block rounded-md px-3 py-2 text-sm font-medium text-slate-600 hover:bg-slate-100 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700";
    view! {
        <AppHeader user/>
        <div class="mx-auto flex max-w-6xl gap-8 px-6 py-8">
            <nav class="w-52 shrink-0" aria-label="Settings">
                <p class="px-3 pb-2 text-xs font-semibold uppercase tracking-wide text-slate-400">
                    "Settings"
                </p>
                <A href="/settings/authentication" attr:class=link>"Authentication"</A>
                <A href="/settings/provisioning" attr:class=link>"User Provisioning"</A>
            </nav>
            <main class="min-w-0 flex-1">
                <Outlet/>
            </main>
        </div>
    }
}

#[component]
pub fn AuthenticationSettings() -> impl IntoView {
    view! {
        <PageTitle
            title="Authentication"
            intro="Let members sign in with their company account through your identity provider."
        />
        <EmptyState
            heading="No SSO connections yet"
            text="Connect Okta, Microsoft Entra ID, Google Workspace, OneLogin, JumpCloud or any other SAML 2.0 or OpenID Connect provider. Here you will:"
            steps=&[
                "Create a connection and choose SAML or OIDC.",
                "Copy Latchkey's service-provider details into your identity provider.",
                "Paste your identity provider's details back here.",
                "Run Test Connection, then share your organization's login URL.",
            ]
        />
    }
}

#[component]
pub fn ProvisioningSettings() -> impl IntoView {
    view! {
        <PageTitle
            title="User Provisioning"
            intro="Let your identity provider create, update and deactivate accounts automatically with SCIM 2.0."
        />
        <EmptyState
            heading="SCIM provisioning is off"
            text="When you enable SCIM for Okta, Microsoft Entra ID, JumpCloud, OneLogin, CyberArk or any SCIM 2.0 client, you will:"
            steps=&[
                "Get a SCIM base URL and a bearer token to paste into your identity provider.",
                "See new people get accounts, and leavers lose access, without doing it by hand.",
                "Rotate the token without downtime, and see every request your identity provider makes.",
            ]
        />
    }
}

#[component]
fn PageTitle(title: &'static str, intro: &'static str) -> impl IntoView {
    view! {
        <h1 class="text-2xl font-semibold">{title}</h1>
        <p class="mt-1 text-slate-600">{intro}</p>
    }
}

#[component]
fn EmptyState(
    heading: &'static str,
    text: &'static str,
    steps: &'static [&'static str],
) -> impl IntoView {
    view! {
        <section class="mt-8 rounded-xl border border-dashed border-slate-300 bg-white p-8">
            <h2 class="text-lg font-semibold">{heading}</h2>
            <p class="mt-2 max-w-2xl text-slate-600">{text}</p>
            <ol class="mt-4 max-w-2xl list-decimal space-y-1 pl-5 text-slate-700">
                {steps.iter().map(|step| view! { <li>{*step}</li> }).collect_view()}
            </ol>
        </section>
    }
}

/// The 403 page: says what is off-limits and who can help.
#[component]
pub fn ForbiddenPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                user.await.ok().flatten().map(|user| view! { <AppHeader user/> })
            })}
        </Suspense>
        <main class="mx-auto max-w-lg px-6 py-24 text-center">
            <p class="text-sm font-semibold text-red-600">"403"</p>
            <h1 class="mt-2 text-2xl font-semibold">"You don't have access to this page"</h1>
            <p class="mt-2 text-slate-600">
                "Organization settings are for Integrations Admins. If you need to change how your organization signs in, ask one of them."
            </p>
            <A href="/" attr:class="mt-6 inline-block font-medium text-indigo-600 hover:underline">
                "Go to the home page"
            </A>
        </main>
    }
}
