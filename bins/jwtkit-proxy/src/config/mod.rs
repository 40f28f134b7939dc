//! Configuration: a TOML file ([`Config::from_toml`]), or the environment of the FastAPI proxy
//! it replaces ([`Config::from_env_mode`]: the Camunda 7 setup, the FastAPI Clerk -> Camunda
//! proxy and generate_jwt.py). Secrets are never written in the file: it names the variable or
//! file holding them.
//!
//! - [`file`](mod@file): the file format, the serde types and [`Config::from_toml`];
//! - [`env`](mod@env): environment mode and the variables that override a file;
//! - [`check`]: the cross-checks between sections ([`Config::check`]);
//! - [`values`]: values written as text, parsed into their types at load;
//! - [`secret`]: where a secret lives and reading it;
//! - [`files`]: the files a configuration names, which a reload watches;
//! - [`issuers`]: caller issuer sections as `jwtkit_verify` configurations, and the start-up
//!   check that no secret the proxy mints with is a caller issuer's key.

pub mod check;
pub mod env;
pub mod file;
pub mod files;
pub mod issuers;
pub mod secret;
pub mod values;

pub use file::{
    AccessSection, CamundaSection, CentrifugoSection, Config, InitiatorVariables, IssuerSection,
    Limits, LogConfig, LogFormat, MethodRules, MintSection, RouteSection, TlsSection, UpstreamAuth,
    UpstreamSection, WebSocketSection,
};
pub use secret::{SecretRef, load_secret, secret_origin};
pub use values::{ClientAuth, LogLevel, MintProfile};

/// The `iss` of every token the proxy mints (Centrifugo connection and subscription tokens, the
/// upstream credentials of `auth = mint`) whose section sets no `issuer`.
///
/// It marks the token as the proxy's own: the consumers accept and ignore it (Centrifugo checks
/// `iss` only when configured to, the Camunda engine does not read it), while the proxy's
/// registry routes tokens by `iss` and no caller issuer may list it ([`Config::check`]), so a
/// minted token shown back to the proxy is `401 unknown_issuer`.
pub const MINTED_ISS: &str = "urn:jwtkit:proxy";

/// A configuration problem, naming the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config `{key}`: {problem}; {fix}")]
pub struct ConfigError {
    /// The key, e.g. `issuers[0].jwks_url` or the environment variable name.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

impl ConfigError {
    pub(crate) fn new(
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}
