//! The `token` fuzz target's committed inputs, replayed through its harness
//! (`fuzz/harness/token.rs`) in the normal test suite: the seed corpus. (No input has failed
//! this target yet: its regression replay is added with the first file under
//! `fuzz/regressions/token/`, see that folder's README.)

#[path = "../../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../../fuzz/harness/token.rs"]
mod token;

use serde_json::json;

#[test]
fn token_seed_corpus_replays() {
    let count = replay::replay("corpus", "token", token::run);
    assert!(count >= 10, "only {count} seeds under fuzz/corpus/token");
}

#[test]
fn the_harness_signs_tokens_the_strict_policy_accepts() {
    // The seeds are only useful if a signed token reaches the claim checks and passes them.
    let claims = seed_claims();
    for key in token::signers() {
        let token = token::sign(key, &token::jwt_header(key), claims.to_string().as_bytes());
        let strict = jwtkit_verify::Validator::new(
            vec![key.verifying_key().unwrap()],
            token::policies()[1].clone(),
        );
        let validated = strict.validate_at(&token, token::NOW).unwrap();
        assert_eq!(validated.claims["sub"], "fuzz-user");
        token::run(&[[0].as_slice(), token.as_bytes()].concat());
    }
}

fn seed_claims() -> serde_json::Value {
    json!({
        "iss": token::ISS,
        "sub": "fuzz-user",
        "aud": [token::AUD, "other"],
        "azp": "https://app.fuzz.example",
        "iat": token::NOW - 10,
        "nbf": token::NOW - 10,
        "exp": token::NOW + 3600,
        "email": "fuzz@example.com",
    })
}

/// Writes the seed corpus: `cargo test -p jwtkit-verify --test fuzz_regressions -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/token; run by hand when the input layout changes"]
fn write_token_seed_corpus() {
    let claims = seed_claims().to_string();
    let names = ["hs256", "rs256", "es256", "eddsa"];
    for (index, key) in token::signers().iter().enumerate() {
        let name = names[index];
        let valid = token::sign(key, &token::jwt_header(key), claims.as_bytes());
        replay::write_seed(
            "token",
            &format!("raw-valid-{name}"),
            &[b"\x00", valid.as_bytes()].concat(),
        );
        let mode = |m: u8| m | (index as u8) << 2;
        let header = format!(
            r#"{{"alg":"{}","kid":"k1","typ":"JWT","x5u":"https://evil.example"}}"#,
            key.algorithm().name()
        );
        replay::write_seed(
            "token",
            &format!("signed-header-{name}"),
            &[&[mode(1)], header.as_bytes(), b"\xff", claims.as_bytes()].concat(),
        );
        replay::write_seed(
            "token",
            &format!("signed-claims-{name}"),
            &[&[mode(2)], claims.as_bytes()].concat(),
        );
    }
    let odd_claims = json!({
        "iss": token::ISS, "sub": 7, "aud": {"a": 1}, "exp": 1.7e9, "nbf": "soon", "iat": -1,
        "deep": [[[[{"x": null}]]]], "u": "\u{e9}\u{1F600}",
    });
    replay::write_seed(
        "token",
        "signed-odd-claims",
        &[b"\x02", odd_claims.to_string().as_bytes()].concat(),
    );
    replay::write_seed("token", "untrusted", &[b"\x03", claims.as_bytes()].concat());
    replay::write_seed(
        "token",
        "header-crit",
        &[
            b"\x01",
            br#"{"alg":"HS256","crit":["exp"]}"#.as_slice(),
            b"\xff{}",
        ]
        .concat(),
    );
    replay::write_seed(
        "token",
        "alg-none",
        b"\x00eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    );
    let vectors = jwtkit_testsupport::read_json(
        &jwtkit_testsupport::vectors_dir().join("rfc7515-rfc8037.json"),
    );
    for vector in vectors["vectors"].as_array().unwrap() {
        let name = vector["name"].as_str().unwrap();
        let compact = vector["compact"].as_str().unwrap();
        replay::write_seed(
            "token",
            &format!("vector-{name}"),
            &[b"\x00", compact.as_bytes()].concat(),
        );
    }
}
