//! Prometheus metrics: requests by route and status, auth failures by code, authorization
//! denials by route, upstream latency, open WebSockets and their closes by reason,
//! configuration reloads by result, and the key-set facts of every JWKS-backed issuer (read at
//! scrape time). One `Metrics` lives as long as the process: a reload hands it to the new
//! router and points the key-set facts at the new registry, so counters keep counting.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use jwtkit_verify::{JwksStats, Registry};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry as PromRegistry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    route: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IssuerLabels {
    issuer: String,
}

/// The key-set facts of every JWKS-backed issuer, read at scrape time from the registry that
/// serves (replaced by a reload).
struct JwksCollector(Arc<ArcSwap<Registry>>);

impl std::fmt::Debug for JwksCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwksCollector")
    }
}

/// One family of [`JwksCollector`]: how a sample is read from an issuer's stats.
enum JwksValue {
    Counter(fn(&JwksStats) -> u64),
    Gauge(fn(&JwksStats) -> f64),
}

const JWKS_FAMILIES: [(&str, &str, JwksValue); 6] = [
    (
        "jwks_fetches",
        "JWKS fetch attempts",
        JwksValue::Counter(|s| s.fetches),
    ),
    (
        "jwks_fetch_errors",
        "Failed JWKS or discovery fetches",
        JwksValue::Counter(|s| s.fetch_errors),
    ),
    (
        "jwks_cooldown_hits",
        "Unknown-kid refreshes refused by the cooldown",
        JwksValue::Counter(|s| s.cooldown_hits),
    ),
    (
        "jwks_stale_serves",
        "Lookups answered by a key set past its lifetime",
        JwksValue::Counter(|s| s.stale_serves),
    ),
    (
        "jwks_keys",
        "Usable keys in the current set",
        JwksValue::Gauge(|s| s.key_count as f64),
    ),
    (
        "jwks_key_set_age_seconds",
        "Age of the current key set (-1 before the first fetch)",
        JwksValue::Gauge(|s| s.age.map_or(-1.0, |a| a.as_secs_f64())),
    ),
];

impl Collector for JwksCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.0.load().jwks_stats();
        for (name, help, value) in &JWKS_FAMILIES {
            let metric_type = match value {
                JwksValue::Counter(_) => ConstCounter::new(0u64).metric_type(),
                JwksValue::Gauge(_) => ConstGauge::new(0.0f64).metric_type(),
            };
            let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
            for (issuer, stat) in &stats {
                let labels = IssuerLabels {
                    issuer: issuer.to_string(),
                };
                let sample = family.encode_family(&labels)?;
                match value {
                    JwksValue::Counter(read) => ConstCounter::new(read(stat)).encode(sample)?,
                    JwksValue::Gauge(read) => ConstGauge::new(read(stat)).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

/// Metric handles of a family by label, for the per-request families: found by comparing a
/// few entries with borrowed labels, where `Family::get_or_create` takes an owned label set
/// (a `String` allocated, then hashed, on every request). A handle shares its value with the
/// family's, which the exposition reads; an entry is added once per label, as the family's.
struct Handles<K, M> {
    entries: RwLock<Vec<(K, M)>>,
}

impl<K, M> Default for Handles<K, M> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(Vec::new()),
        }
    }
}

impl<K, M> Handles<K, M> {
    /// Applies `update` to the handle of the entry `is` picks, made with `make` when missing.
    fn with(
        &self,
        is: impl Fn(&K) -> bool,
        make: impl FnOnce() -> (K, M),
        update: impl FnOnce(&M),
    ) {
        {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some((_, handle)) = entries.iter().find(|(key, _)| is(key)) {
                update(handle);
                return;
            }
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        // Another request may have added it between the two locks.
        if let Some((_, handle)) = entries.iter().find(|(key, _)| is(key)) {
            update(handle);
            return;
        }
        let (key, handle) = make();
        update(&handle);
        entries.push((key, handle));
    }
}

/// The proxy's metrics.
pub struct Metrics {
    registry: Mutex<PromRegistry>,
    requests: Family<RequestLabels, Counter>,
    auth_failures: Family<CodeLabels, Counter>,
    authz_denials: Family<RouteLabels, Counter>,
    upstream_seconds: Family<UpstreamLabels, Histogram>,
    websockets_open: Family<RouteLabels, Gauge>,
    websocket_closes: Family<CloseLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    issuers: Arc<ArcSwap<Registry>>,
    /// `requests` by (status, route).
    request_handles: Handles<(u16, Box<str>), Counter>,
    /// `upstream_seconds` by upstream.
    upstream_handles: Handles<Box<str>, Histogram>,
}

impl Metrics {
    /// Registers the metric families; the JWKS facts of `issuers` are read at each scrape.
    pub fn new(issuers: Arc<Registry>) -> Self {
        let mut registry = PromRegistry::with_prefix("jwtkit_proxy");
        let requests = Family::<RequestLabels, Counter>::default();
        let auth_failures = Family::<CodeLabels, Counter>::default();
        let authz_denials = Family::<RouteLabels, Counter>::default();
        let upstream_seconds = Family::<UpstreamLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "auth_failures",
            "Rejected tokens by error code",
            auth_failures.clone(),
        );
        registry.register(
            "authz_denials",
            "Valid tokens refused by a route's require_claims, require_scopes or allow_if, by route",
            authz_denials.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Upstream request latency",
            upstream_seconds.clone(),
        );
        let websockets_open = Family::<RouteLabels, Gauge>::default();
        let websocket_closes = Family::<CloseLabels, Counter>::default();
        registry.register(
            "websockets_open",
            "WebSockets relayed now, by route",
            websockets_open.clone(),
        );
        registry.register(
            "websocket_closes",
            "Relayed WebSockets ended, by route and reason",
            websocket_closes.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads by result (ok, refused)",
            reloads.clone(),
        );
        let issuers = Arc::new(ArcSwap::new(issuers));
        registry.register_collector(Box::new(JwksCollector(issuers.clone())));
        Self {
            registry: Mutex::new(registry),
            requests,
            auth_failures,
            authz_denials,
            upstream_seconds,
            websockets_open,
            websocket_closes,
            reloads,
            issuers,
            request_handles: Handles::default(),
            upstream_handles: Handles::default(),
        }
    }

    /// Counts a WebSocket relayed on `route` from now on.
    pub fn websocket_opened(&self, route: &str) {
        self.websockets_open
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .inc();
    }

    /// Counts a relayed WebSocket on `route` ended for `reason`.
    pub fn websocket_closed(&self, route: &str, reason: &'static str) {
        let labels = RouteLabels {
            route: route.to_owned(),
        };
        self.websockets_open.get_or_create(&labels).dec();
        self.websocket_closes
            .get_or_create(&CloseLabels {
                route: labels.route,
                reason,
            })
            .inc();
    }

    /// Reads the key-set facts from `issuers` from now on (the registry of a reloaded
    /// configuration).
    pub fn set_issuers(&self, issuers: Arc<Registry>) {
        self.issuers.store(issuers);
    }

    /// Counts a configuration reload, applied or refused.
    pub fn reload(&self, applied: bool) {
        let result = if applied { "ok" } else { "refused" };
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// Counts a finished request.
    pub fn request(&self, route: &str, status: u16) {
        self.request_handles.with(
            |(s, r)| *s == status && **r == *route,
            || {
                let labels = RequestLabels {
                    route: route.to_owned(),
                    status,
                };
                let counter = self.requests.get_or_create(&labels).clone();
                ((status, route.into()), counter)
            },
            |counter| {
                counter.inc();
            },
        );
    }

    /// Counts a rejected token.
    pub fn auth_failure(&self, code: &str) {
        self.auth_failures
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts a token refused by a route's claim or scope rules (`insufficient_scope`).
    pub fn authz_denial(&self, route: &str) {
        self.authz_denials
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .inc();
    }

    /// Records an upstream round trip.
    pub fn observe_upstream(&self, upstream: &str, elapsed: Duration) {
        self.upstream_handles.with(
            |name| **name == *upstream,
            || {
                let labels = UpstreamLabels {
                    upstream: upstream.to_owned(),
                };
                let histogram = self.upstream_seconds.get_or_create(&labels).clone();
                (upstream.into(), histogram)
            },
            |histogram| histogram.observe(elapsed.as_secs_f64()),
        );
    }

    /// The exposition text (OpenMetrics).
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}
