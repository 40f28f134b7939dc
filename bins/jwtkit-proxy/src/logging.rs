//! The process's log on stderr: the filter and the line format of `[log]`. A reload may change
//! the filter ([`LogFilter::set`]); the format is the one the process started with.
//!
//! The filter sits behind tracing-subscriber's `reload` layer. Swapping it rebuilds tracing's
//! per-callsite interest cache, so a line below the level stays a cached "never" and costs a
//! request nothing, before and after a change (the access log's `tracing::enabled!` check
//! included).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, fmt, reload};

use crate::config::{LogConfig, LogFormat, LogLevel};

/// The filter of the log [`init`] installed.
#[derive(Clone)]
pub struct LogFilter {
    handle: reload::Handle<EnvFilter, Registry>,
}

/// Why the filter could not be changed.
#[derive(Debug, thiserror::Error)]
#[error("the log filter cannot be changed: {0}")]
pub struct SetError(#[from] reload::Error);

impl LogFilter {
    /// Filters the log with `level` from now on.
    pub fn set(&self, level: &LogLevel) -> Result<(), SetError> {
        Ok(self.handle.reload(level.filter())?)
    }
}

/// Installs the process's log as `log` says; `None` when a log is installed already (an
/// in-process test harness), which then stays as it is.
pub fn init(log: &LogConfig) -> Option<LogFilter> {
    let (filter, handle) = reload::Layer::new(log.level.filter());
    let (json, text) = match log.format {
        LogFormat::Json => (
            Some(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_target(false),
            ),
            None,
        ),
        LogFormat::Text => (
            None,
            Some(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_target(false),
            ),
        ),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(text)
        .try_init()
        .ok()
        .map(|()| LogFilter { handle })
}
