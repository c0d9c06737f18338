//! Configuration from the environment; every variable has a default (README lists them).

use crate::proxies::TrustedProxies;
use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// The address admins and IdPs use; every absolute URL we show is built from it.
    pub public_url: Url,
    pub listen: SocketAddr,
    /// Where the SQLite file and the generated secret key live by default.
    pub data_dir: PathBuf,
    /// `LEPTOS_SITE_ROOT`: a folder of site files (WASM, JS, CSS, assets) to
    /// serve instead of the ones built into the binary.
    pub site_root: Option<String>,
    /// `LATCHKEY_SECRET_KEY`; when absent a key is generated into `data_dir`.
    pub secret_key: Option<String>,
    /// `LATCHKEY_ALLOW_PRIVATE_URLS`: let admins fetch metadata and discovery
    /// documents from private or loopback addresses (off by default).
    pub allow_private_urls: bool,
    /// `LATCHKEY_TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For`
    /// names the client (none by default: the TCP peer is the client).
    pub trusted_proxies: TrustedProxies,
    /// `LATCHKEY_DNS_SERVER`: the DNS server (ip:port) that domain verification
    /// asks; `None` uses the system's resolver.
    pub dns_server: Option<SocketAddr>,
    /// `LATCHKEY_METRICS_LISTEN`: where `GET /metrics` is served, apart from
    /// the public listener; `None` (the default) serves no metrics.
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("LATCHKEY_PUBLIC_URL must be an absolute http or https URL, got {0:?}")]
    PublicUrl(String),
    #[error("LATCHKEY_LISTEN must be an address like 127.0.0.1:3000, got {0:?}")]
    Listen(String),
    #[error("LATCHKEY_TRUSTED_PROXIES must list IP addresses or CIDR ranges separated by commas (e.g. 10.0.0.0/8,fd00::/8): {0}")]
    TrustedProxies(#[from] crate::proxies::BadProxyEntry),
    #[error("LATCHKEY_DNS_SERVER must be an address and port like 127.0.0.1:53, got {0:?}")]
    DnsServer(String),
    #[error("LATCHKEY_METRICS_LISTEN must be an address like 127.0.0.1:9464, got {0:?}")]
    MetricsListen(String),
}

impl std::fmt::Debug for Config {
    /// Leaves out the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_password(&self.database_url))
            .field("public_url", &self.public_url.as_str())
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("site_root", &self.site_root)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<set>"))
            .field("allow_private_urls", &self.allow_private_urls)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("dns_server", &self.dns_server)
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(lookup("LATCHKEY_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = lookup("LATCHKEY_DATABASE_URL").unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("latchkey.db").display()
            )
        });
        let public_raw =
            lookup("LATCHKEY_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into());
        let public_url = Url::parse(public_raw.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| ConfigError::PublicUrl(public_raw.clone()))?;
        let listen_raw = lookup("LATCHKEY_LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen = listen_raw
            .parse()
            .map_err(|_| ConfigError::Listen(listen_raw.clone()))?;
        let site_root = lookup("LEPTOS_SITE_ROOT");
        let secret_key = lookup("LATCHKEY_SECRET_KEY");
        let allow_private_urls = lookup("LATCHKEY_ALLOW_PRIVATE_URLS")
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
            .unwrap_or(false);
        let trusted_proxies =
            TrustedProxies::parse(&lookup("LATCHKEY_TRUSTED_PROXIES").unwrap_or_default())?;
        let dns_server = match lookup("LATCHKEY_DNS_SERVER").filter(|v| !v.trim().is_empty()) {
            Some(raw) => Some(
                raw.trim()
                    .parse()
                    .map_err(|_| ConfigError::DnsServer(raw.clone()))?,
            ),
            None => None,
        };
        let metrics_listen =
            match lookup("LATCHKEY_METRICS_LISTEN").filter(|v| !v.trim().is_empty()) {
                Some(raw) => Some(
                    raw.trim()
                        .parse()
                        .map_err(|_| ConfigError::MetricsListen(raw.clone()))?,
                ),
                None => None,
            };
        Ok(Self {
            metrics_listen,
            allow_private_urls,
            trusted_proxies,
            dns_server,
            secret_key,
            database_url,
            public_url,
            listen,
            data_dir,
            site_root,
        })
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// `scheme://host[:port]`, for comparing with a request's `Origin`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

/// The URL with any password replaced, for logs and debug output.
pub fn redact_password(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_a_local_sqlite_file_and_loopback() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://data/latchkey.db?mode=rwc");
        assert_eq!(c.public_origin(), "http://127.0.0.1:3000");
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert!(!c.secure_cookies());
        assert!(c.trusted_proxies.is_empty());
    }

    #[test]
    fn debug_output_hides_the_secret_key_and_database_password() {
        let c = config(&[
            ("LATCHKEY_SECRET_KEY", "super-secret-key-material"),
            (
                "LATCHKEY_DATABASE_URL",
                "postgres://app:hunter2@db/latchkey",
            ),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("super-secret-key-material"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let c = config(&[("LATCHKEY_PUBLIC_URL", "https://sso.example.com/")]).unwrap();
        assert!(c.secure_cookies());
        assert_eq!(c.public_origin(), "https://sso.example.com");
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        let e = config(&[("LATCHKEY_PUBLIC_URL", "ftp://x")]).unwrap_err();
        assert!(e.to_string().contains("LATCHKEY_PUBLIC_URL"));
        let e = config(&[("LATCHKEY_LISTEN", "nowhere")]).unwrap_err();
        assert!(e.to_string().contains("LATCHKEY_LISTEN"));
        let e = config(&[("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8, 10.0.0.300")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "LATCHKEY_TRUSTED_PROXIES must list IP addresses or CIDR ranges separated by commas \
             (e.g. 10.0.0.0/8,fd00::/8): \"10.0.0.300\" is not an IP address or a CIDR range \
             like 10.0.0.0/8 or fd00::/8"
        );
        let e = config(&[("LATCHKEY_DNS_SERVER", "127.0.0.1")]).unwrap_err();
        assert!(e.to_string().contains("LATCHKEY_DNS_SERVER"));
    }

    #[test]
    fn dns_server_is_the_system_resolver_unless_named() {
        assert_eq!(config(&[]).unwrap().dns_server, None);
        let c = config(&[("LATCHKEY_DNS_SERVER", "127.0.0.1:5353")]).unwrap();
        assert_eq!(c.dns_server, Some("127.0.0.1:5353".parse().unwrap()));
    }
}
