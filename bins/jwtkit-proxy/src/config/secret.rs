//! Where a secret lives (an environment variable or a file, never the configuration itself)
//! and reading it at start.

use std::path::PathBuf;

use jwtkit_secret::{Secret, SecretEncoding, SecretSource};
use serde::Deserialize;

use super::ConfigError;

/// Where a secret lives: an environment variable or a file, never the config itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct SecretRef {
    /// Environment variable name.
    pub env: Option<String>,
    /// File path (one trailing newline ignored).
    pub file: Option<PathBuf>,
    /// `raw` (default), `base64`, `base64url` or `hex`.
    #[serde(default, deserialize_with = "super::values::de::secret_encoding")]
    pub encoding: Option<SecretEncoding>,
}

// A secret written in the file itself (`secret = "..."`) must be refused without being echoed:
// serde's own message would be `invalid type: string "<the secret>", expected ...`, and that
// message is what the proxy prints when it refuses to start.
impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        const REFUSED: &str = "a secret is never written in the configuration file (its value \
                               is not shown here); name where it is: { env = \"NAME\" } or \
                               { file = \"PATH\" }";
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SecretRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table { env = \"NAME\" } or { file = \"PATH\" }")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SecretRef, A::Error> {
                SecretRef::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Reads a secret named by the configuration; errors name the configuration key.
pub fn load_secret(
    key: &str,
    reference: &SecretRef,
    default: SecretEncoding,
) -> Result<(Secret, SecretEncoding), ConfigError> {
    let source = match (&reference.env, &reference.file) {
        (Some(name), None) => SecretSource::Env(name.clone()),
        (None, Some(path)) => SecretSource::File(path.clone()),
        _ => {
            return Err(ConfigError::new(
                key,
                "needs exactly one of env or file",
                "write { env = \"NAME\" } or { file = \"/run/secrets/x\" }",
            ));
        }
    };
    let encoding = reference.encoding.unwrap_or(default);
    let decoded = Secret::load(&source, encoding)
        .map_err(|e| ConfigError::new(key, e.to_string(), format!("fix {}", source.describe())))?;
    Ok((decoded.secret, decoded.encoding))
}

/// Where a secret comes from, for messages: `environment variable NAME` or `file PATH`. In
/// environment mode this is the only name the operator knows (not `upstreams[0]...`).
pub fn secret_origin(reference: &SecretRef) -> String {
    match (&reference.env, &reference.file) {
        (Some(name), _) => format!("environment variable {name}"),
        (None, Some(path)) => format!("file {}", path.display()),
        (None, None) => "the secret".to_owned(),
    }
}
