//! The JWS algorithms of RFC 7518 (and EdDSA of RFC 8037) that jwtkit signs and verifies.

use std::fmt;
use std::str::FromStr;

use jwtkit_secret::HmacAlgorithm;

use crate::KeyError;

/// A JWS `alg` value. `none` is deliberately not representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // the variants are the registered JOSE names
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

/// The elliptic curves of ECDSA JWS algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256, used by ES256.
    P256,
    /// NIST P-384, used by ES384.
    P384,
    /// NIST P-521, used by ES512.
    P521,
}

/// The kind of key an algorithm needs. A key is only ever used with algorithms of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A shared secret (`kty: oct`).
    Hmac,
    /// An RSA key of at least 2048 bits (`kty: RSA`), for RS* and PS*.
    Rsa,
    /// An ECDSA key on one curve (`kty: EC`); each curve has exactly one algorithm.
    Ec(EcCurve),
    /// An Ed25519 key (`kty: OKP`, `crv: Ed25519`).
    Ed25519,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 13] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
    ];

    /// The registered name, as it appears in a JOSE header.
    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The kind of key this algorithm needs.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => KeyKind::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyKind::Rsa
            }
            Self::ES256 => KeyKind::Ec(EcCurve::P256),
            Self::ES384 => KeyKind::Ec(EcCurve::P384),
            Self::ES512 => KeyKind::Ec(EcCurve::P521),
            Self::EdDSA => KeyKind::Ed25519,
        }
    }

    /// The HMAC variant, for HS* algorithms.
    pub fn hmac(self) -> Option<HmacAlgorithm> {
        match self {
            Self::HS256 => Some(HmacAlgorithm::Hs256),
            Self::HS384 => Some(HmacAlgorithm::Hs384),
            Self::HS512 => Some(HmacAlgorithm::Hs512),
            _ => None,
        }
    }

    /// The algorithms a key of `kind` can serve.
    pub fn for_kind(kind: KeyKind) -> impl Iterator<Item = Algorithm> {
        Self::ALL
            .into_iter()
            .filter(move |alg| alg.key_kind() == kind)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    /// Names are case-sensitive (RFC 7515 §4.1.1); `none` in any spelling is its own error.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name.eq_ignore_ascii_case("none") {
            return Err(KeyError::AlgNone);
        }
        Self::ALL
            .into_iter()
            .find(|alg| alg.name() == name)
            .ok_or_else(|| KeyError::UnsupportedAlgorithm(name.chars().take(32).collect()))
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl EcCurve {
    /// The JWK `crv` name.
    pub fn jwk_name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// The one JWS algorithm defined for the curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::ES256,
            Self::P384 => Algorithm::ES384,
            Self::P521 => Algorithm::ES512,
        }
    }

    /// Length in bytes of one coordinate (and of `r` and `s` in a JWS signature).
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// Parses a JWK `crv` name.
    pub fn from_jwk_name(name: &str) -> Option<Self> {
        [Self::P256, Self::P384, Self::P521]
            .into_iter()
            .find(|c| c.jwk_name() == name)
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hmac => f.write_str("HMAC secret"),
            Self::Rsa => f.write_str("RSA key"),
            Self::Ec(curve) => write!(f, "EC {} key", curve.jwk_name()),
            Self::Ed25519 => f.write_str("Ed25519 key"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>().unwrap(), alg);
        }
        assert!(matches!(
            "hs256".parse::<Algorithm>(),
            Err(KeyError::UnsupportedAlgorithm(_))
        ));
        for none in ["none", "None", "NONE", "nOnE"] {
            assert!(matches!(none.parse::<Algorithm>(), Err(KeyError::AlgNone)));
        }
    }

    #[test]
    fn each_curve_has_exactly_one_algorithm() {
        for curve in [EcCurve::P256, EcCurve::P384, EcCurve::P521] {
            let algs: Vec<_> = Algorithm::for_kind(KeyKind::Ec(curve)).collect();
            assert_eq!(algs, vec![curve.algorithm()]);
        }
        assert_eq!(Algorithm::for_kind(KeyKind::Rsa).count(), 6);
    }
}
