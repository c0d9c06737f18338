//! A request id for every request: the `X-Request-Id` a trusted front end sent
//! (when it is a plain token), or a new UUID. It is echoed in the answer and
//! names the tracing span the request's log lines run in, so one id finds a
//! request in the proxy's log, ours and the browser's network panel.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id taken from a request; longer ones are replaced.
const MAX_LEN: usize = 64;

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_plain_token(v))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let value = HeaderValue::from_str(&id).expect("a plain token is a header value");
    request.headers_mut().insert(HEADER, value.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let answered = crate::request_context::scope(Some(id), next.run(request));
    let mut response = answered.instrument(span).await;
    response.headers_mut().insert(HEADER, value);
    response
}

/// Letters, digits, `-`, `_` and `.`, at most [`MAX_LEN`]: nothing a log
/// reader could mistake for another field or line.
fn is_plain_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tokens_are_taken_from_the_request() {
        for good in ["abc-123", "5f0c7e0e-8a0b-4c57-9a5f-0f6d3f0c1e2a", "req_1.2"] {
            assert!(is_plain_token(good), "{good}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for bad in ["", "a b", "a\"b", "line\nbreak", "{}", long.as_str()] {
            assert!(!is_plain_token(bad), "{bad:?}");
        }
    }
}
