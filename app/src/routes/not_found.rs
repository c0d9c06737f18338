use leptos::prelude::*;
use leptos_router::components::A;

/// Shown for any path that is not a page of ours.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="mx-auto max-w-lg px-6 py-24 text-center">
            <p class="text-sm font-semibold text-indigo-600">"404"</p>
            <h1 class="mt-2 text-2xl font-semibold">"Page not found"</h1>
            <p class="mt-2 text-slate-600">"There is no page at this address."</p>
            <A href="/" attr:class="mt-6 inline-block font-medium text-indigo-600 hover:underline">
                "Go to the home page"
            </A>
        </main>
    }
}
