//! HTTP: discovery documents and JWK Sets, with timeouts and a body size cap.

use std::time::Duration;

use jwtkit_keys::{KeySetOrigin, ParsedKeySet, parse_key_set_from};
use serde::Deserialize;

use crate::{JwksConfig, JwksError, TrustRoots};

/// A fetched, parsed key set and the lifetime its response allows.
pub(crate) struct Fetched {
    pub keys: ParsedKeySet,
    pub ttl: Duration,
}

pub(crate) fn client(config: &JwksConfig) -> Result<reqwest::Client, JwksError> {
    let setup_error = |reason: String| JwksError::Http {
        url: String::new(),
        reason,
    };
    let builder = reqwest::Client::builder();
    let builder = match &config.trust {
        TrustRoots::System => builder,
        TrustRoots::SystemAnd(ca) => builder.tls_certs_merge(certificates(ca)?),
        TrustRoots::Only(ca) => builder.tls_certs_only(certificates(ca)?),
    };
    builder
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        // Keys come from where they are configured, never from where a redirect points.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("jwtkit-jwks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| setup_error(format!("TLS client set-up failed: {}", without_url(&err))))
}

/// The certificates of a CA file as reqwest wants them.
fn certificates(ca: &crate::CaCertificates) -> Result<Vec<reqwest::Certificate>, JwksError> {
    ca.certificates()
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<_, _>>()
        .map_err(|err| JwksError::Http {
            url: String::new(),
            reason: format!("CA file {}: {}", ca.origin().display(), without_url(&err)),
        })
}

/// GETs `url` and returns the body (at most `limit` bytes) and its Cache-Control header.
async fn get(
    client: &reqwest::Client,
    url: &str,
    limit: usize,
) -> Result<(Vec<u8>, Option<String>), JwksError> {
    let http_error = |err: reqwest::Error| JwksError::Http {
        url: url.to_owned(),
        reason: if err.is_timeout() {
            "timed out".to_owned()
        } else {
            without_url(&err)
        },
    };
    let mut response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(http_error)?;
    if !response.status().is_success() {
        return Err(JwksError::Status {
            url: url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(JwksError::TooLarge {
            url: url.to_owned(),
            limit,
        });
    }
    let cache_control = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http_error)? {
        if body.len() + chunk.len() > limit {
            return Err(JwksError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, cache_control))
}

/// reqwest's messages repeat the URL; the caller's error already names it.
fn without_url(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut deepest = None;
    while let Some(inner) = source {
        deepest = Some(inner.to_string());
        source = inner.source();
    }
    deepest.unwrap_or_else(|| err.to_string())
}

/// Fetches and parses a JWK Set as a published one (symmetric keys skipped); a set without one
/// usable key is an error, so a broken response never replaces a working set.
pub(crate) async fn key_set(
    client: &reqwest::Client,
    url: &str,
    config: &JwksConfig,
) -> Result<Fetched, JwksError> {
    let (body, cache_control) = get(client, url, config.max_response_bytes).await?;
    // A fetched set is public: its symmetric keys are skipped (logged with the other skipped
    // keys, their kid shortened), never used as HMAC secrets.
    let keys =
        parse_key_set_from(&body, KeySetOrigin::Published).map_err(|err| JwksError::Invalid {
            url: url.to_owned(),
            reason: err.to_string(),
        })?;
    if keys.keys.is_empty() {
        let reasons: Vec<String> = keys
            .skipped
            .iter()
            .take(3)
            .map(ToString::to_string)
            .collect();
        return Err(JwksError::Invalid {
            url: url.to_owned(),
            reason: format!("no usable key in the set ({})", reasons.join("; ")),
        });
    }
    Ok(Fetched {
        keys,
        ttl: config.ttl_for(cache_control.as_deref()),
    })
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

/// Fetches `{base}/.well-known/openid-configuration`, checks its `issuer`, returns `jwks_uri`.
pub(crate) async fn discover(
    client: &reqwest::Client,
    base: &str,
    expected_issuer: &str,
    config: &JwksConfig,
) -> Result<String, JwksError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        base.trim_end_matches('/')
    );
    let (body, _) = get(client, &url, config.max_response_bytes).await?;
    let document: DiscoveryDocument =
        serde_json::from_slice(&body).map_err(|err| JwksError::Invalid {
            url: url.clone(),
            reason: format!("not an OpenID discovery document: {err}"),
        })?;
    // OpenID Connect Discovery §4.3: the issuer must be identical to the one the client expects.
    if document.issuer != expected_issuer {
        return Err(JwksError::IssuerMismatch {
            url,
            expected: expected_issuer.to_owned(),
            found: document.issuer.chars().take(200).collect(),
        });
    }
    if !(document.jwks_uri.starts_with("https://") || document.jwks_uri.starts_with("http://")) {
        return Err(JwksError::Invalid {
            url,
            reason: "jwks_uri is not an http(s) URL".into(),
        });
    }
    Ok(document.jwks_uri)
}
