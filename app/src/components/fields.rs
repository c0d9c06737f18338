//! Form pieces shared by the settings pages: labelled inputs with their error,
//! read-only values with a copy button, and status badges.

use super::use_announcer;
use crate::error::AppError;
use leptos::prelude::*;
use shared::CheckStatus;

pub const INPUT_CLASS: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200";
pub const PRIMARY_BUTTON: &str = "rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-50";
pub const SECONDARY_BUTTON: &str = "rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-50";
pub const DANGER_BUTTON: &str = "rounded-md border border-red-300 bg-white px-3 py-2 text-sm font-medium text-red-700 hover:bg-red-50";

/// The message for `field` in the latest error, if any.
pub fn field_message(
    error: Signal<Option<AppError>>,
    field: &'static str,
) -> Signal<Option<String>> {
    Signal::derive(move || error.get().and_then(|e| e.field(field)))
}

/// The message under one field, when the last attempt found a problem with it.
#[component]
pub fn FieldMessage(
    #[prop(into)] id: String,
    error: Signal<Option<AppError>>,
    field: &'static str,
) -> impl IntoView {
    let message = field_message(error, field);
    view! {
        <p id=id class="mt-1 text-sm text-red-700" class:hidden=move || message.get().is_none()>
            {move || message.get()}
        </p>
    }
}

/// A one-line text input with its label and error.
#[component]
pub fn TextInput(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<AppError>>,
    #[prop(optional)] field: Option<&'static str>,
    #[prop(into, optional)] placeholder: MaybeProp<String>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(default = "text")] input_type: &'static str,
) -> impl IntoView {
    let field = field.unwrap_or(id);
    let message = field_message(error, field);
    let error_id = format!("{id}-error");
    view! {
        <div>
            <label for=id class="block text-sm font-medium text-slate-800">{label}</label>
            {hint.map(|h| view! { <p class="text-xs text-slate-500">{h}</p> })}
            <input
                id=id
                type=input_type
                class=INPUT_CLASS
                placeholder=move || placeholder.get()
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                aria-invalid=move || message.get().is_some().to_string()
                aria-describedby=error_id.clone()
                autocomplete="off"
                spellcheck="false"
            />
            <FieldMessage id=error_id error field=field/>
        </div>
    }
}

/// A multi-line input (certificates, metadata XML).
#[component]
pub fn TextArea(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<AppError>>,
    #[prop(optional)] field: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let field = field.unwrap_or(id);
    let message = field_message(error, field);
    let error_id = format!("{id}-error");
    view! {
        <div>
            <label for=id class="block text-sm font-medium text-slate-800">{label}</label>
            {hint.map(|h| view! { <p class="text-xs text-slate-500">{h}</p> })}
            <textarea
                id=id
                rows="6"
                class=format!("{INPUT_CLASS} font-mono text-xs")
                placeholder=placeholder
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                aria-invalid=move || message.get().is_some().to_string()
                aria-describedby=error_id.clone()
                spellcheck="false"
            ></textarea>
            <FieldMessage id=error_id error field=field/>
        </div>
    }
}

/// A value the admin copies into their IdP, with a `Copy <label>` button.
#[component]
pub fn CopyValue(#[prop(into)] id: String, label: &'static str, value: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let announcer = use_announcer();
    let to_copy = value.clone();
    let on_copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&to_copy);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &to_copy;
        copied.set(true);
        announcer.say(format!("{label} copied to the clipboard."));
    };
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-800">{label}</label>
            <div class="mt-1 flex gap-2">
                <input
                    id=id
                    readonly
                    class=format!("{INPUT_CLASS} mt-0 bg-slate-50 font-mono text-xs")
                    prop:value=value
                />
                <button
                    type="button"
                    class=SECONDARY_BUTTON
                    aria-label=format!("Copy {label}")
                    on:click=on_copy
                >
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
        </div>
    }
}

/// One `term: value` line of a description list.
#[component]
pub fn Fact(term: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="flex gap-2">
            <dt class="text-slate-500">{term}":"</dt>
            <dd class="text-slate-800">{value}</dd>
        </div>
    }
}

/// A small coloured badge for a check status.
#[component]
pub fn StatusBadge(status: CheckStatus) -> impl IntoView {
    let (class, text) = match status {
        CheckStatus::Pass => ("bg-emerald-50 text-emerald-700 ring-emerald-200", "Pass"),
        CheckStatus::Warning => ("bg-amber-50 text-amber-800 ring-amber-200", "Warning"),
        CheckStatus::Fail => ("bg-red-50 text-red-700 ring-red-200", "Fail"),
    };
    view! {
        <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 {class}")>
            {text}
        </span>
    }
}

/// A failure that concerns a whole form rather than one field.
#[component]
pub fn ErrorBanner(error: Signal<Option<AppError>>) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.banner());
    view! {
        <Show when=move || message().is_some()>
            <div role="alert" class="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800">
                {message}
            </div>
        </Show>
    }
}

/// The current time in Unix seconds, in the browser and on the server.
pub fn now_unix() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }
}
