//! Live reload: SIGHUP, or a change of the configuration file or of a file it names (secrets,
//! key files, the listener's certificate), re-reads the configuration. The new one is
//! validated as completely as at start ([`crate::prepare`], also what `--check-config` runs);
//! only then are the router and the certificate replaced, each by one atomic store. A request
//! in flight keeps the router it started with; a refused configuration logs one line
//! `reload refused: <error>` and the old one keeps serving.
//!
//! Files are polled (metadata every [`POLL`], acted on once unchanged for one more poll) rather
//! than watched with inotify: a stat of a handful of files costs nothing, it sees Kubernetes'
//! symlink swaps of ConfigMap and Secret volumes and files on any filesystem alike, and the
//! extra poll is the debounce that lets a writer finish (a half-written file that is still
//! refused is retried when it changes again).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::logging::LogFilter;
use crate::metrics::Metrics;
use crate::server::SharedRouter;
use crate::server::drain::Drain;
use crate::server::tls::ListenerTls;
use crate::{Overrides, StartError};

/// How often the watched files' metadata is read.
pub const POLL: Duration = Duration::from_millis(300);

/// Where the configuration came from, which decides what a reload can re-read.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--config PATH`: re-read on SIGHUP and when it or a file it names changes.
    File(PathBuf),
    /// Environment mode: the process's environment cannot change, so nothing is re-read.
    Environment,
    /// `--dev`: generated in the process, nothing to re-read.
    Dev,
}

/// What is serving, and how to replace it.
pub struct Reloader {
    source: Source,
    overrides: Overrides,
    serving: Config,
    router: SharedRouter,
    tls: Option<Arc<ListenerTls>>,
    metrics: Arc<Metrics>,
    /// The listener's drain, handed to every new configuration's WebSocket relays.
    drain: Drain,
    /// The log's filter, set anew when `[log] level` changes.
    log_filter: Option<LogFilter>,
    /// The files named by a configuration that was read but refused: watched as well, so the
    /// secret it waits for is seen when it appears.
    refused_files: Vec<PathBuf>,
}

impl Reloader {
    /// Replaces what `serving` built: the `router` the listener loads per request, the
    /// listener's certificate (with `[tls]`), the registry `metrics` reads; `overrides` (the
    /// command line) apply to every new configuration as at start, whose WebSocket relays end
    /// when the listener's `drain` starts.
    pub fn new(
        source: Source,
        overrides: Overrides,
        serving: Config,
        router: SharedRouter,
        tls: Option<Arc<ListenerTls>>,
        metrics: Arc<Metrics>,
        drain: Drain,
    ) -> Self {
        Self {
            source,
            overrides,
            serving,
            router,
            tls,
            metrics,
            drain,
            log_filter: None,
            refused_files: Vec::new(),
        }
    }

    /// Also changes the log's filter when a new configuration's `[log] level` differs (the
    /// process's log, when [`crate::logging::init`] installed it).
    pub fn with_log_filter(mut self, log_filter: Option<LogFilter>) -> Self {
        self.log_filter = log_filter;
        self
    }

    /// Reloads on SIGHUP and on file changes until the task is dropped.
    pub async fn run(mut self) {
        let mut hangup = hangup_signal();
        let Source::File(path) = self.source.clone() else {
            // Nothing to watch; a SIGHUP only says why nothing happens (and no longer ends
            // the process, as its default action would).
            while hangup.recv().await.is_some() {
                tracing::warn!("{}", self.cannot_reload());
            }
            return;
        };
        let mut watched = Watched::new(self.watch_list(&path), None);
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (why, read) = tokio::select! {
                Some(()) = hangup.recv() => ("SIGHUP".to_owned(), watched.stamp_now()),
                _ = poll.tick() => match watched.settled_change() {
                    Some((changed, read)) => (format!("{} changed", changed.display()), read),
                    None => continue,
                },
            };
            self.reload(&path, &why).await;
            // The files as they were before they were read: a change during the reload is
            // seen at the next poll.
            watched = Watched::new(self.watch_list(&path), Some((&watched.files, read)));
        }
    }

    /// The configuration file, the files the serving configuration names and those of a
    /// refused one.
    fn watch_list(&self, config_file: &Path) -> Vec<PathBuf> {
        let mut files = vec![config_file.to_owned()];
        for file in self
            .serving
            .named_files()
            .into_iter()
            .chain(self.refused_files.clone())
        {
            if !files.contains(&file) {
                files.push(file);
            }
        }
        files
    }

    fn cannot_reload(&self) -> &'static str {
        match self.source {
            Source::Environment => {
                "SIGHUP: environment mode cannot re-read its environment; restart the proxy to \
                 change its configuration"
            }
            _ => "SIGHUP: --dev mode has no configuration file to re-read; restart it",
        }
    }

    /// Loads, validates and swaps in the configuration at `path`; logs the outcome.
    pub async fn reload(&mut self, path: &Path, why: &str) {
        match self.apply(path).await {
            Ok(()) => {
                self.metrics.reload(true);
                self.refused_files.clear();
                tracing::info!("configuration reloaded ({why})");
            }
            Err(err) => {
                self.metrics.reload(false);
                tracing::error!("reload refused: {err}");
            }
        }
    }

    async fn apply(&mut self, path: &Path) -> Result<(), StartError> {
        let mut config = crate::load_file(path)?;
        self.overrides.apply(&mut config);
        self.refused_files = config.named_files();
        if self.serving.tls.is_some() != config.tls.is_some() {
            return Err(StartError::Config(crate::config::ConfigError::new(
                "tls",
                "adding or removing [tls] changes the listener",
                "restart the proxy to switch between HTTP and HTTPS",
            )));
        }
        let (app, tls) = crate::prepare(
            &config,
            Vec::new(),
            Some(self.metrics.clone()),
            self.drain.clone(),
        )?;
        if config.listen != self.serving.listen {
            tracing::warn!(
                serving = %self.serving.listen,
                configured = %config.listen,
                "`listen` changed: it takes effect at the next restart"
            );
            config.listen = self.serving.listen.clone();
        }
        if config.log.format != self.serving.log.format {
            tracing::warn!(
                serving = ?self.serving.log.format,
                configured = ?config.log.format,
                "`[log] format` changed: it takes effect at the next restart"
            );
            config.log.format = self.serving.log.format;
        }
        crate::warm_up(&app.registry).await;
        if let (Some(listener), Some(loaded)) = (&self.tls, tls) {
            listener.set(loaded);
        }
        self.router.store(Arc::new(app.front));
        self.metrics.set_issuers(app.registry);
        if config.log.level != self.serving.log.level
            && let Some(filter) = &self.log_filter
        {
            match filter.set(&config.log.level) {
                Ok(()) => tracing::info!(
                    from = %self.serving.log.level,
                    to = %config.log.level,
                    "log level changed"
                ),
                Err(err) => {
                    tracing::error!("{err}; the log keeps level {}", self.serving.log.level);
                    config.log.level = self.serving.log.level.clone();
                }
            }
        }
        self.serving = config;
        Ok(())
    }
}

/// SIGHUP as a stream of `()`; never yields where there are no such signals.
fn hangup_signal() -> tokio::sync::mpsc::Receiver<()> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut signal) => {
            tokio::spawn(async move {
                while signal.recv().await.is_some() {
                    // A reload already queued covers this one too.
                    let _ = sender.try_send(());
                }
            });
        }
        Err(err) => tracing::warn!("SIGHUP cannot be handled: {err}; reload by file change only"),
    }
    #[cfg(not(unix))]
    drop(sender);
    receiver
}

/// What identifies a file's content without reading it: following symlinks, so a swapped
/// Kubernetes `..data` link shows as a different file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Option<(SystemTime, u64, u64)>);

impl Stamp {
    fn of(path: &Path) -> Self {
        let Ok(metadata) = std::fs::metadata(path) else {
            return Self(None);
        };
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Self(
            metadata
                .modified()
                .ok()
                .map(|modified| (modified, metadata.len(), inode)),
        )
    }
}

/// The watched files with the stamps of the version last read.
struct Watched {
    files: Vec<PathBuf>,
    applied: Vec<Stamp>,
    pending: Option<Vec<Stamp>>,
}

impl Watched {
    /// Watches `files`; the stamps of those in `read` (files, stamps) are the ones they had
    /// when last read, the others are stamped now.
    fn new(files: Vec<PathBuf>, read: Option<(&[PathBuf], Vec<Stamp>)>) -> Self {
        let applied = files
            .iter()
            .map(|file| {
                read.as_ref()
                    .and_then(|(old, stamps)| {
                        old.iter()
                            .position(|f| f == file)
                            .map(|i| stamps[i].clone())
                    })
                    .unwrap_or_else(|| Stamp::of(file))
            })
            .collect();
        Self {
            files,
            applied,
            pending: None,
        }
    }

    fn stamp_now(&self) -> Vec<Stamp> {
        self.files.iter().map(|f| Stamp::of(f)).collect()
    }

    /// A file that changed since it was last read and has not changed since the previous poll
    /// (the writer is done), with the stamps of all files now; `None` while nothing changed
    /// or a change is still settling.
    fn settled_change(&mut self) -> Option<(PathBuf, Vec<Stamp>)> {
        let now = self.stamp_now();
        if now == self.applied {
            self.pending = None;
            return None;
        }
        if self.pending.as_ref() != Some(&now) {
            self.pending = Some(now);
            return None;
        }
        let changed = self
            .files
            .iter()
            .zip(now.iter().zip(&self.applied))
            .find(|(_, (now, applied))| now != applied)
            .map(|(file, _)| file.clone())?;
        Some((changed, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_reported_once_it_has_settled_for_one_poll() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "one").unwrap();
        let mut watched = Watched::new(vec![a.clone(), b.clone()], None);
        assert_eq!(watched.settled_change(), None, "nothing changed");

        std::fs::write(&a, "two!").unwrap();
        assert_eq!(
            watched.settled_change(),
            None,
            "first seen: may still be written"
        );
        std::fs::write(&a, "three").unwrap();
        assert_eq!(
            watched.settled_change(),
            None,
            "changed again: still settling"
        );
        let (changed, read) = watched.settled_change().expect("settled");
        assert_eq!(changed, a);

        // A file that appears counts as a change; the stamps of the version read carry over.
        let mut watched = Watched::new(vec![a.clone(), b.clone()], Some((&watched.files, read)));
        assert_eq!(watched.settled_change(), None);
        std::fs::write(&b, "new").unwrap();
        assert_eq!(watched.settled_change(), None);
        assert_eq!(watched.settled_change().map(|(file, _)| file), Some(b));
    }
}
