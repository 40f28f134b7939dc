//! `jwtkit verify --jwks-url/--issuer --ca-file`: key sets served over https by a server whose
//! certificate a private CA (generated here with rcgen) signed.

use assert_cmd::Command;
use jwtkit_keys::{Algorithm, SigningKey, keygen};
use jwtkit_mint::Minter;
use jwtkit_testsupport::jwks_server::JwksServer;
use jwtkit_testsupport::tls::TestCa;
use serde_json::json;

fn jwtkit() -> Command {
    let mut command = Command::cargo_bin("jwtkit").unwrap();
    command.env_remove("JWT_SECRET_KEY");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_with_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("internal CA");
    let ca_file = ca.write(dir.path(), "ca.pem").display().to_string();
    let pair = keygen::generate(Algorithm::ES256, 0).unwrap();
    let mut jwk = serde_json::to_value(&pair.public_jwk).unwrap();
    jwk["kid"] = "k1".into();
    let server =
        JwksServer::start_tls(&json!({"keys": [jwk]}), ca.server().server_config(None)).await;
    server.set_discovery_issuer(server.base_url());
    let key = SigningKey::from_pem(Some(Algorithm::ES256), &pair.private_pem)
        .unwrap()
        .with_kid(Some("k1".into()));
    let now = jwtkit_mint::now();
    let token = Minter::new(key)
        .mint(&json!({"sub": "alice", "iss": server.base_url(), "iat": now, "exp": now + 300}))
        .unwrap();

    // The commands block: run them off the runtime's workers, which serve the key set.
    let (url, base) = (server.url.clone(), server.base_url().to_owned());
    tokio::task::spawn_blocking(move || {
        let refused = jwtkit()
            .args(["verify", &token, "--jwks-url", &url])
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&refused.get_output().stderr).to_lowercase();
        assert!(
            stderr.contains("jwks_unavailable") && stderr.contains("certificate"),
            "{stderr}"
        );

        for args in [
            vec!["--jwks-url", &url, "--ca-file", &ca_file],
            vec![
                "--issuer",
                &base,
                "--ca-file",
                &ca_file,
                "--ca-mode",
                "replace",
            ],
        ] {
            let out = jwtkit()
                .args(["verify", &token])
                .args(&args)
                .assert()
                .success();
            let claims: serde_json::Value =
                serde_json::from_slice(&out.get_output().stdout).unwrap();
            assert_eq!(claims["sub"], "alice", "{args:?}");
        }

        let missing = jwtkit()
            .args([
                "verify",
                &token,
                "--jwks-url",
                &url,
                "--ca-file",
                "/nonexistent/ca.pem",
            ])
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&missing.get_output().stderr).into_owned();
        assert!(stderr.contains("/nonexistent/ca.pem"), "{stderr}");
        jwtkit()
            .args([
                "verify",
                &token,
                "--jwks-url",
                &url,
                "--ca-file",
                &ca_file,
                "--ca-mode",
                "both",
            ])
            .assert()
            .code(2);
    })
    .await
    .unwrap();
}
