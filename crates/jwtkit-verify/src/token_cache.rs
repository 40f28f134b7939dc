//! The verified-token cache: a hit skips the signature check, so every entry is bound to what
//! decided its verdict (the exact token bytes, the issuer entry, the key-set version) and ends
//! at the token's `exp`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::Equivalent;
use quick_cache::sync::Cache;

use crate::{ClaimMap, Header};

/// A verdict worth remembering.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub header: Header,
    pub claims: Arc<ClaimMap>,
    /// The token's `exp`; the entry is never used at or after it.
    pub exp: f64,
    /// The key-set version that verified the token.
    pub key_version: u64,
}

#[derive(PartialEq, Eq, Hash)]
struct OwnedKey {
    issuer: usize,
    token: Box<str>,
}

/// Looks up without allocating: hashes and compares like [`OwnedKey`].
struct BorrowedKey<'a> {
    issuer: usize,
    token: &'a str,
}

impl Hash for BorrowedKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must match the derived Hash of OwnedKey: field by field, str hashed as str.
        self.issuer.hash(state);
        self.token.hash(state);
    }
}

impl Equivalent<OwnedKey> for BorrowedKey<'_> {
    fn equivalent(&self, key: &OwnedKey) -> bool {
        self.issuer == key.issuer && *self.token == *key.token
    }
}

pub(crate) struct TokenCache {
    entries: Cache<OwnedKey, CachedToken>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// A remembered verdict, if still valid at `now` under the current key version.
    pub fn get(
        &self,
        issuer: usize,
        token: &str,
        key_version: Option<u64>,
        now: i64,
    ) -> Option<CachedToken> {
        let key = BorrowedKey { issuer, token };
        let hit = self.entries.get(&key)?;
        if key_version == Some(hit.key_version) && (now as f64) < hit.exp {
            Some(hit)
        } else {
            self.entries.remove(&key);
            None
        }
    }

    pub fn insert(&self, issuer: usize, token: &str, entry: CachedToken) {
        self.entries.insert(
            OwnedKey {
                issuer,
                token: token.into(),
            },
            entry,
        );
    }
}
