//! Key pair generation for `jwtkit keygen`.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use zeroize::Zeroizing;

use crate::pem_keys::ecdsa_signing;
use crate::{Algorithm, Jwk, KeyError, KeyKind, SigningKey};

/// A freshly generated asymmetric key pair.
pub struct GeneratedKeyPair {
    /// PKCS#8 private key PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_pem: Zeroizing<String>,
    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_pem: String,
    /// The public JWK with `alg`, `use: sig` and the RFC 7638 thumbprint as `kid`.
    pub public_jwk: Jwk,
}

/// Generates a key pair for `algorithm`. RSA moduli are `rsa_bits` long (2048, 3072 or 4096).
pub fn generate(algorithm: Algorithm, rsa_bits: usize) -> Result<GeneratedKeyPair, KeyError> {
    let failed = |_| KeyError::Crypto("key generation failed".into());
    let (private_der, public_der): (Zeroizing<Vec<u8>>, Vec<u8>) = match algorithm.key_kind() {
        KeyKind::Hmac => {
            return Err(KeyError::AlgorithmMismatch {
                algorithm,
                key: KeyKind::Rsa,
            });
        }
        KeyKind::Rsa => {
            let size = match rsa_bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                other => {
                    return Err(KeyError::Crypto(format!(
                        "RSA size {other} not offered; use 2048, 3072 or 4096"
                    )));
                }
            };
            let key = RsaKeyPair::generate(size).map_err(failed)?;
            let private: Pkcs8V1Der = key.as_der().map_err(failed)?;
            let public: PublicKeyX509Der = key.public_key().as_der().map_err(failed)?;
            (
                Zeroizing::new(private.as_ref().to_vec()),
                public.as_ref().to_vec(),
            )
        }
        KeyKind::Ec(curve) => {
            let key = EcdsaKeyPair::generate(ecdsa_signing(curve)).map_err(failed)?;
            let private = key.to_pkcs8v1().map_err(failed)?;
            let public: PublicKeyX509Der = key.public_key().as_der().map_err(failed)?;
            (
                Zeroizing::new(private.as_ref().to_vec()),
                public.as_ref().to_vec(),
            )
        }
        KeyKind::Ed25519 => {
            let key = Ed25519KeyPair::generate().map_err(failed)?;
            let private = key.to_pkcs8v1().map_err(failed)?;
            let public: PublicKeyX509Der = key.public_key().as_der().map_err(failed)?;
            (
                Zeroizing::new(private.as_ref().to_vec()),
                public.as_ref().to_vec(),
            )
        }
    };
    let private_pem = Zeroizing::new(pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        private_der.to_vec(),
    )));
    let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", public_der));
    let mut public_jwk = SigningKey::from_pem(Some(algorithm), &private_pem)?
        .public_jwk()
        .expect("asymmetric key");
    public_jwk.kid = Some(public_jwk.thumbprint()?);
    Ok(GeneratedKeyPair {
        private_pem,
        public_pem,
        public_jwk,
    })
}
