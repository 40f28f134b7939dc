//! Token endpoints: authenticated callers get Centrifugo connection and subscription tokens
//! for themselves, as the Centrifugo token script issued them.

use std::sync::Arc;
use std::time::Duration;

use crate::front::FixedRoutes;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jwtkit_keys::SigningKey;
use jwtkit_mint::{Audience, CentrifugoConnectionClaims, CentrifugoSubscriptionClaims, Minter};
use jwtkit_secret::{Secret, SecretEncoding};
use jwtkit_verify::Registry;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Access, Caller};
use crate::config::{CentrifugoSection, ConfigError, load_secret};
use crate::error::{ApiError, ErrorKind};
use crate::upstream::render;

/// Issues Centrifugo connection and subscription tokens.
pub struct CentrifugoTokens {
    minter: Minter,
    /// The signing key bytes, for the start-up check that no caller issuer verifies with them.
    secret: Secret,
    lifetime: Duration,
    connection_channels: Vec<String>,
    subscription_channels: Vec<String>,
    audience: Option<String>,
    /// `iss` of every token issued here: the configured one or [`crate::config::MINTED_ISS`].
    issuer: String,
    access: Access,
    /// Validates the callers' tokens.
    registry: Arc<Registry>,
}

impl CentrifugoTokens {
    /// Reads the secret and compiles the settings; callers' tokens are validated with
    /// `registry`.
    pub fn from_config(
        section: &CentrifugoSection,
        registry: Arc<Registry>,
    ) -> Result<Self, ConfigError> {
        // Centrifugo uses its hmac_secret_key text as the key bytes.
        let (secret, _) = load_secret("centrifugo.secret", &section.secret, SecretEncoding::Raw)?;
        tracing::info!(fingerprint = %secret.fingerprint(), "Centrifugo token secret loaded");
        let key = SigningKey::hmac(section.algorithm, &secret).map_err(|e| {
            ConfigError::new(
                "centrifugo.secret",
                e.to_string(),
                "use a secret of at least 32 bytes",
            )
        })?;
        Ok(Self {
            minter: Minter::new(key),
            secret,
            lifetime: section.ttl,
            connection_channels: section.connection_channels.clone(),
            subscription_channels: section.subscription_channels.clone(),
            audience: section.audience.clone(),
            issuer: section.minted_iss().to_owned(),
            access: Access::new("centrifugo", &section.access)?,
            registry,
        })
    }

    /// The key the tokens are signed with.
    pub fn minting_secret(&self) -> &Secret {
        &self.secret
    }

    /// The caller, when its token is valid and the section's access rules admit it.
    async fn caller(&self, headers: &HeaderMap, uri: &Uri) -> Result<Caller, ApiError> {
        // Both endpoints answer POST only.
        self.access
            .authenticate(&self.registry, &Method::POST, headers, uri)
            .await
    }

    fn expiry(&self, now: i64) -> i64 {
        now + self.lifetime.as_secs() as i64
    }

    /// Signs `claims`; answers the token and its expiry for the JSON reply.
    fn sign(&self, claims: &impl serde::Serialize, now: i64) -> Result<(String, i64), ApiError> {
        let token = self
            .minter
            .mint(claims)
            .map_err(|e| ApiError::new(ErrorKind::MintFailed, e.to_string()))?;
        Ok((token, self.expiry(now)))
    }

    fn connection_token(&self, caller: &Caller) -> Result<(String, i64), ApiError> {
        let channels = self
            .connection_channels
            .iter()
            .map(|template| {
                render(template, caller).ok_or_else(|| {
                    ApiError::forbidden(format!(
                        "the token lacks a claim needed for channel {template:?}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = jwtkit_mint::now();
        let claims = CentrifugoConnectionClaims {
            sub: caller.subject(),
            exp: Some(self.expiry(now)),
            iat: now,
            channels,
            aud: Audience::new(self.audience.iter().cloned().collect()),
            iss: Some(self.issuer.clone()),
            ..CentrifugoConnectionClaims::default()
        };
        self.sign(&claims, now)
    }

    /// True when `channel` is one of the caller's allowed channels (a template ending in `*`
    /// allows any channel starting with what comes before it).
    fn allows(&self, caller: &Caller, channel: &str) -> bool {
        self.subscription_channels
            .iter()
            .filter_map(|template| render(template, caller))
            .any(|allowed| match allowed.strip_suffix('*') {
                Some(prefix) => channel.starts_with(prefix) && channel.len() > prefix.len(),
                None => allowed == channel,
            })
    }

    fn subscription_token(
        &self,
        caller: &Caller,
        channel: &str,
    ) -> Result<(String, i64), ApiError> {
        if channel.is_empty() {
            return Err(ApiError::bad_request("send {\"channel\": \"...\"}"));
        }
        if !self.allows(caller, channel) {
            return Err(ApiError::forbidden(format!(
                "channel {:?} is not allowed for this caller",
                channel.chars().take(100).collect::<String>()
            )));
        }
        let now = jwtkit_mint::now();
        let claims = CentrifugoSubscriptionClaims {
            sub: caller.subject(),
            channel: channel.to_owned(),
            exp: Some(self.expiry(now)),
            iat: now,
            aud: Audience::new(self.audience.iter().cloned().collect()),
            iss: Some(self.issuer.clone()),
            ..CentrifugoSubscriptionClaims::default()
        };
        self.sign(&claims, now)
    }
}

fn reply(result: Result<(String, i64), ApiError>) -> Response {
    match result {
        Ok((token, exp)) => Json(json!({"token": token, "expires_at": exp})).into_response(),
        Err(err) => err.into_response(),
    }
}

/// `POST /token/centrifugo` and `POST /token/centrifugo/subscription`.
pub fn router<S>(tokens: Arc<CentrifugoTokens>) -> FixedRoutes<S>
where
    S: Clone + Send + Sync + 'static,
{
    FixedRoutes::new()
        .route("/token/centrifugo", post(connection))
        .route("/token/centrifugo/subscription", post(subscription))
        .with_state(tokens)
}

async fn connection(
    State(tokens): State<Arc<CentrifugoTokens>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let result = async {
        let caller = tokens.caller(&headers, &uri).await?;
        tokens.connection_token(&caller)
    }
    .await;
    reply(result)
}

#[derive(Deserialize)]
struct SubscriptionRequest {
    channel: String,
}

async fn subscription(
    State(tokens): State<Arc<CentrifugoTokens>>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let caller = tokens.caller(&headers, &uri).await?;
        let request: SubscriptionRequest = serde_json::from_slice(&body)
            .map_err(|_| ApiError::bad_request("send {\"channel\": \"...\"}"))?;
        tokens.subscription_token(&caller, &request.channel)
    }
    .await;
    reply(result)
}
