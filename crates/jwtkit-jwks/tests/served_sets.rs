//! The cache against a JWK Set served on 127.0.0.1 by the test itself
//! (`jwtkit_testsupport::jwks_server`), which counts the fetches on the server side.

use std::time::Duration;

use jwtkit_jwks::{JwksCache, JwksConfig, JwksError};
use jwtkit_keys::{Algorithm, KeyKind, b64, keygen, parse_key_set};
use jwtkit_testsupport::jwks_server::JwksServer;
use serde_json::{Value, json};

fn es256(kid: &str) -> Value {
    let pair = keygen::generate(Algorithm::ES256, 0).unwrap();
    let mut jwk = serde_json::to_value(&pair.public_jwk).unwrap();
    jwk["kid"] = kid.into();
    jwk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_shares_a_running_fetch_and_obeys_the_back_off() {
    let server = JwksServer::start(&json!({"keys": [es256("key")]})).await;
    server.set_delay(Duration::from_millis(300));
    let mut config = JwksConfig::jwks_url(server.url.clone());
    config.retry_after_failure = Duration::from_millis(500);
    let cache = JwksCache::new(config).unwrap();

    // Callers arriving while a fetch runs share it.
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.refresh().await.map(|s| s.version) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), Ok(1));
    }
    assert_eq!(server.requests(), 1, "10 concurrent refreshes");

    // An explicit refresh still fetches when the last fetch succeeded.
    assert_eq!(cache.refresh().await.unwrap().version, 2);
    assert_eq!(server.requests(), 2);

    // After a failed fetch, refreshes within the back-off make no request and say why.
    server.set_status(500);
    server.set_delay(Duration::ZERO);
    let err = cache.refresh().await.unwrap_err();
    assert!(
        matches!(err, JwksError::Status { status: 500, .. }),
        "{err}"
    );
    for _ in 0..50 {
        let err = cache.refresh().await.unwrap_err();
        assert!(
            matches!(&err, JwksError::Unavailable { last_error } if last_error.contains("500")),
            "{err}"
        );
    }
    assert_eq!(server.requests(), 3, "50 refreshes during the back-off");
    // The held set is untouched by the failures; after the back-off the next refresh fetches.
    assert_eq!(cache.keys().await.unwrap().version, 2);
    server.set_status(200);
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(cache.refresh().await.unwrap().version, 3);
    assert_eq!(server.requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_set_never_yields_symmetric_keys() {
    let secret = b64::encode(&[0x5a; 32]);
    let kid = "hmac-shared-by-the-idp";
    let document = json!({"keys": [
        {"kty": "oct", "kid": kid, "alg": "HS256", "k": secret},
        es256("es-key"),
        // Broken symmetric keys are skipped the same way, before their `k` is looked at.
        {"kty": "oct", "kid": "short", "k": "AA"},
    ]});
    let server = JwksServer::start(&document).await;
    let cache = JwksCache::new(JwksConfig::jwks_url(server.url.clone())).unwrap();
    let keys = cache.keys().await.unwrap();
    let kinds: Vec<_> = keys.keys.iter().map(|k| (k.kid(), k.kind())).collect();
    assert_eq!(
        kinds,
        [(Some("es-key"), KeyKind::Ec(jwtkit_keys::EcCurve::P256))]
    );
    assert!(!keys.has_kid(kid));

    // What is logged for them (the Display of each skipped key) names the kid's first
    // characters only, and nothing of the key.
    let skipped: Vec<_> = keys
        .skipped
        .iter()
        .map(|s| (s.index, s.kid.as_deref()))
        .collect();
    assert_eq!(skipped, [(0, Some("hmac-sha…")), (2, Some("short"))]);
    for skipped in &keys.skipped {
        let line = skipped.to_string();
        assert!(line.contains("symmetric (oct) key"), "{line}");
        assert!(!line.contains(kid) && !line.contains(&secret), "{line}");
    }
    assert_eq!(cache.stats().skipped_keys, 2);

    // The same document as a local file the operator configured keeps its HMAC key.
    let local = parse_key_set(document.to_string().as_bytes()).unwrap();
    assert!(
        local
            .keys
            .iter()
            .any(|k| k.kind() == KeyKind::Hmac && k.kid() == Some(kid))
    );

    // A fetched set of symmetric keys only has no usable key: an error, never an empty set.
    server.set_document(&json!({"keys": [{"kty": "oct", "kid": kid, "k": secret}]}));
    let fresh = JwksCache::new(JwksConfig::jwks_url(server.url.clone())).unwrap();
    let err = fresh.refresh().await.unwrap_err();
    assert!(
        matches!(&err, JwksError::Invalid { reason, .. } if reason.contains("no usable key") && reason.contains("symmetric")),
        "{err}"
    );
}
