//! Pre-parsed verification keys: parse once, verify many times.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm};
use jwtkit_secret::Secret;

use crate::{Algorithm, EcCurve, Jwk, KeyError, KeyKind, SignatureError, pem_keys};

/// A key that verifies JWS signatures, bound to its kind and (when the JWK says so) one algorithm.
///
/// Construction does all parsing; [`VerifyingKey::verify`] does only the cryptography.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    kind: KeyKind,
    thumbprint: Option<String>,
    verifiers: Vec<(Algorithm, Verifier)>,
}

#[derive(Clone)]
enum Verifier {
    // Boxed: an HMAC key holds precomputed digest states (over 1 KiB).
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

pub(crate) fn hmac_algorithm(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

/// The verification parameters of an asymmetric algorithm; RSA ones refuse moduli under 2048 bits.
fn public_algorithm(alg: Algorithm) -> &'static dyn VerificationAlgorithm {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            unreachable!("HMAC algorithms have no public key")
        }
    }
}

impl VerifyingKey {
    /// An HMAC key for every HS algorithm whose RFC 7518 minimum the secret meets (at least HS256).
    pub fn hmac(secret: &Secret) -> Result<Self, KeyError> {
        secret.check_length(jwtkit_secret::HmacAlgorithm::Hs256)?;
        let verifiers = Algorithm::for_kind(KeyKind::Hmac)
            .filter(|alg| alg.hmac().is_some_and(|h| secret.check_length(h).is_ok()))
            .map(|alg| {
                (
                    alg,
                    Verifier::Hmac(Box::new(hmac::Key::new(
                        hmac_algorithm(alg),
                        secret.expose_bytes(),
                    ))),
                )
            })
            .collect();
        Ok(Self {
            kid: None,
            kind: KeyKind::Hmac,
            thumbprint: None,
            verifiers,
        })
    }

    /// A public key from SubjectPublicKeyInfo DER (RSA, EC or Ed25519), or PKCS#1 RSA DER.
    pub fn from_public_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(rsa) = signature::RsaSubjectPublicKey::from_der(der) {
            check_rsa_bits(rsa.modulus_len() * 8)?;
            return Self::build(KeyKind::Rsa, None, |alg| {
                ParsedPublicKey::new(public_algorithm(alg), der)
            });
        }
        if let Some(key) = [
            KeyKind::Ec(EcCurve::P256),
            KeyKind::Ec(EcCurve::P384),
            KeyKind::Ec(EcCurve::P521),
        ]
        .into_iter()
        .find_map(|kind| {
            Self::build(kind, None, |alg| {
                ParsedPublicKey::new(public_algorithm(alg), der)
            })
            .ok()
        }) {
            return Ok(key);
        }
        // Ed25519 goes through the same point checks as a JWK's `x`: the DER is parsed only to
        // take the raw 32 bytes out of it (its last 32 bytes once re-encoded canonically).
        let raw = ParsedPublicKey::new(&signature::ED25519, der)
            .ok()
            .and_then(|parsed| parsed.as_der().ok())
            .and_then(|spki| {
                let spki = spki.as_ref();
                spki.get(spki.len().checked_sub(ED25519_PUBLIC_KEY_LEN)?..)
                    .map(<[u8]>::to_vec)
            })
            .ok_or_else(|| {
                KeyError::Pem("not an RSA, EC P-256/P-384/P-521 or Ed25519 public key".into())
            })?;
        Self::ed25519(&raw, None)
    }

    /// The one constructor of Ed25519 public keys (JWK `x`, SubjectPublicKeyInfo DER, and so
    /// PEM files, JWK Set files and fetched sets): refuses non-canonical encodings and points of
    /// small order before the key is usable.
    fn ed25519(raw: &[u8], only: Option<Algorithm>) -> Result<Self, KeyError> {
        check_ed25519_point(raw)?;
        Self::build(KeyKind::Ed25519, only, |alg| {
            ParsedPublicKey::new(public_algorithm(alg), raw)
        })
    }

    /// A public key from PEM text: `PUBLIC KEY`, `RSA PUBLIC KEY`, or a private key whose public
    /// half is used.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        pem_keys::verifying_key(text)
    }

    /// A public key from the text of a key file, PEM or a single JWK: text that starts with `{`
    /// (after white space) is read as a JWK ([`Self::from_jwk`]), anything else as PEM.
    pub fn from_pem_or_jwk(text: &str) -> Result<Self, KeyError> {
        if crate::jwk::looks_like_json(text) {
            Self::from_jwk(&Jwk::from_json(text)?)
        } else {
            Self::from_pem(text)
        }
    }

    /// A key from a JWK. `oct` keys become HMAC keys; asymmetric keys ignore private members.
    /// A JWK naming an `alg` is usable with that algorithm only; `use` other than `sig` and
    /// `key_ops` without `verify` are refused.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        if let Some(usage) = jwk.use_.as_deref().filter(|u| *u != "sig") {
            return Err(KeyError::Jwk(format!("`use` is {usage:?}, not \"sig\"")));
        }
        if let Some(ops) = &jwk.key_ops
            && !ops.iter().any(|op| op == "verify")
        {
            return Err(KeyError::Jwk(
                "`key_ops` does not include \"verify\"".into(),
            ));
        }
        let only = match jwk.alg.as_deref() {
            Some(name) => Some(name.parse::<Algorithm>()?),
            None => None,
        };
        let key = match jwk.kty.as_str() {
            "oct" => {
                let secret = Secret::from_bytes(jwk.member("k")?)?;
                // A pinned HS algorithm's own minimum first, so that a short key's error names
                // it (a 24-byte HS384 key needs 48 bytes, not HS256's 32).
                if let Some(h) = only.and_then(Algorithm::hmac) {
                    secret.check_length(h)?;
                }
                let mut key = Self::hmac(&secret)?;
                if let Some(alg) = only {
                    key.verifiers.retain(|(a, _)| *a == alg);
                    if key.verifiers.is_empty() {
                        return match alg.hmac() {
                            Some(h) => Err(secret.check_length(h).unwrap_err().into()),
                            None => Err(KeyError::AlgorithmMismatch {
                                algorithm: alg,
                                key: KeyKind::Hmac,
                            }),
                        };
                    }
                }
                key
            }
            "RSA" => {
                let components = RsaPublicKeyComponents {
                    n: jwk.member("n")?,
                    e: jwk.member("e")?,
                };
                check_rsa_bits(bit_length(&components.n))?;
                Self::build(KeyKind::Rsa, only, |alg| {
                    let params = match alg {
                        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                        _ => &signature::RSA_PSS_2048_8192_SHA512,
                    };
                    components.to_parsed_public_key(params)
                })?
            }
            "EC" => {
                let crv = jwk.crv.as_deref().unwrap_or_default();
                let curve = EcCurve::from_jwk_name(crv)
                    .ok_or_else(|| KeyError::Jwk(format!("unsupported EC curve {crv:?}")))?;
                let (x, y) = (jwk.member("x")?, jwk.member("y")?);
                let len = curve.coordinate_len();
                if x.len() != len || y.len() != len {
                    return Err(KeyError::Jwk(format!(
                        "{crv} coordinates must be {len} bytes each (RFC 7518 section 6.2.1.2)"
                    )));
                }
                let point = [&[0x04][..], &x, &y].concat();
                Self::build(KeyKind::Ec(curve), only, |alg| {
                    ParsedPublicKey::new(public_algorithm(alg), &point)
                })?
            }
            "OKP" => {
                let crv = jwk.crv.as_deref().unwrap_or_default();
                if crv != "Ed25519" {
                    return Err(KeyError::Jwk(format!("unsupported OKP curve {crv:?}")));
                }
                Self::ed25519(&jwk.member("x")?, only)?
            }
            other => {
                let shown: String = other.chars().take(16).collect();
                return Err(KeyError::Jwk(format!("unsupported kty {shown:?}")));
            }
        };
        let thumbprint = if key.kind == KeyKind::Hmac {
            None
        } else {
            jwk.thumbprint().ok()
        };
        Ok(Self {
            kid: jwk.kid.clone(),
            thumbprint,
            ..key
        })
    }

    /// Parses one public key per algorithm of `kind` (or only `only`), refusing a mismatch.
    fn build<E>(
        kind: KeyKind,
        only: Option<Algorithm>,
        mut parse: impl FnMut(Algorithm) -> Result<ParsedPublicKey, E>,
    ) -> Result<Self, KeyError> {
        if let Some(alg) = only
            && alg.key_kind() != kind
        {
            return Err(KeyError::AlgorithmMismatch {
                algorithm: alg,
                key: kind,
            });
        }
        let mut verifiers = Vec::new();
        for alg in Algorithm::for_kind(kind).filter(|a| only.is_none_or(|o| o == *a)) {
            let parsed = parse(alg).map_err(|_| rejected(kind))?;
            verifiers.push((alg, Verifier::Public(parsed)));
        }
        Ok(Self {
            kid: None,
            kind,
            thumbprint: None,
            verifiers,
        })
    }

    /// Replaces the key id.
    pub fn with_kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// What kind of key this is.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The RFC 7638 thumbprint of an asymmetric key loaded from a JWK.
    pub fn thumbprint(&self) -> Option<&str> {
        self.thumbprint.as_deref()
    }

    /// The algorithms this key may verify.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.verifiers.iter().map(|(alg, _)| *alg)
    }

    /// True if the key may verify `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.verifiers.iter().any(|(a, _)| *a == alg)
    }

    /// Verifies `signature` over `message` (the JWS signing input) with `alg`.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let (_, verifier) = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or(SignatureError::AlgorithmNotAllowed(alg))?;
        let ok = match verifier {
            Verifier::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Verifier::Public(key) => key.verify_sig(message, signature).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish()
    }
}

const ED25519_PUBLIC_KEY_LEN: usize = 32;

/// The field prime 2^255 - 19, little-endian as Ed25519 encodes `y` (RFC 8032 §5.1.2).
const FIELD_PRIME: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// The `y` of every point of small order, sign bit cleared: 0 (the two points of order 4),
/// 1 (the identity), p - 1 (order 2) and the `y` of the four points of order 8 (two values).
/// Matching on `y` alone also refuses the sign-bit-set encodings of x = 0 ("negative zero").
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    {
        let mut minus_one = FIELD_PRIME;
        minus_one[0] = 0xec;
        minus_one
    },
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

/// Refuses Ed25519 public key encodings that aws-lc accepts but that must not be trusted:
/// `y >= p` (non-canonical) and the points of small order, with which a fixed signature
/// verifies over any message (or over a large share of messages). Other lengths are left to
/// the parser, which refuses them.
fn check_ed25519_point(raw: &[u8]) -> Result<(), KeyError> {
    let Ok(mut y) = <[u8; ED25519_PUBLIC_KEY_LEN]>::try_from(raw) else {
        return Ok(());
    };
    y[31] &= 0x7f;
    // Little-endian: compare from the most significant byte down.
    if y.iter().rev().cmp(FIELD_PRIME.iter().rev()) != std::cmp::Ordering::Less {
        return Err(KeyError::Ed25519NonCanonical);
    }
    if SMALL_ORDER_Y.contains(&y) {
        return Err(KeyError::Ed25519SmallOrder);
    }
    Ok(())
}

fn rejected(kind: KeyKind) -> KeyError {
    KeyError::Crypto(format!(
        "the {kind} was rejected as malformed or unsupported"
    ))
}

/// Whether `signature` is the HMAC of `message` under `key`, whatever the key's length.
///
/// For diagnosis only (`jwtkit doctor` tells "this secret verifies but is too short"); never use it
/// to accept a token: [`VerifyingKey::hmac`] enforces the RFC 7518 minimum.
pub fn hmac_matches_for_diagnosis(
    alg: Algorithm,
    key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    alg.key_kind() == KeyKind::Hmac
        && hmac::verify(
            &hmac::Key::new(hmac_algorithm(alg), key),
            message,
            signature,
        )
        .is_ok()
}

/// RFC 7518 §3.3 and §3.5: RSA keys of 2048 bits or larger.
pub(crate) fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if bits < 2048 {
        Err(KeyError::RsaTooSmall { bits })
    } else {
        Ok(())
    }
}

/// Bit length of a big-endian unsigned integer.
pub(crate) fn bit_length(be: &[u8]) -> usize {
    match be.iter().position(|&b| b != 0) {
        Some(first) => (be.len() - first - 1) * 8 + (8 - be[first].leading_zeros() as usize),
        None => 0,
    }
}
