//! Inline SVG icons: no icon font to download.

use leptos::prelude::*;

/// Latchkey's mark: a key in a rounded square.
#[component]
pub fn LogoMark(#[prop(default = "h-8 w-8")] class: &'static str) -> impl IntoView {
    view! {
        <svg class=class viewBox="0 0 32 32" aria-hidden="true">
            <rect width="32" height="32" rx="8" class="fill-indigo-600"></rect>
            <circle cx="12" cy="16" r="5" fill="none" stroke="white" stroke-width="2.5"></circle>
            <path d="M17 16h9m-3 0v4m-3-4v3" stroke="white" stroke-width="2.5" stroke-linecap="round"></path>
        </svg>
    }
}
