//! Fuzz harness: secret parsing (`jwtkit-secret`) with each `SecretEncoding`.
//!
//! Shared by the `secret` fuzz target and `crates/jwtkit-secret/tests/fuzz_regressions.rs`.
//! Input layout: the first byte picks the encoding (`raw`, `base64`, `base64url`, `hex`, `auto`,
//! modulo 5); the rest is the secret text (lossy UTF-8).
//!
//! Besides "no panic", it checks: a decoded secret is never empty and never reports `auto`;
//! encoding it again gives the same text up to what the encoding leaves open (base64 padding,
//! hex case), and decoding that gives the same bytes; `auto` is base64 when base64 decodes and
//! raw otherwise; `interpretations` lists exactly the encodings that decode; length checks
//! follow RFC 7518's minimums; the encoding name parser does not panic.
#![allow(dead_code)]

use jwtkit_secret::{HmacAlgorithm, Secret, SecretEncoding};

/// The encodings in input order.
pub const ENCODINGS: [SecretEncoding; 5] = [
    SecretEncoding::Raw,
    SecretEncoding::Base64,
    SecretEncoding::Base64Url,
    SecretEncoding::Hex,
    SecretEncoding::Auto,
];

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let encoding = ENCODINGS[usize::from(selector) % ENCODINGS.len()];
    let text = String::from_utf8_lossy(rest);
    check(&text, encoding);
}

fn canonical(text: &str, encoding: SecretEncoding) -> String {
    match encoding {
        SecretEncoding::Base64 | SecretEncoding::Base64Url => text.trim_end_matches('=').to_owned(),
        SecretEncoding::Hex => text.to_ascii_lowercase(),
        _ => text.to_owned(),
    }
}

fn check(text: &str, encoding: SecretEncoding) {
    let _ = text.parse::<SecretEncoding>();
    let decoded = Secret::decode(text, encoding);
    if let Ok(decoded) = &decoded {
        let secret = &decoded.secret;
        assert_ne!(decoded.encoding, SecretEncoding::Auto);
        assert!(!secret.is_empty() && secret.len() == secret.expose_bytes().len());
        if encoding != SecretEncoding::Auto {
            assert_eq!(decoded.encoding, encoding);
        }
        let again = secret.encode(decoded.encoding);
        assert_eq!(
            canonical(&again, decoded.encoding),
            canonical(text, decoded.encoding),
            "encode(decode(text)) is not the text"
        );
        let back = Secret::decode(&again, decoded.encoding).expect("encoded text decodes");
        assert!(
            back.secret.ct_eq(secret),
            "decode(encode(bytes)) changed the bytes"
        );
        assert_eq!(back.secret.fingerprint(), secret.fingerprint());
        for algorithm in [
            HmacAlgorithm::Hs256,
            HmacAlgorithm::Hs384,
            HmacAlgorithm::Hs512,
        ] {
            assert_eq!(
                secret.check_length(algorithm).is_ok(),
                secret.len() >= algorithm.min_key_len()
            );
        }
        let _ = (format!("{secret:?}"), secret.to_string());
    }
    if let Err(err) = &decoded {
        let _ = err.to_string();
    }
    if encoding == SecretEncoding::Auto {
        match (Secret::decode(text, SecretEncoding::Base64), &decoded) {
            (Ok(base64), Ok(auto)) => {
                assert_eq!(auto.encoding, SecretEncoding::Base64);
                assert!(auto.secret.ct_eq(&base64.secret));
            }
            (Err(_), Ok(auto)) => {
                assert_eq!(auto.encoding, SecretEncoding::Raw);
                assert_eq!(auto.secret.expose_bytes(), text.as_bytes());
            }
            (Ok(_), Err(_)) => panic!("auto refused a text that base64 reads"),
            (Err(_), Err(_)) => assert!(text.is_empty(), "auto refused a non-empty text"),
        }
    }
    let listed: Vec<SecretEncoding> = Secret::interpretations(text)
        .into_iter()
        .map(|d| d.encoding)
        .collect();
    let decodable: Vec<SecretEncoding> = SecretEncoding::EXPLICIT
        .into_iter()
        .filter(|&e| Secret::decode(text, e).is_ok())
        .collect();
    assert_eq!(listed, decodable, "interpretations lists what decodes");
}
