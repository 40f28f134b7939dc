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
//! take: 405), everything else the prefix table's. With `cors_origins` configured (and in dev
//! mode) every request goes through axum, where tower-http's CORS layer answers preflights.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
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
        if let Some(direct) = &self.direct {
            let target = read_target(request.uri().path());
            let fixed = target
                .path(request.uri().path())
                .is_some_and(|path| direct.fixed.matches(path));
            if !fixed {
                return Box::pin(async move {
                    let direct = self.direct.as_ref().expect("checked above");
                    Ok(direct.serve(request, target, peer).await)
                });
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
    /// A prefix-route request, observed as the router's middleware observes: refused when its
    /// path or size is (a declared length over the limit among them), else forwarded with its
    /// body limited to `max_body_bytes` (a body growing past it fails the upstream request,
    /// which [`Forwarder::serve`] answers 413; hyper holds a body to its declared length).
    async fn serve(
        &self,
        mut request: Request<Incoming>,
        target: crate::observe::Target,
        peer: Peer,
    ) -> Response {
        let mut observation = self.observer.start(&mut request, target);
        let response = match observation.take_refusal() {
            Some(refusal) => refusal.into_response(),
            None => {
                let request = request.map(|body| {
                    if body.is_end_stream() {
                        Body::empty()
                    } else {
                        Body::new(http_body_util::Limited::new(body, self.max_body_bytes))
                    }
                });
                self.forwarder
                    .serve_route(request, peer, observation.route())
                    .await
            }
        };
        self.observer.finish(observation, None, response)
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
