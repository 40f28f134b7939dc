//! The registered claims a [`crate::Policy`] reads (`exp`, `nbf`, `iat`, `iss`, `aud`, `azp`),
//! found in one pass: over a decoded claim map, or straight over the payload bytes without
//! building the map. Both give the same values, so the policy gives the same verdicts.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::jws::{self, Name, Skip};

/// The value of a registered claim, as much of it as the rules need. Built from a decoded
/// [`Value`] or straight from the payload bytes ([`Registered::from_json`]); both give the same
/// verdicts.
#[derive(Debug, PartialEq)]
pub(crate) enum ClaimValue<'a> {
    /// A JSON number, as `f64` (what `serde_json::Number::as_f64` gives).
    Number(f64),
    /// A JSON string.
    String(Cow<'a, str>),
    /// A JSON array whose elements are all strings.
    Strings(Vec<Cow<'a, str>>),
    /// Anything else (`null`, a boolean, an object, an array with a non-string element).
    Other,
}

impl<'a> ClaimValue<'a> {
    pub(crate) fn of(value: &'a Value) -> Self {
        match value {
            // Without serde_json's `arbitrary_precision`, as_f64 always answers.
            Value::Number(n) => Self::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Self::String(Cow::Borrowed(s)),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(Cow::Borrowed))
                .collect::<Option<Vec<_>>>()
                .map_or(Self::Other, Self::Strings),
            _ => Self::Other,
        }
    }
}

/// The registered claims a [`Policy`] reads.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Registered<'a> {
    pub exp: Option<ClaimValue<'a>>,
    pub nbf: Option<ClaimValue<'a>>,
    pub iat: Option<ClaimValue<'a>>,
    pub iss: Option<ClaimValue<'a>>,
    pub aud: Option<ClaimValue<'a>>,
    pub azp: Option<ClaimValue<'a>>,
}

impl<'a> Registered<'a> {
    /// One pass over a decoded claim set.
    pub fn of_map(claims: &'a Map<String, Value>) -> Self {
        let mut found = Self::default();
        for (name, value) in claims {
            if let Some(slot) = found.slot(name) {
                *slot = Some(ClaimValue::of(value));
            }
        }
        found
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<ClaimValue<'a>>> {
        match name {
            "exp" => Some(&mut self.exp),
            "nbf" => Some(&mut self.nbf),
            "iat" => Some(&mut self.iat),
            "iss" => Some(&mut self.iss),
            "aud" => Some(&mut self.aud),
            "azp" => Some(&mut self.azp),
            _ => None,
        }
    }

    /// One pass over the payload JSON: the registered claims, and every member name (sorted).
    /// Fails unless the payload is one JSON object with unique member names, within serde_json's
    /// nesting limit: exactly what [`crate::jws::parse_object`] accepts.
    pub fn from_json(payload: &'a [u8]) -> Result<(Self, Vec<Cow<'a, str>>), serde_json::Error> {
        let scan = serde_json::from_slice::<ClaimScan<'a>>(payload)?;
        Ok((scan.registered, scan.names))
    }
}

/// The payload read once for [`Registered::from_json`].
struct ClaimScan<'a> {
    registered: Registered<'a>,
    names: Vec<Cow<'a, str>>,
}

impl<'de> Deserialize<'de> for ClaimScan<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScanVisitor;
        impl<'de> Visitor<'de> for ScanVisitor {
            type Value = ClaimScan<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut registered = Registered::default();
                let mut names: Vec<Cow<'de, str>> = Vec::with_capacity(16);
                while let Some(Name(name)) = access.next_key::<Name<'de>>()? {
                    match registered.slot(&name) {
                        Some(slot) => *slot = Some(access.next_value::<ScannedValue<'de>>()?.0),
                        None => {
                            access.next_value::<Skip>()?;
                        }
                    }
                    names.push(name);
                }
                if !jws::all_distinct(&mut names) {
                    return Err(de::Error::custom("duplicate member name"));
                }
                Ok(ClaimScan { registered, names })
            }
        }
        deserializer.deserialize_map(ScanVisitor)
    }
}

/// A registered claim's value read from JSON text.
struct ScannedValue<'de>(ClaimValue<'de>);

impl<'de> Deserialize<'de> for ScannedValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = ScannedValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ScannedValue(ClaimValue::Number(v as f64)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ScannedValue(ClaimValue::Number(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ScannedValue(ClaimValue::Number(v)))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ScannedValue(ClaimValue::String(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ScannedValue(ClaimValue::String(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ScannedValue(ClaimValue::Other))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ScannedValue(ClaimValue::Other))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut strings = Some(Vec::new());
                while let Some(element) = seq.next_element::<ScannedValue<'de>>()? {
                    match (element.0, &mut strings) {
                        (ClaimValue::String(s), Some(list)) => list.push(s),
                        _ => strings = None,
                    }
                }
                Ok(ScannedValue(
                    strings.map_or(ClaimValue::Other, ClaimValue::Strings),
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(ScannedValue(ClaimValue::Other))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn scanning_the_payload_gives_the_verdicts_of_the_decoded_map() {
        let policies = [
            Policy::default(),
            Policy {
                issuers: vec!["https://idp".into()],
                audiences: vec!["api".into()],
                authorized_parties: vec!["https://app".into()],
                required_claims: vec!["email".into(), "a\u{e9}".into()],
                ..Policy::default()
            },
            Policy {
                issuers: vec!["https://idp".into()],
                allow_missing_iss: true,
                require_exp: false,
                leeway_seconds: 0,
                ..Policy::default()
            },
            Policy {
                accept_any_audience: true,
                ..Policy::default()
            },
        ];
        let exp = NOW + 100;
        let payloads = [
            format!(r#"{{"exp":{exp}}}"#),
            format!(r#"{{"exp":{exp}.5,"nbf":1e3,"iat":-4}}"#),
            r#"{"exp":1e300}"#.to_owned(),
            r#"{"exp":18446744073709551615}"#.to_owned(),
            r#"{"exp":-9223372036854775808}"#.to_owned(),
            format!(r#"{{"exp":"{exp}"}}"#),
            format!(r#"{{"exp":{exp},"nbf":null}}"#),
            format!(r#"{{"exp":{exp},"iat":{}}}"#, NOW + 61),
            format!(
                r#"{{"exp":{exp},"iss":"https://idp","aud":["x","api"],"azp":"https://app","email":"e","a\u00e9":1}}"#
            ),
            format!(r#"{{"exp":{exp},"iss":"https:\/\/idp","aud":"api","email":1,"aé":[]}}"#),
            format!(r#"{{"exp":{exp},"iss":["https://idp"],"aud":"api"}}"#),
            format!(r#"{{"exp":{exp},"iss":"https://idp","aud":["api",["api"]]}}"#),
            format!(r#"{{"exp":{exp},"iss":"https://idp","aud":[]}}"#),
            format!(r#"{{"exp":{exp},"iss":"https://idp","aud":{{"api":true}}}}"#),
            format!(r#"{{"exp":{exp},"iss":"https://idp","aud":"api","azp":7}}"#),
            format!(r#"{{"exp":{exp},"iss":"https://idp","aud":"api","azp":"https://evil"}}"#),
            format!(r#"{{"exp":{exp},"iss":"https://evil\n","aud":"api"}}"#),
            format!(r#"{{"exp":{exp},"exp":{exp}}}"#),
            format!(r#"{{"exp":{exp},"\u0065xp":{exp}}}"#),
            format!(
                r#"{{"exp":{exp},"deep":{}{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
            format!(
                r#"{{"exp":{exp},"aud":{}"api"{}}}"#,
                "[".repeat(130),
                "]".repeat(130)
            ),
            "[1]".to_owned(),
            "{}".to_owned(),
            format!(r#"{{"exp":{exp}}} "#),
            format!(r#"{{"exp":{exp}}}x"#),
        ];
        for payload in &payloads {
            let map = crate::jws::parse_object(payload.as_bytes());
            let scanned = Registered::from_json(payload.as_bytes());
            assert_eq!(map.is_ok(), scanned.is_ok(), "{payload}");
            let (Ok(map), Ok((registered, names))) = (map, scanned) else {
                continue;
            };
            assert_eq!(registered, Registered::of_map(&map), "{payload}");
            for policy in &policies {
                assert_eq!(
                    policy.check_scanned(&registered, &names, NOW),
                    policy.check_claims(&map, NOW),
                    "{payload}"
                );
            }
        }
    }
}
