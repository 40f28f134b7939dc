//! JWS algorithms and key material for jwtkit.
//!
//! Every key is parsed once into a form that signs or verifies without further parsing:
//!
//! - [`SigningKey`]: an HMAC [`Secret`](jwtkit_secret::Secret), or a private key from PEM
//!   (PKCS#8, PKCS#1, SEC1) or a private JWK; it signs with exactly one [`Algorithm`].
//! - [`VerifyingKey`]: an HMAC secret, a public key from PEM or DER, or a JWK. A key is bound to
//!   its [`KeyKind`] and, when its JWK names an `alg`, to that algorithm only: an RSA public key can
//!   never be used as an HMAC secret (the classic RS/HS confusion), whatever a token's header says.
//! - [`parse_key_set`]: a JWK Set where one unusable key is skipped with a reason instead of
//!   failing the whole set; [`parse_key_set_from`] with [`KeySetOrigin::Published`] also skips
//!   the symmetric keys of a set anyone can fetch.
//! - [`keygen::generate`]: new key pairs as PEM plus a public JWK whose `kid` is the RFC 7638
//!   thumbprint.
//! - [`now`]: the clock minting and validation share (Unix seconds).
//!
//! The crypto provider is aws-lc-rs, the same backend jsonwebtoken is configured with in this
//! workspace; `alg: none` is not representable, RSA keys under 2048 bits are refused (RFC 7518
//! §3.3) and HMAC secrets shorter than the hash output are refused (RFC 7518 §3.2).
//!
//! ```
//! use jwtkit_keys::{Algorithm, SigningKey};
//! use jwtkit_secret::Secret;
//!
//! let secret = Secret::generate(32)?;
//! let signer = SigningKey::hmac(Algorithm::HS256, &secret)?;
//! let signature = signer.sign(b"header.payload")?;
//! let verifier = signer.verifying_key()?;
//! assert!(verifier.verify(Algorithm::HS256, b"header.payload", &signature).is_ok());
//! assert!(verifier.verify(Algorithm::HS256, b"header.other", &signature).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod algorithm;
pub mod b64;
mod clock;
mod error;
mod jwk;
pub mod keygen;
mod pem_keys;
mod signing;
mod verifying;

pub use algorithm::{Algorithm, EcCurve, KeyKind};
pub use clock::now;
pub use error::{KeyError, SignatureError};
pub use jwk::{
    Jwk, JwkSet, KeySetOrigin, PUBLISHED_OCT_KID_SHOWN, ParsedKeySet, SkippedKey, parse_key_set,
    parse_key_set_from,
};
pub use signing::SigningKey;
pub use verifying::{VerifyingKey, hmac_matches_for_diagnosis};
