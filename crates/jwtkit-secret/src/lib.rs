//! Secret material for HMAC-signed JWTs.
//!
//! Most "signature does not match" incidents with shared secrets are not cryptography problems:
//! one side base64-decodes the secret and the other uses its text, or one side silently falls back
//! to a default. This crate makes every one of those decisions explicit:
//!
//! - a [`Secret`] is loaded from a [`SecretSource`] (literal, environment variable or file) with an
//!   explicit [`SecretEncoding`]; [`SecretEncoding::Auto`] exists but reports what it chose;
//! - [`Secret::check_length`] enforces the RFC 7518 §3.2 minimum key size of an HMAC algorithm;
//! - a secret never prints itself (`Debug` and `Display` are redacted) and is zeroized on drop;
//! - [`Secret::fingerprint`] gives a short, stable identifier that two services can log and
//!   compare without revealing the key.
//!
//! ```
//! use jwtkit_secret::{HmacAlgorithm, Secret, SecretEncoding};
//!
//! let decoded = Secret::decode("Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=", SecretEncoding::Base64)?;
//! decoded.secret.check_length(HmacAlgorithm::Hs256)?;
//! assert_eq!(decoded.secret.len(), 32);
//! assert!(format!("{:?}", decoded.secret).contains("redacted"));
//! # Ok::<(), jwtkit_secret::SecretError>(())
//! ```

mod encoding;
mod error;

use std::fmt;
use std::path::PathBuf;

use aws_lc_rs::{constant_time, digest, rand};
use zeroize::Zeroizing;

pub use encoding::{SecretEncoding, UnknownEncoding};
pub use error::SecretError;

/// Number of random bytes [`Secret::generate`] produces unless told otherwise (HS256's minimum).
pub const DEFAULT_GENERATED_LEN: usize = 32;

/// The HMAC algorithms of RFC 7518 §3.2, each with its minimum key length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HmacAlgorithm {
    /// HMAC with SHA-256; keys of at least 32 bytes.
    Hs256,
    /// HMAC with SHA-384; keys of at least 48 bytes.
    Hs384,
    /// HMAC with SHA-512; keys of at least 64 bytes.
    Hs512,
}

impl HmacAlgorithm {
    /// The JOSE name (`HS256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    /// RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used".
    pub fn min_key_len(self) -> usize {
        match self {
            Self::Hs256 => 32,
            Self::Hs384 => 48,
            Self::Hs512 => 64,
        }
    }
}

impl fmt::Display for HmacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where secret text comes from.
#[derive(Clone)]
pub enum SecretSource {
    /// The text itself (for example a command-line argument).
    Literal(Zeroizing<String>),
    /// The value of an environment variable.
    Env(String),
    /// The contents of a file; one trailing line break is removed.
    File(PathBuf),
}

impl SecretSource {
    /// A literal source from any string-like value.
    pub fn literal(text: impl Into<String>) -> Self {
        Self::Literal(Zeroizing::new(text.into()))
    }

    /// Names the source without revealing a literal's value, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Literal(_) => "the literal secret".to_owned(),
            Self::Env(name) => format!("environment variable {name}"),
            Self::File(path) => format!("file {}", path.display()),
        }
    }

    /// Reads the secret text. Files and variables must be UTF-8 text; a file's single trailing
    /// `\n` or `\r\n` is dropped because editors and `echo` add one.
    pub fn read_text(&self) -> Result<Zeroizing<String>, SecretError> {
        match self {
            Self::Literal(text) => Ok(text.clone()),
            Self::Env(name) => match std::env::var(name) {
                Ok(value) => Ok(Zeroizing::new(value)),
                Err(std::env::VarError::NotPresent) => {
                    Err(SecretError::EnvMissing { name: name.clone() })
                }
                Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::NotText {
                    source_name: self.describe(),
                }),
            },
            Self::File(path) => {
                let bytes =
                    Zeroizing::new(std::fs::read(path).map_err(|err| SecretError::File {
                        path: path.clone(),
                        reason: err.kind().to_string(),
                    })?);
                let text = std::str::from_utf8(&bytes).map_err(|_| SecretError::NotText {
                    source_name: self.describe(),
                })?;
                let text = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(text);
                Ok(Zeroizing::new(text.to_owned()))
            }
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Key bytes for HMAC signing and verification.
///
/// `Debug` and `Display` print `Secret(redacted, sha256:…)`; the bytes are zeroized on drop and
/// only reachable through [`Secret::expose_bytes`].
#[derive(Clone)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

/// A secret together with the encoding that produced it (relevant for [`SecretEncoding::Auto`]).
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The decoded key bytes.
    pub secret: Secret,
    /// The encoding actually applied; never `Auto`.
    pub encoding: SecretEncoding,
}

impl Secret {
    /// Wraps key bytes. Fails on an empty key: an empty HMAC key is always a configuration error.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self { bytes })
    }

    /// Decodes secret text with the given encoding.
    pub fn decode(text: &str, encoding: SecretEncoding) -> Result<Decoded, SecretError> {
        let (bytes, encoding) = encoding::decode(text, encoding)?;
        Ok(Decoded {
            secret: Self::from_bytes(bytes)?,
            encoding,
        })
    }

    /// Reads text from `source` and decodes it.
    pub fn load(source: &SecretSource, encoding: SecretEncoding) -> Result<Decoded, SecretError> {
        let text = source.read_text()?;
        Self::decode(&text, encoding)
    }

    /// The value of environment variable `name`, used as it is ([`SecretEncoding::Raw`]: the
    /// text's bytes are the key, as PyJWT, jsonwebtoken's `from_secret` and Centrifugo use it).
    ///
    /// ```
    /// # unsafe { std::env::set_var("DOC_JWT_SECRET", "a-secret-of-at-least-32-bytes-long!!") };
    /// let secret = jwtkit_secret::Secret::from_env("DOC_JWT_SECRET")?;
    /// assert_eq!(secret.len(), 36);
    /// # Ok::<(), jwtkit_secret::SecretError>(())
    /// ```
    pub fn from_env(name: &str) -> Result<Self, SecretError> {
        Self::from_env_encoded(name, SecretEncoding::Raw)
    }

    /// The value of environment variable `name`, decoded with `encoding` (the Camunda engine's
    /// secret is [`SecretEncoding::Base64`], for instance).
    ///
    /// ```
    /// use jwtkit_secret::{Secret, SecretEncoding};
    /// # unsafe { std::env::set_var("DOC_ENGINE_SECRET", "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=") };
    /// let secret = Secret::from_env_encoded("DOC_ENGINE_SECRET", SecretEncoding::Base64)?;
    /// assert_eq!(secret.len(), 32);
    /// # Ok::<(), jwtkit_secret::SecretError>(())
    /// ```
    pub fn from_env_encoded(name: &str, encoding: SecretEncoding) -> Result<Self, SecretError> {
        Self::load(&SecretSource::Env(name.to_owned()), encoding).map(|d| d.secret)
    }

    /// The contents of the file at `path` (one trailing line break dropped), used as they are.
    ///
    /// ```
    /// let path = std::env::temp_dir().join("jwtkit-doc-secret");
    /// std::fs::write(&path, "a-secret-of-at-least-32-bytes-long!!\n").unwrap();
    /// let secret = jwtkit_secret::Secret::from_file(&path)?;
    /// assert_eq!(secret.len(), 36);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), jwtkit_secret::SecretError>(())
    /// ```
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, SecretError> {
        Self::from_file_encoded(path, SecretEncoding::Raw)
    }

    /// The contents of the file at `path` (one trailing line break dropped), decoded with
    /// `encoding`.
    pub fn from_file_encoded(
        path: impl Into<PathBuf>,
        encoding: SecretEncoding,
    ) -> Result<Self, SecretError> {
        Self::load(&SecretSource::File(path.into()), encoding).map(|d| d.secret)
    }

    /// Every way `text` can be read as a key: one entry per encoding under which it decodes,
    /// raw first. Used to diagnose which interpretation another service applied.
    pub fn interpretations(text: &str) -> Vec<Decoded> {
        SecretEncoding::EXPLICIT
            .iter()
            .filter_map(|&encoding| Self::decode(text, encoding).ok())
            .collect()
    }

    /// `len` bytes from the system's secure random generator.
    pub fn generate(len: usize) -> Result<Self, SecretError> {
        if len == 0 {
            return Err(SecretError::Empty);
        }
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rand::fill(&mut bytes).map_err(|_| SecretError::Random)?;
        Ok(Self { bytes })
    }

    /// Number of key bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: an empty secret cannot be constructed.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The key bytes. Named so that every use is easy to find in review.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encodes the key as text (for `secret generate`); the result is zeroized on drop.
    pub fn encode(&self, encoding: SecretEncoding) -> Zeroizing<String> {
        encoding::encode(&self.bytes, encoding)
    }

    /// Fails unless the key is long enough for `algorithm` (RFC 7518 §3.2).
    pub fn check_length(&self, algorithm: HmacAlgorithm) -> Result<(), SecretError> {
        let needed = algorithm.min_key_len();
        if self.len() < needed {
            return Err(SecretError::TooShort {
                algorithm,
                found: self.len(),
                needed,
            });
        }
        Ok(())
    }

    /// A short identifier of the key bytes, safe to log: `sha256:` and the first 8 bytes of the
    /// SHA-256 of the decoded key, in hex. Equal fingerprints mean equal keys, whatever text
    /// encoding each side stored.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.bytes)
    }

    /// Constant-time comparison of two keys.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        constant_time::verify_slices_are_equal(&self.bytes, &other.bytes).is_ok()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Secret(redacted, {} bytes, {})",
            self.len(),
            self.fingerprint()
        )
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted secret {}>", self.fingerprint())
    }
}

/// A truncated SHA-256 of key bytes, printed as `sha256:0123456789abcdef`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl Fingerprint {
    /// The fingerprint of arbitrary key bytes (also used for credentials that are not HMAC keys).
    pub fn of(bytes: &[u8]) -> Self {
        let hash = digest::digest(&digest::SHA256, bytes);
        let mut short = [0u8; 8];
        short.copy_from_slice(&hash.as_ref()[..8]);
        Self(short)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENGINE_SECRET: &str = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";

    #[test]
    fn a_base64_engine_secret_decodes_to_32_bytes() {
        let decoded = Secret::decode(ENGINE_SECRET, SecretEncoding::Base64).unwrap();
        assert_eq!(decoded.secret.len(), 32);
        assert_eq!(decoded.encoding, SecretEncoding::Base64);
        decoded.secret.check_length(HmacAlgorithm::Hs256).unwrap();
    }

    #[test]
    fn raw_and_base64_readings_of_one_text_have_different_fingerprints() {
        let raw = Secret::decode(ENGINE_SECRET, SecretEncoding::Raw)
            .unwrap()
            .secret;
        let b64 = Secret::decode(ENGINE_SECRET, SecretEncoding::Base64)
            .unwrap()
            .secret;
        assert_ne!(raw.fingerprint(), b64.fingerprint());
        assert!(!raw.ct_eq(&b64));
    }

    #[test]
    fn fingerprint_depends_on_bytes_not_on_text_encoding() {
        let bytes = vec![7u8; 40];
        let secret = Secret::from_bytes(bytes).unwrap();
        for encoding in [
            SecretEncoding::Base64,
            SecretEncoding::Base64Url,
            SecretEncoding::Hex,
        ] {
            let text = secret.encode(encoding);
            let back = Secret::decode(&text, encoding).unwrap().secret;
            assert_eq!(back.fingerprint(), secret.fingerprint(), "{encoding}");
        }
        let printed = secret.fingerprint().to_string();
        assert!(
            printed.starts_with("sha256:") && printed.len() == 7 + 16,
            "{printed}"
        );
    }

    #[test]
    fn too_short_names_algorithm_found_and_needed() {
        let secret = Secret::from_bytes(vec![1u8; 40]).unwrap();
        secret.check_length(HmacAlgorithm::Hs256).unwrap();
        let err = secret.check_length(HmacAlgorithm::Hs384).unwrap_err();
        assert_eq!(
            err,
            SecretError::TooShort {
                algorithm: HmacAlgorithm::Hs384,
                found: 40,
                needed: 48
            }
        );
        let message = err.to_string();
        assert!(message.contains("HS384") && message.contains("40") && message.contains("48"));
        assert!(secret.check_length(HmacAlgorithm::Hs512).is_err());
    }

    #[test]
    fn debug_and_display_never_show_the_key() {
        let secret = Secret::decode("my-test-secret-key-32-characters!", SecretEncoding::Raw)
            .unwrap()
            .secret;
        for shown in [format!("{secret:?}"), format!("{secret}")] {
            assert!(!shown.contains("my-test"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        let source = SecretSource::literal("my-test-secret-key-32-characters!");
        assert!(!format!("{source:?}").contains("my-test"));
    }

    #[test]
    fn generate_gives_distinct_keys_of_the_asked_length() {
        let a = Secret::generate(DEFAULT_GENERATED_LEN).unwrap();
        let b = Secret::generate(DEFAULT_GENERATED_LEN).unwrap();
        assert_eq!(a.len(), 32);
        assert!(!a.ct_eq(&b));
        assert_eq!(Secret::generate(0).unwrap_err(), SecretError::Empty);
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(
            Secret::decode("", SecretEncoding::Raw).unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(
            Secret::from_bytes(Vec::new()).unwrap_err(),
            SecretError::Empty
        );
    }

    #[test]
    fn file_source_drops_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "abc\n\n").unwrap();
        let text = SecretSource::File(path.clone()).read_text().unwrap();
        assert_eq!(text.as_str(), "abc\n");
        std::fs::write(&path, "abc\r\n").unwrap();
        assert_eq!(
            SecretSource::File(path).read_text().unwrap().as_str(),
            "abc"
        );
    }

    #[test]
    fn missing_file_and_env_are_clear_errors() {
        let err = SecretSource::File("/nonexistent/jwtkit-secret".into())
            .read_text()
            .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/jwtkit-secret"),
            "{err}"
        );
        let err = SecretSource::Env("JWTKIT_TEST_SURELY_UNSET_VAR".into())
            .read_text()
            .unwrap_err();
        assert!(
            err.to_string().contains("JWTKIT_TEST_SURELY_UNSET_VAR"),
            "{err}"
        );
    }

    #[test]
    fn interpretations_lists_each_decoding_encoding() {
        let found: Vec<_> = Secret::interpretations(ENGINE_SECRET)
            .into_iter()
            .map(|d| d.encoding)
            .collect();
        // No `+` or `/` in it, so the URL-safe alphabet reads it the same way.
        assert_eq!(
            found,
            vec![
                SecretEncoding::Raw,
                SecretEncoding::Base64,
                SecretEncoding::Base64Url
            ]
        );
        let found: Vec<_> = Secret::interpretations("a+b/")
            .into_iter()
            .map(|d| d.encoding)
            .collect();
        assert_eq!(found, vec![SecretEncoding::Raw, SecretEncoding::Base64]);
        let found: Vec<_> = Secret::interpretations("00ff")
            .into_iter()
            .map(|d| d.encoding)
            .collect();
        assert_eq!(
            found,
            vec![
                SecretEncoding::Raw,
                SecretEncoding::Base64,
                SecretEncoding::Base64Url,
                SecretEncoding::Hex
            ]
        );
    }
}
