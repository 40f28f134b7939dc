//! Bearer-token authentication for axum services (feature `axum`).
//!
//! [`JwtAuthLayer`] validates the request's token with a [`Registry`] and puts the
//! [`Validated`] token in the request extensions; [`JwtClaims<T>`] extracts its claims as the
//! handler's type (`Extension<Validated>` gives the whole token, issuer name included).
//!
//! - The token is read from `Authorization: Bearer` and, with [`JwtAuthLayer::cookie`], from a
//!   cookie when the header has none.
//! - A refused request answers as [`Refusal`] says: 401 with `WWW-Authenticate: Bearer
//!   error="invalid_token"` (RFC 6750 §3), or 503 with `Retry-After: 5`
//!   ([`RETRY_AFTER_SECONDS`](crate::RETRY_AFTER_SECONDS)) when the issuer's keys cannot be
//!   fetched; the JSON body is `{"error": code, "detail": message}`.
//!   [`JwtAuthLayer::on_rejection`] shapes the answer instead.
//! - A refused gRPC call (`content-type: application/grpc*`) is answered as gRPC clients read
//!   it, whatever the hook: HTTP 200 with `grpc-status` 16 `UNAUTHENTICATED` (14 `UNAVAILABLE`
//!   for unavailable issuer keys, 7 `PERMISSION_DENIED` for [`RequireLayer`]'s denials) and
//!   `grpc-message` `<code>: <detail>`; `WWW-Authenticate` stays ([`crate::grpc`]).
//! - Every refusal is logged with `tracing`, target `jwtkit_verify::axum_auth`: at `debug` for
//!   a request without a token, at `info` for a refused token, with its `code`, the `issuer`
//!   entry when the token's `iss` named one, the request `path` and the reason; never the token.
//! - [`JwtAuthLayer::optional`] lets requests without a token through to handlers taking
//!   `Option<JwtClaims<T>>`, which see `None`; a token that is present but refused is still
//!   refused.
//! - [`RequireLayer`] puts [`Requirements`](crate::Requirements) (roles, permissions, scopes)
//!   on some routes, behind this layer: 403 `insufficient_scope` when the token does not meet
//!   them.
//!
//! # Put the layer on the routes with `route_layer`
//!
//! `Router::layer` runs the layer for every request the router receives, including paths no
//! route matches and CORS preflights (`OPTIONS` without credentials): those would be answered
//! 401 instead of 404 or the preflight's answer. `Router::route_layer` runs it only for requests
//! that matched a route added before it. Put a CORS layer outside, with `.layer` after the
//! `route_layer`, so preflights are answered before authentication:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, body::Body, routing::get};
//! use http::{Method, Request, StatusCode};
//! use jwtkit_secret::Secret;
//! use jwtkit_verify::axum_auth::{JwtAuthLayer, JwtClaims};
//! use jwtkit_verify::{IssuerConfig, Registry};
//! use tower::ServiceExt as _;
//! use tower_http::cors::CorsLayer;
//!
//! #[derive(serde::Deserialize)]
//! struct User { sub: String }
//!
//! async fn me(JwtClaims(user): JwtClaims<User>) -> String { user.sub }
//!
//! let secret = Secret::generate(32)?;
//! let registry = Registry::new(vec![IssuerConfig::hmac("api", &secret)?.iss("https://api.example")])?;
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route_layer(JwtAuthLayer::new(registry))
//!     .layer(CorsLayer::permissive());
//!
//! let answer = |request: Request<Body>| app.clone().oneshot(request);
//! let status = |uri: &str| answer(Request::get(uri).body(Body::empty()).unwrap());
//! assert_eq!(status("/me").await?.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(status("/nowhere").await?.status(), StatusCode::NOT_FOUND);
//! let preflight = Request::builder()
//!     .method(Method::OPTIONS)
//!     .uri("/me")
//!     .header("origin", "https://app.example")
//!     .header("access-control-request-method", "GET")
//!     .body(Body::empty())?;
//! assert_eq!(answer(preflight).await?.status(), StatusCode::OK);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Request, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::grpc::{self, GrpcStatus};
use crate::{Refusal, Registry, Validated, VerifyError, claims, now};

mod require;
pub use require::{Require, RequireLayer};

/// The token of an `Authorization: Bearer` header (scheme case-insensitive, RFC 6750 §2.1):
/// [`crate::extract::bearer`], kept under this name for existing callers.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    crate::extract::bearer(headers)
}

/// Why a request was not authenticated.
#[derive(Debug, Clone)]
pub enum AuthRejection {
    /// No token in the request.
    Missing,
    /// The token was refused, or its claims do not fit the handler's type.
    Invalid(VerifyError),
    /// [`JwtClaims<T>`] was used on a route without [`JwtAuthLayer`] (a server mistake: 500).
    LayerMissing,
}

impl AuthRejection {
    /// The status of the default answer: 401, 503 for unavailable issuer keys, 500 for
    /// [`AuthRejection::LayerMissing`].
    pub fn status(&self) -> StatusCode {
        self.refusal()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, Refusal::status)
    }

    /// The stable code: `missing_token`, the [`VerifyError::code`], or `auth_not_configured`.
    pub fn code(&self) -> &'static str {
        self.refusal().map_or("auth_not_configured", Refusal::code)
    }

    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Missing => Some(Refusal::MissingToken),
            Self::Invalid(err) => Some(Refusal::of(err)),
            Self::LayerMissing => None,
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Missing => "send Authorization: Bearer <token>".to_owned(),
            Self::Invalid(err) => match Refusal::of(err) {
                Refusal::KeysUnavailable => {
                    "the token issuer's keys are unavailable; retry later".to_owned()
                }
                _ => err.to_string(),
            },
            Self::LayerMissing => "JwtClaims<T> needs JwtAuthLayer on the route".to_owned(),
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code(), "detail": self.detail() });
        let response = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        with_protocol_headers(response, &self)
    }
}

/// Adds what the protocol asks of a refusal when the response lacks it: the challenge of a
/// 401 (RFC 6750 §3) and the `Retry-After` of the 503.
fn with_protocol_headers(mut response: Response, rejection: &AuthRejection) -> Response {
    let Some(refusal) = rejection.refusal() else {
        return response;
    };
    let status = response.status();
    let headers = response.headers_mut();
    if status == StatusCode::UNAUTHORIZED
        && !headers.contains_key(header::WWW_AUTHENTICATE)
        && let Some(challenge) = refusal.challenge()
    {
        headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE
        && !headers.contains_key(header::RETRY_AFTER)
        && let Some(seconds) = refusal.retry_after()
    {
        headers.insert(header::RETRY_AFTER, seconds);
    }
    response
}

/// Shapes the answer to a refused request (see [`JwtAuthLayer::on_rejection`]).
pub type RejectionHook = fn(&AuthRejection) -> Response;

/// Logs the refusal (never the token) and answers it, through the hook when one is set.
fn refuse(
    rejection: AuthRejection,
    issuer: Option<&str>,
    path: &str,
    hook: Option<RejectionHook>,
) -> Response {
    match &rejection {
        AuthRejection::Missing => {
            tracing::debug!(code = rejection.code(), path, "request refused: no token");
        }
        AuthRejection::Invalid(err) => tracing::info!(
            code = err.code(),
            issuer,
            path,
            reason = %err,
            "request refused: token not accepted"
        ),
        AuthRejection::LayerMissing => tracing::error!(
            code = rejection.code(),
            path,
            "JwtClaims<T> used on a route without JwtAuthLayer"
        ),
    }
    let grpc_status = rejection
        .refusal()
        .map_or(GrpcStatus::Internal, Refusal::grpc_status);
    let message = format!("{}: {}", rejection.code(), rejection.detail());
    let mut response = match hook {
        Some(hook) => with_protocol_headers(hook(&rejection), &rejection),
        None => rejection.into_response(),
    };
    response
        .extensions_mut()
        .insert(GrpcRefusal(grpc_status, message));
    response
}

/// Put on a refusal's response by this module: how a gRPC caller is told, should the request
/// be a gRPC call (the layer, which sees the request, decides: [`in_grpc_form`]).
#[derive(Clone)]
struct GrpcRefusal(GrpcStatus, String);

/// `response` as a trailers-only gRPC answer when it is a refusal and `grpc` (the request is a
/// gRPC call); otherwise unchanged.
fn in_grpc_form(mut response: Response, grpc: bool) -> Response {
    if !grpc {
        return response;
    }
    match response.extensions_mut().remove::<GrpcRefusal>() {
        Some(GrpcRefusal(status, message)) => grpc::trailers_only(response, status, &message),
        None => response,
    }
}

/// The hook of the layer that handled this request, for refusals made by the extractor.
#[derive(Clone, Copy)]
struct HookOf(RejectionHook);

/// Set by an [`JwtAuthLayer::optional`] layer on a request it let through without a token.
#[derive(Clone, Copy)]
struct NoToken;

#[derive(Clone)]
struct Settings {
    registry: Arc<Registry>,
    cookie: Option<String>,
    optional: bool,
    on_rejection: Option<RejectionHook>,
}

impl Settings {
    /// The bearer token, else the configured cookie.
    fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        crate::extract::bearer(headers).or_else(|| {
            let name = self.cookie.as_deref()?;
            crate::extract::cookie(headers, name)
        })
    }
}

/// A tower layer that authenticates requests with a [`Registry`]; see the
/// [module documentation](self) for where to put it.
#[derive(Clone)]
pub struct JwtAuthLayer {
    settings: Arc<Settings>,
}

impl JwtAuthLayer {
    /// Authenticates with `registry` (a [`Registry`], or an `Arc<Registry>` shared with, say, a
    /// readiness probe): the bearer token is required on every request the layer sees.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use jwtkit_secret::Secret;
    /// use jwtkit_verify::axum_auth::JwtAuthLayer;
    /// use jwtkit_verify::{IssuerConfig, Registry};
    ///
    /// let secret = Secret::generate(32)?;
    /// let registry = Arc::new(Registry::new(vec![IssuerConfig::hmac("api", &secret)?.iss("urn:api")])?);
    /// let layer = JwtAuthLayer::new(registry.clone()).cookie("__session");
    /// assert!(registry.is_ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(registry: impl Into<Arc<Registry>>) -> Self {
        Self {
            settings: Arc::new(Settings {
                registry: registry.into(),
                cookie: None,
                optional: false,
                on_rejection: None,
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Arc::unwrap_or_clone(self.settings);
        change(&mut settings);
        Self {
            settings: Arc::new(settings),
        }
    }

    /// Also reads the token from the cookie `name` (exact name) when the request has no
    /// `Authorization: Bearer` header: for browser sessions (Clerk's `__session`, for one).
    pub fn cookie(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.with(|settings| settings.cookie = Some(name))
    }

    /// Lets requests without a token through: handlers taking `Option<JwtClaims<T>>` see
    /// `None`, and those taking `JwtClaims<T>` refuse them (401). A request that carries a token
    /// is still refused when the token is.
    ///
    /// ```
    /// use jwtkit_verify::axum_auth::JwtClaims;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct User { sub: String }
    ///
    /// async fn greeting(user: Option<JwtClaims<User>>) -> String {
    ///     match user {
    ///         Some(JwtClaims(user)) => format!("hello {}", user.sub),
    ///         None => "hello stranger".to_owned(),
    ///     }
    /// }
    /// ```
    pub fn optional(self) -> Self {
        self.with(|settings| settings.optional = true)
    }

    /// Answers refused requests with `hook`'s response instead of the default JSON, for the
    /// layer's refusals and those of [`JwtClaims<T>`] behind it. A 401 without
    /// `WWW-Authenticate` gets the challenge added, a 503 without `Retry-After` the delay. A
    /// gRPC call is still answered in gRPC form ([`crate::grpc`]), with the hook's headers.
    ///
    /// ```
    /// use axum::response::{IntoResponse, Response};
    /// use jwtkit_verify::axum_auth::{AuthRejection, JwtAuthLayer};
    /// # let registry = jwtkit_verify::Registry::new(vec![]).unwrap();
    ///
    /// fn plain(rejection: &AuthRejection) -> Response {
    ///     (rejection.status(), format!("not allowed: {}", rejection.code())).into_response()
    /// }
    /// let layer = JwtAuthLayer::new(registry).on_rejection(plain);
    /// ```
    pub fn on_rejection(self, hook: RejectionHook) -> Self {
        self.with(|settings| settings.on_rejection = Some(hook))
    }
}

impl<S> tower::Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The service made by [`JwtAuthLayer`].
#[derive(Clone)]
pub struct JwtAuth<S> {
    inner: S,
    settings: Arc<Settings>,
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
        let settings = self.settings.clone();
        Box::pin(async move {
            let grpc = grpc::is_grpc(request.headers());
            let hook = settings.on_rejection;
            let outcome = match settings.token(request.headers()) {
                Some(token) => Some(
                    settings
                        .registry
                        .validate_routed(token, now())
                        .await
                        .map(Arc::unwrap_or_clone),
                ),
                None => None,
            };
            match outcome {
                Some(Ok(validated)) => {
                    request.extensions_mut().insert(validated);
                }
                None if settings.optional => {
                    request.extensions_mut().insert(NoToken);
                }
                None => {
                    let path = request.uri().path();
                    let refused = refuse(AuthRejection::Missing, None, path, hook);
                    return Ok(in_grpc_form(refused, grpc));
                }
                Some(Err(refused)) => {
                    let rejection = AuthRejection::Invalid(refused.error);
                    let path = request.uri().path();
                    let refused = refuse(rejection, refused.issuer.as_deref(), path, hook);
                    return Ok(in_grpc_form(refused, grpc));
                }
            }
            if let Some(hook) = hook {
                request.extensions_mut().insert(HookOf(hook));
            }
            // Refusals behind the layer (the extractor's, RequireLayer's) pass through here.
            let response = inner.call(request).await?;
            Ok(in_grpc_form(response, grpc))
        })
    }
}

/// The authenticated request's claims as `T` (set by [`JwtAuthLayer`]). Claims that do not fit
/// `T` are refused with 401 `invalid_claim`, naming the path of the value that does not.
/// `Option<JwtClaims<T>>` is `None` for a request an [`JwtAuthLayer::optional`] layer let
/// through without a token.
#[derive(Debug, Clone)]
pub struct JwtClaims<T>(pub T);

/// `Some` claims for an authenticated request, `None` for one let through without a token, the
/// refusal when the claims do not fit `T` or no layer ran.
// The error is the extractor's rejection itself (a response, built only for a refused request).
#[allow(clippy::result_large_err)]
fn claims_of<T: DeserializeOwned>(parts: &Parts) -> Result<Option<T>, Response> {
    let hook = parts.extensions.get::<HookOf>().map(|hook| hook.0);
    if let Some(validated) = parts.extensions.get::<Validated>() {
        return claims::typed(validated.claims.payload())
            .map(Some)
            .map_err(|err| {
                let issuer = validated.issuer.as_deref();
                refuse(AuthRejection::Invalid(err), issuer, parts.uri.path(), hook)
            });
    }
    if parts.extensions.get::<NoToken>().is_some() {
        return Ok(None);
    }
    Err(refuse(
        AuthRejection::LayerMissing,
        None,
        parts.uri.path(),
        None,
    ))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for JwtClaims<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match claims_of(parts)? {
            Some(claims) => Ok(Self(claims)),
            None => {
                let hook = parts.extensions.get::<HookOf>().map(|hook| hook.0);
                Err(refuse(AuthRejection::Missing, None, parts.uri.path(), hook))
            }
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequestParts<S> for JwtClaims<T> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(claims_of(parts)?.map(Self))
    }
}
