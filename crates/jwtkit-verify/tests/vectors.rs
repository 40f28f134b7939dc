//! Published test vectors (RFC 7515 A.1, RFC 8037 A.4, RFC 7520 §4) through the validator.
//!
//! The vectors are kept in `testing/vectors` (with their licence note); a missing file is a
//! failure, not a skip.

use std::path::PathBuf;

use jwtkit_keys::{Algorithm, Jwk, SigningKey, VerifyingKey, b64};
use jwtkit_verify::{Policy, Validator};
use serde_json::Value;

use jwtkit_testsupport::{read_json, vectors_dir};

fn jwk_of(value: &Value) -> Jwk {
    serde_json::from_value(value.clone()).expect("vector key is a JWK")
}

/// The key a verifier would hold: the public half of an asymmetric key, the JWK itself for `oct`.
fn verifying_key(jwk: &Jwk) -> VerifyingKey {
    if jwk.kty == "oct" {
        VerifyingKey::from_jwk(jwk).expect("oct JWK loads")
    } else {
        VerifyingKey::from_jwk(&jwk.to_public()).expect("public JWK loads")
    }
}

fn validator(jwk: &Jwk) -> Validator {
    Validator::new(vec![verifying_key(jwk)], Policy::default())
}

/// One RFC 7520 §4 signature example.
struct Cookbook {
    file: String,
    alg: Algorithm,
    key: Jwk,
    payload: String,
    compact: String,
    reproducible: bool,
}

fn rfc7520_vectors() -> Vec<Cookbook> {
    let dir = vectors_dir().join("rfc7520");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name.starts_with("4_") && name.ends_with(".json")
        })
        .collect();
    files.sort();
    let vectors: Vec<Cookbook> = files
        .iter()
        .map(|path| {
            let doc = read_json(path);
            let text = |pointer: &str| {
                doc.pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{}: no string at {pointer}", path.display()))
                    .to_owned()
            };
            Cookbook {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                alg: text("/input/alg").parse().expect("known algorithm"),
                key: jwk_of(&doc["input"]["key"]),
                payload: text("/input/payload"),
                compact: text("/output/compact"),
                reproducible: doc["reproducible"].as_bool().unwrap_or(false),
            }
        })
        .collect();
    let algs: Vec<Algorithm> = vectors.iter().map(|v| v.alg).collect();
    assert_eq!(
        algs,
        [
            Algorithm::RS256,
            Algorithm::PS384,
            Algorithm::ES512,
            Algorithm::HS256
        ],
        "the RFC 7520 section 4 signature examples"
    );
    vectors
}

fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().expect("three segments")
}

#[test]
fn rfc7515_and_rfc8037_vectors_verify_and_the_tampered_one_fails() {
    let doc = read_json(&vectors_dir().join("rfc7515-rfc8037.json"));
    let vectors = doc["vectors"].as_array().expect("a vectors array");
    assert!(vectors.len() >= 3, "expected at least 3 vectors");
    let mut invalid_seen = 0;
    for vector in vectors {
        let name = vector["name"].as_str().expect("name");
        let compact = vector["compact"].as_str().expect("compact");
        let jwk = jwk_of(&vector["jwk"]);
        let result = validator(&jwk).verify_signature(compact);
        if vector["valid"].as_bool().expect("valid flag") {
            let verified = result.unwrap_or_else(|err| panic!("{name}: {err}"));
            if let Some(text) = vector["payload_text"].as_str() {
                assert_eq!(verified.payload, text.as_bytes(), "{name}");
            }
            if let Some(claims) = vector.get("payload_json") {
                let decoded: Value = serde_json::from_slice(&verified.payload).unwrap();
                assert_eq!(&decoded, claims, "{name}");
            }
        } else {
            invalid_seen += 1;
            assert_eq!(
                result.map(|_| ()).unwrap_err().code(),
                "bad_signature",
                "{name}"
            );
        }
    }
    assert_eq!(invalid_seen, 1, "exactly one `valid: false` vector");
}

#[test]
fn vectors_also_verify_with_the_jwk_as_given_private_members_included() {
    let doc = read_json(&vectors_dir().join("rfc7515-rfc8037.json"));
    for vector in doc["vectors"].as_array().unwrap() {
        let jwk = jwk_of(&vector["jwk"]);
        let key = VerifyingKey::from_jwk(&jwk).expect("JWK loads");
        let result = Validator::new(vec![key], Policy::default())
            .verify_signature(vector["compact"].as_str().unwrap());
        assert_eq!(
            result.is_ok(),
            vector["valid"].as_bool().unwrap(),
            "{}",
            vector["name"]
        );
    }
    for vector in rfc7520_vectors() {
        // from_jwk ignores d/p/q/...: the private JWK works as a verification key too.
        let key = VerifyingKey::from_jwk(&vector.key).expect("private JWK loads as verifier");
        Validator::new(vec![key], Policy::default())
            .verify_signature(&vector.compact)
            .unwrap_or_else(|err| panic!("{}: {err}", vector.file));
    }
}

#[test]
fn rfc7520_vectors_verify_with_the_public_key() {
    for vector in rfc7520_vectors() {
        let verified = validator(&vector.key)
            .verify_signature(&vector.compact)
            .unwrap_or_else(|err| panic!("{}: {err}", vector.file));
        assert_eq!(verified.header.alg, vector.alg, "{}", vector.file);
        assert_eq!(
            verified.header.kid.as_deref(),
            vector.key.kid.as_deref(),
            "{}",
            vector.file
        );
        assert_eq!(
            verified.payload,
            vector.payload.as_bytes(),
            "{}",
            vector.file
        );
    }
}

#[test]
fn rfc7520_vectors_are_refused_under_an_allow_list_without_their_alg() {
    for vector in rfc7520_vectors() {
        let others: Vec<Algorithm> = Algorithm::ALL
            .into_iter()
            .filter(|a| *a != vector.alg)
            .collect();
        let policy = Policy {
            algorithms: others,
            ..Policy::default()
        };
        let err = Validator::new(vec![verifying_key(&vector.key)], policy)
            .verify_signature(&vector.compact)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.code(), "alg_not_allowed", "{}", vector.file);
    }
}

/// Every single-bit change of the decoded signature or payload is a bad signature.
#[test]
fn rfc7520_one_bit_flips_in_signature_or_payload_are_rejected() {
    for vector in rfc7520_vectors() {
        let validator = validator(&vector.key);
        let [header, payload, signature] = segments(&vector.compact);
        let payload_bytes = b64::decode(payload).unwrap();
        let signature_bytes = b64::decode(signature).unwrap();
        let mut checked = 0;
        for byte in 0..signature_bytes.len() {
            for bit in 0..8 {
                let mut changed = signature_bytes.clone();
                changed[byte] ^= 1 << bit;
                let token = format!("{header}.{payload}.{}", b64::encode(&changed));
                let result = validator.verify_signature(&token);
                assert_eq!(
                    result.map(|_| ()).map_err(|e| e.code()),
                    Err("bad_signature"),
                    "{}: signature byte {byte} bit {bit} flipped",
                    vector.file
                );
                checked += 1;
            }
        }
        for byte in 0..payload_bytes.len() {
            for bit in 0..8 {
                let mut changed = payload_bytes.clone();
                changed[byte] ^= 1 << bit;
                let token = format!("{header}.{}.{signature}", b64::encode(&changed));
                let result = validator.verify_signature(&token);
                assert_eq!(
                    result.map(|_| ()).map_err(|e| e.code()),
                    Err("bad_signature"),
                    "{}: payload byte {byte} bit {bit} flipped",
                    vector.file
                );
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            8 * (signature_bytes.len() + payload_bytes.len()),
            "{}",
            vector.file
        );
    }
}

/// Every single-bit change of the encoded signature or payload text is rejected, whatever the
/// reason (bad signature, not base64url, stray bits, an extra `.`).
#[test]
fn rfc7520_one_bit_flips_in_the_encoded_segments_are_rejected() {
    for vector in rfc7520_vectors() {
        let validator = validator(&vector.key);
        let header_len = segments(&vector.compact)[0].len();
        let bytes = vector.compact.as_bytes();
        // Everything after the header's dot: payload, the separating dot, signature.
        for index in header_len + 1..bytes.len() {
            for bit in 0..8 {
                let mut changed = bytes.to_vec();
                changed[index] ^= 1 << bit;
                // A flip that leaves ASCII cannot even be a &str token; that is rejection enough.
                let Ok(token) = String::from_utf8(changed) else {
                    continue;
                };
                assert!(
                    validator.verify_signature(&token).is_err(),
                    "{}: character {index} bit {bit} flipped and the token was accepted",
                    vector.file
                );
            }
        }
    }
}

/// The RFC 7520 keys as private JWKs (RSA, EC P-521 with a 66-byte `d`, oct): they sign, and the
/// public key verifies what they sign.
#[test]
fn rfc7520_private_jwks_sign_what_their_public_keys_verify() {
    for vector in rfc7520_vectors() {
        let signer = SigningKey::from_jwk(Some(vector.alg), &vector.key)
            .unwrap_or_else(|err| panic!("{}: private JWK: {err}", vector.file));
        assert_eq!(signer.algorithm(), vector.alg, "{}", vector.file);
        assert_eq!(signer.kid(), vector.key.kid.as_deref(), "{}", vector.file);
        let header = b64::encode(
            format!(
                r#"{{"alg":"{}","kid":"{}"}}"#,
                vector.alg,
                signer.kid().unwrap()
            )
            .as_bytes(),
        );
        let payload = b64::encode(b"signed by the private JWK");
        let input = format!("{header}.{payload}");
        let signature = signer.sign(input.as_bytes()).unwrap();
        let token = format!("{input}.{}", b64::encode(&signature));
        let verified = validator(&vector.key)
            .verify_signature(&token)
            .unwrap_or_else(|err| panic!("{}: {err}", vector.file));
        assert_eq!(verified.payload, b"signed by the private JWK");

        // The key's own alg (from the JWK, or the kind's default) is used without an explicit one.
        let default = SigningKey::from_jwk(None, &vector.key).unwrap();
        assert_eq!(
            default.algorithm().key_kind(),
            vector.alg.key_kind(),
            "{}",
            vector.file
        );
    }
}

/// RS256 and HS256 signatures are deterministic: the private JWK reproduces the published token.
#[test]
fn rfc7520_deterministic_vectors_are_reproduced_exactly() {
    let mut reproduced = 0;
    for vector in rfc7520_vectors().into_iter().filter(|v| v.reproducible) {
        let signer = SigningKey::from_jwk(Some(vector.alg), &vector.key).unwrap();
        let [header, payload, _] = segments(&vector.compact);
        let signature = signer
            .sign(format!("{header}.{payload}").as_bytes())
            .unwrap();
        assert_eq!(
            format!("{header}.{payload}.{}", b64::encode(&signature)),
            vector.compact,
            "{}",
            vector.file
        );
        reproduced += 1;
    }
    assert_eq!(reproduced, 2, "RS256 and HS256 are marked reproducible");
}

#[test]
fn rfc7520_hmac_key_is_32_bytes_and_bound_to_hs256() {
    let vector = rfc7520_vectors()
        .into_iter()
        .find(|v| v.alg == Algorithm::HS256)
        .unwrap();
    assert_eq!(
        b64::decode(vector.key.k.as_deref().unwrap()).unwrap().len(),
        32
    );
    let key = verifying_key(&vector.key);
    assert_eq!(key.algorithms().collect::<Vec<_>>(), [Algorithm::HS256]);
}
