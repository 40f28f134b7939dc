//! Configuration values written as text and parsed into their types once, at load: in a TOML
//! file (serde adapters below) and from environment variables (the same parsers). An unknown
//! value is an error naming its key, never a silent default.
//!
//! A parser fails with a [`ValueError`]: the problem and fix, plus the name of the field. In a
//! file, serde carries it out of deserialization as a message ([`ValueError::into_de`]) and
//! [`Config::from_toml`](super::Config::from_toml) turns it back into a [`ConfigError`] naming the
//! whole key ([`key_of`]); from the environment, the variable's name is the key.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jwtkit_jwks::CaMode;
use jwtkit_keys::Algorithm;
use jwtkit_mint::Expiry;
use jwtkit_secret::SecretEncoding;
use serde::{Deserialize, Deserializer};

use super::ConfigError;
use crate::auth::TokenSource;

/// A value that does not parse, before it is known under which key it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// The field's own name (`algorithm`, `token_from`, ...).
    pub field: &'static str,
    /// The text as written.
    pub value: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

/// Separates the parts of a [`ValueError`] inside a serde message; it cannot occur in TOML text.
const MARK: char = '\u{1f}';

impl ValueError {
    /// An error for `value` written in `field`.
    pub fn new(
        field: &'static str,
        value: &str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            field,
            value: value.to_owned(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// The configuration error for the value written under `key`.
    pub fn at(self, key: impl Into<String>) -> ConfigError {
        ConfigError::new(key, self.problem, self.fix)
    }

    /// As a serde error, to be read back by [`Self::from_message`].
    pub fn into_de<E: serde::de::Error>(self) -> E {
        // A value written with `\u001f` in it must not split the message differently.
        let part = |text: &str| text.replace(MARK, "\u{fffd}");
        E::custom(format_args!(
            "{MARK}{}{MARK}{}{MARK}{}{MARK}{}",
            self.field,
            part(&self.value),
            part(&self.problem),
            part(&self.fix)
        ))
    }

    /// The error carried by a serde message written by [`Self::into_de`].
    pub fn from_message(message: &str) -> Option<Self> {
        let mut parts = message.strip_prefix(MARK)?.splitn(4, MARK);
        let field = parts.next()?;
        let field = FIELDS.iter().find(|known| **known == field)?;
        Some(Self {
            field,
            value: parts.next()?.to_owned(),
            problem: parts.next()?.to_owned(),
            fix: parts.next()?.to_owned(),
        })
    }
}

/// The fields whose values are parsed here.
const FIELDS: [&str; 13] = [
    "token_from",
    "profile",
    "algorithm",
    "algorithms",
    "ttl",
    "level",
    "encoding",
    "trusted_proxies",
    "cors_origins",
    "timeout_seconds",
    "ca_mode",
    "grace_seconds",
    "client_auth",
];

/// The `profile` of minted upstream credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MintProfile {
    /// The token the Camunda 7 engine's JWT plugin expects (`sub`, `email`, `isSuperuser`, ...).
    #[default]
    Camunda,
    /// `sub`, `iat`, `exp`, `iss` and an optional `aud`.
    Generic,
}

impl FromStr for MintProfile {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, ValueError> {
        match text {
            "camunda" => Ok(Self::Camunda),
            "generic" => Ok(Self::Generic),
            other => Err(ValueError::new(
                "profile",
                other,
                format!("{other:?} is not a profile"),
                "use camunda or generic",
            )),
        }
    }
}

/// The log filter: a level (`error`, `warn`, `info`, `debug`, `trace`) or tracing directives
/// such as `info,jwtkit_proxy=debug`. Always valid: checked when it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLevel(String);

impl LogLevel {
    /// The filter as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tracing filter it describes.
    pub fn filter(&self) -> tracing_subscriber::EnvFilter {
        // Parsed once already (`from_str`), so this cannot fail.
        tracing_subscriber::EnvFilter::new(&self.0)
    }
}

impl Default for LogLevel {
    fn default() -> Self {
        Self("info".into())
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for LogLevel {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for LogLevel {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, ValueError> {
        let invalid = |problem: String| {
            ValueError::new(
                "level",
                text,
                problem,
                "use error, warn, info, debug or trace (or directives like info,jwtkit_proxy=debug)",
            )
        };
        // A bare word is a level. tracing would read any other word as a target name and log
        // nothing else, so `WARNING` would silently turn logging off: Python's level names (the
        // FastAPI proxy's LOG_LEVEL) are translated, anything else is refused.
        let directives = text
            .split(',')
            .map(|directive| {
                let word = directive.trim();
                if word.contains(['=', '[']) {
                    return Ok(word.to_owned());
                }
                let level = match word.to_ascii_lowercase().as_str() {
                    "warning" => "warn".to_owned(),
                    "critical" | "fatal" => "error".to_owned(),
                    other => other.to_owned(),
                };
                level
                    .parse::<tracing_subscriber::filter::LevelFilter>()
                    .map(|_| level)
                    .map_err(|_| invalid(format!("{word:?} is not a log level")))
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(",");
        match tracing_subscriber::EnvFilter::try_new(&directives) {
            Ok(_) => Ok(Self(directives)),
            Err(err) => Err(invalid(format!(
                "{text:?} is not a log level or filter: {err}"
            ))),
        }
    }
}

/// A CORS origin as browsers send it in `Origin`: `scheme://host[:port]`, nothing after it.
pub fn cors_origin(text: &str) -> Result<axum::http::HeaderValue, ValueError> {
    let invalid = |problem: &str| {
        ValueError::new(
            "cors_origins",
            text,
            format!("{text:?} {problem}"),
            "write origins as https://app.example.com (scheme, host and optional port, no path)",
        )
    };
    let url = url::Url::parse(text).map_err(|_| invalid("is not a URL"))?;
    let origin = url.origin().ascii_serialization();
    // `Url` adds a `/` path to `https://a.example`; anything else after the authority is not
    // part of an origin and would never match a browser's `Origin` header.
    if !matches!(url.scheme(), "http" | "https") || origin != text.trim_end_matches('/') {
        return Err(invalid("is not an origin"));
    }
    axum::http::HeaderValue::from_str(&origin).map_err(|_| invalid("is not a header value"))
}

/// A `trusted_proxies` entry: a network in CIDR notation (`10.0.0.0/8`, `::1/128`) with no
/// bits set after its prefix (`10.0.0.1/8` is most likely a typo for another network).
pub fn trusted_proxy(text: &str) -> Result<ipnet::IpNet, ValueError> {
    let invalid = |problem: &str| {
        ValueError::new(
            "trusted_proxies",
            text,
            format!("{text:?} {problem}"),
            "write a network as 10.0.0.0/8, a single address as 127.0.0.1/32 or ::1/128",
        )
    };
    let net: ipnet::IpNet = text
        .parse()
        .map_err(|_| invalid("is not a network in CIDR notation"))?;
    if net.trunc() != net {
        return Err(invalid("has address bits set after the prefix length"));
    }
    Ok(net)
}

/// An upstream timeout in whole seconds: at least one (0 would time out every request).
pub fn timeout_seconds(seconds: u64) -> Result<u64, ValueError> {
    if seconds == 0 {
        return Err(ValueError::new(
            "timeout_seconds",
            "0",
            "0 would time out every request",
            "give the upstream at least 1 second",
        ));
    }
    Ok(seconds)
}

/// The most a WebSocket may outlive its token: a day. More is not a grace period.
pub const MAX_GRACE_SECONDS: u64 = 86_400;

/// A route's WebSocket `grace_seconds`: at most [`MAX_GRACE_SECONDS`].
pub fn grace_seconds(seconds: u64) -> Result<u64, ValueError> {
    if seconds > MAX_GRACE_SECONDS {
        return Err(ValueError::new(
            "grace_seconds",
            &seconds.to_string(),
            format!("{seconds} is more than a day past the token's expiry"),
            format!(
                "use at most {MAX_GRACE_SECONDS}, or close_at_expiry = false to keep sockets open"
            ),
        ));
    }
    Ok(seconds)
}

/// A JWS algorithm name for an issuer's `algorithms`.
pub fn algorithm(text: &str) -> Result<Algorithm, ValueError> {
    text.parse::<Algorithm>()
        .map_err(|e| ValueError::new("algorithms", text, e.to_string(), "use names like RS256"))
}

/// An HMAC algorithm name: the algorithm of tokens the proxy mints.
pub fn hmac_algorithm(text: &str) -> Result<Algorithm, ValueError> {
    text.parse::<Algorithm>()
        .ok()
        .filter(|alg| alg.hmac().is_some())
        .ok_or_else(|| {
            ValueError::new(
                "algorithm",
                text,
                format!("{text:?} is not an HMAC algorithm"),
                "use HS256, HS384 or HS512",
            )
        })
}

/// The lifetime of tokens the proxy mints (`30m`, `1h`, ...; `never` is refused).
pub fn lifetime(text: &str) -> Result<Duration, ValueError> {
    match text.parse::<Expiry>() {
        Ok(Expiry::After(seconds)) => Ok(Duration::from_secs(seconds)),
        Ok(Expiry::Never) => Err(ValueError::new(
            "ttl",
            text,
            "`never` is not allowed for issued tokens",
            "use a lifetime such as 1h",
        )),
        Err(err) => Err(ValueError::new(
            "ttl",
            text,
            err.to_string(),
            "use a lifetime such as 30m or 1h",
        )),
    }
}

/// How a secret's text becomes key bytes (`raw`, `base64`, `base64url`, `hex`).
pub fn secret_encoding(text: &str) -> Result<SecretEncoding, ValueError> {
    text.parse::<SecretEncoding>().map_err(|e| {
        ValueError::new(
            "encoding",
            text,
            e.to_string(),
            "use raw, base64, base64url or hex",
        )
    })
}

/// How a `ca_file` combines with the system's CA roots (`add` or `replace`).
pub fn ca_mode(text: &str) -> Result<CaMode, ValueError> {
    CaMode::from_name(text).ok_or_else(|| {
        ValueError::new(
            "ca_mode",
            text,
            format!("{text:?} is not a CA mode"),
            "use add (the file's CAs and the system's) or replace (the file's CAs only)",
        )
    })
}

/// Whether the listener requires callers' client certificates (`[tls] client_auth`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// No handshake without a valid client certificate.
    #[default]
    Required,
    /// A handshake without a client certificate is accepted; an invalid one is refused.
    Optional,
}

/// `required` or `optional`.
pub fn client_auth(text: &str) -> Result<ClientAuth, ValueError> {
    match text {
        "required" => Ok(ClientAuth::Required),
        "optional" => Ok(ClientAuth::Optional),
        _ => Err(ValueError::new(
            "client_auth",
            text,
            format!("{text:?} is not a client_auth mode"),
            "use required (no connection without a valid client certificate) or optional",
        )),
    }
}

/// Serde adapters: each reads text and parses it with the function above.
pub(super) mod de {
    use super::*;

    fn parsed<'de, D, T>(
        deserializer: D,
        parse: fn(&str) -> Result<T, ValueError>,
    ) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
    {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(ValueError::into_de)
    }

    fn all_parsed<'de, D, T>(
        deserializer: D,
        parse: fn(&str) -> Result<T, ValueError>,
    ) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
    {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| parse(text).map_err(ValueError::into_de))
            .collect()
    }

    pub fn algorithms<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Algorithm>, D::Error> {
        all_parsed(d, algorithm)
    }

    pub fn hmac_algorithm<'de, D: Deserializer<'de>>(d: D) -> Result<Algorithm, D::Error> {
        parsed(d, super::hmac_algorithm)
    }

    pub fn lifetime<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parsed(d, super::lifetime)
    }

    pub fn cors_origins<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<axum::http::HeaderValue>, D::Error> {
        all_parsed(d, cors_origin)
    }

    pub fn trusted_proxies<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
        all_parsed(d, super::trusted_proxy)
    }

    pub fn timeout_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        super::timeout_seconds(u64::deserialize(d)?).map_err(ValueError::into_de)
    }

    pub fn grace_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        super::grace_seconds(u64::deserialize(d)?).map_err(ValueError::into_de)
    }

    pub fn token_sources<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TokenSource>, D::Error> {
        all_parsed(d, str::parse)
    }

    pub fn ca_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CaMode>, D::Error> {
        parsed(d, super::ca_mode).map(Some)
    }

    pub fn client_auth<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClientAuth>, D::Error> {
        parsed(d, super::client_auth).map(Some)
    }

    pub fn secret_encoding<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SecretEncoding>, D::Error> {
        parsed(d, super::secret_encoding).map(Some)
    }
}

impl<'de> Deserialize<'de> for MintProfile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de_from_str(deserializer)
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de_from_str(deserializer)
    }
}

fn de_from_str<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = ValueError>,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(ValueError::into_de)
}

/// The whole key of a value that failed to parse. `path` is where deserialization stopped:
/// the key itself (`log.level`), the list holding the value (`issuers[0].algorithms`), or the
/// enclosing table when serde had buffered it (a route's access keys, the fields of `auth`).
/// Within it, the key holding the bad value under the field's name is looked up in the
/// document; when that is not one key, `path` (completed with the field's name) is the answer.
pub fn key_of(document: &str, path: &str, error: &ValueError) -> String {
    let path = if path == "." { "" } else { path };
    let mut found = Vec::new();
    if let Ok(table) = document.parse::<toml::Table>() {
        find(&table, "", error, &mut found);
    }
    let inside = |key: &&String| {
        path.is_empty()
            || key.as_str() == path
            || key.starts_with(&format!("{path}."))
            || key.starts_with(&format!("{path}["))
    };
    let named = path.trim_end_matches(|c: char| c == ']' || c == '[' || c.is_ascii_digit());
    match found.iter().filter(inside).collect::<Vec<_>>().as_slice() {
        [one] => (*one).clone(),
        _ if named.rsplit('.').next() == Some(error.field) => path.to_owned(),
        _ if path.is_empty() => error.field.to_owned(),
        _ => format!("{path}.{}", error.field),
    }
}

/// Collects the keys (in `key_of`'s notation) named `error.field` that hold `error.value`.
fn find(table: &toml::Table, prefix: &str, error: &ValueError, found: &mut Vec<String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        // Numbers too: a number that does not fit (`grace_seconds`) is found by its digits.
        let holds = |v: &toml::Value| {
            v.as_str() == Some(error.value.as_str())
                || v.as_integer().is_some_and(|i| i.to_string() == error.value)
        };
        match value {
            toml::Value::Table(inner) => find(inner, &key, error, found),
            toml::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    if name == error.field && holds(item) {
                        found.push(format!("{key}[{index}]"));
                    } else if let toml::Value::Table(inner) = item {
                        find(inner, &format!("{key}[{index}]"), error, found);
                    }
                }
            }
            other if name == error.field && holds(other) => found.push(key),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
