//! Wiring: configuration -> state -> axum router with the proxy's middleware.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey};
use jwtkit_secret::{Secret, SecretEncoding};
use jwtkit_verify::{IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::Access;
use crate::camunda::CamundaFacade;
use crate::client::UpstreamClient;
use crate::config::{Config, ConfigError, IssuerSection, SecretRef, UpstreamAuth};
use crate::error::{ApiError, ErrorKind};
use crate::forward::{InboundHeaders, ProxyRoute, forward};
use crate::metrics::Metrics;
use crate::tokens::CentrifugoTokens;
use crate::upstream::{Upstream, load_secret, secret_origin};

/// Everything a request handler needs.
pub struct AppState {
    /// Inbound token validation.
    pub registry: Arc<Registry>,
    /// Upstreams by name.
    pub upstreams: HashMap<String, Arc<Upstream>>,
    /// Prefix routes, longest (canonical) prefix first.
    pub routes: Vec<ProxyRoute>,
    /// The Camunda facade, when configured.
    pub camunda: Option<CamundaFacade>,
    /// Centrifugo token endpoints, when configured.
    pub centrifugo: Option<CentrifugoTokens>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    max_header_bytes: usize,
    max_body_bytes: usize,
}

fn issuer_config(index: usize, section: &IssuerSection) -> Result<IssuerConfig, ConfigError> {
    let key = format!("issuers[{index}]");
    let algorithms = section
        .algorithms
        .iter()
        .map(|name| {
            name.parse::<Algorithm>().map_err(|e| {
                ConfigError::new(
                    format!("{key}.algorithms"),
                    e.to_string(),
                    "use names like RS256",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let read_file = |field: &str, path: &Path| {
        std::fs::read(path).map_err(|e| {
            ConfigError::new(
                format!("{key}.{field}"),
                format!("cannot read {}: {}", path.display(), e.kind()),
                "check the path",
            )
        })
    };
    let jwks = |config: JwksConfig| -> Result<KeySource, ConfigError> {
        let mut config = config;
        if let Some(seconds) = section.max_stale_seconds {
            config.max_stale = Duration::from_secs(seconds);
        }
        JwksCache::new(config)
            .map(KeySource::Jwks)
            .map_err(|e| ConfigError::new(key.clone(), e.to_string(), "check the URL"))
    };
    let keys = if let Some(url) = &section.jwks_url {
        jwks(JwksConfig::jwks_url(url.clone()))?
    } else if let Some(url) = &section.discovery_url {
        jwks(JwksConfig::discovery(
            url.clone(),
            section.iss.first().cloned(),
        ))?
    } else if let Some(path) = &section.jwks_file {
        let parsed = jwtkit_keys::parse_key_set(&read_file("jwks_file", path)?).map_err(|e| {
            ConfigError::new(
                format!("{key}.jwks_file"),
                e.to_string(),
                "give a {\"keys\": [...]} document",
            )
        })?;
        KeySource::Static(parsed.keys)
    } else if let Some(path) = &section.public_key_file {
        let text = String::from_utf8(read_file("public_key_file", path)?).unwrap_or_default();
        let parsed = if text.trim_start().starts_with('{') {
            jwtkit_keys::Jwk::from_json(&text).and_then(|jwk| VerifyingKey::from_jwk(&jwk))
        } else {
            VerifyingKey::from_pem(&text)
        };
        KeySource::Static(vec![parsed.map_err(|e| {
            ConfigError::new(
                format!("{key}.public_key_file"),
                e.to_string(),
                "give a PEM or JWK public key",
            )
        })?])
    } else if let Some(secret_ref) = &section.secret {
        let (secret, _) = load_secret(&format!("{key}.secret"), secret_ref, SecretEncoding::Raw)?;
        tracing::info!(issuer = %section.name, fingerprint = %secret.fingerprint(), "HMAC issuer secret loaded");
        let key_source = VerifyingKey::hmac(&secret).map_err(|e| {
            ConfigError::new(
                format!("{key}.secret"),
                e.to_string(),
                format!("use a longer secret in {}", secret_origin(secret_ref)),
            )
        })?;
        KeySource::Static(vec![key_source])
    } else {
        return Err(ConfigError::new(
            key,
            "has no key source",
            "set one of jwks_url, discovery_url, jwks_file, public_key_file, secret",
        ));
    };
    // A listed algorithm no key can serve would reject every token: refuse it at start.
    if let KeySource::Static(keys) = &keys
        && let Some(alg) = algorithms
            .iter()
            .find(|alg| !keys.iter().any(|k| k.allows(**alg)))
    {
        return Err(ConfigError::new(
            format!("{key}.algorithms"),
            format!(
                "no configured key can verify {alg} (HS384/HS512 need secrets of 48/64 bytes; RS*/ES* need public keys)"
            ),
            "list only the algorithms the issuer's keys serve",
        ));
    }
    Ok(IssuerConfig {
        name: section.name.clone(),
        issuers: section.iss.clone(),
        keys,
        policy: Policy {
            audiences: section.audiences.clone(),
            accept_any_audience: section.accept_any_audience,
            authorized_parties: section.authorized_parties.clone(),
            algorithms,
            leeway_seconds: section
                .leeway_seconds
                .unwrap_or(jwtkit_verify::DEFAULT_LEEWAY_SECONDS),
            required_claims: section.required_claims.clone(),
            typ: section.typ.clone(),
            allow_missing_iss: section.allow_missing_iss,
            ..Policy::default()
        },
    })
}

/// Static keys of a caller issuer, with the configuration key and origin that name them.
struct CallerKeys {
    key: String,
    name: String,
    origin: String,
    keys: Vec<VerifyingKey>,
}

/// A secret the proxy mints tokens with, named like [`CallerKeys`].
struct MintingKey {
    key: String,
    origin: String,
    secret: Secret,
}

/// Where a secret or key file comes from, for messages (never the secret itself).
fn origin_of(reference: Option<&SecretRef>, file: Option<&Path>) -> String {
    match (reference, file) {
        (Some(reference), _) => secret_origin(reference),
        (None, Some(path)) => format!("file {}", path.display()),
        (None, None) => "keys built in".to_owned(),
    }
}

/// The static keys of each caller issuer: configured ones by index, then `extra` ones by name.
fn caller_keys(config: &Config, issuers: &[IssuerConfig]) -> Vec<CallerKeys> {
    issuers
        .iter()
        .enumerate()
        .filter_map(|(index, issuer)| {
            let KeySource::Static(keys) = &issuer.keys else {
                return None;
            };
            let (key, origin) = match config.issuers.get(index) {
                Some(section) => {
                    let (field, file) = if section.secret.is_some() {
                        ("secret", None)
                    } else if let Some(path) = &section.jwks_file {
                        ("jwks_file", Some(path.as_path()))
                    } else {
                        ("public_key_file", section.public_key_file.as_deref())
                    };
                    (
                        format!("issuers[{index}].{field}"),
                        origin_of(section.secret.as_ref(), file),
                    )
                }
                None => (format!("issuer {:?}", issuer.name), origin_of(None, None)),
            };
            Some(CallerKeys {
                key,
                name: issuer.name.clone(),
                origin,
                keys: keys.clone(),
            })
        })
        .collect()
}

/// Message signed with each minting secret to find out whether a caller issuer's key verifies it.
const PROBE: &[u8] = b"jwtkit-proxy: is this minting key also a caller issuer's key?";

/// Refuses a minting secret that is, as an HMAC key, the key of a caller issuer: every token
/// minted with it (which `allow_missing_iss` or a configured minting `issuer` could route to
/// that issuer) would pass as a caller's token. Keys are compared the way HMAC uses them: a probe
/// signed with the minting secret under each HMAC algorithm the issuer's key serves must not
/// verify under it. That catches the same bytes in any encoding, and byte strings HMAC treats
/// as one key (a key and its zero-padded form, a long key and its hash).
fn refuse_shared_hmac_keys(
    minting: &[MintingKey],
    callers: &[CallerKeys],
) -> Result<(), ConfigError> {
    for mint in minting {
        for caller in callers {
            let shared = caller.keys.iter().any(|verifying| {
                [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
                    .into_iter()
                    .filter(|alg| verifying.allows(*alg))
                    .filter_map(|alg| {
                        let signature =
                            SigningKey::hmac(alg, &mint.secret).ok()?.sign(PROBE).ok()?;
                        Some(verifying.verify(alg, PROBE, &signature).is_ok())
                    })
                    .any(|verified| verified)
            });
            if shared {
                return Err(ConfigError::new(
                    &mint.key,
                    format!(
                        "is the same HMAC key ({}, {}) as `{}` of issuer {:?} ({}): one key would both sign the proxy's tokens and verify that issuer's callers' tokens",
                        mint.secret.fingerprint(),
                        mint.origin,
                        caller.key,
                        caller.name,
                        caller.origin
                    ),
                    format!(
                        "give `{}` and `{}` different secrets (jwtkit secret generate)",
                        mint.key, caller.key
                    ),
                ));
            }
        }
    }
    Ok(())
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
        let camunda = config
            .camunda
            .as_ref()
            .map(|c| CamundaFacade::new(c, upstreams[&c.upstream].clone()));
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
    if state.camunda.is_some() {
        routes = routes.merge(crate::camunda::router());
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
