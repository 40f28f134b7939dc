//! The HTTP client toward upstreams: hyper with a connection pool, over plain TCP or rustls,
//! HTTP/1.1 or (an upstream's `http2 = true`) HTTP/2.
//!
//! The upstream's base URL is parsed once at start; a request only joins a path to it. No
//! redirects are followed and no header is added beyond `Host` (`:authority` on HTTP/2).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderValue, Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A pooled client for the upstreams with one set of [`ClientOptions`].
#[derive(Clone)]
pub struct UpstreamClient {
    inner: Client<HttpsConnector<HttpConnector>, Body>,
    /// The version every request is sent as: hyper refuses an HTTP/2 request on an HTTP/1
    /// connection, and the inbound request's version (HTTP/2 from an h2c caller) says nothing
    /// about the upstream's.
    version: Version,
}

/// How an [`UpstreamClient`] connects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The limit for establishing a TCP connection.
    pub connect_timeout: Duration,
    /// HTTP/2 only: prior knowledge over `http://`, ALPN `h2` over `https://` (an upstream's
    /// `http2 = true`). Otherwise HTTP/1.1.
    pub http2: bool,
    /// TLS toward https upstreams ([`crate::upstream::tls`]); `None`: the system's CA roots and
    /// no client certificate.
    pub tls: Option<rustls::ClientConfig>,
}

/// What went wrong before an upstream answered.
#[derive(Debug)]
pub enum SendError {
    /// No answer within the upstream's timeout.
    Timeout,
    /// Connecting, writing the request or reading the answer's head failed.
    Transport(hyper_util::client::legacy::Error),
}

impl UpstreamClient {
    /// Builds the client; fails only when the platform's TLS roots cannot be read.
    pub fn new(options: &ClientOptions) -> Result<Self, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.connect_timeout));
        let tls = match &options.tls {
            Some(config) => HttpsConnectorBuilder::new().with_tls_config(config.clone()),
            None => HttpsConnectorBuilder::new()
                .try_with_platform_verifier()
                .map_err(|e| format!("TLS set-up failed: {e}"))?,
        }
        .https_or_http();
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(Duration::from_secs(60));
        let (connector, version) = if options.http2 {
            // ALPN offers only h2; over plain TCP, HTTP/2 from the first byte (prior knowledge).
            builder.http2_only(true);
            (tls.enable_http2().wrap_connector(http), Version::HTTP_2)
        } else {
            (tls.enable_http1().wrap_connector(http), Version::HTTP_11)
        };
        Ok(Self {
            inner: builder.build(connector),
            version,
        })
    }

    /// True when requests go as HTTP/1.1 (hyper-util then adds a `Host` header when there is
    /// none; HTTP/2 carries `:authority` instead).
    pub fn is_http1(&self) -> bool {
        self.version == Version::HTTP_11
    }

    /// Sends `request` and waits at most `timeout` from `started` for the answer's head
    /// (`started` from the caller, who has read the clock already).
    pub async fn send(
        &self,
        mut request: Request<Body>,
        started: Instant,
        timeout: Duration,
    ) -> Result<Response<Incoming>, SendError> {
        *request.version_mut() = self.version;
        let sent = self.inner.request(request);
        let answered = match started.checked_add(timeout) {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), sent)
                .await
                .map_err(|_| SendError::Timeout)?,
            // Beyond what the clock can hold: no deadline to wait for.
            None => sent.await,
        };
        answered.map_err(SendError::Transport)
    }
}

/// An upstream's base URL, split once so that each request only appends its path.
#[derive(Clone, Debug)]
pub struct BaseUrl {
    scheme: Scheme,
    authority: Authority,
    /// The base path without a trailing slash (`""` for the root).
    path: String,
    text: String,
    /// The `Host` header of an HTTP/1.1 request to it, as hyper-util would write it (the port
    /// only when not the scheme's default): built once instead of formatted per request.
    host: HeaderValue,
}

impl BaseUrl {
    /// Parses an `http://` or `https://` URL without query or fragment.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim_end_matches('/');
        let uri: Uri = trimmed
            .parse()
            .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        let scheme = uri
            .scheme()
            .filter(|s| **s == Scheme::HTTP || **s == Scheme::HTTPS)
            .cloned()
            .ok_or_else(|| format!("{text:?} must start with http:// or https://"))?;
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("{text:?} has no host"))?;
        if uri.query().is_some() || trimmed.contains('#') {
            return Err(format!("{text:?} must not have a query or fragment"));
        }
        let default_port = match authority.port_u16() {
            Some(443) => scheme == Scheme::HTTPS,
            Some(80) => scheme == Scheme::HTTP,
            _ => false,
        };
        let host = match authority.port() {
            Some(port) if !default_port => format!("{}:{port}", authority.host()),
            _ => authority.host().to_owned(),
        };
        let host =
            HeaderValue::try_from(host).map_err(|_| format!("{text:?} has no valid host"))?;
        Ok(Self {
            scheme,
            host,
            authority,
            path: uri.path().trim_end_matches('/').to_owned(),
            text: trimmed.to_owned(),
        })
    }

    /// The `Host` header value for an HTTP/1.1 request to this URL.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The URL as configured, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The base joined with `path_and_query` (which starts with `/` or is empty).
    pub fn join(&self, path_and_query: &str) -> Result<Uri, axum::http::Error> {
        self.build(&[path_and_query])
    }

    /// The base joined with `path` (a `/` put before it when it has none) and `query` (after a
    /// `?`, unless it is empty): what [`BaseUrl::join`] makes of the two written out, without
    /// writing them out first.
    pub fn join_parts(&self, path: &str, query: Option<&str>) -> Result<Uri, axum::http::Error> {
        let slash = if path.is_empty() || path.starts_with('/') {
            ""
        } else {
            "/"
        };
        match query.filter(|q| !q.is_empty()) {
            Some(query) => self.build(&[slash, path, "?", query]),
            None => self.build(&[slash, path]),
        }
    }

    /// The base path followed by `pieces`, `/` first when that does not start with it. The text
    /// is allocated at its exact size: `Bytes` takes a full `Vec` over without allocating its
    /// shared header.
    fn build(&self, pieces: &[&str]) -> Result<Uri, axum::http::Error> {
        let first = std::iter::once(self.path.as_str())
            .chain(pieces.iter().copied())
            .find(|piece| !piece.is_empty());
        let lead = if first.is_some_and(|piece| piece.starts_with('/')) {
            ""
        } else {
            "/"
        };
        let len = lead.len() + self.path.len() + pieces.iter().map(|p| p.len()).sum::<usize>();
        let mut full = String::with_capacity(len);
        full.push_str(lead);
        full.push_str(&self.path);
        for piece in pieces {
            full.push_str(piece);
        }
        // Parts filled in place: the builder moves them through a `Result` at every step.
        let mut parts = axum::http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(PathAndQuery::try_from(full)?);
        Ok(Uri::from_parts(parts)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_joins_paths_without_doubling_slashes() {
        let base = BaseUrl::parse("http://engine:8080/engine-rest/").unwrap();
        assert_eq!(base.as_str(), "http://engine:8080/engine-rest");
        assert_eq!(
            base.join("/task?x=1").unwrap().to_string(),
            "http://engine:8080/engine-rest/task?x=1"
        );
        assert_eq!(
            base.join("").unwrap().to_string(),
            "http://engine:8080/engine-rest"
        );
        let root = BaseUrl::parse("https://api.example.com").unwrap();
        assert_eq!(
            root.join("").unwrap().to_string(),
            "https://api.example.com/"
        );
        assert_eq!(
            root.join("/a").unwrap().to_string(),
            "https://api.example.com/a"
        );
    }

    #[test]
    fn joined_parts_are_the_joined_text() {
        let bases = ["http://engine:8080/engine-rest/", "https://api.example.com"];
        let paths = ["", "/", "/a/b", "a/b"];
        let queries = [None, Some(""), Some("x=1&y")];
        for base in bases {
            let base = BaseUrl::parse(base).unwrap();
            for path in paths {
                for query in queries {
                    let mut text = if path.is_empty() || path.starts_with('/') {
                        path.to_owned()
                    } else {
                        format!("/{path}")
                    };
                    if let Some(query) = query.filter(|q| !q.is_empty()) {
                        text = format!("{text}?{query}");
                    }
                    assert_eq!(
                        base.join_parts(path, query).unwrap(),
                        base.join(&text).unwrap(),
                        "{path:?} {query:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn host_values_carry_the_port_unless_it_is_the_schemes_default() {
        for (url, host) in [
            ("http://engine:8080/engine-rest", "engine:8080"),
            ("http://engine:80", "engine"),
            ("http://engine:443", "engine:443"),
            ("https://api.example.com:443/", "api.example.com"),
            ("https://api.example.com:80/", "api.example.com:80"),
            ("https://api.example.com", "api.example.com"),
            ("http://[::1]:9000", "[::1]:9000"),
            ("http://user:pw@engine:81", "engine:81"),
        ] {
            assert_eq!(BaseUrl::parse(url).unwrap().host(), host, "{url}");
        }
    }

    #[test]
    fn base_url_refuses_what_it_cannot_forward_to() {
        for bad in [
            "engine:8080",
            "ftp://x/",
            "http://x/?q=1",
            "http://x/#f",
            "/relative",
            "",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
