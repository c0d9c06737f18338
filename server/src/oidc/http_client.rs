//! The HTTP client `openidconnect` calls the token, JWKS and UserInfo endpoints
//! with: the same outbound rules as every fetch an admin's settings can point
//! at (no private addresses unless allowed, a timeout, a size limit, no redirects).

use crate::outbound::{self, FetchError, OutboundPolicy};
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

#[derive(Debug, Clone, Copy, Default)]
pub struct OidcHttp(pub OutboundPolicy);

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let policy = self.0;
        Box::pin(async move { outbound::send(request, policy).await })
    }
}
