//! One polite live region for the whole app. Screen readers announce a change
//! to a live region that was already in the page; a region inserted together
//! with its text is often skipped. So short-lived outcomes ("Login URL copied",
//! "Require SSO is on") are said here instead of in regions that come and go.

use leptos::prelude::*;

/// What a component holds to say something to screen reader users.
#[derive(Clone, Copy)]
pub struct Announcer(RwSignal<String>);

impl Announcer {
    /// Replaces what the region says. Saying the same words twice in a row
    /// still changes the text (a trailing no-break space comes and goes), so
    /// copying twice is announced twice.
    pub fn say(&self, message: impl Into<String>) {
        let message = message.into();
        self.0.update(|current| {
            *current = if *current == message {
                format!("{message}\u{a0}")
            } else {
                message
            };
        });
    }
}

/// Makes the announcer available to every page below; call once, at the root.
pub fn provide_announcer() -> Announcer {
    let announcer = Announcer(RwSignal::new(String::new()));
    provide_context(announcer);
    announcer
}

/// The announcer, or one that says nothing where none was provided (a
/// component rendered on its own in a test).
pub fn use_announcer() -> Announcer {
    use_context::<Announcer>().unwrap_or_else(|| Announcer(RwSignal::new(String::new())))
}

/// The region itself: visually hidden, always in the page.
#[component]
pub fn Announcements(announcer: Announcer) -> impl IntoView {
    view! {
        <p role="status" aria-live="polite" class="sr-only" data-testid="announcement">
            {move || announcer.0.get()}
        </p>
    }
}
