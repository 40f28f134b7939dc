//! https key-set fetches from servers whose certificates a private CA signed (generated here
//! with rcgen): refused with the system's roots, fetched once the CA is trusted, added to the
//! system's roots or replacing them.
//!
//! The "system" roots of this test process are a second test CA, named by `SSL_CERT_FILE` (which
//! the platform verifier reads on Linux), so that the test can show that `CaMode::Add` keeps them
//! and `CaMode::Replace` drops them. The variable is set before any TLS client exists, in the only
//! test of this binary.

use jwtkit_jwks::{CaMode, JwksCache, JwksConfig, JwksError, TrustRoots};
use jwtkit_keys::{Algorithm, keygen};
use jwtkit_testsupport::jwks_server::JwksServer;
use jwtkit_testsupport::tls::TestCa;
use serde_json::json;

fn key_set() -> serde_json::Value {
    let pair = keygen::generate(Algorithm::ES256, 0).unwrap();
    let mut jwk = serde_json::to_value(&pair.public_jwk).unwrap();
    jwk["kid"] = "k1".into();
    json!({ "keys": [jwk] })
}

async fn fetch(config: JwksConfig) -> Result<usize, JwksError> {
    let cache = JwksCache::new(config)?;
    cache.refresh().await.map(|set| set.keys.len())
}

#[test]
fn private_ca_is_trusted_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let system_ca = TestCa::new("jwtkit test system root");
    let system_file = system_ca.write(dir.path(), "system.pem");
    // SAFETY: set before any thread of this test binary reads the environment (the runtime is
    // built below, and this is the binary's only test).
    unsafe {
        std::env::set_var("SSL_CERT_FILE", &system_file);
        std::env::remove_var("SSL_CERT_DIR");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(dir, system_ca));
}

async fn run(dir: tempfile::TempDir, system_ca: TestCa) {
    let private_ca = TestCa::new("jwtkit test internal CA");
    let private_file = private_ca.write(dir.path(), "internal-ca.pem");
    let internal = JwksServer::start_tls(&key_set(), private_ca.server().server_config(None)).await;
    let public = JwksServer::start_tls(&key_set(), system_ca.server().server_config(None)).await;
    assert!(internal.url.starts_with("https://127.0.0.1:"));

    // System roots only: the internal server's certificate is refused, and the error says so.
    let err = fetch(JwksConfig::jwks_url(internal.url.clone()))
        .await
        .unwrap_err();
    let message = err.to_string().to_lowercase();
    assert!(
        matches!(err, JwksError::Http { .. }) && message.contains("certificate"),
        "{message}"
    );
    assert_eq!(fetch(JwksConfig::jwks_url(public.url.clone())).await, Ok(1));

    // Added: both the internal and the "public" server are trusted.
    let added = TrustRoots::from_pem_file(&private_file, CaMode::Add).unwrap();
    for server in [&internal, &public] {
        let config = JwksConfig::jwks_url(server.url.clone()).with_trust(added.clone());
        assert_eq!(fetch(config).await, Ok(1), "{}", server.url);
    }

    // Replacing: the internal server only; the system root no longer counts.
    let only = TrustRoots::from_pem_file(&private_file, CaMode::Replace).unwrap();
    let config = JwksConfig::jwks_url(internal.url.clone()).with_trust(only.clone());
    assert_eq!(fetch(config).await, Ok(1));
    let err = fetch(JwksConfig::jwks_url(public.url.clone()).with_trust(only.clone()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // Discovery goes through the same client: the document and the key set, both over https.
    internal.set_discovery_issuer(internal.base_url());
    let config = JwksConfig::discovery(internal.base_url(), None).with_trust(only);
    assert_eq!(fetch(config).await, Ok(1));
    let err = fetch(JwksConfig::discovery(internal.base_url(), None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(".well-known/openid-configuration"),
        "the discovery fetch is the one refused: {err}"
    );
}
