//! Generic prefix routes: the request goes upstream with its method, path, query, headers and a
//! streamed body; identity and hop-by-hop headers are cleaned first.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Version, header};
use axum::response::{IntoResponse, Response};
use http_body::Body as _;
use http_body_util::BodyExt;
use jwtkit_verify::{Registry, extract};

use crate::auth::{Access, Caller};
use crate::error::{ApiError, ErrorKind};
use crate::idle::IdleTimeout;
use crate::metrics::Metrics;
use crate::routes::{Prefix, RouteTable};
use crate::server::drain::Drain;
use crate::trusted::{self, TrustedProxies};
use crate::upstream::Upstream;
use crate::websocket::{self, Lifetime};

/// What the prefix routes need on every request.
pub struct Forwarder {
    registry: Arc<Registry>,
    routes: Arc<RouteTable<ProxyRoute>>,
    max_body_bytes: usize,
    trusted: TrustedProxies,
    /// `cors_origins`: the other origins whose pages may open WebSockets with cookie tokens.
    cors_origins: Vec<HeaderValue>,
    /// Where relayed WebSockets are counted.
    metrics: Arc<Metrics>,
    /// The listener's drain, which ends relayed WebSockets when the proxy stops.
    drain: Drain,
}

impl Forwarder {
    /// Forwards the requests `routes` match, authenticating callers with `registry`;
    /// `max_body_bytes` is `limits.max_body_bytes` (for the 413 of a body that grows past it);
    /// the `X-Forwarded-*` headers of peers in `trusted` are kept; pages of `cors_origins`
    /// may open WebSockets on routes that take cookie tokens ([`websocket::origin_allowed`]);
    /// relayed WebSockets are counted in `metrics` and closed when `drain` starts.
    pub fn new(
        registry: Arc<Registry>,
        routes: Arc<RouteTable<ProxyRoute>>,
        max_body_bytes: usize,
        trusted: TrustedProxies,
        cors_origins: Vec<HeaderValue>,
        metrics: Arc<Metrics>,
        drain: Drain,
    ) -> Self {
        Self {
            registry,
            routes,
            max_body_bytes,
            trusted,
            cors_origins,
            metrics,
            drain,
        }
    }
}

/// Where a prefix route leads, and on what terms.
pub struct ProxyRoute {
    /// Remove the prefix before forwarding.
    strip_prefix: bool,
    /// Target.
    upstream: Arc<Upstream>,
    /// Caller requirements.
    access: Access,
    /// Inbound headers that never reach the upstream.
    inbound: InboundHeaders,
    /// How long its WebSockets may stay open.
    lifetime: Lifetime,
}

impl ProxyRoute {
    /// A route to `upstream` for callers `access` admits, its WebSockets closed as `lifetime`
    /// says.
    pub fn new(
        strip_prefix: bool,
        upstream: Arc<Upstream>,
        access: Access,
        inbound: InboundHeaders,
        lifetime: Lifetime,
    ) -> Self {
        Self {
            strip_prefix,
            upstream,
            access,
            inbound,
            lifetime,
        }
    }
}

/// Where a request came from, as the listener saw it: one per connection, shared by its
/// requests.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    addr: Option<SocketAddr>,
    secure: bool,
    /// The peer's IP address as a header value, written once per connection.
    ip_value: Option<HeaderValue>,
}

impl Peer {
    /// A peer at `addr` (unknown in in-process harnesses), over the listener's TLS when
    /// `secure`.
    pub fn new(addr: Option<SocketAddr>, secure: bool) -> Self {
        Self {
            addr,
            secure,
            ip_value: addr.map(|addr| ip_value(addr.ip())),
        }
    }

    /// The peer's address, when known.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// True when the request came over the listener's TLS.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// What the listener put on a request that goes through axum: `ConnectInfo` and
    /// [`crate::server::Secure`].
    fn from_extensions(extensions: &axum::http::Extensions) -> Self {
        Self::new(
            extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
            extensions.get::<crate::server::Secure>().is_some(),
        )
    }
}

/// A prefix route's request: everything no other route took. Its path is canonical already
/// ([`crate::observe`]). A WebSocket upgrade takes the same path; only its answer differs.
pub async fn proxy(State(forwarder): State<Arc<Forwarder>>, request: Request) -> Response {
    let peer = Peer::from_extensions(request.extensions());
    forwarder.serve(request, peer).await
}

impl Forwarder {
    /// Answers a prefix route's request from `peer` (the listener's direct path calls this,
    /// axum's fallback through [`proxy`]).
    pub async fn serve(&self, request: Request, peer: Peer) -> Response {
        let found = self.routes.find(request.uri().path());
        self.serve_route(request, peer, found).await
    }

    /// [`Forwarder::serve`] with the route already found in this forwarder's table (by the
    /// observation, which looks it up for its label).
    pub async fn serve_route(
        &self,
        mut request: Request,
        peer: Peer,
        found: Option<(&Prefix, &ProxyRoute)>,
    ) -> Response {
        let forwarder = self;
        let Some((prefix, route)) = found else {
            return ApiError::not_found(format!("no route for {}", request.uri().path()))
                .into_response();
        };
        let caller = match route
            .access
            .authenticate(
                &forwarder.registry,
                request.method(),
                request.headers(),
                request.uri(),
            )
            .await
        {
            Ok(caller) => caller,
            Err(err) => return err.into_response(),
        };
        let upgrade = if let Some(handshake) = websocket::handshake(&request) {
            if route.access.cookie_names().next().is_some()
                && !websocket::origin_allowed(&request, &forwarder.cors_origins)
            {
                return ApiError::forbidden(
                "this page's origin may not open WebSockets on this route: list it in cors_origins",
            )
            .into_response();
            }
            // Taken before the request is consumed; it resolves once the caller has the answer.
            Some((handshake, hyper::upgrade::on(&mut request)))
        } else {
            None
        };
        forward(forwarder, prefix, route, &caller, request, upgrade, peer)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    }
}

/// Which inbound headers never reach an upstream: names that contain `_` (unless kept), names
/// that start with a strip prefix, and the upstream's identity header names. CGI, WSGI and PHP
/// servers read `X_User_Id` and `X-User-Id` as the same `HTTP_X_USER_ID`, so names are compared
/// with `_` and `-` alike.
#[derive(Clone, Debug, Default)]
pub struct InboundHeaders {
    /// Lower case, `_` written as `-`.
    prefixes: Vec<String>,
    /// Lower case, `_` written as `-`.
    identity: Vec<String>,
    keep_underscores: bool,
}

impl InboundHeaders {
    /// The rules for one route: the global strip prefixes, the route's upstream's identity
    /// header names, and whether names with `_` are forwarded at all.
    pub fn new<'a>(
        strip_prefixes: impl IntoIterator<Item = &'a str>,
        identity_headers: impl IntoIterator<Item = &'a str>,
        keep_underscores: bool,
    ) -> Self {
        let fold = |name: &str| name.to_ascii_lowercase().replace('_', "-");
        Self {
            prefixes: strip_prefixes.into_iter().map(fold).collect(),
            identity: identity_headers.into_iter().map(fold).collect(),
            keep_underscores,
        }
    }

    /// True when the inbound header `name` (lower case, as `HeaderMap` keeps names) is dropped.
    fn drops(&self, name: &str) -> bool {
        // A byte search: a `char` pattern goes through the generic searcher, slower on a
        // short name.
        if !name.as_bytes().contains(&b'_') {
            // The usual case: a plain comparison, nothing to fold.
            return self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
                || self.identity.iter().any(|n| n == name);
        }
        !self.keep_underscores
            || self
                .prefixes
                .iter()
                .any(|p| name.len() >= p.len() && alike(&name[..p.len()], p))
            || self.identity.iter().any(|n| alike(name, n))
    }
}

/// Equal with `_` read as `-` (`folded` has no `_`).
fn alike(name: &str, folded: &str) -> bool {
    name.len() == folded.len()
        && name
            .bytes()
            .zip(folded.bytes())
            .all(|(a, b)| a == b || a == b'_' && b == b'-')
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those the
/// proxy always sets itself; `Connection` first ([`remove_hop_by_hop`] relies on it).
/// Pre-built names: removing by `&str` would parse each name again on every request. A
/// `static`, not a `const`: each use of a `const` array builds and drops the nine names.
const HOPS: usize = 9;
static HOP_BY_HOP: [HeaderName; HOPS] = [
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

/// The one `TE` value forwarded.
const TE_TRAILERS: HeaderValue = HeaderValue::from_static("trailers");

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
///
/// One pass over the headers finds which of [`HOP_BY_HOP`] are there (by one `match` on each
/// name, no hashing) and whether `Connection` names any other header; only those are removed:
/// each `remove` hashes its name, and most messages carry one of them (`Connection:
/// keep-alive`) or none.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
}

/// [`remove_hop_by_hop`], saying whether a `TE` header asked for trailers (read in the same
/// pass).
fn strip_hop_by_hop(headers: &mut HeaderMap) -> bool {
    let mut present = [false; HOPS];
    let mut any = false;
    // The names only (an iteration over values also walks each name's extra values); the
    // values of the two that mean something here are read below, when present.
    for name in headers.keys() {
        if let Some(i) = hop_by_hop_index(name) {
            present[i] = true;
            any = true;
        }
    }
    if !any {
        return false;
    }
    // HOP_BY_HOP[0] is `Connection`, [5] `TE`. Whether `Connection` names anything beyond
    // HOP_BY_HOP (`Connection: keep-alive` does not), and whether `TE` asks for trailers.
    let names_others = present[0]
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|value| !names_only_hop_by_hop(value.as_bytes()));
    let te_trailers = present[5]
        && headers.get_all(header::TE).iter().any(|value| {
            value
                .as_bytes()
                .split(|byte| *byte == b',')
                .any(|item| item.trim_ascii().eq_ignore_ascii_case(b"trailers"))
        });
    if names_others {
        // Names already in HOP_BY_HOP are not parsed (and allocated) again.
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
    for (name, present) in HOP_BY_HOP.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
    te_trailers
}

/// Where `name` is in HOP_BY_HOP: one match on the name's text (its length first) instead of
/// up to nine `HeaderName` comparisons per header.
fn hop_by_hop_index(name: &HeaderName) -> Option<usize> {
    hop_by_hop_position(name.as_str().as_bytes())
}

/// [`hop_by_hop_index`] of a lower-case name.
fn hop_by_hop_position(lower: &[u8]) -> Option<usize> {
    Some(match lower {
        b"connection" => 0,
        b"keep-alive" => 1,
        b"proxy-authenticate" => 2,
        b"proxy-authorization" => 3,
        b"proxy-connection" => 4,
        b"te" => 5,
        b"trailer" => 6,
        b"transfer-encoding" => 7,
        b"upgrade" => 8,
        _ => return None,
    })
}

/// True when every item of a `Connection` value is one of HOP_BY_HOP (removed anyway), read
/// without text conversion or allocation; anything else, an empty item included, is false and
/// left to the full reading.
fn names_only_hop_by_hop(value: &[u8]) -> bool {
    // The longest name of HOP_BY_HOP; a longer item is none of them.
    const LONGEST: usize = "proxy-authorization".len();
    value.split(|b| *b == b',').all(|item| {
        let item = item.trim_ascii();
        let mut lower = [0; LONGEST];
        let Some(lower) = lower.get_mut(..item.len()) else {
            return false;
        };
        // Lower case once, then one `match`: not a case-blind comparison with each name.
        lower.copy_from_slice(item);
        lower.make_ascii_lowercase();
        hop_by_hop_position(lower).is_some()
    })
}

/// Removes everything that could carry the caller's credentials or a forged identity:
/// `Authorization`, the route's token cookies (in every spelling the token lookup reads as
/// them), and the headers `inbound` drops.
pub fn remove_inbound_identity<'a>(
    headers: &mut HeaderMap,
    inbound: &InboundHeaders,
    token_cookies: impl Iterator<Item = &'a str>,
) {
    headers.remove(header::AUTHORIZATION);
    let dropped: Vec<HeaderName> = headers
        .keys()
        .filter(|name| inbound.drops(name.as_str()))
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(name);
    }
    let cookies: Vec<&str> = token_cookies.collect();
    if !cookies.is_empty() {
        extract::remove_cookies(headers, &cookies);
    }
}

/// The upstream path and query: the canonical path (the prefix removed if asked), the query
/// without the route's token parameters, every other parameter byte for byte. Borrowed from the
/// request where nothing is removed: [`BaseUrl::join_parts`](crate::client::BaseUrl::join_parts)
/// writes the upstream's target once.
fn upstream_path<'r>(
    prefix: &Prefix,
    route: &ProxyRoute,
    uri: &'r axum::http::Uri,
) -> (&'r str, Option<Cow<'r, str>>) {
    let path = uri.path();
    let path = if route.strip_prefix {
        prefix.rest(path)
    } else {
        path
    };
    let query = uri.query().map(|query| {
        let names: Vec<&str> = route.access.query_names().collect();
        if names.is_empty() {
            Cow::Borrowed(query)
        } else {
            extract::remove_query_params(query, &names)
        }
    });
    (path, query)
}

/// What `X-Forwarded-Host` says: the host the proxy was asked for, from the `Host` header or
/// else the request target's authority (absolute form), without user information. On HTTP/2
/// the authority (`:authority`) comes first: it is what the client addressed (RFC 9113
/// §8.3.1), a `Host` field only a fallback.
fn forwarded_host(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    version: Version,
) -> Option<HeaderValue> {
    let host = headers.get(header::HOST);
    if let Some(host) = host.filter(|_| version != Version::HTTP_2 || uri.authority().is_none()) {
        return Some(host.clone());
    }
    let authority = uri.authority()?;
    let host = authority.as_str().rsplit('@').next().unwrap_or_default();
    HeaderValue::from_str(host).ok()
}

/// Forwards an authenticated request and streams the answer back; for a WebSocket `upgrade`,
/// an upstream's 101 switches both connections to the relay ([`websocket::switch`]).
async fn forward(
    forwarder: &Forwarder,
    prefix: &Prefix,
    route: &ProxyRoute,
    caller: &Caller,
    request: Request,
    upgrade: Option<(websocket::Handshake, hyper::upgrade::OnUpgrade)>,
    from: Peer,
) -> Result<Response, ApiError> {
    let peer = from.addr.map(|addr| addr.ip());
    let (parts, body) = request.into_parts();
    let (path, query) = upstream_path(prefix, route, &parts.uri);
    let mut headers = parts.headers;
    let trusted = peer.is_some_and(|ip| forwarder.trusted.trusts(ip));
    // A trusted peer's values are read before the cleaning below (`Connection` may name them).
    let (proto, host) = if trusted {
        (
            trusted::forwarded_proto(&headers, &X_FORWARDED_PROTO),
            trusted::forwarded_host(&headers, &X_FORWARDED_HOST)
                .or_else(|| forwarded_host(&headers, &parts.uri, parts.version)),
        )
    } else {
        (None, forwarded_host(&headers, &parts.uri, parts.version))
    };
    let previous_for = if trusted {
        let items: Vec<&str> = header_items(&headers, X_FORWARDED_FOR, ',')
            .filter(|item| !item.is_empty())
            .collect();
        (!items.is_empty()).then(|| items.join(", "))
    } else {
        None
    };
    // `TE` is hop-by-hop, but `TE: trailers` says the client reads trailers, and gRPC servers
    // refuse calls without it: that value alone goes on.
    if strip_hop_by_hop(&mut headers) {
        headers.insert(header::TE, TE_TRAILERS);
    }
    remove_inbound_identity(&mut headers, &route.inbound, route.access.cookie_names());
    // `Host` is the upstream's: [`Upstream::send`] replaces or removes it.
    let mut method = parts.method;
    // Boxed: every request's future holds this across the upstream's answer, and handshakes
    // are rare.
    let upgrade = upgrade.map(|(handshake, upgrade)| {
        // An HTTP/2 extended CONNECT goes upstream as the HTTP/1.1 upgrade `GET` it stands for.
        if handshake == websocket::Handshake::Http2 {
            method = axum::http::Method::GET;
        }
        Box::new(websocket::Inbound {
            upgrade,
            key: websocket::upgrade_request_headers(&mut headers, handshake),
        })
    });
    // Only a trusted peer's list is continued; anyone else's is replaced by the peer (and
    // removed when the peer is unknown, as in in-process harnesses).
    let forwarded_for = match (previous_for, peer) {
        (Some(previous), Some(ip)) => HeaderValue::from_str(&format!("{previous}, {ip}")).ok(),
        _ => from.ip_value,
    };
    match forwarded_for {
        Some(value) => headers.insert(X_FORWARDED_FOR, value),
        None => headers.remove(X_FORWARDED_FOR),
    };
    headers.insert(
        X_FORWARDED_PROTO,
        proto.unwrap_or_else(|| trusted::own_proto(from.secure)),
    );
    // The proxy's own reading unless a trusted peer sent a valid one: a caller's value never
    // passes, also when there is no host.
    match host {
        Some(host) => headers.insert(X_FORWARDED_HOST, host),
        None => headers.remove(X_FORWARDED_HOST),
    };
    // The body is streamed, frame by frame, trailers included (gRPC client streams pass as
    // they come, never collected); a body cut short (client gone, size limit hit) fails the
    // upstream request instead of arriving as a complete, shorter body. Either way the fault is
    // the caller's, not the upstream's: a body that grows past the limit (no Content-Length to
    // refuse it up front) is 413, one that ends early is 400, never a 502 that would page an
    // operator about the upstream.
    // A body that has already ended (a GET, or a declared length of 0) cannot fail: it goes as
    // an empty body, without the watch and its allocations.
    let (body, body_failure) = if body.is_end_stream() {
        (Body::empty(), None)
    } else {
        let failure = Arc::new(BodyFailure::default());
        let seen = failure.clone();
        let body = body.map_err(move |err| {
            seen.record(&err);
            err
        });
        (Body::new(body), Some(failure))
    };
    let sent = route
        .upstream
        .send(caller, method, (path, query.as_deref()), headers, body)
        .await;
    let response = match sent {
        Err(upstream_error) => {
            return Err(body_failure
                .and_then(|failure| failure.error(forwarder.max_body_bytes))
                .unwrap_or(upstream_error));
        }
        Ok(response) => response,
    };

    if let Some(inbound) = &upgrade
        && inbound.is_http2()
        && response.status().is_success()
    {
        // A 2xx to an extended CONNECT says the socket is open (RFC 8441 §5): an upstream
        // that answered the upgrade without switching must not look like one that did.
        return Err(ApiError::new(
            ErrorKind::UpstreamError,
            format!(
                "upstream {} answered a WebSocket handshake with {} instead of switching",
                route.upstream.name,
                response.status()
            ),
        ));
    }
    if let Some(inbound) = upgrade
        && response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS
    {
        let mut headers = response.headers().clone();
        remove_hop_by_hop(&mut headers);
        let socket = websocket::Socket {
            deadline: route.lifetime.deadline(caller),
            max_message_bytes: forwarder.max_body_bytes,
            metrics: forwarder.metrics.clone(),
            route: prefix.label().to_owned(),
            drain: forwarder.drain.clone(),
        };
        return websocket::switch(*inbound, response, headers, socket);
    }
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    remove_hop_by_hop(&mut headers);
    // Streamed as it comes, trailers included (gRPC's `grpc-status`). A stalled upstream body
    // ends the response after the upstream's timeout of silence.
    let mut response = Response::new(Body::new(IdleTimeout::new(body, route.upstream.timeout())));
    *response.status_mut() = parts.status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// `ip` as a header value. An IPv4 address (the usual peer) is written out by hand: `to_string`
/// runs the formatting machinery and allocates a `String` that is then copied again.
fn ip_value(ip: std::net::IpAddr) -> HeaderValue {
    let std::net::IpAddr::V4(v4) = ip else {
        return HeaderValue::try_from(ip.to_string()).expect("an IP address is a header value");
    };
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let skip = if octet >= 100 {
            0
        } else if octet >= 10 {
            1
        } else {
            2
        };
        for digit in &digits[skip..] {
            text[len] = b'0' + digit;
            len += 1;
        }
    }
    HeaderValue::from_bytes(&text[..len]).expect("digits and dots are a header value")
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

    /// The caller's error when its body is why the upstream request failed; `limit` is
    /// `limits.max_body_bytes`.
    fn error(&self, limit: usize) -> Option<ApiError> {
        if self.too_large.load(Ordering::Relaxed) {
            Some(ApiError::body_too_large(limit))
        } else if self.failed.load(Ordering::Relaxed) {
            Some(ApiError::new(
                ErrorKind::BodyIncomplete,
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

    fn rules(keep_underscores: bool) -> InboundHeaders {
        InboundHeaders::new(["x-user-", "X_Auth-"], ["X-Tenant"], keep_underscores)
    }

    #[test]
    fn identity_headers_authorization_and_token_cookie_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        headers.insert("X-User-Id", "admin".parse().unwrap());
        headers.insert("x-auth-roles", "root".parse().unwrap());
        headers.insert("x-tenant", "t0".parse().unwrap());
        headers.insert("x-tenant-name", "kept".parse().unwrap());
        headers.insert("x-request-id", "42".parse().unwrap());
        headers.insert(
            header::COOKIE,
            "__session =tok; theme=dark".parse().unwrap(),
        );
        remove_inbound_identity(&mut headers, &rules(false), ["__session"].into_iter());
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-tenant-name", "x-request-id", "cookie"]);
        assert_eq!(headers.get(header::COOKIE).unwrap(), "theme=dark");
    }

    #[test]
    fn underscore_spellings_are_dropped_or_compared_as_dashes() {
        let forged = ["x_user_id", "x-user_email", "x_auth_roles", "x_tenant"];
        for keep in [false, true] {
            for name in forged {
                assert!(rules(keep).drops(name), "{name}, keep {keep}");
            }
            assert!(!rules(keep).drops("x-request-id"));
            assert!(!rules(keep).drops("x-tenant-name"));
            assert_eq!(rules(keep).drops("x_tenant_name"), !keep);
        }
        assert!(rules(false).drops("x_custom"));
        assert!(!rules(true).drops("x_custom"));
        assert!(!rules(true).drops("x_"));
    }

    #[test]
    fn forwarded_host_is_the_host_header_or_the_target_authority() {
        let mut headers = HeaderMap::new();
        let origin_form: axum::http::Uri = "/x".parse().unwrap();
        let absolute: axum::http::Uri = "http://user:pw@public.example:8443/x".parse().unwrap();
        let h1 = Version::HTTP_11;
        assert_eq!(forwarded_host(&headers, &origin_form, h1), None);
        assert_eq!(
            forwarded_host(&headers, &absolute, h1).unwrap(),
            "public.example:8443"
        );
        headers.insert(header::HOST, "proxy.example".parse().unwrap());
        assert_eq!(
            forwarded_host(&headers, &absolute, h1).unwrap(),
            "proxy.example"
        );
        // HTTP/2: `:authority` first, `Host` when there is none.
        let h2 = Version::HTTP_2;
        assert_eq!(
            forwarded_host(&headers, &absolute, h2).unwrap(),
            "public.example:8443"
        );
        assert_eq!(
            forwarded_host(&headers, &origin_form, h2).unwrap(),
            "proxy.example"
        );
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

    #[test]
    fn every_hop_by_hop_header_goes_and_the_others_stay() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        headers.append("x-kept", "1".parse().unwrap());
        headers.append("x-kept", "2".parse().unwrap());
        let untouched = headers.clone();
        // Nothing hop-by-hop: nothing changes.
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers, untouched);
        // Every fixed name, repeated values, and `Connection` (twice) naming a hop-by-hop name,
        // an absent one, one that is not a header name, and a present one in another case.
        for hop in &HOP_BY_HOP {
            headers.append(hop.clone(), "a".parse().unwrap());
            headers.append(hop.clone(), "b".parse().unwrap());
        }
        headers.append(
            header::CONNECTION,
            "TE, x-absent, bad name".parse().unwrap(),
        );
        headers.append(header::CONNECTION, " X-Named ".parse().unwrap());
        headers.insert("x-named", "1".parse().unwrap());
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers, untouched);
        // Only `Connection`, naming nothing else: it goes alone.
        headers.insert(header::CONNECTION, "Keep-Alive ,\tupgrade".parse().unwrap());
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers, untouched);
        // `close` names a header like any other item; an empty item names none.
        headers.insert(header::CONNECTION, "keep-alive, , close".parse().unwrap());
        headers.insert("close", "1".parse().unwrap());
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers, untouched);
        // A hop-by-hop name without `Connection`.
        headers.insert(header::UPGRADE, "websocket".parse().unwrap());
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers, untouched);
    }

    #[test]
    fn te_asking_for_trailers_is_reported_and_removed_like_the_others() {
        for (values, asked) in [
            (&["trailers"][..], true),
            (&["gzip, Trailers ;q=1"][..], false),
            (&["gzip", " TRAILERS "][..], true),
            (&["gzip"][..], false),
            (&[][..], false),
        ] {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::TE, HeaderValue::from_static(value));
            }
            headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
            assert_eq!(strip_hop_by_hop(&mut headers), asked, "{values:?}");
            assert!(!headers.contains_key(header::TE));
            assert!(headers.contains_key(header::ACCEPT));
        }
    }

    #[test]
    fn every_hop_by_hop_name_is_found_at_its_index() {
        for (i, hop) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(hop_by_hop_index(hop), Some(i), "{hop}");
        }
        for other in [
            header::HOST,
            header::CONTENT_TYPE,
            header::COOKIE,
            X_FORWARDED_FOR,
        ] {
            assert_eq!(hop_by_hop_index(&other), None, "{other}");
        }
    }

    #[test]
    fn connection_values_naming_only_hop_by_hop_names_are_told_in_any_case() {
        for hop in &HOP_BY_HOP {
            let upper = hop.as_str().to_ascii_uppercase();
            for value in [hop.as_str(), &upper, &format!(" {upper} ,\t{hop}")] {
                assert!(names_only_hop_by_hop(value.as_bytes()), "{value:?}");
            }
        }
        for value in [
            "close",
            "keep-alive, close",
            "keep-alive,",
            "",
            "keep-alivex",
            "proxy-authorization-and-more",
            "x-named, upgrade",
        ] {
            assert!(!names_only_hop_by_hop(value.as_bytes()), "{value:?}");
        }
    }

    #[test]
    fn ip_values_are_the_addresses_text() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.199.255",
            "255.255.255.255",
            "::1",
            "fe80::1:2",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(ip_value(ip), ip.to_string().as_str());
        }
    }
}
