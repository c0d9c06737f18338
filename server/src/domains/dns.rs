//! Looking up the TXT record that proves a domain claim. The lookup sits behind
//! a trait so HTTP tests can answer it without a network; the server uses
//! hickory-resolver with the system's resolver, or `LATCHKEY_DNS_SERVER`.

use async_trait::async_trait;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The longest a Verify waits for DNS before saying the lookup failed.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(8);

/// The lookup failed: nothing was learned about the record (timeout, server failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupFailed(pub String);

#[async_trait]
pub trait TxtLookup: Send + Sync {
    /// The TXT records at `name`, each record's character-strings joined
    /// (RFC 7208 §3.3); empty when the name or its TXT records do not exist.
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupFailed>;
}

pub type Dns = Arc<dyn TxtLookup>;

/// hickory-resolver, asking the system's resolver or one named server.
pub struct HickoryTxt {
    /// Why there is no resolver (e.g. no /etc/resolv.conf): every lookup then
    /// fails with that reason rather than the server refusing to start.
    resolver: Result<TokioResolver, String>,
}

impl HickoryTxt {
    /// `server`: `LATCHKEY_DNS_SERVER`; `None` reads the system configuration.
    pub fn new(server: Option<SocketAddr>) -> Self {
        let builder = match server {
            Some(address) => {
                let mut name_server = NameServerConfig::udp_and_tcp(address.ip());
                for connection in &mut name_server.connections {
                    connection.port = address.port();
                }
                Ok(TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![name_server]),
                    TokioRuntimeProvider::default(),
                ))
            }
            None => TokioResolver::builder_tokio().map_err(|e| e.to_string()),
        };
        let resolver = builder.and_then(|mut builder| {
            let options = builder.options_mut();
            options.timeout = Duration::from_secs(3);
            options.attempts = 2;
            // Verify runs when the admin has just published the record: an
            // answer remembered from the previous press would hide it.
            options.cache_size = 0;
            builder.build().map_err(|e| e.to_string())
        });
        if let Err(reason) = &resolver {
            tracing::warn!(%reason, "no DNS resolver: domain verification will fail until this is fixed");
        }
        Self { resolver }
    }
}

#[async_trait]
impl TxtLookup for HickoryTxt {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupFailed> {
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|reason| LookupFailed(format!("no DNS resolver: {reason}")))?;
        // Fully qualified, so no search domain is ever appended.
        let lookup = match resolver.txt_lookup(format!("{name}.")).await {
            Ok(lookup) => lookup,
            Err(error) if error.is_no_records_found() => return Ok(Vec::new()),
            Err(error) => return Err(LookupFailed(describe(&error))),
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }
}

/// A short reason for the admin; hickory's own wording otherwise.
fn describe(error: &NetError) -> String {
    match error {
        NetError::Timeout => "the DNS server did not answer in time".into(),
        NetError::Dns(dns) => format!("the DNS server answered: {dns}"),
        other => other.to_string(),
    }
}
