//! Strict parsing of compact JWS (RFC 7515 §7.1): exactly three unpadded base64url segments, a
//! JSON object header, and no duplicate member names anywhere at the top level.

use std::fmt;

use jwtkit_keys::{Algorithm, KeyError, b64};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::VerifyError;
use crate::error::clip;

/// The protected header members jwtkit reads. `jku`, `x5u`, `x5c` and `jwk` are deliberately
/// not read: keys come from configuration, never from the token (RFC 8725 §3.10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Header {
    /// The signing algorithm (never `none`).
    pub alg: Algorithm,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Media type, e.g. `JWT` or `at+jwt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// A compact JWS split and decoded, not yet verified.
pub struct Parsed<'t> {
    /// The decoded header.
    pub header: Header,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'t str,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
}

// Only sizes: a parsed token must not end up whole in a log line.
impl fmt::Debug for Parsed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parsed")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .field("signature_len", &self.signature.len())
            .finish()
    }
}

/// Splits and decodes a compact JWS without verifying it.
pub fn parse(token: &str, max_len: usize) -> Result<Parsed<'_>, VerifyError> {
    if token.len() > max_len {
        return Err(VerifyError::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    let mut segments = token.splitn(4, '.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(VerifyError::Malformed(
            "expected three dot-separated segments (a JWE or a bare JSON value is not a JWS)",
        ));
    };
    let signing_len = header.len() + 1 + payload.len();
    let header_bytes =
        b64::decode(header).map_err(|_| VerifyError::Malformed("header is not base64url"))?;
    let payload_bytes =
        b64::decode(payload).map_err(|_| VerifyError::Malformed("payload is not base64url"))?;
    let signature_bytes =
        b64::decode(signature).map_err(|_| VerifyError::Malformed("signature is not base64url"))?;
    let header = parse_header(&header_bytes)?;
    Ok(Parsed {
        header,
        signing_input: &token[..signing_len],
        payload: payload_bytes,
        signature: signature_bytes,
    })
}

fn parse_header(bytes: &[u8]) -> Result<Header, VerifyError> {
    let members =
        parse_object(bytes).map_err(|_| VerifyError::Malformed("header is not a JSON object"))?;
    if members.contains_key("crit") {
        return Err(VerifyError::UnsupportedCrit);
    }
    let alg = match members.get("alg") {
        Some(Value::String(name)) => name.parse::<Algorithm>().map_err(|err| match err {
            KeyError::AlgNone => VerifyError::AlgNotAllowed("none".into()),
            _ => VerifyError::AlgNotAllowed(clip(name)),
        })?,
        Some(_) => return Err(VerifyError::Malformed("header alg is not a string")),
        None => return Err(VerifyError::Malformed("header has no alg")),
    };
    let string_member = |name: &'static str, error: &'static str| match members.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(VerifyError::Malformed(error)),
    };
    Ok(Header {
        alg,
        kid: string_member("kid", "header kid is not a string")?,
        typ: string_member("typ", "header typ is not a string")?,
    })
}

/// Parses a JSON object, refusing duplicate member names (RFC 7515 §5.2 allows rejecting them;
/// accepting "last one wins" lets two parsers disagree on what a token says).
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, serde_json::Error> {
    Ok(serde_json::from_slice::<UniqueObject>(bytes)?.0)
}

struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&name) {
                        return Err(de::Error::custom("duplicate member name"));
                    }
                    map.insert(name, value);
                }
                Ok(UniqueObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            b64::encode(header.as_bytes()),
            b64::encode(payload.as_bytes())
        )
    }

    #[test]
    fn splits_into_signing_input_payload_and_signature() {
        let t = token(r#"{"alg":"HS256","kid":"k"}"#, r#"{"sub":"a"}"#);
        let parsed = parse(&t, 8192).unwrap();
        assert_eq!(parsed.header.alg, Algorithm::HS256);
        assert_eq!(parsed.header.kid.as_deref(), Some("k"));
        assert_eq!(parsed.payload, br#"{"sub":"a"}"#);
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(format!("{}.c2ln", parsed.signing_input), t);
    }

    #[test]
    fn rejects_structural_problems() {
        let ok = token(r#"{"alg":"HS256"}"#, "{}");
        let cases: Vec<(String, &str)> = vec![
            (format!("{ok}.extra"), "malformed"),
            ("a.b".into(), "malformed"),
            (ok.replacen('.', "=.", 1), "malformed"),
            (token(r#"{"alg":"none"}"#, "{}"), "alg_not_allowed"),
            (token(r#"{"alg":"nOnE"}"#, "{}"), "alg_not_allowed"),
            (
                token(r#"{"alg":"HS256","crit":["exp"]}"#, "{}"),
                "unsupported_crit",
            ),
            (token(r#"{"alg":"HS256","kid":7}"#, "{}"), "malformed"),
            (token(r#"{"alg":"HS256","alg":"RS256"}"#, "{}"), "malformed"),
            (token(r#"["HS256"]"#, "{}"), "malformed"),
            (token(r#"{"typ":"JWT"}"#, "{}"), "malformed"),
        ];
        for (bad, code) in cases {
            assert_eq!(
                parse(&bad, 8192).err().map(|e| e.code()),
                Some(code),
                "{bad}"
            );
        }
        assert_eq!(parse(&ok, 10).unwrap_err().code(), "token_too_large");
    }

    #[test]
    fn duplicate_members_are_refused() {
        assert!(parse_object(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_object(br#"{"a":1,"b":{"a":2}}"#).is_ok());
        assert!(parse_object(br#"[1]"#).is_err());
    }
}
