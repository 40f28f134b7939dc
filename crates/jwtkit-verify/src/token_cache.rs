//! The verified-token cache: a hit skips parsing and the signature check, so every entry is
//! bound to what decided its verdict (the exact token bytes, the issuer entry, the key-set
//! version) and ends at the token's `exp`.
//!
//! Entries are keyed by the token bytes alone and looked up before anything is parsed. The
//! issuer entry is stored in the value: a [`Registry`](crate::Registry) is immutable and routes
//! by the token's own `iss`, so the same bytes always reach the same entry, with the same header
//! policy, as when the verdict was cached.

use std::sync::Arc;

use quick_cache::sync::Cache;

use crate::Validated;

/// A verdict worth remembering.
pub(crate) struct CachedToken {
    /// The registry entry that accepted the token.
    pub issuer: usize,
    /// What a hit returns, shared.
    pub validated: Arc<Validated>,
    /// The token's `exp`; the entry is never used at or after it.
    pub exp: f64,
    /// The key-set version that verified the token.
    pub key_version: u64,
}

pub(crate) struct TokenCache {
    // Keyed by the full token: the hash picks the slot, equality compares every byte.
    entries: Cache<Box<str>, Arc<CachedToken>>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// The remembered verdict for these exact token bytes, if any (not yet checked for expiry
    /// or key version: see [`TokenCache::still_valid`]).
    pub fn get(&self, token: &str) -> Option<Arc<CachedToken>> {
        self.entries.get(token)
    }

    /// True when `hit` may still be used at `now` under the issuer's current key version;
    /// otherwise the entry is dropped.
    pub fn still_valid(
        &self,
        token: &str,
        hit: &CachedToken,
        key_version: Option<u64>,
        now: i64,
    ) -> bool {
        if key_version == Some(hit.key_version) && (now as f64) < hit.exp {
            true
        } else {
            self.entries.remove(token);
            false
        }
    }

    pub fn insert(&self, token: &str, entry: CachedToken) {
        self.entries.insert(token.into(), Arc::new(entry));
    }
}
