//! Prometheus metrics: requests by route and status, auth failures by code, upstream latency,
//! and the key-set facts of every JWKS-backed issuer (read at scrape time).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use jwtkit_verify::Registry;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry as PromRegistry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

/// A JWKS metric family rendered at scrape time: name, type, help, value of one issuer's stats.
type JwksFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&jwtkit_verify::JwksStats) -> f64,
);

/// The proxy's metrics.
pub struct Metrics {
    registry: Mutex<PromRegistry>,
    requests: Family<RequestLabels, Counter>,
    auth_failures: Family<CodeLabels, Counter>,
    upstream_seconds: Family<UpstreamLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers the metric families.
    pub fn new() -> Self {
        let mut registry = PromRegistry::with_prefix("jwtkit_proxy");
        let requests = Family::<RequestLabels, Counter>::default();
        let auth_failures = Family::<CodeLabels, Counter>::default();
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
            "upstream_request_duration_seconds",
            "Upstream request latency",
            upstream_seconds.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            auth_failures,
            upstream_seconds,
        }
    }

    /// Counts a finished request.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// Counts a rejected token.
    pub fn auth_failure(&self, code: &str) {
        self.auth_failures
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// Records an upstream round trip.
    pub fn observe_upstream(&self, upstream: &str, elapsed: Duration) {
        self.upstream_seconds
            .get_or_create(&UpstreamLabels {
                upstream: upstream.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text, with JWKS facts of `issuers` appended.
    pub fn render(&self, issuers: &Registry) -> String {
        let mut text = String::new();
        {
            let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            let _ = encode(&mut text, &registry);
        }
        // Drop the trailing "# EOF" so the JWKS families can follow; re-add it at the end.
        if let Some(stripped) = text.strip_suffix("# EOF\n") {
            text.truncate(stripped.len());
        }
        let stats = issuers.jwks_stats();
        let families: [JwksFamily; 6] = [
            (
                "jwtkit_proxy_jwks_fetches_total",
                "counter",
                "JWKS fetch attempts",
                |s| s.fetches as f64,
            ),
            (
                "jwtkit_proxy_jwks_fetch_errors_total",
                "counter",
                "Failed JWKS or discovery fetches",
                |s| s.fetch_errors as f64,
            ),
            (
                "jwtkit_proxy_jwks_cooldown_hits_total",
                "counter",
                "Unknown-kid refreshes refused by the cooldown",
                |s| s.cooldown_hits as f64,
            ),
            (
                "jwtkit_proxy_jwks_stale_serves_total",
                "counter",
                "Lookups answered by a key set past its lifetime",
                |s| s.stale_serves as f64,
            ),
            (
                "jwtkit_proxy_jwks_keys",
                "gauge",
                "Usable keys in the current set",
                |s| s.key_count as f64,
            ),
            (
                "jwtkit_proxy_jwks_key_set_age_seconds",
                "gauge",
                "Age of the current key set (-1 before the first fetch)",
                |s| s.age.map_or(-1.0, |a| a.as_secs_f64()),
            ),
        ];
        for (name, kind, help, value) in families {
            // OpenMetrics: a counter family is named without `_total`, its samples with it.
            let family = name.trim_end_matches("_total");
            let _ = writeln!(text, "# HELP {family} {help}.\n# TYPE {family} {kind}");
            for (issuer, stat) in &stats {
                let _ = writeln!(
                    text,
                    "{name}{{issuer=\"{}\"}} {}",
                    issuer.replace(['"', '\\', '\n'], "_"),
                    value(stat)
                );
            }
        }
        text.push_str("# EOF\n");
        text
    }
}
