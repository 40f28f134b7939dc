//! `jwtkit keygen` (PEM files, 0600 private key, JWKS with an RFC 7638 kid, no silent
//! overwrite) and `jwtkit secret generate|fingerprint` through the real binary.

mod common;

use common::*;
use jwtkit_keys::{Jwk, b64};
use serde_json::Value;

const ASYMMETRIC: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------------------------------------
// keygen

#[test]
fn keygen_writes_private_public_and_jwks_files() {
    let dir = tempdir();
    let keys = keygen("ES256", dir.path());
    let private = read(&keys.private_pem);
    let public = read(&keys.public_pem);
    assert!(
        private.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{private}"
    );
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    let jwks: Value = serde_json::from_str(&read(&keys.jwks)).expect("jwks.json is JSON");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1), "{jwks}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["jwks.json", "private.pem", "public.pem"],
        "no temporary files left"
    );
}

#[cfg(unix)]
#[test]
fn keygen_private_key_is_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let keys = keygen("EdDSA", dir.path());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // Whatever the umask the test runs under (usually 022), the private key is 0600.
    assert_eq!(mode(&keys.private_pem), 0o600);
    // Replacing it with --force keeps the mode.
    run([
        "keygen",
        "--alg",
        "EdDSA",
        "--out",
        s(dir.path()),
        "--force",
    ])
    .ok();
    assert_eq!(mode(&keys.private_pem), 0o600);
}

#[test]
fn keygen_jwks_is_public_with_alg_use_and_thumbprint_kid() {
    let dir = tempdir();
    for alg in ASYMMETRIC {
        let keys = keygen(alg, &dir.path().join(alg));
        let text = read(&keys.jwks);
        let jwks: Value = serde_json::from_str(&text).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["alg"], alg, "{alg}");
        assert_eq!(key["use"], "sig", "{alg}");
        for private_member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                key.get(private_member).is_none(),
                "{alg}: the JWKS leaks `{private_member}`"
            );
        }
        let kty = key["kty"].as_str().unwrap();
        let expected_kty = match alg {
            "EdDSA" => "OKP",
            a if a.starts_with("ES") => "EC",
            _ => "RSA",
        };
        assert_eq!(kty, expected_kty, "{alg}");
        // kid = RFC 7638 thumbprint: SHA-256 (32 bytes) in unpadded base64url is 43 characters.
        assert_eq!(keys.kid.len(), 43, "{alg}: {}", keys.kid);
        assert!(is_base64url(&keys.kid), "{alg}: {}", keys.kid);
        let jwk: Jwk = serde_json::from_value(key.clone()).unwrap();
        assert_eq!(keys.kid, jwk.thumbprint().unwrap(), "{alg}");
    }
}

#[test]
fn keygen_kids_differ_between_keys() {
    let dir = tempdir();
    let a = keygen("ES256", &dir.path().join("a"));
    let b = keygen("ES256", &dir.path().join("b"));
    assert_ne!(a.kid, b.kid);
}

#[test]
fn keygen_rsa_bits_sets_the_modulus_size() {
    let dir = tempdir();
    run([
        "keygen",
        "--alg",
        "RS256",
        "--bits",
        "3072",
        "--out",
        s(dir.path()),
    ])
    .ok();
    let jwks: Value = serde_json::from_str(&read(&dir.path().join("jwks.json"))).unwrap();
    let n = b64::decode(jwks["keys"][0]["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len() * 8, 3072);
    let small = tempdir();
    // Like a weak secret, a weak key is refused with exit 1.
    run([
        "keygen",
        "--alg",
        "RS256",
        "--bits",
        "1024",
        "--out",
        s(small.path()),
    ])
    .exit(1)
    .stderr_has(&["2048"]);
    assert!(!small.path().join("private.pem").exists());
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let dir = tempdir();
    let first = keygen("ES256", dir.path());
    let before: Vec<String> = [&first.private_pem, &first.public_pem, &first.jwks]
        .map(|p| read(p))
        .to_vec();
    run(["keygen", "--alg", "ES256", "--out", s(dir.path())])
        .exit(1)
        .stderr_has(&["--force", "exists"]);
    let after: Vec<String> = [&first.private_pem, &first.public_pem, &first.jwks]
        .map(|p| read(p))
        .to_vec();
    assert_eq!(before, after, "the existing key pair is untouched");

    run([
        "keygen",
        "--alg",
        "ES256",
        "--out",
        s(dir.path()),
        "--force",
    ])
    .ok();
    let replaced = read(&first.private_pem);
    assert_ne!(replaced, before[0], "--force replaces the key");
    let jwks: Value = serde_json::from_str(&read(&first.jwks)).unwrap();
    assert_ne!(jwks["keys"][0]["kid"], first.kid.as_str());
}

#[test]
fn keygen_refuses_when_any_one_of_its_files_exists() {
    let dir = tempdir();
    write_file(dir.path(), "jwks.json", "{\"keys\": []}\n");
    run(["keygen", "--alg", "EdDSA", "--out", s(dir.path())])
        .exit(1)
        .stderr_has(&["jwks.json"]);
    assert_eq!(read(&dir.path().join("jwks.json")), "{\"keys\": []}\n");
    assert!(
        !dir.path().join("private.pem").exists(),
        "no partial key pair"
    );
}

#[test]
fn keygen_creates_the_output_directory() {
    let dir = tempdir();
    let nested = dir.path().join("a/b/c");
    keygen("EdDSA", &nested);
    assert!(nested.join("private.pem").is_file());
}

#[test]
fn keygen_argument_errors_exit_2() {
    let dir = tempdir();
    run(["keygen", "--alg", "HS256", "--out", s(dir.path())])
        .exit(2)
        .stderr_has(&["secret generate"]);
    run(["keygen", "--alg", "none"]).exit(2);
    run(["keygen", "--alg", "RS999"]).exit(2);
    run(["keygen"]).exit(2);
    run(["keygen", "--alg", "ES256", "--force"]).exit(2);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn keygen_without_out_prints_the_pair_and_jwks() {
    let out = run(["keygen", "--alg", "EdDSA"]).ok();
    out.stdout_has(&[
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN PUBLIC KEY-----",
        "\"keys\"",
    ]);
}

// ---------------------------------------------------------------------------------------------
// secret generate

#[test]
fn secret_generate_defaults_to_32_random_bytes_in_base64url() {
    let a = run(["secret", "generate"]).ok();
    assert!(a.stderr.is_empty(), "{}", a.stderr);
    let a = a.line();
    assert_eq!(a.len(), 43, "32 bytes unpadded base64url: {a}");
    assert!(is_base64url(&a), "{a}");
    assert_eq!(b64::decode(&a).unwrap().len(), 32);
    let b = run(["secret", "generate"]).ok().line();
    assert_ne!(a, b, "two secrets differ");
}

#[test]
fn secret_generate_bytes_and_encodings() {
    for (bytes, encoding, len) in [
        ("48", "hex", 96),
        ("64", "hex", 128),
        ("48", "base64", 64),
        ("64", "base64", 88),
        ("64", "base64url", 86),
        ("1024", "base64url", 1366),
    ] {
        let text = run([
            "secret",
            "generate",
            "--bytes",
            bytes,
            "--encoding",
            encoding,
        ])
        .ok()
        .line();
        assert_eq!(text.len(), len, "{bytes} bytes as {encoding}: {text}");
        let valid = match encoding {
            "hex" => text.bytes().all(|b| b.is_ascii_hexdigit()),
            "base64" => text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
            _ => is_base64url(&text),
        };
        assert!(valid, "{encoding}: {text}");
        // The CLI reads it back as that many bytes.
        let doc = run([
            "secret",
            "fingerprint",
            "--json",
            "--secret",
            &text,
            "--secret-encoding",
            encoding,
        ])
        .ok()
        .json();
        assert_eq!(doc["bytes"].to_string(), bytes, "{encoding}");
    }
}

#[test]
fn secret_generate_refuses_fewer_than_32_bytes() {
    for bytes in ["16", "31", "0", "-1", "lots"] {
        let out = run(["secret", "generate", "--bytes", bytes]).exit(2);
        assert!(out.stdout.is_empty(), "no secret printed: {}", out.stdout);
    }
    run(["secret", "generate", "--bytes", "1025"]).exit(2);
}

#[test]
fn secret_generate_refuses_text_encodings_that_are_not_encodings() {
    for encoding in ["raw", "auto", "base32"] {
        let out = run(["secret", "generate", "--encoding", encoding]).exit(2);
        assert!(out.stdout.is_empty(), "{encoding}: {}", out.stdout);
    }
}

#[test]
fn secret_generate_json_carries_the_fingerprint_of_the_secret() {
    let doc = run(["secret", "generate", "--json", "--bytes", "48"])
        .ok()
        .json();
    assert_eq!(doc["bytes"], 48);
    assert_eq!(doc["encoding"], "base64url");
    let secret = doc["secret"].as_str().unwrap();
    let fingerprint = run([
        "secret",
        "fingerprint",
        "--json",
        "--secret",
        secret,
        "--secret-encoding",
        "base64url",
    ])
    .ok()
    .json()["fingerprint"]
        .clone();
    assert_eq!(doc["fingerprint"], fingerprint);
}

// ---------------------------------------------------------------------------------------------
// secret fingerprint

#[test]
fn fingerprint_depends_on_the_key_bytes_not_their_text_encoding() {
    // The same 8 bytes as base64 and as hex.
    let as_base64 = run([
        "secret",
        "fingerprint",
        "--secret",
        "AP8A/xI0Vng=",
        "--secret-encoding",
        "base64",
    ])
    .ok()
    .leaks_nothing("AP8A/xI0Vng=");
    let as_hex = run([
        "secret",
        "fingerprint",
        "--secret",
        "00ff00ff12345678",
        "--secret-encoding",
        "hex",
    ])
    .ok()
    .leaks_nothing("00ff00ff12345678");
    let fp = |out: &Run| out.stdout.split_whitespace().next().unwrap().to_owned();
    assert_eq!(fp(&as_base64), fp(&as_hex));
    let shape = fp(&as_hex);
    assert!(
        shape.len() == 7 + 16
            && shape.starts_with("sha256:")
            && shape[7..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{shape}"
    );
    as_hex.stdout_has(&["8 bytes", "read as hex"]);
}

#[test]
fn fingerprint_of_the_raw_and_base64_readings_of_one_text_differ() {
    let text = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";
    let raw = run(["secret", "fingerprint", "--json", "--secret", text])
        .ok()
        .leaks_nothing(text)
        .json();
    let decoded = run([
        "secret",
        "fingerprint",
        "--json",
        "--secret",
        text,
        "--secret-encoding",
        "base64",
    ])
    .ok()
    .leaks_nothing(text)
    .json();
    assert_eq!(raw["bytes"], 44);
    assert_eq!(raw["encoding"], "raw");
    assert_eq!(decoded["bytes"], 32);
    assert_eq!(decoded["encoding"], "base64");
    assert_ne!(raw["fingerprint"], decoded["fingerprint"]);
}

#[test]
fn fingerprint_matches_the_key_fingerprint_of_mint() {
    let secret = generate_secret(32);
    let minted = run(["mint", "--json", "--secret", &secret]).ok().json();
    let fingerprint = run(["secret", "fingerprint", "--json", "--secret", &secret])
        .ok()
        .json();
    assert_eq!(minted["key_fingerprint"], fingerprint["fingerprint"]);
}

#[test]
fn fingerprint_reads_jwt_secret_key_and_fails_without_a_secret() {
    let secret = generate_secret(32);
    let from_env = run_with(
        jwtkit()
            .env("JWT_SECRET_KEY", &secret)
            .args(["secret", "fingerprint"]),
    )
    .ok()
    .leaks_nothing(&secret)
    .line();
    let from_flag = run(["secret", "fingerprint", "--secret", &secret])
        .ok()
        .line();
    assert_eq!(from_env, from_flag);
    run(["secret", "fingerprint"])
        .exit(1)
        .stderr_has(&["JWT_SECRET_KEY"]);
}

#[test]
fn fingerprint_of_invalid_encoded_text_fails_without_echo() {
    let text = "not-hex-at-all-but-secret";
    run([
        "secret",
        "fingerprint",
        "--secret",
        text,
        "--secret-encoding",
        "hex",
    ])
    .exit(1)
    .stderr_has(&["hex"])
    .leaks_nothing(text);
}
