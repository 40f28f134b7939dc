//! Upstreams: where requests go, with which credentials, and how their failures are reported.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use jwtkit_keys::SigningKey;
use jwtkit_mint::{
    Audience, CamundaProfile, Expiry, GenericProfile, MintedTokenCache, Minter, camunda_secret,
};
use jwtkit_secret::{Fingerprint, Secret, SecretEncoding};
use serde_json::Value;

use crate::auth::Caller;
use crate::client::{BaseUrl, SendError, UpstreamClient};
use crate::config::{
    ConfigError, MintProfile, MintSection, UpstreamAuth, UpstreamSection, load_secret,
    secret_origin,
};
use crate::error::{ApiError, ErrorKind};
use crate::metrics::Metrics;

/// Minted tokens are replaced this long before they expire.
const MINT_MARGIN: Duration = Duration::from_secs(30);

/// One configured upstream.
pub struct Upstream {
    /// Its name in the configuration.
    pub name: String,
    base: BaseUrl,
    timeout: Duration,
    credentials: Credentials,
    identity_headers: Vec<(HeaderName, String)>,
    client: UpstreamClient,
    metrics: Arc<Metrics>,
}

enum Credentials {
    None,
    Passthrough,
    Basic {
        header: HeaderValue,
        fingerprint: Fingerprint,
    },
    Mint(Box<MintCredentials>),
}

struct MintCredentials {
    minter: Minter,
    /// The signing key bytes, for the start-up check that no caller issuer verifies with them.
    secret: Secret,
    /// `iss` of every minted token: the configured one or [`crate::config::MINTED_ISS`].
    issuer: String,
    profile: MintProfile,
    /// `aud` of generic-profile tokens.
    audience: Option<String>,
    lifetime: Duration,
    subject: String,
    email_template: String,
    superuser: bool,
    cache: MintedTokenCache,
}

impl MintCredentials {
    fn from_config(key: &str, section: &MintSection) -> Result<Self, ConfigError> {
        let secret = match (section.profile, section.secret.encoding) {
            // The engine base64-decodes its secret and silently replaces a short one: refuse it.
            (MintProfile::Camunda, None) => {
                let (text_secret, _) = load_secret(
                    &format!("{key}.secret"),
                    &section.secret,
                    SecretEncoding::Raw,
                )?;
                let text = String::from_utf8_lossy(text_secret.expose_bytes()).into_owned();
                camunda_secret(&text).map_err(|e| {
                    ConfigError::new(
                        format!("{key}.secret"),
                        e.to_string(),
                        format!(
                            "set {} to a base64 secret of at least 32 bytes, the same as the engine's",
                            secret_origin(&section.secret)
                        ),
                    )
                })?
            }
            _ => {
                load_secret(
                    &format!("{key}.secret"),
                    &section.secret,
                    SecretEncoding::Raw,
                )?
                .0
            }
        };
        let signing = SigningKey::hmac(section.algorithm, &secret).map_err(|e| {
            ConfigError::new(
                format!("{key}.secret"),
                e.to_string(),
                "use a longer secret",
            )
        })?;
        Ok(Self {
            minter: Minter::new(signing),
            secret,
            issuer: section.minted_iss().to_owned(),
            profile: section.profile,
            audience: section.audience.clone(),
            lifetime: section.ttl,
            subject: section.subject.clone(),
            email_template: section.email_template.clone(),
            superuser: section.superuser,
            cache: MintedTokenCache::new(10_000, MINT_MARGIN),
        })
    }

    fn token_for(&self, caller: &Caller) -> Result<Arc<str>, ApiError> {
        // An empty subject (`"sub": ""`) is as unusable as a missing one: the caller's token,
        // not the proxy, is at fault, so 403 rather than a failed mint.
        let subject = render(&self.subject, caller)
            .filter(|subject| !subject.is_empty())
            .ok_or_else(|| {
                ApiError::forbidden("the token lacks a claim the upstream credential needs")
            })?;
        let failed =
            |e: jwtkit_mint::MintError| ApiError::new(ErrorKind::MintFailed, e.to_string());
        self.cache
            .get_or_mint(&subject, || {
                let now = jwtkit_mint::now();
                let expiry = Expiry::After(self.lifetime.as_secs());
                let token = match self.profile {
                    MintProfile::Camunda => {
                        let profile = CamundaProfile {
                            email_template: self.email_template.clone(),
                            is_superuser: self.superuser,
                            expiry,
                            issuer: Some(self.issuer.clone()),
                            ..CamundaProfile::default()
                        };
                        let email = caller
                            .claim_text("email")
                            .filter(|_| self.subject == "{sub}");
                        self.minter
                            .mint(&profile.claims(&subject, email.as_deref(), now)?)?
                    }
                    MintProfile::Generic => {
                        let profile = GenericProfile {
                            subject: Some(subject.clone()),
                            issuer: Some(self.issuer.clone()),
                            audience: Audience::new(self.audience.iter().cloned().collect()),
                            expiry,
                            ..GenericProfile::default()
                        };
                        self.minter.mint(&profile.claims(now)?)?
                    }
                };
                Ok((token, self.lifetime))
            })
            .map_err(failed)
    }
}

/// Fills `{claim}` placeholders from the caller's claims; `None` when one is missing.
pub fn render(template: &str, caller: &Caller) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        out.push_str(&caller.claim_text(&rest[start + 1..end])?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// 504 for an upstream that did not answer in time.
fn timeout_error(upstream: &str) -> ApiError {
    ApiError::new(
        ErrorKind::UpstreamTimeout,
        format!("upstream {upstream} did not answer in time"),
    )
}

/// 502 for an upstream that cannot be reached or broke the connection.
fn unreachable_error(upstream: &str) -> ApiError {
    ApiError::new(
        ErrorKind::UpstreamUnreachable,
        format!("upstream {upstream} cannot be reached"),
    )
}

impl Upstream {
    /// Builds an upstream; secrets are read now so a bad one stops the start.
    pub fn from_config(
        index: usize,
        section: &UpstreamSection,
        client: UpstreamClient,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ConfigError> {
        let key = format!("upstreams[{index}]");
        let base = BaseUrl::parse(&section.url).map_err(|e| {
            ConfigError::new(
                format!("{key}.url"),
                e,
                "use a URL such as http://engine:8080/engine-rest",
            )
        })?;
        let credentials = match &section.auth {
            UpstreamAuth::None => Credentials::None,
            UpstreamAuth::Passthrough => Credentials::Passthrough,
            UpstreamAuth::Basic { user, password } => {
                let (password, _) = load_secret(
                    &format!("{key}.auth.password"),
                    password,
                    SecretEncoding::Raw,
                )?;
                let mut pair = user.as_bytes().to_vec();
                pair.push(b':');
                pair.extend_from_slice(password.expose_bytes());
                let fingerprint = Fingerprint::of(&pair);
                let encoded = jwtkit_secret::Secret::from_bytes(pair)
                    .map(|s| s.encode(SecretEncoding::Base64))
                    .map_err(|e| {
                        ConfigError::new(
                            format!("{key}.auth"),
                            e.to_string(),
                            "set a user and password",
                        )
                    })?;
                let mut header = HeaderValue::from_str(&format!("Basic {}", encoded.as_str()))
                    .map_err(|_| {
                        ConfigError::new(
                            format!("{key}.auth"),
                            "cannot form a header",
                            "check the user name",
                        )
                    })?;
                header.set_sensitive(true);
                Credentials::Basic {
                    header,
                    fingerprint,
                }
            }
            UpstreamAuth::Mint(mint) => Credentials::Mint(Box::new(MintCredentials::from_config(
                &format!("{key}.auth"),
                mint,
            )?)),
        };
        let identity_headers = section
            .identity_headers
            .iter()
            .map(|(name, claim)| {
                HeaderName::try_from(name.as_str())
                    .map(|h| (h, claim.clone()))
                    .map_err(|_| {
                        ConfigError::new(
                            format!("{key}.identity_headers"),
                            format!("{name:?} is not a header name"),
                            "use names like X-User-Id",
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: section.name.clone(),
            base,
            timeout: Duration::from_secs(section.timeout_seconds.max(1)),
            credentials,
            identity_headers,
            client,
            metrics,
        })
    }

    /// The key of the tokens minted for this upstream (`auth = mint`), if any.
    pub fn minting_secret(&self) -> Option<&Secret> {
        match &self.credentials {
            Credentials::Mint(mint) => Some(&mint.secret),
            _ => None,
        }
    }

    /// A loggable identifier of the credential the proxy presents (never the credential).
    pub fn credential_fingerprint(&self) -> Option<String> {
        match &self.credentials {
            Credentials::Basic { fingerprint, .. } => Some(fingerprint.to_string()),
            Credentials::Mint(mint) => Some(mint.minter.key().fingerprint()),
            Credentials::None | Credentials::Passthrough => None,
        }
    }

    /// What kind of credential, for the start-up log.
    pub fn credential_kind(&self) -> &'static str {
        match &self.credentials {
            Credentials::None => "none",
            Credentials::Passthrough => "passthrough",
            Credentials::Basic { .. } => "basic",
            Credentials::Mint(_) => "minted token",
        }
    }

    /// How long the upstream may stay silent: before its answer starts, and between parts of it.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// True when the upstream answers a GET of its base URL with any status within `timeout`.
    pub async fn is_reachable(&self, timeout: Duration) -> bool {
        let Ok(uri) = self.base.join("") else {
            return false;
        };
        let Ok(request) = Request::get(uri).body(Body::empty()) else {
            return false;
        };
        self.client.send(request, timeout).await.is_ok()
    }

    /// Sets the upstream Authorization and identity headers for `caller`.
    fn add_credentials(&self, headers: &mut HeaderMap, caller: &Caller) -> Result<(), ApiError> {
        let authorization = match &self.credentials {
            Credentials::None => None,
            Credentials::Passthrough => {
                HeaderValue::from_str(&format!("Bearer {}", caller.raw)).ok()
            }
            Credentials::Basic { header, .. } => Some(header.clone()),
            Credentials::Mint(mint) => {
                let token = mint.token_for(caller)?;
                HeaderValue::from_str(&format!("Bearer {token}")).ok()
            }
        };
        if let Some(mut value) = authorization {
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        for (name, claim) in &self.identity_headers {
            // Only the token may set these: a caller's own value is dropped even when the
            // claim is missing (the strip prefixes may not cover this name).
            headers.remove(name);
            let Some(text) = caller.claim_text(claim) else {
                continue;
            };
            // HTTP drops a field value's outer whitespace (RFC 9110 §5.5): `"admin "` would
            // reach the upstream as another user's `admin`.
            if text.trim_matches([' ', '\t']).len() != text.len() {
                return Err(ApiError::forbidden(format!(
                    "the token's {claim} claim starts or ends with whitespace and cannot be passed on"
                )));
            }
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.insert(name.clone(), value);
            }
        }
        Ok(())
    }

    /// Sends a request; maps transport failures, upstream 5xx and a rejection of the proxy's
    /// own credentials to the caller-facing errors (502, 504). A request body that fails while
    /// being sent (client gone, size limit) fails the whole request.
    pub async fn send(
        &self,
        caller: &Caller,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        body: Body,
    ) -> Result<axum::http::Response<Incoming>, ApiError> {
        self.add_credentials(&mut headers, caller)?;
        let uri = self
            .base
            .join(path_and_query)
            .map_err(|_| ApiError::bad_request("the request path cannot be forwarded"))?;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let started = Instant::now();
        let result = self.client.send(request, self.timeout).await;
        self.metrics.observe_upstream(&self.name, started.elapsed());
        let response = match result {
            Ok(response) => response,
            Err(SendError::Timeout) => return Err(timeout_error(&self.name)),
            Err(SendError::Transport(_)) => return Err(unreachable_error(&self.name)),
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED
            && let Some(fingerprint) = self.credential_fingerprint()
        {
            return Err(ApiError::new(
                ErrorKind::UpstreamRejectedCredentials,
                format!(
                    "upstream {} answered 401 to the proxy's {} credential ({fingerprint}); the upstream \
                     expects another secret or user: compare fingerprints with `jwtkit secret fingerprint`",
                    self.name,
                    self.credential_kind()
                ),
            ));
        }
        if status.is_server_error() {
            return Err(ApiError::new(
                ErrorKind::UpstreamError,
                format!("upstream {} answered {status}", self.name),
            ));
        }
        Ok(response)
    }

    /// A JSON call (the Camunda facade): the answer's status and JSON body. Upstream 4xx are
    /// returned as errors with the upstream's own message.
    pub async fn call_json(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ApiError> {
        let mut path_and_query = path.to_owned();
        if !query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(
                &url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let body = match body {
            Some(value) => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .send(caller, method, &path_and_query, headers, body)
            .await?;
        let status = response.status();
        let bytes = match tokio::time::timeout(self.timeout, response.into_body().collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return Err(unreachable_error(&self.name)),
            Err(_) => return Err(timeout_error(&self.name)),
        };
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status.is_client_error() {
            // Camunda's error JSON: {"type": "...", "message": "..."}.
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_owned();
            let kind = if status == StatusCode::NOT_FOUND {
                ErrorKind::NotFound
            } else {
                ErrorKind::UpstreamRejected(status)
            };
            return Err(ApiError::new(kind, message));
        }
        Ok((status, value))
    }
}
