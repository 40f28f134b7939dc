//! The `jwk` fuzz target's committed inputs, replayed through its harness
//! (`fuzz/harness/jwk.rs`) in the normal test suite: the seed corpus and every regression input
//! under `fuzz/regressions/jwk/`.

#[path = "../../../fuzz/harness/jwk.rs"]
mod jwk;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn jwk_seed_corpus_replays() {
    let count = replay::replay("corpus", "jwk", jwk::run);
    assert!(count >= 10, "only {count} seeds under fuzz/corpus/jwk");
}

#[test]
fn jwk_regressions_replay() {
    replay::replay("regressions", "jwk", jwk::run);
}

/// Writes the seed corpus: `cargo test -p jwtkit-keys --test fuzz_regressions -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/jwk; run by hand when the input layout changes"]
fn write_jwk_seed_corpus() {
    use base64::Engine as _;
    use jwtkit_keys::{Algorithm, keygen};

    let fuzz = replay::fuzz_dir();
    let vectors = fuzz.join("../testing/vectors");
    let seed = |name: &str, mode: u8, data: &[u8]| {
        replay::write_seed("jwk", name, &[&[mode], data].concat());
    };
    let mut all_keys = Vec::new();
    for name in ["rs256", "es256", "eddsa"] {
        let set = std::fs::read(fuzz.join(format!("keys/{name}.jwks.json"))).unwrap();
        seed(&format!("set-{name}"), 0, &set);
        let value: serde_json::Value = serde_json::from_slice(&set).unwrap();
        let key = &value["keys"][0];
        seed(&format!("jwk-public-{name}"), 1, key.to_string().as_bytes());
        all_keys.push(key.clone());
        let pem = std::fs::read(fuzz.join(format!("keys/{name}.pem"))).unwrap();
        seed(&format!("pem-private-{name}"), 2, &pem);
    }
    for file in [
        "4_1.rsa_v15_signature.json",
        "4_3.ecdsa_signature.json",
        "4_4.hmac-sha2_integrity_protection.json",
    ] {
        let text = std::fs::read_to_string(vectors.join("rfc7520").join(file)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let key = &value["input"]["key"];
        seed(
            &format!("jwk-rfc7520-{}", &file[..3]),
            1,
            key.to_string().as_bytes(),
        );
        all_keys.push(key.clone());
    }
    all_keys.push(serde_json::json!({"kty": "XYZ", "kid": "future"}));
    all_keys.push(serde_json::json!({"kty": "RSA", "kid": "tiny", "n": "AQAB", "e": "AQAB"}));
    seed(
        "set-mixed",
        0,
        serde_json::json!({ "keys": all_keys })
            .to_string()
            .as_bytes(),
    );
    for (name, alg) in [
        ("es384", Algorithm::ES384),
        ("es512", Algorithm::ES512),
        ("ed25519", Algorithm::EdDSA),
    ] {
        let pair = keygen::generate(alg, 2048).unwrap();
        seed(&format!("pem-public-{name}"), 2, pair.public_pem.as_bytes());
        let der = pem_body(&pair.public_pem);
        seed(&format!("der-public-{name}"), 3, &der);
    }
    let rsa = keygen::generate(Algorithm::RS256, 2048).unwrap();
    seed("der-public-rsa", 3, &pem_body(&rsa.public_pem));
    seed("b64url-text", 3, b"eyJhbGciOiJIUzI1NiJ9");

    fn pem_body(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}
