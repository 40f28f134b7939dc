//! jsonwebtoken as the reference: the same tokens go to jwtkit and to `jsonwebtoken::decode`
//! (both on aws-lc-rs, with the same checks: signature, `alg` allow-list, `iss`, `aud`, `exp`
//! required, `nbf` when present, 60 s leeway), and every verdict must be the same.
//!
//! jwtkit is exercised through every path that can give a verdict: `Validator::validate`,
//! `Validator::validate_as` (which reads claims straight from the payload), and a `Registry`
//! with and without the verified-token cache, each token twice so a second answer can come from
//! the cache. Where the two libraries deliberately differ, the difference is pinned in
//! `known_differences_are_deliberate` rather than left out silently.

use std::sync::OnceLock;

use jwtkit_keys::keygen::{self, GeneratedKeyPair};
use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey, b64};
use jwtkit_secret::Secret;
use jwtkit_verify::{IssuerConfig, KeySource, Policy, Registry, Validator};
use serde_json::{Value, json};

const ISS: &str = "https://issuer.differential.example";
const AUD: &str = "differential-api";
const SECRET: &[u8; 32] = b"differential-secret-0123456789ab";

fn now() -> i64 {
    jwtkit_verify::now()
}

/// One algorithm's keys on both sides, plus a second key of the same algorithm.
struct Party {
    alg: Algorithm,
    signer: SigningKey,
    other_signer: SigningKey,
    verifying: VerifyingKey,
    jwt_encoding: jsonwebtoken::EncodingKey,
    jwt_decoding: jsonwebtoken::DecodingKey,
    pair: Option<&'static GeneratedKeyPair>,
}

fn pair(alg: Algorithm) -> &'static GeneratedKeyPair {
    static RSA: OnceLock<GeneratedKeyPair> = OnceLock::new();
    static EC: OnceLock<GeneratedKeyPair> = OnceLock::new();
    static ED: OnceLock<GeneratedKeyPair> = OnceLock::new();
    let cell = match alg {
        Algorithm::RS256 => &RSA,
        Algorithm::ES256 => &EC,
        _ => &ED,
    };
    cell.get_or_init(|| keygen::generate(alg, 2048).unwrap())
}

fn other_pair(alg: Algorithm) -> &'static GeneratedKeyPair {
    static RSA: OnceLock<GeneratedKeyPair> = OnceLock::new();
    static EC: OnceLock<GeneratedKeyPair> = OnceLock::new();
    static ED: OnceLock<GeneratedKeyPair> = OnceLock::new();
    let cell = match alg {
        Algorithm::RS256 => &RSA,
        Algorithm::ES256 => &EC,
        _ => &ED,
    };
    cell.get_or_init(|| keygen::generate(alg, 2048).unwrap())
}

impl Party {
    fn new(alg: Algorithm) -> Self {
        if alg == Algorithm::HS256 {
            let secret = Secret::from_bytes(SECRET.to_vec()).unwrap();
            return Self {
                alg,
                signer: SigningKey::hmac(alg, &secret).unwrap(),
                other_signer: SigningKey::hmac(alg, &Secret::generate(32).unwrap()).unwrap(),
                verifying: VerifyingKey::hmac(&secret).unwrap(),
                jwt_encoding: jsonwebtoken::EncodingKey::from_secret(SECRET),
                jwt_decoding: jsonwebtoken::DecodingKey::from_secret(SECRET),
                pair: None,
            };
        }
        let pair = pair(alg);
        let pem = pair.private_pem.as_bytes();
        let jwt_encoding = match alg {
            Algorithm::RS256 => jsonwebtoken::EncodingKey::from_rsa_pem(pem),
            Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(pem),
            _ => jsonwebtoken::EncodingKey::from_ed_pem(pem),
        }
        .unwrap();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(&pair.public_jwk).unwrap()).unwrap();
        Self {
            alg,
            signer: SigningKey::from_pem(Some(alg), &pair.private_pem).unwrap(),
            other_signer: SigningKey::from_pem(Some(alg), &other_pair(alg).private_pem).unwrap(),
            // Without the JWK's kid: jsonwebtoken with one key never looks at kids.
            verifying: VerifyingKey::from_jwk(&pair.public_jwk)
                .unwrap()
                .with_kid(None),
            jwt_encoding,
            jwt_decoding: jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            pair: Some(pair),
        }
    }

    fn policy(&self) -> Policy {
        Policy {
            issuers: vec![ISS.into()],
            audiences: vec![AUD.into()],
            algorithms: vec![self.alg],
            leeway_seconds: 60,
            ..Policy::default()
        }
    }

    fn validation(&self) -> jsonwebtoken::Validation {
        let mut validation =
            jsonwebtoken::Validation::new(self.alg.name().parse().expect("jsonwebtoken alg"));
        validation.set_issuer(&[ISS]);
        validation.set_audience(&[AUD]);
        // jwtkit requires iss and aud whenever it checks them; jsonwebtoken only when told.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        // jwtkit checks nbf whenever it is present.
        validation.validate_nbf = true;
        validation.leeway = 60;
        validation
    }

    fn header(&self) -> String {
        json!({"alg": self.alg.name(), "typ": "JWT"}).to_string()
    }

    /// `header` and `payload`, byte for byte, signed with `key`.
    fn sign_raw_with(key: &SigningKey, header: &str, payload: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(payload)
        );
        let signature = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(&signature))
    }

    fn sign_raw(&self, header: &str, payload: &[u8]) -> String {
        Self::sign_raw_with(&self.signer, header, payload)
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&self.header(), claims.to_string().as_bytes())
    }
}

fn claims() -> Value {
    let now = now();
    json!({
        "iss": ISS,
        "sub": "alice",
        "aud": AUD,
        "iat": now - 10,
        "exp": now + 600,
        "scope": "read write",
        "nested": {"a": [1, 2, {"b": null}]},
    })
}

fn with(name: &str, value: Value) -> Value {
    let mut claims = claims();
    claims[name] = value;
    claims
}

fn without(name: &str) -> Value {
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove(name);
    claims
}

/// Replaces the character at `index` of segment `segment` with another base64url character
/// (not the last character, so the encoding stays canonical).
fn tamper(token: &str, segment: usize, index: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[segment] = replace_char(&parts[segment], index);
    parts.join(".")
}

fn replace_char(segment: &str, index: usize) -> String {
    let mut chars: Vec<char> = segment.chars().collect();
    chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// The cases every algorithm gets: (name, token, expected verdict).
fn cases(party: &Party, others: &[Party]) -> Vec<(String, String, bool)> {
    let now = now();
    let header = party.header();
    let valid = party.sign(&claims());
    let [h, p, s]: [&str; 3] = valid
        .split('.')
        .collect::<Vec<_>>()
        .try_into()
        .expect("three segments");
    let mut cases: Vec<(String, String, bool)> = vec![
        ("valid".into(), valid.clone(), true),
        (
            "valid, minted by jsonwebtoken".into(),
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(party.alg.name().parse().unwrap()),
                &claims(),
                &party.jwt_encoding,
            )
            .unwrap(),
            true,
        ),
        (
            "valid, aud array containing ours".into(),
            party.sign(&with("aud", json!(["other", AUD]))),
            true,
        ),
        (
            // Decoded on the heap, past the typed path's stack buffer (2 KiB).
            "valid, a 3 KB claim".into(),
            party.sign(&with("bio", json!("x".repeat(3000)))),
            true,
        ),
        (
            "valid, nbf in the past".into(),
            party.sign(&with("nbf", json!(now - 30))),
            true,
        ),
        (
            "valid, exp within the leeway".into(),
            party.sign(&with("exp", json!(now - 20))),
            true,
        ),
        (
            "valid, nbf within the leeway".into(),
            party.sign(&with("nbf", json!(now + 20))),
            true,
        ),
        (
            "bad signature (changed byte)".into(),
            tamper(&valid, 2, 5),
            false,
        ),
        (
            "payload changed after signing".into(),
            tamper(&valid, 1, 10),
            false,
        ),
        (
            "header changed after signing".into(),
            format!(
                "{}.{p}.{s}",
                b64::encode(
                    json!({"alg": party.alg.name(), "typ": "JWT", "x": 1})
                        .to_string()
                        .as_bytes()
                )
            ),
            false,
        ),
        (
            "signed by another key".into(),
            Party::sign_raw_with(
                &party.other_signer,
                &header,
                claims().to_string().as_bytes(),
            ),
            false,
        ),
        ("empty signature".into(), format!("{h}.{p}."), false),
        (
            "expired".into(),
            party.sign(&with("exp", json!(now - 3600))),
            false,
        ),
        (
            "expired long ago (negative exp)".into(),
            party.sign(&with("exp", json!(-1))),
            false,
        ),
        ("exp missing".into(), party.sign(&without("exp")), false),
        (
            "exp not a number".into(),
            party.sign(&with("exp", json!((now + 600).to_string()))),
            false,
        ),
        (
            "nbf in the future".into(),
            party.sign(&with("nbf", json!(now + 3600))),
            false,
        ),
        (
            "nbf not a number".into(),
            party.sign(&with("nbf", json!("soon"))),
            false,
        ),
        (
            "wrong aud".into(),
            party.sign(&with("aud", json!("other-api"))),
            false,
        ),
        (
            "aud array without ours".into(),
            party.sign(&with("aud", json!(["a", "b"]))),
            false,
        ),
        ("aud missing".into(), party.sign(&without("aud")), false),
        (
            "aud not a string".into(),
            party.sign(&with("aud", json!(42))),
            false,
        ),
        (
            "wrong iss".into(),
            party.sign(&with("iss", json!("https://evil.example"))),
            false,
        ),
        ("iss missing".into(), party.sign(&without("iss")), false),
        (
            "iss not a string".into(),
            party.sign(&with("iss", json!(7))),
            false,
        ),
        (
            "alg none, no signature".into(),
            format!("{}.{p}.", b64::encode(br#"{"alg":"none","typ":"JWT"}"#)),
            false,
        ),
        (
            "alg none, signature kept".into(),
            format!("{}.{p}.{s}", b64::encode(br#"{"alg":"none","typ":"JWT"}"#)),
            false,
        ),
        (
            "alg unknown".into(),
            party.sign_raw(
                r#"{"alg":"HS999","typ":"JWT"}"#,
                claims().to_string().as_bytes(),
            ),
            false,
        ),
        (
            "alg missing".into(),
            party.sign_raw(r#"{"typ":"JWT"}"#, claims().to_string().as_bytes()),
            false,
        ),
        ("two segments".into(), format!("{h}.{p}"), false),
        ("one segment".into(), h.to_owned(), false),
        ("empty token".into(), String::new(), false),
        ("four segments".into(), format!("{valid}.{s}"), false),
        (
            "five segments (JWE shape)".into(),
            format!("{h}.{p}.{s}.{s}.{s}"),
            false,
        ),
        ("trailing dot".into(), format!("{valid}."), false),
        (
            "padding on the signature".into(),
            format!("{valid}="),
            false,
        ),
        (
            "'+' (standard alphabet) in the signature".into(),
            format!("{h}.{p}.+{}", &s[1..]),
            false,
        ),
        (
            "'/' (standard alphabet) in the payload".into(),
            format!("{h}./{}.{s}", &p[1..]),
            false,
        ),
        (
            "space inside the payload".into(),
            format!("{h}.{} {}.{s}", &p[..8], &p[8..]),
            false,
        ),
        (
            "non-alphabet byte in the header".into(),
            format!("{}*.{p}.{s}", &h[..h.len() - 1]),
            false,
        ),
        (
            "duplicate registered claim (sub)".into(),
            {
                let body = claims().to_string();
                let inner = &body[1..body.len() - 1];
                party.sign_raw(
                    &header,
                    format!(r#"{{{inner},"sub":"mallory"}}"#).as_bytes(),
                )
            },
            false,
        ),
        (
            "duplicate header member (typ)".into(),
            party.sign_raw(
                &format!(r#"{{"alg":"{}","typ":"JWT","typ":"JWT"}}"#, party.alg),
                claims().to_string().as_bytes(),
            ),
            false,
        ),
        (
            "payload not JSON".into(),
            party.sign_raw(&header, b"not json"),
            false,
        ),
        (
            "payload a JSON array".into(),
            party.sign_raw(&header, b"[1,2]"),
            false,
        ),
        (
            "header not JSON".into(),
            party.sign_raw("{alg:", claims().to_string().as_bytes()),
            false,
        ),
    ];
    // Another algorithm's token: refused by the allow-list on both sides.
    for other in others.iter().filter(|o| o.alg != party.alg) {
        cases.push((format!("{} token", other.alg), other.sign(&claims()), false));
    }
    // Algorithm confusion: an HS256 token whose secret is the public key.
    if let Some(pair) = party.pair {
        let secret = Secret::from_bytes(pair.public_pem.as_bytes().to_vec()).unwrap();
        let confused = SigningKey::hmac(Algorithm::HS256, &secret).unwrap();
        cases.push((
            "HS256 signed with the public key as secret".into(),
            Party::sign_raw_with(
                &confused,
                r#"{"alg":"HS256","typ":"JWT"}"#,
                claims().to_string().as_bytes(),
            ),
            false,
        ));
        // The same key under the same family's other algorithm.
        if party.alg == Algorithm::RS256 {
            let ps256 = SigningKey::from_pem(Some(Algorithm::PS256), &pair.private_pem).unwrap();
            cases.push((
                "PS256 from the same RSA key".into(),
                Party::sign_raw_with(
                    &ps256,
                    r#"{"alg":"PS256","typ":"JWT"}"#,
                    claims().to_string().as_bytes(),
                ),
                false,
            ));
        }
    }
    if party.alg == Algorithm::HS256 {
        // 32-byte MAC: 43 characters, the last one carries 4 unused bits.
        let last = s.chars().last().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let value = alphabet.find(last).unwrap();
        let stray = alphabet.as_bytes()[value | 1] as char;
        cases.push((
            "non-canonical trailing bits in the signature".into(),
            format!("{h}.{p}.{}{stray}", &s[..s.len() - 1]),
            false,
        ));
    }
    cases
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn same_tokens_same_verdicts() {
    let parties: Vec<Party> = [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .map(Party::new)
    .collect();
    let rt = runtime();
    let mut checked = 0;
    for party in &parties {
        let validator = Validator::new(vec![party.verifying.clone()], party.policy());
        let config = || IssuerConfig {
            name: "differential".into(),
            issuers: vec![ISS.into()],
            keys: KeySource::Static(vec![party.verifying.clone()]),
            policy: party.policy(),
        };
        let registry = Registry::new(vec![config()]).unwrap();
        let cached = Registry::new(vec![config()]).unwrap().with_token_cache(100);
        let validation = party.validation();
        for (name, token, expected) in cases(party, &parties) {
            let reference = jsonwebtoken::decode::<Value>(&token, &party.jwt_decoding, &validation);
            let ours = validator.validate(&token);
            let typed = validator.validate_as::<Value>(&token);
            let context = format!(
                "{} / {name}: jsonwebtoken {:?}, jwtkit {:?}",
                party.alg,
                reference.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                ours.as_ref().map(|_| ()).map_err(|e| e.code()),
            );
            assert_eq!(reference.is_ok(), expected, "reference verdict: {context}");
            assert_eq!(ours.is_ok(), reference.is_ok(), "Validator: {context}");
            assert_eq!(
                typed.as_ref().err().map(|e| e.code()),
                ours.as_ref().err().map(|e| e.code()),
                "validate_as: {context}"
            );
            if let (Ok(ours), Ok(typed), Ok(reference)) = (&ours, &typed, &reference) {
                assert_eq!(
                    Value::Object(ours.claims.map().clone()),
                    reference.claims,
                    "{context}"
                );
                assert_eq!(typed.claims, reference.claims, "{context}");
            }
            // A Registry reads `iss` before the signature (to route), so its error code can
            // differ from the Validator's (malformed instead of bad_signature); the verdict not.
            for registry in [&registry, &cached, &cached] {
                let verdict = rt.block_on(registry.validate(&token));
                assert_eq!(verdict.is_ok(), ours.is_ok(), "Registry: {context}");
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} cases ran");
}

/// With no audience configured, jsonwebtoken (whose `validate_aud` is on by default) refuses a
/// token that carries `aud`, as RFC 7519 §4.1.3 asks; jwtkit's default is the same, and both
/// accept such a token only when told to ignore the audience.
#[test]
fn without_a_configured_audience_the_verdicts_agree() {
    let party = Party::new(Algorithm::HS256);
    let strict = Policy {
        audiences: Vec::new(),
        ..party.policy()
    };
    let mut validation = party.validation();
    validation.aud = None;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let cases = [
        ("aud string", party.sign(&claims()), false),
        (
            "aud array",
            party.sign(&with("aud", json!(["a", AUD]))),
            false,
        ),
        (
            "aud empty array",
            party.sign(&with("aud", json!([]))),
            false,
        ),
        ("no aud", party.sign(&without("aud")), true),
    ];
    let rt = runtime();
    let registry = Registry::new(vec![IssuerConfig {
        name: "differential".into(),
        issuers: vec![ISS.into()],
        keys: KeySource::Static(vec![party.verifying.clone()]),
        policy: strict.clone(),
    }])
    .unwrap();
    let validator = Validator::new(vec![party.verifying.clone()], strict);
    for (name, token, accepted) in &cases {
        let reference = jsonwebtoken::decode::<Value>(token, &party.jwt_decoding, &validation);
        assert_eq!(reference.is_ok(), *accepted, "jsonwebtoken: {name}");
        let ours = validator.validate(token).map(|_| ()).map_err(|e| e.code());
        let expected = if *accepted {
            Ok(())
        } else {
            Err("audience_mismatch")
        };
        assert_eq!(ours, expected, "Validator: {name}");
        assert_eq!(
            rt.block_on(registry.validate(token))
                .map(|_| ())
                .map_err(|e| e.code()),
            expected,
            "Registry: {name}"
        );
    }
    // Told to ignore the audience, both accept every case.
    let loose = Validator::new(
        vec![party.verifying.clone()],
        Policy {
            audiences: Vec::new(),
            accept_any_audience: true,
            ..party.policy()
        },
    );
    validation.validate_aud = false;
    for (name, token, _) in &cases {
        assert!(
            jsonwebtoken::decode::<Value>(token, &party.jwt_decoding, &validation).is_ok(),
            "jsonwebtoken without validate_aud: {name}"
        );
        assert!(loose.validate(token).is_ok(), "accept_any_audience: {name}");
    }
}

/// Where jwtkit is stricter than jsonwebtoken on purpose: each case is refused by jwtkit and
/// accepted by jsonwebtoken. If jsonwebtoken starts refusing one, the list can shrink.
#[test]
fn known_differences_are_deliberate() {
    let party = Party::new(Algorithm::HS256);
    let validator = Validator::new(vec![party.verifying.clone()], party.policy());
    let validation = party.validation();
    let now = now();
    let body = claims().to_string();
    let inner = &body[1..body.len() - 1];
    let differences = [
        (
            // RFC 7515 §5.2 lets a verifier refuse duplicates; "last one wins" is how two
            // parsers come to disagree about what a token says. (jsonwebtoken refuses duplicate
            // registered claims, see the shared cases, but not others.)
            "duplicate private claim name",
            party.sign_raw(
                &party.header(),
                format!(r#"{{{inner},"scope":"admin"}}"#).as_bytes(),
            ),
            "malformed",
        ),
        (
            "duplicate unregistered header member",
            party.sign_raw(
                r#"{"alg":"HS256","typ":"JWT","x-ext":1,"x-ext":2}"#,
                body.as_bytes(),
            ),
            "malformed",
        ),
        (
            // RFC 7515 §4.1.11: an unknown critical extension must be refused.
            "crit header",
            party.sign_raw(
                r#"{"alg":"HS256","typ":"JWT","crit":["x-ext"],"x-ext":1}"#,
                body.as_bytes(),
            ),
            "unsupported_crit",
        ),
        (
            // jsonwebtoken does not read iat; jwtkit refuses one beyond the leeway.
            "iat in the future",
            party.sign(&with("iat", json!(now + 3600))),
            "issued_in_future",
        ),
        (
            // RFC 7519 §4.1.1: iss is a StringOrURI, a single value.
            "iss as an array",
            party.sign(&with("iss", json!([ISS]))),
            "invalid_claim",
        ),
    ];
    for (name, token, code) in differences {
        assert_eq!(
            validator.validate(&token).map(|_| ()).map_err(|e| e.code()),
            Err(code),
            "{name}"
        );
        assert!(
            jsonwebtoken::decode::<Value>(&token, &party.jwt_decoding, &validation).is_ok(),
            "{name}: jsonwebtoken now refuses it too; move it to the shared cases"
        );
    }
    // RFC 7519 §4.1.4: the token must not be accepted on or after exp (+ leeway); jsonwebtoken
    // still accepts it during that very second. Retried if the clock ticks in between.
    let boundary_differs = (0..5).any(|_| {
        let at = jwtkit_verify::now();
        let token = party.sign(&with("exp", json!(at - 60)));
        let ours = validator
            .validate_at(&token, at)
            .map(|_| ())
            .map_err(|e| e.code());
        let reference = jsonwebtoken::decode::<Value>(&token, &party.jwt_decoding, &validation);
        jwtkit_verify::now() == at && ours == Err("expired") && reference.is_ok()
    });
    assert!(boundary_differs, "exp at the leeway boundary");
}
