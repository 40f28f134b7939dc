//! Minted-token cache: one token per subject, reused until shortly before it expires.

use std::sync::Arc;
use std::time::Duration;

use coarsetime::Instant;

use quick_cache::sync::Cache;

use crate::MintError;

/// Caches minted tokens by subject. One cache belongs to one key and one upstream, so the key
/// is all that varies between entries; an entry is handed out only until `margin` before its
/// expiry, so an upstream never receives a token about to expire in flight.
///
/// Its clock is the coarse monotonic one (on Linux `CLOCK_MONOTONIC_COARSE`, a few ns to read
/// against ~17 ns for `Instant::now`, which would be a third of a cache hit): it may lag by one
/// timer tick (1-10 ms), so a token may be handed out that much past `expiry - margin`; margins
/// are seconds.
pub struct MintedTokenCache {
    entries: Cache<String, (Arc<str>, Instant)>,
    margin: Duration,
}

impl MintedTokenCache {
    /// Room for `capacity` subjects; tokens are replaced `margin` before they expire.
    pub fn new(capacity: usize, margin: Duration) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            margin,
        }
    }

    /// The cached token for `subject`, or a new one from `mint`, which returns the token and
    /// its lifetime. A token whose lifetime is within the margin is not cached.
    pub fn get_or_mint(
        &self,
        subject: &str,
        mint: impl FnOnce() -> Result<(String, Duration), MintError>,
    ) -> Result<Arc<str>, MintError> {
        // Without the update of coarsetime's shared "recent" instant: a store every core would
        // contend for.
        let now = Instant::now_without_cache_update();
        if let Some((token, reuse_until)) = self.entries.get(subject)
            && now < reuse_until
        {
            return Ok(token);
        }
        let (token, lifetime) = mint()?;
        let token: Arc<str> = token.into();
        if let Some(usable) = lifetime.checked_sub(self.margin) {
            self.entries
                .insert(subject.to_owned(), (token.clone(), now + usable.into()));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn reuses_per_subject_and_refreshes_within_the_margin() {
        let cache = MintedTokenCache::new(10, Duration::from_millis(50));
        let minted = Cell::new(0);
        let mint = |lifetime| {
            minted.set(minted.get() + 1);
            Ok((format!("token-{}", minted.get()), lifetime))
        };
        let long = Duration::from_secs(60);
        assert_eq!(
            &*cache.get_or_mint("alice", || mint(long)).unwrap(),
            "token-1"
        );
        assert_eq!(
            &*cache.get_or_mint("alice", || mint(long)).unwrap(),
            "token-1"
        );
        assert_eq!(
            &*cache.get_or_mint("bob", || mint(long)).unwrap(),
            "token-2"
        );
        // A lifetime inside the margin is used once and never cached.
        let short = Duration::from_millis(10);
        assert_eq!(
            &*cache.get_or_mint("carol", || mint(short)).unwrap(),
            "token-3"
        );
        assert_eq!(
            &*cache.get_or_mint("carol", || mint(short)).unwrap(),
            "token-4"
        );
        // Expiry minus margin passed: minted again.
        let brief = Duration::from_millis(80);
        assert_eq!(
            &*cache.get_or_mint("dave", || mint(brief)).unwrap(),
            "token-5"
        );
        // 30 ms of reuse; 60 ms later, even a clock one tick (up to 10 ms) behind has passed it.
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            &*cache.get_or_mint("dave", || mint(brief)).unwrap(),
            "token-6"
        );
    }
}
