//! The file format: the serde types of the TOML configuration and [`Config::from_toml`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jwtkit_jwks::CaMode;
use jwtkit_keys::Algorithm;
use serde::Deserialize;

use super::values::{self, ClientAuth, LogLevel, MintProfile, ValueError, de};
use super::{ConfigError, MINTED_ISS, SecretRef};
use crate::auth::TokenSource;

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
    #[serde(default, deserialize_with = "de::cors_origins")]
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// Inbound headers starting with these prefixes are removed before forwarding, on every
    /// route, so a caller cannot pose as someone else (case-insensitive).
    #[serde(default = "default_strip_prefixes")]
    pub strip_header_prefixes: Vec<String>,
    /// Forward inbound headers whose names contain `_` (dropped by default, as nginx does: CGI,
    /// WSGI and PHP servers read `X_User_Id` as the same variable as `X-User-Id`). Names that
    /// match a strip prefix or an identity header with `_` read as `-` are removed either way.
    #[serde(default)]
    pub keep_underscore_headers: bool,
    /// Peers whose `X-Forwarded-For`, `-Proto` and `-Host` are kept (load balancers in front of
    /// the proxy); from anyone else they are replaced. Empty by default: nobody is trusted.
    #[serde(default, deserialize_with = "de::trusted_proxies")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
    /// The Camunda REST facade of the FastAPI proxy (`/api/processes`, `/api/tasks`, ...).
    pub camunda: Option<CamundaSection>,
    /// Centrifugo token endpoints.
    pub centrifugo: Option<CentrifugoSection>,
    /// Serve HTTPS with this certificate (plain HTTP without the section).
    pub tls: Option<TlsSection>,
}

/// The listener's certificate, and the callers' certificates it asks for: every file PEM,
/// re-read when it changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The certificate chain, leaf first (`tls.crt` of a Kubernetes TLS Secret).
    pub cert_file: PathBuf,
    /// The private key of the leaf: PKCS#8, RSA (PKCS#1) or SEC1 (`tls.key`).
    pub key_file: PathBuf,
    /// The CA certificates callers' client certificates must chain to (mutual TLS); without
    /// it no client certificate is asked for.
    pub client_ca_file: Option<PathBuf>,
    /// Whether a caller must present a client certificate (`required`, the default with
    /// `client_ca_file`) or may connect without one (`optional`; one it presents must still
    /// chain to `client_ca_file`).
    #[serde(default, deserialize_with = "de::client_auth")]
    pub client_auth: Option<ClientAuth>,
}

pub(super) fn default_listen() -> String {
    "0.0.0.0:8000".into()
}

pub(super) fn default_strip_prefixes() -> Vec<String> {
    vec!["x-user-".into(), "x-auth-".into()]
}

pub(super) fn default_token_cache() -> usize {
    10_000
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `info` by default.
    #[serde(default)]
    pub level: LogLevel,
    /// `text` or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::default(),
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
    #[serde(default, deserialize_with = "de::algorithms")]
    pub algorithms: Vec<Algorithm>,
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
    /// PEM CA certificates trusted for the https JWKS and discovery fetches (an IdP behind a
    /// private CA); with `jwks_url` or `discovery_url` only.
    pub ca_file: Option<PathBuf>,
    /// How `ca_file` combines with the system's roots: `add` (default) or `replace`.
    #[serde(default, deserialize_with = "de::ca_mode")]
    pub ca_mode: Option<CaMode>,
}

/// One upstream service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// Name used by routes.
    pub name: String,
    /// Base URL, e.g. `http://engine:8080/engine-rest`.
    pub url: String,
    /// Whole-request timeout (default 30 s, at least 1); exceeded: 504.
    #[serde(default = "default_timeout", deserialize_with = "de::timeout_seconds")]
    pub timeout_seconds: u64,
    /// The credentials sent upstream.
    #[serde(default)]
    pub auth: UpstreamAuth,
    /// Headers set from the caller's claims: header name -> claim name.
    #[serde(default)]
    pub identity_headers: BTreeMap<String, String>,
    /// PEM CA certificates trusted for this (https) upstream.
    pub ca_file: Option<PathBuf>,
    /// How `ca_file` combines with the system's roots: `add` (default) or `replace`.
    #[serde(default, deserialize_with = "de::ca_mode")]
    pub ca_mode: Option<CaMode>,
    /// PEM certificate (chain) the proxy presents to this upstream (mTLS); with `client_key_file`.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// Speak HTTP/2 to the upstream (gRPC): prior knowledge over `http://`, ALPN `h2` over
    /// `https://`. Default `false`: HTTP/1.1.
    #[serde(default)]
    pub http2: bool,
}

pub(super) fn default_timeout() -> u64 {
    30
}

impl Default for UpstreamSection {
    /// No name or URL; the file's defaults for the rest (30 s timeout, no credentials, no TLS
    /// settings), for sections built in code (environment mode, `--dev`).
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            timeout_seconds: default_timeout(),
            auth: UpstreamAuth::default(),
            identity_headers: BTreeMap::new(),
            ca_file: None,
            ca_mode: None,
            client_cert_file: None,
            client_key_file: None,
            http2: false,
        }
    }
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
    /// `camunda` (the token the Camunda 7 engine's JWT plugin expects) or `generic`.
    #[serde(default)]
    pub profile: MintProfile,
    /// Signing secret; for `camunda` decoded as base64 like the engine does unless `encoding` says.
    pub secret: SecretRef,
    /// HS256 (default), HS384, HS512.
    #[serde(default = "default_alg", deserialize_with = "de::hmac_algorithm")]
    pub algorithm: Algorithm,
    /// Token lifetime (`1h` default); tokens are reused until shortly before they expire.
    #[serde(default = "default_ttl", deserialize_with = "de::lifetime")]
    pub ttl: Duration,
    /// Subject template: `{sub}` (the caller, default) or a fixed service user like `demo`.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// Camunda e-mail: the caller's `email` claim if present, else this template.
    #[serde(default = "default_email")]
    pub email_template: String,
    /// Camunda `isSuperuser`: engine admin rights. Off by default, since with `subject = "{sub}"`
    /// every caller gets a token of their own; environment mode turns it on for its one service user.
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

pub(super) fn default_alg() -> Algorithm {
    Algorithm::HS256
}
pub(super) fn default_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_subject() -> String {
    "{sub}".into()
}
pub(super) fn default_email() -> String {
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
    /// WebSocket options (`[routes.websocket]`): how long an upgraded connection may stay open.
    #[serde(default)]
    pub websocket: WebSocketSection,
    #[serde(flatten)]
    /// Who may use the route.
    pub access: AccessSection,
}

/// A route's WebSocket options. Upgrades pass on every route; these only bound the socket's life.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSocketSection {
    /// Close the socket (1008 `token expired`) when the token that opened it expires (default on).
    #[serde(default = "default_close_at_expiry")]
    pub close_at_expiry: bool,
    /// Seconds the socket may outlive the token's `exp` (default 0, at most a day).
    #[serde(default, deserialize_with = "de::grace_seconds")]
    pub grace_seconds: u64,
}

fn default_close_at_expiry() -> bool {
    true
}

impl Default for WebSocketSection {
    fn default() -> Self {
        Self {
            close_at_expiry: default_close_at_expiry(),
            grace_seconds: 0,
        }
    }
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
    /// Claim values required: a JSON Pointer (`/realm_access/roles`) or top-level claim name ->
    /// a string, number or boolean, or an array of accepted values (any of); see
    /// [`jwtkit_verify::require`].
    #[serde(default)]
    pub require_claims: BTreeMap<String, serde_json::Value>,
    /// Scopes required, each in the token's `scope` or `scp` claim.
    #[serde(default)]
    pub require_scopes: Vec<String>,
    /// A CEL expression over `claims` and `request` that must be true (feature `cel`).
    pub allow_if: Option<String>,
    /// Rules added for one HTTP method (`GET`, `POST`, ...): `[routes.methods.POST]`.
    #[serde(default)]
    pub methods: BTreeMap<String, MethodRules>,
    /// Where the token may come from, in order: `header` (default), `cookie:NAME`, `query:NAME`.
    #[serde(default = "default_token_from", deserialize_with = "de::token_sources")]
    pub token_from: Vec<TokenSource>,
}

/// The rules one HTTP method adds to its section's (`[routes.methods.GET]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodRules {
    /// As the section's `require_claims`.
    #[serde(default)]
    pub require_claims: BTreeMap<String, serde_json::Value>,
    /// As the section's `require_scopes`.
    #[serde(default)]
    pub require_scopes: Vec<String>,
    /// As the section's `allow_if`.
    pub allow_if: Option<String>,
}

pub(super) fn default_token_from() -> Vec<TokenSource> {
    vec![TokenSource::Header]
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
    #[serde(default = "default_alg", deserialize_with = "de::hmac_algorithm")]
    pub algorithm: Algorithm,
    /// Token lifetime (default `1h`).
    #[serde(default = "default_ttl", deserialize_with = "de::lifetime")]
    pub ttl: Duration,
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
    /// Parses TOML text. Errors name the key: the one holding a value that does not parse
    /// ([`values`]), else the byte offset serde stopped at.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let plain = |err: toml::de::Error| {
            let key = err
                .span()
                .map(|span| format!("at byte {}", span.start))
                .unwrap_or_else(|| "file".into());
            ConfigError::new(
                key,
                err.message().to_owned(),
                "see docs/PROXY.md for the format",
            )
        };
        let deserializer = toml::Deserializer::parse(text).map_err(plain)?;
        serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            let err = err.into_inner();
            match ValueError::from_message(err.message()) {
                Some(value) => {
                    let key = values::key_of(text, &path, &value);
                    value.at(key)
                }
                None => plain(err),
            }
        })
    }
}
