//! Wiring: configuration -> state -> axum router with the proxy's middleware.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwtkit_verify::{IssuerConfig, Registry};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::Access;
use crate::camunda::CamundaFacade;
use crate::client::UpstreamClient;
use crate::config::issuers::{MintingKey, caller_keys, issuer_config, refuse_shared_hmac_keys};
use crate::config::{Config, ConfigError, UpstreamAuth, secret_origin};
use crate::error::{ApiError, ErrorKind};
use crate::forward::{InboundHeaders, ProxyRoute, forward};
use crate::metrics::Metrics;
use crate::tokens::CentrifugoTokens;
use crate::upstream::Upstream;

/// Everything a request handler needs.
pub struct AppState {
    /// Inbound token validation.
    pub registry: Arc<Registry>,
    /// Upstreams by name.
    pub upstreams: HashMap<String, Arc<Upstream>>,
    /// Prefix routes, longest (canonical) prefix first.
    pub routes: Vec<ProxyRoute>,
    /// The Camunda facade, when configured.
    pub camunda: Option<Arc<CamundaFacade>>,
    /// Centrifugo token endpoints, when configured.
    pub centrifugo: Option<CentrifugoTokens>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    max_header_bytes: usize,
    max_body_bytes: usize,
}

impl AppState {
    /// `limits.max_body_bytes`.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Builds the state; every secret and key file is read now, so mistakes stop the start.
    pub fn build(config: &Config, extra_issuers: Vec<IssuerConfig>) -> Result<Self, ConfigError> {
        config.check()?;
        let mut issuers = config
            .issuers
            .iter()
            .enumerate()
            .map(|(i, s)| issuer_config(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        for extra in &extra_issuers {
            config.refuse_minted_iss(&format!("issuer {:?}", extra.name), &extra.issuers)?;
        }
        issuers.extend(extra_issuers);
        // Kept for the minting-key check below; the registry takes the configurations.
        let callers = caller_keys(config, &issuers);
        if issuers.is_empty() {
            return Err(ConfigError::new(
                "issuers",
                "no issuer is configured",
                "add an [[issuers]] section",
            ));
        }
        let mut registry = Registry::new(issuers).map_err(|e| {
            ConfigError::new(
                "issuers",
                e.to_string(),
                "each iss value may belong to one issuer only",
            )
        })?;
        if config.token_cache_capacity > 0 {
            registry = registry.with_token_cache(config.token_cache_capacity);
        }
        let registry = Arc::new(registry);
        let metrics = Arc::new(Metrics::new(registry.clone()));
        let client = UpstreamClient::new(Duration::from_secs(5))
            .map_err(|e| ConfigError::new("upstreams", e, "check the system's CA certificates"))?;
        let mut upstreams = HashMap::new();
        let mut minting = Vec::new();
        for (index, section) in config.upstreams.iter().enumerate() {
            let upstream = Upstream::from_config(index, section, client.clone(), metrics.clone())?;
            if let (UpstreamAuth::Mint(mint), Some(secret)) =
                (&section.auth, upstream.minting_secret())
            {
                minting.push(MintingKey {
                    key: format!("upstreams[{index}].auth.secret"),
                    origin: secret_origin(&mint.secret),
                    secret: secret.clone(),
                });
            }
            tracing::info!(
                upstream = %upstream.name,
                url = %upstream.base_url(),
                credential = upstream.credential_kind(),
                fingerprint = upstream.credential_fingerprint().as_deref().unwrap_or("-"),
                "upstream configured"
            );
            upstreams.insert(section.name.clone(), Arc::new(upstream));
        }
        let mut routes: Vec<ProxyRoute> = config
            .routes
            .iter()
            .enumerate()
            .map(|(index, r)| {
                let identity_headers = config
                    .upstreams
                    .iter()
                    .filter(|u| u.name == r.upstream)
                    .flat_map(|u| u.identity_headers.keys().map(String::as_str));
                let inbound = InboundHeaders::new(
                    config.strip_header_prefixes.iter().map(String::as_str),
                    identity_headers,
                    config.keep_underscore_headers,
                );
                ProxyRoute::new(
                    &r.prefix,
                    r.case_insensitive,
                    r.strip_prefix,
                    upstreams[&r.upstream].clone(),
                    Access::new(&r.access),
                    inbound,
                )
                .map_err(|problem| {
                    ConfigError::new(
                        format!("routes[{index}].prefix"),
                        format!("{:?} {problem}", r.prefix),
                        "write the prefix with letters, digits, `-._~` and `/` only",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        routes.sort_by_key(|r| std::cmp::Reverse(r.canonical_len()));
        let camunda = config.camunda.as_ref().map(|c| {
            let engine = upstreams[&c.upstream].clone();
            Arc::new(CamundaFacade::new(c, engine, registry.clone()))
        });
        let centrifugo = config
            .centrifugo
            .as_ref()
            .map(CentrifugoTokens::from_config)
            .transpose()?;
        if let (Some(section), Some(tokens)) = (&config.centrifugo, &centrifugo) {
            minting.push(MintingKey {
                key: "centrifugo.secret".to_owned(),
                origin: secret_origin(&section.secret),
                secret: tokens.minting_secret().clone(),
            });
        }
        refuse_shared_hmac_keys(&minting, &callers)?;
        Ok(Self {
            registry,
            upstreams,
            routes,
            camunda,
            centrifugo,
            metrics,
            max_header_bytes: config.limits.max_header_bytes,
            max_body_bytes: config.limits.max_body_bytes,
        })
    }
}

/// The router with all middleware.
pub fn router(state: Arc<AppState>, config: &Config) -> Router {
    let mut routes = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics));
    // Feature routes exist only when configured, so they never hide a prefix route.
    if let Some(facade) = &state.camunda {
        routes = routes.merge(crate::camunda::router(facade.clone()));
    }
    if state.centrifugo.is_some() {
        routes = routes.merge(crate::tokens::router());
    }
    let routes = routes
        .fallback(proxy)
        .layer(RequestBodyLimitLayer::new(config.limits.max_body_bytes))
        .with_state(state.clone());
    // Every route family is chosen on the canonical path, so the middleware that makes it
    // canonical wraps the whole router: a layer on the router itself would run after routing.
    // One middleware for the path, the limits and observation: each costs allocations on
    // every request.
    let mut app = Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(state, limit_and_observe));
    if !config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = config
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                    Method::OPTIONS,
                ])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
                .max_age(Duration::from_secs(600)),
        );
    }
    app
}

/// Makes the request path canonical (400 `invalid_path` for a spelling upstreams read
/// differently, see [`crate::path`]), refuses requests over the header and declared body
/// limits, then logs and counts every request, refused ones included. The path is logged as
/// it was received, never the query: queries may carry tokens.
async fn limit_and_observe(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // A path refused as unreadable has no route: it is counted as `unmatched`.
    let (refusal, route) = match canonical_target(&mut request) {
        Err(refusal) => (Some(refusal), "unmatched".to_owned()),
        Ok(()) => (
            over_limits(&state, &request),
            route_label(&state, request.uri().path()),
        ),
    };
    let response = match refusal {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    let status = response.status();
    state.metrics.request(&route, status.as_u16());
    let code = response.extensions().get::<ErrorKind>().map(|k| k.code());
    if let Some(code) = code
        .filter(|_| status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE)
    {
        state.metrics.auth_failure(code);
    }
    tracing::info!(%method, path = %path, route = %route, status = status.as_u16(), error = code.unwrap_or("-"), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// Replaces the request's path by its canonical form (the query stays as it came); an
/// already canonical path is left alone, without allocating.
fn canonical_target(request: &mut Request) -> Result<(), ApiError> {
    let canonical = match crate::path::canonicalize(request.uri().path()) {
        Ok(Cow::Borrowed(_)) => return Ok(()),
        Ok(Cow::Owned(canonical)) => canonical,
        Err(err) => {
            return Err(ApiError::new(ErrorKind::InvalidPath, err.to_string()));
        }
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

/// 431 when the request headers together exceed the limit; 413 (in the proxy's JSON error
/// format, not the body-limit layer's plain text) when Content-Length exceeds the body limit.
fn over_limits(state: &AppState, request: &Request) -> Option<ApiError> {
    let size: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if size > state.max_header_bytes {
        return Some(ApiError::new(
            ErrorKind::HeadersTooLarge,
            "the request headers are too large",
        ));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared
        .filter(|len| *len > state.max_body_bytes as u64)
        .map(|_| ApiError::body_too_large(state.max_body_bytes))
}

/// A bounded label for metrics: a configured prefix or a fixed route, never a raw path.
fn route_label(state: &AppState, path: &str) -> String {
    if matches!(
        path,
        "/health" | "/ready" | "/metrics" | "/token/centrifugo" | "/token/centrifugo/subscription"
    ) {
        return path.to_owned();
    }
    if state.camunda.is_some() {
        let label = crate::camunda::route_label(path);
        if label != "unmatched" {
            return label;
        }
    }
    state
        .routes
        .iter()
        .find(|r| r.matches(path))
        .map_or_else(|| "unmatched".to_owned(), |r| r.prefix.clone())
}

/// A prefix route's request. Its path is canonical already (`limit_and_observe`).
async fn proxy(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(route) = state
        .routes
        .iter()
        .find(|r| r.matches(request.uri().path()))
    else {
        return ApiError::not_found(format!("no route for {}", request.uri().path()))
            .into_response();
    };
    let caller = match route
        .access
        .authenticate(&state.registry, request.headers(), request.uri())
        .await
    {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    forward(&state, route, &caller, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Liveness, plus whether each upstream answers at all (as seed 001's /health did).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let mut upstreams = serde_json::Map::new();
    for (name, upstream) in &state.upstreams {
        let reachable = upstream.is_reachable(Duration::from_secs(2)).await;
        upstreams.insert(name.clone(), serde_json::json!({ "reachable": reachable }));
    }
    let body = serde_json::json!({"status": "healthy", "timestamp": crate::error::timestamp(), "upstreams": upstreams});
    axum::Json(body).into_response()
}

/// Ready when every issuer's keys are loaded (and usable).
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if !state.registry.is_ready() {
        // A probe is a good moment to try again.
        let _ = state.registry.warm_up().await;
    }
    let issuers: serde_json::Map<String, serde_json::Value> = state
        .registry
        .jwks_stats()
        .into_iter()
        .map(|(name, stats)| {
            (
                name.to_string(),
                serde_json::json!({"keys": stats.key_count, "last_error": stats.last_error}),
            )
        })
        .collect();
    let ready = state.registry.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({"ready": ready, "issuers": issuers})),
    )
        .into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
