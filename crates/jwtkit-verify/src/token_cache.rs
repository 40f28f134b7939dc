//! The verified-token cache: a hit skips parsing and the signature check, so every entry is
//! bound to what decided its verdict (the exact token bytes, the issuer entry, the key-set
//! version) and ends at the token's `exp`.
//!
//! Entries are keyed by the token bytes alone and looked up before anything is parsed. The
//! issuer entry is stored in the value: a [`Registry`](crate::Registry) is immutable and routes
//! by the token's own `iss`, so the same bytes always reach the same entry, with the same header
//! policy, as when the verdict was cached.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::Equivalent;
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
    entries: Cache<TokenKey, Arc<CachedToken>>,
}

/// A cached token, compared by every byte but hashed by its length and last [`HASHED`] bytes:
/// hashing a whole token (often 500-1,000 bytes) was most of a lookup. The last bytes are the
/// signature's, and only verified tokens are stored, so the stored keys' hashed bytes are
/// signature output no caller chooses; a lookup crafted to share them with a stored token only
/// costs itself one more comparison. The cache's hasher is randomly seeded, as before.
#[derive(PartialEq, Eq)]
struct TokenKey(Box<str>);

/// How many trailing bytes of a token are hashed.
const HASHED: usize = 32;

/// A token looked up: hashed as its [`TokenKey`] would be.
struct Lookup<'t>(&'t str);

fn hash_token<H: Hasher>(token: &str, state: &mut H) {
    let bytes = token.as_bytes();
    state.write_usize(bytes.len());
    state.write(&bytes[bytes.len().saturating_sub(HASHED)..]);
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(&self.0, state);
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0, state);
    }
}

impl Equivalent<TokenKey> for Lookup<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *self.0 == *key.0
    }
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
        self.entries.get(&Lookup(token))
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
            self.entries.remove(&Lookup(token));
            false
        }
    }

    pub fn insert(&self, token: &str, entry: CachedToken) {
        self.entries.insert(TokenKey(token.into()), Arc::new(entry));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Claims, Header};

    fn entry(sub: &str) -> CachedToken {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), sub.into());
        CachedToken {
            issuer: 0,
            validated: Arc::new(Validated {
                header: Header {
                    alg: jwtkit_keys::Algorithm::HS256,
                    kid: None,
                    typ: None,
                },
                claims: Arc::new(Claims::from_map(claims)),
                issuer: None,
            }),
            exp: f64::MAX,
            key_version: 0,
        }
    }

    #[test]
    fn tokens_sharing_their_hashed_tail_are_still_told_apart() {
        let cache = TokenCache::new(16);
        let tail = "s".repeat(HASHED);
        let first = format!("aaaa.bbbb.{tail}");
        let twin = format!("aaaa.cccc.{tail}");
        let shorter = format!("aaa.bbbb.{tail}");
        cache.insert(&first, entry("first"));
        assert!(cache.get(&twin).is_none());
        assert!(cache.get(&shorter).is_none());
        cache.insert(&twin, entry("twin"));
        let sub = |token: &str| {
            cache
                .get(token)
                .map(|hit| hit.validated.claims.get("sub").cloned())
        };
        assert_eq!(sub(&first), Some(Some("first".into())));
        assert_eq!(sub(&twin), Some(Some("twin".into())));
        // Shorter than the hashed tail: the whole token is hashed.
        cache.insert("a.b.c", entry("short"));
        assert_eq!(sub("a.b.c"), Some(Some("short".into())));
        assert!(cache.get("a.b.d").is_none());
        // A refused hit removes only its own entry.
        let hit = cache.get(&first).unwrap();
        assert!(!cache.still_valid(&first, &hit, Some(1), 0));
        assert!(cache.get(&first).is_none());
        assert!(cache.get(&twin).is_some());
    }
}
