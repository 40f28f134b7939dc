//! Every rejection rule of the validator, through `Validator::validate_at` at a fixed time, with
//! the exact stable error code. Valid tokens come from `jwtkit_mint::Minter`; hostile ones are
//! built by hand with `b64` and `SigningKey::sign`, so each test controls every byte.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jwtkit_keys::keygen::{self, GeneratedKeyPair};
use jwtkit_keys::{Algorithm, Jwk, SigningKey, VerifyingKey, b64};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use jwtkit_verify::{Policy, Validator};
use serde_json::{Value, json};

const NOW: i64 = 1_700_000_000;

/// The P-256 group order n.
const P256_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// ---------------------------------------------------------------------------------------------
// Keys and token builders

/// The issuer's RSA key pair, generated once (RSA generation is slow in debug builds).
fn rsa() -> &'static GeneratedKeyPair {
    static KEY: OnceLock<GeneratedKeyPair> = OnceLock::new();
    KEY.get_or_init(|| keygen::generate(Algorithm::RS256, 2048).unwrap())
}

fn ec256() -> GeneratedKeyPair {
    keygen::generate(Algorithm::ES256, 0).unwrap()
}

/// A signer for `pair` with `alg`, carrying the pair's `kid` (its RFC 7638 thumbprint).
fn signer(pair: &GeneratedKeyPair, alg: Algorithm) -> SigningKey {
    SigningKey::from_pem(Some(alg), &pair.private_pem)
        .unwrap()
        .with_kid(pair.public_jwk.kid.clone())
}

/// The public JWK as published: `kid`, `alg`, `use: sig`.
fn verifier(pair: &GeneratedKeyPair) -> VerifyingKey {
    VerifyingKey::from_jwk(&pair.public_jwk).unwrap()
}

fn kid(pair: &GeneratedKeyPair) -> &str {
    pair.public_jwk.kid.as_deref().unwrap()
}

fn hmac_signer(kid: Option<&str>) -> SigningKey {
    SigningKey::hmac(Algorithm::HS256, &Secret::generate(32).unwrap())
        .unwrap()
        .with_kid(kid.map(str::to_owned))
}

fn validator(keys: Vec<VerifyingKey>) -> Validator {
    Validator::new(keys, Policy::default())
}

fn claims() -> Value {
    json!({"sub": "alice", "iat": NOW - 10, "exp": NOW + 600})
}

fn mint(key: SigningKey, claims: &Value) -> String {
    Minter::new(key).mint(claims).unwrap()
}

/// Signs exactly `header` and `payload`, byte for byte.
fn sign_raw(key: &SigningKey, header: &str, payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload)
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(&signature))
}

/// `header` and `payload` with an arbitrary signature.
fn with_signature(header: &str, payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload),
        b64::encode(signature)
    )
}

fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().expect("three segments")
}

/// The error code, failing the test if the token is accepted.
#[track_caller]
fn code(validator: &Validator, token: &str) -> &'static str {
    match validator.validate_at(token, NOW) {
        Ok(validated) => panic!(
            "token accepted (header {:?}, claims {:?})",
            validated.header, validated.claims
        ),
        Err(err) => err.code(),
    }
}

#[track_caller]
fn accept(validator: &Validator, token: &str) {
    if let Err(err) = validator.validate_at(token, NOW) {
        panic!("baseline token refused: {err} ({})", err.code());
    }
}

/// Sets the lowest unused bit of the final character: the bytes a lenient decoder returns are
/// unchanged, but the encoding is no longer canonical (RFC 4648 §3.5).
fn with_stray_bits(segment: &str) -> String {
    let unused_bits = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        _ => panic!("a segment of length {} has no unused bits", segment.len()),
    };
    let (head, last) = segment.split_at(segment.len() - 1);
    let value = BASE64URL
        .iter()
        .position(|&c| c == last.as_bytes()[0])
        .unwrap();
    assert_eq!(
        value & ((1 << unused_bits) - 1),
        0,
        "canonical input expected"
    );
    format!("{head}{}", BASE64URL[value | 1] as char)
}

// ---------------------------------------------------------------------------------------------
// Baseline: the fixtures below are valid unless a test breaks them on purpose

#[test]
fn baseline_tokens_of_every_fixture_are_accepted() {
    let rsa = rsa();
    let ec = ec256();
    let hmac = hmac_signer(Some("h"));
    let keys = vec![verifier(rsa), verifier(&ec), hmac.verifying_key().unwrap()];
    let v = validator(keys);
    accept(&v, &mint(signer(rsa, Algorithm::RS256), &claims()));
    accept(&v, &mint(signer(&ec, Algorithm::ES256), &claims()));
    accept(&v, &mint(hmac, &claims()));
    let header = format!(r#"{{"alg":"ES256","kid":"{}"}}"#, kid(&ec));
    accept(
        &v,
        &sign_raw(
            &signer(&ec, Algorithm::ES256),
            &header,
            claims().to_string().as_bytes(),
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// alg: none

#[test]
fn alg_none_in_any_spelling_is_alg_not_allowed_with_or_without_a_signature() {
    let hmac = hmac_signer(Some("h"));
    let rsa = rsa();
    let v = validator(vec![hmac.verifying_key().unwrap(), verifier(rsa)]);
    let payload = claims().to_string();
    for spelling in ["none", "None", "NONE", "nOnE"] {
        for header in [
            format!(r#"{{"alg":"{spelling}","typ":"JWT"}}"#),
            format!(r#"{{"alg":"{spelling}","kid":"h"}}"#),
            format!(r#"{{"alg":"{spelling}"}}"#),
        ] {
            let unsigned = format!(
                "{}.{}.",
                b64::encode(header.as_bytes()),
                b64::encode(payload.as_bytes())
            );
            assert_eq!(
                code(&v, &unsigned),
                "alg_not_allowed",
                "{header}, empty signature"
            );
            // A real HMAC over the signing input does not make `none` acceptable either.
            let signed = sign_raw(&hmac, &header, payload.as_bytes());
            assert_eq!(code(&v, &signed), "alg_not_allowed", "{header}, signed");
            let garbage = with_signature(&header, payload.as_bytes(), b"not a signature");
            assert_eq!(code(&v, &garbage), "alg_not_allowed", "{header}, garbage");
            // Without the third segment at all it is not even a JWS.
            let two = unsigned.trim_end_matches('.');
            assert_eq!(code(&v, two), "malformed", "{header}, two segments");
        }
    }
}

#[test]
fn unknown_or_miscased_alg_is_alg_not_allowed() {
    let hmac = hmac_signer(None);
    let v = validator(vec![hmac.verifying_key().unwrap()]);
    for alg in ["hs256", "HS257", "HS256 ", "", "ES256K", "RSA-OAEP", "dir"] {
        let header = format!(r#"{{"alg":"{alg}"}}"#);
        let token = sign_raw(&hmac, &header, claims().to_string().as_bytes());
        assert_eq!(code(&v, &token), "alg_not_allowed", "{alg:?}");
    }
    let token = sign_raw(&hmac, r#"{"alg":["HS256"]}"#, b"{}");
    assert_eq!(code(&v, &token), "malformed");
}

// ---------------------------------------------------------------------------------------------
// RS/HS key confusion

/// PEM text to DER bytes, with only the crate's base64url decoder.
fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let url = body
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    b64::decode(&url).unwrap()
}

/// HS256 tokens whose HMAC key is the issuer's RSA public key as an attacker can obtain it.
fn confused_tokens(rsa: &GeneratedKeyPair, kid: Option<&str>) -> Vec<(&'static str, String)> {
    let der = pem_to_der(&rsa.public_pem);
    assert!(
        VerifyingKey::from_public_der(&der).is_ok(),
        "DER is the key"
    );
    let jwk_json = serde_json::to_string(&rsa.public_jwk).unwrap();
    let header = match kid {
        Some(kid) => format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#),
        None => r#"{"alg":"HS256","typ":"JWT"}"#.to_owned(),
    };
    let forms: [(&str, Vec<u8>); 4] = [
        ("PEM text", rsa.public_pem.as_bytes().to_vec()),
        (
            "PEM text, trimmed",
            rsa.public_pem.trim().as_bytes().to_vec(),
        ),
        ("DER bytes", der),
        ("JWK JSON text", jwk_json.into_bytes()),
    ];
    forms
        .into_iter()
        .map(|(label, key_bytes)| {
            let key = SigningKey::hmac(Algorithm::HS256, &Secret::from_bytes(key_bytes).unwrap())
                .unwrap();
            (
                label,
                sign_raw(&key, &header, claims().to_string().as_bytes()),
            )
        })
        .collect()
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_is_alg_not_allowed() {
    let rsa = rsa();
    let mut without_alg = rsa.public_jwk.clone();
    without_alg.alg = None;
    let holders: [(&str, VerifyingKey); 4] = [
        ("PEM", VerifyingKey::from_pem(&rsa.public_pem).unwrap()),
        (
            "DER",
            VerifyingKey::from_public_der(&pem_to_der(&rsa.public_pem)).unwrap(),
        ),
        ("JWK with alg", verifier(rsa)),
        (
            "JWK without alg",
            VerifyingKey::from_jwk(&without_alg).unwrap(),
        ),
    ];
    for (holder, key) in holders {
        let v = validator(vec![key]);
        let baseline = signer(rsa, Algorithm::RS256).with_kid(None);
        accept(&v, &mint(baseline, &claims()));
        for (form, token) in confused_tokens(rsa, None) {
            assert_eq!(code(&v, &token), "alg_not_allowed", "{holder} key, {form}");
        }
        if holder.starts_with("JWK") {
            // Naming the RSA key by kid does not make it an HMAC secret either.
            for (form, token) in confused_tokens(rsa, Some(kid(rsa))) {
                assert_eq!(code(&v, &token), "alg_not_allowed", "{holder}, kid, {form}");
            }
        }
    }
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_is_bad_signature_next_to_an_hmac_secret() {
    let rsa = rsa();
    let other_secret = hmac_signer(Some("hmac-1"));
    let v = validator(vec![verifier(rsa), other_secret.verifying_key().unwrap()]);
    accept(&v, &mint(signer(rsa, Algorithm::RS256), &claims()));
    accept(&v, &mint(other_secret, &claims()));
    for (form, token) in confused_tokens(rsa, None) {
        assert_eq!(code(&v, &token), "bad_signature", "no kid, {form}");
    }
    for (form, token) in confused_tokens(rsa, Some(kid(rsa))) {
        assert_eq!(code(&v, &token), "alg_not_allowed", "RSA kid, {form}");
    }
    for (form, token) in confused_tokens(rsa, Some("hmac-1")) {
        assert_eq!(code(&v, &token), "bad_signature", "HMAC kid, {form}");
    }
}

// ---------------------------------------------------------------------------------------------
// Keys named by the token: jwk, jku, x5u, x5c are never used

#[test]
fn embedded_jwk_jku_and_x5u_headers_never_supply_the_key() {
    let issuer = ec256();
    let attacker = ec256();
    let forge = signer(&attacker, Algorithm::ES256);
    let v = validator(vec![verifier(&issuer)]);
    let attacker_jwk = serde_json::to_value(&attacker.public_jwk).unwrap();
    let payload = claims().to_string();
    let cases = [
        (
            json!({"alg": "ES256", "jwk": attacker_jwk}),
            "bad_signature",
        ),
        (
            json!({"alg": "ES256", "jwk": attacker_jwk, "kid": kid(&issuer)}),
            "bad_signature",
        ),
        (
            json!({"alg": "ES256", "jwk": attacker_jwk, "kid": kid(&attacker)}),
            "unknown_kid",
        ),
        (
            json!({"alg": "ES256", "jku": "https://attacker.example/jwks.json"}),
            "bad_signature",
        ),
        (
            json!({"alg": "ES256", "jku": "https://attacker.example/jwks.json", "kid": kid(&attacker)}),
            "unknown_kid",
        ),
        (
            json!({"alg": "ES256", "jku": "https://attacker.example/jwks.json", "kid": kid(&issuer)}),
            "bad_signature",
        ),
        (
            json!({"alg": "ES256", "x5u": "https://attacker.example/cert.pem"}),
            "bad_signature",
        ),
        (
            json!({"alg": "ES256", "x5u": "https://attacker.example/cert.pem", "kid": kid(&attacker)}),
            "unknown_kid",
        ),
        (
            json!({"alg": "ES256", "x5c": ["MIIBszCCAVmgAwIBAgIUattacker"]}),
            "bad_signature",
        ),
    ];
    for (header, expected) in cases {
        let token = sign_raw(&forge, &header.to_string(), payload.as_bytes());
        assert_eq!(code(&v, &token), expected, "{header}");
    }
}

#[test]
fn embedded_oct_jwk_never_supplies_an_hmac_secret() {
    let rsa = rsa();
    let secret = Secret::generate(32).unwrap();
    let forge = SigningKey::hmac(Algorithm::HS256, &secret).unwrap();
    let header = json!({
        "alg": "HS256",
        "jwk": {"kty": "oct", "k": b64::encode(secret.expose_bytes())},
    })
    .to_string();
    let token = sign_raw(&forge, &header, claims().to_string().as_bytes());
    assert_eq!(
        code(&validator(vec![verifier(rsa)]), &token),
        "alg_not_allowed"
    );
    let issuer_secret = hmac_signer(None).verifying_key().unwrap();
    assert_eq!(
        code(&validator(vec![issuer_secret]), &token),
        "bad_signature"
    );
}

// ---------------------------------------------------------------------------------------------
// kid

#[test]
fn unknown_kid_is_unknown_kid() {
    let ec = ec256();
    let v = validator(vec![verifier(&ec), verifier(rsa())]);
    let key = signer(&ec, Algorithm::ES256).with_kid(Some("no-such-key".into()));
    assert_eq!(code(&v, &mint(key, &claims())), "unknown_kid");
    let empty = signer(&ec, Algorithm::ES256).with_kid(Some(String::new()));
    assert_eq!(code(&v, &mint(empty, &claims())), "unknown_kid");
}

#[test]
fn kid_of_a_key_of_another_kind_is_alg_not_allowed() {
    let rsa = rsa();
    let ec = ec256();
    let hmac = hmac_signer(Some("hmac-kid"));
    let v = validator(vec![
        verifier(rsa),
        verifier(&ec),
        hmac.verifying_key().unwrap(),
    ]);
    let ec_as_rsa = signer(&ec, Algorithm::ES256).with_kid(Some(kid(rsa).into()));
    assert_eq!(code(&v, &mint(ec_as_rsa, &claims())), "alg_not_allowed");
    let hmac_as_ec = hmac_signer(Some(kid(&ec)));
    assert_eq!(code(&v, &mint(hmac_as_ec, &claims())), "alg_not_allowed");
    let rsa_as_hmac = signer(rsa, Algorithm::RS256).with_kid(Some("hmac-kid".into()));
    assert_eq!(code(&v, &mint(rsa_as_hmac, &claims())), "alg_not_allowed");
}

#[test]
fn hostile_kids_are_unknown_kid_with_a_clipped_message() {
    let ec = ec256();
    let v = validator(vec![verifier(&ec)]);
    let long = "k".repeat(10_000);
    let long_traversal = "../".repeat(3_000) + "etc/passwd";
    let kids = [
        "../../../../../../etc/passwd",
        "/dev/null",
        "..\\..\\..\\windows\\win.ini",
        "file:///etc/passwd",
        "' OR '1'='1' --",
        "x'; DROP TABLE keys; --",
        "1 UNION SELECT key FROM secrets",
        long.as_str(),
        long_traversal.as_str(),
    ];
    for hostile in kids {
        let token = mint(
            signer(&ec, Algorithm::ES256).with_kid(Some(hostile.to_owned())),
            &claims(),
        );
        let err = v.validate_at(&token, NOW).unwrap_err();
        assert_eq!(
            err.code(),
            "unknown_kid",
            "{}",
            &hostile[..hostile.len().min(40)]
        );
        let message = err.to_string();
        assert!(
            message.chars().count() <= 100,
            "message of {} chars: {message}",
            message.chars().count()
        );
    }
}

#[test]
fn kid_with_control_characters_is_escaped_in_the_message() {
    let ec = ec256();
    let v = validator(vec![verifier(&ec)]);
    let token = mint(
        signer(&ec, Algorithm::ES256).with_kid(Some("a\r\nlevel=admin\u{1b}[2J".into())),
        &claims(),
    );
    let err = v.validate_at(&token, NOW).unwrap_err();
    assert_eq!(err.code(), "unknown_kid");
    let message = err.to_string();
    assert!(
        !message.chars().any(char::is_control),
        "raw control characters in {message:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// ECDSA: psychic signatures (CVE-2022-21449)

#[test]
fn es256_zero_and_group_order_signatures_are_bad_signature() {
    let ec = ec256();
    let v = validator(vec![verifier(&ec)]);
    let key = signer(&ec, Algorithm::ES256);
    let payload = claims().to_string();
    let valid = sign_raw(&key, r#"{"alg":"ES256"}"#, payload.as_bytes());
    accept(&v, &valid);
    let real = b64::decode(segments(&valid)[2]).unwrap();
    let (r, s) = real.split_at(32);
    let zero = [0u8; 32];
    let one = {
        let mut one = [0u8; 32];
        one[31] = 1;
        one
    };
    let n = &P256_ORDER[..];
    let forged: [(&str, Vec<u8>); 9] = [
        ("all zeros", [0u8; 64].to_vec()),
        ("r = n, s = n", [n, n].concat()),
        ("r = n, real s", [n, s].concat()),
        ("real r, s = n", [r, n].concat()),
        ("r = 0, real s", [&zero[..], s].concat()),
        ("real r, s = 0", [r, &zero[..]].concat()),
        ("r = n, s = 0", [n, &zero[..]].concat()),
        ("r = 0, s = n", [&zero[..], n].concat()),
        ("r = 1, s = 1", [one, one].concat()),
    ];
    for with_kid in [false, true] {
        let header = if with_kid {
            format!(r#"{{"alg":"ES256","kid":"{}"}}"#, kid(&ec))
        } else {
            r#"{"alg":"ES256"}"#.to_owned()
        };
        for (label, signature) in &forged {
            let token = with_signature(&header, payload.as_bytes(), signature);
            assert_eq!(code(&v, &token), "bad_signature", "{label}, kid {with_kid}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Structure and encoding

#[test]
fn truncated_signature_is_malformed() {
    let ec = ec256();
    let rsa = rsa();
    let v = validator(vec![verifier(&ec), verifier(rsa)]);
    for token in [
        mint(signer(&ec, Algorithm::ES256), &claims()),
        mint(signer(rsa, Algorithm::RS256), &claims()),
    ] {
        accept(&v, &token);
        let signature_len = segments(&token)[2].len();
        // Every cut leaving an impossible base64url length (4k + 1 characters) is malformed.
        for cut in (1..signature_len).filter(|cut| (signature_len - cut) % 4 == 1) {
            assert_eq!(
                code(&v, &token[..token.len() - cut]),
                "malformed",
                "cut {cut}"
            );
        }
    }
}

#[test]
fn signature_truncated_to_whole_bytes_is_never_accepted() {
    // A cut that still decodes (whole bytes, canonical) leaves a signature of the wrong length:
    // the token is refused by the signature check (aws-lc refuses the length), so its code is
    // bad_signature, or malformed when the new final character carries stray bits.
    let ec = ec256();
    let rsa = rsa();
    let v = validator(vec![verifier(&ec), verifier(rsa)]);
    for token in [
        mint(signer(&ec, Algorithm::ES256), &claims()),
        mint(signer(rsa, Algorithm::RS256), &claims()),
    ] {
        let signature_len = segments(&token)[2].len();
        for cut in 1..=signature_len {
            let cut_token = &token[..token.len() - cut];
            let found = code(&v, cut_token);
            assert!(
                found == "malformed" || found == "bad_signature",
                "cut {cut}: {found}"
            );
        }
        let [header, payload, signature] = segments(&token);
        let bytes = b64::decode(signature).unwrap();
        let shorter = format!(
            "{header}.{payload}.{}",
            b64::encode(&bytes[..bytes.len() - 1])
        );
        assert_eq!(code(&v, &shorter), "bad_signature");
        assert_eq!(code(&v, &format!("{header}.{payload}.")), "bad_signature");
    }
}

#[test]
fn non_canonical_base64url_is_malformed() {
    let ec = ec256();
    let v = validator(vec![verifier(&ec)]);
    let key = signer(&ec, Algorithm::ES256);
    // Payload and header lengths that are not multiples of 3 leave unused bits in each segment.
    let mut payload = claims().to_string();
    while payload.len() % 3 != 1 {
        payload.push(' ');
    }
    let mut header = r#"{"alg":"ES256","typ":"JWT"}"#.to_owned();
    while header.len() % 3 != 2 {
        header.push(' ');
    }
    let token = sign_raw(&key, &header, payload.as_bytes());
    accept(&v, &token);
    let [h, p, s] = segments(&token);
    assert_eq!(s.len() % 4, 2, "a 64-byte signature leaves 4 unused bits");
    let stray = [
        format!("{h}.{p}.{}", with_stray_bits(s)),
        format!("{h}.{}.{s}", with_stray_bits(p)),
        format!("{}.{p}.{s}", with_stray_bits(h)),
    ];
    for bad in &stray {
        assert_eq!(code(&v, bad), "malformed");
    }
    // The standard alphabet, whitespace and a trailing newline are not base64url either.
    let signature = loop {
        let candidate = sign_raw(&key, &header, payload.as_bytes());
        let s = segments(&candidate)[2].to_owned();
        if s.contains(['-', '_']) {
            break s;
        }
    };
    let standard = signature.replace('-', "+").replace('_', "/");
    assert_eq!(code(&v, &format!("{h}.{p}.{standard}")), "malformed");
    assert_eq!(code(&v, &format!("{token}\n")), "malformed");
    assert_eq!(code(&v, &format!(" {token}")), "malformed");
    assert_eq!(code(&v, &format!("{h}.{p}.{s} ")), "malformed");
    let (first, rest) = s.split_at(10);
    assert_eq!(code(&v, &format!("{h}.{p}.{first} {rest}")), "malformed");
}

#[test]
fn base64_padding_is_malformed() {
    let ec = ec256();
    let v = validator(vec![verifier(&ec)]);
    let token = mint(signer(&ec, Algorithm::ES256), &claims());
    let [h, p, s] = segments(&token);
    for bad in [
        format!("{token}="),
        format!("{token}=="),
        format!("{h}.{p}=.{s}"),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{s}%3D"),
    ] {
        assert_eq!(code(&v, &bad), "malformed", "{bad}");
    }
}

#[test]
fn extra_fourth_segment_is_malformed() {
    let ec = ec256();
    let v = validator(vec![verifier(&ec)]);
    let token = mint(signer(&ec, Algorithm::ES256), &claims());
    for bad in [
        format!("{token}."),
        format!("{token}.e30"),
        format!("{token}.{}", segments(&token)[2]),
        format!(".{token}"),
    ] {
        assert_eq!(code(&v, &bad), "malformed");
    }
}

#[test]
fn jwe_like_five_segment_token_is_malformed() {
    let hmac = hmac_signer(None);
    let v = validator(vec![hmac.verifying_key().unwrap()]);
    for header in [
        r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#,
        r#"{"alg":"dir","enc":"A128CBC-HS256"}"#,
        r#"{"alg":"HS256"}"#,
    ] {
        let jwe = [
            b64::encode(header.as_bytes()),
            b64::encode(&[7u8; 256]),
            b64::encode(&[1u8; 12]),
            b64::encode(claims().to_string().as_bytes()),
            b64::encode(&[2u8; 16]),
        ]
        .join(".");
        assert_eq!(code(&v, &jwe), "malformed", "{header}");
    }
}

#[test]
fn crit_header_is_unsupported_crit() {
    let hmac = hmac_signer(None);
    let v = validator(vec![hmac.verifying_key().unwrap()]);
    let payload = claims().to_string();
    for header in [
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":"http://example.invalid/ext"}"#,
    ] {
        let token = sign_raw(&hmac, header, payload.as_bytes());
        assert_eq!(code(&v, &token), "unsupported_crit", "{header}");
    }
}

#[test]
fn duplicate_header_members_are_malformed() {
    let hmac = hmac_signer(None);
    let v = validator(vec![hmac.verifying_key().unwrap()]);
    let payload = claims().to_string();
    for header in [
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","\u0061lg":"HS256"}"#,
        r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
    ] {
        let token = sign_raw(&hmac, header, payload.as_bytes());
        assert_eq!(code(&v, &token), "malformed", "{header}");
    }
}

// ---------------------------------------------------------------------------------------------
// Time claims

/// An HS256 token whose payload is exactly `payload`, and a validator for it.
fn hs256_with(payload: &str, policy: Policy) -> (Validator, String) {
    let key = hmac_signer(None);
    let token = sign_raw(&key, r#"{"alg":"HS256","typ":"JWT"}"#, payload.as_bytes());
    (
        Validator::new(vec![key.verifying_key().unwrap()], policy),
        token,
    )
}

#[track_caller]
fn claims_code(payload: &str) -> Result<(), &'static str> {
    let (v, token) = hs256_with(payload, Policy::default());
    v.validate_at(&token, NOW).map(|_| ()).map_err(|e| e.code())
}

#[test]
fn time_claims_as_strings_are_invalid_claim() {
    let exp = NOW + 600;
    assert_eq!(
        claims_code(&format!(r#"{{"exp":"{exp}"}}"#)),
        Err("invalid_claim")
    );
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{exp},"nbf":"{NOW}"}}"#)),
        Err("invalid_claim")
    );
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{exp},"iat":"{NOW}"}}"#)),
        Err("invalid_claim")
    );
    assert_eq!(
        claims_code(r#"{"exp":"2099-01-01T00:00:00Z"}"#),
        Err("invalid_claim")
    );
    for other in ["null", "true", "[4102444800]", r#"{"t":4102444800}"#] {
        assert_eq!(
            claims_code(&format!(r#"{{"exp":{other}}}"#)),
            Err("invalid_claim"),
            "{other}"
        );
    }
}

#[test]
fn time_claims_as_floats_are_compared_as_numbers() {
    let exp = NOW + 600;
    assert_eq!(claims_code(&format!(r#"{{"exp":{exp}.5}}"#)), Ok(()));
    assert_eq!(
        claims_code(&format!(
            r#"{{"exp":{exp}.5,"nbf":{NOW}.25,"iat":{NOW}.75}}"#
        )),
        Ok(())
    );
    assert_eq!(claims_code(&format!(r#"{{"exp":{exp}e0}}"#)), Ok(()));
    // Past the 60 s leeway by half a second.
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{}.5}}"#, NOW - 61)),
        Err("expired")
    );
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{exp},"nbf":{}.5}}"#, NOW + 60)),
        Err("not_yet_valid")
    );
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{exp},"iat":{}.5}}"#, NOW + 60)),
        Err("issued_in_future")
    );
}

#[test]
fn negative_time_claims() {
    let exp = NOW + 600;
    assert_eq!(claims_code(r#"{"exp":-1}"#), Err("expired"));
    assert_eq!(claims_code(r#"{"exp":-1e300}"#), Err("expired"));
    assert_eq!(claims_code(r#"{"exp":-0.0}"#), Err("expired"));
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{}}}"#, i64::MIN)),
        Err("expired")
    );
    // nbf and iat in the distant past are not a reason to refuse.
    assert_eq!(claims_code(&format!(r#"{{"exp":{exp},"nbf":-1}}"#)), Ok(()));
    assert_eq!(claims_code(&format!(r#"{{"exp":{exp},"iat":-1}}"#)), Ok(()));
}

#[test]
fn huge_time_claims() {
    let exp = NOW + 600;
    assert_eq!(claims_code(r#"{"exp":1e300}"#), Ok(()));
    assert_eq!(claims_code(&format!(r#"{{"exp":{}}}"#, u64::MAX)), Ok(()));
    assert_eq!(
        claims_code(r#"{"exp":123456789012345678901234567890}"#),
        Ok(())
    );
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{exp},"nbf":1e300}}"#)),
        Err("not_yet_valid")
    );
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{exp},"iat":1e300}}"#)),
        Err("issued_in_future")
    );
    assert_eq!(
        claims_code(&format!(r#"{{"exp":{exp},"nbf":{}}}"#, u64::MAX)),
        Err("not_yet_valid")
    );
    // Beyond f64: not representable JSON for the parser, so not a claim set at all.
    assert_eq!(claims_code(r#"{"exp":1e400}"#), Err("malformed"));
}

#[test]
fn missing_exp_is_missing_claim() {
    assert_eq!(claims_code(r#"{"sub":"alice"}"#), Err("missing_claim"));
    assert_eq!(claims_code(r#"{}"#), Err("missing_claim"));
    let loose = Policy {
        require_exp: false,
        ..Policy::default()
    };
    let (v, token) = hs256_with(r#"{"sub":"alice"}"#, loose);
    assert!(v.validate_at(&token, NOW).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Claims structure

#[test]
fn aud_of_the_wrong_type_is_invalid_claim() {
    let exp = NOW + 600;
    let policy = Policy {
        audiences: vec!["api".into()],
        ..Policy::default()
    };
    let (v, token) = hs256_with(&format!(r#"{{"exp":{exp},"aud":"api"}}"#), policy.clone());
    accept(&v, &token);
    for aud in [
        "42",
        "true",
        "null",
        r#"{"api":true}"#,
        r#"["api",7]"#,
        r#"[["api"]]"#,
    ] {
        let payload = format!(r#"{{"exp":{exp},"aud":{aud}}}"#);
        let (v, token) = hs256_with(&payload, policy.clone());
        assert_eq!(code(&v, &token), "invalid_claim", "aud {aud}");
        // The type is checked even when no audience is configured.
        let (v, token) = hs256_with(&payload, Policy::default());
        assert_eq!(
            code(&v, &token),
            "invalid_claim",
            "aud {aud}, no audience policy"
        );
    }
}

#[test]
fn duplicate_claim_names_are_malformed() {
    let exp = NOW + 600;
    for payload in [
        format!(r#"{{"sub":"a","sub":"b","exp":{exp}}}"#),
        format!(r#"{{"sub":"a","s\u0075b":"b","exp":{exp}}}"#),
        format!(r#"{{"exp":1,"exp":{exp}}}"#),
        format!(r#"{{"exp":{exp},"exp":1}}"#),
    ] {
        assert_eq!(claims_code(&payload), Err("malformed"), "{payload}");
    }
}

#[test]
fn payload_that_is_not_a_utf8_json_object_is_malformed() {
    let key = hmac_signer(None);
    let v = validator(vec![key.verifying_key().unwrap()]);
    let header = r#"{"alg":"HS256"}"#;
    let json = format!(r#"{{"sub":"alice","exp":{}}}"#, NOW + 600);
    let utf16 = |big_endian: bool, bom: bool| -> Vec<u8> {
        let units = bom.then_some(0xFEFF).into_iter().chain(json.encode_utf16());
        units
            .flat_map(|u: u16| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    };
    let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
    utf8_bom.extend_from_slice(json.as_bytes());
    let mut invalid_in_string = format!(r#"{{"exp":{},"sub":""#, NOW + 600).into_bytes();
    invalid_in_string.extend_from_slice(&[0xFF, 0xFE, b'"', b'}']);
    let payloads: [(&str, Vec<u8>); 10] = [
        ("0xff 0xfe", vec![0xFF, 0xFE]),
        ("UTF-16LE with BOM", utf16(false, true)),
        ("UTF-16LE", utf16(false, false)),
        ("UTF-16BE with BOM", utf16(true, true)),
        ("UTF-8 BOM", utf8_bom),
        ("invalid UTF-8 in a string", invalid_in_string),
        ("array", br#"[{"exp":4102444800}]"#.to_vec()),
        ("string", br#""exp""#.to_vec()),
        ("empty", Vec::new()),
        ("trailing data", format!("{json} {json}").into_bytes()),
    ];
    for (label, payload) in payloads {
        let token = sign_raw(&key, header, &payload);
        assert_eq!(code(&v, &token), "malformed", "{label}");
    }
}

// ---------------------------------------------------------------------------------------------
// Size and depth limits

#[test]
fn token_over_the_size_cap_is_token_too_large() {
    let key = hmac_signer(None);
    let mut big = claims();
    big["pad"] = json!("x".repeat(20_000));
    let token = mint(hmac_signer(None), &big);
    assert_eq!(
        code(&validator(vec![key.verifying_key().unwrap()]), &token),
        "token_too_large"
    );
    // The cap is inclusive: a token exactly at the cap passes, one byte over does not.
    let token = mint(key, &claims());
    let at_cap = |max_token_bytes| {
        Validator::new(
            vec![],
            Policy {
                max_token_bytes,
                ..Policy::default()
            },
        )
    };
    assert_ne!(code(&at_cap(token.len()), &token), "token_too_large");
    assert_eq!(code(&at_cap(token.len() - 1), &token), "token_too_large");
}

#[test]
fn hundred_thousand_dots_fail_fast() {
    let dots = ".".repeat(100_000);
    let started = Instant::now();
    let default = validator(vec![hmac_signer(None).verifying_key().unwrap()]);
    assert_eq!(code(&default, &dots), "token_too_large");
    let large_cap = Validator::new(
        vec![hmac_signer(None).verifying_key().unwrap()],
        Policy {
            max_token_bytes: 1 << 20,
            ..Policy::default()
        },
    );
    assert_eq!(code(&large_cap, &dots), "malformed");
    let prefixed = format!("{}{dots}", mint(hmac_signer(None), &claims()));
    assert_eq!(code(&large_cap, &prefixed), "malformed");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn payload_nested_ten_thousand_deep_is_malformed_without_stack_overflow() {
    let key = hmac_signer(None);
    let policy = Policy {
        max_token_bytes: 1 << 20,
        ..Policy::default()
    };
    let v = Validator::new(vec![key.verifying_key().unwrap()], policy);
    let depth = 10_000;
    let exp = NOW + 600;
    let arrays = format!(
        r#"{{"exp":{exp},"a":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let objects = format!(
        r#"{{"exp":{exp},"a":{}1{}}}"#,
        r#"{"a":"#.repeat(depth),
        "}".repeat(depth)
    );
    for payload in [arrays, objects] {
        // Signed correctly: the depth, not the signature, is what gets it refused.
        let token = sign_raw(&key, r#"{"alg":"HS256"}"#, payload.as_bytes());
        assert_eq!(code(&v, &token), "malformed");
    }
    // The same in the header, which is parsed before the signature is checked.
    let header = format!(
        r#"{{"alg":"HS256","x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let token = sign_raw(&key, &header, claims().to_string().as_bytes());
    assert_eq!(code(&v, &token), "malformed");
}

// ---------------------------------------------------------------------------------------------
// Algorithm binding and header policy

#[test]
fn jwk_alg_rs256_refuses_ps256_from_the_same_rsa_key() {
    let rsa = rsa();
    assert_eq!(rsa.public_jwk.alg.as_deref(), Some("RS256"));
    let v = validator(vec![verifier(rsa)]);
    accept(&v, &mint(signer(rsa, Algorithm::RS256), &claims()));
    let ps256 = signer(rsa, Algorithm::PS256);
    assert_eq!(
        code(&v, &mint(ps256, &claims())),
        "alg_not_allowed",
        "by kid"
    );
    let ps256_no_kid = signer(rsa, Algorithm::PS256).with_kid(None);
    assert_eq!(
        code(&v, &mint(ps256_no_kid, &claims())),
        "alg_not_allowed",
        "without kid"
    );
    // The restriction comes from the JWK's alg: the same key without one accepts PS256.
    let unbound: Jwk = Jwk {
        alg: None,
        ..rsa.public_jwk.clone()
    };
    let loose = validator(vec![VerifyingKey::from_jwk(&unbound).unwrap()]);
    accept(&loose, &mint(signer(rsa, Algorithm::PS256), &claims()));
}

#[test]
fn policy_allow_list_without_the_token_alg_is_alg_not_allowed() {
    let ec = ec256();
    let hmac = hmac_signer(None);
    let policy = Policy {
        algorithms: vec![Algorithm::RS256],
        ..Policy::default()
    };
    let v = Validator::new(
        vec![
            verifier(&ec),
            hmac.verifying_key().unwrap(),
            verifier(rsa()),
        ],
        policy,
    );
    accept(&v, &mint(signer(rsa(), Algorithm::RS256), &claims()));
    assert_eq!(
        code(&v, &mint(signer(&ec, Algorithm::ES256), &claims())),
        "alg_not_allowed"
    );
    assert_eq!(code(&v, &mint(hmac, &claims())), "alg_not_allowed");
}

#[test]
fn typ_other_than_the_required_one_is_typ_mismatch() {
    let hmac = hmac_signer(None);
    let policy = Policy {
        typ: Some("at+jwt".into()),
        ..Policy::default()
    };
    let v = Validator::new(vec![hmac.verifying_key().unwrap()], policy);
    let payload = claims().to_string();
    // Minter writes typ JWT.
    assert_eq!(
        code(&v, &mint(hmac_signer(None), &claims())),
        "typ_mismatch"
    );
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":""}"#,
        r#"{"alg":"HS256","typ":"at+jwt2"}"#,
        r#"{"alg":"HS256","typ":"text/at+jwt"}"#,
    ] {
        let token = sign_raw(&hmac, header, payload.as_bytes());
        assert_eq!(code(&v, &token), "typ_mismatch", "{header}");
    }
    for header in [
        r#"{"alg":"HS256","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","typ":"application/at+jwt"}"#,
    ] {
        accept(&v, &sign_raw(&hmac, header, payload.as_bytes()));
    }
}

#[test]
fn a_kid_unknown_to_a_kid_less_key_falls_back_to_it_but_not_to_keys_with_kids() {
    let ec = ec256();
    // The key as a PEM: no kid configured, so a token's kid cannot select it or rule it out.
    let kid_less = VerifyingKey::from_pem(&ec.public_pem).unwrap();
    let token = mint(signer(&ec, Algorithm::ES256), &claims());
    accept(&validator(vec![kid_less]), &token);
    let other = ec256();
    let forged = mint(signer(&other, Algorithm::ES256), &claims());
    assert_eq!(
        code(
            &validator(vec![VerifyingKey::from_pem(&ec.public_pem).unwrap()]),
            &forged
        ),
        "bad_signature"
    );
    // Every configured key has a kid: an unknown kid is unknown, never tried elsewhere.
    assert_eq!(
        code(&validator(vec![verifier(&ec)]), &forged),
        "unknown_kid"
    );
}
