//! An axum service that accepts tokens from two issuers: an OIDC provider found by discovery
//! (Keycloak, Clerk, ...) and HS256 tokens made with `jwtkit mint` for service accounts.
//!
//! ```text
//! OIDC_URL=http://keycloak:8080/realms/werkflow \
//! OIDC_ISSUER=http://localhost:8090/realms/werkflow \
//! OIDC_AUDIENCE=account \
//! JWT_SECRET_KEY=$(jwtkit secret generate) \
//! cargo run -p jwtkit-examples --example axum_two_issuers
//!
//! curl -H "Authorization: Bearer $(jwtkit mint --iss urn:service-accounts --sub batch --expires-in 5m)" \
//!      http://127.0.0.1:3000/me
//! ```

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use jwtkit_keys::VerifyingKey;
use jwtkit_secret::{Secret, SecretEncoding, SecretSource};
use jwtkit_verify::axum_auth::{JwtAuthLayer, JwtClaims};
use jwtkit_verify::{IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry};

/// The claims this service reads; anything else in the token is ignored.
#[derive(serde::Deserialize)]
struct Caller {
    sub: String,
    iss: String,
}

async fn me(JwtClaims(caller): JwtClaims<Caller>) -> String {
    format!("{} from {}\n", caller.sub, caller.iss)
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

fn registry() -> Result<Registry, String> {
    // The IdP is fetched from its internal URL but names itself by its public one (Keycloak in Docker).
    let oidc_url = env("OIDC_URL")?;
    let oidc_issuer = std::env::var("OIDC_ISSUER").unwrap_or_else(|_| oidc_url.clone());
    let jwks = JwksCache::new(JwksConfig::discovery(oidc_url, Some(oidc_issuer.clone())))
        .map_err(|e| e.to_string())?;
    let oidc = IssuerConfig {
        name: "oidc".into(),
        issuers: vec![oidc_issuer],
        keys: KeySource::Jwks(jwks),
        policy: Policy {
            audiences: std::env::var("OIDC_AUDIENCE").into_iter().collect(),
            ..Policy::default()
        },
    };

    let secret = Secret::load(
        &SecretSource::Env("JWT_SECRET_KEY".into()),
        SecretEncoding::Raw,
    )
    .map_err(|e| e.to_string())?
    .secret;
    println!("service-account secret {}", secret.fingerprint()); // a fingerprint, never the secret
    let service_accounts = IssuerConfig {
        name: "service-accounts".into(),
        issuers: vec!["urn:service-accounts".into()],
        keys: KeySource::Static(vec![
            VerifyingKey::hmac(&secret).map_err(|e| e.to_string())?,
        ]),
        policy: Policy::default(),
    };
    Registry::new(vec![oidc, service_accounts])
        .map(|r| r.with_token_cache(10_000))
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let registry = Arc::new(registry()?);
    if let Err(err) = registry.warm_up().await {
        eprintln!("warning: {err} (requests get 503 until the IdP answers)");
    }
    let app = Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(registry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000")
        .await
        .map_err(|e| e.to_string())?;
    println!("listening on http://127.0.0.1:3000/me");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}
