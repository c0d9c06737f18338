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
            <div class="mx-auto flex max-w-6xl items-center justify-between gap-4 px-6 py-3">
                <A href="/" attr:class="flex items-center gap-2 font-semibold text-slate-900">
                    <LogoMark class="h-7 w-7"/>
                    <span>"Latchkey"</span>
                    <span class="rounded-md bg-slate-100 px-2 py-0.5 text-sm font-medium text-slate-600">
                        {user.org_name.clone()}
                    </span>
                </A>
                <nav class="flex items-center gap-4 text-sm" aria-label="Account">
                    <Show when=move || is_admin>
                        <A href="/settings/authentication" attr:class="text-slate-600 hover:text-slate-900">
                            "Settings"
                        </A>
                    </Show>
                    <span class="text-slate-500" data-testid="signed-in-as">{user.email.clone()}</span>
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
