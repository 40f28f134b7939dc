//! Configuration: a TOML file, or the environment of the FastAPI proxy it replaces (seeds 000,
//! 001, 002). Secrets are never written in the file: it names the variable or file holding them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The `iss` of every token the proxy mints (Centrifugo connection and subscription tokens, the
/// upstream credentials of `auth = mint`) whose section sets no `issuer`.
///
/// It marks the token as the proxy's own: the consumers accept and ignore it (Centrifugo checks
/// `iss` only when configured to, the Camunda engine does not read it), while the proxy's
/// registry routes tokens by `iss` and no caller issuer may list it ([`Config::check`]), so a
/// minted token shown back to the proxy is `401 unknown_issuer`.
pub const MINTED_ISS: &str = "urn:jwtkit:proxy";

/// A configuration problem, naming the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config `{key}`: {problem}; {fix}")]
pub struct ConfigError {
    /// The key, e.g. `issuers[0].jwks_url` or the environment variable name.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

impl ConfigError {
    pub(crate) fn new(
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `HOST:PORT` to listen on (default `0.0.0.0:8000`, as the FastAPI proxy).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Log level (`error`..`trace`, or a tracing filter) and format.
    #[serde(default)]
    pub log: LogConfig,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
    /// Allowed CORS origins (empty: no CORS headers).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Inbound headers starting with these prefixes are removed before forwarding, on every
    /// route, so a caller cannot pose as someone else (case-insensitive).
    #[serde(default = "default_strip_prefixes")]
    pub strip_header_prefixes: Vec<String>,
    /// Forward inbound headers whose names contain `_` (dropped by default, as nginx does: CGI,
    /// WSGI and PHP servers read `X_User_Id` as the same variable as `X-User-Id`). Names that
    /// match a strip prefix or an identity header with `_` read as `-` are removed either way.
    #[serde(default)]
    pub keep_underscore_headers: bool,
    /// Verified-token cache size (0 disables it).
    #[serde(default = "default_token_cache")]
    pub token_cache_capacity: usize,
    /// Trusted token issuers.
    #[serde(default)]
    pub issuers: Vec<IssuerSection>,
    /// Where requests go.
    #[serde(default)]
    pub upstreams: Vec<UpstreamSection>,
    /// Generic prefix routes.
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    /// The Camunda REST facade of seed 001 (`/api/processes`, `/api/tasks`, ...).
    pub camunda: Option<CamundaSection>,
    /// Centrifugo token endpoints.
    pub centrifugo: Option<CentrifugoSection>,
}

fn default_listen() -> String {
    "0.0.0.0:8000".into()
}

fn default_strip_prefixes() -> Vec<String> {
    vec!["x-user-".into(), "x-auth-".into()]
}

fn default_token_cache() -> usize {
    10_000
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `info` by default.
    #[serde(default = "default_level")]
    pub level: String,
    /// `text` or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

fn default_level() -> String {
    "info".into()
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body forwarded (default 10 MiB); larger ones get 413.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Largest total size of request headers (default 32 KiB); larger ones get 431.
    #[serde(default = "default_headers")]
    pub max_header_bytes: usize,
}

fn default_body() -> usize {
    10 * 1024 * 1024
}

fn default_headers() -> usize {
    32 * 1024
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: default_body(),
            max_header_bytes: default_headers(),
        }
    }
}

/// Where a secret lives: an environment variable or a file, never the config itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct SecretRef {
    /// Environment variable name.
    pub env: Option<String>,
    /// File path (one trailing newline ignored).
    pub file: Option<PathBuf>,
    /// `raw` (default), `base64`, `base64url` or `hex`.
    pub encoding: Option<String>,
}

// A secret written in the file itself (`secret = "..."`) must be refused without being echoed:
// serde's own message would be `invalid type: string "<the secret>", expected ...`, and that
// message is what the proxy prints when it refuses to start.
impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        const REFUSED: &str = "a secret is never written in the configuration file (its value \
                               is not shown here); name where it is: { env = \"NAME\" } or \
                               { file = \"PATH\" }";
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SecretRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table { env = \"NAME\" } or { file = \"PATH\" }")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SecretRef, A::Error> {
                SecretRef::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretRef, E> {
                Err(E::custom(REFUSED))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One trusted issuer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSection {
    /// Name for logs, metrics and route restrictions.
    pub name: String,
    /// Accepted `iss` values (aliases).
    pub iss: Vec<String>,
    /// Key source: a JWKS URL...
    pub jwks_url: Option<String>,
    /// ...or an OIDC issuer URL to discover the JWKS from (its document must declare `iss[0]`)...
    pub discovery_url: Option<String>,
    /// ...or a JWKS file...
    pub jwks_file: Option<PathBuf>,
    /// ...or a public key file (PEM or JWK)...
    pub public_key_file: Option<PathBuf>,
    /// ...or an HMAC secret.
    pub secret: Option<SecretRef>,
    /// Accepted audiences (any of). When empty, a token that carries `aud` is refused unless
    /// `accept_any_audience` is set.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// With no `audiences`, accept tokens whatever their `aud` (an explicit loosening).
    #[serde(default)]
    pub accept_any_audience: bool,
    /// Accepted `azp` values.
    #[serde(default)]
    pub authorized_parties: Vec<String>,
    /// Accepted algorithms (default: what the keys allow).
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// Clock skew allowance (default 60).
    pub leeway_seconds: Option<u64>,
    /// Claims that must be present.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Required header `typ`.
    pub typ: Option<String>,
    /// Take tokens without `iss` (generate_jwt.py tokens); one issuer at most.
    #[serde(default)]
    pub allow_missing_iss: bool,
    /// Seconds past their lifetime that fetched keys keep working during an IdP outage.
    pub max_stale_seconds: Option<u64>,
}

/// One upstream service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// Name used by routes.
    pub name: String,
    /// Base URL, e.g. `http://engine:8080/engine-rest`.
    pub url: String,
    /// Whole-request timeout (default 30 s); exceeded: 504.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The credentials sent upstream.
    #[serde(default)]
    pub auth: UpstreamAuth,
    /// Headers set from the caller's claims: header name -> claim name.
    #[serde(default)]
    pub identity_headers: BTreeMap<String, String>,
}

fn default_timeout() -> u64 {
    30
}

/// Credentials the proxy presents upstream in place of the caller's token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum UpstreamAuth {
    /// No Authorization header.
    #[default]
    None,
    /// The caller's own bearer token.
    Passthrough,
    /// HTTP Basic (Camunda 7's default).
    Basic {
        /// User name.
        user: String,
        /// Where the password is.
        password: SecretRef,
    },
    /// A token minted per caller subject with a jwtkit-mint profile.
    Mint(MintSection),
}

/// Minted upstream credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintSection {
    /// `camunda` (the engine token of seed 000) or `generic`.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// Signing secret; for `camunda` decoded as base64 like the engine does unless `encoding` says.
    pub secret: SecretRef,
    /// HS256 (default), HS384, HS512.
    #[serde(default = "default_alg")]
    pub algorithm: String,
    /// Token lifetime (`1h` default); tokens are reused until shortly before they expire.
    #[serde(default = "default_ttl")]
    pub ttl: String,
    /// Subject template: `{sub}` (the caller, default) or a fixed service user like `demo`.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// Camunda e-mail: the caller's `email` claim if present, else this template.
    #[serde(default = "default_email")]
    pub email_template: String,
    /// Camunda `isSuperuser`: engine admin rights. Off by default, since with `subject = "{sub}"`
    /// every caller gets a token of their own; the seed-env mode turns it on for its one service user.
    #[serde(default)]
    pub superuser: bool,
    /// `iss` of minted tokens (both profiles); default [`MINTED_ISS`]. No caller issuer may list it.
    pub issuer: Option<String>,
    /// Generic profile: `aud` of minted tokens.
    pub audience: Option<String>,
}

impl MintSection {
    /// The `iss` its tokens carry.
    pub fn minted_iss(&self) -> &str {
        self.issuer.as_deref().unwrap_or(MINTED_ISS)
    }
}

fn default_profile() -> String {
    "camunda".into()
}
fn default_alg() -> String {
    "HS256".into()
}
fn default_ttl() -> String {
    "1h".into()
}
fn default_subject() -> String {
    "{sub}".into()
}
fn default_email() -> String {
    "{sub}@camunda.local".into()
}

/// A generic prefix route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// Path prefix, e.g. `/engine-rest`.
    pub prefix: String,
    /// Upstream name.
    pub upstream: String,
    /// Remove the prefix before appending the path to the upstream URL.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Match the prefix in any letter case (for upstreams that read paths case-insensitively).
    #[serde(default)]
    pub case_insensitive: bool,
    #[serde(flatten)]
    /// Who may use the route.
    pub access: AccessSection,
}

/// Per-route requirements on the caller.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// Issuer names allowed (default: all).
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Audiences required (any of), on top of the issuer's.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Claim values required: name -> value (a string claim equal to it, or an array containing it).
    #[serde(default)]
    pub require_claims: BTreeMap<String, serde_json::Value>,
    /// Where the token may come from: `header` (default), `cookie:NAME`, `query:NAME`.
    #[serde(default = "default_token_from")]
    pub token_from: Vec<String>,
}

fn default_token_from() -> Vec<String> {
    vec!["header".into()]
}

/// The Camunda facade.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CamundaSection {
    /// Upstream name of the engine (`.../engine-rest`).
    pub upstream: String,
    /// Variable names for the starter's identity.
    #[serde(default)]
    pub initiator_variables: InitiatorVariables,
    /// Turn ISO-8601 date strings into Camunda `Date` variables (default: they stay `String`).
    #[serde(default)]
    pub dates_as_date: bool,
    #[serde(flatten)]
    /// Who may use the facade.
    pub access: AccessSection,
}

/// Names of the variables the proxy adds when a process starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitiatorVariables {
    /// From `sub`.
    #[serde(default = "v_initiator")]
    pub id: String,
    /// From `email`.
    #[serde(default = "v_email")]
    pub email: String,
    /// From `name` (or given + family name).
    #[serde(default = "v_name")]
    pub name: String,
}

fn v_initiator() -> String {
    "initiator".into()
}
fn v_email() -> String {
    "initiatorEmail".into()
}
fn v_name() -> String {
    "initiatorName".into()
}

impl Default for InitiatorVariables {
    fn default() -> Self {
        Self {
            id: v_initiator(),
            email: v_email(),
            name: v_name(),
        }
    }
}

/// Centrifugo token endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentrifugoSection {
    /// Centrifugo's HMAC secret (`client.token.hmac_secret_key`), used as raw text by default.
    pub secret: SecretRef,
    /// HS256 (default), HS384, HS512.
    #[serde(default = "default_alg")]
    pub algorithm: String,
    /// Token lifetime (default `1h`).
    #[serde(default = "default_ttl")]
    pub ttl: String,
    /// Channels of connection tokens (server-side subscriptions); `{claim}` placeholders are
    /// filled from the caller's claims, e.g. `agents.{tenant_id}.{sub}`.
    #[serde(default)]
    pub connection_channels: Vec<String>,
    /// Channels a caller may get subscription tokens for (same placeholders; a trailing `*`
    /// matches any rest of the name).
    #[serde(default)]
    pub subscription_channels: Vec<String>,
    /// `aud` of issued tokens (when Centrifugo checks it).
    pub audience: Option<String>,
    /// `iss` of issued tokens (set it to what Centrifugo checks, if it does); default
    /// [`MINTED_ISS`]. No caller issuer may list it.
    pub issuer: Option<String>,
    #[serde(flatten)]
    /// Who may get tokens.
    pub access: AccessSection,
}

impl CentrifugoSection {
    /// The `iss` its tokens carry.
    pub fn minted_iss(&self) -> &str {
        self.issuer.as_deref().unwrap_or(MINTED_ISS)
    }
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|err| {
            let key = err
                .span()
                .map(|span| format!("at byte {}", span.start))
                .unwrap_or_else(|| "file".into());
            ConfigError::new(
                key,
                err.message().to_owned(),
                "see docs/PROXY.md for the format",
            )
        })
    }

    /// Applies `JWTKIT_LISTEN`, `JWTKIT_LOG_LEVEL` and `JWTKIT_LOG_FORMAT` (and the seed's
    /// `LOG_LEVEL`, `CORS_ORIGINS`) when set.
    pub fn apply_env_overrides(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(listen) = env("JWTKIT_LISTEN") {
            self.listen = listen;
        }
        if let Some(level) = env("JWTKIT_LOG_LEVEL").or_else(|| env("LOG_LEVEL")) {
            self.log.level = level.to_ascii_lowercase();
        }
        if let Some(format) = env("JWTKIT_LOG_FORMAT") {
            self.log.format = match format.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => {
                    return Err(ConfigError::new(
                        "JWTKIT_LOG_FORMAT",
                        format!("{format:?} is not a format"),
                        "use text or json",
                    ));
                }
            };
        }
        if let Some(origins) = env("CORS_ORIGINS") {
            self.cors_origins = split_list(&origins);
        }
        Ok(())
    }

    /// The configuration of the FastAPI proxy's environment (seeds 000, 001, 002):
    /// `CLERK_JWKS_URL`, `CLERK_AUDIENCE`, `CLERK_ISSUER`, `JWT_SECRET_KEY`, `ENGINE_URL`,
    /// `ENGINE_USER`, `ENGINE_PASS`, `ENGINE_TIMEOUT`, `ENGINE_JWT_SECRET`, `ENGINE_JWT_ALGORITHM`,
    /// `CORS_ORIGINS`, `LOG_LEVEL`, and `CENTRIFUGO_HMAC_SECRET` / `CENTRIFUGO_CHANNELS`.
    pub fn from_seed_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut issuers = Vec::new();
        if let Some(jwks_url) = env("CLERK_JWKS_URL") {
            let iss = match env("CLERK_ISSUER") {
                Some(iss) => iss,
                // Clerk serves its keys at <issuer>/.well-known/jwks.json.
                None => origin(&jwks_url).ok_or_else(|| {
                    ConfigError::new(
                        "CLERK_JWKS_URL",
                        "is not an absolute http(s) URL",
                        "set it to https://<instance>.clerk.accounts.dev/.well-known/jwks.json",
                    )
                })?,
            };
            issuers.push(IssuerSection {
                name: "clerk".into(),
                iss: vec![iss],
                jwks_url: Some(jwks_url),
                audiences: env("CLERK_AUDIENCE")
                    .map(|a| split_list(&a))
                    .unwrap_or_default(),
                ..IssuerSection::default()
            });
        }
        if env("JWT_SECRET_KEY").is_some() {
            issuers.push(IssuerSection {
                name: "api".into(),
                iss: vec![env("JWT_ISSUER").unwrap_or_else(|| "urn:jwtkit:api".into())],
                secret: Some(SecretRef {
                    env: Some("JWT_SECRET_KEY".into()),
                    ..SecretRef::default()
                }),
                algorithms: vec![env("JWT_ALGORITHM").unwrap_or_else(|| "HS256".into())],
                allow_missing_iss: true,
                ..IssuerSection::default()
            });
        }
        if issuers.is_empty() {
            return Err(ConfigError::new(
                "CLERK_JWKS_URL",
                "no issuer is configured",
                "set CLERK_JWKS_URL (Clerk) or JWT_SECRET_KEY (HS256 tokens), pass --config FILE, or try --dev",
            ));
        }
        let timeout_seconds = match env("ENGINE_TIMEOUT") {
            None => default_timeout(),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| *t > 0.0)
                .map(|t| t.ceil() as u64)
                .ok_or_else(|| {
                    ConfigError::new(
                        "ENGINE_TIMEOUT",
                        format!("{text:?} is not a number of seconds"),
                        "set e.g. ENGINE_TIMEOUT=30",
                    )
                })?,
        };
        let user = env("ENGINE_USER").unwrap_or_else(|| "demo".into());
        let auth = if env("ENGINE_JWT_SECRET").is_some() {
            UpstreamAuth::Mint(MintSection {
                profile: "camunda".into(),
                secret: SecretRef {
                    env: Some("ENGINE_JWT_SECRET".into()),
                    ..SecretRef::default()
                },
                algorithm: env("ENGINE_JWT_ALGORITHM").unwrap_or_else(default_alg),
                ttl: default_ttl(),
                // Seed 000 minted the engine token for the service user, not for the caller.
                subject: user,
                email_template: default_email(),
                // Seed 000 gave the proxy's service user admin rights in the engine.
                superuser: true,
                issuer: None,
                audience: None,
            })
        } else if env("ENGINE_PASS").is_some() {
            UpstreamAuth::Basic {
                user,
                password: SecretRef {
                    env: Some("ENGINE_PASS".into()),
                    ..SecretRef::default()
                },
            }
        } else {
            // No built-in default password: the engine's demo/demo must be asked for explicitly.
            return Err(ConfigError::new(
                "ENGINE_PASS",
                "no engine credentials are configured",
                "set ENGINE_USER and ENGINE_PASS (Basic auth) or ENGINE_JWT_SECRET (minted engine tokens)",
            ));
        };
        let engine = UpstreamSection {
            name: "engine".into(),
            url: env("ENGINE_URL").unwrap_or_else(|| "http://localhost:8080/engine-rest".into()),
            timeout_seconds,
            auth,
            identity_headers: BTreeMap::new(),
        };
        let centrifugo = env("CENTRIFUGO_HMAC_SECRET").map(|_| CentrifugoSection {
            secret: SecretRef {
                env: Some("CENTRIFUGO_HMAC_SECRET".into()),
                ..SecretRef::default()
            },
            algorithm: default_alg(),
            ttl: default_ttl(),
            connection_channels: env("CENTRIFUGO_CHANNELS")
                .map(|c| split_list(&c))
                .unwrap_or_default(),
            subscription_channels: env("CENTRIFUGO_CHANNELS")
                .map(|c| split_list(&c))
                .unwrap_or_default(),
            audience: None,
            issuer: None,
            access: AccessSection {
                token_from: default_token_from(),
                ..AccessSection::default()
            },
        });
        let mut config = Self {
            listen: default_listen(),
            log: LogConfig::default(),
            limits: Limits::default(),
            cors_origins: Vec::new(),
            strip_header_prefixes: default_strip_prefixes(),
            keep_underscore_headers: false,
            token_cache_capacity: default_token_cache(),
            issuers,
            upstreams: vec![engine],
            routes: Vec::new(),
            camunda: Some(CamundaSection {
                upstream: "engine".into(),
                initiator_variables: InitiatorVariables::default(),
                dates_as_date: false,
                access: AccessSection {
                    token_from: default_token_from(),
                    ..AccessSection::default()
                },
            }),
            centrifugo,
        };
        config.apply_env_overrides(env)?;
        Ok(config)
    }

    /// The `iss` values of the tokens the proxy mints, each with the key that sets it.
    pub fn minted_iss(&self) -> Vec<(String, &str)> {
        let mut found = Vec::new();
        for (i, upstream) in self.upstreams.iter().enumerate() {
            if let UpstreamAuth::Mint(mint) = &upstream.auth {
                found.push((format!("upstreams[{i}].auth.issuer"), mint.minted_iss()));
            }
        }
        if let Some(centrifugo) = &self.centrifugo {
            found.push(("centrifugo.issuer".to_owned(), centrifugo.minted_iss()));
        }
        found
    }

    /// Refuses a caller issuer (`key`) that would accept the `iss` of tokens the proxy mints:
    /// those tokens must never pass as callers' tokens.
    /// [`MINTED_ISS`] is refused even when nothing is minted: it is reserved.
    pub fn refuse_minted_iss(&self, key: &str, iss: &[String]) -> Result<(), ConfigError> {
        if iss.iter().any(|i| i == MINTED_ISS) {
            return Err(ConfigError::new(
                key,
                format!(
                    "lists {MINTED_ISS:?}, the `iss` of the tokens the proxy mints: they would be accepted as callers' tokens"
                ),
                format!("remove it: {MINTED_ISS} is reserved for the proxy's own tokens"),
            ));
        }
        for (source, minted) in self.minted_iss() {
            if iss.iter().any(|i| i == minted) {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "lists {minted:?}, the `iss` of the tokens the proxy mints ({source}): they would be accepted as callers' tokens"
                    ),
                    format!("give {source} a value no caller issuer lists"),
                ));
            }
        }
        Ok(())
    }

    /// Cross-references: route upstreams and issuers exist, names are unique, key sources are
    /// unambiguous, no caller issuer accepts the proxy's own minted tokens.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for (i, issuer) in self.issuers.iter().enumerate() {
            let key = format!("issuers[{i}]");
            self.refuse_minted_iss(&format!("{key}.iss"), &issuer.iss)?;
            if issuer.name.is_empty() || !names.insert(issuer.name.as_str()) {
                return Err(ConfigError::new(
                    format!("{key}.name"),
                    format!("{:?} is empty or used twice", issuer.name),
                    "give each issuer a unique name",
                ));
            }
            if issuer.iss.is_empty() {
                return Err(ConfigError::new(
                    format!("{key}.iss"),
                    "is empty",
                    "list the iss values its tokens carry",
                ));
            }
            let sources = [
                issuer.jwks_url.is_some(),
                issuer.discovery_url.is_some(),
                issuer.jwks_file.is_some(),
                issuer.public_key_file.is_some(),
                issuer.secret.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                return Err(ConfigError::new(
                    key,
                    "needs exactly one key source",
                    "set one of jwks_url, discovery_url, jwks_file, public_key_file, secret",
                ));
            }
            if issuer.accept_any_audience && !issuer.audiences.is_empty() {
                return Err(ConfigError::new(
                    format!("{key}.accept_any_audience"),
                    "is set together with `audiences`, which it would not loosen",
                    "keep `audiences` (only tokens for them) or `accept_any_audience = true` (any aud)",
                ));
            }
        }
        let upstream_names: Vec<&str> = self.upstreams.iter().map(|u| u.name.as_str()).collect();
        let known_upstream = |key: String, name: &str| {
            if upstream_names.contains(&name) {
                Ok(())
            } else {
                Err(ConfigError::new(
                    key,
                    format!("names upstream {name:?}, which is not defined"),
                    format!("define it in [[upstreams]] (known: {upstream_names:?})"),
                ))
            }
        };
        let issuer_names: Vec<&str> = self.issuers.iter().map(|i| i.name.as_str()).collect();
        let check_access = |key: String, access: &AccessSection| -> Result<(), ConfigError> {
            if let Some(unknown) = access
                .issuers
                .iter()
                .find(|n| !issuer_names.contains(&n.as_str()))
            {
                return Err(ConfigError::new(
                    format!("{key}.issuers"),
                    format!("names issuer {unknown:?}, which is not defined"),
                    format!("known issuers: {issuer_names:?}"),
                ));
            }
            // An issuer without audiences refuses every token that carries `aud`, so a route
            // audience could never be met by its tokens: say so now rather than 401 on every call.
            if !access.audiences.is_empty()
                && let Some((index, issuer)) = self.issuers.iter().enumerate().find(|(_, i)| {
                    (access.issuers.is_empty() || access.issuers.contains(&i.name))
                        && i.audiences.is_empty()
                        && !i.accept_any_audience
                })
            {
                return Err(ConfigError::new(
                    format!("{key}.audiences"),
                    format!(
                        "requires an audience, but issuer {:?} (issuers[{index}]) has no `audiences` and refuses every token that carries `aud`",
                        issuer.name
                    ),
                    format!(
                        "list the accepted audiences in issuers[{index}].audiences (or set issuers[{index}].accept_any_audience = true), or restrict {key}.issuers"
                    ),
                ));
            }
            for from in &access.token_from {
                if !(from == "header"
                    || from.strip_prefix("cookie:").is_some_and(|n| !n.is_empty())
                    || from.strip_prefix("query:").is_some_and(|n| !n.is_empty()))
                {
                    return Err(ConfigError::new(
                        format!("{key}.token_from"),
                        format!("{from:?} is not a token location"),
                        "use header, cookie:NAME or query:NAME",
                    ));
                }
            }
            Ok(())
        };
        for (i, route) in self.routes.iter().enumerate() {
            let key = format!("routes[{i}]");
            if !route.prefix.starts_with('/') {
                return Err(ConfigError::new(
                    format!("{key}.prefix"),
                    format!("{:?} does not start with /", route.prefix),
                    "write it like /engine-rest",
                ));
            }
            known_upstream(format!("{key}.upstream"), &route.upstream)?;
            check_access(key, &route.access)?;
        }
        if let Some(camunda) = &self.camunda {
            known_upstream("camunda.upstream".into(), &camunda.upstream)?;
            check_access("camunda".into(), &camunda.access)?;
        }
        if let Some(centrifugo) = &self.centrifugo {
            check_access("centrifugo".into(), &centrifugo.access)?;
        }
        for (i, upstream) in self.upstreams.iter().enumerate() {
            if url::Url::parse(&upstream.url)
                .map(|u| !matches!(u.scheme(), "http" | "https"))
                .unwrap_or(true)
            {
                return Err(ConfigError::new(
                    format!("upstreams[{i}].url"),
                    format!("{:?} is not an http(s) URL", upstream.url),
                    "write it like http://engine:8080/engine-rest",
                ));
            }
        }
        Ok(())
    }
}

/// `a, b,c` -> `["a", "b", "c"]`.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `https://host:port` of a URL.
fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn seed_env_builds_clerk_issuer_and_basic_engine() {
        let env = env_of(&[
            (
                "CLERK_JWKS_URL",
                "https://x.clerk.accounts.dev/.well-known/jwks.json",
            ),
            ("ENGINE_URL", "http://engine:8080/engine-rest"),
            ("ENGINE_PASS", "demo"),
            (
                "CORS_ORIGINS",
                "http://localhost:3000, http://localhost:3001",
            ),
            ("LOG_LEVEL", "DEBUG"),
        ]);
        let config = Config::from_seed_env(&env).unwrap();
        config.check().unwrap();
        assert_eq!(config.issuers[0].iss, vec!["https://x.clerk.accounts.dev"]);
        assert!(
            matches!(&config.upstreams[0].auth, UpstreamAuth::Basic { user, password } if user == "demo" && password.env.as_deref() == Some("ENGINE_PASS"))
        );
        assert_eq!(config.cors_origins.len(), 2);
        assert_eq!(config.log.level, "debug");
        assert_eq!(config.listen, "0.0.0.0:8000");
    }

    #[test]
    fn seed_env_with_engine_jwt_secret_mints_for_the_service_user() {
        let env = env_of(&[
            ("JWT_SECRET_KEY", "x"),
            ("ENGINE_JWT_SECRET", "y"),
            ("ENGINE_USER", "svc"),
            ("ENGINE_TIMEOUT", "2.5"),
        ]);
        let config = Config::from_seed_env(&env).unwrap();
        let UpstreamAuth::Mint(mint) = &config.upstreams[0].auth else {
            panic!("mint expected")
        };
        assert_eq!(
            (mint.subject.as_str(), mint.profile.as_str()),
            ("svc", "camunda")
        );
        assert_eq!(config.upstreams[0].timeout_seconds, 3);
        assert!(config.issuers[0].allow_missing_iss);
    }

    #[test]
    fn seed_env_errors_name_the_variable() {
        let err = Config::from_seed_env(&env_of(&[])).unwrap_err();
        assert_eq!(err.key, "CLERK_JWKS_URL");
        let err = Config::from_seed_env(&env_of(&[
            ("JWT_SECRET_KEY", "x"),
            ("ENGINE_PASS", "p"),
            ("ENGINE_TIMEOUT", "soon"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, "ENGINE_TIMEOUT");
        let err = Config::from_seed_env(&env_of(&[("JWT_SECRET_KEY", "x")])).unwrap_err();
        assert_eq!(err.key, "ENGINE_PASS");
        let err = Config::from_seed_env(&env_of(&[
            ("CLERK_JWKS_URL", "not a url"),
            ("ENGINE_PASS", "p"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("CLERK_JWKS_URL"), "{err}");
    }

    #[test]
    fn audience_settings_that_cannot_work_are_refused() {
        let issuer = r#"
            [[issuers]]
            name = "api"
            iss = ["urn:api"]
            secret = { env = "S" }
        "#;
        let both = format!("{issuer}audiences = [\"a\"]\naccept_any_audience = true\n");
        let err = Config::from_toml(&both).unwrap().check().unwrap_err();
        assert_eq!(err.key, "issuers[0].accept_any_audience");
        let route = r#"
            [[upstreams]]
            name = "u"
            url = "http://u"
            [[routes]]
            prefix = "/r"
            upstream = "u"
            audiences = ["reports"]
        "#;
        // The issuer refuses every token with aud, so the route's audience can never be met.
        let err = Config::from_toml(&format!("{issuer}{route}"))
            .unwrap()
            .check()
            .unwrap_err();
        assert_eq!(err.key, "routes[0].audiences");
        assert!(err.fix.contains("issuers[0].audiences"), "{err}");
        for loosened in ["audiences = [\"reports\"]", "accept_any_audience = true"] {
            Config::from_toml(&format!("{issuer}{loosened}\n{route}"))
                .unwrap()
                .check()
                .unwrap();
        }
    }

    #[test]
    fn no_caller_issuer_may_accept_the_iss_of_minted_tokens() {
        let issuer = |iss: &str| {
            format!(
                "[[issuers]]\nname = \"api\"\niss = [\"urn:api\", \"{iss}\"]\nsecret = {{ env = \"S\" }}\n"
            )
        };
        let centrifugo = "[centrifugo]\nsecret = { env = \"C\" }\n";
        let upstream = |extra: &str| {
            format!(
                "[[upstreams]]\nname = \"u\"\nurl = \"http://u\"\nauth = {{ type = \"mint\", profile = \"generic\", secret = {{ env = \"M\" }}{extra} }}\n"
            )
        };
        let refused = |text: String, source: &str| {
            let err = Config::from_toml(&text).unwrap().check().unwrap_err();
            assert_eq!(err.key, "issuers[0].iss", "{err}");
            assert!(err.problem.contains(source), "{err}");
        };
        // The reserved default, with or without a minting section.
        for extra in [String::new(), centrifugo.to_owned(), upstream("")] {
            refused(format!("{}{extra}", issuer(MINTED_ISS)), MINTED_ISS);
        }
        // A configured minting issuer.
        refused(
            format!(
                "{}{centrifugo}issuer = \"urn:centrifugo\"\n",
                issuer("urn:centrifugo")
            ),
            "centrifugo.issuer",
        );
        refused(
            format!(
                "{}{}",
                issuer("urn:gateway"),
                upstream(", issuer = \"urn:gateway\"")
            ),
            "upstreams[0].auth.issuer",
        );
        // Other values are fine.
        Config::from_toml(&format!("{}{centrifugo}{}", issuer("urn:x"), upstream("")))
            .unwrap()
            .check()
            .unwrap();
    }

    #[test]
    fn toml_round_trip_and_cross_reference_errors() {
        let text = r#"
            listen = "127.0.0.1:9000"
            [[issuers]]
            name = "kc"
            iss = ["http://localhost:8090/realms/x", "http://keycloak:8080/realms/x"]
            discovery_url = "http://keycloak:8080/realms/x"
            audiences = ["account"]
            [[upstreams]]
            name = "api"
            url = "http://api:3000"
            auth = { type = "basic", user = "u", password = { env = "API_PASS" } }
            identity_headers = { "X-User-Id" = "sub" }
            [[routes]]
            prefix = "/api"
            upstream = "api"
            issuers = ["kc"]
            token_from = ["header", "cookie:__session"]
        "#;
        let config = Config::from_toml(text).unwrap();
        config.check().unwrap();
        assert_eq!(config.routes[0].access.token_from.len(), 2);

        let broken = text.replace("upstream = \"api\"", "upstream = \"nope\"");
        let err = Config::from_toml(&broken).unwrap().check().unwrap_err();
        assert_eq!(err.key, "routes[0].upstream");
        let err = Config::from_toml(&text.replace("audiences", "audience")).unwrap_err();
        assert!(err.problem.contains("unknown field"), "{err}");
        let two_sources = text.replace("audiences = [\"account\"]", "jwks_url = \"http://x/jwks\"");
        assert_eq!(
            Config::from_toml(&two_sources)
                .unwrap()
                .check()
                .unwrap_err()
                .key,
            "issuers[0]"
        );
    }
}
