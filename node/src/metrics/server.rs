//! `/metrics` on `--metrics-addr`, in Prometheus text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::Encoder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::METRICS;
use crate::cluster::ClusterService;
use crate::engine::Engine;
use crate::engine::record::Status;

/// What a scrape reads the point-in-time gauges from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Containers (state gauge).
    pub engine: Engine,
    /// Swarm figures.
    pub cluster: ClusterService,
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics-addr {addr}: {source}")]
pub struct MetricsError {
    addr: String,
    #[source]
    source: std::io::Error,
}

/// Binds `addr` now (a bad address fails the start), then serves until `stop`.
pub async fn bind(addr: &str) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError {
            addr: addr.to_owned(),
            source,
        })
}

/// Serves `/metrics` on `listener` until `stop`.
pub async fn serve(listener: TcpListener, sources: Sources, stop: CancellationToken) {
    if let Ok(a) = listener.local_addr() {
        tracing::info!(addr = %a, "metrics listening");
    }
    let app = axum::Router::new()
        .route("/metrics", get(scrape))
        .with_state(Arc::new(sources));
    let server = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
    if let Err(e) = server.await {
        tracing::error!(error = %e, "metrics server failed");
    }
}

fn refresh(sources: &Sources) {
    let mut counts = [0i64; 3];
    for c in sources.engine.all() {
        match c.status() {
            Status::Running | Status::Restarting => counts[0] += 1,
            Status::Paused => counts[1] += 1,
            _ => counts[2] += 1,
        }
    }
    for (state, n) in ["running", "paused", "stopped"].iter().zip(counts) {
        METRICS.container_states.with_label_values(&[state]).set(n);
    }
    let swarm = sources.cluster.figures();
    METRICS
        .swarm_manager
        .set(if swarm.manager { 1.0 } else { 0.0 });
    METRICS
        .swarm_leader
        .set(if swarm.leader { 1.0 } else { 0.0 });
    if !swarm.manager {
        // Left the swarm or a worker: no cluster store to count, so no stale counts either.
        METRICS.swarm_nodes.reset();
        METRICS.swarm_tasks.reset();
    }
    for (state, n) in &swarm.nodes_by_state {
        METRICS.swarm_nodes.with_label_values(&[state]).set(*n);
    }
    for (state, n) in &swarm.tasks_by_state {
        METRICS.swarm_tasks.with_label_values(&[state]).set(*n);
    }
    for (what, g) in &METRICS.swarm_totals {
        g.set(swarm.totals.get(what).copied().unwrap_or(0));
    }
}

async fn scrape(State(sources): State<Arc<Sources>>) -> impl IntoResponse {
    let _span = tracing::debug_span!("metrics_scrape").entered();
    refresh(&sources);
    let encoder = prometheus::TextEncoder::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    match encoder.encode(&METRICS.registry.gather(), &mut buf) {
        Ok(()) => (
            StatusCode::OK,
            [(CONTENT_TYPE, encoder.format_type().to_owned())],
            buf,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
