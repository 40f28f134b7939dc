//! `--dev`: everything embedded, nothing else running. A dev issuer with a fresh ES256 key
//! (JWKS published at /.well-known/jwks.json), an in-process echo upstream reached through
//! `/echo` with a minted Camunda-style credential, Centrifugo token endpoints, and a ready token.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::{any, get};
use jwtkit_keys::{Algorithm, JwkSet, KeyError, SigningKey, keygen};
use jwtkit_mint::{Expiry, GenericProfile, MintError, Minter};
use jwtkit_secret::{Secret, SecretEncoding, SecretError};
use jwtkit_verify::{IssuerConfig, KeySource, Policy};

use crate::auth::TokenSource;
use crate::config::{
    AccessSection, CentrifugoSection, Config, ConfigError, MintProfile, MintSection, RouteSection,
    SecretRef, UpstreamAuth, UpstreamSection, WebSocketSection,
};

/// Why dev mode could not set up its embedded pieces.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The echo upstream cannot listen on 127.0.0.1.
    #[error("echo upstream: {0}")]
    Echo(#[source] std::io::Error),
    /// The dev issuer's key cannot be generated.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The dev token cannot be minted.
    #[error(transparent)]
    Mint(#[from] MintError),
    /// The dev issuer's JWKS cannot be written as JSON.
    #[error(transparent)]
    Jwks(#[from] serde_json::Error),
    /// A secret of the embedded upstream or Centrifugo cannot be generated.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The built-in configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The embedded pieces of dev mode.
pub struct Dev {
    /// The configuration to run with.
    pub config: Config,
    /// The dev issuer (static key).
    pub issuer: IssuerConfig,
    /// Serves the dev issuer's JWKS.
    pub jwks_route: Router,
    /// A token for `dev-user`, valid one hour.
    pub token: String,
}

/// The dev issuer's `iss`.
pub const DEV_ISSUER: &str = "urn:jwtkit:dev";

/// Starts the echo upstream on 127.0.0.1 and assembles the dev configuration.
pub async fn start(listen: &str) -> Result<Dev, DevError> {
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(DevError::Echo)?;
    let echo_addr = echo.local_addr().map_err(DevError::Echo)?;
    tokio::spawn(async move {
        let _ = axum::serve(echo, Router::new().fallback(any(echo_handler))).await;
    });

    let pair = keygen::generate(Algorithm::ES256, 2048)?;
    let kid = pair.public_jwk.kid.clone();
    let signer = SigningKey::from_pem(Some(Algorithm::ES256), &pair.private_pem)?.with_kid(kid);
    let verifier = signer.verifying_key()?;
    let profile = GenericProfile {
        subject: Some("dev-user".into()),
        issuer: Some(DEV_ISSUER.into()),
        expiry: Expiry::After(3600),
        custom: [
            ("email".to_owned(), "dev-user@example.test".into()),
            ("name".to_owned(), "Dev User".into()),
        ]
        .into_iter()
        .collect(),
        ..GenericProfile::default()
    };
    let token = Minter::new(signer).mint(&profile.claims(jwtkit_mint::now())?)?;
    let jwks = serde_json::to_value(JwkSet {
        keys: vec![pair.public_jwk],
    })?;
    let jwks_route = Router::new().route(
        "/.well-known/jwks.json",
        get(move || async move { axum::Json(jwks) }),
    );

    // Secrets of the embedded upstream and Centrifugo, generated now and passed by environment
    // variable like real ones (the config never holds secret values).
    let engine_secret = Secret::generate(32)?;
    let centrifugo_secret = Secret::generate(32)?;
    // SAFETY: set before any other thread reads the environment (the runtime's workers only
    // run the echo server, which does not).
    unsafe {
        std::env::set_var(
            "JWTKIT_DEV_ENGINE_SECRET",
            engine_secret.encode(SecretEncoding::Base64).as_str(),
        );
        std::env::set_var(
            "JWTKIT_DEV_CENTRIFUGO_SECRET",
            centrifugo_secret.encode(SecretEncoding::Base64Url).as_str(),
        );
    }
    let secret_env = |name: &str| SecretRef {
        env: Some(name.into()),
        ..SecretRef::default()
    };
    let open = AccessSection {
        token_from: vec![TokenSource::Header],
        ..AccessSection::default()
    };
    let mut config = Config::from_toml("")?;
    config.listen = listen.to_owned();
    config.upstreams = vec![UpstreamSection {
        name: "echo".into(),
        url: format!("http://{echo_addr}"),
        timeout_seconds: 10,
        auth: UpstreamAuth::Mint(MintSection {
            profile: MintProfile::Camunda,
            secret: secret_env("JWTKIT_DEV_ENGINE_SECRET"),
            algorithm: Algorithm::HS256,
            ttl: Duration::from_secs(3600),
            subject: "{sub}".into(),
            email_template: "{sub}@camunda.local".into(),
            superuser: false,
            issuer: None,
            audience: None,
        }),
        identity_headers: BTreeMap::from([
            ("X-User-Id".into(), "sub".into()),
            ("X-User-Email".into(), "email".into()),
        ]),
        ..UpstreamSection::default()
    }];
    config.routes = vec![RouteSection {
        prefix: "/echo".into(),
        upstream: "echo".into(),
        strip_prefix: true,
        case_insensitive: false,
        websocket: WebSocketSection::default(),
        access: open.clone(),
    }];
    config.centrifugo = Some(CentrifugoSection {
        secret: secret_env("JWTKIT_DEV_CENTRIFUGO_SECRET"),
        algorithm: Algorithm::HS256,
        ttl: Duration::from_secs(3600),
        connection_channels: vec!["personal.{sub}".into()],
        subscription_channels: vec!["personal.{sub}".into(), "public.*".into()],
        audience: None,
        issuer: None,
        access: open,
    });
    let issuer = IssuerConfig {
        name: "dev".into(),
        issuers: vec![DEV_ISSUER.into()],
        keys: KeySource::Static(vec![verifier]),
        policy: Policy {
            algorithms: vec![Algorithm::ES256],
            ..Policy::default()
        },
    };
    Ok(Dev {
        config,
        issuer,
        jwks_route,
        token,
    })
}

/// Answers with what it received: method, path, query, headers and body size.
async fn echo_handler(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<serde_json::Value> {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    axum::Json(serde_json::json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": headers,
        "body_bytes": body.len(),
    }))
}

/// What dev mode prints once it listens.
pub fn banner(addr: SocketAddr, token: &str) -> String {
    format!(
        "jwtkit-proxy dev mode on http://{addr}\n\
         dev issuer {DEV_ISSUER}, keys at http://{addr}/.well-known/jwks.json\n\n\
         TOKEN={token}\n\n\
         curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/echo/hello\n\
         curl -X POST -H \"Authorization: Bearer $TOKEN\" http://{addr}/token/centrifugo\n\
         curl http://{addr}/ready\n"
    )
}
