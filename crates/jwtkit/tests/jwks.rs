//! Step 2 of the crate guide (verify an IdP's tokens by JWKS URL or OIDC discovery), which the
//! documentation only compiles, run for real against a JWK Set served in process.

use jwtkit::mint::{GenericProfile, Minter};
use jwtkit::{Algorithm, IssuerConfig, JwkSet, Registry, SigningKey, keygen, now};
use jwtkit_testsupport::jwks_server::JwksServer;
use serde_json::json;

#[derive(serde::Deserialize)]
struct User {
    sub: String,
}

/// A served key set, its base URL (the issuer) and a minter with its private key.
async fn idp() -> (JwksServer, String, Minter) {
    let pair = keygen::generate(Algorithm::ES256, 2048).unwrap();
    let server = JwksServer::start(&json!({})).await;
    let issuer = server.url.trim_end_matches("/jwks").to_owned();
    // The server answers every path with one document: it is the discovery document (issuer,
    // jwks_uri) and the JWK Set (keys) at once.
    let mut document = serde_json::to_value(JwkSet {
        keys: vec![pair.public_jwk.clone()],
    })
    .unwrap();
    document["issuer"] = json!(issuer);
    document["jwks_uri"] = json!(server.url);
    server.set_document(&document);
    let signer = SigningKey::from_pem(Some(Algorithm::ES256), &pair.private_pem)
        .unwrap()
        .with_kid(pair.public_jwk.kid.clone());
    (server, issuer, Minter::new(signer))
}

fn token(minter: &Minter, iss: &str, aud: &str) -> String {
    let claims = GenericProfile::subject("alice")
        .issuer(iss)
        .audience(aud)
        .expires_in("5m")
        .unwrap();
    minter.mint(&claims.claims(now()).unwrap()).unwrap()
}

#[tokio::test]
async fn jwks_url_issuer_verifies_the_idps_tokens_into_a_typed_struct() {
    let (server, issuer, minter) = idp().await;
    let config = IssuerConfig::jwks_url("clerk", server.url.clone())
        .unwrap()
        .iss(&issuer);
    let registry = Registry::new(vec![config]).unwrap();

    let user = registry
        .validate_as::<User>(&token(&minter, &issuer, "anything"))
        .await;
    // No audience configured: a token naming one is refused (RFC 7519 §4.1.3).
    assert_eq!(user.err().map(|e| e.code()), Some("audience_mismatch"));

    let config = IssuerConfig::jwks_url("clerk", server.url.clone())
        .unwrap()
        .iss(&issuer)
        .audience("orders");
    let registry = Registry::new(vec![config]).unwrap();
    let user = registry
        .validate_as::<User>(&token(&minter, &issuer, "orders"))
        .await
        .unwrap();
    assert_eq!(user.claims.sub, "alice");
    assert_eq!(user.issuer.as_deref(), Some("clerk"));
    assert!(server.requests() >= 1);
}

#[tokio::test]
async fn discovery_issuer_accepts_the_issuer_url_as_iss_and_nothing_else() {
    let (_server, issuer, minter) = idp().await;
    let config = IssuerConfig::discovery("keycloak", issuer.clone())
        .unwrap()
        .audience("account");
    let registry = Registry::new(vec![config]).unwrap();
    registry.warm_up().await.unwrap();
    assert!(registry.is_ready());

    let user = registry
        .validate_as::<User>(&token(&minter, &issuer, "account"))
        .await
        .unwrap();
    assert_eq!(user.claims.sub, "alice");
    let other = registry
        .validate(&token(&minter, "https://elsewhere.example", "account"))
        .await
        .unwrap_err();
    assert_eq!(other.code(), "unknown_issuer");
}
