//! `jwtkit mint` and `jwtkit verify` through the real binary: round trips for every algorithm,
//! the exit-code contract (0 valid / 1 invalid or missing key material / 2 bad arguments), the
//! one-line `invalid: <code>: <reason>` stderr, secret sources and encodings, and JSON output.

mod common;

use common::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn hmac_round_trip_for_each_algorithm_with_a_secret_of_its_size() {
    for (alg, bytes) in [("HS256", 32), ("HS384", 48), ("HS512", 64)] {
        let secret = generate_secret(bytes);
        let token = mint([
            "--alg",
            alg,
            "--secret",
            &secret,
            "--sub",
            "svc",
            "--expires-in",
            "1h",
        ]);
        assert_eq!(header(&token)["alg"], alg, "{alg}");
        assert_eq!(header(&token)["typ"], "JWT", "{alg}");
        let verified = run(["verify", "--secret", &secret, &token]).ok();
        let claims = verified.json();
        assert_eq!(claims["sub"], "svc", "{alg}");
        assert_eq!(
            claims,
            common::claims(&token),
            "{alg}: verify prints the claims"
        );
        // Restricting to the token's own algorithm still passes, another HMAC one does not.
        run(["verify", "--secret", &secret, "--alg", alg, &token]).ok();
        let other = if alg == "HS256" { "HS512" } else { "HS256" };
        run(["verify", "--secret", &secret, "--alg", other, &token]).invalid("alg_not_allowed");
    }
}

#[test]
fn hmac_algorithm_refuses_a_secret_below_its_rfc7518_minimum() {
    for (alg, needed) in [("HS384", "48"), ("HS512", "64")] {
        let secret = generate_secret(32);
        run(["mint", "--alg", alg, "--secret", &secret])
            .exit(1)
            .stderr_has(&[alg, needed])
            .leaks_nothing(&secret);
    }
}

/// keygen, then mint with the private PEM and verify with the public PEM, the private PEM, and
/// the JWKS (with and without a kid in the header); a key pair of the same type does not verify.
fn asymmetric_round_trip(alg: &str) {
    let dir = tempdir();
    let keys = keygen(alg, &dir.path().join("a"));
    let token = mint([
        "--key",
        s(&keys.private_pem),
        "--alg",
        alg,
        "--sub",
        "svc",
        "--expires-in",
        "10m",
    ]);
    assert_eq!(header(&token)["alg"], alg);
    assert_eq!(header(&token).get("kid"), None, "no --kid, no kid");

    for key in [&keys.public_pem, &keys.private_pem] {
        let out = run(["verify", "--key", s(key), &token]).ok();
        assert_eq!(out.json()["sub"], "svc", "{alg} with {}", key.display());
    }
    run(["verify", "--jwks-file", s(&keys.jwks), &token]).ok();
    run(["verify", "--jwks-file", s(&keys.jwks), "--alg", alg, &token]).ok();

    // With the JWKS kid in the header, the set selects the key by kid.
    let with_kid = mint([
        "--key",
        s(&keys.private_pem),
        "--alg",
        alg,
        "--kid",
        &keys.kid,
        "--expires-in",
        "10m",
    ]);
    assert_eq!(header(&with_kid)["kid"], keys.kid.as_str());
    run(["verify", "--jwks-file", s(&keys.jwks), &with_kid]).ok();
    let unknown = mint([
        "--key",
        s(&keys.private_pem),
        "--alg",
        alg,
        "--kid",
        "not-in-the-set",
        "--expires-in",
        "10m",
    ]);
    run(["verify", "--jwks-file", s(&keys.jwks), &unknown]).invalid("unknown_kid");

    // Another key of the same type must not verify.
    let other = keygen(alg, &dir.path().join("b"));
    run(["verify", "--key", s(&other.public_pem), &token]).invalid("bad_signature");
    run(["verify", "--jwks-file", s(&other.jwks), &token]).invalid("bad_signature");
}

macro_rules! asymmetric_round_trips {
    ($($name:ident: $alg:literal,)*) => {$(
        #[test]
        fn $name() {
            asymmetric_round_trip($alg);
        }
    )*};
}

asymmetric_round_trips! {
    round_trip_rs256: "RS256",
    round_trip_rs384: "RS384",
    round_trip_rs512: "RS512",
    round_trip_ps256: "PS256",
    round_trip_ps384: "PS384",
    round_trip_ps512: "PS512",
    round_trip_es256: "ES256",
    round_trip_es384: "ES384",
    round_trip_es512: "ES512",
    round_trip_eddsa: "EdDSA",
}

#[test]
fn pem_without_alg_mints_the_key_default_which_a_jwks_bound_to_another_alg_refuses() {
    // keygen --alg PS256 binds the JWKS entry to PS256; a PEM carries no algorithm, so minting
    // without --alg gives RS256, and the JWKS must refuse it rather than accept any RSA alg.
    let dir = tempdir();
    let keys = keygen("PS256", dir.path());
    let token = mint(["--key", s(&keys.private_pem), "--expires-in", "10m"]);
    assert_eq!(header(&token)["alg"], "RS256");
    run(["verify", "--jwks-file", s(&keys.jwks), &token]).invalid("alg_not_allowed");
}

/// RFC 8037 appendix A.1: the Ed25519 private key as a JWK.
const RFC8037_PRIVATE_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

#[test]
fn private_jwk_signs_and_verifies_via_key() {
    let dir = tempdir();
    let private = write_file(dir.path(), "ed.jwk", RFC8037_PRIVATE_JWK);
    let public = write_file(
        dir.path(),
        "ed.pub.jwk",
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    );
    let token = mint(["--key", s(&private), "--expires-in", "5m"]);
    assert_eq!(header(&token)["alg"], "EdDSA");
    run(["verify", "--key", s(&private), &token]).ok();
    run(["verify", "--key", s(&public), &token]).ok();
    let other = keygen("EdDSA", &dir.path().join("other"));
    run(["verify", "--key", s(&other.public_pem), &token]).invalid("bad_signature");
}

#[test]
fn oct_jwk_verifies_an_hmac_token_minted_from_the_same_bytes() {
    let dir = tempdir();
    // `secret generate` prints base64url, exactly the form of a JWK `k`.
    let secret = generate_secret(32);
    let oct = write_file(
        dir.path(),
        "oct.jwk",
        &json!({"kty": "oct", "k": secret}).to_string(),
    );
    let token = mint([
        "--secret",
        &secret,
        "--secret-encoding",
        "base64url",
        "--expires-in",
        "5m",
    ]);
    run(["verify", "--key", s(&oct), &token]).ok();
    // And the oct JWK signs too.
    let token = mint(["--key", s(&oct), "--expires-in", "5m"]);
    assert_eq!(header(&token)["alg"], "HS256");
    run([
        "verify",
        "--secret",
        &secret,
        "--secret-encoding",
        "base64url",
        &token,
    ])
    .ok();
    // The text of the secret read as raw bytes is another key.
    run(["verify", "--secret", &secret, &token]).invalid("bad_signature");
}

// ---------------------------------------------------------------------------------------------
// Token input

#[test]
fn verify_reads_the_token_from_stdin_with_dash_or_no_argument() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--sub", "piped", "--expires-in", "5m"]);
    for args in [
        vec!["verify", "--secret", &secret, "-"],
        vec!["verify", "--secret", &secret],
    ] {
        let out = run_with(jwtkit().args(&args).write_stdin(format!("{token}\n"))).ok();
        assert_eq!(out.json()["sub"], "piped", "{args:?}");
    }
    // A copied Authorization header value works too.
    let out = run_with(
        jwtkit()
            .args(["verify", "--secret", &secret, "-"])
            .write_stdin(format!("Bearer {token}\n")),
    )
    .ok();
    assert_eq!(out.json()["sub"], "piped");
    // And stdin is really read: a different token there fails.
    let other = mint(["--secret", &generate_secret(32), "--expires-in", "5m"]);
    run_with(
        jwtkit()
            .args(["verify", "--secret", &secret, "-"])
            .write_stdin(other),
    )
    .invalid("bad_signature");
}

#[test]
fn empty_stdin_is_a_usage_error() {
    let secret = generate_secret(32);
    run_with(
        jwtkit()
            .args(["verify", "--secret", &secret, "-"])
            .write_stdin("  \n"),
    )
    .exit(2);
}

// ---------------------------------------------------------------------------------------------
// Rejections: exit 1 and exactly `invalid: <code>: <reason>`

#[test]
fn wrong_secret_is_bad_signature_and_echoes_neither_secret() {
    let right = generate_secret(32);
    let wrong = generate_secret(32);
    let token = mint(["--secret", &right, "--expires-in", "5m"]);
    let out = run(["verify", "--secret", &wrong, &token])
        .invalid("bad_signature")
        .leaks_nothing(&wrong)
        .leaks_nothing(&right);
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout);
}

#[test]
fn tampered_payload_is_bad_signature() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--sub", "alice", "--expires-in", "5m"]);
    let parts: Vec<&str> = token.split('.').collect();
    let forged_claims = serde_json::to_vec(&json!({"sub": "admin", "exp": now() + 300})).unwrap();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        jwtkit_keys::b64::encode(&forged_claims),
        parts[2]
    );
    run(["verify", "--secret", &secret, &forged]).invalid("bad_signature");
}

#[test]
fn expired_token_is_rejected_beyond_the_leeway_and_accepted_within_it() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--expires-in", "1s"]);
    let claims = claims(&token);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    run(["verify", "--secret", &secret, "--leeway", "0", &token]).invalid("expired");
    // The default leeway (60 s) still accepts it; that is what leeway is for.
    run(["verify", "--secret", &secret, &token]).ok();
}

#[test]
fn crafted_expired_token_is_rejected_with_the_default_leeway() {
    let key = [7u8; 32];
    let token = craft_hs256(
        &key,
        &json!({"sub": "x", "iat": now() - 7200, "exp": now() - 3600}),
    );
    let dir = tempdir();
    let secret_file = write_file(dir.path(), "secret.hex", &hex_of(&key));
    run([
        "verify",
        "--secret-file",
        s(&secret_file),
        "--secret-encoding",
        "hex",
        &token,
    ])
    .invalid("expired");
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn audience_must_match_one_of_the_accepted_audiences() {
    let secret = generate_secret(32);
    let token = mint([
        "--secret",
        &secret,
        "--aud",
        "api",
        "--aud",
        "web",
        "--expires-in",
        "5m",
    ]);
    assert_eq!(claims(&token)["aud"], json!(["api", "web"]));
    run(["verify", "--secret", &secret, "--aud", "mobile", &token]).invalid("audience_mismatch");
    run([
        "verify", "--secret", &secret, "--aud", "mobile", "--aud", "web", &token,
    ])
    .ok();
    // A token without aud fails when an audience is required.
    let no_aud = mint(["--secret", &secret, "--expires-in", "5m"]);
    run(["verify", "--secret", &secret, "--aud", "api", &no_aud]).invalid("audience_mismatch");
}

#[test]
fn without_aud_a_token_carrying_aud_is_refused_unless_any_audience_is_asked_for() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--aud", "api", "--expires-in", "5m"]);
    // Like the library: a token addressed to an audience is not accepted where none is named.
    run(["verify", "--secret", &secret, &token])
        .invalid("audience_mismatch")
        .stderr_has(&["api"]);
    run(["verify", "--secret", &secret, "--json", &token])
        .exit(1)
        .stdout_has(&["audience_mismatch"]);
    let accepted = run(["verify", "--secret", &secret, "--any-audience", &token]).ok();
    assert_eq!(accepted.json()["aud"], "api");
    // A token without aud needs neither flag.
    let no_aud = mint(["--secret", &secret, "--expires-in", "5m"]);
    run(["verify", "--secret", &secret, &no_aud]).ok();
    run(["verify", "--secret", &secret, "--any-audience", &no_aud]).ok();
    // --any-audience contradicts --aud, and means nothing with --signature-only.
    run([
        "verify",
        "--secret",
        &secret,
        "--any-audience",
        "--aud",
        "api",
        &token,
    ])
    .exit(2);
    run([
        "verify",
        "--secret",
        &secret,
        "--any-audience",
        "--signature-only",
        &token,
    ])
    .exit(2);
}

#[test]
fn issuer_must_be_one_of_the_accepted_issuers() {
    let secret = generate_secret(32);
    let token = mint([
        "--secret",
        &secret,
        "--iss",
        "https://idp.example",
        "--expires-in",
        "5m",
    ]);
    run([
        "verify",
        "--secret",
        &secret,
        "--iss",
        "https://evil.example",
        &token,
    ])
    .invalid("unknown_issuer");
    run([
        "verify",
        "--secret",
        &secret,
        "--iss",
        "https://idp.example",
        &token,
    ])
    .ok();
}

#[test]
fn asymmetric_alg_is_not_allowed_against_an_hmac_token() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--expires-in", "5m"]);
    run(["verify", "--secret", &secret, "--alg", "RS256", &token]).invalid("alg_not_allowed");
}

#[test]
fn hmac_token_is_refused_by_an_rsa_public_key() {
    // The classic RS/HS confusion: the public key's bytes must never act as an HMAC secret.
    let dir = tempdir();
    let keys = keygen("RS256", dir.path());
    let pem = read(&keys.public_pem);
    let token = craft_hs256(pem.as_bytes(), &json!({"sub": "admin", "exp": now() + 300}));
    run(["verify", "--key", s(&keys.public_pem), &token]).invalid("alg_not_allowed");
}

#[test]
fn token_without_exp_is_refused_unless_allowed_explicitly() {
    let secret = generate_secret(32);
    // The generic profile's default lifetime is `never`: no exp claim.
    let token = mint(["--secret", &secret]);
    assert_eq!(claims(&token).get("exp"), None);
    run(["verify", "--secret", &secret, &token]).invalid("missing_claim");
    run(["verify", "--secret", &secret, "--allow-missing-exp", &token]).ok();
}

#[test]
fn required_claim_missing_is_reported() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--expires-in", "5m"]);
    run([
        "verify",
        "--secret",
        &secret,
        "--require",
        "tenant_id",
        &token,
    ])
    .invalid("missing_claim")
    .stderr_has(&["tenant_id"]);
}

#[test]
fn malformed_token_is_rejected_without_echoing_it() {
    let secret = generate_secret(32);
    // Someone pasted the secret where the token goes. After `--`: a base64url secret may start
    // with `-` (1 in 64), which clap would otherwise read as a flag (exit 2, not this test's
    // point).
    run(["verify", "--secret", &secret, "--", &secret])
        .invalid("malformed")
        .leaks_nothing(&secret);
}

// ---------------------------------------------------------------------------------------------
// Missing or weak secrets: exit 1

#[test]
fn missing_secret_fails_with_exit_1_and_names_jwt_secret_key() {
    run(["mint", "--sub", "x"])
        .exit(1)
        .stderr_has(&["JWT_SECRET_KEY"]);
    let token = craft_hs256(&[1u8; 32], &json!({"exp": now() + 60}));
    run(["verify", &token])
        .exit(1)
        .stderr_has(&["JWT_SECRET_KEY"]);
}

#[test]
fn unset_secret_env_is_named_in_the_error() {
    run(["mint", "--secret-env", "JWTKIT_TEST_SURELY_UNSET"])
        .exit(1)
        .stderr_has(&["JWTKIT_TEST_SURELY_UNSET"]);
}

#[test]
fn weak_secret_is_refused_with_exit_1_naming_the_minimum() {
    let weak = "0123456789"; // 10 bytes
    run(["mint", "--secret", weak])
        .exit(1)
        .stderr_has(&["32", "10 bytes"])
        .leaks_nothing(weak);
    let token = craft_hs256(&[1u8; 32], &json!({"exp": now() + 60}));
    run(["verify", "--secret", weak, &token])
        .exit(1)
        .stderr_has(&["32"])
        .leaks_nothing(weak);
}

#[test]
fn unreadable_key_file_fails_with_exit_1_naming_the_file() {
    let dir = tempdir();
    let missing = dir.path().join("nope.pem");
    run(["mint", "--key", s(&missing)])
        .exit(1)
        .stderr_has(&["nope.pem"]);
    let token = craft_hs256(&[1u8; 32], &json!({"exp": now() + 60}));
    run(["verify", "--key", s(&missing), &token])
        .exit(1)
        .stderr_has(&["nope.pem"]);
    let garbage = write_file(dir.path(), "garbage.pem", "not a key\n");
    run(["verify", "--key", s(&garbage), &token])
        .exit(1)
        .stderr_has(&["garbage.pem"]);
}

// ---------------------------------------------------------------------------------------------
// Bad arguments: exit 2

#[test]
fn bad_expires_in_is_a_usage_error() {
    let secret = generate_secret(32);
    for bad in ["10", "10x", "0s", "-5m", "1.5h", "", "forever", "5 m"] {
        run(["mint", "--secret", &secret, "--expires-in", bad])
            .exit(2)
            .leaks_nothing(&secret);
    }
}

#[test]
fn expiry_units_set_exp_relative_to_iat() {
    let secret = generate_secret(32);
    for (text, seconds) in [
        ("3600s", 3600),
        ("30m", 1800),
        ("24h", 86_400),
        ("7d", 604_800),
        ("4w", 2_419_200),
    ] {
        let claims = claims(&mint(["--secret", &secret, "--expires-in", text]));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            seconds,
            "{text}"
        );
    }
    let claims = claims(&mint(["--secret", &secret, "--expires-in", "never"]));
    assert_eq!(claims.get("exp"), None);
    assert!((claims["iat"].as_i64().unwrap() - now()).abs() <= 5);
}

#[test]
fn unknown_alg_is_a_usage_error() {
    let secret = generate_secret(32);
    run(["mint", "--secret", &secret, "--alg", "HS257"]).exit(2);
    run(["mint", "--secret", &secret, "--alg", "hs256"]).exit(2);
    let token = mint(["--secret", &secret, "--expires-in", "5m"]);
    run(["verify", "--secret", &secret, "--alg", "XS256", &token]).exit(2);
}

#[test]
fn alg_none_is_a_usage_error_everywhere() {
    let secret = generate_secret(32);
    for none in ["none", "None", "NONE"] {
        run(["mint", "--secret", &secret, "--alg", none])
            .exit(2)
            .stderr_has(&["none"]);
    }
    let token = mint(["--secret", &secret, "--expires-in", "5m"]);
    run(["verify", "--secret", &secret, "--alg", "none", &token]).exit(2);
}

#[test]
fn unsigned_alg_none_token_is_rejected() {
    let secret = generate_secret(32);
    let header = jwtkit_keys::b64::encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = jwtkit_keys::b64::encode(
        json!({"sub": "admin", "exp": now() + 300})
            .to_string()
            .as_bytes(),
    );
    for signature in ["", "c2lnbmF0dXJl"] {
        let token = format!("{header}.{payload}.{signature}");
        run(["verify", "--secret", &secret, &token]).invalid("alg_not_allowed");
    }
}

#[test]
fn asymmetric_alg_without_key_is_a_usage_error() {
    let secret = generate_secret(32);
    run(["mint", "--secret", &secret, "--alg", "ES256"])
        .exit(2)
        .stderr_has(&["--key"])
        .leaks_nothing(&secret);
}

#[test]
fn reserved_claims_cannot_be_set_with_claim() {
    let secret = generate_secret(32);
    for claim in [
        "exp=1", "iat=1", "nbf=1", "sub=root", "iss=x", "aud=x", "jti=x",
    ] {
        run(["mint", "--secret", &secret, "--claim", claim])
            .exit(2)
            .leaks_nothing(&secret);
    }
    run(["mint", "--secret", &secret, "--claim", "novalue"]).exit(2);
}

#[test]
fn conflicting_secret_sources_are_a_usage_error_without_echo() {
    let secret = generate_secret(32);
    run([
        "mint",
        "--secret",
        &secret,
        "--secret-env",
        "JWT_SECRET_KEY",
    ])
    .exit(2)
    .leaks_nothing(&secret);
    let token = mint(["--secret", &secret, "--expires-in", "5m"]);
    run([
        "verify",
        "--secret",
        &secret,
        "--key",
        "/nonexistent",
        &token,
    ])
    .exit(2)
    .leaks_nothing(&secret);
}

// ---------------------------------------------------------------------------------------------
// Mint options

#[test]
fn subject_is_an_alias_of_sub() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--subject", "svc-a"]);
    assert_eq!(claims(&token)["sub"], "svc-a");
    let token = mint(["--secret", &secret, "--sub", "svc-b"]);
    assert_eq!(claims(&token)["sub"], "svc-b");
}

#[test]
fn custom_claims_are_json_when_they_parse_else_strings() {
    let secret = generate_secret(32);
    let token = mint([
        "--secret",
        &secret,
        "--claim",
        "n=5",
        "--claim",
        "ok=true",
        "--claim",
        "tenant=test-tenant",
        "--claim",
        r#"roles=["a","b"]"#,
        "--jti",
        "id-1",
    ]);
    let claims = claims(&token);
    assert_eq!(claims["n"], 5);
    assert_eq!(claims["ok"], true);
    assert_eq!(claims["tenant"], "test-tenant");
    assert_eq!(claims["roles"], json!(["a", "b"]));
    assert_eq!(claims["jti"], "id-1");
    assert_eq!(claims["sub"], "client", "the generic default subject");
}

#[test]
fn kid_flag_goes_into_the_header() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--kid", "k-2024"]);
    assert_eq!(header(&token)["kid"], "k-2024");
}

// ---------------------------------------------------------------------------------------------
// Secret sources and encodings

#[test]
fn jwt_secret_key_is_the_default_secret_for_mint_and_verify() {
    let secret = generate_secret(32);
    let token = run_with(jwtkit().env("JWT_SECRET_KEY", &secret).args([
        "mint",
        "--sub",
        "from-env",
        "--expires-in",
        "5m",
    ]))
    .ok()
    .line();
    // The variable's value, read raw, is the key.
    run(["verify", "--secret", &secret, &token]).ok();
    run(["verify", "--secret", &generate_secret(32), &token]).invalid("bad_signature");
    // verify reads it too.
    let out = run_with(
        jwtkit()
            .env("JWT_SECRET_KEY", &secret)
            .args(["verify", &token]),
    )
    .ok();
    assert_eq!(out.json()["sub"], "from-env");
    // An explicit flag wins over the variable.
    let other = generate_secret(32);
    run_with(
        jwtkit()
            .env("JWT_SECRET_KEY", &other)
            .args(["verify", "--secret", &secret, &token]),
    )
    .ok();
}

#[test]
fn secret_env_and_secret_file_are_read() {
    let secret = generate_secret(32);
    let dir = tempdir();
    // A trailing newline, as `echo` writes, is not part of the key.
    let file = write_file(dir.path(), "secret", &format!("{secret}\n"));
    let token = run_with(jwtkit().env("MY_SIGNING_KEY", &secret).args([
        "mint",
        "--secret-env",
        "MY_SIGNING_KEY",
        "--expires-in",
        "5m",
    ]))
    .ok()
    .line();
    run(["verify", "--secret-file", s(&file), &token]).ok();
    run(["verify", "--secret", &secret, &token]).ok();
}

#[test]
fn the_same_key_bytes_verify_under_each_explicit_encoding() {
    // 32 bytes chosen so that base64 and base64url differ (they contain + / and - _).
    let bytes: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(0xf8))
        .collect();
    let hex = hex_of(&bytes);
    let b64 = base64_std(&bytes);
    let b64url = jwtkit_keys::b64::encode(&bytes);
    assert!(
        b64.contains(['+', '/']) && b64url.contains(['-', '_']),
        "{b64} {b64url}"
    );

    let token = craft_hs256(&bytes, &json!({"sub": "x", "exp": now() + 300}));
    for (text, encoding) in [(&hex, "hex"), (&b64, "base64"), (&b64url, "base64url")] {
        run([
            "verify",
            "--secret",
            text,
            "--secret-encoding",
            encoding,
            &token,
        ])
        .ok();
        // The same text read as raw bytes is another key.
        run(["verify", "--secret", text, &token]).invalid("bad_signature");
    }
    // Mint with one encoding, verify with another.
    let token = mint([
        "--secret",
        &hex,
        "--secret-encoding",
        "hex",
        "--expires-in",
        "5m",
    ]);
    run([
        "verify",
        "--secret",
        &b64,
        "--secret-encoding",
        "base64",
        &token,
    ])
    .ok();
    // Text that is not valid in the declared encoding fails without quoting it.
    run([
        "verify",
        "--secret",
        &b64url,
        "--secret-encoding",
        "base64",
        &token,
    ])
    .exit(1)
    .stderr_has(&["base64"])
    .leaks_nothing(&b64url);
}

/// Standard base64 with padding (test-side implementation, independent of the CLI).
fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn auto_encoding_reports_its_choice_on_stderr_without_the_secret() {
    let bytes = [0x5au8; 32];
    let b64 = base64_std(&bytes);
    let token = craft_hs256(&bytes, &json!({"exp": now() + 300}));
    let out = run([
        "verify",
        "--secret",
        &b64,
        "--secret-encoding",
        "auto",
        &token,
    ])
    .ok()
    .leaks_nothing(&b64);
    let note: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(note.len(), 1, "one note line: {}", out.stderr);
    assert!(
        note[0].starts_with("note: ")
            && note[0].contains("base64 (auto)")
            && note[0].contains("32 bytes")
            && note[0].contains("sha256:"),
        "{}",
        note[0]
    );

    // Text that is not base64 falls back to raw, and says so.
    let raw = "this secret is plain text, not base64!";
    let token = craft_hs256(raw.as_bytes(), &json!({"exp": now() + 300}));
    run([
        "verify",
        "--secret",
        raw,
        "--secret-encoding",
        "auto",
        &token,
    ])
    .ok()
    .stderr_has(&["raw (auto)"])
    .leaks_nothing(raw);
}

#[test]
fn unknown_secret_encoding_is_a_usage_error() {
    let secret = generate_secret(32);
    run(["mint", "--secret", &secret, "--secret-encoding", "base32"])
        .exit(2)
        .leaks_nothing(&secret);
}

// ---------------------------------------------------------------------------------------------
// Output

#[test]
fn mint_prints_the_token_alone_on_stdout_and_nothing_on_stderr() {
    let secret = generate_secret(32);
    let out = run(["mint", "--secret", &secret, "--expires-in", "5m"]).ok();
    let token = out.line();
    assert_eq!(token.split('.').count(), 3);
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "{token}"
    );
    assert!(out.stderr.is_empty(), "stderr: {}", out.stderr);
}

#[test]
fn mint_json_has_token_algorithm_claims_and_fingerprint() {
    let secret = generate_secret(32);
    let out = run([
        "mint",
        "--json",
        "--secret",
        &secret,
        "--sub",
        "j",
        "--expires-in",
        "5m",
    ])
    .ok()
    .leaks_nothing(&secret);
    let doc = out.json();
    let token = doc["token"].as_str().expect("token string");
    assert_eq!(doc["algorithm"], "HS256");
    assert_eq!(doc["claims"], claims(token));
    assert_eq!(doc["claims"]["sub"], "j");
    let fingerprint = run(["secret", "fingerprint", "--secret", &secret, "--json"])
        .ok()
        .json()["fingerprint"]
        .clone();
    assert_eq!(doc["key_fingerprint"], fingerprint);
    run(["verify", "--secret", &secret, token]).ok();
}

#[test]
fn verify_json_reports_valid_and_invalid_on_stdout() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--sub", "j", "--expires-in", "5m"]);
    let doc = run(["verify", "--json", "--secret", &secret, &token])
        .ok()
        .json();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["header"]["alg"], "HS256");
    assert_eq!(doc["claims"]["sub"], "j");

    let wrong = generate_secret(32);
    let out = run(["verify", "--json", "--secret", &wrong, &token])
        .invalid("bad_signature")
        .leaks_nothing(&wrong);
    let doc = out.json();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["code"], "bad_signature");
    assert!(doc["reason"].as_str().is_some_and(|r| !r.is_empty()));
}

#[test]
fn verify_signature_only_prints_a_non_json_payload_as_text() {
    let key = [3u8; 32];
    let secret = hex_of(&key);
    let header = jwtkit_keys::b64::encode(br#"{"alg":"HS256"}"#);
    let payload = jwtkit_keys::b64::encode(b"hello, not JSON");
    let signing_input = format!("{header}.{payload}");
    let signer = jwtkit_keys::SigningKey::hmac(
        jwtkit_keys::Algorithm::HS256,
        &jwtkit_secret::Secret::from_bytes(key.to_vec()).unwrap(),
    )
    .unwrap();
    let signature = jwtkit_keys::b64::encode(&signer.sign(signing_input.as_bytes()).unwrap());
    let token = format!("{signing_input}.{signature}");
    let out = run([
        "verify",
        "--signature-only",
        "--secret",
        &secret,
        "--secret-encoding",
        "hex",
        &token,
    ])
    .ok();
    assert_eq!(out.stdout, "hello, not JSON\n");
    // Without --signature-only it is not a JWT.
    run([
        "verify",
        "--secret",
        &secret,
        "--secret-encoding",
        "hex",
        &token,
    ])
    .invalid("malformed");
}

#[test]
fn help_and_version_exit_0() {
    run(["--help"])
        .ok()
        .stdout_has(&["mint", "verify", "doctor"]);
    run(["--version"]).ok().stdout_has(&["jwtkit"]);
    run(["mint", "--help"])
        .ok()
        .stdout_has(&["--sub", "--expires-in"]);
}

#[test]
fn unknown_subcommand_or_flag_is_a_usage_error() {
    run(["frobnicate"]).exit(2);
    run(["mint", "--no-such-flag"]).exit(2);
    run(Vec::<&str>::new()).exit(2);
}

#[test]
fn secret_starting_with_a_hyphen_is_accepted_as_a_flag_value() {
    // `secret generate` prints base64url, whose alphabet includes `-`: one secret in 64 starts
    // with it, and `--secret "$S"` must still take it as the value, not as an unknown flag.
    let secret = "-B1CZ4yx1vsgRWqPtNn-I0htkrfcASZLcJW63wQpTnM";
    let token = mint([
        "--secret",
        secret,
        "--secret-encoding",
        "base64url",
        "--expires-in",
        "5m",
    ]);
    run([
        "verify",
        "--secret",
        secret,
        "--secret-encoding",
        "base64url",
        &token,
    ])
    .ok();
    run(["doctor", "--secret", secret, &token])
        .ok()
        .leaks_nothing(secret);
    run(["secret", "fingerprint", "--secret", secret])
        .ok()
        .leaks_nothing(secret);
}

#[test]
fn kid_starting_with_a_hyphen_is_accepted_as_a_flag_value() {
    // keygen's kid is a base64url thumbprint, which starts with `-` one time in 64.
    let secret = generate_secret(32);
    let kid = "-tV5dkVo1m6W2SuNMDtDHNNmsKyWJOvTBQzcFwiZ1sQ";
    let token = mint(["--secret", &secret, "--kid", kid]);
    assert_eq!(header(&token)["kid"], kid);
}

#[test]
fn no_error_path_echoes_the_secret() {
    // Distinctive texts, long enough to be HS256 keys when read raw; neither is hex.
    let secret = "SeCrEtVaLuEfOrLeAkChEcKs0123456789abcdefgh";
    let other = "AnOtHeRsEcReTfOrLeAkChEcKs0123456789abcdef";
    let dir = tempdir();
    let file = write_file(dir.path(), "secret", secret);
    let token = mint(["--secret", other, "--expires-in", "5m"]);
    let failing: Vec<Vec<&str>> = vec![
        vec!["verify", "--secret", secret, &token],
        vec!["verify", "--json", "--secret", secret, &token],
        vec!["verify", "--secret-file", s(&file), &token],
        vec![
            "verify",
            "--secret",
            secret,
            "--secret-encoding",
            "hex",
            &token,
        ],
        vec!["verify", "--secret", secret, "--alg", "RS256", &token],
        vec!["verify", "--secret", secret, "not.a-token"],
        vec!["verify", "--secret", secret, "--aud", "x", &token],
        vec!["mint", "--secret", secret, "--alg", "HS512"],
        vec!["mint", "--secret", secret, "--secret-encoding", "hex"],
        vec!["mint", "--secret", secret, "--alg", "PS256"],
        vec!["mint", "--secret", secret, "--claim", "exp=1"],
        vec!["mint", "--secret", secret, "--expires-in", "soon"],
        vec!["mint", "--secret", secret, "--secret-file", s(&file)],
        vec!["mint", "--profile", "camunda", "--secret", secret],
        vec!["mint", "--profile", "centrifugo-sub", "--secret", secret],
        vec!["doctor", "--secret", secret, &token],
        vec!["doctor", "--secret", secret, "--alg", "HS512", &token],
        vec!["doctor", "--secret-file", s(&file), &token],
        vec![
            "secret",
            "fingerprint",
            "--secret",
            secret,
            "--secret-encoding",
            "hex",
        ],
    ];
    for args in &failing {
        let out = run(args);
        assert_ne!(out.code, Some(0), "{args:?} should fail");
        out.leaks_nothing(secret).leaks_nothing(other);
    }
    // Through the environment as well.
    for args in [vec!["verify", &token], vec!["doctor", &token]] {
        let out = run_with(jwtkit().env("JWT_SECRET_KEY", secret).args(&args));
        assert_ne!(out.code, Some(0), "{args:?} should fail");
        out.leaks_nothing(secret).leaks_nothing(other);
    }
    let out =
        run_with(
            jwtkit()
                .env("ENGINE_JWT_SECRET", secret)
                .args(["mint", "--profile", "camunda"]),
        );
    assert_ne!(out.code, Some(0));
    out.leaks_nothing(secret);
}
