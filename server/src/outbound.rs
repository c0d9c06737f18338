//! Fetching a URL an admin typed (IdP metadata, OIDC discovery) without letting
//! them point Latchkey at its own network: http(s) only, a timeout, a size limit,
//! no redirects, and no private, loopback or link-local addresses unless the
//! operator allows them (`LATCHKEY_ALLOW_PRIVATE_URLS=true`, e.g. for an IdP on
//! the same private network). The address checked is the address connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// IPv4 ranges that are not the public internet (IANA's special-purpose
/// registry): a fetch may not reach them unless private addresses are allowed.
pub const INTERNAL_V4: &[(Ipv4Addr, u8, &str)] = &[
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        "\"this network\" (0.0.0.0 reaches the host itself)",
    ),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "carrier-grade NAT"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link-local, cloud metadata",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "6to4 relay anycast (deprecated)",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "reserved, and the broadcast address",
    ),
];

/// IPv6 ranges that are not the public internet. The ranges that carry an IPv4
/// address (IPv4-mapped, NAT64, 6to4) are not listed: [`embedded_v4`] judges
/// them by the address they carry.
pub const INTERNAL_V6: &[(Ipv6Addr, u8, &str)] = &[
    // Includes :: (unspecified) and ::1 (loopback). The rest of ::/96 is the
    // deprecated IPv4-compatible form (RFC 4291 §2.5.5.1), which no public host
    // uses and some stacks still tunnel: refused whatever it carries.
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        96,
        "IPv4-compatible, loopback, unspecified",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use NAT64",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only",
    ),
    // Teredo, benchmarking, ORCHID and other IETF assignments; no public
    // allocation starts before 2001:200::.
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments, Teredo",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "segment routing",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique local",
    ),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "site-local (deprecated)",
    ),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
];

fn in_v4(ip: Ipv4Addr, (network, prefix, _): &(Ipv4Addr, u8, &str)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(*network) & mask
}

fn in_v6(ip: Ipv6Addr, (network, prefix, _): &(Ipv6Addr, u8, &str)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(*network) & mask
}

/// The IPv4 address an IPv6 address stands for, where the network delivers it
/// to that IPv4 host: IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`
/// (RFC 6052) and 6to4 `2002::/16` (RFC 3056, the address in bits 16–47).
/// `64:ff9b::127.0.0.1` reaches loopback through a NAT64 gateway, so it is as
/// internal as `127.0.0.1`; `64:ff9b::8.8.8.8` is a public host.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// Addresses a fetch may not reach unless the operator allows private addresses.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => INTERNAL_V4.iter().any(|range| in_v4(v4, range)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_internal(IpAddr::V4(v4)),
            None => INTERNAL_V6.iter().any(|range| in_v6(v6, range)),
        },
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

    /// The first and last address of a range.
    fn ends_v4(&(network, prefix, _): &(Ipv4Addr, u8, &str)) -> [Ipv4Addr; 2] {
        let size = 1u64 << (32 - prefix);
        let first = u32::from(network);
        [first.into(), ((u64::from(first) + size - 1) as u32).into()]
    }

    fn ends_v6(&(network, prefix, _): &(Ipv6Addr, u8, &str)) -> [Ipv6Addr; 2] {
        let first = u128::from(network);
        let last = first | (u128::MAX >> prefix);
        [first.into(), last.into()]
    }

    /// Every range in both tables is internal from its first address to its
    /// last, and so is every IPv6 form that carries an internal IPv4 address.
    #[test]
    fn every_internal_range_is_refused_end_to_end() {
        for range in INTERNAL_V4 {
            for ip in ends_v4(range) {
                assert!(is_internal(ip.into()), "{ip} ({})", range.2);
                let [a, b, c, d] = ip.octets();
                for carried in [
                    format!("::ffff:{ip}"),
                    format!("64:ff9b::{ip}"),
                    format!("2002:{:02x}{:02x}:{:02x}{:02x}::1", a, b, c, d),
                    format!("::{ip}"),
                ] {
                    let v6: Ipv6Addr = carried.parse().unwrap();
                    assert!(is_internal(v6.into()), "{carried} carries {ip}");
                }
            }
        }
        for range in INTERNAL_V6 {
            for ip in ends_v6(range) {
                assert!(is_internal(ip.into()), "{ip} ({})", range.2);
            }
        }
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101:1::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2001:200::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
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
