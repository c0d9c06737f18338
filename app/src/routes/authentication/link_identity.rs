//! "Link my SSO identity": an Integrations Admin who signs in with a password
//! is not signed in by SSO until they link their identity at the IdP from
//! their own session (so an IdP account that merely carries the admin's email
//! cannot take the admin account over).

use crate::components::fields::{ErrorBanner, SECONDARY_BUTTON};
use crate::functions::sso::LinkSsoIdentity;
use leptos::prelude::*;

#[component]
pub fn LinkIdentity(connection_id: String, usable: bool, linked: Option<String>) -> impl IntoView {
    let link = ServerAction::<LinkSsoIdentity>::new();
    let error = Signal::derive(move || link.value().get().and_then(Result::err));
    let start = move |_| {
        link.dispatch(LinkSsoIdentity {
            connection_id: connection_id.clone(),
        });
    };
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-5" aria-labelledby="link-heading">
            <h2 id="link-heading" class="font-semibold">"Your own sign-in"</h2>
            {match linked {
                        Some(subject) => view! {
                            <p class="mt-1 text-sm text-slate-600" data-testid="linked-identity" role="status">
                                "Linked: you can sign in through this connection as "
                                <code class="break-all text-xs">{subject}</code>
                                ". Your password keeps working for break-glass access."
                            </p>
                        }
                        .into_any(),
                        None => view! {
                            <p class="mt-1 text-sm text-slate-600">
                                "Admins with a password are not signed in by single sign-on until they link their identity at the identity provider here. Latchkey then recognises that identity, not just an email address."
                            </p>
                        }
                        .into_any(),
            }}
            <div class="mt-3">
                <ErrorBanner error/>
            </div>
            <button
                type="button"
                class=format!("{SECONDARY_BUTTON} mt-3")
                disabled=move || !usable || link.pending().get()
                on:click=start
            >
                "Link my SSO identity"
            </button>
            {(!usable).then(|| view! {
                <p class="mt-2 text-sm text-slate-500">"Available once the connection is active and ready to test."</p>
            })}
        </section>
    }
}
