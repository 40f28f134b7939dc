//! Key files as operators write them: PEM or a single JWK, told apart by their first character,
//! for signing and for verifying keys alike.

use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey, keygen};

#[test]
fn a_key_file_is_read_as_pem_or_as_jwk_by_its_text() {
    let pair = keygen::generate(Algorithm::ES256, 2048).unwrap();
    let public_jwk = serde_json::to_string_pretty(&pair.public_jwk).unwrap();
    let signer = SigningKey::from_pem_or_jwk(None, &pair.private_pem).unwrap();
    let signature = signer.sign(b"payload").unwrap();
    // Leading white space (an editor's newline) does not change the reading.
    for text in [
        pair.public_pem.clone(),
        format!("\n  {public_jwk}"),
        pair.private_pem.to_string(),
    ] {
        let key = VerifyingKey::from_pem_or_jwk(&text).unwrap();
        key.verify(Algorithm::ES256, b"payload", &signature)
            .unwrap();
        assert!(key.verify(Algorithm::ES256, b"other", &signature).is_err());
    }
}

#[test]
fn a_key_file_that_is_neither_pem_nor_a_jwk_is_a_clear_error() {
    for text in ["", "not a key", "{\"kty\": \"RSA\"}", "{broken json"] {
        let err = VerifyingKey::from_pem_or_jwk(text).unwrap_err().to_string();
        assert!(!err.is_empty(), "{text:?}");
        assert!(SigningKey::from_pem_or_jwk(None, text).is_err(), "{text:?}");
    }
    // A public JWK cannot sign.
    let pair = keygen::generate(Algorithm::EdDSA, 2048).unwrap();
    let public_jwk = serde_json::to_string(&pair.public_jwk).unwrap();
    assert!(SigningKey::from_pem_or_jwk(None, &public_jwk).is_err());
}
