//! The bar at the top of every signed-in page.

use crate::components::icons::LogoMark;
use crate::functions::auth::Logout;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;
use shared::CurrentUser;

#[component]
pub fn AppHeader(user: CurrentUser) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let is_admin = user.role.is_integrations_admin();
    view! {
        <header class="border-b border-slate-200 bg-white">
            <div class="mx-auto flex max-w-6xl items-center justify-between gap-3 px-4 py-3 md:gap-4 md:px-6">
                <A href="/" attr:class="flex min-w-0 items-center gap-2 font-semibold text-slate-900">
                    <LogoMark class="h-7 w-7 shrink-0"/>
                    <span class="hidden sm:inline">"Latchkey"</span>
                    <span class="truncate rounded-md bg-slate-100 px-2 py-0.5 text-sm font-medium text-slate-600">
                        {user.org_name.clone()}
                    </span>
                </A>
                <nav class="flex shrink-0 items-center gap-3 text-sm md:gap-4" aria-label="Account">
                    <Show when=move || is_admin>
                        <A href="/settings/authentication" attr:class="text-slate-600 hover:text-slate-900">
                            "Settings"
                        </A>
                    </Show>
                    // On a phone the email would push the buttons off the screen; the
                    // home page shows it.
                    <span class="hidden text-slate-500 md:inline" data-testid="signed-in-as">{user.email.clone()}</span>
                    <ActionForm action=logout>
                        <button
                            type="submit"
                            class="rounded-md border border-slate-300 px-3 py-1.5 font-medium text-slate-700 hover:bg-slate-50"
                        >
                            "Sign out"
                        </button>
                    </ActionForm>
                </nav>
            </div>
        </header>
    }
}
