/// Why a key set could not be obtained. Messages name URLs but never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Connection refused, DNS failure, timeout, TLS error...
    #[error("fetching {url} failed: {reason}")]
    Http {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with a non-success status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body exceeded the configured cap.
    #[error("{url} sent more than {limit} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The cap.
        limit: usize,
    },
    /// The JWKS or discovery document is not what it must be.
    #[error("{url}: {reason}")]
    Invalid {
        /// The URL fetched.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The discovery document names another issuer.
    #[error("the discovery document at {url} declares issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The URL fetched.
        url: String,
        /// The configured issuer.
        expected: String,
        /// The document's issuer.
        found: String,
    },
    /// A recent fetch failed and the back-off has not elapsed, so no new fetch was made (and,
    /// for a lookup, no usable cached keys are held).
    #[error("no usable keys (last fetch failed: {last_error})")]
    Unavailable {
        /// The error of the last attempt.
        last_error: String,
    },
}
