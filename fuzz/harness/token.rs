//! Fuzz harness: token parsing and verification (`jwtkit-verify`).
//!
//! Shared by the `token` fuzz target and `crates/jwtkit-verify/tests/fuzz_regressions.rs`, so a
//! committed input replays through exactly this code. Input layout (first byte = mode):
//!
//! - `mode & 3 == 0`: the rest is a token (lossy UTF-8);
//! - `mode & 3 == 1`: the rest is `header JSON 0xFF payload`; the harness signs them with the
//!   key picked by `(mode >> 2) & 3` (HS256, RS256, ES256, EdDSA), so the fuzzer reaches the
//!   claim checks with any header and any payload;
//! - `mode & 3 == 2`: the rest is the payload, under `{"alg":…,"typ":"JWT"}`, signed as above;
//! - `mode & 3 == 3`: as 2, but signed with a key the validators do not trust.
//!
//! Besides "no panic", it checks: `validate_at` and `validate_as_at` agree; a `Registry` with
//! the same keys and policy accepts exactly what the `Validator` accepts, with the same claims,
//! and a cached second lookup gives the same answer; a token signed here with the key of its
//! header's `alg` always passes the signature check; a token signed with an untrusted key never
//! passes anything.
#![allow(dead_code)]

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey, b64};
use jwtkit_secret::Secret;
use jwtkit_verify::{ClaimMap, IssuerConfig, KeySource, Policy, Registry, Validator, VerifyError};

/// The clock of every validation here, so replays do not depend on the day.
pub const NOW: i64 = 1_700_000_000;
/// `iss` the strict policy accepts.
pub const ISS: &str = "https://issuer.fuzz.example";
/// `aud` the strict policy accepts.
pub const AUD: &str = "api";
const HS_SECRET: &[u8] = b"fuzz-only HS256 secret, 32+ bytes long";
const UNTRUSTED_SECRET: &[u8] = b"an HS256 secret nobody here trusts";

/// The trusted signing keys, in mode order: HS256, RS256, ES256, EdDSA.
pub fn signers() -> &'static [SigningKey; 4] {
    static SIGNERS: OnceLock<[SigningKey; 4]> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        let secret = Secret::from_bytes(HS_SECRET).expect("non-empty");
        let pem = |text: &str| SigningKey::from_pem(None, text).expect("fuzz/keys PEM");
        [
            SigningKey::hmac(Algorithm::HS256, &secret).expect("32+ bytes"),
            pem(include_str!("../keys/rs256.pem")),
            pem(include_str!("../keys/es256.pem")),
            pem(include_str!("../keys/eddsa.pem")),
        ]
    })
}

fn untrusted() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let secret = Secret::from_bytes(UNTRUSTED_SECRET).expect("non-empty");
        SigningKey::hmac(Algorithm::HS256, &secret).expect("32+ bytes")
    })
}

/// The policies every token is checked under: the default, a strict one, a loose one.
pub fn policies() -> [Policy; 3] {
    [
        Policy::default(),
        Policy {
            issuers: vec![ISS.into()],
            audiences: vec![AUD.into()],
            authorized_parties: vec!["https://app.fuzz.example".into()],
            algorithms: vec![
                Algorithm::HS256,
                Algorithm::RS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
            required_claims: vec!["sub".into()],
            typ: Some("JWT".into()),
            ..Policy::default()
        },
        Policy {
            issuers: vec![ISS.into()],
            allow_missing_iss: true,
            accept_any_audience: true,
            require_exp: false,
            leeway_seconds: 0,
            max_token_bytes: 2048,
            ..Policy::default()
        },
    ]
}

struct Fixture {
    keys: Vec<VerifyingKey>,
    validators: Vec<Validator>,
    /// One registry per policy that names issuers: (policy index, plain, with a token cache).
    registries: Vec<(usize, Registry, Registry)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys: Vec<VerifyingKey> = signers()
            .iter()
            .map(|k| k.verifying_key().expect("public half"))
            .collect();
        let policies = policies();
        let validators = policies
            .iter()
            .map(|p| Validator::new(keys.clone(), p.clone()))
            .collect();
        let registries = policies
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.issuers.is_empty())
            .map(|(index, policy)| {
                let build = || {
                    Registry::new(vec![IssuerConfig {
                        name: "fuzz".into(),
                        issuers: policy.issuers.clone(),
                        keys: KeySource::Static(keys.clone()),
                        policy: policy.clone(),
                    }])
                    .expect("one issuer")
                };
                (index, build(), build().with_token_cache(64))
            })
            .collect();
        Fixture {
            keys,
            validators,
            registries,
        }
    })
}

/// Polls a future that cannot wait on anything (a registry with static keys only) to its end.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a registry with static keys waited on something"),
    }
}

/// `header.payload.signature` with the header and payload bytes as given.
pub fn sign(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    let mut token = format!("{}.{}", b64::encode(header), b64::encode(payload));
    let signature = key.sign(token.as_bytes()).expect("signing works");
    token.push('.');
    token.push_str(&b64::encode(&signature));
    token
}

/// The header a minter writes for `key`.
pub fn jwt_header(key: &SigningKey) -> Vec<u8> {
    format!(r#"{{"alg":"{}","typ":"JWT"}}"#, key.algorithm().name()).into_bytes()
}

/// The error code, or the claims of an accepted token.
type Verdict = Result<ClaimMap, &'static str>;

fn verdict(result: Result<jwtkit_verify::Validated, VerifyError>) -> Verdict {
    // Through `Deref`: the claims are a map, however `Validated` holds them.
    result
        .map(|v| ClaimMap::clone(&v.claims))
        .map_err(|e| e.code())
}

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key_index = usize::from((mode >> 2) & 3);
    let (token, signed_with, trusted) = match mode & 3 {
        0 => (String::from_utf8_lossy(rest).into_owned(), None, true),
        1 => {
            let split = rest.iter().position(|&b| b == 0xFF).unwrap_or(rest.len());
            let (header, payload) = (&rest[..split], rest.get(split + 1..).unwrap_or_default());
            let key = &signers()[key_index];
            (sign(key, header, payload), Some(key.algorithm()), true)
        }
        2 => {
            let key = &signers()[key_index];
            let token = sign(key, &jwt_header(key), rest);
            (token, Some(key.algorithm()), true)
        }
        _ => {
            let key = untrusted();
            (sign(key, &jwt_header(key), rest), None, false)
        }
    };
    check(&token, signed_with, trusted);
}

fn check(token: &str, signed_with: Option<Algorithm>, trusted: bool) {
    let fixture = fixture();
    let mut verdicts = Vec::new();
    for validator in &fixture.validators {
        let full = verdict(validator.validate_at(token, NOW));
        let typed = validator
            .validate_as_at::<ClaimMap>(token, NOW)
            .map(|v| v.claims)
            .map_err(|e| e.code());
        assert_eq!(full, typed, "validate_at and validate_as_at disagree");
        if !trusted {
            assert!(full.is_err(), "a token signed with an untrusted key passed");
        }
        verdicts.push(full);
    }
    for (index, plain, cached) in &fixture.registries {
        let expected = verdicts[*index].as_ref().ok();
        for registry in [plain, cached, cached] {
            let found = verdict(ready(registry.validate_at(token, NOW)));
            assert_eq!(
                found.as_ref().ok(),
                expected,
                "the registry and the validator disagree (policy {index}): {found:?}"
            );
        }
    }
    // Only the structure and the signature: with the key of the header's alg it must pass.
    let signature = fixture.validators[0].verify_signature(token);
    if let Some(alg) = signed_with
        && let Ok(parsed) =
            jwtkit_verify::jws::parse(token, fixture.validators[0].policy().max_token_bytes)
        && parsed.header.alg == alg
    {
        assert!(
            signature.is_ok(),
            "a token signed with the {alg} key failed its signature check: {:?}",
            signature.err().map(|e| e.code())
        );
    }
    if !trusted {
        assert!(signature.is_err(), "an untrusted signature verified");
    }
    // Every key alone: no panic, and an untrusted token never verifies.
    for key in &fixture.keys {
        let alone = Validator::new(vec![key.clone()], Policy::default());
        let result = alone.verify_signature(token);
        assert!(trusted || result.is_err());
    }
}
