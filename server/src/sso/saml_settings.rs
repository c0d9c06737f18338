//! What a SAML connection's row says the ACS must check, prepared once.
//!
//! Preparing means parsing the certificates and building samael's view of the
//! IdP: work that is the same for every response until an admin saves the
//! connection. The ACS reads the connection's row for every response anyway,
//! so the cache is keyed by what the row says: a save made through any
//! instance is in force at the next response, with nothing to invalidate.

use crate::connections::PublicUrls;
use crate::entities::sso_connection::Model as Connection;
use crate::saml::certificate::parse_pem_bundle;
use crate::saml::response::{PreparedSettings, SamlSettings};
use chrono::{DateTime, Utc};
use shared::{Diagnosis, DiagnosisCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Connections kept before the cache starts over (each entry is a few KB).
const MAX_ENTRIES: usize = 10_000;

/// The fields of a connection row that the prepared settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    entity_id: String,
    certificates_pem: String,
    allow_idp_initiated: bool,
    sign_requests: bool,
}

impl Source {
    fn of(connection: &Connection) -> Self {
        Self {
            entity_id: connection.saml_entity_id.trim().to_string(),
            certificates_pem: connection.saml_certificates.clone(),
            allow_idp_initiated: connection.allow_idp_initiated,
            sign_requests: connection.saml_sign_requests,
        }
    }
}

struct Entry {
    source: Source,
    prepared: Arc<PreparedSettings>,
}

#[derive(Clone, Default)]
pub struct PreparedSamlCache {
    entries: Arc<Mutex<HashMap<Uuid, Arc<Entry>>>>,
}

impl PreparedSamlCache {
    /// The connection's prepared settings, or why it cannot check a response.
    pub fn get(
        &self,
        connection: &Connection,
        urls: &PublicUrls,
        now: DateTime<Utc>,
    ) -> Result<Arc<PreparedSettings>, Diagnosis> {
        let source = Source::of(connection);
        let cached = self.lock().get(&connection.id).cloned();
        if let Some(entry) = cached {
            if entry.source == source && entry.prepared.holds_at(now) {
                return Ok(entry.prepared.clone());
            }
        }
        let settings = settings(connection.id, &source, urls)?;
        let prepared = Arc::new(PreparedSettings::new(settings, now));
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            connection.id,
            Arc::new(Entry {
                source,
                prepared: prepared.clone(),
            }),
        );
        Ok(prepared)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Entry>>> {
        // A panic while holding the lock leaves a map that is still valid.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn settings(id: Uuid, source: &Source, urls: &PublicUrls) -> Result<SamlSettings, Diagnosis> {
    let not_configured = |what: &str| {
        Diagnosis::new(DiagnosisCode::ConnectionNotConfigured)
            .with_expected(what.to_string())
            .with_received("(not set)")
    };
    if source.entity_id.is_empty() {
        return Err(not_configured("The IdP Entity ID"));
    }
    let certificates = parse_pem_bundle(&source.certificates_pem)
        .map_err(|_| not_configured("The IdP's X.509 signing certificate"))?;
    if certificates.is_empty() {
        return Err(not_configured("The IdP's X.509 signing certificate"));
    }
    Ok(SamlSettings {
        sp_entity_id: urls.sp_entity_id(id),
        acs_url: urls.acs_url(id),
        idp_entity_id: source.entity_id.clone(),
        certificates,
        allow_idp_initiated: source.allow_idp_initiated,
        sign_requests: source.sign_requests,
    })
}
