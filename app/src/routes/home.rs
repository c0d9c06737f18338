//! The signed-in home page.

use crate::components::AppHeader;
use crate::functions::auth::whoami;
use crate::page_data::page_resource;
use leptos::prelude::*;
use leptos_router::components::{Redirect, A};
use shared::CurrentUser;

#[component]
pub fn HomePage() -> impl IntoView {
    let user = page_resource(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => view! { <Home user/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
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
fn Home(user: CurrentUser) -> impl IntoView {
    let is_admin = user.role.is_integrations_admin();
    view! {
        <AppHeader user=user.clone()/>
        <main class="mx-auto max-w-6xl px-6 py-10">
            <h1 class="text-2xl font-semibold">"Welcome, " {user.display_name()}</h1>
            <dl class="mt-6 grid max-w-xl grid-cols-[max-content_1fr] gap-x-6 gap-y-2 text-sm">
                <dt class="text-slate-500">"Organization"</dt>
                <dd data-testid="org-name">{user.org_name.clone()}</dd>
                <dt class="text-slate-500">"Email"</dt>
                <dd>{user.email.clone()}</dd>
                <dt class="text-slate-500">"Role"</dt>
                <dd data-testid="role">{user.role.label()}</dd>
            </dl>
            <Show
                when=move || is_admin
                fallback=move || view! { <WhereYouAre org_name=user.org_name.clone()/> }
            >
                <section class="mt-10 grid max-w-3xl gap-4 sm:grid-cols-2" aria-label="Settings">
                    <SettingsCard
                        href="/settings/authentication"
                        title="Authentication"
                        text="Connect your identity provider over SAML or OpenID Connect so members sign in with single sign-on."
                    />
                    <SettingsCard
                        href="/settings/provisioning"
                        title="User Provisioning"
                        text="Let your identity provider create, update and deactivate accounts with SCIM."
                    />
                </section>
            </Show>
        </main>
    }
}

/// For members: Latchkey is a sign-in service, not the app they came for.
/// Says so, where to go instead, and what signing out here does.
#[component]
fn WhereYouAre(org_name: String) -> impl IntoView {
    view! {
        <section
            class="mt-8 max-w-2xl rounded-xl border border-slate-200 bg-white p-5 text-slate-700"
            aria-labelledby="where-heading"
        >
            <h2 id="where-heading" class="font-semibold text-slate-900">
                {format!("You're signed in to {org_name}'s sign-in service")}
            </h2>
            <p class="mt-2">
                {format!("Latchkey confirms who you are for {org_name}'s apps; there is nothing else to do here. Open the app you use for work, from your identity provider's dashboard or its usual address: it signs you in through Latchkey without asking for your password again.")}
            </p>
            <p class="mt-2">
                "On a shared computer, choose Sign out when you're done. Signing out here does not sign you out of your identity provider."
            </p>
            <p class="mt-2 text-sm text-slate-500">
                "Your organization's Integrations Admins manage how members sign in. Ask them if something about your account looks wrong."
            </p>
        </section>
    }
}

#[component]
fn SettingsCard(href: &'static str, title: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <A
            href=href
            attr:class="block rounded-xl border border-slate-200 bg-white p-5 shadow-sm hover:border-indigo-300"
        >
            <h2 class="font-semibold">{title}</h2>
            <p class="mt-1 text-sm text-slate-600">{text}</p>
        </A>
    }
}
