//! The key-set cache: fresh keys are served without waiting, refreshes are single-flight, and a
//! failing IdP is absorbed by stale keys for a bounded time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jwtkit_keys::{SkippedKey, VerifyingKey};
use rand::Rng;

use crate::fetch;
use crate::{JwksConfig, JwksError, Source};

/// One fetched key set, immutable once published.
#[derive(Debug)]
pub struct KeySetSnapshot {
    /// The usable keys.
    pub keys: Vec<VerifyingKey>,
    /// Keys of the document that were not usable, with reasons.
    pub skipped: Vec<SkippedKey>,
    /// Increases by one with every successful fetch; caches keyed on keys compare it.
    pub version: u64,
    fetched_at: Instant,
    fresh_until: Instant,
    refresh_at: Instant,
}

impl KeySetSnapshot {
    /// True when a key with this `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid() == Some(kid))
    }

    /// Time since the set was fetched.
    pub fn age(&self) -> Duration {
        self.fetched_at.elapsed()
    }
}

/// Counters for metrics; read with [`JwksCache::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwksStats {
    /// JWKS fetch attempts (successful or not).
    pub fetches: u64,
    /// Failed JWKS or discovery fetches.
    pub fetch_errors: u64,
    /// Discovery document fetches.
    pub discovery_fetches: u64,
    /// Unknown-kid refreshes refused because of the cooldown.
    pub cooldown_hits: u64,
    /// Lookups answered with a key set past its lifetime (while refreshes failed or ran).
    pub stale_serves: u64,
    /// Usable keys in the current set.
    pub key_count: usize,
    /// Keys skipped in the current set.
    pub skipped_keys: usize,
    /// Age of the current set.
    pub age: Option<Duration>,
    /// Version of the current set (0 before the first fetch).
    pub version: u64,
    /// The last fetch error, if the last attempt failed.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Counters {
    fetches: AtomicU64,
    fetch_errors: AtomicU64,
    discovery_fetches: AtomicU64,
    cooldown_hits: AtomicU64,
    stale_serves: AtomicU64,
}

/// What the last fetch attempt did; used for back-off and cooldown.
#[derive(Default)]
struct Attempts {
    /// Increases with every attempt; a waiter that sees it change knows a fetch happened.
    generation: u64,
    last_at: Option<Instant>,
    last_error: Option<JwksError>,
    /// When an unknown kid last caused a fetch; the cooldown counts from here, so a regular
    /// refresh just before a rotation does not delay picking up the new key.
    last_unknown_kid_fetch: Option<Instant>,
}

struct Inner {
    config: JwksConfig,
    client: reqwest::Client,
    current: RwLock<Option<Arc<KeySetSnapshot>>>,
    attempts: Mutex<Attempts>,
    /// Held for the duration of a fetch: concurrent refreshes share one request.
    fetching: tokio::sync::Mutex<()>,
    jwks_uri: Mutex<Option<(String, Instant)>>,
    counters: Counters,
}

/// A cached JWK Set for one issuer. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

/// Why a refresh is wanted; decides whether back-off or cooldown applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// No usable set: wait for the fetch unless the last one failed very recently.
    Needed,
    /// A token names a kid we do not have: at most one fetch per cooldown.
    UnknownKid,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these short locks cannot leave the data inconsistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl JwksCache {
    /// A cache that fetches lazily, on first use (call [`JwksCache::refresh`] to warm it).
    pub fn new(config: JwksConfig) -> Result<Self, JwksError> {
        let client = fetch::client(&config)?;
        Ok(Self::empty(config, client))
    }

    fn empty(config: JwksConfig, client: reqwest::Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                client,
                current: RwLock::new(None),
                attempts: Mutex::new(Attempts::default()),
                fetching: tokio::sync::Mutex::new(()),
                jwks_uri: Mutex::new(None),
                counters: Counters::default(),
            }),
        }
    }

    /// A new, empty cache with this one's settings and HTTP client but keys from `source`:
    /// nothing fetched or counted is shared. Cannot fail, unlike [`JwksCache::new`], since the
    /// client is already built (for a configuration step that changes the source afterwards,
    /// such as the issuer a discovery document must declare).
    pub fn with_source(&self, source: Source) -> Self {
        // The client depends on the timeouts only, which the source does not change.
        let config = JwksConfig {
            source,
            ..self.inner.config.clone()
        };
        Self::empty(config, self.inner.client.clone())
    }

    /// The configuration.
    pub fn config(&self) -> &JwksConfig {
        &self.inner.config
    }

    fn snapshot(&self) -> Option<Arc<KeySetSnapshot>> {
        self.inner
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// True while a key set within its stale bound is held (for readiness probes).
    pub fn is_ready(&self) -> bool {
        self.snapshot()
            .is_some_and(|s| Instant::now() <= s.fresh_until + self.inner.config.max_stale)
    }

    /// The version of the held set while it is usable (within its stale bound), without side
    /// effects (for readiness and statistics). A cache of verified tokens uses
    /// [`JwksCache::version_for_cached_verdict`] instead, which keeps the set refreshed.
    pub fn usable_version(&self) -> Option<u64> {
        self.snapshot()
            .filter(|s| self.usable(s))
            .map(|s| s.version)
    }

    /// The version of the held set, for a verdict reached earlier with keys of this cache (a
    /// verified-token cache hit): `None` when the set is no longer usable. The held set is used
    /// exactly as [`JwksCache::keys`] uses it: when it is due for refresh, a background refresh
    /// starts (single-flight, not during the back-off after a failed fetch) and this call does
    /// not wait for it. So a hit keeps the set refreshed as validation does, and once a refresh
    /// has dropped a key the version differs and the cached verdicts made with the old set are
    /// no longer used.
    pub fn version_for_cached_verdict(&self) -> Option<u64> {
        self.held().map(|s| s.version)
    }

    /// The key set to verify with. Never waits on the network while a usable set is held: a set
    /// near or past its lifetime is refreshed in the background and served meanwhile, for at most
    /// `max_stale` past its lifetime.
    pub async fn keys(&self) -> Result<Arc<KeySetSnapshot>, JwksError> {
        match self.held() {
            Some(snap) => Ok(snap),
            None => self.refresh_with(Trigger::Needed).await,
        }
    }

    /// The held set while it is usable, starting the background refresh when it is due; every
    /// use of held keys goes through here so that every use keeps them refreshed.
    fn held(&self) -> Option<Arc<KeySetSnapshot>> {
        let snap = self.snapshot()?;
        let now = Instant::now();
        if now < snap.fresh_until {
            if now >= snap.refresh_at {
                self.refresh_in_background();
            }
            Some(snap)
        } else if now <= snap.fresh_until + self.inner.config.max_stale {
            self.inner
                .counters
                .stale_serves
                .fetch_add(1, Ordering::Relaxed);
            self.refresh_in_background();
            Some(snap)
        } else {
            None
        }
    }

    /// The key set for a token with `kid`: when the kid is unknown, the set is fetched again
    /// (the IdP may have rotated), at most once per cooldown however many unknown kids arrive.
    /// The caller still checks the kid: a flood of random kids gets `unknown_kid`, not fetches.
    /// While the last fetch failed, an unknown kid is [`JwksError::Unavailable`]: the IdP may
    /// have rotated in a key the proxy cannot fetch.
    pub async fn keys_for_kid(&self, kid: Option<&str>) -> Result<Arc<KeySetSnapshot>, JwksError> {
        let snap = self.keys().await?;
        match kid {
            // While the IdP is failing, an unknown kid may be a key it rotated in: that is
            // "cannot check now" (unavailable), not "no such key". Known kids are unaffected.
            Some(kid) if !snap.has_kid(kid) => self.refresh_with(Trigger::UnknownKid).await,
            _ => Ok(snap),
        }
    }

    /// Fetches now, whatever the held set's lifetime, within the same limits as every other
    /// fetch: callers arriving while a fetch runs share its outcome (single-flight), and within
    /// `retry_after_failure` of a failed fetch no new one is made ([`JwksError::Unavailable`]
    /// at once). The unknown-kid cooldown does not apply.
    pub async fn refresh(&self) -> Result<Arc<KeySetSnapshot>, JwksError> {
        let generation = lock(&self.inner.attempts).generation;
        let _fetching = self.inner.fetching.lock().await;
        {
            let attempts = lock(&self.inner.attempts);
            if attempts.generation != generation {
                // Another caller fetched while we waited for the lock: its outcome is ours.
                return match attempts.last_error.clone() {
                    Some(err) => Err(err),
                    None => {
                        drop(attempts);
                        self.snapshot().ok_or_else(|| JwksError::Unavailable {
                            last_error: "no fetch completed".into(),
                        })
                    }
                };
            }
            if let Some(err) = self.failed_recently(&attempts) {
                return Err(JwksError::Unavailable {
                    last_error: err.to_string(),
                });
            }
        }
        self.fetch_and_publish().await
    }

    fn refresh_in_background(&self) {
        // Read before checking for a running fetch: a fetch that completes after this point
        // changes it, and the spawned task then has nothing left to do.
        let generation = lock(&self.inner.attempts).generation;
        // try_lock: when a fetch is already running there is nothing to start.
        if self.inner.fetching.try_lock().is_err() || self.backing_off() {
            return;
        }
        let cache = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let Ok(_fetching) = cache.inner.fetching.try_lock() else {
                    return;
                };
                // Several callers may have spawned a refresh before the first one ran; only
                // one fetch is made for them.
                if lock(&cache.inner.attempts).generation != generation {
                    return;
                }
                let _ = cache.fetch_and_publish().await;
            });
        }
    }

    fn backing_off(&self) -> bool {
        self.failed_recently(&lock(&self.inner.attempts)).is_some()
    }

    /// The last fetch's error while it is within `retry_after_failure`: no new fetch until then.
    fn failed_recently<'a>(&self, attempts: &'a Attempts) -> Option<&'a JwksError> {
        attempts.last_error.as_ref().filter(|_| {
            attempts
                .last_at
                .is_some_and(|at| at.elapsed() < self.inner.config.retry_after_failure)
        })
    }

    async fn refresh_with(&self, trigger: Trigger) -> Result<Arc<KeySetSnapshot>, JwksError> {
        let generation = lock(&self.inner.attempts).generation;
        let _fetching = self.inner.fetching.lock().await;
        {
            let attempts = lock(&self.inner.attempts);
            let last_failed = attempts.last_error.clone();
            let recently =
                |interval: Duration| attempts.last_at.is_some_and(|at| at.elapsed() < interval);
            // Another caller fetched while we waited for the lock: share its outcome.
            let shared = attempts.generation != generation;
            let cooling = trigger == Trigger::UnknownKid
                && attempts
                    .last_unknown_kid_fetch
                    .is_some_and(|at| at.elapsed() < self.inner.config.unknown_kid_cooldown);
            let backing_off =
                last_failed.is_some() && recently(self.inner.config.retry_after_failure);
            if shared || cooling || backing_off {
                if cooling && !shared {
                    self.inner
                        .counters
                        .cooldown_hits
                        .fetch_add(1, Ordering::Relaxed);
                }
                drop(attempts);
                return match (self.snapshot(), last_failed) {
                    (Some(snap), None) if trigger == Trigger::UnknownKid => Ok(snap),
                    (Some(snap), _) if trigger != Trigger::UnknownKid && self.usable(&snap) => {
                        Ok(snap)
                    }
                    (_, Some(err)) => Err(JwksError::Unavailable {
                        last_error: err.to_string(),
                    }),
                    (Some(snap), None) => Ok(snap),
                    (None, None) => Err(JwksError::Unavailable {
                        last_error: "no fetch completed".into(),
                    }),
                };
            }
        }
        if trigger == Trigger::UnknownKid {
            lock(&self.inner.attempts).last_unknown_kid_fetch = Some(Instant::now());
        }
        match self.fetch_and_publish().await {
            Ok(snap) => Ok(snap),
            Err(err) => match self.snapshot() {
                Some(snap) if trigger != Trigger::UnknownKid && self.usable(&snap) => Ok(snap),
                _ => Err(JwksError::Unavailable {
                    last_error: err.to_string(),
                }),
            },
        }
    }

    fn usable(&self, snap: &KeySetSnapshot) -> bool {
        Instant::now() <= snap.fresh_until + self.inner.config.max_stale
    }

    /// One fetch; the caller holds `fetching`.
    async fn fetch_and_publish(&self) -> Result<Arc<KeySetSnapshot>, JwksError> {
        self.inner.counters.fetches.fetch_add(1, Ordering::Relaxed);
        let result = match self.jwks_uri().await {
            Ok(url) => fetch::key_set(&self.inner.client, &url, &self.inner.config).await,
            Err(err) => Err(err),
        };
        let mut attempts = lock(&self.inner.attempts);
        attempts.generation += 1;
        attempts.last_at = Some(Instant::now());
        match result {
            Ok(fetched) => {
                attempts.last_error = None;
                drop(attempts);
                for skipped in &fetched.keys.skipped {
                    tracing::warn!(target: "jwtkit_jwks", "{skipped}");
                }
                let now = Instant::now();
                let ahead =
                    self.inner.config.refresh_ahead * (1.0 - rand::rng().random_range(0.0..0.1));
                let mut current = self
                    .inner
                    .current
                    .write()
                    .unwrap_or_else(|p| p.into_inner());
                let version = current.as_ref().map_or(0, |s| s.version) + 1;
                let snap = Arc::new(KeySetSnapshot {
                    keys: fetched.keys.keys,
                    skipped: fetched.keys.skipped,
                    version,
                    fetched_at: now,
                    fresh_until: now + fetched.ttl,
                    refresh_at: now + fetched.ttl.mul_f64(ahead.clamp(0.0, 1.0)),
                });
                *current = Some(snap.clone());
                Ok(snap)
            }
            Err(err) => {
                self.inner
                    .counters
                    .fetch_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "jwtkit_jwks", "key set fetch failed: {err}");
                attempts.last_error = Some(err.clone());
                Err(err)
            }
        }
    }

    async fn jwks_uri(&self) -> Result<String, JwksError> {
        let (url, expected) = match &self.inner.config.source {
            Source::JwksUrl(url) => return Ok(url.clone()),
            Source::Discovery {
                url,
                expected_issuer,
            } => (url, expected_issuer.as_deref().unwrap_or(url)),
        };
        if let Some((uri, at)) = lock(&self.inner.jwks_uri).as_ref()
            && at.elapsed() < self.inner.config.rediscovery_interval
        {
            return Ok(uri.clone());
        }
        self.inner
            .counters
            .discovery_fetches
            .fetch_add(1, Ordering::Relaxed);
        let uri = fetch::discover(&self.inner.client, url, expected, &self.inner.config).await?;
        *lock(&self.inner.jwks_uri) = Some((uri.clone(), Instant::now()));
        Ok(uri)
    }

    /// Current counters and key-set facts.
    pub fn stats(&self) -> JwksStats {
        let counters = &self.inner.counters;
        let snap = self.snapshot();
        JwksStats {
            fetches: counters.fetches.load(Ordering::Relaxed),
            fetch_errors: counters.fetch_errors.load(Ordering::Relaxed),
            discovery_fetches: counters.discovery_fetches.load(Ordering::Relaxed),
            cooldown_hits: counters.cooldown_hits.load(Ordering::Relaxed),
            stale_serves: counters.stale_serves.load(Ordering::Relaxed),
            key_count: snap.as_ref().map_or(0, |s| s.keys.len()),
            skipped_keys: snap.as_ref().map_or(0, |s| s.skipped.len()),
            age: snap.as_ref().map(|s| s.age()),
            version: snap.as_ref().map_or(0, |s| s.version),
            last_error: lock(&self.inner.attempts)
                .last_error
                .as_ref()
                .map(ToString::to_string),
        }
    }
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.inner.config.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_source_keeps_the_settings_and_starts_empty() {
        let mut config = JwksConfig::jwks_url("http://127.0.0.1:9/a");
        config.max_stale = Duration::from_secs(7);
        let cache = JwksCache::new(config).unwrap();
        let other = cache.with_source(Source::JwksUrl("http://127.0.0.1:9/b".into()));
        assert_eq!(
            other.config().source,
            Source::JwksUrl("http://127.0.0.1:9/b".into())
        );
        assert_eq!(other.config().max_stale, Duration::from_secs(7));
        assert_eq!(other.stats(), JwksStats::default());
        assert!(!other.is_ready());
        assert_eq!(
            cache.config().source,
            Source::JwksUrl("http://127.0.0.1:9/a".into())
        );
    }
}
