//! `trusted_proxies`: which peers' `X-Forwarded-*` headers are believed. A load balancer in one
//! of these networks has already recorded the client, the scheme and the host it was asked for;
//! anyone else could write any value, so theirs are replaced by the proxy's own reading.

use std::net::IpAddr;

use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

/// The networks of the trusted peers, parsed at load.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trusts the peers in `networks` (none: nobody is trusted).
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self { networks }
    }

    /// Whether `peer` is in a trusted network. An empty list answers without looking at the
    /// address; an IPv4 peer seen on a dual-stack socket (`::ffff:10.1.2.3`) counts as IPv4.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        if self.networks.is_empty() {
            return false;
        }
        let peer = peer.to_canonical();
        self.networks.iter().any(|network| network.contains(&peer))
    }
}

/// The scheme the request reached the proxy with: `https` on the TLS listener (`secure`), else
/// `http`. It is the `X-Forwarded-Proto` sent upstream unless a trusted peer sent its own.
pub fn own_proto(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static("https")
    } else {
        HeaderValue::from_static("http")
    }
}

/// The trusted peer's `X-Forwarded-Proto`, when it is one header whose value is `http` or
/// `https` (any case); anything else is not believed.
pub fn forwarded_proto(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    if value.as_bytes().eq_ignore_ascii_case(b"https") {
        Some(HeaderValue::from_static("https"))
    } else if value.as_bytes().eq_ignore_ascii_case(b"http") {
        Some(HeaderValue::from_static("http"))
    } else {
        None
    }
}

/// The trusted peer's `X-Forwarded-Host`, when it is one header holding a host with an optional
/// port (no user information, path or list); anything else is not believed.
pub fn forwarded_host(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = value.to_str().ok()?;
    let authority: Authority = text.parse().ok()?;
    // `Authority` accepts `user@host`; a host never has one.
    (!text.contains('@') && !authority.host().is_empty()).then(|| value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    const HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

    fn networks(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn peers_in_a_listed_network_are_trusted_and_nobody_else() {
        let trusted = networks(&["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
        for peer in ["10.1.2.3", "127.0.0.1", "::1", "::ffff:10.0.0.1"] {
            assert!(trusted.trusts(peer.parse().unwrap()), "{peer}");
        }
        for peer in ["11.0.0.1", "127.0.0.2", "::2", "192.168.0.1"] {
            assert!(!trusted.trusts(peer.parse().unwrap()), "{peer}");
        }
        assert!(!TrustedProxies::default().trusts("127.0.0.1".parse().unwrap()));
    }

    fn with(name: &HeaderName, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(name, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn only_http_or_https_is_a_forwarded_proto() {
        assert_eq!(
            forwarded_proto(&with(&PROTO, &["https"]), &PROTO).unwrap(),
            "https"
        );
        assert_eq!(
            forwarded_proto(&with(&PROTO, &["HTTP"]), &PROTO).unwrap(),
            "http"
        );
        for bad in [&["ftp"][..], &["https, http"], &["https", "https"], &[]] {
            assert_eq!(forwarded_proto(&with(&PROTO, bad), &PROTO), None, "{bad:?}");
        }
    }

    #[test]
    fn only_a_host_and_port_is_a_forwarded_host() {
        for good in ["app.example", "app.example:8443", "10.0.0.1", "[::1]:80"] {
            assert_eq!(forwarded_host(&with(&HOST, &[good]), &HOST).unwrap(), good);
        }
        for bad in [
            &["u@app.example"][..],
            &["a.example, b.example"],
            &["a/b"],
            &["a", "b"],
        ] {
            assert_eq!(forwarded_host(&with(&HOST, bad), &HOST), None, "{bad:?}");
        }
    }
}
