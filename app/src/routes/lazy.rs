//! The settings pages as lazy routes. With `cargo leptos build --split` each
//! page's view code goes into its own WASM chunk, fetched when the page is
//! shown (and preloaded by the server for the first page), so the sign-in page
//! never downloads the settings forms. Each page loads its own data through its
//! server functions, so the routes carry no data of their own.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

macro_rules! lazy_page {
    ($route:ident, $page:path) => {
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                untrack(|| $page()).into_any()
            }
        }
    };
}

/// Authentication's chunk holds only the choice between its two parts, each a
/// chunk of its own (`authentication::part_view`). Its preload loads the part
/// the address shows as well, so the page is hydrated with both in.
pub struct AuthenticationRoute;

impl LazyRoute for AuthenticationRoute {
    fn data() -> Self {
        AuthenticationRoute
    }

    async fn view(_this: Self) -> AnyView {
        authentication_view().await
    }

    async fn preload() {
        #[cfg(feature = "hydrate")]
        {
            // The router gives the preload the address it is going to.
            let url = use_context::<ArcRwSignal<leptos_router::location::Url>>()
                .map(|url| url.get_untracked());
            __preload_authentication_view().await;
            if let Some(url) = url {
                crate::routes::authentication::preload_part(&url).await;
            }
        }
    }
}

#[leptos::lazy]
fn authentication_view() -> AnyView {
    untrack(crate::routes::authentication::AuthenticationSettings).into_any()
}

lazy_page!(
    ProvisioningRoute,
    crate::routes::provisioning::ProvisioningSettings
);
lazy_page!(AuditRoute, crate::routes::audit::AuditLog);
lazy_page!(MembersRoute, crate::routes::members::MembersSettings);
