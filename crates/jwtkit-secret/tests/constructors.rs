//! The one-line constructors read the same bytes as `Secret::load` with the matching source, and
//! fail with the error a caller can match, naming the variable or file but never the value.

use jwtkit_secret::{Secret, SecretEncoding, SecretError};

const TEXT: &str = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";

#[test]
fn from_env_reads_raw_text_or_the_given_encoding() {
    // Each test uses its own variable: tests run in parallel threads of one process.
    unsafe { std::env::set_var("JWTKIT_TEST_CTOR_SECRET", TEXT) };
    let raw = Secret::from_env("JWTKIT_TEST_CTOR_SECRET").unwrap();
    assert_eq!(raw.expose_bytes(), TEXT.as_bytes());
    let decoded =
        Secret::from_env_encoded("JWTKIT_TEST_CTOR_SECRET", SecretEncoding::Base64).unwrap();
    assert_eq!(decoded.len(), 32);
    assert_ne!(decoded.expose_bytes(), raw.expose_bytes());
}

#[test]
fn a_missing_variable_is_env_missing_and_names_only_the_variable() {
    let err = Secret::from_env("JWTKIT_TEST_CTOR_SURELY_UNSET").unwrap_err();
    assert!(
        matches!(err, SecretError::EnvMissing { ref name } if name == "JWTKIT_TEST_CTOR_SURELY_UNSET")
    );
}

#[test]
fn a_value_that_is_not_in_the_encoding_is_a_decode_error_without_the_value() {
    unsafe { std::env::set_var("JWTKIT_TEST_CTOR_HEX", "not-hex-at-all") };
    let err = Secret::from_env_encoded("JWTKIT_TEST_CTOR_HEX", SecretEncoding::Hex).unwrap_err();
    assert!(matches!(err, SecretError::Decode { .. }), "{err:?}");
    assert!(!err.to_string().contains("not-hex-at-all"), "{err}");
}

#[test]
fn from_file_drops_one_line_break_and_decodes_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{TEXT}\n")).unwrap();
    assert_eq!(
        Secret::from_file(&path).unwrap().expose_bytes(),
        TEXT.as_bytes()
    );
    assert_eq!(
        Secret::from_file_encoded(&path, SecretEncoding::Base64)
            .unwrap()
            .len(),
        32
    );
    let err = Secret::from_file(dir.path().join("absent")).unwrap_err();
    assert!(matches!(err, SecretError::File { .. }), "{err:?}");
}
