use std::borrow::Cow;

#[cfg(feature = "jwks")]
use jwtkit_jwks::JwksError;
use jwtkit_keys::Algorithm;

/// Why a token was rejected. Each variant has a stable [`VerifyError::code`] for machines and a
/// message for people; neither ever contains the token or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a well-formed compact JWS with JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Longer than the configured cap.
    #[error("token is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Token length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// `alg` is `none`, unknown, not allowed by the policy, or not usable with the selected key.
    #[error("algorithm {0} is not allowed here")]
    AlgNotAllowed(String),
    /// The header lists `crit` extensions; none are implemented, so the token must be refused.
    #[error("the token requires header extensions this verifier does not implement (crit)")]
    UnsupportedCrit,
    /// No key with the token's `kid` (or, without a `kid`, no key for its algorithm).
    #[error("no key found for kid {0:?}")]
    UnknownKid(String),
    /// The signature does not verify with any candidate key.
    #[error("the signature does not verify")]
    BadSignature,
    /// `exp` is in the past beyond the leeway.
    #[error("the token expired at {exp} (now {now}, leeway {leeway} s)")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// Verification time.
        now: i64,
        /// Allowed clock skew.
        leeway: u64,
    },
    /// `nbf` is in the future beyond the leeway.
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// Verification time.
        now: i64,
    },
    /// `iat` is in the future beyond the leeway.
    #[error("the token claims to be issued at {iat}, in the future (now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// Verification time.
        now: i64,
    },
    /// `iss` missing or not accepted.
    #[error("issuer {0:?} is not trusted here")]
    UnknownIssuer(String),
    /// None of the token's audiences is accepted.
    #[error("the token's audience is not accepted here ({0})")]
    AudienceMismatch(String),
    /// `azp` is present and not an authorized party.
    #[error("authorized party {0:?} is not allowed")]
    UnauthorizedParty(String),
    /// A required claim is absent.
    #[error("required claim {0:?} is missing")]
    MissingClaim(String),
    /// A claim has the wrong JSON type or an impossible value, or the claims do not fit the
    /// caller's type (`validate_as`, `Validated::deserialize`): then `claim` is the path of the
    /// value that does not fit (`realm_access.roles[0]`; `*` for the claim set as a whole) and
    /// `reason` serde's message.
    #[error("claim {claim:?} is invalid: {reason}")]
    InvalidClaim {
        /// The claim, or the path to the value inside it.
        claim: String,
        /// What is wrong.
        reason: Cow<'static, str>,
    },
    /// The header `typ` is not the required one (RFC 8725 §3.11).
    #[error("token type {found:?} is not the required {expected:?}")]
    TypMismatch {
        /// Header value (or empty).
        found: String,
        /// Required value.
        expected: String,
    },
    /// The issuer's keys could not be obtained and no usable cached keys remain (feature `jwks`).
    #[cfg(feature = "jwks")]
    #[error("the keys of issuer {issuer:?} are unavailable: {source}")]
    JwksUnavailable {
        /// The issuer's configured name.
        issuer: String,
        /// Why the key set could not be fetched.
        #[source]
        source: JwksError,
    },
}

impl VerifyError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::TooLarge { .. } => "token_too_large",
            Self::AlgNotAllowed(_) => "alg_not_allowed",
            Self::UnsupportedCrit => "unsupported_crit",
            Self::UnknownKid(_) => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::IssuedInFuture { .. } => "issued_in_future",
            Self::UnknownIssuer(_) => "unknown_issuer",
            Self::AudienceMismatch(_) => "audience_mismatch",
            Self::UnauthorizedParty(_) => "unauthorized_party",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::TypMismatch { .. } => "typ_mismatch",
            #[cfg(feature = "jwks")]
            Self::JwksUnavailable { .. } => "jwks_unavailable",
        }
    }

    pub(crate) fn alg(alg: Algorithm) -> Self {
        Self::AlgNotAllowed(alg.name().to_owned())
    }
}

/// Makes attacker-controlled text safe for a message or log line: control characters (CR, LF,
/// ESC, ...) become `?` so a header value cannot forge log lines, and long text is cut.
pub(crate) fn clip(text: &str) -> String {
    clip_to(text, 64)
}

/// [`clip`] with another length limit, in characters.
pub(crate) fn clip_to(text: &str, max: usize) -> String {
    let mut short: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    #[test]
    fn clip_cuts_and_neutralises_control_characters() {
        assert_eq!(super::clip("a\r\nb\u{1b}"), "a??b?");
        let long = "x".repeat(100);
        assert_eq!(super::clip(&long).chars().count(), 65);
        assert_eq!(super::clip("short"), "short");
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn jwks_unavailable_keeps_the_fetch_error_as_its_source() {
        use std::error::Error as _;
        let fetch = super::JwksError::Status {
            url: "https://idp.example/jwks".into(),
            status: 502,
        };
        let err = super::VerifyError::JwksUnavailable {
            issuer: "idp".into(),
            source: fetch.clone(),
        };
        assert_eq!(err.code(), "jwks_unavailable");
        let source = err.source().expect("a source");
        assert_eq!(
            source.downcast_ref::<super::JwksError>(),
            Some(&fetch),
            "{source}"
        );
        assert!(err.to_string().contains("\"idp\""), "{err}");
    }
}
