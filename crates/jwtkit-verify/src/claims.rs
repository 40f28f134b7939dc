//! Verified claims, kept as the signed payload and read into a JSON map on first use.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use crate::error::clip_to;
use crate::{ClaimMap, VerifyError};

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

/// A validated payload as the caller's type `T`. When it does not fit, the error is
/// `invalid_claim` naming the path of the value that does not (`realm_access.roles[0]`, or `*`
/// for the claim set as a whole) with serde's reason, so a wrongly shaped claim can be found.
pub(crate) fn typed<T: DeserializeOwned>(payload: &[u8]) -> Result<T, VerifyError> {
    // The plain parse first: the path is tracked only to explain a failure, so claims that fit
    // cost what they cost before.
    serde_json::from_slice(payload).map_err(|plain| shape_error::<T>(payload, plain))
}

/// Parses again, tracking the path, to say where `T` and the claims disagree.
#[cold]
fn shape_error<T: DeserializeOwned>(payload: &[u8], plain: serde_json::Error) -> VerifyError {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let (path, err) = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(tracked) => (tracked.path().to_string(), tracked.into_inner()),
        // Not expected: the same bytes, the same type. Keep the first error without a path.
        Ok(_) => (String::new(), plain),
    };
    // Claim names and values come from the token: shown clipped, control characters replaced.
    let claim = match path.as_str() {
        "" | "." => "*".to_owned(),
        path => clip_to(path, 128),
    };
    VerifyError::InvalidClaim {
        claim,
        reason: clip_to(&without_position(&err), 200).into(),
    }
}

/// serde_json's message without its ` at line L column C` suffix: the claims are one line the
/// reader never sees, and the path already says where.
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match message.strip_suffix(&suffix) {
        Some(bare) => bare.to_owned(),
        None => message,
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
    fn a_claim_of_the_wrong_shape_is_named_by_its_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Access {
            roles: Vec<String>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Typed {
            sub: String,
            realm_access: Access,
        }
        let payload = br#"{"sub":"ada","realm_access":{"roles":[7,"b"]}}"#;
        let err = typed::<Typed>(payload).unwrap_err();
        assert_eq!(err.code(), "invalid_claim");
        assert_eq!(
            err.to_string(),
            "claim \"realm_access.roles[0]\" is invalid: invalid type: integer `7`, expected a string"
        );
        let err = typed::<Typed>(br#"{"realm_access":{"roles":[]}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "claim \"*\" is invalid: missing field `sub`"
        );
        let fits = typed::<Typed>(br#"{"sub":"a","realm_access":{"roles":["x"]}}"#).unwrap();
        assert_eq!(fits.realm_access.roles, ["x"]);
    }

    #[test]
    fn a_shape_error_shows_token_text_clipped_and_without_control_characters() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Typed {
            n: u8,
        }
        let long = format!(r#"{{"n":"{}\n{}"}}"#, "x".repeat(10), "y".repeat(500));
        let err = typed::<Typed>(long.as_bytes()).unwrap_err();
        let VerifyError::InvalidClaim { claim, reason } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(claim, "n");
        assert!(reason.chars().count() <= 201, "{reason}");
        assert!(!reason.chars().any(char::is_control), "{reason}");
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
