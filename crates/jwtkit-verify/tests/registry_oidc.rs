//! The multi-issuer registry against real OIDC providers (npm `oidc-provider` on 127.0.0.1)
//! next to a static HMAC issuer, as a service accepting Keycloak and API tokens would run it.

use std::time::Duration;

use jwtkit_keys::{Algorithm, SigningKey, keygen};
use jwtkit_mint::{Expiry, GenericProfile, Minter};
use jwtkit_secret::Secret;
use jwtkit_testsupport::Idp;
use jwtkit_verify::{
    IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry, RegistryError,
};

const API_ISSUER: &str = "https://api.example";

fn oidc_issuer(name: &str, idp: &Idp, config: JwksConfig) -> IssuerConfig {
    IssuerConfig {
        name: name.into(),
        issuers: vec![idp.issuer.clone()],
        keys: KeySource::Jwks(JwksCache::new(config).unwrap()),
        policy: Policy {
            audiences: vec!["urn:jwtkit:api".into()],
            ..Policy::default()
        },
    }
}

fn api_issuer(secret: &Secret) -> IssuerConfig {
    IssuerConfig {
        name: "api".into(),
        issuers: vec![API_ISSUER.into()],
        keys: KeySource::Static(vec![
            SigningKey::hmac(Algorithm::HS256, secret)
                .unwrap()
                .verifying_key()
                .unwrap(),
        ]),
        policy: Policy::default(),
    }
}

fn mint(key: SigningKey, issuer: &str) -> String {
    let profile = GenericProfile {
        subject: Some("svc".into()),
        issuer: Some(issuer.into()),
        expiry: Expiry::After(300),
        ..GenericProfile::default()
    };
    Minter::new(key)
        .mint(&profile.claims(jwtkit_mint::now()).unwrap())
        .unwrap()
}

async fn code(registry: &Registry, token: &str) -> &'static str {
    match registry.validate(token).await {
        Ok(_) => "ok",
        Err(err) => err.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_routed_to_their_issuers_keys_and_policy() {
    let idp = Idp::start(Some("http://localhost:{port}"), 300);
    let secret = Secret::generate(32).unwrap();
    let keycloak_like = JwksConfig::discovery(idp.base_url.clone(), Some(idp.issuer.clone()));
    let registry = Registry::new(vec![
        oidc_issuer("idp", &idp, keycloak_like),
        api_issuer(&secret),
    ])
    .unwrap();
    registry.warm_up().await.unwrap();
    assert!(registry.is_ready());

    for client in ["test-client", "test-client-es"] {
        let token = idp.token(client, None).await;
        let validated = registry
            .validate(&token)
            .await
            .unwrap_or_else(|e| panic!("{client}: {e}"));
        assert_eq!(validated.issuer.as_deref(), Some("idp"));
        assert_eq!(validated.claims["client_id"], client);
    }
    let api_token = mint(
        SigningKey::hmac(Algorithm::HS256, &secret).unwrap(),
        API_ISSUER,
    );
    assert_eq!(
        registry
            .validate(&api_token)
            .await
            .unwrap()
            .issuer
            .as_deref(),
        Some("api")
    );

    // The IdP's policy requires its audience.
    assert_eq!(
        code(
            &registry,
            &idp.token("test-client", Some("urn:jwtkit:other")).await
        )
        .await,
        "audience_mismatch"
    );
    // An HMAC token naming the IdP: the IdP has no HMAC keys, so the alg is refused outright.
    let forged = mint(
        SigningKey::hmac(Algorithm::HS256, &secret).unwrap(),
        &idp.issuer,
    );
    assert_eq!(code(&registry, &forged).await, "alg_not_allowed");
    // With explicit typing (RFC 8725 §3.11) such a token is refused even earlier.
    let mut typed = oidc_issuer("idp", &idp, JwksConfig::jwks_url(idp.jwks_uri.clone()));
    typed.policy.typ = Some("at+jwt".into());
    let typed = Registry::new(vec![typed]).unwrap();
    assert_eq!(code(&typed, &forged).await, "typ_mismatch");
    assert_eq!(
        code(&typed, &idp.token("test-client", None).await).await,
        "ok"
    );
    // Our own RSA key, kid and all, naming the IdP: only the IdP's JWKS is consulted.
    let pair = keygen::generate(Algorithm::RS256, 2048).unwrap();
    let own = SigningKey::from_pem(None, &pair.private_pem).unwrap();
    let forged = mint(own.with_kid(Some("attacker".into())), &idp.issuer);
    assert_eq!(code(&registry, &forged).await, "unknown_kid");
    // Issuers nobody configured, and tokens without one.
    let stranger = mint(
        SigningKey::hmac(Algorithm::HS256, &secret).unwrap(),
        "https://evil.example",
    );
    assert_eq!(code(&registry, &stranger).await, "unknown_issuer");
    let profile = GenericProfile {
        expiry: Expiry::After(60),
        ..GenericProfile::default()
    };
    let anonymous = Minter::new(SigningKey::hmac(Algorithm::HS256, &secret).unwrap())
        .mint(&profile.claims(jwtkit_mint::now()).unwrap())
        .unwrap();
    assert_eq!(code(&registry, &anonymous).await, "missing_claim");

    // generate_jwt.py tokens carry no iss: one entry may take them, explicitly.
    let mut api = api_issuer(&secret);
    api.policy.allow_missing_iss = true;
    let lenient = Registry::new(vec![api]).unwrap();
    assert_eq!(
        lenient
            .validate(&anonymous)
            .await
            .unwrap()
            .issuer
            .as_deref(),
        Some("api")
    );
    assert_eq!(code(&lenient, &stranger).await, "unknown_issuer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_one_idp_never_verifies_a_token_naming_another() {
    let a = Idp::start(None, 300);
    let b = Idp::start(None, 300);
    let registry = Registry::new(vec![
        oidc_issuer("a", &a, JwksConfig::jwks_url(a.jwks_uri.clone())),
        oidc_issuer("b", &b, JwksConfig::jwks_url(b.jwks_uri.clone())),
    ])
    .unwrap();
    let from_a = a.token("test-client", None).await;
    let from_b = b.token("test-client", None).await;
    assert_eq!(
        registry.validate(&from_a).await.unwrap().issuer.as_deref(),
        Some("a")
    );
    assert_eq!(
        registry.validate(&from_b).await.unwrap().issuer.as_deref(),
        Some("b")
    );
    // Splice: A's header and signature around B's claims -> checked against B's keys only.
    let (a_parts, b_parts): (Vec<&str>, Vec<&str>) =
        (from_a.split('.').collect(), from_b.split('.').collect());
    let spliced = format!("{}.{}.{}", a_parts[0], b_parts[1], a_parts[2]);
    assert_eq!(code(&registry, &spliced).await, "unknown_kid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_outage_and_the_token_cache() {
    let mut idp = Idp::start(None, 300);
    let mut config = JwksConfig::jwks_url(idp.jwks_uri.clone());
    config.unknown_kid_cooldown = Duration::from_millis(0);
    let registry = Registry::new(vec![oidc_issuer("idp", &idp, config)])
        .unwrap()
        .with_token_cache(1000);
    let before = idp.token("test-client", None).await;
    assert_eq!(code(&registry, &before).await, "ok");
    let requests = idp.jwks_requests().await;
    assert_eq!(code(&registry, &before).await, "ok", "cache hit");
    assert_eq!(idp.jwks_requests().await, requests);

    // Rotation that drops the old key: the new kid triggers a refresh, the key-set version
    // changes, and the cached verdict for the old token is no longer used.
    idp.rotate(true).await;
    let after = idp.token("test-client", None).await;
    assert_eq!(code(&registry, &after).await, "ok");
    assert_eq!(code(&registry, &before).await, "unknown_kid");

    // Outage: the held keys keep working (the cache of verdicts too); a kid they lack cannot
    // be checked now, which is not the same as a bad token.
    idp.kill();
    assert_eq!(code(&registry, &after).await, "ok");
    assert_eq!(code(&registry, &before).await, "jwks_unavailable");
    assert_eq!(code(&registry, &after).await, "ok");
    assert!(registry.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_down_from_the_start_is_jwks_unavailable_not_a_token_error() {
    let mut idp = Idp::start(None, 300);
    let token = idp.token("test-client", None).await;
    let config = JwksConfig::jwks_url(idp.jwks_uri.clone());
    idp.kill();
    let registry = Registry::new(vec![oidc_issuer("idp", &idp, config)]).unwrap();
    assert!(registry.warm_up().await.is_err());
    assert!(!registry.is_ready());
    assert_eq!(code(&registry, &token).await, "jwks_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_verdicts_end_at_exp() {
    let idp = Idp::start(None, 2);
    let mut policy_issuer = oidc_issuer("idp", &idp, JwksConfig::jwks_url(idp.jwks_uri.clone()));
    policy_issuer.policy.leeway_seconds = 0;
    let registry = Registry::new(vec![policy_issuer])
        .unwrap()
        .with_token_cache(10);
    let token = idp.token("test-client", None).await;
    assert_eq!(code(&registry, &token).await, "ok");
    assert_eq!(code(&registry, &token).await, "ok");
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    assert_eq!(code(&registry, &token).await, "expired");
}

#[tokio::test]
async fn shared_verdicts_are_the_cached_ones_and_refusals_stay_refusals() {
    let secret = Secret::generate(32).unwrap();
    let key = || SigningKey::hmac(Algorithm::HS256, &secret).unwrap();
    let cached = Registry::new(vec![api_issuer(&secret)])
        .unwrap()
        .with_token_cache(10);
    let token = mint(key(), API_ISSUER);
    assert!(cached.cached(&token).is_none(), "nothing cached yet");
    let first = cached.validate_shared(&token).await.unwrap();
    let without_await = cached.cached(&token).expect("cached once validated");
    assert!(std::sync::Arc::ptr_eq(&first, &without_await));
    let hit = cached.validate_shared(&token).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &hit),
        "a hit shares the cached verdict"
    );
    assert_eq!(hit.issuer.as_deref(), Some("api"));
    assert_eq!(hit.claims.get("sub"), Some(&serde_json::json!("svc")));
    // The owned form is an equal copy, and the cache keeps serving the shared one.
    let owned = cached.validate(&token).await.unwrap();
    assert_eq!(owned.claims.get("sub"), hit.claims.get("sub"));
    assert!(std::sync::Arc::ptr_eq(
        &hit,
        &cached.validate_shared(&token).await.unwrap()
    ));
    // Without a cache each call verifies anew; a refusal is the same error either way.
    let uncached = Registry::new(vec![api_issuer(&secret)]).unwrap();
    let a = uncached.validate_shared(&token).await.unwrap();
    let b = uncached.validate_shared(&token).await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &b));
    assert!(uncached.cached(&token).is_none());
    let foreign = mint(key(), "https://elsewhere.example");
    for registry in [&cached, &uncached] {
        let err = registry.validate_shared(&foreign).await.unwrap_err();
        assert_eq!(err.code(), code(registry, &foreign).await);
        assert_ne!(err.code(), "ok");
    }
}

#[test]
fn configuration_mistakes_are_refused() {
    let secret = Secret::generate(32).unwrap();
    let err = Registry::new(vec![
        api_issuer(&secret),
        IssuerConfig {
            name: "again".into(),
            ..api_issuer(&secret)
        },
    ])
    .unwrap_err();
    assert!(
        matches!(err, RegistryError::DuplicateIssuer { .. }),
        "{err}"
    );
    let none = IssuerConfig {
        issuers: vec![],
        ..api_issuer(&secret)
    };
    assert_eq!(
        Registry::new(vec![none]).unwrap_err(),
        RegistryError::NoIssuer("api".into())
    );
    let lenient = |name: &str, iss: &str| {
        let mut config = api_issuer(&secret);
        config.name = name.into();
        config.issuers = vec![iss.into()];
        config.policy.allow_missing_iss = true;
        config
    };
    let err =
        Registry::new(vec![lenient("a", "https://a"), lenient("b", "https://b")]).unwrap_err();
    assert!(
        matches!(err, RegistryError::DuplicateIssuer { ref iss, .. } if iss == "(no iss)"),
        "{err}"
    );
    let empty = IssuerConfig {
        keys: KeySource::Static(vec![]),
        ..api_issuer(&secret)
    };
    assert_eq!(
        Registry::new(vec![empty]).unwrap_err(),
        RegistryError::NoKeys("api".into())
    );
}
