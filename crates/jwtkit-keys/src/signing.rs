//! Pre-parsed signing keys: parse once, sign many times.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use jwtkit_secret::Secret;

use crate::pem_keys::{self, PrivateKey, ecdsa_signing};
use crate::verifying::{bit_length, check_rsa_bits, hmac_algorithm};
use crate::{Algorithm, EcCurve, Jwk, KeyError, KeyKind, VerifyingKey, b64};

/// A key that signs with exactly one algorithm, with an optional `kid` for the JOSE header.
pub struct SigningKey {
    algorithm: Algorithm,
    kid: Option<String>,
    signer: Signer,
}

enum Signer {
    // Boxed: an HMAC key holds precomputed digest states (over 1 KiB), the other variants are pointers.
    Hmac(Box<hmac::Key>, Secret),
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// An HMAC signing key; fails unless `algorithm` is HS* and the secret meets its minimum.
    pub fn hmac(algorithm: Algorithm, secret: &Secret) -> Result<Self, KeyError> {
        let Some(hmac_alg) = algorithm.hmac() else {
            return Err(KeyError::AlgorithmMismatch {
                algorithm,
                key: KeyKind::Hmac,
            });
        };
        secret.check_length(hmac_alg)?;
        let key = hmac::Key::new(hmac_algorithm(algorithm), secret.expose_bytes());
        Ok(Self {
            algorithm,
            kid: None,
            signer: Signer::Hmac(Box::new(key), secret.clone()),
        })
    }

    /// A signing key from private key PEM. Without `algorithm`, the key decides: RSA -> RS256,
    /// P-256 -> ES256, P-384 -> ES384, P-521 -> ES512, Ed25519 -> EdDSA.
    pub fn from_pem(algorithm: Option<Algorithm>, text: &str) -> Result<Self, KeyError> {
        Self::from_private(algorithm, pem_keys::private_key(text)?)
    }

    /// A signing key from the text of a key file, private key PEM or a private JWK: text that
    /// starts with `{` (after white space) is read as a JWK ([`Self::from_jwk`]), anything else as
    /// PEM ([`Self::from_pem`]).
    pub fn from_pem_or_jwk(algorithm: Option<Algorithm>, text: &str) -> Result<Self, KeyError> {
        if crate::jwk::looks_like_json(text) {
            Self::from_jwk(algorithm, &Jwk::from_json(text)?)
        } else {
            Self::from_pem(algorithm, text)
        }
    }

    /// A signing key from a private JWK (`oct`, or `RSA`/`EC`/`OKP` with `d`). The algorithm is
    /// `algorithm`, else the JWK's `alg`, else the key's default.
    pub fn from_jwk(algorithm: Option<Algorithm>, jwk: &Jwk) -> Result<Self, KeyError> {
        let jwk_alg = jwk
            .alg
            .as_deref()
            .map(str::parse::<Algorithm>)
            .transpose()?;
        if let (Some(wanted), Some(named)) = (algorithm, jwk_alg)
            && wanted != named
        {
            return Err(KeyError::Jwk(format!(
                "the JWK is for {named}, not {wanted}"
            )));
        }
        let algorithm = algorithm.or(jwk_alg);
        let unusable =
            |what: &str| KeyError::Jwk(format!("the {what} was rejected by the crypto library"));
        let private = match jwk.kty.as_str() {
            "oct" => {
                let secret = Secret::from_bytes(jwk.member("k")?)?;
                let key = Self::hmac(algorithm.unwrap_or(Algorithm::HS256), &secret)?;
                return Ok(key.with_kid(jwk.kid.clone()));
            }
            "RSA" => {
                let n = jwk.member("n")?;
                check_rsa_bits(bit_length(&n))?;
                let components = KeyPairComponents {
                    public_key: PublicKeyComponents {
                        n,
                        e: jwk.member("e")?,
                    },
                    d: jwk.member("d")?,
                    p: jwk.member("p")?,
                    q: jwk.member("q")?,
                    dP: jwk.member("dp")?,
                    dQ: jwk.member("dq")?,
                    qInv: jwk.member("qi")?,
                };
                PrivateKey::Rsa(
                    RsaKeyPair::from_components(&components).map_err(|_| unusable("RSA key"))?,
                )
            }
            "EC" => {
                let crv = jwk.crv.as_deref().unwrap_or_default();
                let curve = EcCurve::from_jwk_name(crv)
                    .ok_or_else(|| KeyError::Jwk(format!("unsupported EC curve {crv:?}")))?;
                let point = [&[0x04][..], &jwk.member("x")?, &jwk.member("y")?].concat();
                let key = EcdsaKeyPair::from_private_key_and_public_key(
                    ecdsa_signing(curve),
                    &jwk.member("d")?,
                    &point,
                )
                .map_err(|_| unusable("EC key"))?;
                PrivateKey::Ec(key, curve)
            }
            "OKP" if jwk.crv.as_deref() == Some("Ed25519") => PrivateKey::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(&jwk.member("d")?, &jwk.member("x")?)
                    .map_err(|_| unusable("Ed25519 key"))?,
            ),
            other => return Err(KeyError::Jwk(format!("cannot sign with a {other:?} key"))),
        };
        Ok(Self::from_private(algorithm, private)?.with_kid(jwk.kid.clone()))
    }

    pub(crate) fn from_private(
        algorithm: Option<Algorithm>,
        key: PrivateKey,
    ) -> Result<Self, KeyError> {
        let kind = match &key {
            PrivateKey::Rsa(_) => KeyKind::Rsa,
            PrivateKey::Ec(_, curve) => KeyKind::Ec(*curve),
            PrivateKey::Ed25519(_) => KeyKind::Ed25519,
        };
        let algorithm = match algorithm {
            Some(alg) if alg.key_kind() == kind => alg,
            Some(alg) => {
                return Err(KeyError::AlgorithmMismatch {
                    algorithm: alg,
                    key: kind,
                });
            }
            None => Algorithm::for_kind(kind)
                .next()
                .expect("every key kind has an algorithm"),
        };
        let signer = match key {
            PrivateKey::Rsa(key) => {
                check_rsa_bits(key.public_modulus_len() * 8)?;
                Signer::Rsa(key)
            }
            PrivateKey::Ec(key, _) => Signer::Ec(key),
            PrivateKey::Ed25519(key) => Signer::Ed25519(key),
        };
        Ok(Self {
            algorithm,
            kid: None,
            signer,
        })
    }

    /// Sets the `kid` to put in headers.
    pub fn with_kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Signs `message` (the JWS signing input).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError::Crypto("signing failed".into());
        match &self.signer {
            Signer::Hmac(key, _) => Ok(hmac::sign(key, message).as_ref().to_vec()),
            Signer::Rsa(key) => {
                let padding: &'static dyn signature::RsaEncoding = match self.algorithm {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut out = vec![0u8; key.public_modulus_len()];
                key.sign(padding, &SystemRandom::new(), message, &mut out)
                    .map_err(|_| failed())?;
                Ok(out)
            }
            Signer::Ec(key) => Ok(key
                .sign(&SystemRandom::new(), message)
                .map_err(|_| failed())?
                .as_ref()
                .to_vec()),
            Signer::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }

    /// The public JWK of an asymmetric key (`alg`, `use: sig`, and the `kid` if set); `None` for
    /// HMAC keys, whose key must never be published.
    pub fn public_jwk(&self) -> Option<Jwk> {
        let mut jwk = match &self.signer {
            Signer::Hmac(..) => return None,
            Signer::Rsa(key) => {
                let components = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
                Jwk {
                    kty: "RSA".into(),
                    n: Some(b64::encode(&components.n)),
                    e: Some(b64::encode(&components.e)),
                    ..Jwk::default()
                }
            }
            Signer::Ec(key) => {
                let point = key.public_key().as_ref();
                let curve = match self.algorithm.key_kind() {
                    KeyKind::Ec(curve) => curve,
                    _ => unreachable!("EC signer with a non-EC algorithm"),
                };
                let len = curve.coordinate_len();
                Jwk {
                    kty: "EC".into(),
                    crv: Some(curve.jwk_name().into()),
                    x: Some(b64::encode(&point[1..1 + len])),
                    y: Some(b64::encode(&point[1 + len..])),
                    ..Jwk::default()
                }
            }
            Signer::Ed25519(key) => Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(b64::encode(key.public_key().as_ref())),
                ..Jwk::default()
            },
        };
        jwk.alg = Some(self.algorithm.name().into());
        jwk.use_ = Some("sig".into());
        jwk.kid = self.kid.clone();
        Some(jwk)
    }

    /// The matching verification key (same `kid`).
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        match &self.signer {
            Signer::Hmac(_, secret) => Ok(VerifyingKey::hmac(secret)?.with_kid(self.kid.clone())),
            _ => {
                let jwk = self
                    .public_jwk()
                    .expect("asymmetric keys have a public JWK");
                VerifyingKey::from_jwk(&jwk)
            }
        }
    }

    /// A fingerprint safe to log: the secret's fingerprint for HMAC, the RFC 7638 thumbprint
    /// (first 16 characters) otherwise.
    pub fn fingerprint(&self) -> String {
        match &self.signer {
            Signer::Hmac(_, secret) => secret.fingerprint().to_string(),
            _ => {
                let thumbprint = self
                    .public_jwk()
                    .and_then(|j| j.thumbprint().ok())
                    .unwrap_or_default();
                format!("jwk-sha256:{}", &thumbprint[..thumbprint.len().min(16)])
            }
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}
