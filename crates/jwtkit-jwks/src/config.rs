//! Where a key set comes from and how long it may be trusted.

use std::time::Duration;

use crate::TrustRoots;

/// Where to fetch a JWK Set from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A JWKS URL, fetched as is.
    JwksUrl(String),
    /// OIDC discovery: `{url}/.well-known/openid-configuration` names the `jwks_uri`. `url` is
    /// where to fetch from; `expected_issuer` is what the document's `issuer` must say (defaults
    /// to `url`). They differ when the IdP is reached by an internal name but issues tokens under
    /// its public one (Keycloak behind Docker: fetch `http://keycloak:8080/realms/x`, accept
    /// `http://localhost:8090/realms/x`).
    Discovery {
        /// Base URL to fetch the discovery document from.
        url: String,
        /// The `issuer` the document must declare.
        expected_issuer: Option<String>,
    },
}

/// Timeouts, size caps and cache lifetimes. The defaults suit an IdP on the same network.
#[derive(Clone, Debug)]
pub struct JwksConfig {
    /// Where the keys come from.
    pub source: Source,
    /// Lifetime of a key set whose response had no usable `Cache-Control: max-age`.
    pub default_ttl: Duration,
    /// Lower bound applied to `max-age` (and used for `no-cache`/`no-store`).
    pub min_ttl: Duration,
    /// Upper bound applied to `max-age`.
    pub max_ttl: Duration,
    /// A token with an unknown `kid` triggers at most one fetch per this interval.
    pub unknown_kid_cooldown: Duration,
    /// After a failed fetch, no new attempt before this interval (callers get the stale set or
    /// the error at once instead of each waiting on a down IdP).
    pub retry_after_failure: Duration,
    /// How long past its lifetime a key set keeps being used while fetches fail.
    pub max_stale: Duration,
    /// Fraction of the lifetime after which a background refresh starts (jittered down by up to
    /// 10% so replicas do not refresh in step).
    pub refresh_ahead: f64,
    /// How often the discovery document is fetched again.
    pub rediscovery_interval: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout, body included.
    pub request_timeout: Duration,
    /// Largest accepted response body.
    pub max_response_bytes: usize,
    /// The certificate authorities trusted for https fetches (JWKS and discovery): the system's
    /// by default, or with a private CA added or alone ([`TrustRoots`]).
    pub trust: TrustRoots,
}

impl JwksConfig {
    /// Defaults for a source: 5 min lifetime (30 s..24 h from Cache-Control), 30 s unknown-kid
    /// cooldown, 5 s retry back-off, 1 h max staleness, 2 s connect and 5 s request timeouts,
    /// 1 MiB body cap, refresh at 80% of the lifetime, rediscovery hourly, the system's CA roots.
    pub fn new(source: Source) -> Self {
        Self {
            source,
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(86_400),
            unknown_kid_cooldown: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(5),
            max_stale: Duration::from_secs(3_600),
            refresh_ahead: 0.8,
            rediscovery_interval: Duration::from_secs(3_600),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            max_response_bytes: 1024 * 1024,
            trust: TrustRoots::System,
        }
    }

    /// Shortcut for a JWKS URL source with default settings.
    pub fn jwks_url(url: impl Into<String>) -> Self {
        Self::new(Source::JwksUrl(url.into()))
    }

    /// Shortcut for an OIDC discovery source with default settings.
    pub fn discovery(url: impl Into<String>, expected_issuer: Option<String>) -> Self {
        Self::new(Source::Discovery {
            url: url.into(),
            expected_issuer,
        })
    }

    /// These settings trusting `trust` for https fetches.
    ///
    /// ```no_run
    /// use jwtkit_jwks::{CaMode, JwksCache, JwksConfig, TrustRoots};
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let trust = TrustRoots::from_pem_file("/etc/jwtkit/internal-ca.pem", CaMode::Add)?;
    /// let cache = JwksCache::new(
    ///     JwksConfig::discovery("https://keycloak.internal/realms/x", None).with_trust(trust),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn with_trust(self, trust: TrustRoots) -> Self {
        Self { trust, ..self }
    }

    /// The key-set lifetime for a `Cache-Control` header value, clamped to the bounds.
    pub fn ttl_for(&self, cache_control: Option<&str>) -> Duration {
        let Some(header) = cache_control else {
            return self.default_ttl;
        };
        let directives: Vec<String> = header
            .split(',')
            .map(|d| d.trim().to_ascii_lowercase())
            .collect();
        if directives
            .iter()
            .any(|d| d == "no-store" || d == "no-cache")
        {
            return self.min_ttl;
        }
        directives
            .iter()
            .find_map(|d| {
                d.strip_prefix("max-age=")?
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
            })
            .map_or(self.default_ttl, |seconds| {
                Duration::from_secs(seconds).clamp(self.min_ttl, self.max_ttl)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_honoured_within_bounds() {
        let config = JwksConfig::jwks_url("http://127.0.0.1/jwks");
        assert_eq!(config.ttl_for(None), Duration::from_secs(300));
        assert_eq!(
            config.ttl_for(Some("public, max-age=600")),
            Duration::from_secs(600)
        );
        assert_eq!(
            config.ttl_for(Some("max-age=1")),
            Duration::from_secs(30),
            "clamped up"
        );
        assert_eq!(
            config.ttl_for(Some("max-age=99999999")),
            Duration::from_secs(86_400),
            "clamped down"
        );
        assert_eq!(config.ttl_for(Some("no-store")), Duration::from_secs(30));
        assert_eq!(
            config.ttl_for(Some("MAX-AGE=\"120\"")),
            Duration::from_secs(120)
        );
        assert_eq!(
            config.ttl_for(Some("max-age=soon")),
            Duration::from_secs(300)
        );
    }
}
