//! PEM key files: which block types are accepted and what each becomes.

use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};

use crate::{EcCurve, KeyError, SigningKey, VerifyingKey};

/// An asymmetric private key whose algorithm family is known but whose algorithm is not chosen.
pub(crate) enum PrivateKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, EcCurve),
    Ed25519(Ed25519KeyPair),
}

pub(crate) fn ecdsa_signing(curve: EcCurve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        EcCurve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        EcCurve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        EcCurve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

const CURVES: [EcCurve; 3] = [EcCurve::P256, EcCurve::P384, EcCurve::P521];

fn parse_block(text: &str) -> Result<pem::Pem, KeyError> {
    let block = pem::parse(text.trim()).map_err(|_| {
        KeyError::Pem("no PEM block found (expected a line like -----BEGIN PUBLIC KEY-----)".into())
    })?;
    match block.tag() {
        "ENCRYPTED PRIVATE KEY" => Err(KeyError::Pem(
            "the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)"
                .into(),
        )),
        "CERTIFICATE" => Err(KeyError::Pem(
            "a certificate, not a key; extract its key with: openssl x509 -pubkey -noout -in cert.pem"
                .into(),
        )),
        _ => Ok(block),
    }
}

/// Parses a private key PEM: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or
/// `EC PRIVATE KEY` (SEC1).
pub(crate) fn private_key(text: &str) -> Result<PrivateKey, KeyError> {
    let block = parse_block(text)?;
    let der = block.contents();
    let unusable = |what: &str| KeyError::Pem(format!("the {what} could not be parsed"));
    match block.tag() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der)
            .map(PrivateKey::Rsa)
            .map_err(|_| unusable("RSA private key")),
        "EC PRIVATE KEY" => CURVES
            .into_iter()
            .find_map(|c| {
                EcdsaKeyPair::from_private_key_der(ecdsa_signing(c), der)
                    .ok()
                    .map(|k| (k, c))
            })
            .map(|(k, c)| PrivateKey::Ec(k, c))
            .ok_or_else(|| unusable("EC private key (P-256, P-384 or P-521)")),
        "PRIVATE KEY" => {
            if let Ok(key) = RsaKeyPair::from_pkcs8(der) {
                return Ok(PrivateKey::Rsa(key));
            }
            if let Some((key, curve)) = CURVES.into_iter().find_map(|c| {
                EcdsaKeyPair::from_pkcs8(ecdsa_signing(c), der)
                    .ok()
                    .map(|k| (k, c))
            }) {
                return Ok(PrivateKey::Ec(key, curve));
            }
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(PrivateKey::Ed25519)
                .map_err(|_| unusable("PKCS#8 key (RSA, EC P-256/P-384/P-521 or Ed25519)"))
        }
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(KeyError::Pem(
            "a public key cannot sign; pass the private key".into(),
        )),
        other => Err(KeyError::Pem(format!("unsupported PEM block {other:?}"))),
    }
}

/// A verification key from a public or private key PEM.
pub(crate) fn verifying_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let block = parse_block(text)?;
    match block.tag() {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => VerifyingKey::from_public_der(block.contents()),
        // A private key is not bound to one algorithm of its kind (an RSA key serves RS* and
        // PS*), so its public half must not inherit the signing default's `alg`.
        _ => {
            let mut jwk = SigningKey::from_pem(None, text)?
                .public_jwk()
                .ok_or_else(|| KeyError::Pem("an HMAC secret has no public key".into()))?;
            jwk.alg = None;
            VerifyingKey::from_jwk(&jwk)
        }
    }
}
