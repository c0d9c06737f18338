//! Previous / next buttons under a list the server pages.

use crate::components::fields::SECONDARY_BUTTON;
use leptos::prelude::*;

/// `page` counts from 0; the words say which way each button goes in this list
/// ("Newer" / "Older" in a log, "Previous" / "Next" elsewhere).
#[component]
pub fn Pager(
    page: RwSignal<u64>,
    current: u64,
    has_next: bool,
    back: &'static str,
    forward: &'static str,
) -> impl IntoView {
    view! {
        <div class="mt-4 flex items-center gap-3">
            <button type="button" class=SECONDARY_BUTTON disabled=current == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>
                {back}
            </button>
            <span class="text-sm text-slate-600">"Page " {current + 1}</span>
            <button type="button" class=SECONDARY_BUTTON disabled=!has_next on:click=move |_| page.update(|p| *p += 1)>
                {forward}
            </button>
        </div>
    }
}
