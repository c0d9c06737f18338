//! The providers' signing keys, per JWKS URL.
//!
//! Keys are kept as long as the provider's `Cache-Control: max-age` says
//! (within bounds), so a key the provider removed (rotated out, or revoked
//! after a leak) stops being trusted once that time is up: every fetch replaces
//! the whole set. An ID token naming a key we do not hold triggers one fetch,
//! at most once per `UNKNOWN_KID_COOLDOWN` per URL, so a stream of tokens with
//! made-up `kid`s cannot make Latchkey hammer the provider.

use super::http_client::OidcHttp;
use crate::outbound::{self, FetchError};
use openidconnect::core::CoreJsonWebKeySet;
use shared::{Diagnosis, DiagnosisCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long keys are kept when the provider says nothing.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// The longest a key is trusted without asking again, whatever the provider says.
pub const LONGEST_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// The least time between two fetches triggered by unknown `kid`s.
pub const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Entry {
    keys: CoreJsonWebKeySet,
    fresh_until: Instant,
    /// When an unknown `kid` last made us fetch.
    kid_refetch_at: Option<Instant>,
}

#[derive(Clone, Default)]
pub struct JwksCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl JwksCache {
    /// The keys, fetched again when the provider's max-age has passed.
    pub async fn get(&self, uri: &str, http: &OidcHttp) -> Result<CoreJsonWebKeySet, Diagnosis> {
        let cached = self.lock().get(uri).cloned();
        match cached {
            Some(entry) if Instant::now() < entry.fresh_until => Ok(entry.keys),
            _ => self.fetch(uri, http, None).await,
        }
    }

    /// The keys after a token named one we do not hold: fetched again unless
    /// that happened less than `UNKNOWN_KID_COOLDOWN` ago (then `None`).
    pub async fn refresh_for_unknown_kid(
        &self,
        uri: &str,
        http: &OidcHttp,
    ) -> Result<Option<CoreJsonWebKeySet>, Diagnosis> {
        let now = Instant::now();
        let cooling = self
            .lock()
            .get(uri)
            .and_then(|entry| entry.kid_refetch_at)
            .is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_COOLDOWN);
        if cooling {
            return Ok(None);
        }
        self.fetch(uri, http, Some(now)).await.map(Some)
    }

    async fn fetch(
        &self,
        uri: &str,
        http: &OidcHttp,
        kid_refetch_at: Option<Instant>,
    ) -> Result<CoreJsonWebKeySet, Diagnosis> {
        let (keys, max_age) = download(uri, http).await?;
        let mut entries = self.lock();
        let previous_kid_refetch = entries.get(uri).and_then(|e| e.kid_refetch_at);
        entries.insert(
            uri.to_string(),
            Entry {
                keys: keys.clone(),
                fresh_until: Instant::now() + max_age,
                kid_refetch_at: kid_refetch_at.or(previous_kid_refetch),
            },
        );
        Ok(keys)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned cache only ever holds whole entries; keep using it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn download(uri: &str, http: &OidcHttp) -> Result<(CoreJsonWebKeySet, Duration), Diagnosis> {
    let request = http::Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| unreachable(uri, e))?;
    let response = outbound::send(request, http.0)
        .await
        .map_err(|e: FetchError| unreachable(uri, e))?;
    if !response.status().is_success() {
        return Err(unreachable(
            uri,
            format!("HTTP status {}", response.status().as_u16()),
        ));
    }
    let keys: CoreJsonWebKeySet = serde_json::from_slice(response.body())
        .map_err(|e| unreachable(uri, format!("not a JSON Web Key Set ({e})")))?;
    Ok((keys, max_age(response.headers())))
}

/// The `max-age` of a `Cache-Control` header, bounded; `no-cache`/`no-store`
/// mean "ask every time".
pub fn max_age(headers: &http::HeaderMap) -> Duration {
    let directives: Vec<String> = headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    if directives
        .iter()
        .any(|d| d == "no-cache" || d == "no-store")
    {
        return Duration::ZERO;
    }
    directives
        .iter()
        .find_map(|d| d.strip_prefix("max-age="))
        .and_then(|seconds| seconds.trim_matches('"').parse::<u64>().ok())
        .map_or(DEFAULT_MAX_AGE, |seconds| {
            Duration::from_secs(seconds).min(LONGEST_MAX_AGE)
        })
}

fn unreachable(uri: &str, why: impl std::fmt::Display) -> Diagnosis {
    Diagnosis::new(DiagnosisCode::DiscoveryFailed)
        .with_expected(format!("The provider's signing keys at {uri}"))
        .with_received(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for value in values {
            map.append(http::header::CACHE_CONTROL, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn max_age_follows_the_provider_within_bounds() {
        let cases: &[(&[&str], Duration)] = &[
            (&[], DEFAULT_MAX_AGE),
            (&["public, max-age=300"], Duration::from_secs(300)),
            (&["public", "Max-Age=60"], Duration::from_secs(60)),
            (&["max-age=31536000"], LONGEST_MAX_AGE),
            (&["max-age=0"], Duration::ZERO),
            (&["no-store"], Duration::ZERO),
            (&["max-age=3600, no-cache"], Duration::ZERO),
            (&["max-age=soon"], DEFAULT_MAX_AGE),
        ];
        for (values, expected) in cases {
            assert_eq!(max_age(&headers(values)), *expected, "{values:?}");
        }
    }
}
