//! Claim profiles through the real binary: the Camunda engine token (exact camelCase claims,
//! base64 secret, refusal of secrets the engine would silently replace) and Centrifugo
//! connection and subscription tokens.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

/// A Camunda engine secret: standard base64 of 32 bytes.
const ENGINE_SECRET: &str = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";
/// Standard base64 that decodes to 31 bytes: one short of what the engine accepts.
const SHORT_ENGINE_SECRET: &str = "dGVzdGluZy1kZWZhdWx0LXNlY3JldC1mb3ItanNvbg==";

fn claim_names(claims: &Value) -> BTreeSet<String> {
    claims
        .as_object()
        .expect("claims are an object")
        .keys()
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Camunda

#[test]
fn camunda_token_has_exactly_the_engine_claims_with_their_types() {
    let token = mint([
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--sub",
        "alice",
    ]);
    let claims = claims(&token);
    let expected: BTreeSet<String> = [
        "sub",
        "email",
        "isActive",
        "isSuperuser",
        "isVerified",
        "iat",
        "exp",
    ]
    .map(String::from)
    .into();
    assert_eq!(claim_names(&claims), expected, "{claims}");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@camunda.local");
    for flag in ["isActive", "isSuperuser", "isVerified"] {
        assert_eq!(claims[flag], json!(true), "{flag} is a JSON boolean true");
    }
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    let (iat, exp) = (
        iat.expect("iat is an integer"),
        exp.expect("exp is an integer"),
    );
    assert_eq!(exp - iat, 3600, "default lifetime is 1 h");
    assert!((iat - now()).abs() <= 5, "iat is now");
    assert_eq!(header(&token), json!({"alg": "HS256", "typ": "JWT"}));
}

#[test]
fn camunda_token_is_signed_with_the_base64_decoded_secret() {
    let token = mint(["--profile", "camunda", "--secret", ENGINE_SECRET]);
    assert_eq!(claims(&token)["sub"], "demo", "the camunda default subject");
    run([
        "verify",
        "--secret",
        ENGINE_SECRET,
        "--secret-encoding",
        "base64",
        &token,
    ])
    .ok();
    // The text itself is not the key.
    run(["verify", "--secret", ENGINE_SECRET, &token]).invalid("bad_signature");
}

#[test]
fn camunda_email_template_email_flag_and_no_superuser() {
    let token = mint([
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--sub",
        "bob",
        "--email",
        "bob@example.org",
        "--no-superuser",
        "--expires-in",
        "30m",
    ]);
    let claims = claims(&token);
    assert_eq!(claims["email"], "bob@example.org");
    assert_eq!(claims["isSuperuser"], json!(false));
    assert_eq!(claims["isActive"], json!(true));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1800
    );
}

#[test]
fn camunda_reads_engine_jwt_secret_then_jwt_secret_key() {
    let token = run_with(
        jwtkit()
            .env("ENGINE_JWT_SECRET", ENGINE_SECRET)
            .env("JWT_SECRET_KEY", SHORT_ENGINE_SECRET)
            .args(["mint", "--profile", "camunda"]),
    )
    .ok()
    .line();
    run([
        "verify",
        "--secret",
        ENGINE_SECRET,
        "--secret-encoding",
        "base64",
        &token,
    ])
    .ok();
    let token = run_with(jwtkit().env("JWT_SECRET_KEY", ENGINE_SECRET).args([
        "mint",
        "--profile",
        "camunda",
    ]))
    .ok()
    .line();
    run([
        "verify",
        "--secret",
        ENGINE_SECRET,
        "--secret-encoding",
        "base64",
        &token,
    ])
    .ok();
    run(["mint", "--profile", "camunda"])
        .exit(1)
        .stderr_has(&["JWT_SECRET_KEY"]);
}

#[test]
fn camunda_refuses_a_secret_under_32_bytes_explaining_the_engine_random_key() {
    let out = run([
        "mint",
        "--profile",
        "camunda",
        "--secret",
        SHORT_ENGINE_SECRET,
    ])
    .exit(1)
    .stderr_has(&["31 bytes", "32", "random key"])
    .leaks_nothing(SHORT_ENGINE_SECRET)
    .leaks_nothing("dGVzdGluZy1kZWZhdWx0");
    assert!(out.stdout.is_empty(), "no token: {}", out.stdout);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    // The same secret from the environment is refused the same way.
    run_with(
        jwtkit()
            .env("ENGINE_JWT_SECRET", SHORT_ENGINE_SECRET)
            .args(["mint", "--profile", "camunda"]),
    )
    .exit(1)
    .stderr_has(&["random key"])
    .leaks_nothing(SHORT_ENGINE_SECRET);
}

#[test]
fn camunda_refuses_a_secret_that_is_not_standard_base64_without_quoting_it() {
    let text = "your-secret-key-here-which-is-long!";
    run(["mint", "--profile", "camunda", "--secret", text])
        .exit(1)
        .stderr_has(&["base64"])
        .leaks_nothing(text)
        .leaks_nothing("your-secret");
}

#[test]
fn camunda_rejects_claims_the_engine_does_not_have() {
    run([
        "mint",
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--iss",
        "x",
    ])
    .exit(2);
    run([
        "mint",
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--aud",
        "x",
    ])
    .exit(2);
    // The engine requires exp.
    run([
        "mint",
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--expires-in",
        "never",
    ])
    .exit(2)
    .stderr_has(&["exp"]);
    // Profile claims cannot be overridden.
    run([
        "mint",
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--claim",
        "isActive=false",
    ])
    .exit(2);
}

#[test]
fn email_flags_are_for_the_camunda_profile_only() {
    let secret = generate_secret(32);
    run(["mint", "--secret", &secret, "--email", "a@b.c"]).exit(2);
    run(["mint", "--secret", &secret, "--no-superuser"]).exit(2);
}

// ---------------------------------------------------------------------------------------------
// Centrifugo

#[test]
fn centrifugo_connection_token_with_channels_and_custom_claims() {
    let secret = generate_secret(32);
    let token = mint([
        "--profile",
        "centrifugo",
        "--secret",
        &secret,
        "--sub",
        "agent-linux-01",
        "--channel",
        "agents.test-tenant.agent-linux-01",
        "--channel",
        "broadcast",
        "--claim",
        "tenant_id=test-tenant",
    ]);
    let claims = claims(&token);
    assert_eq!(claims["sub"], "agent-linux-01");
    assert_eq!(
        claims["channels"],
        json!(["agents.test-tenant.agent-linux-01", "broadcast"])
    );
    assert_eq!(claims["tenant_id"], "test-tenant");
    assert_eq!(
        claims.get("channel"),
        None,
        "a connection token never has channel"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    // Centrifugo verifies HMAC tokens with the raw text of its secret.
    run(["verify", "--secret", &secret, &token]).ok();
}

#[test]
fn centrifugo_connection_token_without_sub_or_channels_is_anonymous() {
    let secret = generate_secret(32);
    let claims = claims(&mint(["--profile", "centrifugo", "--secret", &secret]));
    assert_eq!(claims["sub"], "");
    assert_eq!(claims.get("channels"), None);
    assert_eq!(claims.get("channel"), None);
}

#[test]
fn centrifugo_connection_token_refuses_channel_as_a_custom_claim() {
    let secret = generate_secret(32);
    run([
        "mint",
        "--profile",
        "centrifugo",
        "--secret",
        &secret,
        "--claim",
        "channel=agents.x",
    ])
    .exit(2)
    .stderr_has(&["connection token must not have `channel`", "subscription"])
    .leaks_nothing(&secret);
}

#[test]
fn centrifugo_subscription_token_has_exactly_one_channel() {
    let secret = generate_secret(32);
    let token = mint([
        "--profile",
        "centrifugo-sub",
        "--secret",
        &secret,
        "--sub",
        "agent-linux-01",
        "--channel",
        "agents.test-tenant.agent-linux-01",
    ]);
    let claims = claims(&token);
    assert_eq!(claims["channel"], "agents.test-tenant.agent-linux-01");
    assert_eq!(claims["sub"], "agent-linux-01");
    assert_eq!(claims.get("channels"), None);
    run(["verify", "--secret", &secret, &token]).ok();
}

#[test]
fn centrifugo_subscription_token_needs_exactly_one_channel() {
    let secret = generate_secret(32);
    run(["mint", "--profile", "centrifugo-sub", "--secret", &secret])
        .exit(2)
        .stderr_has(&["exactly one --channel"]);
    run([
        "mint",
        "--profile",
        "centrifugo-sub",
        "--secret",
        &secret,
        "--channel",
        "a",
        "--channel",
        "b",
    ])
    .exit(2)
    .stderr_has(&["exactly one --channel"]);
    run([
        "mint",
        "--profile",
        "centrifugo-sub",
        "--secret",
        &secret,
        "--channel",
        "a",
        "--claim",
        r#"channels=["b"]"#,
    ])
    .exit(2);
}

#[test]
fn channel_flag_is_for_the_centrifugo_profiles_only() {
    let secret = generate_secret(32);
    run(["mint", "--secret", &secret, "--channel", "a"])
        .exit(2)
        .stderr_has(&["--channel"]);
    run([
        "mint",
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--channel",
        "a",
    ])
    .exit(2);
}

#[test]
fn jti_is_for_the_generic_profile_only() {
    let secret = generate_secret(32);
    run([
        "mint",
        "--profile",
        "centrifugo",
        "--secret",
        &secret,
        "--jti",
        "x",
    ])
    .exit(2);
}

#[test]
fn unknown_profile_is_a_usage_error() {
    let secret = generate_secret(32);
    run(["mint", "--profile", "keycloak", "--secret", &secret]).exit(2);
}
