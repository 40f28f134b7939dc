//! `GET /health`, `GET /ready` and `GET /metrics`: the proxy's own state, without
//! authentication. Each handler takes only the part of the state it reads.

use std::sync::Arc;
use std::time::Duration;

use crate::front::FixedRoutes;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwtkit_verify::Registry;

use crate::metrics::Metrics;
use crate::upstream::Upstream;

/// What the three endpoints read.
#[derive(Clone)]
struct Status {
    registry: Arc<Registry>,
    upstreams: Arc<[Arc<Upstream>]>,
    metrics: Arc<Metrics>,
}

impl FromRef<Status> for Arc<Registry> {
    fn from_ref(status: &Status) -> Self {
        status.registry.clone()
    }
}

impl FromRef<Status> for Arc<[Arc<Upstream>]> {
    fn from_ref(status: &Status) -> Self {
        status.upstreams.clone()
    }
}

impl FromRef<Status> for Arc<Metrics> {
    fn from_ref(status: &Status) -> Self {
        status.metrics.clone()
    }
}

/// The three endpoints, over the issuers of `registry`, the `upstreams` and the `metrics`.
pub fn router<S>(
    registry: Arc<Registry>,
    upstreams: Vec<Arc<Upstream>>,
    metrics: Arc<Metrics>,
) -> FixedRoutes<S>
where
    S: Clone + Send + Sync + 'static,
{
    FixedRoutes::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .with_state(Status {
            registry,
            upstreams: upstreams.into(),
            metrics,
        })
}

/// Liveness, plus whether each upstream answers at all (as the FastAPI proxy's /health did).
async fn health(State(upstreams): State<Arc<[Arc<Upstream>]>>) -> Response {
    let mut reachable = serde_json::Map::new();
    for upstream in upstreams.iter() {
        let answers = upstream.is_reachable(Duration::from_secs(2)).await;
        reachable.insert(
            upstream.name.clone(),
            serde_json::json!({ "reachable": answers }),
        );
    }
    let body = serde_json::json!({"status": "healthy", "timestamp": crate::error::timestamp(), "upstreams": reachable});
    axum::Json(body).into_response()
}

/// Ready when every issuer's keys are loaded (and usable).
async fn ready(State(registry): State<Arc<Registry>>) -> Response {
    if !registry.is_ready() {
        // A probe is a good moment to try again.
        let _ = registry.warm_up().await;
    }
    let issuers: serde_json::Map<String, serde_json::Value> = registry
        .jwks_stats()
        .into_iter()
        .map(|(name, stats)| {
            (
                name.to_string(),
                serde_json::json!({"keys": stats.key_count, "last_error": stats.last_error}),
            )
        })
        .collect();
    let ready = registry.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({"ready": ready, "issuers": issuers})),
    )
        .into_response()
}

/// The metrics in OpenMetrics text.
async fn render(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
