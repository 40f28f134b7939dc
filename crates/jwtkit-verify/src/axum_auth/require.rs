//! [`RequireLayer`]: per-route [`Requirements`] on the token [`JwtAuthLayer`](super::JwtAuthLayer) accepted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, header};

use super::{AuthRejection, HookOf, NoToken, refuse};
use crate::{Denied, RequestInfo, Requirements, Validated};

/// A tower layer that lets a request through only when its token meets `requirements`: put it
/// with `route_layer` on the routes that need it, after (inside) [`JwtAuthLayer`](super::JwtAuthLayer), whose
/// validated token it reads from the request extensions.
///
/// - `allow_if` rules (feature `cel`) see the request's method, path and headers.
/// - A token that does not meet them is answered 403 with `WWW-Authenticate: Bearer
///   error="insufficient_scope"` (plus `scope="..."` when scopes are required, RFC 6750 §3.1)
///   and the JSON body `{"error": "insufficient_scope", "detail": "<the rule that failed>"}`
///   ([`Denied`]); [`JwtAuthLayer::on_rejection`](super::JwtAuthLayer::on_rejection) does not shape this answer.
/// - The denial is logged at `info` with `tracing` (target
///   `jwtkit_verify::axum_auth::require`): the `rule`, the `issuer` entry and the `path`; never
///   the token or its claims.
/// - A request an [`JwtAuthLayer::optional`](super::JwtAuthLayer::optional) layer let through without a token is refused 401
///   `missing_token`; a route without [`JwtAuthLayer`](super::JwtAuthLayer) answers 500 `auth_not_configured`.
///
/// ```
/// use axum::{Router, routing::get};
/// use jwtkit_secret::Secret;
/// use jwtkit_verify::axum_auth::{JwtAuthLayer, RequireLayer};
/// use jwtkit_verify::{IssuerConfig, Registry, Requirements};
///
/// let secret = Secret::generate(32)?;
/// let registry = Registry::new(vec![IssuerConfig::hmac("kc", &secret)?.iss("https://kc.example")])?;
/// let admins = Requirements::new().claim("/realm_access/roles", "admin")?;
/// let readers = Requirements::new().scopes(["orders:read"])?;
/// let app: Router = Router::new()
///     .route("/admin", get(|| async { "admin" }))
///     .route_layer(RequireLayer::new(admins))
///     .route("/orders", get(|| async { "orders" }))
///     .route_layer(RequireLayer::new(readers))
///     .route_layer(JwtAuthLayer::new(registry));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Each `route_layer` wraps the routes added before it: above, `/admin` needs the role and the
/// scope, `/orders` the scope only. Give routes with different needs their own `Router` and
/// `merge` them when the requirements must not add up.
#[derive(Clone)]
pub struct RequireLayer {
    requirements: Arc<Requirements>,
}

impl RequireLayer {
    /// Requires `requirements` (a [`Requirements`], or an `Arc` of one shared between routes).
    pub fn new(requirements: impl Into<Arc<Requirements>>) -> Self {
        Self {
            requirements: requirements.into(),
        }
    }
}

impl<S> tower::Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            requirements: self.requirements.clone(),
        }
    }
}

/// The service made by [`RequireLayer`].
#[derive(Clone)]
pub struct Require<S> {
    inner: S,
    requirements: Arc<Requirements>,
}

impl<S> Require<S> {
    /// `None` when the request may go on, else the answer.
    fn refusal(&self, request: &Request<Body>) -> Option<Response> {
        let extensions = request.extensions();
        let path = request.uri().path();
        let Some(validated) = extensions.get::<Validated>() else {
            let hook = extensions.get::<HookOf>().map(|hook| hook.0);
            return Some(match extensions.get::<NoToken>() {
                Some(NoToken) => refuse(AuthRejection::Missing, None, path, hook),
                None => refuse(AuthRejection::LayerMissing, None, path, None),
            });
        };
        let info = RequestInfo {
            method: request.method().as_str(),
            path,
            headers: request.headers(),
        };
        let denied = self.requirements.check_request(validated, &info).err()?;
        tracing::info!(
            code = denied.code(),
            rule = denied.rule(),
            issuer = validated.issuer.as_deref(),
            path,
            "request refused: requirements not met"
        );
        Some(denied.into_response())
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let message = format!("{}: {}", self.code(), self.rule());
        let mut response = (
            self.status(),
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::WWW_AUTHENTICATE, self.challenge()),
            ],
            self.body().to_string(),
        )
            .into_response();
        response
            .extensions_mut()
            .insert(super::GrpcRefusal(self.grpc_status(), message));
        response
    }
}

impl<S> tower::Service<Request<Body>> for Require<S>
where
    S: tower::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The check is synchronous: the service that was polled ready serves the request
        // right here, no clone needed.
        let next = match self.refusal(&request) {
            Some(answer) => Err(answer),
            None => Ok(self.inner.call(request)),
        };
        Box::pin(async move {
            match next {
                Ok(inner) => inner.await,
                Err(answer) => Ok(answer),
            }
        })
    }
}
