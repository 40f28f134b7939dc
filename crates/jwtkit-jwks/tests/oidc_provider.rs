//! The cache against a real OIDC provider (npm `oidc-provider`, started on 127.0.0.1).

use std::time::{Duration, Instant};

use jwtkit_jwks::{JwksCache, JwksConfig, JwksError, Source};
use jwtkit_testsupport::Idp;
use serde_json::Value;

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&jwtkit_keys::b64::decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn discovery(idp: &Idp) -> JwksConfig {
    JwksConfig::discovery(idp.base_url.clone(), Some(idp.issuer.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_the_jwks_and_loads_rs256_and_es256_keys() {
    let idp = Idp::start(None, 300);
    let cache = JwksCache::new(discovery(&idp)).unwrap();
    assert!(!cache.is_ready());
    let keys = cache.keys().await.unwrap();
    assert_eq!(keys.keys.len(), 2);
    for client in ["test-client", "test-client-es"] {
        let kid = kid_of(&idp.token(client, None).await);
        assert!(keys.has_kid(&kid), "{client}'s kid {kid} is in the set");
    }
    let stats = cache.stats();
    assert_eq!(
        (
            stats.fetches,
            stats.discovery_fetches,
            stats.version,
            stats.key_count
        ),
        (1, 1, 1, 2)
    );
    assert!(cache.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_case_fetches_from_127_0_0_1_and_accepts_the_localhost_issuer() {
    let idp = Idp::start(Some("http://localhost:{port}"), 300);
    assert_eq!(idp.issuer, format!("http://localhost:{}", idp.port));
    let aliased = JwksCache::new(JwksConfig::discovery(
        idp.base_url.clone(),
        Some(idp.issuer.clone()),
    ))
    .unwrap();
    assert_eq!(aliased.keys().await.unwrap().keys.len(), 2);

    // Without the alias the document's issuer does not match the fetch URL: refused.
    let strict = JwksCache::new(JwksConfig::discovery(idp.base_url.clone(), None)).unwrap();
    let err = strict.keys().await.unwrap_err();
    assert!(
        matches!(&err, JwksError::Unavailable { last_error } if last_error.contains("declares issuer")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_lookups_share_one_fetch() {
    let idp = Idp::start(None, 300);
    idp.set_jwks_status(0, 300).await; // slow enough that all callers overlap
    let cache = JwksCache::new(JwksConfig::jwks_url(idp.jwks_uri.clone())).unwrap();
    let lookups: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn({
                let c = cache.clone();
                async move { c.keys().await }
            })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(lookup.await.unwrap().unwrap().version, 1);
    }
    assert_eq!(idp.jwks_requests().await, 1);
    assert_eq!(cache.stats().fetches, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_picked_up_through_the_unknown_kid_refresh() {
    let idp = Idp::start(None, 300);
    let cache = JwksCache::new(discovery(&idp)).unwrap();
    let old_kid = kid_of(&idp.token("test-client", None).await);
    assert!(
        cache
            .keys_for_kid(Some(&old_kid))
            .await
            .unwrap()
            .has_kid(&old_kid)
    );

    idp.rotate(false).await;
    let new_kid = kid_of(&idp.token("test-client", None).await);
    assert_ne!(new_kid, old_kid);
    let keys = cache.keys_for_kid(Some(&new_kid)).await.unwrap();
    assert!(keys.has_kid(&new_kid) && keys.has_kid(&old_kid));
    assert_eq!(keys.version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch_per_cooldown() {
    let idp = Idp::start(None, 300);
    let cache = JwksCache::new(JwksConfig::jwks_url(idp.jwks_uri.clone())).unwrap();
    cache.keys().await.unwrap();
    let before = idp.jwks_requests().await;
    let flood: Vec<_> = (0..200)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .keys_for_kid(Some(&format!("random-kid-{i}")))
                    .await
                    .unwrap()
                    .has_kid("x")
            })
        })
        .collect();
    for lookup in flood {
        assert!(!lookup.await.unwrap());
    }
    // Concurrent callers share the one fetch; later ones are turned away by the cooldown.
    for i in 0..50 {
        assert!(
            !cache
                .keys_for_kid(Some(&format!("late-kid-{i}")))
                .await
                .unwrap()
                .has_kid("x")
        );
    }
    let fetched = idp.jwks_requests().await - before;
    assert_eq!(fetched, 1, "{fetched} fetches for 250 unknown kids");
    assert!(cache.stats().cooldown_hits >= 50, "{:?}", cache.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_outage_serves_stale_keys_until_max_staleness_then_fails() {
    let mut idp = Idp::start(None, 300);
    let mut config = JwksConfig::jwks_url(idp.jwks_uri.clone());
    config.default_ttl = Duration::from_millis(500);
    config.min_ttl = Duration::from_millis(500);
    config.max_stale = Duration::from_secs(2);
    config.retry_after_failure = Duration::from_millis(200);
    let cache = JwksCache::new(config).unwrap();
    let kid = kid_of(&idp.token("test-client", None).await);
    cache.keys().await.unwrap();
    idp.kill();

    tokio::time::sleep(Duration::from_millis(900)).await; // past the lifetime, inside max_stale
    let stale = cache.keys_for_kid(Some(&kid)).await.unwrap();
    assert!(
        stale.has_kid(&kid),
        "known keys keep working during the outage"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cache.keys().await.is_ok());
    let stats = cache.stats();
    assert!(
        stats.stale_serves >= 1 && stats.fetch_errors >= 1,
        "{stats:?}"
    );
    assert!(cache.is_ready());

    tokio::time::sleep(Duration::from_millis(2_000)).await; // past max_stale
    let err = cache.keys().await.unwrap_err();
    assert!(matches!(err, JwksError::Unavailable { .. }), "{err}");
    assert!(!cache.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_idp_never_holds_requests_beyond_the_timeout() {
    let idp = Idp::start(None, 300);
    let mut config = JwksConfig::jwks_url(idp.jwks_uri.clone());
    config.request_timeout = Duration::from_millis(400);
    config.default_ttl = Duration::from_millis(300);
    config.min_ttl = Duration::from_millis(300);
    let cache = JwksCache::new(config).unwrap();
    cache.keys().await.unwrap();
    idp.set_jwks_status(0, 5_000).await;

    // Held keys past their lifetime are served at once while the refresh waits on the IdP.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = Instant::now();
    cache.keys().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );

    // A cold cache waits at most the request timeout.
    let cold = JwksCache::new({
        let mut c = JwksConfig::jwks_url(idp.jwks_uri.clone());
        c.request_timeout = Duration::from_millis(400);
        c
    })
    .unwrap();
    let started = Instant::now();
    let err = cold.keys().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    // Right after a failure the next caller gets the error without waiting again.
    let started = Instant::now();
    assert!(cold.keys().await.is_err());
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_control_max_age_decides_when_keys_are_fetched_again() {
    let idp = Idp::start(None, 300);
    idp.set_jwks_cache_control("max-age=1").await;
    let mut config = JwksConfig::new(Source::JwksUrl(idp.jwks_uri.clone()));
    config.min_ttl = Duration::from_secs(1);
    let cache = JwksCache::new(config).unwrap();
    cache.keys().await.unwrap();
    cache.keys().await.unwrap();
    assert_eq!(idp.jwks_requests().await, 1, "fresh: no second fetch");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    cache.keys().await.unwrap(); // stale: served, refreshed in the background
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        idp.jwks_requests().await,
        2,
        "max-age=1 expired: fetched again"
    );
    assert_eq!(cache.stats().version, 2);
}
