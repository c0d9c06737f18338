#![recursion_limit = "256"]
//! The browser entry point: hydrates the server-rendered page into the WASM app.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker browser tests wait for: from here on, clicks run Rust handlers.
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(
            &window,
            &"__latchkey_hydrated".into(),
            &wasm_bindgen::JsValue::TRUE,
        );
    }
}
