//! The middleware around the whole router: every request's path is made canonical before any
//! route is chosen, requests over the limits are refused, and every request, refused ones
//! included, is logged and counted once; the proxy's own errors to gRPC calls leave here in
//! gRPC form.
//!
//! One middleware for the three: each axum `from_fn` layer costs allocations on every request.
//! It wraps the router rather than being a layer on it, since a layer on the router runs after
//! routing, and routing must see only the canonical path.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, State};
use axum::http::uri::PathAndQuery;
use axum::http::{Method, Request, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Limits;
use crate::error::{ApiError, ErrorKind};
use crate::forward::ProxyRoute;
use crate::metrics::Metrics;
use crate::routes::{Prefix, RouteTable};

/// The metrics label of a request that no route took (or that was refused before routing and
/// is below no prefix): one label, never the raw path.
const UNMATCHED: &str = "unmatched";

/// What [`limit_and_observe`] (and the direct path of [`crate::front`]) needs.
pub struct Observer {
    metrics: Arc<Metrics>,
    /// The prefix routes, for the label of the requests they take.
    routes: Arc<RouteTable<ProxyRoute>>,
    max_header_bytes: usize,
    max_body_bytes: usize,
}

impl Observer {
    /// Counts into `metrics`, labels requests below a prefix of `routes` with it, and applies
    /// `limits`.
    pub fn new(
        metrics: Arc<Metrics>,
        routes: Arc<RouteTable<ProxyRoute>>,
        limits: &Limits,
    ) -> Self {
        Self {
            metrics,
            routes,
            max_header_bytes: limits.max_header_bytes,
            max_body_bytes: limits.max_body_bytes,
        }
    }

    /// 431 when the request headers together exceed the limit; 413 (in the proxy's JSON error
    /// format, not the body-limit layer's plain text) when Content-Length exceeds the body
    /// limit.
    fn over_limits<B: http_body::Body>(&self, request: &Request<B>) -> Option<ApiError> {
        let size: usize = request
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        if size > self.max_header_bytes {
            return Some(ApiError::new(
                ErrorKind::HeadersTooLarge,
                "the request headers are too large",
            ));
        }
        // A body that has already ended is within any limit, whatever its header says.
        let declared = (!request.body().is_end_stream())
            .then(|| request.headers().get(header::CONTENT_LENGTH))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        declared
            .filter(|len| *len > self.max_body_bytes as u64)
            .map(|_| ApiError::body_too_large(self.max_body_bytes))
    }
}

/// A request being observed: what [`Observer::start`] read before the request went on, for
/// [`Observer::finish`] once its response is there.
pub struct Observation<'a> {
    /// What the access log line needs, read only when that line is on.
    log: Option<LogLine>,
    grpc: bool,
    /// The prefix route the canonical path falls under.
    route: Option<(&'a Prefix, &'a ProxyRoute)>,
    /// Why the request is answered before any route sees it, if it is.
    refusal: Option<ApiError>,
}

/// What the access log shows of a request besides its answer.
struct LogLine {
    started: Instant,
    method: Method,
    /// The target as received: the log shows its path, never the query. (A clone shares the
    /// request's bytes: no allocation.)
    received: Option<PathAndQuery>,
}

impl<'a> Observation<'a> {
    /// The prefix route the request falls under, found once for the metrics' label and the
    /// forwarding.
    pub fn route(&self) -> Option<(&'a Prefix, &'a ProxyRoute)> {
        self.route
    }

    /// The refusal of the request (unreadable path, over the limits), to answer instead of
    /// passing it on.
    pub fn take_refusal(&mut self) -> Option<ApiError> {
        self.refusal.take()
    }
}

/// What [`read_target`] made of a request path.
pub enum Target {
    /// The path is canonical already.
    Canonical,
    /// The canonical form of the path.
    Rewritten(String),
    /// The path is refused (400 `invalid_path`).
    Refused(ApiError),
}

impl Target {
    /// The canonical path: `received` itself, or what it becomes; `None` when refused.
    pub fn path<'a>(&'a self, received: &'a str) -> Option<&'a str> {
        match self {
            Target::Canonical => Some(received),
            Target::Rewritten(path) => Some(path),
            Target::Refused(_) => None,
        }
    }
}

/// Reads the request path as the routes will see it ([`crate::path`]); an already canonical
/// path costs no allocation.
pub fn read_target(path: &str) -> Target {
    match crate::path::canonicalize(path) {
        Ok(Cow::Borrowed(_)) => Target::Canonical,
        Ok(Cow::Owned(canonical)) => Target::Rewritten(canonical),
        Err(err) => Target::Refused(ApiError::new(ErrorKind::InvalidPath, err.to_string())),
    }
}

impl Observer {
    /// The first half of the observation, before any route sees the request: the path made
    /// canonical (as `target`, from [`read_target`], says), the limits checked, what the log
    /// and the metrics need read.
    pub fn start<B: http_body::Body>(
        &self,
        request: &mut Request<B>,
        target: Target,
    ) -> Observation<'_> {
        // Read for the access log only, and not at all when it is off (no clock read).
        let log = tracing::enabled!(tracing::Level::INFO).then(|| LogLine {
            started: Instant::now(),
            method: request.method().clone(),
            received: request.uri().path_and_query().cloned(),
        });
        // gRPC calls are POSTs (its HTTP/2 protocol says so): other methods need no lookup.
        let grpc =
            request.method() == Method::POST && jwtkit_verify::grpc::is_grpc(request.headers());
        // A path refused as unreadable is below no route.
        let (refusal, route) = match canonical_target(request, target) {
            Err(refusal) => (Some(refusal), None),
            Ok(()) => (
                self.over_limits(request),
                self.routes.find(request.uri().path()),
            ),
        };
        Observation {
            log,
            grpc,
            route,
            refusal,
        }
    }

    /// The second half: logs and counts the request with its `response`, labelled `matched`
    /// (a fixed route's pattern) or else by its prefix or else `unmatched`, and returns the
    /// response, an error of the proxy's own in gRPC form to a gRPC call.
    pub fn finish(
        &self,
        observation: Observation<'_>,
        matched: Option<&str>,
        response: Response,
    ) -> Response {
        let route = matched
            .or(observation.route.map(|(prefix, _)| prefix.label()))
            .unwrap_or(UNMATCHED);
        let status = response.status();
        self.metrics.request(route, status.as_u16());
        let kind = response.extensions().get::<ErrorKind>().copied();
        if kind == Some(ErrorKind::InsufficientScope) {
            self.metrics.authz_denial(route);
        }
        let code = kind.map(ErrorKind::code);
        if let Some(code) = code.filter(|_| {
            status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE
        }) {
            self.metrics.auth_failure(code);
        }
        if let Some(LogLine {
            started,
            method,
            received,
        }) = observation.log
        {
            let path = received.as_ref().map_or("", PathAndQuery::path);
            tracing::info!(%method, path = %path, route = %route, status = status.as_u16(), error = code.unwrap_or("-"), elapsed_ms = started.elapsed().as_millis() as u64, "request");
        }
        let grpc = observation.grpc;
        // Counted and logged above with the HTTP status of the error (401, 502, ...), so
        // alerts see gRPC refusals as they see the others; the caller gets the gRPC form.
        crate::error::in_grpc_form(response, grpc)
    }
}

/// Makes the request path canonical (400 `invalid_path` for a spelling upstreams read
/// differently, see [`crate::path`]), refuses requests over the header and declared body
/// limits, then logs and counts every request. The path is logged as it was received, never
/// the query: queries may carry tokens.
///
/// The metrics label is the pattern of the fixed route that answered (its [`MatchedPath`],
/// which [`matched_route`] hands out of the router), else the prefix of the route table the
/// canonical path falls under, else `unmatched`. Labels stay bounded: never a raw path.
pub async fn limit_and_observe(
    State(observer): State<Arc<Observer>>,
    mut request: axum::extract::Request,
    next: Next,
) -> Response {
    let target = read_target(request.uri().path());
    let mut observation = observer.start(&mut request, target);
    let response = match observation.take_refusal() {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    let matched = response.extensions().get::<MatchedPath>().cloned();
    observer.finish(
        observation,
        matched.as_ref().map(MatchedPath::as_str),
        response,
    )
}

/// A route layer on the fixed routes: puts the route pattern axum matched on the response,
/// where [`limit_and_observe`], outside the router, finds it. Prefix routes need no such copy
/// (their label comes from the route table), so the forwarding path does not pay for it.
pub async fn matched_route(request: axum::extract::Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

/// Replaces the request's path by its canonical form `target` (the query stays as it came);
/// an already canonical path is left alone, without allocating.
fn canonical_target<B>(request: &mut Request<B>, target: Target) -> Result<(), ApiError> {
    let canonical = match target {
        Target::Canonical => return Ok(()),
        Target::Rewritten(canonical) => canonical,
        Target::Refused(err) => return Err(err),
    };
    let mut target = canonical;
    if let Some(query) = request.uri().query() {
        target.push('?');
        target.push_str(query);
    }
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = Some(
        PathAndQuery::try_from(target)
            .map_err(|_| ApiError::bad_request("the request target cannot be read"))?,
    );
    *request.uri_mut() = Uri::from_parts(parts)
        .map_err(|_| ApiError::bad_request("the request target cannot be read"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    /// The request counts by label and status, read from `/metrics`.
    async fn counts(app: &axum::Router) -> String {
        let response = app
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn labels_are_the_matched_route_the_prefix_or_unmatched() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "an-issuer-secret-of-32-bytes-or-more").unwrap();
        let app = crate::router_from_toml(&format!(
            "[[issuers]]\nname = \"t\"\niss = [\"urn:t\"]\nsecret = {{ file = {:?} }}\n\
             [[upstreams]]\nname = \"u\"\nurl = \"http://127.0.0.1:9\"\n\
             [[routes]]\nprefix = \"/t\"\nupstream = \"u\"\n\
             [camunda]\nupstream = \"u\"\n",
            secret.display().to_string()
        ))
        .unwrap();
        for (method, target, status) in [
            (Method::POST, "/health", 405),
            (Method::GET, "/api/processes/order-42", 401),
            (Method::PUT, "/api/processes", 405),
            (Method::GET, "/t/x", 401),
            (Method::GET, "/%74//x?access_token=1", 401),
            (Method::GET, "/api/tasks/t1", 404),
            (Method::POST, "/token/centrifugo", 404),
            (Method::GET, "/t;x/y", 400),
        ] {
            let response = app
                .clone()
                .oneshot(
                    Request::builder()
                        .method(method)
                        .uri(target)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{target}");
        }
        let text = counts(&app).await;
        for line in [
            r#"jwtkit_proxy_requests_total{route="/health",status="405"} 1"#,
            r#"jwtkit_proxy_requests_total{route="/api/processes/{key}",status="401"} 1"#,
            r#"jwtkit_proxy_requests_total{route="/api/processes",status="405"} 1"#,
            r#"jwtkit_proxy_requests_total{route="/t",status="401"} 2"#,
            r#"jwtkit_proxy_requests_total{route="unmatched",status="404"} 2"#,
            r#"jwtkit_proxy_requests_total{route="unmatched",status="400"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(!text.contains("order-42") && !text.contains("t1"), "{text}");
    }
}
