//! A `Registry` against a JWK Set served on 127.0.0.1 by the test itself
//! (`jwtkit_testsupport::jwks_server`), which changes what it serves and counts the fetches:
//! a key the IdP removes stops verifying cached tokens, published HMAC keys are never used,
//! and warming up obeys the fetch back-off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jwtkit_keys::{Algorithm, SigningKey, b64, keygen};
use jwtkit_mint::{Expiry, GenericProfile, Minter};
use jwtkit_secret::Secret;
use jwtkit_testsupport::jwks_server::JwksServer;
use jwtkit_verify::{IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry};
use serde_json::{Value, json};

const ISS: &str = "https://idp.example";

/// A signing key with `kid` and its public JWK as served.
fn es256(kid: &str) -> (SigningKey, Value) {
    let pair = keygen::generate(Algorithm::ES256, 0).unwrap();
    let signer = SigningKey::from_pem(None, &pair.private_pem)
        .unwrap()
        .with_kid(Some(kid.into()));
    let mut jwk = serde_json::to_value(&pair.public_jwk).unwrap();
    jwk["kid"] = kid.into();
    (signer, jwk)
}

fn mint(key: SigningKey) -> String {
    let profile = GenericProfile {
        subject: Some("svc".into()),
        issuer: Some(ISS.into()),
        expiry: Expiry::After(300),
        ..GenericProfile::default()
    };
    Minter::new(key)
        .mint(&profile.claims(jwtkit_mint::now()).unwrap())
        .unwrap()
}

fn registry(server: &JwksServer, tweak: impl FnOnce(&mut JwksConfig)) -> Registry {
    let mut config = JwksConfig::jwks_url(server.url.clone());
    tweak(&mut config);
    Registry::new(vec![IssuerConfig {
        name: "idp".into(),
        issuers: vec![ISS.into()],
        keys: KeySource::Jwks(JwksCache::new(config).unwrap()),
        policy: Policy::default(),
    }])
    .unwrap()
}

async fn code(registry: &Registry, token: &str) -> &'static str {
    match registry.validate(token).await {
        Ok(_) => "ok",
        Err(err) => err.code(),
    }
}

fn stats(registry: &Registry) -> jwtkit_verify::JwksStats {
    registry.jwks_stats().remove(0).1
}

/// Polls `done` every 20 ms for at most `limit`; true when it became true.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_hit_on_a_set_due_for_refresh_refreshes_it_and_a_removed_key_stops_verifying() {
    let (a, a_jwk) = es256("key-a");
    let (b, b_jwk) = es256("key-b");
    let server = JwksServer::start(&json!({"keys": [a_jwk, b_jwk.clone()]})).await;
    server.set_cache_control(Some("max-age=1"));
    let registry = registry(&server, |c| c.min_ttl = Duration::from_secs(1)).with_token_cache(100);
    let (token_a, token_b) = (mint(a), mint(b));
    assert_eq!(code(&registry, &token_a).await, "ok");
    assert_eq!(code(&registry, &token_a).await, "ok", "cache hit");
    assert_eq!(server.requests(), 1);

    // The IdP removes key A; its answers are now slow, so a hit that waited on them would show.
    server.set_document(&json!({"keys": [b_jwk]}));
    server.set_delay(Duration::from_millis(500));
    // Past the refresh point (at most 80% of the 1 s lifetime), still within the lifetime.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let started = Instant::now();
    assert_eq!(
        code(&registry, &token_a).await,
        "ok",
        "served from the cache"
    );
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "the hit waited {:?} on the refresh",
        started.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(5), || stats(&registry).version == 2).await,
        "no refresh after a cache hit on a set due for refresh: {:?}, {} fetches served",
        stats(&registry),
        server.requests()
    );
    assert_eq!(server.requests(), 2);
    // The refreshed set lacks key A: the cached verdict is not used, the token is refused.
    assert_eq!(code(&registry, &token_a).await, "unknown_kid");
    assert_eq!(code(&registry, &token_b).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_start_one_refresh_for_many_and_respect_the_fetch_back_off() {
    let (a, a_jwk) = es256("key-a");
    let server = JwksServer::start(&json!({"keys": [a_jwk]})).await;
    server.set_cache_control(Some("max-age=1"));
    let registry = Arc::new(
        registry(&server, |c| {
            c.min_ttl = Duration::from_secs(1);
            c.retry_after_failure = Duration::from_secs(60);
        })
        .with_token_cache(100),
    );
    let token = mint(a);
    assert_eq!(code(&registry, &token).await, "ok");
    assert_eq!(server.requests(), 1);

    // The IdP starts failing, slowly: 20 concurrent hits on the due set make one fetch.
    server.set_status(500);
    server.set_delay(Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(900)).await;
    let hits: Vec<_> = (0..20)
        .map(|_| {
            let (registry, token) = (registry.clone(), token.clone());
            tokio::spawn(async move { code(&registry, &token).await })
        })
        .collect();
    for hit in hits {
        assert_eq!(hit.await.unwrap(), "ok");
    }
    assert!(
        eventually(Duration::from_secs(5), || stats(&registry).fetch_errors
            == 1)
        .await,
        "no refresh after cache hits on a set due for refresh: {:?}",
        stats(&registry)
    );
    assert_eq!(server.requests(), 2, "one fetch for 20 concurrent hits");

    // During the back-off, hits on the (now stale, still usable) set make no fetch at all.
    for _ in 0..30 {
        assert_eq!(code(&registry, &token).await, "ok");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.requests(), 2, "hits fetched during the back-off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_hmac_key_never_verifies_and_the_sets_other_keys_still_do() {
    let secret = Secret::generate(32).unwrap();
    let (es, es_jwk) = es256("es-key");
    let oct = json!({"kty": "oct", "kid": "published-hmac-key", "alg": "HS256", "k": b64::encode(secret.expose_bytes())});
    let server = JwksServer::start(&json!({"keys": [oct, es_jwk]})).await;
    let registry = registry(&server, |_| {}).with_token_cache(100);

    let hmac = || SigningKey::hmac(Algorithm::HS256, &secret).unwrap();
    let with_kid = mint(hmac().with_kid(Some("published-hmac-key".into())));
    assert_eq!(code(&registry, &with_kid).await, "unknown_kid");
    let without_kid = mint(hmac());
    assert_eq!(code(&registry, &without_kid).await, "alg_not_allowed");
    assert_eq!(code(&registry, &mint(es)).await, "ok");
    let stats = stats(&registry);
    assert_eq!((stats.key_count, stats.skipped_keys), (1, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_on_every_probe_obeys_the_fetch_back_off() {
    let (_, jwk) = es256("key");
    let server = JwksServer::start(&json!({"keys": [jwk]})).await;
    server.set_status(503);
    // Default settings: the back-off after a failed fetch is 5 s.
    let registry = registry(&server, |_| {});
    for _ in 0..50 {
        assert!(registry.warm_up().await.is_err());
        assert!(!registry.is_ready());
    }
    assert_eq!(server.requests(), 1, "50 warm-ups while the IdP fails");

    // Concurrent warm-ups share one fetch too, and once the IdP answers and the back-off has
    // passed, the next warm-up loads the keys; then warm-ups fetch nothing while keys are held.
    let registry = Arc::new(registry_with_short_back_off(&server));
    let before = server.requests();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let registry = registry.clone();
            tokio::spawn(async move { registry.warm_up().await.is_err() })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap());
    }
    assert_eq!(server.requests() - before, 1, "20 concurrent warm-ups");
    server.set_status(200);
    tokio::time::sleep(Duration::from_millis(350)).await;
    registry.warm_up().await.unwrap();
    assert!(registry.is_ready());
    for _ in 0..50 {
        registry.warm_up().await.unwrap();
    }
    assert_eq!(server.requests() - before, 2, "warm-ups with keys held");
}

fn registry_with_short_back_off(server: &JwksServer) -> Registry {
    registry(server, |c| {
        c.retry_after_failure = Duration::from_millis(300)
    })
}
