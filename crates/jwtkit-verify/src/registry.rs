//! Several issuers at once: each token is checked only against the keys and policy of the
//! issuer its `iss` names.

use std::collections::HashMap;
use std::sync::Arc;

#[cfg(feature = "jwks")]
use jwtkit_jwks::JwksStats;
use serde::de::DeserializeOwned;

use crate::registered::{ClaimValue, Registered};
use crate::token_cache::{CachedToken, TokenCache};
use crate::{
    Claims, IssuerConfig, KeySource, Policy, Validated, VerifyError, error::clip, jws, now,
    verify_with_keys,
};

/// A configuration mistake found when building a [`Registry`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two entries accept the same `iss`: a token could not be routed unambiguously.
    #[error("issuer {iss:?} is configured twice (in {first:?} and {second:?})")]
    DuplicateIssuer {
        /// The `iss` string.
        iss: String,
        /// First entry.
        first: String,
        /// Second entry.
        second: String,
    },
    /// An entry lists no `iss` value and does not accept tokens without one either.
    #[error(
        "issuer entry {0:?} lists no iss value; add the value its tokens carry (IssuerConfig::iss) \
         or accept tokens without iss (IssuerConfig::allow_missing_iss)"
    )]
    NoIssuer(String),
    /// An entry with static keys has none.
    #[error("issuer entry {0:?} has no keys")]
    NoKeys(String),
}

/// The entry for tokens without `iss`, if one asked for them.
fn missing_iss_entry(issuers: &[Issuer]) -> Result<Option<usize>, RegistryError> {
    let mut entries = issuers
        .iter()
        .enumerate()
        .filter(|(_, i)| i.policy.allow_missing_iss);
    let first = entries.next();
    if let (Some((_, a)), Some((_, b))) = (first, entries.next()) {
        return Err(RegistryError::DuplicateIssuer {
            iss: "(no iss)".into(),
            first: a.name.to_string(),
            second: b.name.to_string(),
        });
    }
    Ok(first.map(|(index, _)| index))
}

struct Issuer {
    name: Arc<str>,
    keys: KeySource,
    policy: Policy,
}

impl Issuer {
    /// The version of the keys a cached verdict must match, `None` when keys are unusable. A
    /// hit uses the key set as a validation would, so it also starts the set's background
    /// refresh when due: without that, a verdict cached under a key the IdP has since removed
    /// would be accepted until some uncached token happened to cause a fetch.
    fn key_version_for_hit(&self) -> Option<u64> {
        match &self.keys {
            KeySource::Static(_) => Some(0),
            #[cfg(feature = "jwks")]
            KeySource::Jwks(cache) => cache.version_for_cached_verdict(),
        }
    }

    /// True while the issuer's keys are usable; no side effects.
    fn is_ready(&self) -> bool {
        match &self.keys {
            KeySource::Static(_) => true,
            #[cfg(feature = "jwks")]
            KeySource::Jwks(cache) => cache.usable_version().is_some(),
        }
    }
}

/// A refused token and the name of the entry its `iss` routed it to, when it got that far (for
/// the log line of a refusal).
pub(crate) struct Refused {
    pub error: VerifyError,
    // Read by the axum layer's log line only.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub issuer: Option<Arc<str>>,
}

impl From<VerifyError> for Refused {
    fn from(error: VerifyError) -> Self {
        Self {
            error,
            issuer: None,
        }
    }
}

/// Routes tokens to their issuer's keys and policy, with an optional verified-token cache.
pub struct Registry {
    issuers: Vec<Issuer>,
    /// `iss` value -> entry, sorted by `iss` (binary search: cheaper than hashing the string
    /// for the handful of issuers a registry holds).
    by_iss: Vec<(Box<str>, usize)>,
    without_iss: Option<usize>,
    max_token_bytes: usize,
    cache: Option<TokenCache>,
}

impl Registry {
    /// Builds the registry; every `iss` string must belong to exactly one entry.
    pub fn new(configs: Vec<IssuerConfig>) -> Result<Self, RegistryError> {
        let mut by_iss = HashMap::new();
        let mut issuers = Vec::new();
        for (index, config) in configs.into_iter().enumerate() {
            // An entry without iss values serves only tokens without iss.
            if config.issuers.is_empty() && !config.policy.allow_missing_iss {
                return Err(RegistryError::NoIssuer(config.name));
            }
            if matches!(&config.keys, KeySource::Static(keys) if keys.is_empty()) {
                return Err(RegistryError::NoKeys(config.name));
            }
            for iss in &config.issuers {
                if let Some(&first) = by_iss.get(iss) {
                    let first: &Issuer = &issuers[first];
                    return Err(RegistryError::DuplicateIssuer {
                        iss: iss.clone(),
                        first: first.name.to_string(),
                        second: config.name,
                    });
                }
                by_iss.insert(iss.clone(), index);
            }
            let policy = Policy {
                issuers: config.issuers,
                ..config.policy
            };
            issuers.push(Issuer {
                name: config.name.into(),
                keys: config.keys,
                policy,
            });
        }
        let max_token_bytes = issuers
            .iter()
            .map(|i| i.policy.max_token_bytes)
            .max()
            .unwrap_or(0);
        Ok(Self {
            without_iss: missing_iss_entry(&issuers)?,
            issuers,
            by_iss: {
                let mut sorted: Vec<(Box<str>, usize)> = by_iss
                    .into_iter()
                    .map(|(iss, index)| (iss.into_boxed_str(), index))
                    .collect();
                sorted.sort_unstable();
                sorted
            },
            max_token_bytes,
            cache: None,
        })
    }

    /// Enables the verified-token cache with room for `capacity` tokens. Entries are keyed by
    /// the token bytes and the issuer entry, end at the token's `exp`, and are dropped when the
    /// issuer's keys change or become unusable.
    pub fn with_token_cache(mut self, capacity: usize) -> Self {
        self.cache = Some(TokenCache::new(capacity));
        self
    }

    /// Fetches the key set of every JWKS-backed issuer that holds no usable keys; returns the
    /// first error (the other issuers are still tried). Issuers with usable keys are left alone.
    /// The fetches obey the same limits as validation's: callers share a running fetch, and
    /// within `retry_after_failure` of a failed fetch no new one is made (the error comes back
    /// at once), so calling this on every readiness probe cannot flood a failing IdP.
    pub async fn warm_up(&self) -> Result<(), VerifyError> {
        #[cfg_attr(not(feature = "jwks"), allow(unused_mut))]
        let mut first_error = None;
        #[cfg(feature = "jwks")]
        for issuer in &self.issuers {
            if let KeySource::Jwks(cache) = &issuer.keys
                && !issuer.is_ready()
                && let Err(err) = cache.refresh().await
            {
                first_error.get_or_insert(VerifyError::JwksUnavailable {
                    issuer: issuer.name.to_string(),
                    source: err,
                });
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// True when every issuer has usable keys.
    pub fn is_ready(&self) -> bool {
        self.issuers.iter().all(Issuer::is_ready)
    }

    /// Key-set statistics per JWKS-backed issuer, by name (feature `jwks`).
    #[cfg(feature = "jwks")]
    pub fn jwks_stats(&self) -> Vec<(Arc<str>, JwksStats)> {
        self.issuers
            .iter()
            .filter_map(|i| match &i.keys {
                KeySource::Jwks(cache) => Some((i.name.clone(), cache.stats())),
                KeySource::Static(_) => None,
            })
            .collect()
    }

    /// The entry accepting `iss`.
    fn entry_for(&self, iss: &str) -> Option<usize> {
        self.by_iss
            .binary_search_by(|(known, _)| (**known).cmp(iss))
            .ok()
            .map(|at| self.by_iss[at].1)
    }

    /// Validates a token at the current time.
    pub async fn validate(&self, token: &str) -> Result<Validated, VerifyError> {
        self.validate_at(token, now()).await
    }

    /// Validates a token at the current time and deserialises its claims into `T`: the same
    /// verdicts as [`Registry::validate`] followed by [`Validated::deserialize`], so claims that
    /// do not fit `T` are `invalid_claim` naming the path of the value that does not.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use jwtkit_secret::Secret;
    /// use jwtkit_verify::{IssuerConfig, Registry};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Caller { sub: String }
    ///
    /// let secret = Secret::generate(32)?;
    /// let registry = Registry::new(vec![IssuerConfig::hmac("api", &secret)?.iss("https://api.example")])?;
    /// # let token = jwtkit_mint::Minter::new(jwtkit_keys::SigningKey::hmac(jwtkit_keys::Algorithm::HS256, &secret)?)
    /// #     .mint(&serde_json::json!({"sub": "ada", "iss": "https://api.example", "exp": jwtkit_verify::now() + 60}))?;
    /// let caller = registry.validate_as::<Caller>(&token).await?;
    /// assert_eq!(caller.claims.sub, "ada");
    /// assert_eq!(caller.issuer.as_deref(), Some("api"));
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
    /// ```
    pub async fn validate_as<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Validated<T>, VerifyError> {
        self.validate(token).await?.deserialize()
    }

    /// Validates a token at `now` (Unix seconds).
    pub async fn validate_at(&self, token: &str, now: i64) -> Result<Validated, VerifyError> {
        self.validate_routed(token, now)
            .await
            .map(Arc::unwrap_or_clone)
            .map_err(|refused| refused.error)
    }

    /// [`Registry::validate`], the result shared with the verified-token cache: a cache hit
    /// costs a reference count instead of a copy of the header. For callers that keep the
    /// verdict for the request's lifetime (a proxy) and validate many times per token.
    pub async fn validate_shared(&self, token: &str) -> Result<Arc<Validated>, VerifyError> {
        self.validate_routed(token, now())
            .await
            .map_err(|refused| refused.error)
    }

    /// The verdict the verified-token cache holds for `token`, if it still holds: what
    /// [`Registry::validate_shared`] returns on a cache hit, without an `await`. `None` without a
    /// cache, for a token not in it, or for an entry that no longer holds (the token expired,
    /// the issuer's keys changed): then validate. For callers that keep the (large) validation
    /// future off their common path.
    pub fn cached(&self, token: &str) -> Option<Arc<Validated>> {
        self.cached_at(token, now())
    }

    fn cached_at(&self, token: &str, now: i64) -> Option<Arc<Validated>> {
        // A cache hit needs nothing but the lookup: the same bytes route to the same entry, so
        // only the entry's key version and the token's `exp` are checked again.
        let cache = self.cache.as_ref()?;
        if token.len() > self.max_token_bytes {
            return None;
        }
        let hit = cache.get(token)?;
        cache
            .still_valid(
                token,
                &hit,
                self.issuers[hit.issuer].key_version_for_hit(),
                now,
            )
            .then(|| hit.validated.clone())
    }

    /// [`Registry::validate_at`], saying which entry refused the token when it got that far.
    pub(crate) async fn validate_routed(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<Validated>, Refused> {
        if let Some(hit) = self.cached_at(token, now) {
            return Ok(hit);
        }

        let parsed = jws::parse(token, self.max_token_bytes)?;
        // The claims are read before the signature check only to route by `iss`; nothing
        // in them is trusted until the issuer's key has verified the signature.
        let (registered, names) = Registered::from_json(&parsed.payload).map_err(|_| {
            VerifyError::Malformed("claims are not a JSON object with unique names")
        })?;
        let index = match &registered.iss {
            Some(ClaimValue::String(iss)) => self
                .entry_for(iss)
                .ok_or_else(|| VerifyError::UnknownIssuer(clip(iss)))?,
            Some(_) => {
                return Err(VerifyError::InvalidClaim {
                    claim: "iss".into(),
                    reason: "must be a string".into(),
                }
                .into());
            }
            None => self
                .without_iss
                .ok_or_else(|| VerifyError::MissingClaim("iss".into()))?,
        };
        let issuer = &self.issuers[index];
        let refused = |error: VerifyError| Refused {
            error,
            issuer: Some(issuer.name.clone()),
        };
        if token.len() > issuer.policy.max_token_bytes {
            return Err(refused(VerifyError::TooLarge {
                len: token.len(),
                max: issuer.policy.max_token_bytes,
            }));
        }
        issuer
            .policy
            .check_header(parsed.header.alg, parsed.header.typ.as_deref())
            .map_err(refused)?;

        let key_version = match &issuer.keys {
            KeySource::Static(keys) => {
                verify_with_keys(keys, &parsed).map_err(refused)?;
                0
            }
            #[cfg(feature = "jwks")]
            KeySource::Jwks(cache) => {
                let snapshot = cache
                    .keys_for_kid(parsed.header.kid.as_deref())
                    .await
                    .map_err(|source| {
                        refused(VerifyError::JwksUnavailable {
                            issuer: issuer.name.to_string(),
                            source,
                        })
                    })?;
                verify_with_keys(&snapshot.keys, &parsed).map_err(refused)?;
                snapshot.version
            }
        };
        issuer
            .policy
            .check_scanned(&registered, &names, now)
            .map_err(refused)?;
        let exp = match registered.exp {
            Some(ClaimValue::Number(exp)) => Some(exp),
            _ => None,
        };
        let validated = Arc::new(Validated {
            header: parsed.header,
            claims: Arc::new(Claims::from_validated_payload(parsed.payload)),
            issuer: Some(issuer.name.clone()),
        });
        if let Some(cache) = &self.cache
            && let Some(exp) = exp
        {
            cache.insert(
                token,
                CachedToken {
                    issuer: index,
                    validated: validated.clone(),
                    exp,
                    key_version,
                },
            );
        }
        Ok(validated)
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.issuers.iter().map(|i| &*i.name).collect();
        f.debug_struct("Registry")
            .field("issuers", &names)
            .field("cache", &self.cache.is_some())
            .finish()
    }
}
