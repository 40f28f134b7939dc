//! Fuzz harness: key parsing (`jwtkit-keys`): JWK Sets, single JWKs, PEM, DER and the strict
//! base64url decoder under them.
//!
//! Shared by the `jwk` fuzz target and `crates/jwtkit-keys/tests/fuzz_regressions.rs`. Input
//! layout (first byte = mode, `mode & 3`):
//!
//! - 0: the rest is a JWK Set document for `parse_key_set`;
//! - 1: the rest is one JWK (JSON text);
//! - 2: the rest is PEM text (public or private);
//! - 3: the rest is public key DER, and also text for the base64url decoder.
//!
//! Besides "no panic", it checks: a JWK survives a serde round trip and its thumbprint is that
//! of its public half; a key that can sign produces signatures its own verifying key accepts, and
//! so does the public key read from the same JWK or PEM; every key skipped from a set has a
//! reason and every kept key is counted once; `b64::decode` accepts exactly what the `base64`
//! crate's strict `URL_SAFE_NO_PAD` engine accepts, with the same bytes.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwtkit_keys::{Jwk, SigningKey, VerifyingKey, b64, parse_key_set};

const MESSAGE: &[u8] = b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6In0";

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        0 => key_set(rest),
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                jwk(text);
            }
        }
        2 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                pem(text);
            }
        }
        _ => {
            der(rest);
            base64url(&String::from_utf8_lossy(rest));
        }
    }
}

fn key_set(json: &[u8]) {
    let Ok(parsed) = parse_key_set(json) else {
        return;
    };
    let listed = serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("keys").and_then(|k| k.as_array()).map(Vec::len));
    assert_eq!(
        Some(parsed.keys.len() + parsed.skipped.len()),
        listed,
        "every listed key is either kept or skipped"
    );
    for skipped in &parsed.skipped {
        assert!(!skipped.reason.is_empty());
        assert!(skipped.kid.as_ref().is_none_or(|k| k.chars().count() <= 64));
        let _ = skipped.to_string();
    }
    for key in &parsed.keys {
        exercise(key);
    }
}

fn jwk(text: &str) {
    let Ok(jwk) = Jwk::from_json(text) else {
        return;
    };
    let _ = format!("{jwk:?}");
    let again = serde_json::to_string(&jwk).expect("a JWK serialises");
    assert_eq!(
        Jwk::from_json(&again).as_ref(),
        Ok(&jwk),
        "serde round trip"
    );
    let public = jwk.to_public();
    assert!(!public.is_private(), "to_public keeps a private member");
    if let Ok(thumbprint) = jwk.thumbprint()
        && jwk.kty != "oct"
    {
        assert_eq!(public.thumbprint().ok(), Some(thumbprint));
    }
    let verifying = VerifyingKey::from_jwk(&jwk);
    if let Ok(key) = &verifying {
        exercise(key);
        assert_eq!(key.kid(), jwk.kid.as_deref());
    }
    if let Ok(signer) = SigningKey::from_jwk(None, &jwk) {
        signs_and_verifies(&signer);
        // The public members of the same JWK verify what its private members signed.
        if let Ok(key) = VerifyingKey::from_jwk(&jwk.to_public())
            && key.allows(signer.algorithm())
        {
            let signature = signer.sign(MESSAGE).expect("a parsed key signs");
            assert!(
                key.verify(signer.algorithm(), MESSAGE, &signature).is_ok(),
                "the JWK's public half does not verify what its private half signed"
            );
        }
    }
}

fn pem(text: &str) {
    let verifying = VerifyingKey::from_pem(text);
    if let Ok(key) = &verifying {
        exercise(key);
    }
    if let Ok(signer) = SigningKey::from_pem(None, text) {
        signs_and_verifies(&signer);
        let key = verifying.expect("a private PEM that signs also gives a verifying key");
        let signature = signer.sign(MESSAGE).expect("a parsed key signs");
        assert!(
            key.verify(signer.algorithm(), MESSAGE, &signature).is_ok(),
            "the PEM's verifying key does not verify what its signing key signed"
        );
    }
}

fn der(bytes: &[u8]) {
    if let Ok(key) = VerifyingKey::from_public_der(bytes) {
        exercise(&key);
    }
}

/// A parsed verifying key answers every algorithm without panicking, and never accepts an
/// empty or arbitrary signature.
fn exercise(key: &VerifyingKey) {
    let _ = format!("{key:?}");
    for alg in key.algorithms().collect::<Vec<_>>() {
        assert!(key.allows(alg));
        assert!(key.verify(alg, MESSAGE, &[]).is_err());
        assert!(key.verify(alg, MESSAGE, &[0u8; 64]).is_err());
    }
}

fn signs_and_verifies(signer: &SigningKey) {
    let signature = signer.sign(MESSAGE).expect("a parsed key signs");
    let key = signer
        .verifying_key()
        .expect("a signing key has a verifying key");
    assert!(key.allows(signer.algorithm()));
    assert!(
        key.verify(signer.algorithm(), MESSAGE, &signature).is_ok(),
        "a key does not verify its own signature"
    );
    let mut flipped = signature.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    assert!(key.verify(signer.algorithm(), MESSAGE, &flipped).is_err());
    let _ = signer.public_jwk().map(|jwk| jwk.thumbprint());
    let _ = signer.fingerprint();
}

fn base64url(text: &str) {
    let reference = URL_SAFE_NO_PAD.decode(text).ok();
    assert_eq!(b64::decode(text).ok(), reference, "b64::decode vs base64");
    let mut buffer = [0u8; 256];
    let into = b64::decode_into(text, &mut buffer).ok().map(<[u8]>::to_vec);
    match &reference {
        Some(bytes) if bytes.len() > buffer.len() => assert_eq!(into, None),
        _ => assert_eq!(into, reference, "b64::decode_into vs base64"),
    }
    if let Some(bytes) = reference {
        assert_eq!(b64::encode(&bytes), text);
    }
}
