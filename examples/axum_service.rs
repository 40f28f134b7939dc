//! An axum service that accepts tokens from two issuers (an OIDC provider found by discovery,
//! and HS256 service-account tokens), reads them as a typed struct, and checks a role and a scope
//! in the handler. A missing or invalid token is answered `401` with a JSON body, a valid token
//! without the right role or scope `403` with a JSON body of the same shape.
//!
//! ```text
//! OIDC_URL=http://keycloak:8080/realms/werkflow \
//! OIDC_ISSUER=http://localhost:8090/realms/werkflow \
//! OIDC_AUDIENCE=account \
//! JWT_SECRET_KEY=$(jwtkit secret generate) \
//! cargo run -p jwtkit-examples --example axum_service
//!
//! curl -H "Authorization: Bearer $(jwtkit mint --iss urn:service-accounts --sub batch --expires-in 5m)" \
//!      http://127.0.0.1:3000/me
//! ```
//!
//! `OIDC_URL` is where the discovery document is fetched; `OIDC_ISSUER` (default `OIDC_URL`) is
//! the `iss` the IdP names itself by; `OIDC_AUDIENCE` (optional) the `aud` tokens must carry.
//! `BIND` (default `127.0.0.1:3000`) is the address to listen on; with port 0 a free port is
//! taken. The address is printed as `listening on http://ADDRESS`.

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jwtkit::axum::{JwtAuthLayer, JwtClaims};
use jwtkit::{IssuerConfig, Registry, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

/// The claims this service reads; anything else in the token is ignored.
#[derive(Deserialize)]
struct User {
    sub: String,
    iss: String,
    /// Keycloak's realm roles: `{"realm_access": {"roles": ["approver"]}}`.
    #[serde(default)]
    realm_access: RealmAccess,
    /// OAuth scopes, space-separated.
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize, Default)]
struct RealmAccess {
    roles: Vec<String>,
}

/// A `403` with the JSON shape of the layer's `401`: `{"error": code, "detail": message}`.
type Forbidden = (StatusCode, Json<Value>);

fn forbidden(detail: &str) -> Forbidden {
    let body = json!({ "error": "forbidden", "detail": detail });
    (StatusCode::FORBIDDEN, Json(body))
}

/// Any valid token of either issuer.
async fn me(JwtClaims(user): JwtClaims<User>) -> Json<Value> {
    Json(json!({ "sub": user.sub, "iss": user.iss }))
}

/// Needs the realm role `approver` and the scope `orders:write` (plain Rust until jwtkit has an
/// authorisation API).
async fn approve(JwtClaims(user): JwtClaims<User>) -> Result<Json<Value>, Forbidden> {
    let roles = &user.realm_access.roles;
    if !roles.iter().any(|role| role == "approver") {
        return Err(forbidden("needs the realm role approver"));
    }
    if !user.scope.split(' ').any(|scope| scope == "orders:write") {
        return Err(forbidden("needs the scope orders:write"));
    }
    Ok(Json(json!({ "approved_by": user.sub })))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name} (see the top of axum_service.rs)"))
}

fn registry() -> Result<Registry, Box<dyn std::error::Error>> {
    let mut oidc = IssuerConfig::discovery("oidc", env("OIDC_URL")?)?;
    if let Ok(iss) = std::env::var("OIDC_ISSUER") {
        oidc = oidc.iss(iss); // the document and the tokens name the IdP by this URL
    }
    if let Ok(audience) = std::env::var("OIDC_AUDIENCE") {
        oidc = oidc.audience(audience);
    }
    let secret = Secret::from_env("JWT_SECRET_KEY")?;
    println!("service-account secret {}", secret.fingerprint()); // a fingerprint, never the secret
    let service_accounts =
        IssuerConfig::hmac("service-accounts", &secret)?.iss("urn:service-accounts");
    Ok(Registry::new(vec![oidc, service_accounts])?.with_token_cache(10_000))
}

// A `?` that fails in `main` prints the error's Debug form.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = registry()?;
    if let Err(err) = registry.warm_up().await {
        eprintln!("warning: {err} (requests get 503 until the IdP answers)");
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/approve", post(approve))
        // route_layer: the routes above need a token; an unknown path stays 404.
        .route_layer(JwtAuthLayer::new(registry))
        .route("/health", get(|| async { "ok" })); // added after the layer: no token needed

    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
