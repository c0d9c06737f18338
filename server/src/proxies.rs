//! Which address a request comes from. Behind a reverse proxy or load balancer
//! every TCP connection comes from the proxy, so the client's address is taken
//! from `X-Forwarded-For` — but only when the connection comes from a proxy the
//! operator named in `LATCHKEY_TRUSTED_PROXIES`. Anyone else could write any
//! address into that header and make each guess look like a new client.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The proxies whose `X-Forwarded-For` is believed (default: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `LATCHKEY_TRUSTED_PROXIES` entry that is neither an address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR range like 10.0.0.0/8 or fd00::/8")]
pub struct BadProxyEntry(pub String);

impl TrustedProxies {
    /// Comma-separated CIDR ranges; a bare address stands for itself (/32, /128).
    /// Blank entries are ignored; anything else that does not parse is an error,
    /// so a typo never silently trusts nobody (or everybody).
    pub fn parse(list: &str) -> Result<Self, BadProxyEntry> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .map(|net| net.trunc())
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| BadProxyEntry(entry.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn ranges(&self) -> &[IpNet] {
        &self.0
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the TCP peer, unless the peer is a trusted proxy.
    /// Then `X-Forwarded-For` (every header, in order, as one list) is read from
    /// the right, the end our own proxies wrote: trusted proxies are skipped and
    /// the first address that is not one is the client. An entry that is not an
    /// address means the list cannot be relied on, so the peer is used.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let headers: Vec<&str> = forwarded_for.into_iter().collect();
        let mut client = peer;
        for entry in headers.iter().rev().flat_map(|h| h.rsplit(',')) {
            let Some(address) = parse_entry(entry) else {
                return peer;
            };
            client = address;
            if !self.trusts(address) {
                return address;
            }
        }
        // Every hop was a trusted proxy: the leftmost is where it started.
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (some
/// proxies write `203.0.113.7:5123` or `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    #[test]
    fn parses_ranges_and_bare_addresses_and_refuses_typos() {
        let parsed = proxies(" 10.0.0.0/8, 192.0.2.1 ,fd00::/8,, ");
        let shown: Vec<String> = parsed.ranges().iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.1/32", "fd00::/8"]);
        assert!(proxies("").is_empty());
        for bad in [
            "10.0.0.0/33",
            "proxy.internal",
            "10.0.0.0/8;",
            "*",
            "10.0.0",
        ] {
            assert_eq!(
                TrustedProxies::parse(&format!("10.0.0.0/8,{bad}")),
                Err(BadProxyEntry(bad.to_string())),
                "{bad}"
            );
        }
    }

    /// Each case: trusted proxies, TCP peer, X-Forwarded-For headers, the client.
    #[test]
    fn the_client_is_the_first_untrusted_address_from_the_right() {
        let cases: &[(&str, &str, &[&str], &str)] = &[
            // Nobody trusted: the header is anyone's to write.
            ("", "203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // An untrusted peer's header is ignored.
            (
                "10.0.0.0/8",
                "203.0.113.9",
                &["198.51.100.1"],
                "203.0.113.9",
            ),
            // A trusted peer: the address it saw.
            ("10.0.0.0/8", "10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            // The client wrote a fake address first; our proxy appended the real one.
            (
                "10.0.0.0/8",
                "10.0.0.2",
                &["1.2.3.4, 198.51.100.1"],
                "198.51.100.1",
            ),
            // Two hops of ours, in two headers.
            (
                "10.0.0.0/8",
                "10.0.0.2",
                &["1.2.3.4, 198.51.100.1", "10.0.0.7"],
                "198.51.100.1",
            ),
            // Ports and IPv6.
            (
                "10.0.0.0/8",
                "10.0.0.2",
                &["198.51.100.1:5123"],
                "198.51.100.1",
            ),
            ("fd00::/8", "fd00::2", &["[2001:db8::1]:443"], "2001:db8::1"),
            // A v4 peer seen on a dual-stack socket.
            (
                "10.0.0.0/8",
                "::ffff:10.0.0.2",
                &["198.51.100.1"],
                "198.51.100.1",
            ),
            // No header, or an empty one: the peer.
            ("10.0.0.0/8", "10.0.0.2", &[], "10.0.0.2"),
            ("10.0.0.0/8", "10.0.0.2", &[""], "10.0.0.2"),
            // Garbage before an untrusted address is reached: the peer.
            (
                "10.0.0.0/8",
                "10.0.0.2",
                &["198.51.100.1, unknown"],
                "10.0.0.2",
            ),
            ("10.0.0.0/8", "10.0.0.2", &["<script>"], "10.0.0.2"),
            // Garbage left of the client is never read.
            (
                "10.0.0.0/8",
                "10.0.0.2",
                &["junk, 198.51.100.1"],
                "198.51.100.1",
            ),
            // Only trusted hops: the leftmost.
            (
                "10.0.0.0/8",
                "10.0.0.2",
                &["10.0.0.5, 10.0.0.6"],
                "10.0.0.5",
            ),
        ];
        for (trusted, peer, headers, client) in cases {
            assert_eq!(
                proxies(trusted).client_address(ip(peer), headers.iter().copied()),
                ip(client),
                "trusted {trusted:?}, peer {peer}, X-Forwarded-For {headers:?}"
            );
        }
    }
}
