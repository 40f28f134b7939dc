//! One trusted issuer of a [`Registry`](crate::Registry): where its keys come from and what
//! its tokens must satisfy, built with a constructor per key source and builder methods.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(feature = "jwks")]
use jwtkit_jwks::{CaMode, JwksCache, JwksConfig, JwksError, Source, TrustError, TrustRoots};
use jwtkit_keys::{Algorithm, KeyError, VerifyingKey};
use jwtkit_secret::Secret;

use crate::Policy;

/// Where an issuer's keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// Keys given up front: PEM or JWK public keys, or an HMAC secret.
    Static(Vec<VerifyingKey>),
    /// A JWKS URL or OIDC discovery, cached (feature `jwks`).
    #[cfg(feature = "jwks")]
    Jwks(JwksCache),
}

/// One trusted issuer.
///
/// Built with a constructor per key source ([`IssuerConfig::hmac`],
/// [`IssuerConfig::public_key_file`], and with feature `jwks` `IssuerConfig::jwks_url` and
/// `IssuerConfig::discovery`) and builder methods for the rest; the fields stay public for
/// configuration read from files.
///
/// ```
/// use std::time::Duration;
/// use jwtkit_secret::Secret;
/// use jwtkit_verify::IssuerConfig;
///
/// let secret = Secret::generate(32)?;
/// let api = IssuerConfig::hmac("api", &secret)?
///     .iss("https://api.example")
///     .audience("orders")
///     .leeway(Duration::from_secs(30));
/// assert_eq!(api.issuers, ["https://api.example"]);
/// assert_eq!(api.policy.audiences, ["orders"]);
/// assert_eq!(api.policy.leeway_seconds, 30);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// A short name for logs and metrics (`clerk`, `keycloak`).
    pub name: String,
    /// The `iss` values this issuer's tokens may carry (aliases: the browser-facing and the
    /// internal URL of one IdP, for instance).
    pub issuers: Vec<String>,
    /// Its keys.
    pub keys: KeySource,
    /// What its tokens must satisfy; `policy.issuers` is replaced by `issuers`.
    pub policy: Policy,
}

/// Why an [`IssuerConfig`] could not be built. Messages name the issuer and never contain key
/// material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerConfigError {
    /// The secret or key cannot verify tokens (too short, not a public key, ...).
    #[error("issuer {issuer:?}: {source}")]
    Key {
        /// The issuer's name.
        issuer: String,
        /// What is wrong with the key.
        #[source]
        source: KeyError,
    },
    /// The key file could not be read.
    #[error("issuer {issuer:?}: cannot read key file {}: {source}", path.display())]
    File {
        /// The issuer's name.
        issuer: String,
        /// The path that was tried.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The JWKS client could not be set up (feature `jwks`).
    #[cfg(feature = "jwks")]
    #[error("issuer {issuer:?}: {source}")]
    Jwks {
        /// The issuer's name.
        issuer: String,
        /// What failed.
        #[source]
        source: JwksError,
    },
    /// The CA file could not be read (feature `jwks`).
    #[cfg(feature = "jwks")]
    #[error("issuer {issuer:?}: {source}")]
    Trust {
        /// The issuer's name.
        issuer: String,
        /// What is wrong with the file.
        #[source]
        source: TrustError,
    },
    /// Trusted CAs were given to an issuer whose keys are not fetched (feature `jwks`).
    #[cfg(feature = "jwks")]
    #[error(
        "issuer {issuer:?}: a CA file applies to JWKS and discovery fetches, and this issuer's keys are static"
    )]
    TrustWithoutFetch {
        /// The issuer's name.
        issuer: String,
    },
}

impl IssuerConfig {
    /// An issuer with these keys, the default [`Policy`] and no accepted `iss` yet: add one with
    /// [`IssuerConfig::iss`] (or accept tokens without `iss` with
    /// [`IssuerConfig::allow_missing_iss`]) before giving it to a registry. For key sources
    /// without a constructor of their own, such as a JWK Set file or a JWKS cache with
    /// non-default settings.
    ///
    /// ```
    /// use jwtkit_verify::{IssuerConfig, KeySource};
    ///
    /// let set = br#"{"keys": [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMy"}]}"#;
    /// let keys = jwtkit_keys::parse_key_set(set)?.keys;
    /// let config = IssuerConfig::new("files", KeySource::Static(keys)).iss("urn:files");
    /// assert_eq!(config.issuers, ["urn:files"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(name: impl Into<String>, keys: KeySource) -> Self {
        Self {
            name: name.into(),
            issuers: Vec::new(),
            keys,
            policy: Policy::default(),
        }
    }

    /// An issuer whose tokens are signed with an HMAC `secret`: HS256, and HS384/HS512 when the
    /// secret is long enough for them (RFC 7518 §3.2: at least 32, 48, 64 bytes). Fails when the
    /// secret is shorter than 32 bytes.
    ///
    /// ```
    /// use jwtkit_secret::Secret;
    /// use jwtkit_verify::{IssuerConfig, Registry};
    ///
    /// let secret = Secret::generate(32)?; // in a service: Secret::from_env("JWT_SECRET")?
    /// let registry = Registry::new(vec![IssuerConfig::hmac("api", &secret)?.iss("https://api.example")])?;
    ///
    /// let short = Secret::from_bytes(b"too short".to_vec())?;
    /// let err = IssuerConfig::hmac("api", &short).unwrap_err();
    /// assert!(err.to_string().starts_with("issuer \"api\": HS256 needs a key of at least 32 bytes"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hmac(name: impl Into<String>, secret: &Secret) -> Result<Self, IssuerConfigError> {
        let name = name.into();
        match VerifyingKey::hmac(secret) {
            Ok(key) => Ok(Self::new(name, KeySource::Static(vec![key]))),
            Err(source) => Err(IssuerConfigError::Key {
                issuer: name,
                source,
            }),
        }
    }

    /// An issuer whose tokens verify with the public key in the file at `path`: PEM (`PUBLIC
    /// KEY`, `RSA PUBLIC KEY`, or a private key whose public half is used) or a single JWK
    /// (text starting with `{`), read once, now.
    ///
    /// ```
    /// use jwtkit_keys::{Algorithm, keygen};
    /// use jwtkit_verify::IssuerConfig;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("issuer.pem");
    /// std::fs::write(&path, keygen::generate(Algorithm::ES256, 2048)?.public_pem)?;
    /// let config = IssuerConfig::public_key_file("partner", &path)?.iss("https://partner.example");
    /// assert_eq!(config.name, "partner");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn public_key_file(
        name: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<Self, IssuerConfigError> {
        let name = name.into();
        let path = path.as_ref();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(source) => {
                return Err(IssuerConfigError::File {
                    issuer: name,
                    path: path.to_owned(),
                    source,
                });
            }
        };
        match VerifyingKey::from_pem_or_jwk(&text) {
            Ok(key) => Ok(Self::new(name, KeySource::Static(vec![key]))),
            Err(source) => Err(IssuerConfigError::Key {
                issuer: name,
                source,
            }),
        }
    }

    /// An issuer whose keys are the JWK Set at `url`, fetched on first use and cached with
    /// [`JwksConfig`]'s defaults (feature `jwks`). Nothing is fetched here: call
    /// [`Registry::warm_up`](crate::Registry::warm_up) to load the keys before serving.
    ///
    /// ```
    /// use jwtkit_verify::IssuerConfig;
    ///
    /// let clerk = IssuerConfig::jwks_url("clerk", "https://clerk.example.com/.well-known/jwks.json")?
    ///     .iss("https://clerk.example.com");
    /// assert_eq!(clerk.issuers, ["https://clerk.example.com"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "jwks")]
    pub fn jwks_url(
        name: impl Into<String>,
        url: impl Into<String>,
    ) -> Result<Self, IssuerConfigError> {
        Self::with_jwks(name.into(), JwksConfig::jwks_url(url))
    }

    /// An OIDC issuer whose keys are found by discovery: `{issuer_url}/.well-known/openid-configuration`
    /// names the `jwks_uri` (feature `jwks`). Tokens must carry `iss` = `issuer_url`, which is
    /// also what the discovery document must declare, unless [`IssuerConfig::iss`] says
    /// otherwise: the first `iss` given replaces `issuer_url` in both roles (Keycloak fetched by
    /// its internal name, `http://keycloak:8080/realms/x`, issuing tokens under its public one).
    /// Nothing is fetched here.
    ///
    /// ```
    /// use jwtkit_verify::IssuerConfig;
    ///
    /// let keycloak = IssuerConfig::discovery("keycloak", "http://keycloak:8080/realms/werkflow")?
    ///     .iss("http://localhost:8090/realms/werkflow")
    ///     .audience("account");
    /// assert_eq!(keycloak.issuers, ["http://localhost:8090/realms/werkflow"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "jwks")]
    pub fn discovery(
        name: impl Into<String>,
        issuer_url: impl Into<String>,
    ) -> Result<Self, IssuerConfigError> {
        let issuer_url = issuer_url.into();
        let config = Self::with_jwks(name.into(), JwksConfig::discovery(issuer_url.clone(), None))?;
        Ok(Self {
            issuers: vec![issuer_url],
            ..config
        })
    }

    #[cfg(feature = "jwks")]
    fn with_jwks(name: String, config: JwksConfig) -> Result<Self, IssuerConfigError> {
        match JwksCache::new(config) {
            Ok(cache) => Ok(Self::new(name, KeySource::Jwks(cache))),
            Err(source) => Err(IssuerConfigError::Jwks {
                issuer: name,
                source,
            }),
        }
    }

    /// Fetches this issuer's discovery document and key set trusting `trust` (feature `jwks`):
    /// for an IdP whose https certificate a private CA signed. Fails on an issuer with static
    /// keys, or when the HTTP client cannot be built.
    #[cfg(feature = "jwks")]
    pub fn trust(self, trust: TrustRoots) -> Result<Self, IssuerConfigError> {
        let KeySource::Jwks(cache) = &self.keys else {
            return Err(IssuerConfigError::TrustWithoutFetch { issuer: self.name });
        };
        match JwksCache::new(cache.config().clone().with_trust(trust)) {
            Ok(cache) => Ok(Self {
                keys: KeySource::Jwks(cache),
                ..self
            }),
            Err(source) => Err(IssuerConfigError::Jwks {
                issuer: self.name,
                source,
            }),
        }
    }

    /// Trusts the CA certificates of the PEM file at `path` for this issuer's fetches, added to
    /// the system's roots ([`CaMode::Add`]) or instead of them ([`CaMode::Replace`]) (feature
    /// `jwks`). The file is read now; an unreadable file, or one without a certificate, fails
    /// naming the path.
    ///
    /// ```
    /// use jwtkit_verify::{CaMode, IssuerConfig, IssuerConfigError};
    ///
    /// let err = IssuerConfig::discovery("keycloak", "https://keycloak.internal/realms/x")?
    ///     .ca_file("/nonexistent/internal-ca.pem", CaMode::Add)
    ///     .unwrap_err();
    /// assert!(matches!(err, IssuerConfigError::Trust { .. }));
    /// assert!(err.to_string().contains("/nonexistent/internal-ca.pem"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "jwks")]
    pub fn ca_file(self, path: impl AsRef<Path>, mode: CaMode) -> Result<Self, IssuerConfigError> {
        match TrustRoots::from_pem_file(path, mode) {
            Ok(trust) => self.trust(trust),
            Err(source) => Err(IssuerConfigError::Trust {
                issuer: self.name,
                source,
            }),
        }
    }

    /// Accepts tokens whose `iss` is `iss`; call again for aliases. On an
    /// `IssuerConfig::discovery` issuer the first call replaces the default (the discovery
    /// URL), also as the `issuer` the discovery document must declare.
    pub fn iss(mut self, iss: impl Into<String>) -> Self {
        let iss = iss.into();
        #[cfg(feature = "jwks")]
        if let Some(replaced) = self.replace_default_discovery_iss(&iss) {
            return replaced;
        }
        if !self.issuers.contains(&iss) {
            self.issuers.push(iss);
        }
        self
    }

    /// For a discovery issuer still on its default `iss` (the discovery URL, declared by the
    /// document), the issuer accepting `iss` instead and expecting the document to declare it.
    #[cfg(feature = "jwks")]
    fn replace_default_discovery_iss(&self, iss: &str) -> Option<Self> {
        let KeySource::Jwks(cache) = &self.keys else {
            return None;
        };
        let Source::Discovery {
            url,
            expected_issuer: None,
        } = &cache.config().source
        else {
            return None;
        };
        if self.issuers != [url.as_str()] {
            return None;
        }
        let source = Source::Discovery {
            url: url.clone(),
            expected_issuer: Some(iss.to_owned()),
        };
        Some(Self {
            name: self.name.clone(),
            issuers: vec![iss.to_owned()],
            keys: KeySource::Jwks(cache.with_source(source)),
            policy: self.policy.clone(),
        })
    }

    /// Accepts tokens for `audience` ([`Policy::audience`]).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.policy = self.policy.audience(audience);
        self
    }

    /// Accepts only these algorithms ([`Policy::algorithms`]).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.policy = self.policy.algorithms(algorithms);
        self
    }

    /// Allows this much clock skew for `exp`, `nbf` and `iat` ([`Policy::leeway`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.policy = self.policy.leeway(leeway);
        self
    }

    /// Accepts a token whatever its `aud` says while no audience is configured
    /// ([`Policy::accept_any_audience`]).
    pub fn accept_any_audience(mut self) -> Self {
        self.policy = self.policy.accept_any_audience();
        self
    }

    /// Also accepts tokens without `iss` ([`Policy::allow_missing_iss`]); at most one issuer of
    /// a registry may. Such an issuer needs no [`IssuerConfig::iss`].
    pub fn allow_missing_iss(mut self) -> Self {
        self.policy = self.policy.allow_missing_iss();
        self
    }

    /// Refuses tokens without this claim ([`Policy::required_claim`]).
    pub fn required_claim(mut self, claim: impl Into<String>) -> Self {
        self.policy = self.policy.required_claim(claim);
        self
    }
}

#[cfg(all(test, feature = "jwks"))]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_applies_to_fetched_keys_only_and_survives_iss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        let ca = jwtkit_testsupport::tls::TestCa::new("verify test CA");
        std::fs::write(&path, &ca.cert_pem).unwrap();

        let secret = Secret::generate(32).unwrap();
        let err = IssuerConfig::hmac("api", &secret)
            .unwrap()
            .ca_file(&path, CaMode::Add)
            .unwrap_err();
        assert!(
            matches!(&err, IssuerConfigError::TrustWithoutFetch { issuer } if issuer == "api"),
            "{err}"
        );

        // Set before `.iss`, which rebuilds a discovery issuer's cache: the trust stays.
        let config = IssuerConfig::discovery("kc", "https://kc.internal/realms/x")
            .unwrap()
            .ca_file(&path, CaMode::Replace)
            .unwrap()
            .iss("https://sso.example/realms/x");
        let KeySource::Jwks(cache) = &config.keys else {
            panic!("not a JWKS issuer");
        };
        assert_eq!(cache.config().trust.mode(), Some(CaMode::Replace));
        assert_eq!(config.issuers, ["https://sso.example/realms/x"]);

        std::fs::write(&path, "no certificate here").unwrap();
        let err = IssuerConfig::jwks_url("kc", "https://kc.internal/certs")
            .unwrap()
            .ca_file(&path, CaMode::Add)
            .unwrap_err();
        assert!(
            err.to_string().contains("holds no PEM CERTIFICATE block"),
            "{err}"
        );
    }
}
