//! Published JWS test vectors (RFC 7515 A.1, RFC 8037 A.4, RFC 7520 §4) through
//! `jwtkit verify --signature-only --key <JWK file>`.
//!
//! The vectors are kept in `testing/vectors`; a missing file is a failure, not a skip.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

use jwtkit_testsupport::{read_json, vectors_dir};

/// One JWS with its key, from either vector file.
struct Vector {
    name: String,
    jwk: Value,
    compact: String,
    valid: bool,
    /// The payload `--signature-only` must print, when the file says.
    payload: Option<Payload>,
}

/// A payload printed as pretty JSON (when it parses) or as text.
enum Payload {
    Json(Value),
    Text(String),
}

fn rfc7520_vectors() -> Vec<Vector> {
    let dir = vectors_dir().join("rfc7520");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("4_") && name.ends_with(".json")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the four RFC 7520 §4 signature examples in {}, found {files:?}",
        dir.display()
    );
    files
        .iter()
        .map(|path| {
            let doc = read_json(path);
            let text = |pointer: &str| {
                doc.pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{}: no string at {pointer}", path.display()))
                    .to_owned()
            };
            Vector {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                jwk: doc
                    .pointer("/input/key")
                    .cloned()
                    .unwrap_or_else(|| panic!("{}: no input.key", path.display())),
                compact: text("/output/compact"),
                valid: true,
                payload: Some(Payload::Text(text("/input/payload"))),
            }
        })
        .collect()
}

fn rfc7515_rfc8037_vectors() -> Vec<Vector> {
    let path = vectors_dir().join("rfc7515-rfc8037.json");
    let doc = read_json(&path);
    let list = doc
        .get("vectors")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{}: no `vectors` list", path.display()));
    assert!(!list.is_empty(), "{}: empty list", path.display());
    list.iter()
        .map(|v| Vector {
            name: v["name"].as_str().unwrap_or("unnamed").to_owned(),
            jwk: v["jwk"].clone(),
            compact: v["compact"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: vector without compact", path.display()))
                .to_owned(),
            valid: v["valid"]
                .as_bool()
                .unwrap_or_else(|| panic!("{}: vector without valid", path.display())),
            payload: match (v.get("payload_json"), v["payload_text"].as_str()) {
                (Some(json), _) => Some(Payload::Json(json.clone())),
                (None, Some(text)) => Some(Payload::Text(text.to_owned())),
                (None, None) => None,
            },
        })
        .collect()
}

/// Runs `verify --signature-only --key <jwk file>` on one vector.
fn verify_vector(dir: &Path, index: usize, vector: &Vector, jwk: &Value) -> Run {
    let key = write_file(dir, &format!("key-{index}.jwk"), &jwk.to_string());
    run([
        "verify",
        "--signature-only",
        "--key",
        s(&key),
        &vector.compact,
    ])
}

fn check_all(vectors: &[Vector], public_only: bool) -> usize {
    let dir = tempdir();
    let mut checked = 0;
    for (index, vector) in vectors.iter().enumerate() {
        let mut jwk = vector.jwk.clone();
        if public_only && jwk["kty"] != "oct" {
            for member in ["d", "p", "q", "dp", "dq", "qi"] {
                jwk.as_object_mut().unwrap().remove(member);
            }
        }
        let out = verify_vector(dir.path(), index, vector, &jwk);
        if vector.valid {
            let out = out.ok();
            match &vector.payload {
                Some(Payload::Json(expected)) => {
                    assert_eq!(&out.json(), expected, "{}: printed payload", vector.name)
                }
                Some(Payload::Text(expected)) => assert_eq!(
                    out.stdout,
                    format!("{expected}\n"),
                    "{}: printed payload",
                    vector.name
                ),
                None => {}
            }
        } else {
            out.invalid("bad_signature");
        }
        checked += 1;
    }
    checked
}

#[test]
fn rfc7520_signature_examples_verify_with_their_private_jwk() {
    let vectors = rfc7520_vectors();
    assert_eq!(check_all(&vectors, false), vectors.len());
}

#[test]
fn rfc7520_signature_examples_verify_with_the_public_half_of_their_jwk() {
    let vectors = rfc7520_vectors();
    assert_eq!(check_all(&vectors, true), vectors.len());
}

#[test]
fn rfc7515_and_rfc8037_vectors_verify_and_the_tampered_one_fails() {
    let vectors = rfc7515_rfc8037_vectors();
    assert!(
        vectors.iter().any(|v| !v.valid),
        "the list should include a tampered vector"
    );
    assert_eq!(check_all(&vectors, true), vectors.len());
}

#[test]
fn every_valid_vector_fails_once_its_signature_is_altered() {
    let dir = tempdir();
    let mut vectors = rfc7520_vectors();
    vectors.extend(rfc7515_rfc8037_vectors().into_iter().filter(|v| v.valid));
    for (index, vector) in vectors.iter().enumerate() {
        // Flip one bit in the first signature character that has room for it.
        let (signing_input, signature) = vector.compact.rsplit_once('.').unwrap();
        let mut bytes = jwtkit_keys::b64::decode(signature).unwrap();
        bytes[0] ^= 0x01;
        let tampered = Vector {
            name: vector.name.clone(),
            jwk: vector.jwk.clone(),
            compact: format!("{signing_input}.{}", jwtkit_keys::b64::encode(&bytes)),
            valid: false,
            payload: None,
        };
        verify_vector(dir.path(), index, &tampered, &tampered.jwk).invalid("bad_signature");
    }
}

#[test]
fn rfc7515_a1_is_rejected_as_expired_without_signature_only() {
    // A.1's exp (1300819380) is in 2011: the full validation must refuse it, signature or not.
    let vectors = rfc7515_rfc8037_vectors();
    let vector = vectors
        .iter()
        .find(|v| v.jwk["kty"] == "oct" && v.valid)
        .expect("the RFC 7515 A.1 HS256 vector");
    let dir = tempdir();
    let key = write_file(dir.path(), "a1.jwk", &vector.jwk.to_string());
    run(["verify", "--key", s(&key), &vector.compact]).invalid("expired");
}
