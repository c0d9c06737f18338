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

lazy_page!(
    AuthenticationRoute,
    crate::routes::authentication::AuthenticationSettings
);
lazy_page!(
    ProvisioningRoute,
    crate::routes::provisioning::ProvisioningSettings
);
lazy_page!(AuditRoute, crate::routes::audit::AuditLog);
lazy_page!(MembersRoute, crate::routes::members::MembersSettings);
