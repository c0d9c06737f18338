//! Organization settings, for Integrations Admins only. Every page loads its data
//! through a server function that checks the role; a refusal shows the 403 content.

use crate::components::AppHeader;
use crate::error::AppError;
use crate::functions::auth::whoami;
use crate::page_data::page_resource;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;

/// The settings frame: header and navigation. Deliberately holds no `Suspend`
/// around the `Outlet`, so each page's resources hydrate in a stable order; each
/// page asks the server for its own data, and the server checks the role.
#[component]
pub fn SettingsLayout() -> impl IntoView {
    let user = page_resource(|| (), |_| whoami());
    let link = "block shrink-0 whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium text-slate-600 hover:bg-slate-100 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700";
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                user.await.ok().flatten().map(|user| view! { <AppHeader user/> })
            })}
        </Suspense>
        // Below the md breakpoint the navigation is a bar above the page, and
        // the page takes the whole width.
        <div class="mx-auto flex max-w-6xl flex-col gap-4 px-4 py-4 md:flex-row md:gap-8 md:px-6 md:py-8">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let is_admin = user
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|u| u.role.is_integrations_admin());
                    is_admin.then(|| view! {
                        <nav class="-mx-1 flex gap-1 overflow-x-auto border-b border-slate-200 pb-2 md:mx-0 md:block md:w-52 md:shrink-0 md:border-0 md:pb-0" aria-label="Settings">
                            <p class="hidden px-3 pb-2 text-xs font-semibold uppercase tracking-wide text-slate-500 md:block">
                                "Settings"
                            </p>
                            <A href="/settings/authentication" attr:class=link>"Authentication"</A>
                            <A href="/settings/provisioning" attr:class=link>"User Provisioning"</A>
                            <A href="/settings/members" attr:class=link>"Members"</A>
                            <A href="/settings/audit" attr:class=link>"Audit log"</A>
                        </nav>
                    })
                })}
            </Suspense>
            <main class="min-w-0 flex-1">
                <Outlet/>
            </main>
        </div>
    }
}

/// What a settings page shows when the server refused its data.
#[component]
pub fn AccessError(error: AppError) -> impl IntoView {
    match error {
        AppError::Unauthenticated => {
            let next = use_location().pathname.get_untracked();
            view! { <Redirect path=format!("/login?next={next}")/> }.into_any()
        }
        AppError::Forbidden => view! { <Forbidden/> }.into_any(),
        other => view! { <p role="alert" class="text-red-700">{other.to_string()}</p> }.into_any(),
    }
}

/// A dashed panel for a feature that is not set up yet: what it gives you.
#[component]
pub fn EmptyState(
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

/// The 403 content: says what is off-limits and who can help.
#[component]
pub fn Forbidden() -> impl IntoView {
    view! {
        <div class="mx-auto max-w-lg py-16 text-center">
            <p class="text-sm font-semibold text-red-600">"403"</p>
            <h1 class="mt-2 text-2xl font-semibold">"You don't have access to this page"</h1>
            <p class="mt-2 text-slate-600">
                "Organization settings are for Integrations Admins. If you need to change how your organization signs in, ask one of them."
            </p>
            <A href="/" attr:class="mt-6 inline-block font-medium text-indigo-600 hover:underline">
                "Go to the home page"
            </A>
        </div>
    }
}
