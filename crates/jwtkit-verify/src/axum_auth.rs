//! Bearer-token authentication for axum services (feature `axum`).
//!
//! [`JwtAuthLayer`] validates `Authorization: Bearer` tokens with a [`Registry`] and puts the
//! [`Validated`] token in the request extensions; [`Claims<T>`] extracts it as the handler's type.
//! Failures answer as [`Refusal`] says: 401 with `WWW-Authenticate: Bearer error="invalid_token"`
//! (RFC 6750 §3), unavailable issuer keys 503; the JSON body is `{"error": code, "detail": message}`.
//!
//! ```no_run
//! # async fn run(registry: jwtkit_verify::Registry) {
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use jwtkit_verify::axum_auth::{Claims, JwtAuthLayer};
//!
//! #[derive(serde::Deserialize)]
//! struct User { sub: String }
//!
//! async fn me(Claims(user): Claims<User>) -> String { user.sub }
//!
//! let app: Router = Router::new().route("/me", get(me)).layer(JwtAuthLayer::new(Arc::new(registry)));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Request, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::{Refusal, Registry, Validated, VerifyError};

/// The token of an `Authorization: Bearer` header (scheme case-insensitive, RFC 6750 §2.1):
/// [`crate::extract::bearer`], kept under this name for existing callers.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    crate::extract::bearer(headers)
}

/// Why a request was not authenticated.
#[derive(Debug)]
pub enum AuthRejection {
    /// No bearer token in the request.
    Missing,
    /// The token was rejected.
    Invalid(VerifyError),
    /// `Claims<T>` was used on a route without [`JwtAuthLayer`].
    LayerMissing,
}

fn json(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({ "error": code, "detail": detail });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The JSON answer to a [`Refusal`], with its challenge.
fn refused(refusal: Refusal, detail: &str) -> Response {
    let mut response = json(refusal.status(), refusal.code(), detail);
    if let Some(challenge) = refusal.challenge() {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Missing => refused(Refusal::MissingToken, "send Authorization: Bearer <token>"),
            Self::Invalid(err) => match Refusal::of(&err) {
                refusal @ Refusal::KeysUnavailable => refused(
                    refusal,
                    "the token issuer's keys are unavailable; retry later",
                ),
                refusal => refused(refusal, &err.to_string()),
            },
            Self::LayerMissing => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                "auth_not_configured",
                "Claims<T> needs JwtAuthLayer on the route",
            ),
        }
    }
}

/// A tower layer that authenticates every request with a [`Registry`].
#[derive(Clone)]
pub struct JwtAuthLayer {
    registry: Arc<Registry>,
}

impl JwtAuthLayer {
    /// Authenticates with `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

impl<S> tower::Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            registry: self.registry.clone(),
        }
    }
}

/// The service made by [`JwtAuthLayer`].
#[derive(Clone)]
pub struct JwtAuth<S> {
    inner: S,
    registry: Arc<Registry>,
}

impl<S> tower::Service<Request<Body>> for JwtAuth<S>
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

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let registry = self.registry.clone();
        Box::pin(async move {
            let Some(token) = crate::extract::bearer(request.headers()) else {
                return Ok(AuthRejection::Missing.into_response());
            };
            match registry.validate(token).await {
                Ok(validated) => {
                    request.extensions_mut().insert(validated);
                    inner.call(request).await
                }
                Err(err) => Ok(AuthRejection::Invalid(err).into_response()),
            }
        })
    }
}

/// The authenticated request's claims as `T` (set by [`JwtAuthLayer`]).
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let validated = parts
            .extensions
            .get::<Validated>()
            .ok_or(AuthRejection::LayerMissing)?;
        let typed = validated
            .clone()
            .deserialize::<T>()
            .map_err(AuthRejection::Invalid)?;
        Ok(Claims(typed.claims))
    }
}
