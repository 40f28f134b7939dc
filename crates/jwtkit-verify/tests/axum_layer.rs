//! The axum Layer and extractor: 401 with an RFC 6750 challenge, 503 for unavailable keys,
//! typed claims in handlers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::{Expiry, GenericProfile, Minter};
use jwtkit_secret::Secret;
use jwtkit_verify::axum_auth::{Claims, JwtAuthLayer};
use jwtkit_verify::{IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry};
use tower::ServiceExt;

#[derive(serde::Deserialize)]
struct User {
    sub: String,
}

async fn me(Claims(user): Claims<User>) -> String {
    format!("hello {}", user.sub)
}

fn app(secret: &Secret) -> Router {
    let api = IssuerConfig {
        name: "api".into(),
        issuers: vec!["https://api.example".into()],
        keys: KeySource::Static(vec![
            SigningKey::hmac(Algorithm::HS256, secret)
                .unwrap()
                .verifying_key()
                .unwrap(),
        ]),
        policy: Policy::default(),
    };
    // An issuer whose JWKS endpoint refuses connections (port 9 on loopback: discard, closed).
    let down = IssuerConfig {
        name: "down".into(),
        issuers: vec!["https://down.example".into()],
        keys: KeySource::Jwks(
            JwksCache::new(JwksConfig::jwks_url("http://127.0.0.1:9/jwks")).unwrap(),
        ),
        policy: Policy::default(),
    };
    let registry = Registry::new(vec![api, down]).unwrap();
    Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::new(Arc::new(registry)))
}

fn token(secret: &Secret, issuer: &str, subject: &str) -> String {
    let profile = GenericProfile {
        subject: Some(subject.into()),
        issuer: Some(issuer.into()),
        expiry: Expiry::After(60),
        ..GenericProfile::default()
    };
    let key = SigningKey::hmac(Algorithm::HS256, secret).unwrap();
    Minter::new(key)
        .mint(&profile.claims(jwtkit_mint::now()).unwrap())
        .unwrap()
}

async fn call(
    app: Router,
    authorization: Option<String>,
) -> (StatusCode, Option<String>, serde_json::Value, String) {
    let mut request = Request::get("/me");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or_default(),
        text,
    )
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_typed_claims() {
    let secret = Secret::generate(32).unwrap();
    let bearer = format!("bearer {}", token(&secret, "https://api.example", "alice"));
    let (status, _, _, text) = call(app(&secret), Some(bearer)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "hello alice"));
}

#[tokio::test]
async fn missing_token_is_401_with_a_bare_bearer_challenge() {
    let secret = Secret::generate(32).unwrap();
    let (status, challenge, body, _) = call(app(&secret), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(body["error"], "missing_token");
    let (status, _, body, _) = call(app(&secret), Some("Basic dXNlcjpwYXNz".into())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_token"))
    );
}

#[tokio::test]
async fn invalid_token_is_401_with_invalid_token_challenge_and_code() {
    let secret = Secret::generate(32).unwrap();
    let other = Secret::generate(32).unwrap();
    let bearer = format!("Bearer {}", token(&other, "https://api.example", "mallory"));
    let (status, challenge, body, _) = call(app(&secret), Some(bearer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer error=\"invalid_token\", error_description=\"bad_signature\"")
    );
    assert_eq!(body["error"], "bad_signature");
}

#[tokio::test]
async fn unavailable_issuer_keys_are_503_not_401() {
    let secret = Secret::generate(32).unwrap();
    let bearer = format!("Bearer {}", token(&secret, "https://down.example", "bob"));
    let (status, challenge, body, _) = call(app(&secret), Some(bearer)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(challenge, None);
    assert_eq!(body["error"], "jwks_unavailable");
}
