//! How an HTTP service answers a request it did not authenticate (feature `http`): the status,
//! the stable code and the RFC 6750 §3 `WWW-Authenticate` challenge, one mapping for every
//! service built on this crate; and the 403 answer to a token that does not meet its
//! [`Requirements`](crate::Requirements).
//!
//! ```
//! use http::StatusCode;
//! use jwtkit_verify::{Refusal, VerifyError};
//!
//! let refusal = Refusal::of(&VerifyError::BadSignature);
//! assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(refusal.code(), "bad_signature");
//! assert_eq!(
//!     refusal.challenge().unwrap(),
//!     "Bearer error=\"invalid_token\", error_description=\"bad_signature\""
//! );
//! assert_eq!(Refusal::MissingToken.challenge().unwrap(), "Bearer");
//! ```

use http::{HeaderValue, StatusCode};

use crate::VerifyError;
use crate::grpc::GrpcStatus;

/// Why a request was not authenticated, as HTTP answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token where the service looks for one: 401 with a bare `Bearer` challenge (RFC 6750
    /// §3.1: no error attribute when the request carried no credentials).
    MissingToken,
    /// The token was refused, with [`VerifyError::code`]: 401 with
    /// `Bearer error="invalid_token", error_description="<code>"`.
    InvalidToken(&'static str),
    /// The issuer's keys cannot be obtained (`VerifyError::JwksUnavailable`, feature `jwks`):
    /// 503 without a challenge, since the token may well be valid and the caller should retry,
    /// not re-login; [`Refusal::retry_after`] says when.
    KeysUnavailable,
}

impl Refusal {
    /// The refusal for a validation error.
    pub fn of(err: &VerifyError) -> Self {
        match err {
            #[cfg(feature = "jwks")]
            VerifyError::JwksUnavailable { .. } => Self::KeysUnavailable,
            _ => Self::InvalidToken(err.code()),
        }
    }

    /// The HTTP status: 401, or 503 for [`Refusal::KeysUnavailable`].
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable code: `missing_token`, the error's code, or `jwks_unavailable`.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken(code) => code,
            Self::KeysUnavailable => "jwks_unavailable",
        }
    }

    /// The status of the answer to a gRPC call ([`crate::grpc`]): `UNAUTHENTICATED` (16) for
    /// the 401s, `UNAVAILABLE` (14) for the 503, so that clients retry only the latter.
    pub fn grpc_status(self) -> GrpcStatus {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => GrpcStatus::Unauthenticated,
            Self::KeysUnavailable => GrpcStatus::Unavailable,
        }
    }

    /// The `WWW-Authenticate` value of a 401; `None` for the 503.
    pub fn challenge(self) -> Option<HeaderValue> {
        match self {
            Self::MissingToken => Some(HeaderValue::from_static("Bearer")),
            // Codes are fixed ASCII identifiers: the value is always a valid header value.
            Self::InvalidToken(code) => HeaderValue::from_str(&format!(
                "Bearer error=\"invalid_token\", error_description=\"{code}\""
            ))
            .ok(),
            Self::KeysUnavailable => None,
        }
    }

    /// The `Retry-After` value of the 503 ([`RETRY_AFTER_SECONDS`]); `None` for a 401.
    pub fn retry_after(self) -> Option<HeaderValue> {
        match self {
            Self::KeysUnavailable => Some(HeaderValue::from(RETRY_AFTER_SECONDS)),
            Self::MissingToken | Self::InvalidToken(_) => None,
        }
    }
}

/// Seconds a client is asked to wait (`Retry-After`) when the issuer's keys are unavailable:
/// the default back-off of a key-set cache after a failed fetch (`JwksConfig`'s
/// `retry_after_failure`, 5 s), so a retry after it reaches a new fetch rather than the
/// remembered failure.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// The HTTP answer to a token that does not meet its [`Requirements`](crate::Requirements)
/// (RFC 6750 §3.1): 403, `insufficient_scope`.
///
/// ```
/// use http::StatusCode;
/// use jwtkit_verify::{ClaimMap, Requirements};
///
/// let requirements = Requirements::new().scopes(["read", "write"])?;
/// let denied = requirements.check_claims(&ClaimMap::new()).unwrap_err();
/// assert_eq!(denied.status(), StatusCode::FORBIDDEN);
/// assert_eq!(
///     denied.challenge(),
///     "Bearer error=\"insufficient_scope\", scope=\"read write\""
/// );
/// assert_eq!(
///     denied.body(),
///     serde_json::json!({"error": "insufficient_scope", "detail": "scope \"read\""})
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl crate::Denied {
    /// 403 Forbidden: the token is valid, the caller may not do this.
    pub fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    /// The status of the answer to a gRPC call ([`crate::grpc`]): `PERMISSION_DENIED` (7).
    pub fn grpc_status(&self) -> GrpcStatus {
        GrpcStatus::PermissionDenied
    }

    /// `Bearer error="insufficient_scope"`, with `, scope="<required scopes>"` when the
    /// requirements name scopes.
    pub fn challenge(&self) -> HeaderValue {
        let value = match self.scope() {
            Some(scope) => format!("Bearer error=\"{}\", scope=\"{scope}\"", self.code()),
            None => format!("Bearer error=\"{}\"", self.code()),
        };
        // Scopes were checked to be RFC 6749 scope tokens (visible ASCII, no `"` or `\`) when
        // the requirements were built, so the value is always a valid header value.
        HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(
            "Bearer error=\"insufficient_scope\"",
        ))
    }

    /// The JSON body, as the authentication layer's other answers:
    /// `{"error": "insufficient_scope", "detail": "<the rule that failed>"}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.code(), "detail": self.rule() })
    }
}

impl From<&VerifyError> for Refusal {
    fn from(err: &VerifyError) -> Self {
        Self::of(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_gets_a_bare_challenge() {
        let refusal = Refusal::MissingToken;
        assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refusal.code(), "missing_token");
        assert_eq!(refusal.challenge().unwrap(), "Bearer");
    }

    #[test]
    fn a_refused_token_gets_the_invalid_token_challenge_with_its_code() {
        for err in [
            VerifyError::BadSignature,
            VerifyError::Malformed("x"),
            VerifyError::Expired {
                exp: 1,
                now: 2,
                leeway: 0,
            },
            VerifyError::AudienceMismatch("token aud: x".into()),
            VerifyError::UnknownIssuer("https://evil".into()),
        ] {
            let refusal = Refusal::of(&err);
            assert_eq!(refusal, Refusal::InvalidToken(err.code()));
            assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED, "{err}");
            assert_eq!(refusal.code(), err.code());
            assert_eq!(
                refusal.challenge().unwrap(),
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    err.code()
                )
                .as_str()
            );
        }
    }

    #[test]
    fn grpc_calls_get_unauthenticated_permission_denied_or_unavailable() {
        assert_eq!(Refusal::MissingToken.grpc_status().code(), 16);
        assert_eq!(Refusal::InvalidToken("expired").grpc_status().code(), 16);
        assert_eq!(Refusal::KeysUnavailable.grpc_status().code(), 14);
        let denied = crate::Requirements::new()
            .scopes(["read"])
            .unwrap()
            .check_claims(&crate::ClaimMap::new())
            .unwrap_err();
        assert_eq!(denied.grpc_status().code(), 7);
    }

    #[test]
    fn only_the_503_asks_to_retry() {
        assert_eq!(Refusal::KeysUnavailable.retry_after().unwrap(), "5");
        assert_eq!(Refusal::MissingToken.retry_after(), None);
        assert_eq!(Refusal::InvalidToken("expired").retry_after(), None);
    }

    #[test]
    fn a_denial_is_403_insufficient_scope_with_the_required_scopes() {
        let claims = crate::ClaimMap::new();
        let by_claim = crate::Requirements::new()
            .claim("/realm_access/roles", "admin")
            .unwrap();
        let denied = by_claim.check_claims(&claims).unwrap_err();
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert_eq!(denied.challenge(), "Bearer error=\"insufficient_scope\"");
        assert_eq!(
            denied.body().to_string(),
            r#"{"detail":"claim /realm_access/roles must contain \"admin\"","error":"insufficient_scope"}"#
        );
        let with_scopes = by_claim.scopes(["orders:read", "a!#[]~"]).unwrap();
        let denied = with_scopes.check_claims(&claims).unwrap_err();
        assert_eq!(
            denied.challenge(),
            "Bearer error=\"insufficient_scope\", scope=\"orders:read a!#[]~\""
        );
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn unavailable_keys_are_503_without_a_challenge() {
        let err = VerifyError::JwksUnavailable {
            issuer: "idp".into(),
            source: jwtkit_jwks::JwksError::Status {
                url: "https://idp.example/jwks".into(),
                status: 502,
            },
        };
        let refusal = Refusal::from(&err);
        assert_eq!(refusal, Refusal::KeysUnavailable);
        assert_eq!(refusal.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refusal.code(), "jwks_unavailable");
        assert_eq!(refusal.code(), err.code());
        assert_eq!(refusal.challenge(), None);
    }
}
