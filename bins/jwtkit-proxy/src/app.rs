//! Wiring: configuration -> the features' states -> one axum router with the proxy's
//! middleware. Each feature gets only the state it uses; a feature that is not configured has
//! no routes at all, so it never hides a prefix route.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::middleware;
use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey};
use jwtkit_secret::{Secret, SecretEncoding};
use jwtkit_verify::{IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::Access;
use crate::camunda::CamundaFacade;
use crate::client::UpstreamClient;
use crate::config::{Config, ConfigError, IssuerSection, SecretRef, UpstreamAuth};
use crate::forward::{Forwarder, InboundHeaders, ProxyRoute};
use crate::metrics::Metrics;
use crate::observe::Observer;
use crate::routes::{Prefix, RouteTable};
use crate::tokens::CentrifugoTokens;
use crate::upstream::{Upstream, load_secret, secret_origin};

/// The proxy built from its configuration.
pub struct App {
    /// Validates callers' tokens; `run` loads its JWKS before serving.
    pub registry: Arc<Registry>,
    /// Every route, with the proxy's middleware.
    pub router: Router,
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

/// Builds the proxy; every secret and key file is read now, so mistakes stop the start.
/// `extra_issuers` (dev mode's) are trusted besides the configured ones.
pub fn build(config: &Config, extra_issuers: Vec<IssuerConfig>) -> Result<App, ConfigError> {
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
    let camunda = config.camunda.as_ref().map(|c| {
        Arc::new(CamundaFacade::new(
            c,
            upstreams[&c.upstream].clone(),
            registry.clone(),
        ))
    });
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
    );
    let observer = Observer::new(metrics, routes, &config.limits);
    let router = wire(fixed, forwarder, observer, config);
    Ok(App { registry, router })
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
                Access::new(&r.access),
                inbound,
            );
            Ok((prefix, route))
        })
        .collect::<Result<_, ConfigError>>()?;
    Ok(RouteTable::new(routes))
}

/// The fixed routes (`fixed`, answered by their own states) before the prefix routes, the
/// body limit on all of them, and around the whole router the middleware that makes the path
/// canonical, applies the limits and observes (see [`crate::observe`]), then CORS.
fn wire(
    fixed: Router<Arc<Forwarder>>,
    forwarder: Forwarder,
    observer: Observer,
    config: &Config,
) -> Router {
    let routes = fixed
        // Only the fixed routes: the prefix routes' label comes from the route table.
        .route_layer(middleware::from_fn(crate::observe::matched_route))
        .fallback(crate::forward::proxy)
        .layer(RequestBodyLimitLayer::new(config.limits.max_body_bytes))
        .with_state(Arc::new(forwarder));
    // Every route family is chosen on the canonical path, so the middleware that makes it
    // canonical wraps the whole router: a layer on the router itself would run after routing.
    let mut app = Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(
            Arc::new(observer),
            crate::observe::limit_and_observe,
        ));
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
