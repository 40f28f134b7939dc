use std::path::PathBuf;

use crate::{HmacAlgorithm, SecretEncoding};

/// Why a secret could not be loaded or used. Messages never contain secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret decoded to zero bytes.
    #[error("the secret is empty; generate one with `jwtkit secret generate`")]
    Empty,
    /// The named environment variable is not set.
    #[error("environment variable {name} is not set; export it or pass the secret another way")]
    EnvMissing {
        /// Variable name.
        name: String,
    },
    /// A file or variable held bytes that are not UTF-8 text.
    #[error("{source_name} is not UTF-8 text; store the key as base64, base64url or hex text")]
    NotText {
        /// Which source, e.g. `file /run/secrets/jwt`.
        source_name: String,
    },
    /// The secret file could not be read.
    #[error("cannot read secret file {}: {reason}", path.display())]
    File {
        /// The path that was tried.
        path: PathBuf,
        /// The I/O error kind, e.g. `entity not found`.
        reason: String,
    },
    /// The text is not valid in the declared encoding.
    #[error(
        "the secret is not valid {encoding}: {reason}; check the secret's declared encoding \
         (`raw` if the text itself is the key)"
    )]
    Decode {
        /// The encoding that was applied.
        encoding: SecretEncoding,
        /// What is wrong, without quoting the text.
        reason: &'static str,
    },
    /// The key is shorter than RFC 7518 requires for the algorithm.
    #[error(
        "{algorithm} needs a key of at least {needed} bytes (RFC 7518 section 3.2) but this secret \
         has {found} bytes; generate a longer one with `jwtkit secret generate --bytes {needed}`"
    )]
    TooShort {
        /// The algorithm the key was meant for.
        algorithm: HmacAlgorithm,
        /// Length of the decoded key.
        found: usize,
        /// Minimum length.
        needed: usize,
    },
    /// The operating system's random generator failed.
    #[error("the system random number generator failed")]
    Random,
}
