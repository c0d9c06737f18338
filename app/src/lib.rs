#![recursion_limit = "256"]
//! Latchkey's pages and server functions. Compiled twice: with `ssr` into the
//! server binary, with `hydrate` into the WASM bundle.

pub mod components;
pub mod error;
pub mod functions;
pub mod page_data;
pub mod routes;

#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(feature = "ssr")]
pub mod ssr;

use components::Announcements;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

use routes::{
    handover::ContinuePage,
    home::HomePage,
    lazy::{AuditRoute, AuthenticationRoute, MembersRoute, ProvisioningRoute},
    login::{LoginPage, OrgLoginPage},
    not_found::NotFound,
    settings::SettingsLayout,
};

/// The HTML document around the application, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let announcer = components::announcer::provide_announcer();
    view! {
        <Stylesheet id="leptos" href="/pkg/latchkey.css"/>
        <Link rel="icon" href="/favicon.ico"/>
        <Title text="Latchkey"/>
        <Router>
            <Routes fallback=NotFound>
                // Async: the status (302, 401, 403) is known before the first byte is sent.
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/continue") view=ContinuePage/>
                <Route path=path!("/login/:org_slug") view=OrgLoginPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("/settings") view=SettingsLayout ssr=SsrMode::Async>
                    // Lazy: each settings page is its own WASM chunk (see routes::lazy).
                    <Route path=path!("/authentication") view={Lazy::<AuthenticationRoute>::new()}/>
                    <Route path=path!("/provisioning") view={Lazy::<ProvisioningRoute>::new()}/>
                    <Route path=path!("/members") view={Lazy::<MembersRoute>::new()}/>
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()}/>
                    <Route
                        path=path!("")
                        view=|| view! { <Redirect path="/settings/authentication"/> }
                    />
                </ParentRoute>
            </Routes>
        </Router>
        <Announcements announcer/>
    }
}
