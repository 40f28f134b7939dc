//! `jwtkit secret generate|fingerprint`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use jwtkit_secret::{DEFAULT_GENERATED_LEN, Secret, SecretEncoding};

use crate::input::{DEFAULT_SECRET_ENV, SecretArgs};
use crate::{CliError, print_json};

/// Subcommands of `jwtkit secret`.
#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Print a new random secret (default 32 bytes, base64url).
    Generate(GenerateArgs),
    /// Print the fingerprint of a secret (sha256:…), safe to log and compare across services.
    Fingerprint(FingerprintArgs),
}

/// Arguments of `jwtkit secret generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of random bytes: 32 for HS256, 48 for HS384, 64 for HS512.
    #[arg(long, default_value_t = DEFAULT_GENERATED_LEN as u64, value_parser = clap::value_parser!(u64).range(32..=1024))]
    bytes: u64,
    /// Text encoding of the output: base64url, base64 or hex.
    #[arg(long, default_value = "base64url")]
    encoding: SecretEncoding,
    /// Also print the fingerprint and length as JSON: {"secret", "fingerprint", "bytes", "encoding"}.
    #[arg(long)]
    json: bool,
}

/// Arguments of `jwtkit secret fingerprint`.
#[derive(Args, Debug)]
pub struct FingerprintArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// Print {"fingerprint", "bytes", "encoding"}.
    #[arg(long)]
    json: bool,
}

pub fn run(command: SecretCommand) -> Result<ExitCode, CliError> {
    match command {
        SecretCommand::Generate(args) => {
            if matches!(args.encoding, SecretEncoding::Raw | SecretEncoding::Auto) {
                return Err(CliError::usage(
                    "random bytes are not text: use --encoding base64url, base64 or hex",
                ));
            }
            let secret = Secret::generate(args.bytes as usize).map_err(CliError::failure)?;
            let text = secret.encode(args.encoding);
            if args.json {
                print_json(&serde_json::json!({
                    "secret": text.as_str(),
                    "fingerprint": secret.fingerprint().to_string(),
                    // The same text used as raw key bytes (as PyJWT does with a string secret).
                    "fingerprint_as_text": jwtkit_secret::Fingerprint::of(text.as_bytes()).to_string(),
                    "bytes": secret.len(),
                    "encoding": args.encoding.name(),
                }));
            } else {
                println!("{}", text.as_str());
            }
        }
        SecretCommand::Fingerprint(args) => {
            let decoded = args.secret.load(&[DEFAULT_SECRET_ENV], SecretEncoding::Raw)?.ok_or_else(|| {
                CliError::failure(format!(
                    "no secret: pass --secret, --secret-env NAME or --secret-file PATH, or set {DEFAULT_SECRET_ENV}"
                ))
            })?;
            let fingerprint = decoded.secret.fingerprint().to_string();
            if args.json {
                print_json(&serde_json::json!({
                    "fingerprint": fingerprint,
                    "bytes": decoded.secret.len(),
                    "encoding": decoded.encoding.name(),
                }));
            } else {
                println!(
                    "{fingerprint}  ({} bytes, read as {})",
                    decoded.secret.len(),
                    decoded.encoding
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
