//! `/continue?to=<path>`: after the sign-in form, hands the browser over to a
//! path the server answers itself (a host app's sign-in request, Test
//! Connection). The client-side router would only find no page there, so the
//! browser loads it; without WASM the link does the same.

use crate::components::icons::LogoMark;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when this page load has started the hand-over.
static HANDED_OVER: AtomicBool = AtomicBool::new(false);

#[component]
pub fn ContinuePage() -> impl IntoView {
    let query = use_query_map();
    let target = move || shared::redirect::local_path(query.read().get("to").as_deref());
    // Once per page load, even if the router mounts this page twice: a second
    // load would start the protocol request (and issue a code) a second time.
    let to = shared::redirect::local_path(query.read_untracked().get("to").as_deref());
    Effect::new(move |_| {
        if !HANDED_OVER.swap(true, Ordering::SeqCst) {
            let _ = window().location().replace(&to);
        }
    });
    view! {
        <main class="flex min-h-screen items-center justify-center px-4">
            <div class="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-6 text-center shadow-sm">
                <LogoMark class="mx-auto h-10 w-10"/>
                <h1 class="mt-4 text-xl font-semibold">"You're signed in"</h1>
                <p class="mt-2 text-slate-600">"Taking you on to where you were going…"</p>
                <a
                    href=target
                    rel="external"
                    class="mt-6 inline-block font-medium text-indigo-600 hover:underline"
                >
                    "Continue"
                </a>
            </div>
        </main>
    }
}
