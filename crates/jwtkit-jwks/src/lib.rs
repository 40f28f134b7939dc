//! JWK Set fetching and caching for JWT verification.
//!
//! A [`JwksCache`] holds one issuer's keys. It fetches lazily (or on [`JwksCache::refresh`]),
//! then:
//!
//! - serves the held set without touching the network while it is fresh; the lifetime comes
//!   from `Cache-Control: max-age`, clamped to configured bounds;
//! - refreshes in the background ahead of expiry (with jitter), so requests do not wait;
//! - on a token with an unknown `kid`, fetches again at most once per cooldown: a flood of random
//!   kids costs one fetch, not one per token;
//! - shares one fetch among concurrent callers (single-flight); callers whose key is held never
//!   wait on a fetch;
//! - when the IdP fails, keeps serving the held set for at most `max_stale` past its lifetime,
//!   then fails with [`JwksError::Unavailable`] (a proxy answers 503, not 401); after a failed
//!   fetch it backs off instead of making every request wait on a down IdP;
//! - discovers `jwks_uri` through OIDC discovery when configured, checking the document's
//!   `issuer`, with the fetch URL decoupled from the accepted issuer string;
//! - trusts the system's certificate authorities, or a private CA added to them or alone
//!   ([`TrustRoots`], [`JwksConfig::with_trust`]) for an IdP behind an internal CA;
//! - parses tolerantly: unusable keys are skipped with a diagnostic, never failing the set.
//!
//! ```no_run
//! use jwtkit_jwks::{JwksCache, JwksConfig};
//!
//! # async fn run() -> Result<(), jwtkit_jwks::JwksError> {
//! let cache = JwksCache::new(JwksConfig::discovery(
//!     "http://keycloak:8080/realms/werkflow",
//!     Some("http://localhost:8090/realms/werkflow".into()),
//! ))?;
//! let keys = cache.keys_for_kid(Some("kid-from-token")).await?;
//! println!("{} keys, version {}", keys.keys.len(), keys.version);
//! # Ok(()) }
//! ```

mod cache;
mod config;
mod error;
mod fetch;
mod trust;

pub use cache::{JwksCache, JwksStats, KeySetSnapshot};
pub use config::{JwksConfig, Source};
pub use error::JwksError;
pub use trust::{CaCertificates, CaMode, TrustError, TrustRoots};
