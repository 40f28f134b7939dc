//! Generic prefix routes: the request goes upstream with its method, path, query, headers and a
//! streamed body; identity and hop-by-hop headers are cleaned first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use http_body_util::BodyExt;
use tower_http::timeout::TimeoutBody;

use crate::app::AppState;
use crate::auth::{Access, Caller, TokenSource};
use crate::error::ApiError;
use crate::upstream::Upstream;

/// A configured prefix route.
pub struct ProxyRoute {
    /// Path prefix, e.g. `/engine-rest`.
    pub prefix: String,
    /// Remove the prefix before forwarding.
    pub strip_prefix: bool,
    /// Target.
    pub upstream: Arc<Upstream>,
    /// Caller requirements.
    pub access: Access,
}

impl ProxyRoute {
    /// True when `path` is the prefix or below it (`/api` matches `/api` and `/api/x`, not `/apix`).
    pub fn matches(&self, path: &str) -> bool {
        let prefix = self.prefix.trim_end_matches('/');
        path == prefix
            || path.starts_with(prefix) && path[prefix.len()..].starts_with('/')
            || prefix.is_empty()
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those the
/// proxy always sets itself. Pre-built names: removing by `&str` would parse each name again
/// on every request.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The `X-Forwarded-*` headers the proxy sets (named once: a name built from `&str` would be
/// parsed and allocated on every request).
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The trimmed items of every `name` header (those that are text), split at `separator`.
fn header_items(
    headers: &HeaderMap,
    name: HeaderName,
    separator: char,
) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(move |v| v.split(separator))
        .map(str::trim)
}

/// Removes hop-by-hop headers, including any named by `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        // `Connection: keep-alive` is the usual case: names already in HOP_BY_HOP are not
        // parsed (and allocated) again.
        let named: Vec<HeaderName> = header_items(headers, header::CONNECTION, ',')
            .filter(|name| {
                !HOP_BY_HOP
                    .iter()
                    .any(|hop| hop.as_str().eq_ignore_ascii_case(name))
            })
            .filter_map(|name| HeaderName::try_from(name).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Removes everything that could carry the caller's credentials or a forged identity:
/// `Authorization`, the token's cookie, and headers with the configured prefixes (given in
/// lower case, as header names are stored).
pub fn remove_inbound_identity(
    headers: &mut HeaderMap,
    lowercase_prefixes: &[String],
    token_cookies: &[String],
) {
    headers.remove(header::AUTHORIZATION);
    let spoofable: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            lowercase_prefixes
                .iter()
                .any(|p| name.as_str().starts_with(p.as_str()))
        })
        .cloned()
        .collect();
    for name in spoofable {
        headers.remove(name);
    }
    if !token_cookies.is_empty() {
        let kept: Vec<String> = header_items(headers, header::COOKIE, ';')
            .filter(|pair| {
                !token_cookies
                    .iter()
                    .any(|name| pair.split_once('=').is_some_and(|(k, _)| k == name))
            })
            .map(str::to_owned)
            .collect();
        headers.remove(header::COOKIE);
        if !kept.is_empty()
            && let Ok(value) = HeaderValue::from_str(&kept.join("; "))
        {
            headers.insert(header::COOKIE, value);
        }
    }
}

/// The upstream path and query: the prefix removed if asked, the token's query parameter dropped.
fn upstream_path(route: &ProxyRoute, request: &Request, token_query: Option<&str>) -> String {
    let path = request.uri().path();
    let path = if route.strip_prefix {
        &path[route.prefix.trim_end_matches('/').len()..]
    } else {
        path
    };
    let mut out = if path.starts_with('/') || path.is_empty() {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    if let Some(query) = request.uri().query() {
        let kept: String = match token_query {
            Some(name) => url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != name),
                )
                .finish(),
            None => query.to_owned(),
        };
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept);
        }
    }
    out
}

/// Forwards an authenticated request and streams the answer back.
pub async fn forward(
    state: &AppState,
    route: &ProxyRoute,
    caller: &Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let token_query = match &caller.source {
        TokenSource::Query(name) => Some(name.as_str()),
        _ => None,
    };
    let path = upstream_path(route, &request, token_query);
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers;
    let host = headers.get(header::HOST).cloned();
    remove_hop_by_hop(&mut headers);
    let token_cookies: Vec<String> = route
        .access
        .sources()
        .iter()
        .filter_map(|s| {
            if let TokenSource::Cookie(name) = s {
                Some(name.clone())
            } else {
                None
            }
        })
        .collect();
    remove_inbound_identity(&mut headers, &state.strip_prefixes, &token_cookies);
    headers.remove(header::HOST);
    if let Some(ip) = peer {
        let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(previous) => format!("{previous}, {ip}"),
            None => ip.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
            headers.insert(X_FORWARDED_FOR, value);
        }
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    if let Some(host) = host {
        headers.insert(X_FORWARDED_HOST, host);
    }
    // The body is streamed; a body cut short (client gone, size limit hit) fails the upstream
    // request instead of arriving as a complete, shorter body. Either way the fault is the
    // caller's, not the upstream's: a body that grows past the limit (no Content-Length to
    // refuse it up front) is 413, one that ends early is 400, never a 502 that would page an
    // operator about the upstream.
    let body_failure = Arc::new(BodyFailure::default());
    let seen = body_failure.clone();
    let body = body.map_err(move |err| {
        seen.record(&err);
        err
    });
    let sent = route
        .upstream
        .send(caller, parts.method, &path, headers, Body::new(body))
        .await;
    let response = match sent {
        Err(upstream_error) => return Err(body_failure.error(state).unwrap_or(upstream_error)),
        Ok(response) => response,
    };

    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    remove_hop_by_hop(&mut headers);
    // A stalled upstream body ends the response after the upstream's timeout of silence.
    let mut response = Response::new(Body::new(TimeoutBody::new(route.upstream.timeout(), body)));
    *response.status_mut() = parts.status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// How reading the caller's body failed while it was being forwarded, if it did.
#[derive(Default)]
struct BodyFailure {
    failed: AtomicBool,
    too_large: AtomicBool,
}

impl BodyFailure {
    fn record(&self, err: &axum::Error) {
        self.too_large
            .fetch_or(is_length_limit(err), Ordering::Relaxed);
        self.failed.store(true, Ordering::Relaxed);
    }

    /// The caller's error when its body is why the upstream request failed.
    fn error(&self, state: &AppState) -> Option<ApiError> {
        if self.too_large.load(Ordering::Relaxed) {
            Some(ApiError::body_too_large(state.max_body_bytes()))
        } else if self.failed.load(Ordering::Relaxed) {
            Some(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "body_incomplete",
                "the request body ended before it was complete; nothing was forwarded as complete",
            ))
        } else {
            None
        }
    }
}

/// True when `err` (or what caused it) is the request body size limit.
fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(err) = current {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_headers_authorization_and_token_cookie_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        headers.insert("X-User-Id", "admin".parse().unwrap());
        headers.insert("x-auth-roles", "root".parse().unwrap());
        headers.insert("x-request-id", "42".parse().unwrap());
        headers.insert(header::COOKIE, "__session=tok; theme=dark".parse().unwrap());
        remove_inbound_identity(
            &mut headers,
            &["x-user-".into(), "x-auth-".into()],
            &["__session".into()],
        );
        assert!(headers.get(header::AUTHORIZATION).is_none());
        assert!(headers.get("x-user-id").is_none() && headers.get("x-auth-roles").is_none());
        assert_eq!(headers.get("x-request-id").unwrap(), "42");
        assert_eq!(headers.get(header::COOKIE).unwrap(), "theme=dark");
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_by_connection_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            "keep-alive, x-secret-hop".parse().unwrap(),
        );
        headers.insert("x-secret-hop", "1".parse().unwrap());
        headers.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
    }
}
