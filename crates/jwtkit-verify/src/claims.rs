//! Verified claims, kept as the signed payload and read into a JSON map on first use.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use crate::ClaimMap;

/// The claims of a validated token.
///
/// Validation reads only the registered claims, in one pass over the payload; the full
/// [`ClaimMap`] is built the first time a claim is looked up (through `Deref`), once per token
/// even when a verified-token cache hands the same claims to many requests. Building the map
/// costs more than the whole HMAC check of a typical token, and many callers never need it.
pub struct Claims {
    /// The payload as signed: one JSON object with unique member names (checked by validation).
    payload: Box<[u8]>,
    map: OnceLock<ClaimMap>,
}

impl Claims {
    /// Claims from a payload that validation already read as a JSON object with unique names.
    pub(crate) fn from_validated_payload(payload: Vec<u8>) -> Self {
        Self {
            payload: payload.into_boxed_slice(),
            map: OnceLock::new(),
        }
    }

    /// Claims from a map (tests, or claims obtained elsewhere).
    pub fn from_map(map: ClaimMap) -> Self {
        let payload = serde_json::to_vec(&map).unwrap_or_default();
        Self {
            payload: payload.into_boxed_slice(),
            map: OnceLock::from(map),
        }
    }

    /// The payload JSON exactly as the issuer signed it.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The claims as a JSON map (built on first use).
    pub fn map(&self) -> &ClaimMap {
        // Validation accepted exactly what `parse_object` accepts (a differential test in
        // policy.rs holds the two to that), so the fallback is unreachable for validated claims.
        self.map
            .get_or_init(|| crate::jws::parse_object(&self.payload).unwrap_or_default())
    }

    /// The claims deserialised into the caller's type, straight from the payload.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

impl Deref for Claims {
    type Target = ClaimMap;

    fn deref(&self) -> &ClaimMap {
        self.map()
    }
}

impl Clone for Claims {
    fn clone(&self) -> Self {
        Self {
            payload: self.payload.clone(),
            map: self.map.clone(),
        }
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.map(), f)
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_is_read_from_the_payload_on_first_use() {
        let claims = Claims::from_validated_payload(br#"{"sub":"ada","n":[1,2]}"#.to_vec());
        assert!(claims.map.get().is_none());
        assert_eq!(claims.get("sub").and_then(|v| v.as_str()), Some("ada"));
        assert!(claims.map.get().is_some());
        assert_eq!(claims.len(), 2);
        #[derive(serde::Deserialize)]
        struct Typed {
            n: Vec<u8>,
        }
        assert_eq!(claims.deserialize::<Typed>().unwrap().n, [1, 2]);
    }

    #[test]
    fn from_map_round_trips() {
        let map: ClaimMap = serde_json::from_str(r#"{"a":"b"}"#).unwrap();
        let claims = Claims::from_map(map.clone());
        assert_eq!(*claims, map);
        assert_eq!(claims.payload(), br#"{"a":"b"}"#);
        assert_eq!(serde_json::to_value(&claims).unwrap()["a"], "b");
    }
}
