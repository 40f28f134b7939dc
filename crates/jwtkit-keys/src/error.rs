use jwtkit_secret::SecretError;

use crate::{Algorithm, KeyKind};

/// Why key material could not be loaded or used. Messages never contain key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// `alg: none` (any spelling): unsigned tokens are never produced or accepted.
    #[error("the `none` algorithm is not allowed: unsigned tokens are never accepted")]
    AlgNone,
    /// An algorithm name jwtkit does not implement.
    #[error(
        "unsupported algorithm {0:?}; use one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 \
         PS512 ES256 ES384 ES512 EdDSA (names are case-sensitive)"
    )]
    UnsupportedAlgorithm(String),
    /// The key cannot be used with the requested algorithm.
    #[error("{algorithm} needs {}, but the key is an {key}", kind_for(*algorithm))]
    AlgorithmMismatch {
        /// The requested algorithm.
        algorithm: Algorithm,
        /// What the key is.
        key: KeyKind,
    },
    /// RFC 7518 §3.3: RSA keys must have at least 2048 bits.
    #[error("RSA keys must have at least 2048 bits (RFC 7518 section 3.3); this key has {bits}")]
    RsaTooSmall {
        /// Modulus size in bits.
        bits: usize,
    },
    /// An Ed25519 public key that is one of the eight points of small order (or an encoding of
    /// one): such a key verifies signatures nobody made (the identity point verifies one fixed
    /// signature over every message), so it is refused when loaded, from any source.
    #[error("the Ed25519 public key is a point of small order: it would accept forged signatures")]
    Ed25519SmallOrder,
    /// An Ed25519 public key whose encoded `y` is not below the field prime (RFC 8032 §5.1.3
    /// requires `y < p`): refused when loaded rather than reduced.
    #[error("the Ed25519 public key is not canonically encoded (its y is not below 2^255 - 19)")]
    Ed25519NonCanonical,
    /// A symmetric (`oct`) key in a published JWK Set ([`KeySetOrigin::Published`]): anyone
    /// who can fetch the set knows it, so it never verifies anything.
    ///
    /// [`KeySetOrigin::Published`]: crate::KeySetOrigin::Published
    #[error(
        "a symmetric (oct) key in a published key set is not used: whoever can fetch the set knows it"
    )]
    PublishedSymmetricKey,
    /// The PEM text could not be used.
    #[error("PEM key: {0}")]
    Pem(String),
    /// The JWK could not be used.
    #[error("JWK: {0}")]
    Jwk(String),
    /// The secret is unusable for the algorithm.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The crypto library refused the key material or failed to sign.
    #[error("{0}")]
    Crypto(String),
}

fn kind_for(algorithm: Algorithm) -> String {
    match algorithm.key_kind() {
        KeyKind::Hmac => "an HMAC secret".to_owned(),
        other => format!("an {other}"),
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key may not be used with this algorithm (wrong family, or the JWK names another `alg`).
    #[error("the key may not be used with {0}")]
    AlgorithmNotAllowed(Algorithm),
    /// The signature does not match.
    #[error("the signature does not match")]
    Invalid,
}
