//! Wiring of the `jwtkit` command line: clap definitions, then one module per subcommand.
//!
//! Exit codes: 0 success, 1 failure (invalid token, missing or weak secret, unreadable key),
//! 2 bad arguments. Errors go to stderr as one line naming what to fix.

mod cmd_decode;
mod cmd_doctor;
mod cmd_keygen;
mod cmd_mint;
mod cmd_secret;
mod cmd_verify;
mod human;
mod input;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A failed command: what to print and which exit code to use.
#[derive(Debug)]
pub enum CliError {
    /// Exit 2: the arguments cannot work together.
    Usage(String),
    /// Exit 1: the operation failed (bad key, unreadable file, ...).
    Failure(String),
    /// Exit 1: the token is invalid; printed as `invalid: <code>: <reason>`.
    Invalid {
        /// Stable code from jwtkit-verify.
        code: &'static str,
        /// Human reason.
        reason: String,
    },
}

impl CliError {
    pub(crate) fn failure(message: impl std::fmt::Display) -> Self {
        Self::Failure(message.to_string())
    }

    pub(crate) fn usage(message: impl std::fmt::Display) -> Self {
        Self::Usage(message.to_string())
    }
}

impl From<jwtkit_verify::VerifyError> for CliError {
    fn from(err: jwtkit_verify::VerifyError) -> Self {
        Self::Invalid {
            code: err.code(),
            reason: err.to_string(),
        }
    }
}

/// Mint, decode, verify and debug JSON Web Tokens and their secrets.
#[derive(Parser, Debug)]
#[command(name = "jwtkit", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a signed token and print it alone on stdout.
    Mint(cmd_mint::MintArgs),
    /// Show a token's header and claims WITHOUT verifying anything.
    Decode(cmd_decode::DecodeArgs),
    /// Verify a token's signature and claims; exit 0 and print the claims when valid.
    Verify(cmd_verify::VerifyArgs),
    /// Generate secrets and compute their fingerprints.
    #[command(subcommand)]
    Secret(cmd_secret::SecretCommand),
    /// Explain why a token fails against the given secret(s).
    Doctor(cmd_doctor::DoctorArgs),
    /// Generate an asymmetric key pair: private PEM, public PEM and a JWKS.
    Keygen(cmd_keygen::KeygenArgs),
}

/// Parses the process arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Mint(args) => cmd_mint::run(args),
        Command::Decode(args) => cmd_decode::run(args),
        Command::Verify(args) => cmd_verify::run(args),
        Command::Secret(command) => cmd_secret::run(command),
        Command::Doctor(args) => cmd_doctor::run(args),
        Command::Keygen(args) => cmd_keygen::run(args),
    };
    match result {
        Ok(code) => code,
        Err(CliError::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Err(CliError::Invalid { code, reason }) => {
            eprintln!("invalid: {code}: {reason}");
            ExitCode::from(1)
        }
    }
}

/// Prints a JSON value, pretty, on stdout.
pub(crate) fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    );
}
