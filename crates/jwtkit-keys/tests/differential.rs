//! Every algorithm signs and verifies, and agrees with jsonwebtoken (same aws-lc-rs backend) in
//! both directions. ES512 is checked by round trip only: jsonwebtoken does not implement it.

use jwtkit_keys::{Algorithm, KeyKind, SignatureError, SigningKey, VerifyingKey, b64, keygen};
use jwtkit_secret::Secret;

fn signing_input(alg: Algorithm) -> String {
    let header = b64::encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
    let payload = b64::encode(br#"{"sub":"differential","exp":4102444800}"#);
    format!("{header}.{payload}")
}

fn key_for(alg: Algorithm) -> (SigningKey, Option<keygen::GeneratedKeyPair>) {
    match alg.key_kind() {
        KeyKind::Hmac => {
            let secret = Secret::generate(64).unwrap();
            (SigningKey::hmac(alg, &secret).unwrap(), None)
        }
        _ => {
            let pair = keygen::generate(alg, 2048).unwrap();
            (
                SigningKey::from_pem(Some(alg), &pair.private_pem).unwrap(),
                Some(pair),
            )
        }
    }
}

#[test]
fn every_algorithm_round_trips_and_rejects_a_changed_message() {
    for alg in Algorithm::ALL {
        let (signer, _) = key_for(alg);
        assert_eq!(signer.algorithm(), alg);
        let input = signing_input(alg);
        let signature = signer.sign(input.as_bytes()).unwrap();
        let verifier = signer.verifying_key().unwrap();
        verifier
            .verify(alg, input.as_bytes(), &signature)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let mut changed = input.clone().into_bytes();
        *changed.last_mut().unwrap() ^= 0x01;
        assert_ne!(changed, input.as_bytes());
        assert_eq!(
            verifier.verify(alg, &changed, &signature),
            Err(SignatureError::Invalid),
            "{alg}"
        );
    }
}

#[test]
fn jsonwebtoken_verifies_our_tokens_and_we_verify_its_tokens() {
    let asymmetric = Algorithm::ALL
        .into_iter()
        .filter(|a| a.key_kind() != KeyKind::Hmac && *a != Algorithm::ES512);
    for alg in asymmetric {
        let jwt_alg: jsonwebtoken::Algorithm = alg.name().parse().unwrap();
        let (signer, pair) = key_for(alg);
        let pair = pair.unwrap();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(&pair.public_jwk).unwrap()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let pem = pair.private_pem.as_bytes();
        let encoding = match alg.key_kind() {
            KeyKind::Rsa => jsonwebtoken::EncodingKey::from_rsa_pem(pem),
            KeyKind::Ec(_) => jsonwebtoken::EncodingKey::from_ec_pem(pem),
            _ => jsonwebtoken::EncodingKey::from_ed_pem(pem),
        }
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(jwt_alg);
        validation.validate_aud = false;

        // Ours -> jsonwebtoken.
        let input = signing_input(alg);
        let token = format!(
            "{input}.{}",
            b64::encode(&signer.sign(input.as_bytes()).unwrap())
        );
        jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
            .unwrap_or_else(|e| panic!("jsonwebtoken rejected our {alg} token: {e}"));

        // jsonwebtoken -> ours.
        let claims = serde_json::json!({"sub": "from-jsonwebtoken", "exp": 4102444800u64});
        let theirs =
            jsonwebtoken::encode(&jsonwebtoken::Header::new(jwt_alg), &claims, &encoding).unwrap();
        let (input, signature) = theirs.rsplit_once('.').unwrap();
        let verifier = VerifyingKey::from_pem(&pair.public_pem).unwrap();
        verifier
            .verify(alg, input.as_bytes(), &b64::decode(signature).unwrap())
            .unwrap_or_else(|e| panic!("we rejected jsonwebtoken's {alg} token: {e}"));
    }
}

#[test]
fn hmac_agrees_with_jsonwebtoken() {
    let secret = Secret::generate(64).unwrap();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let jwt_alg: jsonwebtoken::Algorithm = alg.name().parse().unwrap();
        let claims = serde_json::json!({"sub": "hmac", "exp": 4102444800u64});
        let encoding = jsonwebtoken::EncodingKey::from_secret(secret.expose_bytes());
        let theirs =
            jsonwebtoken::encode(&jsonwebtoken::Header::new(jwt_alg), &claims, &encoding).unwrap();
        let (input, signature) = theirs.rsplit_once('.').unwrap();
        let ours = SigningKey::hmac(alg, &secret)
            .unwrap()
            .sign(input.as_bytes())
            .unwrap();
        assert_eq!(
            b64::encode(&ours),
            signature,
            "{alg}: HMAC is deterministic"
        );
    }
}

#[test]
fn keys_refuse_other_families() {
    let (rsa, pair) = key_for(Algorithm::RS256);
    let verifier = VerifyingKey::from_pem(&pair.unwrap().public_pem).unwrap();
    let input = signing_input(Algorithm::RS256);
    let signature = rsa.sign(input.as_bytes()).unwrap();
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert_eq!(
            verifier.verify(alg, input.as_bytes(), &signature),
            Err(SignatureError::AlgorithmNotAllowed(alg))
        );
    }
    // The same RSA key serves PS256 too unless its JWK pins an alg.
    assert!(verifier.allows(Algorithm::PS256));
    let pinned = VerifyingKey::from_jwk(&rsa.public_jwk().unwrap()).unwrap();
    assert_eq!(
        pinned.algorithms().collect::<Vec<_>>(),
        vec![Algorithm::RS256]
    );
}

#[test]
fn short_hmac_secret_is_refused_for_signing_with_the_numbers() {
    let secret = Secret::from_bytes(vec![3u8; 40]).unwrap();
    SigningKey::hmac(Algorithm::HS256, &secret).unwrap();
    let err = SigningKey::hmac(Algorithm::HS512, &secret)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HS512") && err.contains("40") && err.contains("64"),
        "{err}"
    );
    let verifier = VerifyingKey::hmac(&secret).unwrap();
    assert_eq!(
        verifier.algorithms().collect::<Vec<_>>(),
        vec![Algorithm::HS256]
    );
}

#[test]
fn generated_kid_is_the_rfc7638_thumbprint() {
    let pair = keygen::generate(Algorithm::EdDSA, 2048).unwrap();
    let kid = pair.public_jwk.kid.clone().unwrap();
    assert_eq!(kid, pair.public_jwk.thumbprint().unwrap());
    assert_eq!(kid.len(), 43);
}

#[test]
fn weak_rsa_key_is_refused() {
    // A 1024-bit modulus in a JWK.
    let n = b64::encode(&[0xC5u8; 128]);
    let jwk = jwtkit_keys::Jwk {
        kty: "RSA".into(),
        n: Some(n),
        e: Some("AQAB".into()),
        ..Default::default()
    };
    let err = VerifyingKey::from_jwk(&jwk).unwrap_err();
    assert_eq!(err, jwtkit_keys::KeyError::RsaTooSmall { bits: 1024 });
}

#[test]
fn a_private_rsa_pem_verifies_every_rsa_algorithm() {
    let pair = keygen::generate(Algorithm::RS256, 2048).unwrap();
    let verifier = VerifyingKey::from_pem(&pair.private_pem).unwrap();
    for alg in Algorithm::for_kind(KeyKind::Rsa) {
        let signer = SigningKey::from_pem(Some(alg), &pair.private_pem).unwrap();
        let input = signing_input(alg);
        let signature = signer.sign(input.as_bytes()).unwrap();
        verifier
            .verify(alg, input.as_bytes(), &signature)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
}
