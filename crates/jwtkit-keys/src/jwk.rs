//! JSON Web Keys (RFC 7517) and key sets, parsed tolerantly: one unusable key never fails a set.

use std::fmt;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use crate::{KeyError, VerifyingKey, b64};

/// One JSON Web Key. Unknown members are ignored; private members are never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP` or `oct`.
    pub kty: String,
    /// Intended use; keys with a `use` other than `sig` are not used for signatures.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Permitted operations; when present it must include `verify` for verification keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// The one algorithm the key may be used with, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Curve (`EC`, `OKP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate (`EC`) or public key (`OKP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (`EC`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private exponent (`RSA`) or private key (`EC`, `OKP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// RSA first prime factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// RSA second prime factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// RSA first factor CRT exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    /// RSA second factor CRT exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    /// RSA CRT coefficient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    /// Symmetric key value (`oct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("crv", &self.crv)
            .field("private", &self.is_private())
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Parses one JWK from JSON text.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        serde_json::from_str(text).map_err(|err| KeyError::Jwk(format!("not a JWK object: {err}")))
    }

    /// True when the JWK carries private material (`d` or `k`).
    pub fn is_private(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }

    /// A required member, base64url-decoded.
    pub(crate) fn member(&self, name: &'static str) -> Result<Vec<u8>, KeyError> {
        let value = match name {
            "crv" => &self.crv,
            "x" => &self.x,
            "y" => &self.y,
            "n" => &self.n,
            "e" => &self.e,
            "d" => &self.d,
            "p" => &self.p,
            "q" => &self.q,
            "dp" => &self.dp,
            "dq" => &self.dq,
            "qi" => &self.qi,
            "k" => &self.k,
            _ => unreachable!("not a JWK key member: {name}"),
        };
        let value = value
            .as_deref()
            .ok_or_else(|| KeyError::Jwk(format!("{} key without `{name}`", self.kty)))?;
        b64::decode(value).map_err(|_| KeyError::Jwk(format!("`{name}` is not unpadded base64url")))
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url): a kid that two parties compute alike.
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2).
        let get = |v: &Option<String>, name: &str| {
            v.clone()
                .ok_or_else(|| KeyError::Jwk(format!("{} key without `{name}`", self.kty)))
        };
        let canonical = match self.kty.as_str() {
            "RSA" => {
                serde_json::json!({"e": get(&self.e, "e")?, "kty": "RSA", "n": get(&self.n, "n")?})
            }
            "EC" => serde_json::json!({
                "crv": get(&self.crv, "crv")?, "kty": "EC",
                "x": get(&self.x, "x")?, "y": get(&self.y, "y")?,
            }),
            "OKP" => {
                serde_json::json!({"crv": get(&self.crv, "crv")?, "kty": "OKP", "x": get(&self.x, "x")?})
            }
            "oct" => serde_json::json!({"k": get(&self.k, "k")?, "kty": "oct"}),
            other => return Err(KeyError::Jwk(format!("unknown kty {other:?}"))),
        };
        // serde_json's map is ordered by key, which gives the lexicographic order required.
        let hash = digest::digest(&digest::SHA256, canonical.to_string().as_bytes());
        Ok(b64::encode(hash.as_ref()))
    }

    /// The public half of a key: private members removed.
    pub fn to_public(&self) -> Jwk {
        Jwk {
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            k: None,
            ..self.clone()
        }
    }
}

/// A JWK Set document as served by an IdP.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys, in document order.
    pub keys: Vec<Jwk>,
}

/// A key of a set that was not loaded, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    /// The key's `kid`, when it had a string one (truncated to 64 characters).
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

impl fmt::Display for SkippedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(kid) => write!(
                f,
                "key #{} (kid {kid:?}) skipped: {}",
                self.index, self.reason
            ),
            None => write!(f, "key #{} skipped: {}", self.index, self.reason),
        }
    }
}

/// The usable verification keys of a set, and a diagnostic for each key that was skipped.
#[derive(Debug, Default)]
pub struct ParsedKeySet {
    /// Keys ready for verification.
    pub keys: Vec<VerifyingKey>,
    /// Keys that were not usable (unknown `kty`, `use: enc`, too small, malformed, ...).
    pub skipped: Vec<SkippedKey>,
}

/// True when a key file's text is a JWK rather than PEM: it starts with `{` after white space
/// (PEM starts with `-----BEGIN`).
pub(crate) fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Where a JWK Set document comes from, which decides whether it may hold symmetric keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySetOrigin {
    /// A document the operator configured (a local file): its `oct` keys are shared secrets
    /// and are loaded as HMAC keys.
    Local,
    /// A document published for anyone who can fetch it (a JWKS URL, OIDC discovery's
    /// `jwks_uri`): an `oct` key in it is no secret, so it is skipped without its `k` being
    /// read, and its `kid` is kept only to its first [`PUBLISHED_OCT_KID_SHOWN`] characters.
    Published,
}

/// How many characters of the `kid` of a skipped published `oct` key are kept for diagnostics.
pub const PUBLISHED_OCT_KID_SHOWN: usize = 8;

/// Parses a JWK Set document the operator configured ([`KeySetOrigin::Local`]): see
/// [`parse_key_set_from`].
pub fn parse_key_set(json: &[u8]) -> Result<ParsedKeySet, KeyError> {
    parse_key_set_from(json, KeySetOrigin::Local)
}

/// Parses a JWK Set document. Only a document that is not `{"keys": [...]}` is an error; each
/// key is parsed on its own so an unknown or broken key is skipped with a diagnostic, and so is
/// every symmetric key of a [`KeySetOrigin::Published`] document.
pub fn parse_key_set_from(json: &[u8], origin: KeySetOrigin) -> Result<ParsedKeySet, KeyError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    // A derived struct also reads a JSON array of its fields, so `[[{...}]]` would pass as a
    // set (found by the `jwk` fuzz target): only a JSON object is a JWK Set.
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(KeyError::Jwk(
            "not a JWK Set ({\"keys\": [...]}): the document is not a JSON object".into(),
        ));
    }
    let raw: RawSet = serde_json::from_slice(json)
        .map_err(|err| KeyError::Jwk(format!("not a JWK Set ({{\"keys\": [...]}}): {err}")))?;
    let mut parsed = ParsedKeySet::default();
    for (index, value) in raw.keys.into_iter().enumerate() {
        let kid = value.get("kid").and_then(|k| k.as_str());
        let published_secret = origin == KeySetOrigin::Published
            && value.get("kty").and_then(|k| k.as_str()) == Some("oct");
        if published_secret {
            parsed.skipped.push(SkippedKey {
                index,
                kid: kid.map(|kid| clip_kid(kid, PUBLISHED_OCT_KID_SHOWN)),
                reason: KeyError::PublishedSymmetricKey.to_string(),
            });
            continue;
        }
        let kid = kid.map(|k| k.chars().take(64).collect());
        let result = serde_json::from_value::<Jwk>(value)
            .map_err(|err| KeyError::Jwk(format!("malformed key: {err}")))
            .and_then(|jwk| VerifyingKey::from_jwk(&jwk));
        match result {
            Ok(key) => parsed.keys.push(key),
            Err(err) => parsed.skipped.push(SkippedKey {
                index,
                kid,
                reason: err.to_string(),
            }),
        }
    }
    Ok(parsed)
}

/// The first `shown` characters of a `kid`, marked when cut.
fn clip_kid(kid: &str, shown: usize) -> String {
    let mut clipped: String = kid.chars().take(shown).collect();
    if kid.chars().nth(shown).is_some() {
        clipped.push('…');
    }
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = Jwk::from_json(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn debug_hides_private_members() {
        let jwk = Jwk {
            kty: "oct".into(),
            k: Some("c2VjcmV0LXZhbHVl".into()),
            ..Jwk::default()
        };
        let shown = format!("{jwk:?}");
        assert!(
            !shown.contains("c2VjcmV0") && shown.contains("private: true"),
            "{shown}"
        );
        assert!(jwk.to_public().k.is_none());
    }

    #[test]
    fn key_set_skips_unusable_keys_with_reasons() {
        let set = br#"{"keys":[
            {"kty":"RSA","kid":"tiny","n":"AQAB","e":"AQAB"},
            {"kty":"XYZ","kid":"future"},
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":42},
            {"kty":"EC","kid":"p256-bad","crv":"P-256","x":"AAAA","y":"AAAA"}
        ]}"#;
        let parsed = parse_key_set(set).unwrap();
        assert_eq!(parsed.keys.len(), 1);
        assert_eq!(parsed.keys[0].kid(), Some("ed"));
        let skipped: Vec<_> = parsed.skipped.iter().map(|s| s.index).collect();
        assert_eq!(skipped, vec![0, 1, 3, 4, 5]);
        assert!(
            parsed.skipped[1].reason.contains("XYZ"),
            "{}",
            parsed.skipped[1]
        );
        assert!(parse_key_set(b"[1,2]").is_err());
        // An array holding one array reads as the derived struct's fields: still not a set.
        assert!(parse_key_set(br#" [[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]]"#).is_err());
        assert!(parse_key_set(b" \n{\"keys\":[]}").is_ok());
    }
}
