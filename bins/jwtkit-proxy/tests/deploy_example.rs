//! The configurations operators copy, `deploy/proxy.example.toml` and the `proxy.toml` of
//! `deploy/kubernetes.yaml`'s ConfigMap, load as written: every key is known, every value parses,
//! the cross-checks pass and the proxy builds from them once the secrets they name are set (no
//! network is used: JWK Sets are fetched only when serving).
//!
//! A file of its own: it sets process environment variables.

use jwtkit_proxy::config::Config;

fn deploy_file(name: &str) -> String {
    let path = format!("{}/../../deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The ConfigMap's `proxy.toml: |` block, its indentation removed.
fn kubernetes_proxy_toml() -> String {
    let manifest = deploy_file("kubernetes.yaml");
    let mut lines = manifest
        .lines()
        .skip_while(|line| line.trim() != "proxy.toml: |");
    lines.next().expect("a proxy.toml block in the ConfigMap");
    lines
        .take_while(|line| line.is_empty() || line.starts_with("    "))
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_deploy_example_configurations_build() {
    let example =
        Config::from_toml(&deploy_file("proxy.example.toml")).expect("the example parses");
    assert!(!example.issuers.is_empty() && !example.routes.is_empty());
    let kubernetes =
        Config::from_toml(&kubernetes_proxy_toml()).expect("the ConfigMap's proxy.toml parses");
    assert!(kubernetes.camunda.is_some() && kubernetes.centrifugo.is_some());
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
    for config in [&example, &kubernetes] {
        let app = jwtkit_proxy::app::build(config, Vec::new());
        assert!(app.is_ok(), "{:?}", app.err());
    }
}
