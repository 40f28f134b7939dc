//! Wiring: configuration -> the features' states -> one axum router with the proxy's
//! middleware, and the direct path of prefix-route requests beside it ([`Front`]). Each feature gets only the state it uses; a feature that is not configured has
//! no routes at all, so it never hides a prefix route.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, header};
use axum::middleware;
use jwtkit_verify::{IssuerConfig, Registry};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::Access;
use crate::camunda::CamundaFacade;
use crate::client::{ClientOptions, UpstreamClient};
use crate::config::issuers::{MintingKey, caller_keys, issuer_config, refuse_shared_hmac_keys};
use crate::config::{Config, ConfigError, UpstreamAuth, secret_origin};
use crate::forward::{Forwarder, InboundHeaders, ProxyRoute};
use crate::front::{Direct, FixedRoutes, Front, SimpleCors};
use crate::metrics::Metrics;
use crate::observe::Observer;
use crate::routes::{Prefix, RouteTable};
use crate::server::drain::Drain;
use crate::tokens::CentrifugoTokens;
use crate::trusted::TrustedProxies;
use crate::upstream::Upstream;
use crate::upstream::tls::upstream_tls;
use crate::websocket::Lifetime;

/// The proxy built from its configuration.
pub struct App {
    /// Validates callers' tokens; `run` loads its JWKS before serving.
    pub registry: Arc<Registry>,
    /// Every route, with the proxy's middleware, and the direct path of prefix routes.
    pub front: Front,
    /// The counters the router updates and `/metrics` shows.
    pub metrics: Arc<Metrics>,
}

/// Builds the proxy; every secret and key file is read now, so mistakes stop the start.
/// `extra_issuers` (dev mode's) are trusted besides the configured ones. Its relayed WebSockets
/// belong to a drain of their own (nothing stops them but their sides and their tokens).
pub fn build(config: &Config, extra_issuers: Vec<IssuerConfig>) -> Result<App, ConfigError> {
    build_with_metrics(config, extra_issuers, None, Drain::new())
}

/// [`build`], counting into `metrics` when given (a reload keeps the process's counters; the
/// caller points them at the new registry once the new router serves), its relayed WebSockets
/// closed when the listener's `drain` starts.
pub fn build_with_metrics(
    config: &Config,
    extra_issuers: Vec<IssuerConfig>,
    metrics: Option<Arc<Metrics>>,
    drain: Drain,
) -> Result<App, ConfigError> {
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
    let metrics = metrics.unwrap_or_else(|| Arc::new(Metrics::new(registry.clone())));
    let mut upstreams = HashMap::new();
    let mut minting = Vec::new();
    for (index, section) in config.upstreams.iter().enumerate() {
        // A client (and connection pool) per upstream: its protocol and TLS are its own.
        let tls = upstream_tls(index, section)?;
        if let Some(tls) = &tls {
            tracing::info!(upstream = %section.name, tls = %tls.summary, "upstream TLS configured");
        }
        let options = ClientOptions {
            connect_timeout: Duration::from_secs(5),
            http2: section.http2,
            tls: tls.map(|tls| tls.config),
        };
        let client = UpstreamClient::new(&options).map_err(|e| {
            ConfigError::new(
                format!("upstreams[{index}]"),
                e,
                "check its TLS settings and the system's CA certificates",
            )
        })?;
        let upstream = Upstream::from_config(index, section, client, metrics.clone())?;
        if let (UpstreamAuth::Mint(mint), Some(secret)) = (&section.auth, upstream.minting_secret())
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
    let routes = Arc::new(route_table(config, &upstreams)?);
    let camunda = config
        .camunda
        .as_ref()
        .map(|c| {
            CamundaFacade::new(c, upstreams[&c.upstream].clone(), registry.clone()).map(Arc::new)
        })
        .transpose()?;
    let centrifugo = config
        .centrifugo
        .as_ref()
        .map(|section| CentrifugoTokens::from_config(section, registry.clone()).map(Arc::new))
        .transpose()?;
    if let (Some(section), Some(tokens)) = (&config.centrifugo, &centrifugo) {
        minting.push(MintingKey {
            key: "centrifugo.secret".to_owned(),
            origin: secret_origin(&section.secret),
            secret: tokens.minting_secret().clone(),
        });
    }
    refuse_shared_hmac_keys(&minting, &callers)?;

    let mut fixed = crate::status::router(
        registry.clone(),
        upstreams.into_values().collect(),
        metrics.clone(),
    );
    if let Some(facade) = camunda {
        fixed = fixed.merge(crate::camunda::router(facade));
    }
    if let Some(tokens) = centrifugo {
        fixed = fixed.merge(crate::tokens::router(tokens));
    }
    let forwarder = Forwarder::new(
        registry.clone(),
        routes.clone(),
        config.limits.max_body_bytes,
        TrustedProxies::new(config.trusted_proxies.clone()),
        config.cors_origins.clone(),
        metrics.clone(),
        drain,
    );
    let observer = Observer::new(metrics.clone(), routes, &config.limits);
    let front = wire(fixed, forwarder, observer, config);
    Ok(App {
        registry,
        front,
        metrics,
    })
}

/// The prefix routes, each with its upstream, access rules and inbound header rules.
fn route_table(
    config: &Config,
    upstreams: &HashMap<String, Arc<Upstream>>,
) -> Result<RouteTable<ProxyRoute>, ConfigError> {
    let routes = config
        .routes
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let prefix = Prefix::new(&r.prefix, r.case_insensitive).map_err(|problem| {
                ConfigError::new(
                    format!("routes[{index}].prefix"),
                    format!("{:?} {problem}", r.prefix),
                    "write the prefix with letters, digits, `-._~` and `/` only",
                )
            })?;
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
            let route = ProxyRoute::new(
                r.strip_prefix,
                upstreams[&r.upstream].clone(),
                Access::new(&format!("routes[{index}]"), &r.access)?,
                inbound,
                Lifetime::from_config(&r.websocket),
            );
            Ok((prefix, route))
        })
        .collect::<Result<_, ConfigError>>()?;
    Ok(RouteTable::new(routes))
}

/// The fixed routes (`fixed`, answered by their own states) before the prefix routes, the
/// body limit on all of them, and around the whole router the middleware that makes the path
/// canonical, applies the limits and observes (see [`crate::observe`]), then CORS. Without
/// CORS, prefix-route requests take the direct path of [`Front`] (the same observation, body
/// limit and forwarder, without the router); with it, everything goes through the router,
/// whose CORS layer answers preflights and decorates every answer.
fn wire(
    fixed: FixedRoutes<Arc<Forwarder>>,
    forwarder: Forwarder,
    observer: Observer,
    config: &Config,
) -> Front {
    let (fixed, fixed_paths) = fixed.into_parts();
    let forwarder = Arc::new(forwarder);
    let observer = Arc::new(observer);
    let routes = fixed
        // Only the fixed routes: the prefix routes' label comes from the route table.
        .route_layer(middleware::from_fn(crate::observe::matched_route))
        .fallback(crate::forward::proxy)
        .layer(RequestBodyLimitLayer::new(config.limits.max_body_bytes))
        .with_state(forwarder.clone());
    // Every route family is chosen on the canonical path, so the middleware that makes it
    // canonical wraps the whole router: a layer on the router itself would run after routing.
    let mut app = Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(
            observer.clone(),
            crate::observe::limit_and_observe,
        ));
    let mut cors = None;
    if !config.cors_origins.is_empty() {
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(config.cors_origins.clone()))
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
        cors = Some(SimpleCors::new(config.cors_origins.clone()));
    }
    let direct = Direct {
        fixed: fixed_paths,
        observer,
        forwarder,
        max_body_bytes: config.limits.max_body_bytes,
        cors,
    };
    Front::new(app, Some(direct))
}
