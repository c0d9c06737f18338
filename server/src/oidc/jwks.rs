//! The providers' signing keys, fetched once per JWKS URL and fetched again
//! when an ID token names a key we have not seen (the provider rotated its
//! keys). Never more than one refetch per token, so a forged `kid` cannot make
//! Latchkey hammer the provider.

use super::http_client::OidcHttp;
use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::{DiscoveryError, JsonWebKeySetUrl};
use shared::{Diagnosis, DiagnosisCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct JwksCache {
    keys: Arc<Mutex<HashMap<String, CoreJsonWebKeySet>>>,
}

impl JwksCache {
    /// The cached keys, fetched on first use.
    pub async fn get(&self, uri: &str, http: &OidcHttp) -> Result<CoreJsonWebKeySet, Diagnosis> {
        let cached = self.lock().get(uri).cloned();
        match cached {
            Some(keys) => Ok(keys),
            None => self.refresh(uri, http).await,
        }
    }

    /// Fetches the keys again and keeps them.
    pub async fn refresh(
        &self,
        uri: &str,
        http: &OidcHttp,
    ) -> Result<CoreJsonWebKeySet, Diagnosis> {
        let url = JsonWebKeySetUrl::new(uri.to_string()).map_err(|e| unreachable(uri, e))?;
        let keys = CoreJsonWebKeySet::fetch_async(&url, http)
            .await
            .map_err(|e| unreachable(uri, describe(e)))?;
        self.lock().insert(uri.to_string(), keys.clone());
        Ok(keys)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CoreJsonWebKeySet>> {
        // A poisoned cache only ever holds whole key sets; keep using it.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn describe<E: std::error::Error>(error: DiscoveryError<E>) -> String {
    match error {
        DiscoveryError::Request(e) => e.to_string(),
        DiscoveryError::Response(status, _, _) => format!("HTTP status {status}"),
        DiscoveryError::Parse(e) => format!("not a JSON Web Key Set ({e})"),
        other => other.to_string(),
    }
}

fn unreachable(uri: &str, why: impl std::fmt::Display) -> Diagnosis {
    Diagnosis::new(DiagnosisCode::DiscoveryFailed)
        .with_expected(format!("The provider's signing keys at {uri}"))
        .with_received(why.to_string())
}
