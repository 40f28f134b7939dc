//! No secret and no whole token in anything the CLI prints, on success and failure paths,
//! except the output that is the point of the command (`mint` prints its token, `secret
//! generate` its secret).
//!
//! The CLI has no logger (no `tracing` subscriber, no `RUST_LOG`): everything it says is on
//! stdout and stderr, which are captured whole here. `RUST_LOG=trace` and
//! `JWTKIT_LOG_LEVEL=trace` are set anyway, so a logger added later runs at its most verbose
//! level in this test. Every command's stdout and stderr are searched for each secret in its
//! configured text and raw, base64, base64url and hex forms, for private-key PEM lines and
//! private JWK members, and for every token that was minted or passed (whole, and its signature
//! alone).

mod common;

use std::path::Path;

use common::*;
use jwtkit_keys::b64;
use jwtkit_secret::{Secret, SecretEncoding};
use jwtkit_testsupport::leaks::Needles;
use jwtkit_testsupport::random_bytes;
use serde_json::json;

const RAW_SECRET: &str = "cli-raw-secret-Xy7Q-of-more-than-32-bytes!!";
/// Base64 of the 32 bytes `the-engine-secret-of-32-bytes!!!`.
const ENGINE_SECRET_B64: &str = "dGhlLWVuZ2luZS1zZWNyZXQtb2YtMzItYnl0ZXMhISE=";
const CENTRIFUGO_SECRET: &str = "centrifugo-hmac-secret-Lm4-of-more-than-32-bytes";
const WRONG_SECRET: &str = "a-wrong-secret-but-still-a-secret-J3k9-0123";
const SHORT_SECRET: &str = "short-secret-9f";
const OCT_SECRET: &[u8] = b"an-oct-jwk-secret-of-32-bytes-or-more!!";

/// One command run and what it was allowed to print.
struct Ran {
    label: String,
    run: Run,
    /// Texts that are this command's product (a minted token).
    allowed: Vec<String>,
}

/// Runs `jwtkit ARGS` with `env`, at trace level, and checks the exit code.
fn jwtkit_run(
    label: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
    code: i32,
) -> Run {
    let mut cmd = jwtkit();
    cmd.args(args)
        .env("RUST_LOG", "trace")
        .env("JWTKIT_LOG_LEVEL", "trace")
        .env("RUST_BACKTRACE", "1");
    for (name, value) in env {
        cmd.env(name, value);
    }
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let run = run_with(&mut cmd);
    assert_eq!(
        run.code,
        Some(code),
        "{label}: exit code\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{label}: {}", run.stderr);
    run
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read")
}

#[test]
fn no_secret_or_token_in_any_cli_output_across_success_and_failure_paths() {
    let dir = tempdir();
    let rsa_dir = dir.path().join("rsa");
    let ec_dir = dir.path().join("ec");
    let other_dir = dir.path().join("other");
    for d in [&rsa_dir, &ec_dir, &other_dir] {
        std::fs::create_dir(d).unwrap();
    }
    let rsa = keygen("RS256", &rsa_dir);
    let ec = keygen("ES256", &ec_dir);
    let other = keygen("RS256", &other_dir);
    let rsa_pem = text(&rsa.private_pem);
    let ec_pem = text(&ec.private_pem);
    // A private key with a damaged body line.
    let mut lines: Vec<String> = rsa_pem.lines().map(str::to_owned).collect();
    lines[9] = lines[9].chars().rev().collect();
    let damaged = write_file(dir.path(), "damaged.pem", &lines.join("\n"));
    let secret_file = write_file(
        dir.path(),
        "centrifugo.secret",
        &format!("{CENTRIFUGO_SECRET}\n"),
    );
    // A JWK Set with an `oct` key (its `k` is a secret) and an RSA key with a private `d`.
    let fake_d = b64::encode(&random_bytes(256, 3));
    let mut rsa_jwks: serde_json::Value = serde_json::from_str(&text(&rsa.jwks)).unwrap();
    rsa_jwks["keys"][0]["d"] = json!(fake_d);
    rsa_jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64::encode(OCT_SECRET)}));
    let jwks_file = write_file(dir.path(), "private-jwks.json", &rsa_jwks.to_string());

    let mut needles = Needles::default();
    needles.secret("raw secret", RAW_SECRET, RAW_SECRET.as_bytes());
    let engine_key = Secret::decode(ENGINE_SECRET_B64, SecretEncoding::Base64)
        .unwrap()
        .secret;
    needles.secret(
        "engine secret",
        ENGINE_SECRET_B64,
        engine_key.expose_bytes(),
    );
    needles.secret(
        "Centrifugo secret",
        CENTRIFUGO_SECRET,
        CENTRIFUGO_SECRET.as_bytes(),
    );
    needles.secret("wrong secret", WRONG_SECRET, WRONG_SECRET.as_bytes());
    needles.secret("short secret", SHORT_SECRET, SHORT_SECRET.as_bytes());
    needles.secret("JWK oct secret", &b64::encode(OCT_SECRET), OCT_SECRET);
    needles.add("JWK private d", fake_d.clone());
    needles.private_pem("RSA private key", &rsa_pem, 6);
    needles.private_pem("EC private key", &ec_pem, 0);

    let env_secrets = [
        ("JWT_SECRET_KEY", RAW_SECRET),
        ("ENGINE_JWT_SECRET", ENGINE_SECRET_B64),
        ("JWT_SECRET", WRONG_SECRET),
        ("CENTRIFUGO_SECRET", CENTRIFUGO_SECRET),
    ];
    let mut ran: Vec<Ran> = Vec::new();

    // Minting: stdout is the token (allowed there only).
    let mint = |label: &str, args: &[&str], needles: &mut Needles, ran: &mut Vec<Ran>| {
        let mut all = vec!["mint"];
        all.extend_from_slice(args);
        let run = jwtkit_run(label, &all, &env_secrets, None, 0);
        let token = if args.contains(&"--json") {
            let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
            value["token"].as_str().expect("token").to_owned()
        } else {
            run.stdout.trim().to_owned()
        };
        assert_eq!(token.split('.').count(), 3, "{label}: {token}");
        needles.token(label, &token);
        let signature = token.rsplit('.').next().unwrap().to_owned();
        ran.push(Ran {
            label: label.to_owned(),
            run,
            allowed: vec![token.clone(), signature],
        });
        token
    };
    let generic = mint(
        "mint, literal secret",
        &[
            "--secret",
            RAW_SECRET,
            "--sub",
            "alice",
            "--expires-in",
            "1h",
        ],
        &mut needles,
        &mut ran,
    );
    let from_env = mint(
        "mint --json, default variable",
        &["--sub", "bob", "--expires-in", "1h", "--json"],
        &mut needles,
        &mut ran,
    );
    let camunda = mint(
        "mint camunda",
        &["--profile", "camunda", "--sub", "demo"],
        &mut needles,
        &mut ran,
    );
    let centrifugo = mint(
        "mint centrifugo",
        &[
            "--profile",
            "centrifugo",
            "--sub",
            "agent-1",
            "--channel",
            "agents.t.agent-1",
            "--secret-file",
            s(&secret_file),
        ],
        &mut needles,
        &mut ran,
    );
    let centrifugo_sub = mint(
        "mint centrifugo-sub",
        &[
            "--profile",
            "centrifugo-sub",
            "--sub",
            "agent-1",
            "--channel",
            "agents.t.agent-1",
            "--secret-env",
            "CENTRIFUGO_SECRET",
        ],
        &mut needles,
        &mut ran,
    );
    let rs256 = mint(
        "mint RS256",
        &[
            "--key",
            s(&rsa.private_pem),
            "--sub",
            "carol",
            "--expires-in",
            "1h",
        ],
        &mut needles,
        &mut ran,
    );
    let es256 = mint(
        "mint ES256",
        &[
            "--key",
            s(&ec.private_pem),
            "--sub",
            "dave",
            "--expires-in",
            "1h",
        ],
        &mut needles,
        &mut ran,
    );
    let expired = craft_hs256(
        RAW_SECRET.as_bytes(),
        &json!({"sub": "old", "iat": now() - 7200, "exp": now() - 3600}),
    );
    needles.token("expired token", &expired);
    // Another last character of the signature (never the same one, or the "forgery" is valid).
    let last = if generic.ends_with('A') { 'Q' } else { 'A' };
    let forged = format!("{}{last}", &generic[..generic.len() - 1]);
    needles.token("forged token", &forged);
    let oversized = format!(
        "{}.{}.{}",
        b64::encode(br#"{"alg":"HS256"}"#),
        b64::encode(&random_bytes(20_000, 9)),
        b64::encode(&random_bytes(32, 10))
    );
    needles.token("oversized token", &oversized);

    // Everything else: (label, args, stdin, exit code).
    let bearer_stdin = format!("Bearer {generic}\n");
    let cases: Vec<(&str, Vec<&str>, Option<&str>, i32)> = vec![
        // mint failures
        (
            "mint, short secret",
            vec!["mint", "--secret", SHORT_SECRET],
            None,
            1,
        ),
        (
            "mint camunda, secret not base64",
            vec!["mint", "--profile", "camunda", "--secret", RAW_SECRET],
            None,
            1,
        ),
        (
            "mint, secret not hex",
            vec!["mint", "--secret", RAW_SECRET, "--secret-encoding", "hex"],
            None,
            1,
        ),
        (
            "mint, secret not base64",
            vec![
                "mint",
                "--secret",
                WRONG_SECRET,
                "--secret-encoding",
                "base64",
            ],
            None,
            1,
        ),
        (
            "mint HS512, secret too short",
            vec!["mint", "--alg", "HS512", "--secret", RAW_SECRET],
            None,
            1,
        ),
        (
            "mint, damaged private key",
            vec!["mint", "--key", s(&damaged)],
            None,
            1,
        ),
        // verify
        ("verify", vec!["verify", &generic], None, 0),
        (
            "verify --json",
            vec!["verify", "--json", &from_env],
            None,
            0,
        ),
        (
            "verify, token on stdin",
            vec!["verify"],
            Some(&bearer_stdin),
            0,
        ),
        (
            "verify, wrong secret",
            vec!["verify", &generic, "--secret", WRONG_SECRET],
            None,
            1,
        ),
        (
            "verify --json, wrong secret",
            vec!["verify", "--json", &generic, "--secret-env", "JWT_SECRET"],
            None,
            1,
        ),
        ("verify, forged", vec!["verify", &forged], None, 1),
        ("verify, expired", vec!["verify", &expired], None, 1),
        ("verify, oversized", vec!["verify", &oversized], None, 1),
        (
            "verify, the secret as a token",
            vec!["verify", RAW_SECRET],
            None,
            1,
        ),
        (
            "verify, the engine secret as a token",
            vec!["verify", ENGINE_SECRET_B64],
            None,
            1,
        ),
        (
            "verify camunda",
            vec![
                "verify",
                &camunda,
                "--secret-env",
                "ENGINE_JWT_SECRET",
                "--secret-encoding",
                "base64",
            ],
            None,
            0,
        ),
        (
            "verify camunda, raw reading",
            vec!["verify", &camunda, "--secret-env", "ENGINE_JWT_SECRET"],
            None,
            1,
        ),
        (
            "verify centrifugo",
            vec!["verify", &centrifugo, "--secret-file", s(&secret_file)],
            None,
            0,
        ),
        (
            "verify centrifugo-sub, wrong secret",
            vec!["verify", &centrifugo_sub],
            None,
            1,
        ),
        (
            "verify RS256, private key",
            vec!["verify", &rs256, "--key", s(&rsa.private_pem)],
            None,
            0,
        ),
        (
            "verify RS256, other key",
            vec!["verify", &rs256, "--key", s(&other.public_pem)],
            None,
            1,
        ),
        (
            "verify RS256, private JWK Set",
            vec!["verify", &rs256, "--jwks-file", s(&jwks_file)],
            None,
            0,
        ),
        (
            "verify ES256, private JWK Set",
            vec!["verify", &es256, "--jwks-file", s(&jwks_file)],
            None,
            1,
        ),
        (
            "verify, damaged private key",
            vec!["verify", &rs256, "--key", s(&damaged)],
            None,
            1,
        ),
        // decode
        ("decode", vec!["decode", &generic], None, 0),
        ("decode --json", vec!["decode", "--json", &camunda], None, 0),
        ("decode, oversized", vec!["decode", &oversized], None, 0),
        (
            "decode, the secret as a token",
            vec!["decode", RAW_SECRET],
            None,
            1,
        ),
        // doctor: every default variable is set
        ("doctor", vec!["doctor", &generic], None, 0),
        ("doctor camunda", vec!["doctor", &camunda], None, 0),
        (
            "doctor, wrong candidates",
            vec![
                "doctor",
                &centrifugo,
                "--secret",
                WRONG_SECRET,
                "--secret-env",
                "JWT_SECRET_KEY",
            ],
            None,
            1,
        ),
        (
            "doctor RS256",
            vec!["doctor", &rs256, "--key", s(&rsa.public_pem)],
            None,
            0,
        ),
        ("doctor expired", vec!["doctor", &expired], None, 1),
        // secret fingerprint
        ("fingerprint", vec!["secret", "fingerprint"], None, 0),
        (
            "fingerprint base64",
            vec![
                "secret",
                "fingerprint",
                "--secret-env",
                "ENGINE_JWT_SECRET",
                "--secret-encoding",
                "base64",
            ],
            None,
            0,
        ),
        (
            "fingerprint auto",
            vec![
                "secret",
                "fingerprint",
                "--secret",
                ENGINE_SECRET_B64,
                "--secret-encoding",
                "auto",
            ],
            None,
            0,
        ),
        (
            "fingerprint --json",
            vec![
                "secret",
                "fingerprint",
                "--json",
                "--secret-file",
                s(&secret_file),
            ],
            None,
            0,
        ),
        (
            "fingerprint, not hex",
            vec![
                "secret",
                "fingerprint",
                "--secret",
                RAW_SECRET,
                "--secret-encoding",
                "hex",
            ],
            None,
            1,
        ),
    ];
    for (label, args, stdin, code) in &cases {
        let run = jwtkit_run(label, args, &env_secrets, *stdin, *code);
        ran.push(Ran {
            label: (*label).to_owned(),
            run,
            allowed: Vec::new(),
        });
    }
    // keygen into a directory: the private key goes to the file only.
    let keygen_dir = dir.path().join("keygen");
    std::fs::create_dir(&keygen_dir).unwrap();
    let run = jwtkit_run(
        "keygen --out",
        &["keygen", "--alg", "ES256", "--out", s(&keygen_dir)],
        &[],
        None,
        0,
    );
    let written = text(&keygen_dir.join("private.pem"));
    needles.private_pem("keygen private key", &written, 0);
    ran.push(Ran {
        label: "keygen --out".into(),
        run,
        allowed: Vec::new(),
    });

    assert!(ran.len() > 40, "{} runs", ran.len());
    for entry in &ran {
        let allowed: Vec<&str> = entry.allowed.iter().map(String::as_str).collect();
        needles.assert_absent(
            &format!("stdout of {:?}", entry.label),
            &entry.run.stdout,
            &allowed,
        );
        needles.assert_absent(
            &format!("stderr of {:?}", entry.label),
            &entry.run.stderr,
            &[],
        );
    }
}
