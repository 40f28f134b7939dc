//! `jwtkit verify --issuer/--jwks-url` against a real OIDC provider on 127.0.0.1.

use assert_cmd::Command;
use jwtkit_testsupport::Idp;
use predicates::prelude::*;

fn token(idp: &Idp, client: &str) -> String {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(idp.token(client, None))
}

fn jwtkit() -> Command {
    let mut command = Command::cargo_bin("jwtkit").unwrap();
    command.env_remove("JWT_SECRET_KEY");
    command
}

#[test]
fn verify_through_discovery_and_through_a_jwks_url() {
    let idp = Idp::start(None, 300);
    for client in ["test-client", "test-client-es"] {
        let token = token(&idp, client);
        let out = jwtkit()
            .args([
                "verify",
                &token,
                "--issuer",
                &idp.base_url,
                "--aud",
                "urn:jwtkit:api",
            ])
            .assert()
            .success();
        let claims: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(claims["client_id"], client);
        // The IdP's tokens name their audience: without --aud they are refused unless the
        // audience is explicitly not checked.
        jwtkit()
            .args([
                "verify",
                &token,
                "--jwks-url",
                &idp.jwks_uri,
                "--iss",
                &idp.issuer,
            ])
            .assert()
            .code(1)
            .stderr(predicates::str::starts_with("invalid: audience_mismatch: "));
        jwtkit()
            .args([
                "verify",
                &token,
                "--jwks-url",
                &idp.jwks_uri,
                "--iss",
                &idp.issuer,
                "--any-audience",
            ])
            .assert()
            .success();
    }
    let token = token(&idp, "test-client");
    jwtkit()
        .args([
            "verify",
            &token,
            "--issuer",
            &idp.base_url,
            "--aud",
            "urn:jwtkit:other",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with("invalid: audience_mismatch: "));
}

#[test]
fn alias_issuer_is_found_by_discovery_or_jwks_url_with_the_accepted_iss_spelled_out() {
    let idp = Idp::start(Some("http://localhost:{port}"), 300);
    let token = token(&idp, "test-client");
    // Discovery from 127.0.0.1 finds a document declaring localhost: refused as a mismatch.
    jwtkit()
        .args(["verify", &token, "--issuer", &idp.base_url])
        .assert()
        .code(1)
        .stderr(
            predicates::str::contains("invalid: jwks_unavailable: ")
                .and(predicates::str::contains("declares issuer")),
        );
    // Discovery at the internal URL, its document declaring the issuer the tokens carry
    // (given with --iss): accepted, as the proxy's `discovery_url` + `iss` does.
    jwtkit()
        .args([
            "verify",
            &token,
            "--issuer",
            &idp.base_url,
            "--iss",
            &idp.issuer,
            "--aud",
            "urn:jwtkit:api",
        ])
        .assert()
        .success();
    // A document declaring another issuer than the one asked for stays refused.
    jwtkit()
        .args([
            "verify",
            &token,
            "--issuer",
            &idp.base_url,
            "--iss",
            "http://keycloak.invalid/realms/x",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("declares issuer"));
    // Keys from the internal URL, issuer as the browser sees it: accepted.
    jwtkit()
        .args([
            "verify",
            &token,
            "--jwks-url",
            &idp.jwks_uri,
            "--iss",
            &idp.issuer,
            "--aud",
            "urn:jwtkit:api",
        ])
        .assert()
        .success();
    jwtkit()
        .args([
            "verify",
            &token,
            "--jwks-url",
            &idp.jwks_uri,
            "--iss",
            &idp.base_url,
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with("invalid: unknown_issuer: "));
}

#[test]
fn unreachable_idp_is_jwks_unavailable() {
    let mut idp = Idp::start(None, 300);
    let token = token(&idp, "test-client");
    let jwks_uri = idp.jwks_uri.clone();
    idp.kill();
    jwtkit()
        .args(["verify", &token, "--jwks-url", &jwks_uri])
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with("invalid: jwks_unavailable: "));
}
