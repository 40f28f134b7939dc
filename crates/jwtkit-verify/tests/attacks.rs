//! The attack corpus of `jwtkit_testsupport::attacks` against the library: every entry is
//! rejected with its stable code by `Validator` (map and typed claims) and by `Registry` (with
//! and without the verified-token cache), twice in a row, without a panic and without the token
//! in the error message; entries over the size cap are also run with the cap lifted, so the
//! defence behind it is tested too. The corpus's valid tokens are the control: they must pass.
//!
//! Failures are collected and reported together, by entry name (never the token).

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use jwtkit_keys::{VerifyingKey, parse_key_set};
use jwtkit_testsupport::attacks::{Corpus, Keys, Target};
use jwtkit_verify::{IssuerConfig, KeySource, Policy, Registry, Validator, VerifyError};
use serde_json::Value;

const NOW: i64 = 1_700_000_000;
/// The cap used to reach the checks behind the size limit.
const LIFTED_CAP: usize = 64 * 1024 * 1024;

/// Every code `VerifyError::code` can answer (docs/SECURITY.md, "Stable error codes").
const STABLE_CODES: [&str; 16] = [
    "malformed",
    "token_too_large",
    "alg_not_allowed",
    "unsupported_crit",
    "unknown_kid",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "unknown_issuer",
    "audience_mismatch",
    "unauthorized_party",
    "missing_claim",
    "invalid_claim",
    "typ_mismatch",
    "jwks_unavailable",
];

struct Fixture {
    keys: Keys,
    target: Target,
    corpus: Corpus,
}

/// Keys and corpus, made once for all tests of this file (RSA generation is slow in debug).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = Keys::generate();
        let target = Target::at(NOW);
        let corpus = Corpus::build(&keys, &target);
        Fixture {
            keys,
            target,
            corpus,
        }
    })
}

fn key_set(jwks: &str) -> Vec<VerifyingKey> {
    let parsed = parse_key_set(jwks.as_bytes()).expect("key set parses");
    assert!(parsed.skipped.is_empty(), "no key may be skipped");
    parsed.keys
}

fn policy(target: &Target, audience: &str, cap: usize) -> Policy {
    Policy {
        issuers: vec![target.issuer.clone()],
        audiences: vec![audience.to_owned()],
        max_token_bytes: cap,
        ..Policy::default()
    }
}

/// The corpus policy: the issuer's key set, its `iss`, the audience, exp required.
fn validator(f: &Fixture, audience: &str, cap: usize) -> Validator {
    Validator::new(
        key_set(&f.keys.issuer_jwks()),
        policy(&f.target, audience, cap),
    )
}

/// The issuer beside the second issuer (same audience), as a service or the proxy has them.
fn registry(f: &Fixture, audience: &str, cap: usize, cache: bool) -> Registry {
    let entry = |name: &str, iss: &str, jwks: &str| IssuerConfig {
        name: name.into(),
        issuers: vec![iss.to_owned()],
        keys: KeySource::Static(key_set(jwks)),
        policy: policy(&f.target, audience, cap),
    };
    let registry = Registry::new(vec![
        entry("a", &f.target.issuer, &f.keys.issuer_jwks()),
        entry("b", &f.target.other_issuer, &f.keys.other_jwks()),
    ])
    .expect("registry");
    if cache {
        registry.with_token_cache(1024)
    } else {
        registry
    }
}

/// What one call answered.
#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted,
    Rejected(&'static str),
    Panicked,
}

/// Runs `call`, catching a panic, and checks that a rejection's message does not hold `token`.
fn outcome<T>(token: &str, call: impl FnOnce() -> Result<T, VerifyError>) -> (Outcome, bool) {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(_)) => (Outcome::Accepted, false),
        Ok(Err(err)) => {
            let message = err.to_string();
            let signature = token.rsplit('.').next().unwrap_or_default();
            let leaks = (token.len() >= 16 && message.contains(token))
                || (signature.len() >= 16 && message.contains(signature));
            (Outcome::Rejected(err.code()), leaks)
        }
        Err(_) => (Outcome::Panicked, false),
    }
}

/// Collected mismatches, reported by entry name.
#[derive(Default)]
struct Report(String);

impl Report {
    fn check(&mut self, who: &str, name: &str, expected: &Outcome, (got, leaks): (Outcome, bool)) {
        if got != *expected {
            let _ = writeln!(self.0, "{name}: {who}: expected {expected:?}, got {got:?}");
        }
        if leaks {
            let _ = writeln!(
                self.0,
                "{name}: {who}: the error message contains the token"
            );
        }
    }

    #[track_caller]
    fn assert_clean(self) {
        assert!(self.0.is_empty(), "corpus mismatches:\n{}", self.0);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_corpus_covers_issue_6_and_expects_only_stable_codes() {
    let f = fixture();
    let attacks = &f.corpus.attacks;
    assert!(attacks.len() >= 150, "{} attacks", attacks.len());
    let mut names: Vec<&str> = attacks.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "attack names are unique");
    for attack in attacks {
        assert!(
            STABLE_CODES.contains(&attack.code),
            "{}: unknown code {}",
            attack.name,
            attack.code
        );
        assert_eq!(
            attack.beyond_cap.is_some(),
            attack.token.len() > jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES,
            "{}: beyond_cap is set exactly for tokens over the cap",
            attack.name
        );
        if let Some(code) = attack.beyond_cap {
            assert_eq!(attack.code, "token_too_large", "{}", attack.name);
            assert!(STABLE_CODES.contains(&code), "{}: {code}", attack.name);
        }
    }
    // One entry (at least) per item of issue 6's list.
    for required in [
        "alg-none/none/unsigned",
        "alg-none/None/hmac-signed-with-the-issuer-secret",
        "alg-none/NONE/unsigned",
        "alg-none/nOnE/rsa-signed-with-the-issuer-key",
        "empty-signature/rs256",
        "key-confusion/hs256-keyed-with-rsa-pem/kid-of-that-key",
        "key-confusion/hs256-keyed-with-rsa-der/without-kid",
        "key-confusion/hs256-keyed-with-rsa-jwk/without-kid",
        "key-confusion/hs256-keyed-with-ec-pem/kid-of-that-key",
        "key-confusion/hs256-keyed-with-ec-der/without-kid",
        "key-confusion/hs256-keyed-with-ec-jwk/kid-of-the-hmac-key",
        "embedded-jwk/attacker-rsa-without-kid",
        "jku/elsewhere-with-the-attacker-kid",
        "x5u/elsewhere-with-the-issuer-kid",
        "kid/path-traversal-dev-null",
        "kid/sql-union",
        "kid/shell-substitution",
        "kid/empty",
        "kid/ten-thousand-chars",
        "kid/number",
        "kid/object",
        "es256/all-zeros/with-kid",
        "es256/r-equals-n/with-kid",
        "es256/s-equals-n/without-kid",
        "base64url/signature-truncated-by-one-char",
        "base64url/payload-trailing-bits-set",
        "base64url/payload-with-padding",
        "base64url/payload-in-the-standard-alphabet",
        "base64url/signature-in-the-standard-alphabet",
        "segments/four",
        "jwe/rsa-oaep-compact",
        "jwe/rsa-oaep-header-in-a-jws",
        "crit/unknown-extension",
        "time/exp/string",
        "time/nbf/string",
        "time/iat/string",
        "time/exp/expired-fractional",
        "time/exp/negative",
        "time/nbf/huge",
        "time/iat/u64-max-plus-one",
        "time/exp/missing",
        "claims/aud/number",
        "claims/aud/object",
        "claims/aud/array-with-a-number",
        "duplicate/claims-exp-expired-last",
        "duplicate/claims-iss",
        "encoding/payload-invalid-utf8-byte",
        "encoding/payload-utf16le-with-bom",
        "encoding/header-invalid-utf8-byte",
        "encoding/header-utf16le-with-bom",
        "big/10-megabytes",
        "big/100k-dots",
        "deep/header-arrays-10k",
        "deep/claims-arrays-10k",
        "other-issuer-key/with-its-own-kid",
    ] {
        let _ = f.corpus.attack(required);
    }
    let ten_mb = f.corpus.attack("big/10-megabytes");
    assert!(ten_mb.token.len() >= 10_000_000, "{ten_mb:?}");
    assert_eq!(f.corpus.attack("big/100k-dots").token.len(), 100_000);
}

#[test]
fn every_attack_is_rejected_by_the_validator_with_its_code() {
    let f = fixture();
    let v = validator(
        f,
        &f.target.audience,
        jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES,
    );
    let mut report = Report::default();
    for attack in &f.corpus.attacks {
        let expected = Outcome::Rejected(attack.code);
        for round in ["first", "second"] {
            let map = outcome(&attack.token, || v.validate_at(&attack.token, NOW));
            report.check(&format!("validate ({round})"), &attack.name, &expected, map);
            let typed = outcome(&attack.token, || {
                v.validate_as_at::<Value>(&attack.token, NOW)
            });
            report.check(
                &format!("validate_as ({round})"),
                &attack.name,
                &expected,
                typed,
            );
        }
    }
    report.assert_clean();
}

#[test]
fn every_attack_is_rejected_by_the_registry_with_and_without_the_cache() {
    let f = fixture();
    let rt = runtime();
    let cap = jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES;
    let mut report = Report::default();
    for cache in [false, true] {
        let r = registry(f, &f.target.audience, cap, cache);
        for attack in &f.corpus.attacks {
            let expected = Outcome::Rejected(attack.code);
            for round in ["first", "second"] {
                let got = outcome(&attack.token, || {
                    rt.block_on(r.validate_at(&attack.token, NOW))
                });
                report.check(
                    &format!("registry (cache {cache}, {round})"),
                    &attack.name,
                    &expected,
                    got,
                );
            }
        }
    }
    report.assert_clean();
}

#[test]
fn beyond_the_size_cap_the_next_defence_still_rejects() {
    let f = fixture();
    let rt = runtime();
    let v = validator(f, &f.target.audience, LIFTED_CAP);
    let r = registry(f, &f.target.audience, LIFTED_CAP, true);
    let mut report = Report::default();
    let big: Vec<_> = f
        .corpus
        .attacks
        .iter()
        .filter_map(|a| a.beyond_cap.map(|code| (a, code)))
        .collect();
    assert!(big.len() >= 8, "{} entries over the cap", big.len());
    for (attack, code) in big {
        let expected = Outcome::Rejected(code);
        let map = outcome(&attack.token, || v.validate_at(&attack.token, NOW));
        report.check("validate, cap lifted", &attack.name, &expected, map);
        let typed = outcome(&attack.token, || {
            v.validate_as_at::<Value>(&attack.token, NOW)
        });
        report.check("validate_as, cap lifted", &attack.name, &expected, typed);
        let reg = outcome(&attack.token, || {
            rt.block_on(r.validate_at(&attack.token, NOW))
        });
        report.check("registry, cap lifted", &attack.name, &expected, reg);
    }
    report.assert_clean();
}

/// The control: the generator's valid tokens pass every path, so a verifier that refuses
/// everything fails this file.
#[test]
fn the_corpus_controls_are_accepted_everywhere() {
    let f = fixture();
    let rt = runtime();
    let v = validator(
        f,
        &f.target.audience,
        jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES,
    );
    let registries = [
        registry(
            f,
            &f.target.audience,
            jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES,
            false,
        ),
        registry(
            f,
            &f.target.audience,
            jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES,
            true,
        ),
    ];
    let mut report = Report::default();
    assert!(f.corpus.legit.len() >= 4);
    for legit in &f.corpus.legit {
        let token = &legit.token;
        report.check(
            "validate",
            &legit.name,
            &Outcome::Accepted,
            outcome(token, || v.validate_at(token, NOW)),
        );
        report.check(
            "validate_as",
            &legit.name,
            &Outcome::Accepted,
            outcome(token, || v.validate_as_at::<Value>(token, NOW)),
        );
        for r in &registries {
            for round in ["first", "second"] {
                report.check(
                    &format!("{r:?} ({round})"),
                    &legit.name,
                    &Outcome::Accepted,
                    outcome(token, || rt.block_on(r.validate_at(token, NOW))),
                );
            }
        }
    }
    report.assert_clean();
    // The accepted claims are the generator's: the issuer and audience the policy expects.
    let validated = v.validate_at(&f.corpus.legit[0].token, NOW).unwrap();
    assert_eq!(validated.claims["iss"], f.target.issuer.as_str());
    assert_eq!(validated.claims["aud"], f.target.audience.as_str());
}

/// A token verified (and cached) under a policy requiring audience X is refused by a policy
/// requiring audience Y, whichever was asked first and however often.
#[test]
fn a_valid_token_replayed_against_another_audience_is_refused_cache_or_not() {
    let f = fixture();
    let rt = runtime();
    let replay = &f.corpus.replay;
    let cap = jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES;
    let for_x = registry(f, &replay.audience, cap, true);
    let for_y = registry(f, &replay.other_audience, cap, true);
    let token = replay.token.as_str();
    for _ in 0..2 {
        let validated = rt
            .block_on(for_x.validate_at(token, NOW))
            .expect("audience X");
        assert_eq!(validated.issuer.as_deref(), Some("a"));
        for verifier in [&for_y, &for_x, &for_y] {
            let got = rt.block_on(verifier.validate_at(token, NOW));
            if std::ptr::eq(verifier, &for_x) {
                assert!(got.is_ok(), "audience X still accepts");
            } else {
                assert_eq!(got.unwrap_err().code(), replay.code, "audience Y");
            }
        }
        let plain = validator(f, &replay.other_audience, cap);
        assert_eq!(
            plain.validate_at(token, NOW).unwrap_err().code(),
            replay.code
        );
    }
    // A cached verdict also ends with the token: past exp the same registry refuses it.
    let later = NOW + 600 + 61;
    assert_eq!(
        rt.block_on(for_x.validate_at(token, later))
            .unwrap_err()
            .code(),
        "expired"
    );
}
