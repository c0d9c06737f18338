#![recursion_limit = "256"]
//! The browser entry point: hydrates the server-rendered page into the WASM app.

/// Hydration is asynchronous because a settings page's code is a lazily loaded
/// WASM chunk (see `app::routes::lazy`): the page is hydrated once it arrives.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // hydrate_from_async sets up Leptos' executor before it awaits anything.
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::tachys::dom::body();
        let mounted = leptos::mount::hydrate_from_async(body, app::App).await;
        mounted.forget();
        // A marker browser tests wait for: from here on, clicks run Rust handlers.
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(
                &window,
                &"__latchkey_hydrated".into(),
                &wasm_bindgen::JsValue::TRUE,
            );
        }
    });
}
