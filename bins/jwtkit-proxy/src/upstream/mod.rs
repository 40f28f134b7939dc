//! Upstreams: where requests go, with which credentials ([`credentials`]) over which TLS
//! ([`tls`]), and how their failures are reported.

pub mod credentials;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use hyper::body::Incoming;
use jwtkit_secret::Secret;

pub use credentials::render;

use crate::auth::Caller;
use crate::client::{BaseUrl, SendError, UpstreamClient};
use crate::config::{ConfigError, UpstreamSection};
use crate::error::{ApiError, ErrorKind};
use crate::metrics::Metrics;
use credentials::Credentials;

/// One configured upstream.
pub struct Upstream {
    /// Its name in the configuration.
    pub name: String,
    base: BaseUrl,
    timeout: Duration,
    credentials: Credentials,
    identity_headers: Vec<(HeaderName, String)>,
    client: UpstreamClient,
    metrics: Arc<Metrics>,
}

impl Upstream {
    /// Builds an upstream; secrets are read now so a bad one stops the start.
    pub fn from_config(
        index: usize,
        section: &UpstreamSection,
        client: UpstreamClient,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ConfigError> {
        let key = format!("upstreams[{index}]");
        let base = BaseUrl::parse(&section.url).map_err(|e| {
            ConfigError::new(
                format!("{key}.url"),
                e,
                "use a URL such as http://engine:8080/engine-rest",
            )
        })?;
        let credentials = Credentials::from_config(&key, &section.auth)?;
        let identity_headers = section
            .identity_headers
            .iter()
            .map(|(name, claim)| {
                HeaderName::try_from(name.as_str())
                    .map(|h| (h, claim.clone()))
                    .map_err(|_| {
                        ConfigError::new(
                            format!("{key}.identity_headers"),
                            format!("{name:?} is not a header name"),
                            "use names like X-User-Id",
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: section.name.clone(),
            base,
            timeout: Duration::from_secs(section.timeout_seconds),
            credentials,
            identity_headers,
            client,
            metrics,
        })
    }

    /// The key of the tokens minted for this upstream (`auth = mint`), if any.
    pub fn minting_secret(&self) -> Option<&Secret> {
        self.credentials.minting_secret()
    }

    /// A loggable identifier of the credential the proxy presents (never the credential).
    pub fn credential_fingerprint(&self) -> Option<String> {
        self.credentials.fingerprint()
    }

    /// What kind of credential, for the start-up log.
    pub fn credential_kind(&self) -> &'static str {
        self.credentials.kind()
    }

    /// How long the upstream may stay silent: before its answer starts, and between parts of it.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// True when the upstream answers a GET of its base URL with any status within `timeout`.
    pub async fn is_reachable(&self, timeout: Duration) -> bool {
        let Ok(uri) = self.base.join("") else {
            return false;
        };
        let Ok(request) = Request::get(uri).body(Body::empty()) else {
            return false;
        };
        self.client
            .send(request, Instant::now(), timeout)
            .await
            .is_ok()
    }

    /// 504 for this upstream not answering in time.
    pub fn timeout_error(&self) -> ApiError {
        ApiError::new(
            ErrorKind::UpstreamTimeout,
            format!("upstream {} did not answer in time", self.name),
        )
    }

    /// 502 for this upstream not being reachable, or breaking the connection.
    pub fn unreachable_error(&self) -> ApiError {
        ApiError::new(
            ErrorKind::UpstreamUnreachable,
            format!("upstream {} cannot be reached", self.name),
        )
    }

    /// Sets the upstream Authorization and identity headers for `caller`.
    fn add_credentials(&self, headers: &mut HeaderMap, caller: &Caller) -> Result<(), ApiError> {
        if let Some(value) = self.credentials.authorization(caller)? {
            headers.insert(header::AUTHORIZATION, value);
        }
        for (name, claim) in &self.identity_headers {
            // Only the token may set these: a caller's own value is dropped even when the
            // claim is missing (the strip prefixes may not cover this name).
            headers.remove(name);
            let Some(text) = caller.claim_text(claim) else {
                continue;
            };
            // HTTP drops a field value's outer whitespace (RFC 9110 §5.5): `"admin "` would
            // reach the upstream as another user's `admin`.
            if text.trim_matches([' ', '\t']).len() != text.len() {
                return Err(ApiError::forbidden(format!(
                    "the token's {claim} claim starts or ends with whitespace and cannot be passed on"
                )));
            }
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.insert(name.clone(), value);
            }
        }
        Ok(())
    }

    /// Sends a request to the base URL joined with `target`, a path and a query
    /// ([`BaseUrl::join_parts`]); maps transport failures, upstream 5xx and a rejection of the proxy's
    /// own credentials to the caller-facing errors (502, 504). A request body that fails while
    /// being sent (client gone, size limit) fails the whole request.
    pub async fn send(
        &self,
        caller: &Caller,
        method: Method,
        target: (&str, Option<&str>),
        mut headers: HeaderMap,
        body: Body,
    ) -> Result<axum::http::Response<Incoming>, ApiError> {
        self.add_credentials(&mut headers, caller)?;
        let uri = self
            .base
            .join_parts(target.0, target.1)
            .map_err(|_| ApiError::bad_request("the request path cannot be forwarded"))?;
        if self.client.is_http1() {
            // The upstream's own `Host` (never the caller's), as hyper-util would write it
            // without one, but built once instead of formatted per request.
            headers.insert(header::HOST, self.base.host().clone());
        } else {
            // HTTP/2 names the authority in `:authority`, from the URI.
            headers.remove(header::HOST);
        }
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let started = Instant::now();
        let result = self.client.send(request, started, self.timeout).await;
        self.metrics.observe_upstream(&self.name, started.elapsed());
        let response = match result {
            Ok(response) => response,
            Err(SendError::Timeout) => return Err(self.timeout_error()),
            Err(SendError::Transport(_)) => return Err(self.unreachable_error()),
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED
            && let Some(fingerprint) = self.credential_fingerprint()
        {
            return Err(ApiError::new(
                ErrorKind::UpstreamRejectedCredentials,
                format!(
                    "upstream {} answered 401 to the proxy's {} credential ({fingerprint}); the upstream \
                     expects another secret or user: compare fingerprints with `jwtkit secret fingerprint`",
                    self.name,
                    self.credential_kind()
                ),
            ));
        }
        if status.is_server_error() {
            return Err(ApiError::new(
                ErrorKind::UpstreamError,
                format!("upstream {} answered {status}", self.name),
            ));
        }
        Ok(response)
    }
}
