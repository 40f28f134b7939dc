//! JWT for Rust services in one dependency.
//!
//! `jwtkit` re-exports the jwtkit crates under one name per concept. Its features:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `verify` | yes | [`Validator`] (one key source), [`Registry`] (several issuers), [`IssuerConfig`], [`Claims`], [`VerifyError`] |
//! | `jwks` | yes | issuers whose keys come from a JWKS URL or OIDC discovery ([`IssuerConfig::jwks_url`], [`IssuerConfig::discovery`], [`jwks`]) |
//! | `mint` | no | [`mint`]: [`Minter`](mint::Minter) and the generic, Camunda engine and Centrifugo claim profiles |
//! | `axum` | no | [`axum`](mod@axum): [`JwtAuthLayer`](axum::JwtAuthLayer), [`RequireLayer`](axum::RequireLayer) and the [`JwtClaims<T>`](axum::JwtClaims) extractor |
//! | `cel` | no | [`Requirements::allow_if`]: authorization rules as CEL expressions over the claims and the [`RequestInfo`] |
//!
//! ```toml
//! [dependencies]
//! jwtkit = { version = "0.1", features = ["mint", "axum"] }
//! serde = { version = "1", features = ["derive"] }   # for your claim structs
//! ```
//!
//! The steps below run as they are written (the JWKS step needs an IdP and is only compiled);
//! each has a program in the workspace's `examples/` folder (`cargo run -p jwtkit-examples
//! --example NAME`).
//!
//! # 1. Verify an HS256 token
//!
//! A [`Validator`] holds keys and a [`Policy`]; [`Validator::hmac`] is the common case of one
//! shared secret (HS256, or HS384/HS512 when the secret is long enough). `validate_as` checks the
//! signature, `exp` (required), `nbf`, `iat`, then deserialises the claims into your type.
//!
//! ```
//! use jwtkit::{Secret, Validator};
//!
//! #[derive(serde::Deserialize)]
//! struct Caller {
//!     sub: String,
//! }
//!
//! # unsafe { std::env::set_var("JWT_SECRET_KEY", "a-secret-of-at-least-32-bytes-long!!") };
//! # let token = jwtkit::mint::Minter::new(jwtkit::SigningKey::hmac(
//! #     jwtkit::Algorithm::HS256, &Secret::from_env("JWT_SECRET_KEY")?)?)
//! #     .mint(&jwtkit::mint::GenericProfile::subject("svc").expires_in("1h")?.claims(jwtkit::now())?)?;
//! // The secret the issuer signs with, used as its bytes (as PyJWT and generate_jwt.py do).
//! let secret = Secret::from_env("JWT_SECRET_KEY")?;
//! let validator = Validator::hmac(&secret)?;
//!
//! let caller = validator.validate_as::<Caller>(&token)?.claims;
//! assert_eq!(caller.sub, "svc");
//!
//! // A refusal says why, with a stable code for machines (`expired`, `bad_signature`, ...).
//! let refused = validator.validate("not.a.token").unwrap_err();
//! assert_eq!(refused.code(), "malformed");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Example: `examples/verify_hs256.rs`.
//!
//! # 2. Verify tokens of an OIDC provider: JWKS URL or discovery
//!
//! Keys that an IdP publishes are fetched, cached and refreshed by a [`Registry`] entry:
//! [`IssuerConfig::jwks_url`] takes the JWK Set URL, [`IssuerConfig::discovery`] the issuer URL
//! (the JWK Set URL is read from `{issuer}/.well-known/openid-configuration`, and the token's
//! `iss` must be the issuer URL). Nothing is fetched until the first token (or
//! [`Registry::warm_up`]).
//!
//! This step needs a reachable IdP, so it is compiled here but not run; the crate's
//! `tests/jwks.rs` runs the same calls against a JWK Set served in process, and
//! `examples/verify_jwks.rs` serves its own JWK Set so it runs offline.
//!
//! ```no_run
//! use jwtkit::{IssuerConfig, Registry};
//!
//! #[derive(serde::Deserialize)]
//! struct User {
//!     sub: String,
//! }
//!
//! # async fn check(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! // Clerk, Auth0, Keycloak's .../protocol/openid-connect/certs: a JWK Set URL and the iss it signs for.
//! let clerk = IssuerConfig::jwks_url("clerk", "https://example.clerk.accounts.dev/.well-known/jwks.json")?
//!     .iss("https://example.clerk.accounts.dev");
//! // Or discovery: iss must be the issuer URL, and aud must name this service.
//! let keycloak = IssuerConfig::discovery("keycloak", "https://sso.example.com/realms/werkflow")?
//!     .audience("account");
//!
//! let registry = Registry::new(vec![clerk, keycloak])?;
//! let user = registry.validate_as::<User>(token).await?.claims;
//! println!("hello {}", user.sub);
//! # Ok(())
//! # }
//! ```
//!
//! An IdP behind a private CA (an internal Keycloak): `.ca_file(path, CaMode::Add)` on the
//! issuer trusts that CA's certificates for its discovery and JWKS fetches, added to the
//! system's roots (`CaMode::Replace`: instead of them); see `jwks::TrustRoots`.
//!
//! Example: `examples/verify_jwks.rs`. Cache lifetimes, timeouts and the outage behaviour are
//! in the workspace's `docs/ISSUERS.md`.
//!
//! # 3. Several issuers: [`Registry`]
//!
//! A [`Registry`] routes each token by its `iss` to exactly one [`IssuerConfig`], and checks it
//! only with that issuer's keys and policy: a key of issuer A never verifies a token naming
//! issuer B. Here Keycloak (reached by its Docker-internal name, issuing under its public one)
//! and service accounts with HS256 tokens:
//!
//! ```
//! use jwtkit::{IssuerConfig, Registry, Secret};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # unsafe { std::env::set_var("SERVICE_ACCOUNT_SECRET", "a-secret-of-at-least-32-bytes-long!!") };
//! # let mint = |iss: &str| -> Result<String, Box<dyn std::error::Error>> {
//! #     Ok(jwtkit::mint::Minter::new(jwtkit::SigningKey::hmac(jwtkit::Algorithm::HS256,
//! #         &Secret::from_env("SERVICE_ACCOUNT_SECRET")?)?)
//! #         .mint(&jwtkit::mint::GenericProfile::subject("batch").issuer(iss).expires_in("5m")?.claims(jwtkit::now())?)?)
//! # };
//! # let (token, stranger) = (mint("urn:service-accounts")?, mint("https://elsewhere.example")?);
//! let registry = Registry::new(vec![
//!     // Keys fetched from the internal URL; tokens (and the discovery document) name the public one.
//!     IssuerConfig::discovery("keycloak", "http://keycloak:8080/realms/werkflow")?
//!         .iss("http://localhost:8090/realms/werkflow")
//!         .audience("account"),
//!     // HS256 tokens made with `jwtkit mint --iss urn:service-accounts`.
//!     IssuerConfig::hmac("service-accounts", &Secret::from_env("SERVICE_ACCOUNT_SECRET")?)?
//!         .iss("urn:service-accounts"),
//! ])?
//! .with_token_cache(10_000); // remembers verified tokens until their exp
//!
//! let validated = registry.validate(&token).await?;
//! assert_eq!(validated.issuer.as_deref(), Some("service-accounts"));
//! assert_eq!(validated.claims["sub"], "batch");
//! // A token naming no configured issuer is refused before any key is looked at.
//! assert_eq!(registry.validate(&stranger).await.unwrap_err().code(), "unknown_issuer");
//! # Ok(())
//! # }
//! ```
//!
//! Example: `examples/two_issuers.rs`.
//!
//! # 4. axum: typed claims, a role and a scope
//!
//! [`JwtAuthLayer`](axum::JwtAuthLayer) (feature `axum`) authenticates every request of the
//! routes it wraps: a missing or invalid token is answered `401` with a JSON body
//! `{"error": code, "detail": message}` and an RFC 6750 `WWW-Authenticate` header (`503` when
//! the issuer's keys cannot be fetched). Handlers take the claims as their own type with
//! [`JwtClaims<T>`](axum::JwtClaims). Authorisation is plain Rust in the handler for now: here a
//! Keycloak realm role (nested in `realm_access.roles`) and an OAuth scope, refused with `403`
//! and a JSON body of the same shape.
//!
//! ```
//! use axum::http::StatusCode;
//! use axum::routing::get;
//! use axum::{Json, Router};
//! use jwtkit::axum::{JwtAuthLayer, JwtClaims};
//! use jwtkit::{IssuerConfig, Registry, Secret};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct User {
//!     sub: String,
//!     #[serde(default)]
//!     realm_access: RealmAccess, // Keycloak: {"realm_access": {"roles": ["approver"]}}
//!     #[serde(default)]
//!     scope: String, // OAuth: "orders:read orders:write"
//! }
//!
//! #[derive(Deserialize, Default)]
//! struct RealmAccess {
//!     roles: Vec<String>,
//! }
//!
//! type Forbidden = (StatusCode, Json<serde_json::Value>);
//!
//! fn forbidden(detail: &str) -> Forbidden {
//!     let body = serde_json::json!({ "error": "forbidden", "detail": detail });
//!     (StatusCode::FORBIDDEN, Json(body))
//! }
//!
//! async fn me(JwtClaims(user): JwtClaims<User>) -> String {
//!     user.sub
//! }
//!
//! async fn approve(JwtClaims(user): JwtClaims<User>) -> Result<String, Forbidden> {
//!     if !user.realm_access.roles.iter().any(|role| role == "approver") {
//!         return Err(forbidden("needs the realm role approver"));
//!     }
//!     if !user.scope.split(' ').any(|scope| scope == "orders:write") {
//!         return Err(forbidden("needs the scope orders:write"));
//!     }
//!     Ok(format!("approved by {}", user.sub))
//! }
//!
//! fn app(registry: Registry) -> Router {
//!     Router::new()
//!         .route("/me", get(me))
//!         .route("/approve", get(approve))
//!         // route_layer: only the routes above need a token; unknown paths stay 404.
//!         .route_layer(JwtAuthLayer::new(registry))
//!         .route("/health", get(|| async { "ok" })) // added after the layer: no token needed
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use tower::ServiceExt;
//! # unsafe { std::env::set_var("JWT_SECRET_KEY", "a-secret-of-at-least-32-bytes-long!!") };
//! // Two issuers, as in step 3.
//! let registry = Registry::new(vec![
//!     IssuerConfig::discovery("keycloak", "http://keycloak:8080/realms/werkflow")?
//!         .iss("http://localhost:8090/realms/werkflow")
//!         .audience("account"),
//!     IssuerConfig::hmac("service-accounts", &Secret::from_env("JWT_SECRET_KEY")?)?
//!         .iss("urn:service-accounts"),
//! ])?;
//! let app = app(registry);
//! // axum::serve(tokio::net::TcpListener::bind("0.0.0.0:3000").await?, app).await?;
//! # let secret = Secret::from_env("JWT_SECRET_KEY")?;
//! # let minter = jwtkit::mint::Minter::new(jwtkit::SigningKey::hmac(jwtkit::Algorithm::HS256, &secret)?);
//! # let token = |roles: &[&str], scope: &str| -> Result<String, Box<dyn std::error::Error>> {
//! #     let profile = jwtkit::mint::GenericProfile::subject("alice").issuer("urn:service-accounts").expires_in("5m")?
//! #         .claim("realm_access", serde_json::json!({ "roles": roles })).claim("scope", scope);
//! #     Ok(minter.mint(&profile.claims(jwtkit::now())?)?)
//! # };
//! # let call = |path: &str, token: Option<String>| {
//! #     let mut request = axum::http::Request::get(path);
//! #     if let Some(token) = token { request = request.header("authorization", format!("Bearer {token}")); }
//! #     app.clone().oneshot(request.body(axum::body::Body::empty()).unwrap())
//! # };
//! # assert_eq!(call("/me", Some(token(&[], "")?)).await?.status(), StatusCode::OK);
//! # assert_eq!(call("/me", None).await?.status(), StatusCode::UNAUTHORIZED);
//! # assert_eq!(call("/me", Some("not.a.token".into())).await?.status(), StatusCode::UNAUTHORIZED);
//! # assert_eq!(call("/health", None).await?.status(), StatusCode::OK);
//! # assert_eq!(call("/approve", Some(token(&["approver"], "orders:read orders:write")?)).await?.status(), StatusCode::OK);
//! # assert_eq!(call("/approve", Some(token(&["viewer"], "orders:write")?)).await?.status(), StatusCode::FORBIDDEN);
//! # assert_eq!(call("/approve", Some(token(&["approver"], "orders:read")?)).await?.status(), StatusCode::FORBIDDEN);
//! # let refused = call("/approve", Some(token(&["viewer"], "orders:write")?)).await?;
//! # let body = axum::body::to_bytes(refused.into_body(), 1 << 16).await?;
//! # assert_eq!(serde_json::from_slice::<serde_json::Value>(&body)?["error"], "forbidden");
//! # let refused = call("/me", None).await?;
//! # let body = axum::body::to_bytes(refused.into_body(), 1 << 16).await?;
//! # assert!(serde_json::from_slice::<serde_json::Value>(&body)?["error"].is_string());
//! # Ok(())
//! # }
//! ```
//!
//! Example: `examples/axum_service.rs` (two issuers, `401`/`403` JSON).
//!
//! # 5. Mint tokens: generic, Camunda engine, Centrifugo
//!
//! A [`Minter`](mint::Minter) (feature `mint`) signs claim sets with one [`SigningKey`]; the
//! profiles produce the exact claims each consumer expects.
//!
//! ```
//! use jwtkit::mint::{
//!     CamundaProfile, CentrifugoConnectionClaims, CentrifugoSubscriptionClaims, GenericProfile,
//!     Minter, camunda_secret,
//! };
//! use jwtkit::{Algorithm, Secret, SigningKey, now};
//!
//! # unsafe { std::env::set_var("JWT_SECRET_KEY", "a-secret-of-at-least-32-bytes-long!!") };
//! # unsafe { std::env::set_var("ENGINE_JWT_SECRET", "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=") };
//! # unsafe { std::env::set_var("CENTRIFUGO_HMAC_SECRET", "centrifugo-hmac-secret-of-more-than-32-bytes") };
//! // Generic: an API bearer token (what generate_jwt.py made).
//! let api = Minter::new(SigningKey::hmac(Algorithm::HS256, &Secret::from_env("JWT_SECRET_KEY")?)?);
//! let token = api.mint(&GenericProfile::subject("svc").expires_in("1h")?.claims(now())?)?;
//!
//! // Camunda 7 engine: camunda_secret base64-decodes the secret as the engine's JWT plugin does,
//! // and refuses one the engine would silently replace (under 32 bytes).
//! let engine_secret = camunda_secret(&std::env::var("ENGINE_JWT_SECRET")?)?;
//! let engine = Minter::new(SigningKey::hmac(Algorithm::HS256, &engine_secret)?);
//! let engine_token = engine.mint(&CamundaProfile::default().claims("demo", None, now())?)?;
//!
//! // Centrifugo: a connection token and a subscription token for one channel.
//! let centrifugo = Minter::new(SigningKey::hmac(
//!     Algorithm::HS256,
//!     &Secret::from_env("CENTRIFUGO_HMAC_SECRET")?,
//! )?);
//! let connection = CentrifugoConnectionClaims::new("agent-linux-01", "1h".parse()?, now());
//! let subscription = CentrifugoSubscriptionClaims::new(
//!     "agent-linux-01",
//!     "agents.test-tenant.agent-linux-01",
//!     "1h".parse()?,
//!     now(),
//! );
//! let (connection_token, subscription_token) =
//!     (centrifugo.mint(&connection)?, centrifugo.mint(&subscription)?);
//! # for t in [&token, &engine_token, &connection_token, &subscription_token] { assert_eq!(t.split('.').count(), 3); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Example: `examples/mint_tokens.rs`.

// The guide links to every feature's items; with a feature off its links have no target.
#![cfg_attr(
    not(all(feature = "jwks", feature = "mint", feature = "axum", feature = "cel")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[doc(inline)]
pub use jwtkit_keys::{Algorithm, Jwk, JwkSet, KeyError, SigningKey, VerifyingKey, keygen, now};
#[doc(inline)]
pub use jwtkit_secret::{Secret, SecretEncoding, SecretError};
#[cfg(feature = "cel")]
#[doc(inline)]
pub use jwtkit_verify::RequestInfo;
#[cfg(feature = "verify")]
#[doc(inline)]
pub use jwtkit_verify::{
    Claims, Denied, IssuerConfig, IssuerConfigError, KeySource, Policy, Registry, RegistryError,
    RequirementError, Requirements, Validated, Validator, VerifyError,
};

#[cfg(feature = "jwks")]
pub mod jwks {
    //! Key sets fetched over HTTP (feature `jwks`): the settings behind
    //! [`IssuerConfig::jwks_url`] and [`IssuerConfig::discovery`], for an issuer built with
    //! [`IssuerConfig::new`] and [`KeySource::Jwks`], and the certificate authorities their
    //! https fetches trust ([`TrustRoots`], [`CaMode`]; [`IssuerConfig::ca_file`]).

    #[cfg(doc)]
    use crate::{IssuerConfig, KeySource};
    #[doc(inline)]
    pub use jwtkit_verify::{
        CaCertificates, CaMode, JwksCache, JwksConfig, JwksError, JwksSource, JwksStats,
        TrustError, TrustRoots,
    };
}

#[cfg(feature = "mint")]
pub mod mint {
    //! Minting tokens (feature `mint`): a [`Minter`] and the claim profiles.

    #[doc(inline)]
    pub use jwtkit_mint::{
        CamundaProfile, CentrifugoConnectionClaims, CentrifugoSubscriptionClaims, Expiry,
        GenericProfile, MintError, Minter, camunda_secret,
    };
}

#[cfg(feature = "axum")]
pub mod axum {
    //! Bearer-token authentication for axum (feature `axum`): [`JwtAuthLayer`] validates the
    //! token of every request with a [`Registry`], and [`JwtClaims<T>`] hands its claims to a
    //! handler as `T`.

    #[cfg(doc)]
    use crate::Registry;
    #[doc(inline)]
    pub use jwtkit_verify::axum_auth::{AuthRejection, JwtAuthLayer, JwtClaims, RequireLayer};
}

/// The workspace README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// docs/ISSUERS.md's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/ISSUERS.md")]
pub struct IssuersDoctests;
