//! What the listener calls for each request: the proxy built from one configuration (a reload
//! swaps the whole [`Front`]).
//!
//! Prefix-route requests, nearly all of them, take a direct path: the observation of
//! [`crate::observe`] (canonical path, limits, log, metrics, gRPC form), the body limit and
//! [`Forwarder::serve`], as plain calls in one future, without axum's router, its boxed
//! services and request extensions. The fixed routes (status, Camunda facade, Centrifugo
//! tokens), which need axum's extractors, go through the axum router with the same
//! observation as its middleware, so the choice between them keeps the router's order: a
//! path a fixed route's pattern matches is the fixed route's (also for a method it does not
//! take: 405), everything else the prefix table's. With `cors_origins` configured, `OPTIONS`
//! requests go through axum, whose tower-http CORS layer answers them all as preflights; the
//! others take the direct path, whose answers get the headers that layer gives a request that
//! is not a preflight ([`SimpleCors`]). In dev mode every request goes through axum.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Method, Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http_body::Body as _;
use hyper::body::Incoming;
use tower::Service;

use crate::forward::{Forwarder, Peer};
use crate::observe::{Observer, read_target};
use crate::server::Secure;

/// The future of one request's response.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The proxy of one configuration, as the listener serves it.
pub struct Front {
    /// Every route with the proxy's middleware (the fixed routes' path, and all requests when
    /// there is no direct path).
    router: Router,
    direct: Option<Direct>,
}

/// What the direct path of prefix-route requests needs.
pub struct Direct {
    /// The patterns of the fixed routes, which the direct path leaves to the router.
    pub fixed: FixedPaths,
    /// The observation the router's middleware also uses.
    pub observer: Arc<Observer>,
    /// The prefix routes.
    pub forwarder: Arc<Forwarder>,
    /// `limits.max_body_bytes`.
    pub max_body_bytes: usize,
    /// `cors_origins`, when configured.
    pub cors: Option<SimpleCors>,
}

/// What the router's CORS layer (tower-http's `CorsLayer` with `cors_origins` as its list of
/// origins, as `app.rs` builds it) adds to the answer of a request that is not a preflight:
/// `Vary` with the request headers a preflight reads, appended to the answer's own, and
/// `Access-Control-Allow-Origin` when the request's `Origin` is listed. The direct path adds
/// the same, so that it can serve such requests; `front_e2e.rs` compares the two paths'
/// headers.
pub struct SimpleCors {
    origins: Vec<HeaderValue>,
}

/// tower-http's default `Vary` of its CORS layer.
const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

impl SimpleCors {
    /// The layer's headers for pages of `origins`.
    pub fn new(origins: Vec<HeaderValue>) -> Self {
        Self { origins }
    }

    /// Where the request's `Origin` is among the listed origins, if it is.
    fn listed(&self, headers: &HeaderMap) -> Option<usize> {
        let origin = headers.get(header::ORIGIN)?;
        self.origins.iter().position(|listed| listed == origin)
    }

    /// Adds them to `response`, the answer to a request whose `Origin` is the listed one at
    /// `listed` ([`SimpleCors::listed`]).
    fn apply(&self, listed: Option<usize>, response: &mut Response) {
        let headers = response.headers_mut();
        headers.append(header::VARY, CORS_VARY);
        if let Some(origin) = listed.and_then(|i| self.origins.get(i)) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }
}

impl Front {
    /// Serves every request through `router`, and prefix-route requests by `direct` when
    /// given.
    pub fn new(router: Router, direct: Option<Direct>) -> Self {
        Self { router, direct }
    }

    /// The axum router (every route, the proxy's middleware included).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Answers `request` from `peer`.
    pub fn call(self: Arc<Self>, mut request: Request<Incoming>, peer: Peer) -> ResponseFuture {
        if let Some(direct) = &self.direct
            // With CORS, every `OPTIONS` is a preflight for the router's CORS layer.
            && (direct.cors.is_none() || request.method() != Method::OPTIONS)
        {
            let target = read_target(request.uri().path());
            let fixed = target
                .path(request.uri().path())
                .is_some_and(|path| direct.fixed.matches(path));
            if !fixed {
                // The box first, the future written into it: `Box::pin(future)` builds the
                // future (about 4 KB) on the stack and copies it over.
                let boxed = Box::write(
                    Box::new_uninit(),
                    Direct::serve(self, request, target, peer),
                );
                return Box::into_pin(boxed);
            }
        }
        let extensions = request.extensions_mut();
        if let Some(addr) = peer.addr() {
            extensions.insert(ConnectInfo(addr));
        }
        if peer.secure() {
            extensions.insert(Secure);
        }
        let mut router = self.router.clone();
        Box::pin(async move { router.call(request).await })
    }
}

impl Direct {
    /// A prefix-route request of `front` (whose direct path this is), observed as the
    /// router's middleware observes: refused when its path or size is (a declared length over
    /// the limit among them), else forwarded with its body limited to `max_body_bytes` (a body
    /// growing past it fails the upstream request, which [`Forwarder::serve`] answers 413;
    /// hyper holds a body to its declared length); with `cors_origins`, the answer gets the
    /// CORS layer's headers ([`SimpleCors`]).
    ///
    /// One future for all of it, boxed by [`Front::call`] as it is: a nested future would be
    /// built apart and then copied into it (about 4 KB).
    async fn serve(
        front: Arc<Front>,
        mut request: Request<Incoming>,
        target: crate::observe::Target,
        peer: Peer,
    ) -> Result<Response, Infallible> {
        let direct = front
            .direct
            .as_ref()
            .expect("Front::call takes this path with one");
        // Read before the request goes on: which listed origin it came from, if any (an
        // index, not the value: it stays in the future until the answer).
        let listed = direct
            .cors
            .as_ref()
            .map(|cors| cors.listed(request.headers()));
        let mut observation = direct.observer.start(&mut request, target);
        let response = match observation.take_refusal() {
            Some(refusal) => refusal.into_response(),
            None => {
                let request = request.map(|body| {
                    if body.is_end_stream() {
                        Body::empty()
                    } else {
                        Body::new(http_body_util::Limited::new(body, direct.max_body_bytes))
                    }
                });
                direct
                    .forwarder
                    .serve_route(request, peer, observation.route())
                    .await
            }
        };
        let mut response = direct.observer.finish(observation, None, response);
        if let (Some(cors), Some(listed)) = (&direct.cors, listed) {
            cors.apply(listed, &mut response);
        }
        Ok(response)
    }
}

/// The fixed routes: an axum router and the path patterns it routes, which the direct path
/// leaves to it. The feature modules build theirs with [`FixedRoutes::route`], so the two
/// cannot disagree.
pub struct FixedRoutes<S = ()> {
    router: Router<S>,
    paths: FixedPaths,
}

impl<S: Clone + Send + Sync + 'static> Default for FixedRoutes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> FixedRoutes<S> {
    /// No routes.
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            paths: FixedPaths::default(),
        }
    }

    /// `Router::route`, the pattern (no `{*wildcard}`) remembered.
    pub fn route(mut self, path: &'static str, method_router: MethodRouter<S>) -> Self {
        debug_assert!(!path.contains("{*"), "wildcards are not matched: {path}");
        self.paths.patterns.push(Pattern::new(path));
        self.router = self.router.route(path, method_router);
        self
    }

    /// `Router::with_state`.
    pub fn with_state<S2>(self, state: S) -> FixedRoutes<S2> {
        FixedRoutes {
            router: self.router.with_state(state),
            paths: self.paths,
        }
    }

    /// `Router::merge`.
    pub fn merge(mut self, other: FixedRoutes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.patterns.extend(other.paths.patterns);
        self
    }

    /// The router and its patterns.
    pub fn into_parts(self) -> (Router<S>, FixedPaths) {
        (self.router, self.paths)
    }
}

/// The path patterns of the fixed routes, matched as axum's router matches them: segment by
/// segment, a `{name}` segment standing for any one non-empty segment.
#[derive(Clone, Debug, Default)]
pub struct FixedPaths {
    patterns: Vec<Pattern>,
}

/// A fixed route's path pattern.
#[derive(Clone, Debug)]
struct Pattern {
    text: &'static str,
    /// The length of its literal start when it has a `{name}` segment.
    literal: Option<usize>,
}

impl Pattern {
    fn new(text: &'static str) -> Self {
        Self {
            text,
            literal: text.find('{'),
        }
    }
}

impl FixedPaths {
    /// True when a fixed route's pattern matches `path` (canonical).
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|pattern| {
            // The literal start first: on every prefix-route request each pattern is tried,
            // and nearly all differ from the path in their first bytes.
            match pattern.literal {
                None => pattern.text == path,
                Some(literal) => {
                    path.starts_with(&pattern.text[..literal]) && matches(pattern.text, path)
                }
            }
        })
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.split('/');
    let mut path = path.split('/');
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') => {
                if s.is_empty() {
                    return false;
                }
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_patterns_match_whole_segments() {
        let fixed = FixedPaths {
            patterns: ["/health", "/api/processes/{key}", "/api/tasks/{id}/form"]
                .map(Pattern::new)
                .to_vec(),
        };
        for path in ["/health", "/api/processes/order-42", "/api/tasks/t1/form"] {
            assert!(fixed.matches(path), "{path}");
        }
        for path in [
            "/health/",
            "/healthz",
            "/",
            "/api/processes",
            "/api/processes/",
            "/api/processes/a/b",
            "/api/tasks//form",
            "/api/tasks/t1",
        ] {
            assert!(!fixed.matches(path), "{path}");
        }
    }
}
