//! Ed25519 public keys that must never be trusted: the points of small order and non-canonical
//! encodings are refused when loaded, from a JWK, a PEM file or a JWK Set, with an error a
//! caller can match; ordinary keys still load and verify.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine as _;
use jwtkit_keys::{Algorithm, Jwk, KeyError, SigningKey, VerifyingKey, b64, keygen, parse_key_set};

/// The eight points of small order, in their canonical encodings (RFC 8032 §5.1.2: `y`
/// little-endian, the sign of `x` in the top bit).
const SMALL_ORDER: [&str; 8] = [
    // identity (order 1)
    "0100000000000000000000000000000000000000000000000000000000000000",
    // (0, -1) (order 2)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // y = 0 (order 4), both signs of x
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    // the four points of order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

/// Encodings with `y >= p` (p = 2^255 - 19): p itself (y = 0 again), p + 1 (the identity
/// again), 2^255 - 1, and one of them with the sign bit set.
const NON_CANONICAL: [&str; 4] = [
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// The sign-bit-set encodings of the two small-order points with x = 0 ("negative zero"):
/// not canonical, and small order once decoded by a lenient parser.
const NEGATIVE_ZERO: [&str; 2] = [
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// RFC 8037 A.4's Ed25519 public key.
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn raw(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).unwrap()
}

fn jwk(x: &[u8]) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        kid: Some("ed".into()),
        x: Some(b64::encode(x)),
        ..Jwk::default()
    }
}

/// A `PUBLIC KEY` PEM: the SubjectPublicKeyInfo of RFC 8410 around the raw key.
fn pem(x: &[u8]) -> String {
    let mut der = hex::decode("302a300506032b6570032100").unwrap();
    der.extend_from_slice(x);
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
}

#[test]
fn the_danger_is_real_the_identity_key_verifies_a_fixed_signature_over_any_message() {
    // Why the check exists: aws-lc itself accepts the identity as a public key, and then
    // R = identity, S = 0 verifies for every message. jwtkit must refuse the key at load.
    let identity = raw(SMALL_ORDER[0]);
    let mut forged = raw(SMALL_ORDER[0]);
    forged.extend_from_slice(&[0; 32]);
    for message in [&b"header.payload"[..], b"anything at all", b""] {
        assert!(
            UnparsedPublicKey::new(&ED25519, &identity)
                .verify(message, &forged)
                .is_ok(),
            "aws-lc no longer accepts the identity key: the check is still right, update this note"
        );
    }
}

#[test]
fn small_order_ed25519_keys_are_refused_from_a_jwk_and_from_pem() {
    for encoding in SMALL_ORDER.iter().chain(&NEGATIVE_ZERO) {
        let x = raw(encoding);
        let from_jwk = VerifyingKey::from_jwk(&jwk(&x));
        assert_eq!(
            from_jwk.as_ref().err(),
            Some(&KeyError::Ed25519SmallOrder),
            "JWK x = {encoding}: {from_jwk:?}"
        );
        let from_pem = VerifyingKey::from_pem(&pem(&x));
        assert_eq!(
            from_pem.as_ref().err(),
            Some(&KeyError::Ed25519SmallOrder),
            "PEM of {encoding}: {from_pem:?}"
        );
        // Pinning the algorithm changes nothing.
        let mut pinned = jwk(&x);
        pinned.alg = Some("EdDSA".into());
        assert_eq!(
            VerifyingKey::from_jwk(&pinned).err(),
            Some(KeyError::Ed25519SmallOrder)
        );
    }
    let message = KeyError::Ed25519SmallOrder.to_string();
    assert!(message.contains("small order"), "{message}");
}

#[test]
fn non_canonical_ed25519_keys_are_refused_from_a_jwk_and_from_pem() {
    for encoding in NON_CANONICAL {
        let x = raw(encoding);
        assert_eq!(
            VerifyingKey::from_jwk(&jwk(&x)).err(),
            Some(KeyError::Ed25519NonCanonical),
            "JWK x = {encoding}"
        );
        assert_eq!(
            VerifyingKey::from_pem(&pem(&x)).err(),
            Some(KeyError::Ed25519NonCanonical),
            "PEM of {encoding}"
        );
    }
}

#[test]
fn ordinary_ed25519_keys_still_load_and_verify() {
    // RFC 8037 A.4's key, as a JWK and as PEM.
    let x = b64::decode(RFC8037_X).unwrap();
    let key = VerifyingKey::from_jwk(&jwk(&x)).unwrap();
    assert!(key.allows(Algorithm::EdDSA));
    assert!(VerifyingKey::from_pem(&pem(&x)).is_ok());
    // RFC 8037 A.4's signature over A.4's signing input.
    let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let signature = b64::decode(
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    )
    .unwrap();
    assert!(key.verify(Algorithm::EdDSA, input, &signature).is_ok());

    // A generated pair: its public PEM, its public JWK, and the private PEM's public half.
    let pair = keygen::generate(Algorithm::EdDSA, 0).unwrap();
    let signer = SigningKey::from_pem(None, &pair.private_pem).unwrap();
    let signature = signer.sign(b"header.payload").unwrap();
    for key in [
        VerifyingKey::from_pem(&pair.public_pem).unwrap(),
        VerifyingKey::from_pem(&pair.private_pem).unwrap(),
        VerifyingKey::from_jwk(&pair.public_jwk).unwrap(),
    ] {
        assert!(
            key.verify(Algorithm::EdDSA, b"header.payload", &signature)
                .is_ok()
        );
    }
}

#[test]
fn a_key_set_with_one_small_order_key_keeps_its_other_keys() {
    let set = serde_json::json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "kid": "identity", "x": b64::encode(&raw(SMALL_ORDER[0]))},
        {"kty": "OKP", "crv": "Ed25519", "kid": "good", "x": RFC8037_X},
        {"kty": "OKP", "crv": "Ed25519", "kid": "zero", "x": b64::encode(&[0u8; 32])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "non-canonical", "x": b64::encode(&raw(NON_CANONICAL[1]))},
    ]});
    let parsed = parse_key_set(set.to_string().as_bytes()).unwrap();
    let kids: Vec<_> = parsed.keys.iter().map(|k| k.kid()).collect();
    assert_eq!(kids, [Some("good")]);
    let skipped: Vec<_> = parsed
        .skipped
        .iter()
        .map(|s| (s.index, s.kid.as_deref()))
        .collect();
    assert_eq!(
        skipped,
        [
            (0, Some("identity")),
            (2, Some("zero")),
            (3, Some("non-canonical"))
        ]
    );
    assert!(
        parsed.skipped[0].reason.contains("small order"),
        "{}",
        parsed.skipped[0]
    );
    assert!(
        parsed.skipped[2].reason.contains("canonical"),
        "{}",
        parsed.skipped[2]
    );
}
