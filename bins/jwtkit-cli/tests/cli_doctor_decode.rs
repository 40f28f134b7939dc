//! `jwtkit decode` (shows a token without verifying it, and says so) and `jwtkit doctor`
//! (explains which secret reading verifies, wrong secrets, algorithm mismatches, expiry and
//! profile claims) through the real binary.

mod common;

use common::*;
use serde_json::json;

/// A Camunda engine secret: standard base64 of 32 bytes.
const ENGINE_SECRET: &str = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";

/// The single stdout line of a doctor report that contains `needle`.
#[track_caller]
fn only_line_with(run: &Run, needle: &str) -> String {
    let lines = run.stdout_lines_with(needle);
    assert_eq!(
        lines.len(),
        1,
        "expected one line with {needle:?}:\n{}",
        run.stdout
    );
    lines[0].clone()
}

// ---------------------------------------------------------------------------------------------
// decode

#[test]
fn decode_shows_header_and_claims_and_says_nothing_was_verified() {
    // Signed with a secret decode never sees.
    let secret = generate_secret(32);
    let token = mint([
        "--secret",
        &secret,
        "--sub",
        "carol",
        "--kid",
        "k1",
        "--expires-in",
        "150m",
    ]);
    let out = run(["decode", &token]).ok();
    assert!(
        out.stdout.starts_with("NOT VERIFIED"),
        "the first line warns: {}",
        out.stdout
    );
    let out = out.stdout_has(&[
        "Header:",
        "\"alg\": \"HS256\"",
        "\"kid\": \"k1\"",
        "Claims:",
        "\"sub\": \"carol\"",
        "(expires in 2 h)",
        "issued",
    ]);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn decode_shows_how_long_ago_a_token_expired() {
    let token = craft_hs256(
        &[9u8; 32],
        &json!({"sub": "x", "iat": now() - 10_800, "exp": now() - 7200}),
    );
    run(["decode", &token])
        .ok()
        .stdout_has(&["NOT VERIFIED", "expired 2 h ago"]);
}

#[test]
fn decode_says_when_there_is_no_exp() {
    let token = craft_hs256(&[9u8; 32], &json!({"sub": "x"}));
    run(["decode", &token])
        .ok()
        .stdout_has(&["never (no exp claim)"]);
}

#[test]
fn decode_json_marks_the_token_unverified() {
    let token = craft_hs256(&[9u8; 32], &json!({"sub": "x", "exp": now() + 60}));
    let doc = run(["decode", "--json", &token]).ok().json();
    assert_eq!(doc["verified"], false);
    assert_eq!(doc["header"]["alg"], "HS256");
    assert_eq!(doc["claims"]["sub"], "x");
}

#[test]
fn decode_reads_stdin() {
    let token = craft_hs256(&[9u8; 32], &json!({"sub": "from-stdin"}));
    run_with(
        jwtkit()
            .args(["decode", "-"])
            .write_stdin(format!("{token}\n")),
    )
    .ok()
    .stdout_has(&["from-stdin"]);
}

#[test]
fn decode_shows_a_non_json_payload_as_text() {
    let token = format!(
        "{}.{}.c2ln",
        jwtkit_keys::b64::encode(br#"{"alg":"EdDSA"}"#),
        jwtkit_keys::b64::encode(b"Example of Ed25519 signing")
    );
    run(["decode", &token])
        .ok()
        .stdout_has(&["Payload (not JSON)", "Example of Ed25519 signing"]);
}

#[test]
fn decode_of_a_jwe_is_malformed_and_says_it_is_encrypted() {
    let jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ";
    run(["decode", jwe])
        .invalid("malformed")
        .stderr_has(&["JWE"]);
}

#[test]
fn decode_of_garbage_is_malformed() {
    for garbage in [
        "hello",
        "a.b",
        "a.b.c.d",
        "!!!.e30.c2ln",
        "e30.!!!.c2ln",
        "bm90IGpzb24.e30.c2ln",
    ] {
        run(["decode", garbage]).invalid("malformed");
    }
}

// ---------------------------------------------------------------------------------------------
// doctor: which secret, which reading

#[test]
fn doctor_finds_the_base64_reading_of_a_camunda_engine_secret() {
    let token = mint(["--profile", "camunda", "--secret", ENGINE_SECRET]);
    let out = run(["doctor", "--secret", ENGINE_SECRET, &token])
        .ok()
        .leaks_nothing(ENGINE_SECRET);
    let matched = only_line_with(&out, "MATCHES");
    assert!(
        matched.trim_start().starts_with("ok")
            && matched.contains("read as base64")
            && matched.contains("32 bytes")
            && matched.contains("--secret-encoding base64"),
        "{matched}"
    );
    let raw = only_line_with(&out, "read as raw");
    assert!(raw.ends_with("no match"), "{raw}");
    out.stdout_has(&["verdict: no problem found"]);
}

#[test]
fn doctor_names_the_raw_hex_or_base64url_reading_that_verifies() {
    // 32 bytes whose base64url text contains `-` or `_` (so standard base64 cannot read it).
    let bytes: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(0xf8))
        .collect();
    let b64url = jwtkit_keys::b64::encode(&bytes);
    assert!(b64url.contains(['-', '_']), "{b64url}");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let raw = "a raw text secret of more than thirty-two bytes";

    for (text, encoding, expected) in [
        (raw, "raw", "read as raw"),
        (hex.as_str(), "hex", "read as hex"),
        (b64url.as_str(), "base64url", "read as base64url"),
    ] {
        let token = mint([
            "--secret",
            text,
            "--secret-encoding",
            encoding,
            "--expires-in",
            "5m",
        ]);
        let out = run(["doctor", "--secret", text, &token])
            .ok()
            .leaks_nothing(text);
        let matched = only_line_with(&out, "MATCHES");
        assert!(
            matched.contains(expected)
                && matched.contains(&format!("--secret-encoding {encoding}")),
            "{encoding}: {matched}"
        );
    }
}

#[test]
fn doctor_with_a_wrong_secret_reports_a_problem_without_printing_it() {
    let right = generate_secret(32);
    let wrong = generate_secret(32);
    let token = mint(["--secret", &right, "--expires-in", "5m"]);
    let out = run(["doctor", "--secret", &wrong, &token])
        .exit(1)
        .leaks_nothing(&wrong)
        .leaks_nothing(&right);
    assert!(
        out.stdout_lines_with("MATCHES").is_empty(),
        "{}",
        out.stdout
    );
    let problem = only_line_with(&out, "PROBLEM");
    assert!(
        problem.contains("another secret") && problem.contains("fingerprint"),
        "{problem}"
    );
    out.stdout_has(&["verdict: 1 problem(s) found"]);
}

#[test]
fn doctor_compares_several_candidates_and_names_the_one_that_verifies() {
    let right = generate_secret(32);
    let wrong = generate_secret(32);
    let token = mint(["--secret", &right, "--expires-in", "5m"]);
    let out = run_with(jwtkit().env("OLD_KEY", &wrong).args([
        "doctor",
        "--secret-env",
        "OLD_KEY",
        "--secret",
        &right,
        &token,
    ]))
    .ok()
    .leaks_nothing(&right)
    .leaks_nothing(&wrong);
    // Literal secrets are listed before variables.
    let first = out.stdout.find("secret #1 (the literal secret)");
    let second = out.stdout.find("secret #2 (environment variable OLD_KEY)");
    let matched = out.stdout.find("MATCHES");
    assert!(
        first.is_some() && second.is_some() && matched.is_some(),
        "{}",
        out.stdout
    );
    assert!(
        first < matched && matched < second,
        "the match belongs to secret #1:\n{}",
        out.stdout
    );
}

#[test]
fn doctor_reads_jwt_secret_key_when_no_secret_is_given() {
    let secret = generate_secret(32);
    let token = mint(["--secret", &secret, "--expires-in", "5m"]);
    run_with(
        jwtkit()
            .env("JWT_SECRET_KEY", &secret)
            .args(["doctor", &token]),
    )
    .ok()
    .leaks_nothing(&secret)
    .stdout_has(&["environment variable JWT_SECRET_KEY", "MATCHES"]);
    // Without any secret the signature is not checked, and it says so.
    run(["doctor", &token])
        .ok()
        .stdout_has(&["signature not checked"]);
}

// ---------------------------------------------------------------------------------------------
// doctor: algorithm

#[test]
fn doctor_says_when_the_verifier_expects_another_alg() {
    let secret = generate_secret(64);
    let token = mint(["--secret", &secret, "--expires-in", "5m"]);
    let out = run(["doctor", "--secret", &secret, "--alg", "HS512", &token])
        .exit(1)
        .leaks_nothing(&secret);
    let problem = only_line_with(&out, "PROBLEM");
    assert!(
        problem.contains("signed with HS256") && problem.contains("expects HS512"),
        "{problem}"
    );
}

#[test]
fn doctor_on_an_asymmetric_token_given_a_secret_points_to_key() {
    let dir = tempdir();
    let keys = keygen("RS256", dir.path());
    let token = mint(["--key", s(&keys.private_pem), "--expires-in", "5m"]);
    let secret = generate_secret(32);
    let out = run(["doctor", "--secret", &secret, &token])
        .exit(1)
        .leaks_nothing(&secret);
    let problem = only_line_with(&out, "PROBLEM");
    assert!(
        problem.contains("RS256") && problem.contains("asymmetric") && problem.contains("--key"),
        "{problem}"
    );
    // With the public key it verifies.
    run(["doctor", "--key", s(&keys.public_pem), &token])
        .ok()
        .stdout_has(&["RS256 signature verifies"]);
    // With another key it does not.
    let other = keygen("RS256", &dir.path().join("other"));
    run(["doctor", "--key", s(&other.public_pem), &token])
        .exit(1)
        .stdout_has(&["PROBLEM"]);
}

#[test]
fn doctor_refuses_alg_none() {
    let token = format!(
        "{}.{}.",
        jwtkit_keys::b64::encode(br#"{"alg":"none"}"#),
        jwtkit_keys::b64::encode(br#"{"sub":"admin"}"#)
    );
    let out = run(["doctor", &token]).exit(1);
    let problem = only_line_with(&out, "PROBLEM");
    assert!(problem.contains("none"), "{problem}");
}

// ---------------------------------------------------------------------------------------------
// doctor: times and claims

#[test]
fn doctor_reports_an_expired_token() {
    let key = [4u8; 32];
    let token = craft_hs256(
        &key,
        &json!({"sub": "x", "iat": now() - 10_800, "exp": now() - 7200}),
    );
    let out = run(["doctor", &token]).exit(1);
    let problem = only_line_with(&out, "PROBLEM");
    assert!(
        problem.contains("expired") && problem.contains("2 h ago"),
        "{problem}"
    );
}

#[test]
fn doctor_reports_a_string_exp() {
    let token = craft_hs256(&[4u8; 32], &json!({"sub": "x", "exp": "1999999999"}));
    let out = run(["doctor", &token]).exit(1);
    let problem = only_line_with(&out, "PROBLEM");
    assert!(
        problem.contains("exp is a string") && problem.contains("number"),
        "{problem}"
    );
}

#[test]
fn doctor_names_a_wrongly_cased_camunda_claim() {
    // A standard-base64 secret signed base64-decoded, as the engine reads it, so the only
    // problem left is the claim name.
    let secret = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=".to_owned();
    // snake_case where the engine needs camelCase.
    let token = mint([
        "--secret",
        &secret,
        "--secret-encoding",
        "base64",
        "--sub",
        "demo",
        "--expires-in",
        "1h",
        "--claim",
        "email=demo@camunda.local",
        "--claim",
        "is_active=true",
        "--claim",
        "isSuperuser=true",
        "--claim",
        "isVerified=true",
    ]);
    for profile_args in [vec!["--profile", "camunda"], vec![]] {
        let mut args = vec!["doctor", "--secret", &secret];
        args.extend(&profile_args);
        args.push(&token);
        let out = run(&args).exit(1).leaks_nothing(&secret);
        let problem = only_line_with(&out, "PROBLEM");
        assert!(
            problem.contains("isActive is missing") && problem.contains("`is_active`"),
            "{profile_args:?}: {problem}"
        );
        out.stdout_has(&["isSuperuser present", "MATCHES"]);
    }
}

#[test]
fn doctor_reports_a_missing_camunda_claim_and_a_wrong_type() {
    let key = [4u8; 32];
    let token = craft_hs256(
        &key,
        &json!({
            "sub": "demo", "isActive": "true", "isSuperuser": true, "isVerified": true,
            "iat": now(), "exp": now() + 600,
        }),
    );
    let out = run(["doctor", "--profile", "camunda", &token]).exit(1);
    out.stdout_has(&["email is missing", "isActive is a string"])
        .stdout_has(&["verdict: 2 problem(s) found"]);
}

#[test]
fn doctor_on_a_good_camunda_token_finds_no_problem() {
    let token = mint([
        "--profile",
        "camunda",
        "--secret",
        ENGINE_SECRET,
        "--sub",
        "demo",
    ]);
    let out = run(["doctor", "--secret", ENGINE_SECRET, &token])
        .ok()
        .leaks_nothing(ENGINE_SECRET);
    assert!(
        out.stdout_lines_with("PROBLEM").is_empty(),
        "{}",
        out.stdout
    );
    for claim in [
        "sub",
        "email",
        "isActive",
        "isSuperuser",
        "isVerified",
        "iat",
        "exp",
    ] {
        only_line_with(&out, &format!("ok       {claim} present"));
    }
}

#[test]
fn doctor_of_a_malformed_token_is_invalid_malformed() {
    run(["doctor", "not-a-token"]).invalid("malformed");
}

#[test]
fn doctor_says_the_engine_reads_base64_when_a_camunda_token_was_signed_with_the_raw_text() {
    // The FastAPI proxy signed with the secret's text, the engine base64-decodes it.
    let secret = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=".to_owned();
    let token = mint([
        "--profile",
        "camunda",
        "--secret",
        &secret,
        "--secret-encoding",
        "raw",
        "--sub",
        "demo",
    ]);
    let out = run(["doctor", "--secret", &secret, &token])
        .exit(1)
        .leaks_nothing(&secret);
    let problem = only_line_with(&out, "PROBLEM");
    assert!(
        problem.contains("read as raw") && problem.contains("base64-decodes"),
        "{problem}"
    );
}
