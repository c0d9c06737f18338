//! Fetching a URL an admin typed (IdP metadata, OIDC discovery) without letting
//! them point Latchkey at its own network: http(s) only, a timeout, a size limit,
//! no redirects, and no private, loopback or link-local addresses unless the
//! operator allows them (`LATCHKEY_ALLOW_PRIVATE_URLS=true`, e.g. for an IdP on
//! the same private network). The address checked is the address connected to.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::Url;

pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct OutboundPolicy {
    pub allow_private_addresses: bool,
    pub timeout: Duration,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            timeout: FETCH_TIMEOUT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("Use an http:// or https:// URL.")]
    Scheme,
    #[error("The URL is not valid: {0}.")]
    InvalidUrl(String),
    #[error("The host {0} could not be found. Check the spelling, and that Latchkey's server can reach it.")]
    UnknownHost(String),
    #[error("{0} is a private or local network address, which Latchkey does not fetch from. Use the identity provider's public URL, or ask your operator to allow private addresses.")]
    PrivateAddress(String),
    #[error("The server did not answer within {} seconds.", *.0 as f64 / 1000.0)]
    Timeout(u64),
    #[error("The server could not be reached: {0}.")]
    Unreachable(String),
    #[error("The server answered with HTTP status {0}.")]
    Status(u16),
    #[error("The URL redirects to {0}. Paste that address instead.")]
    Redirect(String),
    #[error("The response is larger than {0} KiB.")]
    TooLarge(usize),
}

impl FetchError {
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Scheme => "unsupported_scheme",
            FetchError::InvalidUrl(_) => "invalid_url",
            FetchError::UnknownHost(_) => "unknown_host",
            FetchError::PrivateAddress(_) => "private_address",
            FetchError::Timeout(_) => "timeout",
            FetchError::Unreachable(_) => "unreachable",
            FetchError::Status(_) => "http_status",
            FetchError::Redirect(_) => "redirect",
            FetchError::TooLarge(_) => "too_large",
        }
    }
}

/// Addresses a fetch may not reach unless the operator allows private addresses.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
        }
    }
}

/// GETs `raw_url` under the policy and returns the body as text.
pub async fn fetch_text(raw_url: &str, policy: OutboundPolicy) -> Result<String, FetchError> {
    let url = checked_url(raw_url)?;
    let client = client_for(&url, policy).await?;
    let classify = |e| classify(e, policy.timeout);
    let mut response = client.get(url).send().await.map_err(classify)?;
    let status = response.status();
    if status.is_redirection() {
        let target = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("another address")
            .to_string();
        return Err(FetchError::Redirect(target));
    }
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    let body = read_body(&mut response, policy).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Sends any request under the policy (the OpenID Connect token, JWKS and
/// UserInfo calls) and returns the answer whatever its status: an error status
/// carries the provider's explanation. Redirects are returned, not followed.
pub async fn send(
    request: http::Request<Vec<u8>>,
    policy: OutboundPolicy,
) -> Result<http::Response<Vec<u8>>, FetchError> {
    let url = checked_url(&request.uri().to_string())?;
    let client = client_for(&url, policy).await?;
    let classify = |e| classify(e, policy.timeout);
    let (parts, body) = request.into_parts();
    let mut response = client
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(classify)?;
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = read_body(&mut response, policy).await?;
    answer
        .body(body)
        .map_err(|e| FetchError::Unreachable(e.to_string()))
}

fn checked_url(raw_url: &str) -> Result<Url, FetchError> {
    let url = Url::parse(raw_url.trim()).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Scheme);
    }
    Ok(url)
}

/// A client that can only reach the address checked against the policy.
async fn client_for(url: &Url, policy: OutboundPolicy) -> Result<reqwest::Client, FetchError> {
    let host = url
        .host_str()
        .ok_or_else(|| FetchError::InvalidUrl("it has no host".into()))?
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let address = resolve(&host, port, policy).await?;
    reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        // Connect to the address that was checked, not to a second DNS answer.
        .resolve(&host, address)
        .user_agent("Latchkey")
        .build()
        .map_err(|e| FetchError::Unreachable(e.to_string()))
}

async fn read_body(
    response: &mut reqwest::Response,
    policy: OutboundPolicy,
) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(e, policy.timeout))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(FetchError::TooLarge(MAX_RESPONSE_BYTES / 1024));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn resolve(host: &str, port: u16, policy: OutboundPolicy) -> Result<SocketAddr, FetchError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| FetchError::UnknownHost(host.to_string()))?
        .collect();
    let first = *addresses
        .first()
        .ok_or_else(|| FetchError::UnknownHost(host.to_string()))?;
    if !policy.allow_private_addresses {
        if let Some(internal) = addresses.iter().find(|a| is_internal(a.ip())) {
            return Err(FetchError::PrivateAddress(internal.ip().to_string()));
        }
    }
    Ok(first)
}

fn classify(error: reqwest::Error, timeout: Duration) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout(timeout.as_millis() as u64)
    } else {
        // The innermost cause says the most ("Connection refused", a TLS problem).
        let mut cause: &dyn std::error::Error = &error;
        while let Some(next) = cause.source() {
            cause = next;
        }
        FetchError::Unreachable(cause.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    /// Serves `routes` on loopback; `/slow` answers after two seconds.
    async fn serve(big: usize) -> std::net::SocketAddr {
        use axum::routing::get;
        let router = axum::Router::new()
            .route("/big", get(move || async move { "x".repeat(big) }))
            .route("/ok", get(|| async { "<EntityDescriptor/>" }))
            .route(
                "/moved",
                get(|| async { axum::response::Redirect::temporary("http://169.254.169.254/") }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    "late"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.ok() });
        address
    }

    #[tokio::test]
    async fn enforces_size_limit_redirect_refusal_and_timeout() {
        let server = serve(MAX_RESPONSE_BYTES + 1).await;
        let policy = OutboundPolicy {
            allow_private_addresses: true,
            timeout: Duration::from_millis(300),
        };
        let url = |path: &str| format!("http://{server}{path}");
        assert_eq!(
            fetch_text(&url("/ok"), policy).await.as_deref(),
            Ok("<EntityDescriptor/>")
        );
        assert_eq!(
            fetch_text(&url("/big"), policy).await,
            Err(FetchError::TooLarge(MAX_RESPONSE_BYTES / 1024))
        );
        assert_eq!(
            fetch_text(&url("/moved"), policy).await,
            Err(FetchError::Redirect("http://169.254.169.254/".into()))
        );
        assert_eq!(
            fetch_text(&url("/slow"), policy).await,
            Err(FetchError::Timeout(300))
        );
        assert_eq!(
            fetch_text(&url("/missing"), policy).await,
            Err(FetchError::Status(404))
        );
    }

    #[tokio::test]
    async fn refuses_loopback_and_other_schemes_by_default() {
        let policy = OutboundPolicy::default();
        assert_eq!(
            fetch_text("http://127.0.0.1:9/metadata", policy).await,
            Err(FetchError::PrivateAddress("127.0.0.1".into()))
        );
        assert_eq!(
            fetch_text("http://[::1]:9/", policy).await,
            Err(FetchError::PrivateAddress("::1".into()))
        );
        assert_eq!(
            fetch_text("file:///etc/passwd", policy).await,
            Err(FetchError::Scheme)
        );
        assert_eq!(
            fetch_text("ftp://example.com/x", policy).await,
            Err(FetchError::Scheme)
        );
        assert!(matches!(
            fetch_text("not a url", policy).await,
            Err(FetchError::InvalidUrl(_))
        ));
    }
}
