//! `jwtkit-proxy`: an authenticating reverse proxy. It validates callers' JWTs (several issuers
//! at once), forwards to upstreams with translated credentials (Basic, a minted engine token,
//! passthrough), offers the Camunda REST facade of the FastAPI proxy it replaces, and issues
//! Centrifugo tokens to authenticated callers.

pub mod app;
pub mod auth;
pub mod authz;
pub mod camunda;
pub mod client;
pub mod config;
pub mod dev;
pub mod error;
pub mod forward;
pub mod front;
pub mod idle;
pub mod logging;
pub mod metrics;
pub mod observe;
pub mod path;
pub mod reload;
pub mod routes;
pub mod server;
pub mod status;
pub mod tokens;
pub mod trusted;
pub mod upstream;
pub mod websocket;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use clap::Parser;
use jwtkit_verify::{IssuerConfig, Registry};

use crate::app::App;
use crate::config::{Config, ConfigError, LogFormat};
use crate::dev::DevError;
use crate::front::Front;
use crate::metrics::Metrics;
use crate::reload::{Reloader, Source};
use crate::server::drain::Drain;
use crate::server::tls::{self, ListenerTls};
use crate::server::{Server, SharedRouter};

/// Why the proxy could not start, or stopped serving with an error. The binary prints it as
/// `error: <message>` and exits with status 1.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid; the error names the key and the fix.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration file cannot be read.
    #[error("cannot read {}: {}", path.display(), source.kind())]
    ReadConfig {
        /// The `--config` path.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The configured `listen` address.
        address: String,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// Dev mode's embedded issuer, upstream or secrets could not be set up.
    #[error(transparent)]
    Dev(#[from] DevError),
    /// The TLS listener cannot be set up with the crypto provider.
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The server failed while accepting or serving connections.
    #[error(transparent)]
    Serve(std::io::Error),
}

/// Command line of `jwtkit-proxy`.
#[derive(Parser, Debug)]
#[command(name = "jwtkit-proxy", version, about)]
pub struct Cli {
    /// TOML configuration file. Without it the proxy reads the FastAPI proxy's environment
    /// (CLERK_JWKS_URL, ENGINE_URL, ...).
    #[arg(long, value_name = "PATH", conflicts_with = "dev")]
    pub config: Option<PathBuf>,
    /// Address to listen on (also JWTKIT_LISTEN); default 0.0.0.0:8000, 127.0.0.1:8000 with --dev.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Log format (also JWTKIT_LOG_FORMAT).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Run with an embedded dev issuer, echo upstream and printed token; nothing else needed.
    #[arg(long)]
    pub dev: bool,
    /// Check this TOML configuration file as a start would (environment overrides applied,
    /// secrets and key files read, the proxy built) without serving or fetching keys, print
    /// `config PATH: ok (...)` and exit.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["dev", "config"])]
    pub check_config: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The proxy's router built from TOML configuration text, for in-process harnesses (the fuzz
/// targets under `fuzz/` and their regression tests): nothing listens, no logging is set up, no
/// JWKS is fetched up front and no environment override is applied. Secrets and key files named
/// by the text are read now, as at start. Call it inside a Tokio runtime: the upstream HTTP
/// client needs one to send requests.
pub fn router_from_toml(text: &str) -> Result<axum::Router, ConfigError> {
    let config = Config::from_toml(text)?;
    Ok(app::build(&config, Vec::new())?.front.router().clone())
}

/// The command line's `--listen` and `--log-format`, which win over the configuration (also
/// over one reloaded).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
}

impl Overrides {
    /// Writes the overrides into `config`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(listen) = &self.listen {
            config.listen = listen.clone();
        }
        if let Some(format) = self.log_format {
            config.log.format = format;
        }
    }
}

/// Everything a configuration needs checked before it may serve, as at start, on a reload and
/// for `--check-config`: the proxy built (every secret and key file read) and the listener's
/// certificate loaded and matched with its key, the callers' client CA read. `metrics` and
/// `drain` as for [`app::build_with_metrics`].
pub(crate) fn prepare(
    config: &Config,
    extra_issuers: Vec<IssuerConfig>,
    metrics: Option<Arc<Metrics>>,
    drain: Drain,
) -> Result<(App, Option<tls::Loaded>), ConfigError> {
    let tls = config.tls.as_ref().map(tls::load).transpose()?;
    let app = app::build_with_metrics(config, extra_issuers, metrics, drain)?;
    Ok((app, tls))
}

/// Loads the issuers' key sets up front; a failure is logged and serving goes on.
pub(crate) async fn warm_up(registry: &Registry) {
    if let Err(err) = registry.warm_up().await {
        tracing::warn!("{err}; requests for that issuer get 503 until its keys load");
    }
}

/// Reads the configuration file at `path` and applies the environment overrides, as a start
/// with `--config` does.
pub(crate) fn load_file(path: &Path) -> Result<Config, StartError> {
    let text = std::fs::read_to_string(path).map_err(|source| StartError::ReadConfig {
        path: path.to_owned(),
        source,
    })?;
    let mut config = Config::from_toml(&text)?;
    config.apply_env_overrides(&env)?;
    Ok(config)
}

/// `--check-config`: loads the file at `path` and builds the proxy exactly as a start would,
/// reading every secret and key file, but listens on nothing and fetches no JWK Set. Returns
/// the line to print: `config PATH: ok (N issuers, M routes)`, or every problem found, each
/// naming its key as a start would: a file that does not parse is one problem; otherwise every
/// problem of the cross-checks and every file or environment variable that cannot be read;
/// when there is none of those, what building the proxy finds (a key that does not
/// parse, a secret too short). Nothing is logged, so no secret can appear.
pub fn check_config(path: &Path) -> Result<String, Vec<StartError>> {
    let config = load_file(path).map_err(|err| vec![err])?;
    let mut problems: Vec<StartError> = Vec::new();
    problems.extend(config.problems().into_iter().map(StartError::from));
    problems.extend(config.unreadable().into_iter().map(StartError::from));
    if problems.is_empty()
        && let Err(err) = prepare(&config, Vec::new(), None, Drain::new())
    {
        problems.push(err.into());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(format!(
        "config {}: ok ({} issuers, {} routes)",
        path.display(),
        config.issuers.len(),
        config.routes.len()
    ))
}

/// Loads the configuration, builds the app and serves until SIGTERM or SIGINT; SIGHUP and
/// file changes reload it ([`reload`]).
pub async fn run(cli: Cli) -> Result<(), StartError> {
    let overrides = Overrides {
        listen: cli.listen.clone(),
        log_format: cli.log_format,
    };
    let (mut config, extra_issuers, dev, source) = if cli.dev {
        let dev = dev::start(cli.listen.as_deref().unwrap_or("127.0.0.1:8000")).await?;
        let issuers = vec![dev.issuer.clone()];
        (dev.config.clone(), issuers, Some(dev), Source::Dev)
    } else if let Some(path) = &cli.config {
        (
            load_file(path)?,
            Vec::new(),
            None,
            Source::File(path.clone()),
        )
    } else {
        (
            Config::from_env_mode(&env)?,
            Vec::new(),
            None,
            Source::Environment,
        )
    };
    overrides.apply(&mut config);
    let log_filter = logging::init(&config.log);
    // The listener's drain: it also ends the WebSocket relays of every configuration served.
    let drain = Drain::new();
    let (app, tls) = prepare(&config, extra_issuers, None, drain.clone())?;
    warm_up(&app.registry).await;
    let mut front = app.front;
    if let Some(dev) = &dev {
        // The key set's route is outside the direct path's fixed routes: dev mode serves
        // everything through the router.
        front = Front::new(front.router().clone().merge(dev.jwks_route.clone()), None);
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| StartError::Listen {
            address: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    let tls = tls.map(|loaded| Arc::new(ListenerTls::new(loaded)));
    let acceptor = tls.as_ref().map(|tls| tls.acceptor()).transpose()?;
    let router: SharedRouter = Arc::new(ArcSwap::from_pointee(front));
    let reloader = Reloader::new(
        source,
        overrides,
        config,
        router.clone(),
        tls,
        app.metrics,
        drain.clone(),
    )
    .with_log_filter(log_filter);
    let reloading = tokio::spawn(reloader.run());
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, "listening");
    if let Some(dev) = &dev {
        println!("{}", dev::banner(addr, &dev.token));
    }
    Server::new(listener, router, acceptor, drain)
        .serve(shutdown_signal())
        .await;
    reloading.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before the server stops.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
