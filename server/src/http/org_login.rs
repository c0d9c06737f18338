//! `GET /login/{org_slug}`: a member's SP-initiated sign-in.
//!
//! A start that leads to the identity provider is answered with the `303`
//! alone. The page around it is never shown, and rendering it was 29 % of a
//! start's CPU samples (perf, stop 50). What the member must read, a choice
//! of connections or why sign-in cannot start, is the app's `OrgLoginPage`,
//! rendered from the start made here (`app::ssr::StartMadeBeforeRender`), so a
//! start is never made twice.

use super::AppState;
use app::backend::SsoStart;
use app::ssr::StartMadeBeforeRender;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Request;
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use leptos_router::location::RequestUrl;
use std::future::Future;
use std::pin::Pin;

/// The page's path, as axum and leptos' route list both write it.
pub const PAGE_PATH: &str = "/login/{org_slug}";

type PageFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The route, with the app's renderer for the pages a member must read.
pub fn route<R>(render_page: R) -> MethodRouter<AppState>
where
    R: Fn(Request<Body>) -> PageFuture + Clone + Send + Sync + 'static,
{
    get(
        move |State(state): State<AppState>, Path(org_slug): Path<String>, request| {
            start(state, org_slug, request, render_page.clone())
        },
    )
}

async fn start<R>(
    state: AppState,
    org_slug: String,
    mut request: Request<Body>,
    render_page: R,
) -> Response
where
    R: Fn(Request<Body>) -> PageFuture,
{
    let address = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let (connection, next) = query_of(address);
    let return_to = shared::redirect::local_path(next.as_deref());
    let made = state
        .backend
        .0
        .sso_start(&org_slug, connection.as_deref(), &return_to)
        .await;
    match made {
        Ok(SsoStart::Redirect { url, set_cookie }) => {
            super::sso::redirect_to_idp(crate::sso::service::Started { url, set_cookie })
        }
        made => {
            request.extensions_mut().insert(StartMadeBeforeRender(made));
            render_page(request).await
        }
    }
}

/// `connection` and `next` as the page reads them: leptos' parse of the
/// address, the last value of each.
fn query_of(path_and_query: &str) -> (Option<String>, Option<String>) {
    match RequestUrl::new(path_and_query).parse() {
        Ok(url) => {
            let params = url.search_params();
            (params.get("connection"), params.get("next"))
        }
        Err(_) => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::query_of;

    #[test]
    fn the_query_names_the_connection_and_where_to_go_next() {
        assert_eq!(
            query_of("/login/acme?connection=c1&next=/first&next=%2Fsettings%3Fa%3D1"),
            (Some("c1".into()), Some("/settings?a=1".into()))
        );
        assert_eq!(query_of("/login/acme"), (None, None));
    }
}
