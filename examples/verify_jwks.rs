//! Verify tokens whose keys an IdP publishes as a JWK Set: found by its JWKS URL, or by OIDC
//! discovery.
//!
//! ```text
//! cargo run -p jwtkit-examples --example verify_jwks
//! ```
//!
//! To run offline, this program plays the IdP too: it generates an ES256 key pair, serves the
//! public key as a JWK Set (and a discovery document naming it) on 127.0.0.1, and signs a token
//! with the private key. Against a real IdP only "the service side" is needed, with its URLs.

use axum::routing::get;
use axum::{Json, Router};
use jwtkit::mint::{GenericProfile, Minter};
use jwtkit::{Algorithm, IssuerConfig, JwkSet, Registry, SigningKey, keygen, now};

/// The claims this program reads.
#[derive(serde::Deserialize)]
struct User {
    sub: String,
    aud: String,
}

// A `?` that fails in `main` prints the error's Debug form.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The IdP side: a key pair whose public half is served, and a token signed with it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let pair = keygen::generate(Algorithm::ES256, 2048)?;
    let jwks = serde_json::to_value(JwkSet {
        keys: vec![pair.public_jwk.clone()],
    })?;
    let discovery =
        serde_json::json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json") });
    let idp = Router::new()
        .route("/jwks.json", get(move || async move { Json(jwks) }))
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        );
    tokio::spawn(async move { axum::serve(listener, idp).await });
    let signer = SigningKey::from_pem(Some(Algorithm::ES256), &pair.private_pem)?
        .with_kid(pair.public_jwk.kid.clone());
    let claims = GenericProfile::subject("alice")
        .issuer(&issuer)
        .audience("orders")
        .expires_in("5m")?;
    let token = Minter::new(signer).mint(&claims.claims(now())?)?;

    // The service side: the issuer by its JWKS URL (and the `iss` its tokens carry), or by
    // discovery (the `iss` is the issuer URL). `audience`: tokens must be meant for this service.
    let by_url = IssuerConfig::jwks_url("idp", format!("{issuer}/jwks.json"))?
        .iss(&issuer)
        .audience("orders");
    let by_discovery = IssuerConfig::discovery("idp", &issuer)?.audience("orders");
    for (how, config) in [("JWKS URL", by_url), ("discovery", by_discovery)] {
        let registry = Registry::new(vec![config])?;
        // Fetch the keys now rather than on the first token (a service does this at start).
        registry.warm_up().await?;
        match registry.validate_as::<User>(&token).await {
            Ok(valid) => println!(
                "{how}: valid: sub={} aud={}",
                valid.claims.sub, valid.claims.aud
            ),
            Err(err) => println!("{how}: invalid: {}: {err}", err.code()),
        }
    }
    Ok(())
}
