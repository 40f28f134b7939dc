//! Shared inputs: tokens from the command line or stdin, secrets, key files, durations.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::Args;
use jwtkit_keys::{Algorithm, SigningKey, VerifyingKey};
use jwtkit_secret::{Decoded, Secret, SecretEncoding, SecretSource};

use crate::CliError;

/// The environment variable generate_jwt.py read its secret from.
pub const DEFAULT_SECRET_ENV: &str = "JWT_SECRET_KEY";

/// Largest token read from stdin; anything longer is refused before parsing.
const MAX_STDIN_TOKEN: u64 = 1024 * 1024;

/// Where an HMAC secret comes from (at most one of the three).
#[derive(Args, Debug, Clone, Default)]
pub struct SecretArgs {
    /// The secret itself (visible in `ps`; prefer --secret-env or --secret-file).
    // Hyphen values: a base64url secret (`jwtkit secret generate`) may start with `-`.
    #[arg(
        long,
        value_name = "VALUE",
        group = "secret_source",
        allow_hyphen_values = true
    )]
    pub secret: Option<String>,
    /// Name of an environment variable holding the secret.
    #[arg(long, value_name = "NAME", group = "secret_source")]
    pub secret_env: Option<String>,
    /// File holding the secret (one trailing newline is ignored).
    #[arg(long, value_name = "PATH", group = "secret_source")]
    pub secret_file: Option<PathBuf>,
    /// How the secret text maps to key bytes: raw, base64, base64url, hex or auto
    /// (base64 if it decodes, else raw; the choice is reported on stderr).
    #[arg(long, value_name = "ENC")]
    pub secret_encoding: Option<SecretEncoding>,
}

impl SecretArgs {
    /// The explicit source, if any flag was given.
    pub fn source(&self) -> Option<SecretSource> {
        if let Some(text) = &self.secret {
            Some(SecretSource::literal(text.clone()))
        } else if let Some(name) = &self.secret_env {
            Some(SecretSource::Env(name.clone()))
        } else {
            self.secret_file.clone().map(SecretSource::File)
        }
    }

    /// The explicit source, else the first of `fallback_envs` that is set.
    pub fn source_or_env(&self, fallback_envs: &[&str]) -> Option<SecretSource> {
        self.source().or_else(|| {
            fallback_envs
                .iter()
                .find(|name| std::env::var_os(name).is_some())
                .map(|name| SecretSource::Env((*name).to_owned()))
        })
    }

    /// Loads the secret; `default_encoding` applies when --secret-encoding is absent.
    pub fn load(
        &self,
        fallback_envs: &[&str],
        default_encoding: SecretEncoding,
    ) -> Result<Option<Decoded>, CliError> {
        let Some(source) = self.source_or_env(fallback_envs) else {
            return Ok(None);
        };
        let encoding = self.secret_encoding.unwrap_or(default_encoding);
        let decoded = Secret::load(&source, encoding).map_err(CliError::failure)?;
        if encoding == SecretEncoding::Auto {
            eprintln!(
                "note: secret from {} read as {} (auto), {} bytes, {}",
                source.describe(),
                decoded.encoding,
                decoded.secret.len(),
                decoded.secret.fingerprint()
            );
        }
        Ok(Some(decoded))
    }
}

/// Reads the token argument, or stdin when it is absent or `-`. Surrounding whitespace and a
/// `Bearer ` prefix are removed so a copied Authorization header works too.
pub fn read_token(arg: Option<&str>) -> Result<String, CliError> {
    let raw = match arg {
        Some(token) if token != "-" => token.to_owned(),
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(CliError::usage(
                    "pass a token as an argument or pipe one on stdin",
                ));
            }
            let mut bytes = Vec::new();
            stdin
                .lock()
                .take(MAX_STDIN_TOKEN + 1)
                .read_to_end(&mut bytes)
                .map_err(|err| CliError::failure(format!("cannot read stdin: {}", err.kind())))?;
            // The size first: a cut through a multi-byte character must not turn an oversized
            // token into a UTF-8 error. Reported like the library's own size cap, with its code.
            if bytes.len() as u64 > MAX_STDIN_TOKEN {
                return Err(CliError::Invalid {
                    code: "token_too_large",
                    reason: format!("the token on stdin is over {MAX_STDIN_TOKEN} bytes (1 MiB)"),
                });
            }
            String::from_utf8(bytes).map_err(|_| CliError::failure("stdin is not UTF-8 text"))?
        }
    };
    let token = raw.trim();
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token);
    if token.is_empty() {
        return Err(CliError::usage("the token is empty"));
    }
    Ok(token.trim().to_owned())
}

/// Reads a key file as text, with an error that names the file.
fn read_key_file(path: &PathBuf) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|err| {
        CliError::failure(format!(
            "cannot read key file {}: {}",
            path.display(),
            err.kind()
        ))
    })
}

/// A signing key from a PEM private key or a private JWK file.
pub fn signing_key_from_file(
    path: &PathBuf,
    alg: Option<Algorithm>,
) -> Result<SigningKey, CliError> {
    let text = read_key_file(path)?;
    SigningKey::from_pem_or_jwk(alg, &text)
        .map_err(|err| CliError::failure(format!("{}: {err}", path.display())))
}

/// A verification key from a PEM (public or private) or a single JWK of any kty.
pub fn verifying_key_from_file(path: &PathBuf) -> Result<VerifyingKey, CliError> {
    let text = read_key_file(path)?;
    VerifyingKey::from_pem_or_jwk(&text)
        .map_err(|err| CliError::failure(format!("{}: {err}", path.display())))
}

/// All usable keys of a JWKS file; skipped keys are reported on stderr.
pub fn verifying_keys_from_jwks_file(path: &PathBuf) -> Result<Vec<VerifyingKey>, CliError> {
    let bytes = std::fs::read(path).map_err(|err| {
        CliError::failure(format!(
            "cannot read JWKS file {}: {}",
            path.display(),
            err.kind()
        ))
    })?;
    let parsed = jwtkit_keys::parse_key_set(&bytes)
        .map_err(|err| CliError::failure(format!("{}: {err}", path.display())))?;
    for skipped in &parsed.skipped {
        eprintln!("note: {}: {skipped}", path.display());
    }
    if parsed.keys.is_empty() {
        return Err(CliError::failure(format!(
            "{}: no usable key in the set",
            path.display()
        )));
    }
    Ok(parsed.keys)
}

/// Seconds from `90`, `90s`, `5m`, `1h`, `1d`, `1w` (zero allowed).
pub fn parse_seconds(text: &str) -> Result<u64, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    match text.parse::<jwtkit_mint::Expiry>() {
        Ok(jwtkit_mint::Expiry::After(seconds)) => Ok(seconds),
        _ if text.trim_end_matches(['s', 'm', 'h', 'd', 'w']) == "0" => Ok(0),
        _ => Err(format!(
            "invalid duration {text:?}: use seconds (90) or a unit (90s, 5m, 1h, 1d)"
        )),
    }
}

/// Parses `NAME=VALUE`; VALUE is JSON when it parses as JSON, else a string.
pub fn parse_claim(text: &str) -> Result<(String, serde_json::Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))?;
    if name.is_empty() {
        return Err("the claim name is empty".into());
    }
    let value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_json_when_they_parse_else_strings() {
        assert_eq!(
            parse_claim("n=5").unwrap(),
            ("n".into(), serde_json::json!(5))
        );
        assert_eq!(
            parse_claim("t=test-tenant").unwrap(),
            ("t".into(), serde_json::json!("test-tenant"))
        );
        assert_eq!(
            parse_claim("o={\"a\":[1]}").unwrap().1,
            serde_json::json!({"a": [1]})
        );
        assert_eq!(parse_claim("e=").unwrap().1, serde_json::json!(""));
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_seconds("90").unwrap(), 90);
        assert_eq!(parse_seconds("5m").unwrap(), 300);
        assert_eq!(parse_seconds("0s").unwrap(), 0);
        assert!(parse_seconds("5 parsecs").is_err());
    }
}
