//! Property tests (proptest):
//!
//! - mint -> verify round trips for HS256/HS384/HS512, RS256, ES256 and EdDSA with every
//!   profile (generic, Camunda, Centrifugo connection and subscription), arbitrary Unicode
//!   subjects and arbitrary custom claims: the verified claims are exactly the minted ones;
//! - any single-byte change of a valid token (any position, any other byte value) and any
//!   truncation is rejected;
//! - secrets: decoding the encoding of a key gives the key back, for each encoding.
//!
//! Case counts are kept low enough for the whole file to run in a few seconds in debug builds.

use std::sync::OnceLock;

use jwtkit_keys::{Algorithm, SigningKey, keygen};
use jwtkit_mint::{
    Audience, CamundaProfile, CentrifugoConnectionClaims, CentrifugoSubscriptionClaims, Expiry,
    GenericProfile, Minter, REGISTERED_CLAIMS,
};
use jwtkit_secret::{Secret, SecretEncoding};
use jwtkit_verify::{ClaimMap, Policy, Validator};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Validation time of every token here.
const NOW: i64 = 1_700_000_000;

/// The algorithms under test, in strategy index order.
const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Asymmetric keys are generated once per test binary (RSA generation is slow).
fn asymmetric(alg: Algorithm) -> SigningKey {
    static PEMS: OnceLock<Vec<(Algorithm, String)>> = OnceLock::new();
    let pems = PEMS.get_or_init(|| {
        [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
            .into_iter()
            .map(|alg| {
                let pair = keygen::generate(alg, 2048).expect("key generation");
                (alg, pair.private_pem.to_string())
            })
            .collect()
    });
    let pem = &pems.iter().find(|(a, _)| *a == alg).expect("generated").1;
    SigningKey::from_pem(Some(alg), pem).expect("generated PEM parses")
}

/// A signing key for `ALGORITHMS[index]`; HMAC keys from `secret` (64+ bytes: enough for HS512).
fn signer(index: usize, secret: &[u8]) -> SigningKey {
    let alg = ALGORITHMS[index];
    if alg.hmac().is_some() {
        let secret = Secret::from_bytes(secret).expect("non-empty");
        SigningKey::hmac(alg, &secret).expect("long enough")
    } else {
        asymmetric(alg)
    }
}

/// A validator that trusts `minter`'s key only, for its algorithm only, requiring `typ: JWT`.
fn validator(minter: &Minter, policy: Policy) -> Validator {
    let key = minter.key().verifying_key().expect("public half");
    Validator::new(
        vec![key],
        Policy {
            algorithms: vec![minter.key().algorithm()],
            typ: Some("JWT".into()),
            ..policy
        },
    )
}

/// Mints `claims`, validates at `NOW` both ways, and returns the verified claims.
fn round_trip(minter: &Minter, policy: Policy, claims: &Value) -> Result<ClaimMap, TestCaseError> {
    let token = minter
        .mint(claims)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let validator = validator(minter, policy);
    let validated = validator
        .validate_at(&token, NOW)
        .map_err(|e| TestCaseError::fail(format!("rejected: {e}")))?;
    prop_assert_eq!(validated.header.alg, minter.key().algorithm());
    let typed = validator
        .validate_as_at::<ClaimMap>(&token, NOW)
        .map_err(|e| TestCaseError::fail(format!("rejected as a type: {e}")))?;
    // Through `Deref`: the claims are a map, however `Validated` holds them.
    let claims = ClaimMap::clone(&validated.claims);
    prop_assert_eq!(&typed.claims, &claims);
    Ok(claims)
}

/// Any JSON value of a few levels: every scalar kind (finite floats only: JSON has no others),
/// Unicode strings, arrays and objects.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Custom claims: any names but the registered ones, any values.
fn custom_claims() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        any::<String>().prop_filter("not a registered claim", |name| {
            !REGISTERED_CLAIMS.contains(&name.as_str())
        }),
        json_value(),
        0..5,
    )
    .prop_map(|claims| claims.into_iter().collect())
}

fn hmac_secret() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 64..96)
}

fn audience_policy(audience: &[String]) -> Vec<String> {
    audience.first().cloned().into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn generic_profile_round_trips(
        alg in 0..ALGORITHMS.len(),
        secret in hmac_secret(),
        subject in any::<Option<String>>(),
        issuer in any::<Option<String>>(),
        audience in prop::collection::vec(any::<String>(), 0..3),
        jwt_id in any::<Option<String>>(),
        lifetime in 1u64..=10_000_000_000,
        not_before_offset in prop::option::of(-100_000i64..=60),
        custom in custom_claims(),
    ) {
        let minter = Minter::new(signer(alg, &secret));
        let profile = GenericProfile {
            subject,
            issuer: issuer.clone(),
            audience: Audience::new(audience.clone()),
            expiry: Expiry::After(lifetime),
            not_before_offset,
            jwt_id,
            custom: custom.clone(),
        };
        let claims = profile.claims(NOW).expect("no registered custom claim");
        let policy = Policy {
            issuers: issuer.into_iter().collect(),
            audiences: audience_policy(&audience),
            required_claims: custom.keys().cloned().collect(),
            ..Policy::default()
        };
        let verified = round_trip(&minter, policy, &Value::Object(claims.clone()))?;
        prop_assert_eq!(verified, claims);
    }

    #[test]
    fn camunda_profile_round_trips(
        alg in 0..ALGORITHMS.len(),
        secret in hmac_secret(),
        subject in any::<String>().prop_filter("the engine needs a subject", |s| !s.is_empty()),
        email in any::<Option<String>>(),
        email_template in any::<String>(),
        flags in any::<(bool, bool, bool)>(),
        lifetime in 1u64..=10_000_000_000,
        issuer in any::<Option<String>>(),
    ) {
        let minter = Minter::new(signer(alg, &secret));
        let profile = CamundaProfile {
            email_template,
            is_active: flags.0,
            is_superuser: flags.1,
            is_verified: flags.2,
            expiry: Expiry::After(lifetime),
            issuer: issuer.clone(),
        };
        let claims = profile.claims(&subject, email.as_deref(), NOW).expect("valid profile");
        let expected = serde_json::to_value(&claims).expect("serialisable");
        let policy = Policy {
            issuers: issuer.into_iter().collect(),
            ..Policy::default()
        };
        let verified = round_trip(&minter, policy, &expected)?;
        prop_assert_eq!(Value::Object(verified), expected);
        prop_assert_eq!(claims.sub, subject);
    }

    #[test]
    fn centrifugo_connection_round_trips(
        alg in 0..ALGORITHMS.len(),
        secret in hmac_secret(),
        sub in any::<String>(),
        channels in prop::collection::vec(any::<String>(), 0..4),
        info in prop::option::of(json_value()),
        b64info in any::<Option<String>>(),
        subs in prop::option::of(custom_claims()),
        meta in prop::option::of(json_value()),
        expire_at in any::<Option<i64>>(),
        audience in prop::collection::vec(any::<String>(), 0..3),
        iss in any::<Option<String>>(),
        lifetime in 1i64..=10_000_000_000,
    ) {
        let minter = Minter::new(signer(alg, &secret));
        let claims = CentrifugoConnectionClaims {
            sub,
            exp: Some(NOW + lifetime),
            iat: NOW,
            channels,
            info,
            b64info,
            subs,
            meta,
            expire_at,
            aud: Audience::new(audience.clone()),
            iss: iss.clone(),
        };
        let expected = serde_json::to_value(&claims).expect("serialisable");
        let policy = Policy {
            issuers: iss.into_iter().collect(),
            audiences: audience_policy(&audience),
            ..Policy::default()
        };
        let verified = round_trip(&minter, policy, &expected)?;
        prop_assert!(!verified.contains_key("channel"));
        prop_assert_eq!(Value::Object(verified), expected);
    }

    #[test]
    fn centrifugo_subscription_round_trips(
        alg in 0..ALGORITHMS.len(),
        secret in hmac_secret(),
        sub in any::<String>(),
        channel in any::<String>().prop_filter("a channel is required", |c| !c.is_empty()),
        info in prop::option::of(json_value()),
        override_ in prop::option::of(custom_claims()),
        expire_at in any::<Option<i64>>(),
        audience in prop::collection::vec(any::<String>(), 0..3),
        iss in any::<Option<String>>(),
        lifetime in 1i64..=10_000_000_000,
    ) {
        let minter = Minter::new(signer(alg, &secret));
        let claims = CentrifugoSubscriptionClaims {
            sub,
            channel,
            exp: Some(NOW + lifetime),
            iat: NOW,
            info,
            b64info: None,
            override_,
            expire_at,
            aud: Audience::new(audience.clone()),
            iss: iss.clone(),
        };
        claims.check().expect("channel set");
        let expected = serde_json::to_value(&claims).expect("serialisable");
        let policy = Policy {
            issuers: iss.into_iter().collect(),
            audiences: audience_policy(&audience),
            ..Policy::default()
        };
        let verified = round_trip(&minter, policy, &expected)?;
        prop_assert_eq!(Value::Object(verified), expected);
    }
}

/// One valid token per algorithm and a validator that accepts it (minted once).
fn valid_tokens() -> &'static [(String, Validator); 6] {
    static TOKENS: OnceLock<[(String, Validator); 6]> = OnceLock::new();
    TOKENS.get_or_init(|| {
        std::array::from_fn(|index| {
            let minter = Minter::new(signer(index, &[7u8; 64]));
            let claims = serde_json::json!({
                "iss": "https://issuer.example",
                "sub": "user-\u{e9}\u{1F600}",
                "aud": ["api", "other"],
                "iat": NOW,
                "exp": NOW + 3600,
                "roles": ["a", "b"],
            });
            let token = minter.mint(&claims).expect("mint");
            // The token names its audiences, so the validator must accept one of them.
            let policy = Policy {
                audiences: vec!["api".into()],
                ..Policy::default()
            };
            let validator = validator(&minter, policy);
            validator
                .validate_at(&token, NOW)
                .expect("the original is valid");
            (token, validator)
        })
    })
}

/// True when the bytes are rejected: not UTF-8 (no `&str` can carry them), or refused.
fn rejected(validator: &Validator, bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            validator.validate_at(text, NOW).is_err() && validator.verify_signature(text).is_err()
        }
        Err(_) => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_single_byte_change_is_rejected(
        alg in 0..ALGORITHMS.len(),
        position in any::<prop::sample::Index>(),
        // Mostly characters a token could hold, sometimes any byte at all.
        value in prop_oneof![3 => 0x20u8..0x7f, 1 => any::<u8>()],
    ) {
        let (token, validator) = &valid_tokens()[alg];
        let mut bytes = token.clone().into_bytes();
        let at = position.index(bytes.len());
        // Any *other* value: an equal draw moves to the next byte value.
        bytes[at] = if bytes[at] == value { value.wrapping_add(1) } else { value };
        prop_assert!(
            rejected(validator, &bytes),
            "{} token accepted with byte {} changed to {:#04x}",
            ALGORITHMS[alg], at, bytes[at]
        );
    }
}

#[test]
fn every_printable_change_of_an_hs256_token_is_rejected() {
    // Exhaustive for the cheapest algorithm: every position, every other ASCII byte.
    let (token, validator) = &valid_tokens()[0];
    let original = token.as_bytes();
    let mut checked = 0;
    for at in 0..original.len() {
        for value in 0u8..0x80 {
            if value == original[at] {
                continue;
            }
            let mut bytes = original.to_vec();
            bytes[at] = value;
            assert!(
                rejected(validator, &bytes),
                "accepted with byte {at} changed to {value:#04x}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, original.len() * 127);
}

#[test]
fn every_truncation_is_rejected() {
    for (index, (token, validator)) in valid_tokens().iter().enumerate() {
        for len in 0..token.len() {
            assert!(
                rejected(validator, &token.as_bytes()[..len]),
                "{} token accepted when cut to {len} of {} bytes",
                ALGORITHMS[index],
                token.len()
            );
        }
        assert!(
            !rejected(validator, token.as_bytes()),
            "the whole token passes"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn secrets_decode_from_their_encoding(
        bytes in prop::collection::vec(any::<u8>(), 1..128),
        text in any::<String>().prop_filter("a secret is never empty", |t| !t.is_empty()),
    ) {
        let secret = Secret::from_bytes(bytes.clone()).expect("non-empty");
        for encoding in [SecretEncoding::Base64, SecretEncoding::Base64Url, SecretEncoding::Hex] {
            let encoded = secret.encode(encoding);
            let decoded = Secret::decode(&encoded, encoding).expect("own encoding decodes");
            prop_assert_eq!(decoded.encoding, encoding);
            prop_assert_eq!(decoded.secret.expose_bytes(), bytes.as_slice());
        }
        // Raw keys are text: their encoding is the text itself.
        let raw = Secret::from_bytes(text.as_bytes()).expect("non-empty");
        let encoded = raw.encode(SecretEncoding::Raw);
        prop_assert_eq!(encoded.as_str(), text.as_str());
        let decoded = Secret::decode(&encoded, SecretEncoding::Raw).expect("text decodes");
        prop_assert_eq!(decoded.secret.expose_bytes(), text.as_bytes());
        // `auto` writes base64url but reads standard base64 first, then raw: the key comes back
        // exactly when the text has no `-` or `_` (then both alphabets read it alike); otherwise
        // the text itself is the key, and `auto` says so.
        let encoded = secret.encode(SecretEncoding::Auto);
        let decoded = Secret::decode(&encoded, SecretEncoding::Auto).expect("auto decodes");
        if encoded.contains(['-', '_']) {
            prop_assert_eq!(decoded.encoding, SecretEncoding::Raw);
            prop_assert_eq!(decoded.secret.expose_bytes(), encoded.as_bytes());
        } else {
            prop_assert_eq!(decoded.encoding, SecretEncoding::Base64);
            prop_assert_eq!(decoded.secret.expose_bytes(), bytes.as_slice());
        }
    }
}
