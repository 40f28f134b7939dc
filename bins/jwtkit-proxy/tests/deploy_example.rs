//! The configuration operators copy, `deploy/proxy.example.toml`, loads as written: every key is
//! known, every value parses, the cross-checks pass and the proxy builds from it once the three
//! secrets it names are set (no network is used: JWK Sets are fetched only when serving).
//!
//! A file of its own: it sets process environment variables.

use jwtkit_proxy::config::Config;

#[tokio::test]
async fn the_deploy_example_configuration_builds() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/proxy.example.toml"
    );
    let text = std::fs::read_to_string(path).expect("deploy/proxy.example.toml");
    let config = Config::from_toml(&text).expect("the example parses");
    assert!(!config.issuers.is_empty() && !config.routes.is_empty());
    // SAFETY (edition 2024): this test binary runs this one test, so no other thread reads the
    // environment while it changes.
    unsafe {
        std::env::set_var(
            "JWT_SECRET_KEY",
            "service-token-secret-of-at-least-32-bytes!",
        );
        std::env::set_var(
            "ENGINE_JWT_SECRET",
            "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=",
        );
        std::env::set_var(
            "CENTRIFUGO_HMAC_SECRET",
            "centrifugo-secret-that-is-32-bytes-or-more",
        );
    }
    let app = jwtkit_proxy::app::build(&config, Vec::new());
    assert!(app.is_ok(), "{:?}", app.err());
}
