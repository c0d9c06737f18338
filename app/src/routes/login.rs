//! Sign-in: email and password, or single sign-on.

use crate::components::fields::{ErrorBanner, FieldMessage};
use crate::components::icons::LogoMark;
use crate::error::AppError;
use crate::functions::auth::{Login, StartSso};
use crate::functions::sso::start_org_sso;
use crate::page_data::page_resource;
use leptos::html::Input;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use shared::sso_event::{OrgSignIn, SsoChoice};

const INPUT_CLASS: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200";

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let sso = ServerAction::<StartSso>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();

    let email_input = NodeRef::<Input>::new();
    let password_input = NodeRef::<Input>::new();
    // Problems found in the browser before anything is sent (same rules as the server).
    let local_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || {
        local_error.get().or_else(|| {
            sso.value()
                .get()
                .and_then(Result::err)
                .or_else(|| login.value().get().and_then(Result::err))
        })
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let email = input_value(email_input);
        let password = input_value(password_input);
        sso.value().set(None);
        match shared::validate::sign_in_form(&email, &password) {
            Ok(()) => {
                local_error.set(None);
                login.dispatch(Login {
                    email,
                    password,
                    next: Some(next()),
                });
            }
            Err(errors) => local_error.set(Some(errors.into())),
        }
    };

    let on_sso = move |ev: leptos::ev::MouseEvent| {
        // With the WASM loaded the action sends the request, not the form.
        ev.prevent_default();
        let email = input_value(email_input);
        login.value().set(None);
        let mut errors = shared::FieldErrors::default();
        errors.check(shared::validate::email("email", &email));
        match errors.into_result() {
            Ok(()) => {
                local_error.set(None);
                sso.dispatch(StartSso {
                    email,
                    next: Some(next()),
                });
            }
            Err(errors) => local_error.set(Some(errors.into())),
        }
    };

    view! {
        <main class="flex min-h-screen items-center justify-center px-4">
            <div class="w-full max-w-sm">
                <div class="mb-6 flex flex-col items-center gap-3">
                    <LogoMark class="h-10 w-10"/>
                    <h1 class="text-xl font-semibold">"Sign in to Latchkey"</h1>
                </div>
                <div class="rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
                    <div class="mb-4 empty:hidden">
                        <ErrorBanner error/>
                    </div>
                    // method and action make a submit before the WASM loads a POST to the
                    // server function, never a GET that would put the password in the URL.
                    <form id="sign-in-form" method="post" action="/api/login" novalidate on:submit=on_submit class="space-y-4">
                        <input type="hidden" name="next" prop:value=next/>
                        <div>
                            <label for="email" class="block text-sm font-medium">"Email"</label>
                            <input
                                id="email"
                                name="email"
                                type="email"
                                autocomplete="username"
                                class=INPUT_CLASS
                                node_ref=email_input
                                aria-describedby="email-error"
                            />
                            <FieldMessage id="email-error" error field="email"/>
                        </div>
                        <PasswordField node_ref=password_input error/>
                        <button
                            type="submit"
                            class="w-full rounded-md bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-500 disabled:opacity-60"
                            disabled=move || login.pending().get()
                        >
                            "Sign in"
                        </button>
                    </form>
                    <div class="my-4 flex items-center gap-3 text-xs uppercase text-slate-500">
                        <span class="h-px flex-1 bg-slate-200"></span>
                        "or"
                        <span class="h-px flex-1 bg-slate-200"></span>
                    </div>
                    // Before the WASM loads (or without scripts) this posts the same
                    // form to the SSO server function, which redirects to the IdP.
                    <button
                        type="submit"
                        form="sign-in-form"
                        formaction="/api/start_sso"
                        on:click=on_sso
                        class="w-full rounded-md border border-slate-300 px-4 py-2 font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60"
                        disabled=move || sso.pending().get()
                    >
                        "Sign in with SSO"
                    </button>
                    <p class="mt-3 text-center text-xs text-slate-500">
                        "For single sign-on, enter your work email and choose Sign in with SSO."
                    </p>
                </div>
            </div>
        </main>
    }
    .into_any()
}

#[component]
fn PasswordField(node_ref: NodeRef<Input>, error: Signal<Option<AppError>>) -> impl IntoView {
    let visible = RwSignal::new(false);
    view! {
        <div>
            <label for="password" class="block text-sm font-medium">"Password"</label>
            <div class="relative">
                <input
                    id="password"
                    name="password"
                    type=move || if visible.get() { "text" } else { "password" }
                    autocomplete="current-password"
                    class=INPUT_CLASS
                    node_ref=node_ref
                    aria-describedby="password-error"
                />
                <button
                    type="button"
                    class="absolute inset-y-0 right-0 px-3 text-sm text-slate-500 hover:text-slate-800"
                    aria-label=move || if visible.get() { "Hide password" } else { "Show password" }
                    aria-pressed=move || visible.get().to_string()
                    on:click=move |_| visible.update(|v| *v = !*v)
                >
                    {move || if visible.get() { "Hide" } else { "Show" }}
                </button>
            </div>
            <FieldMessage id="password-error" error field="password"/>
        </div>
    }
}

fn input_value(node: NodeRef<Input>) -> String {
    node.get_untracked().map(|i| i.value()).unwrap_or_default()
}

/// `/login/{org_slug}`: an organization's own sign-in address. Sends the
/// browser straight to the organization's identity provider, lets the member
/// pick when several connections are active, and says so plainly when single
/// sign-on is not set up (without telling whether the organization exists).
#[component]
pub fn OrgLoginPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("org_slug").unwrap_or_default();
    let started = page_resource(
        move || {
            let query = query.read();
            (slug(), query.get("connection"), query.get("next"))
        },
        |(slug, connection, next)| start_org_sso(slug, connection, next),
    );
    view! {
        <main class="flex min-h-screen items-center justify-center px-4">
            <div class="w-full max-w-md rounded-xl border border-slate-200 bg-white p-6 text-center shadow-sm">
                <LogoMark class="mx-auto h-10 w-10"/>
                <Suspense fallback=|| view! { <p class="mt-4 text-slate-600">"Finding your organization's sign-in…"</p> }>
                    {move || Suspend::new(async move {
                        match started.await {
                            Ok(OrgSignIn::Redirecting) => view! {
                                <h1 class="mt-4 text-xl font-semibold">"Taking you to your identity provider…"</h1>
                            }
                            .into_any(),
                            Ok(OrgSignIn::Choose(choices)) => {
                                let next = query.read_untracked().get("next");
                                view! { <ConnectionChoice slug=slug() choices next/> }.into_any()
                            }
                            // The connection exists but names an address Latchkey will not open.
                            Err(error @ AppError::SsoRefused { .. }) => view! {
                                <h1 class="mt-4 text-xl font-semibold">"We couldn't start single sign-on"</h1>
                                <p role="alert" class="mt-2 text-slate-600">{error.to_string()}</p>
                                <A href="/login" attr:class="mt-6 inline-block font-medium text-indigo-600 hover:underline">
                                    "Go to sign in"
                                </A>
                            }
                            .into_any(),
                            _ => view! {
                                <h1 class="mt-4 text-xl font-semibold">"Single sign-on isn't available here yet"</h1>
                                <p class="mt-2 text-slate-600">
                                    "This organization hasn't turned on single sign-on. Sign in with your email and password, or ask your Integrations Admin."
                                </p>
                                <A href="/login" attr:class="mt-6 inline-block font-medium text-indigo-600 hover:underline">
                                    "Go to sign in"
                                </A>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

/// One link per active connection; each starts that connection's sign-in.
#[component]
fn ConnectionChoice(slug: String, choices: Vec<SsoChoice>, next: Option<String>) -> impl IntoView {
    let href = move |connection: &str| {
        shared::redirect::org_login_path(&slug, Some(connection), next.as_deref())
    };
    view! {
        <h1 class="mt-4 text-xl font-semibold">"Choose how to sign in"</h1>
        <p class="mt-2 text-slate-600">"Your organization signs in through more than one identity provider. Pick the one your account is in."</p>
        <ul class="mt-6 space-y-2" aria-label="Sign-in options">
            {choices
                .into_iter()
                .map(|choice| {
                    let link = href(&choice.connection_id);
                    view! {
                        <li>
                            <a
                                href=link
                                rel="external"
                                class="block rounded-md border border-slate-300 px-4 py-2 font-medium text-slate-800 hover:border-indigo-500 hover:bg-indigo-50"
                            >
                                {format!("Continue with {}", choice.name)}
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        <A href="/login" attr:class="mt-6 inline-block text-sm font-medium text-indigo-600 hover:underline">
            "Use email and password instead"
        </A>
    }
}
