//! The configurations operators copy, `deploy/proxy.example.toml` and the `proxy.toml` of
//! `deploy/kubernetes.yaml`'s and `deploy/kubernetes-tls.yaml`'s ConfigMaps, load as written:
//! every key is known, every value parses, the cross-checks pass and the proxy builds from them
//! once the secrets they name are set (no network is used: JWK Sets are fetched only when
//! serving). The TLS manifest's files are where its volumes are mounted, and with a generated
//! certificate and secret file in their place its configuration passes `--check-config`.
//!
//! A file of its own: it sets process environment variables.

use jwtkit_proxy::config::Config;

fn deploy_file(name: &str) -> String {
    let path = format!("{}/../../deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The ConfigMap's `proxy.toml: |` block in the manifest `name`, its indentation removed.
fn kubernetes_proxy_toml(name: &str) -> String {
    let manifest = deploy_file(name);
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
    let kubernetes = Config::from_toml(&kubernetes_proxy_toml("kubernetes.yaml"))
        .expect("the ConfigMap's proxy.toml parses");
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
    the_tls_manifest_mounts_what_its_configuration_reads();
}

/// `deploy/kubernetes-tls.yaml`: every file its `proxy.toml` names lies under a directory the
/// Deployment mounts (whole, so updates arrive), and with a generated certificate and engine
/// secret at those places the configuration passes `--check-config`.
fn the_tls_manifest_mounts_what_its_configuration_reads() {
    let manifest = deploy_file("kubernetes-tls.yaml");
    let text = kubernetes_proxy_toml("kubernetes-tls.yaml");
    let config = Config::from_toml(&text).expect("the TLS ConfigMap's proxy.toml parses");
    assert!(config.tls.is_some());
    assert!(
        !manifest.lines().any(|l| l.trim().starts_with("subPath:")),
        "a subPath mount never sees updates"
    );
    let mounts: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.trim().strip_prefix("mountPath: "))
        .collect();
    let files = config.named_files();
    assert_eq!(files.len(), 3, "{files:?}");
    for file in &files {
        let dir = file.parent().unwrap().to_str().unwrap();
        assert!(
            mounts.contains(&dir),
            "{} is not under a mount: {mounts:?}",
            file.display()
        );
    }

    let root = tempfile::tempdir().unwrap();
    let local = |path: &str| root.path().join(path.trim_start_matches('/'));
    let generated = rcgen::generate_simple_self_signed(vec!["jwtkit-proxy".to_owned()]).unwrap();
    for (file, content) in [
        ("/etc/jwtkit/tls/tls.crt", generated.cert.pem()),
        (
            "/etc/jwtkit/tls/tls.key",
            generated.signing_key.serialize_pem(),
        ),
        (
            "/etc/jwtkit/secrets/engine-jwt-secret",
            "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=\n".to_owned(),
        ),
    ] {
        std::fs::create_dir_all(local(file).parent().unwrap()).unwrap();
        std::fs::write(local(file), content).unwrap();
    }
    let moved = text.replace(
        "\"/etc/jwtkit/",
        &format!("\"{}/etc/jwtkit/", root.path().display()),
    );
    let path = root.path().join("proxy.toml");
    std::fs::write(&path, moved).unwrap();
    let checked = jwtkit_proxy::check_config(&path);
    assert!(checked.is_ok(), "{:?}", checked.err());
}
