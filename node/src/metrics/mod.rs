//! Prometheus metrics: dockerd's names where they apply, swarm ones where Shoal has the
//! data, and the API's latency per route and status.
//!
//! ```text
//! engine verbs ─> METRICS.container_action("start", elapsed)   (backends/containers.rs)
//! network verbs ─> METRICS.network_action("create", elapsed)    (backends/networks.rs)
//! raft proposals ─> ProposalObserver ─> swarm_raft_transaction_latency_seconds (cluster/service.rs)
//! first RUNNING report ─> swarm_dispatcher_scheduling_delay_seconds (cluster/dispatcher/status.rs)
//! events bus   ─> engine_daemon_events_total
//! API middleware ─> shoal_api_request_duration_seconds{method,route,status}
//! scrape (server.rs) ─> gauges read at scrape time: container states, swarm nodes/role
//!                    ─> TextEncoder over the one registry
//! ```
//!
//! Recording is a few atomic adds whether or not `--metrics-addr` is set; only
//! the scrape endpoint is optional.

pub mod server;

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, IntGaugeVec,
    Opts, Registry,
};

/// The daemon's metrics.
#[derive(Debug)]
pub struct Metrics {
    /// Everything below, for the encoder.
    pub registry: Registry,
    container_actions: HistogramVec,
    network_actions: HistogramVec,
    raft_transactions: Histogram,
    scheduling_delay: Histogram,
    /// `engine_daemon_container_states_containers{state}`, set at scrape.
    pub container_states: IntGaugeVec,
    events: IntCounter,
    /// `engine_daemon_engine_info{...}` (always 1).
    pub engine_info: GaugeVec,
    /// `engine_daemon_engine_cpus_cpus`.
    pub cpus: Gauge,
    /// `engine_daemon_engine_memory_bytes`.
    pub memory: Gauge,
    api: HistogramVec,
    /// `swarm_manager_nodes{state}`, set at scrape on managers.
    pub swarm_nodes: IntGaugeVec,
    /// `swarm_manager_tasks_total{state}`, set at scrape on managers.
    pub swarm_tasks: IntGaugeVec,
    /// `swarm_manager_{services,networks,secrets,configs}_total`, set at scrape on managers.
    pub swarm_totals: Vec<(&'static str, IntGauge)>,
    /// `swarm_node_manager` (1 on managers), set at scrape.
    pub swarm_manager: Gauge,
    /// `swarm_manager_leader` (1 on the leader), set at scrape.
    pub swarm_leader: Gauge,
}

/// dockerd's buckets for container actions (seconds).
const ACTION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric in one registry.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn register<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: T) -> T {
    if let Err(e) = r.register(Box::new(m.clone())) {
        tracing::error!(error = %e, "registering a metric");
    }
    m
}

impl Metrics {
    // The names, help texts and labels are constants: a construction error is a
    // bug that the unit test below catches, never a run-time condition.
    #[allow(clippy::expect_used)]
    fn new() -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            register(r, HistogramVec::new(opts, labels).expect("histogram"))
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            register(
                r,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("gauge vec"),
            )
        };
        let gauge = |name: &str, help: &str| register(r, Gauge::new(name, help).expect("gauge"));
        let timer = |name: &str, help: &str| {
            let opts = HistogramOpts::new(name, help).buckets(ACTION_BUCKETS.to_vec());
            register(r, Histogram::with_opts(opts).expect("histogram"))
        };
        Metrics {
            container_actions: histogram(
                "engine_daemon_container_actions_seconds",
                "The number of seconds it takes to process each container action",
                &["action"],
                ACTION_BUCKETS,
            ),
            network_actions: histogram(
                "engine_daemon_network_actions_seconds",
                "The number of seconds it takes to process each network action",
                &["action"],
                ACTION_BUCKETS,
            ),
            raft_transactions: timer(
                "swarm_raft_transaction_latency_seconds",
                "Raft transaction latency.",
            ),
            scheduling_delay: timer(
                "swarm_dispatcher_scheduling_delay_seconds",
                "Scheduling delay is the time a task takes to go from NEW to RUNNING state.",
            ),
            container_states: gauge_vec(
                "engine_daemon_container_states_containers",
                "The count of containers in various states",
                &["state"],
            ),
            events: register(
                r,
                IntCounter::new("engine_daemon_events_total", "The number of events logged")
                    .expect("counter"),
            ),
            engine_info: register(
                r,
                GaugeVec::new(
                    Opts::new(
                        "engine_daemon_engine_info",
                        "The information related to the engine and the OS it is running on",
                    ),
                    &[
                        "architecture",
                        "commit",
                        "daemon_id",
                        "graphdriver",
                        "kernel",
                        "os",
                        "os_type",
                        "os_version",
                        "version",
                    ],
                )
                .expect("gauge vec"),
            ),
            cpus: gauge(
                "engine_daemon_engine_cpus_cpus",
                "The number of cpus that the host system of the engine has",
            ),
            memory: gauge(
                "engine_daemon_engine_memory_bytes",
                "The number of bytes of memory that the host system of the engine has",
            ),
            api: histogram(
                "shoal_api_request_duration_seconds",
                "Engine API latency to the response head, by route template and status",
                &["method", "route", "status"],
                prometheus::DEFAULT_BUCKETS,
            ),
            swarm_nodes: gauge_vec(
                "swarm_manager_nodes",
                "The number of nodes in the cluster object store",
                &["state"],
            ),
            swarm_tasks: gauge_vec(
                "swarm_manager_tasks_total",
                "The number of tasks in the cluster object store",
                &["state"],
            ),
            swarm_totals: ["services", "networks", "secrets", "configs"]
                .into_iter()
                .map(|what| {
                    let g = IntGauge::new(
                        format!("swarm_manager_{what}_total"),
                        format!("The number of {what} in the cluster object store"),
                    )
                    .expect("gauge");
                    (what, register(r, g))
                })
                .collect(),
            swarm_manager: gauge(
                "swarm_node_manager",
                "Whether this node is a manager or not",
            ),
            swarm_leader: gauge(
                "swarm_manager_leader",
                "Indicates if this manager node is a leader",
            ),
            registry,
        }
    }

    /// One container action (create, start, stop, restart, kill, delete, ...).
    pub fn container_action(&self, action: &str, elapsed: Duration) {
        self.container_actions
            .with_label_values(&[action])
            .observe(elapsed.as_secs_f64());
    }

    /// One network action (create, connect, disconnect, delete).
    pub fn network_action(&self, action: &str, elapsed: Duration) {
        self.network_actions
            .with_label_values(&[action])
            .observe(elapsed.as_secs_f64());
    }

    /// One Raft proposal written through this manager as leader.
    pub fn raft_transaction(&self, elapsed: Duration) {
        self.raft_transactions.observe(elapsed.as_secs_f64());
    }

    /// One task's time from creation to its first RUNNING report on the leader.
    pub fn scheduling_delay(&self, elapsed: Duration) {
        self.scheduling_delay.observe(elapsed.as_secs_f64());
    }

    /// One event published on `/events`.
    pub fn event(&self) {
        self.events.inc();
    }
}

/// The API middleware's hook into [`METRICS`].
#[derive(Debug, Clone, Copy)]
pub struct ApiMetrics;

impl shoal_api::RequestMetrics for ApiMetrics {
    fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        METRICS
            .api
            .with_label_values(&[method, route, status.as_str()])
            .observe(elapsed.as_secs_f64());
    }
}

/// Times `fut` as container action `action`, success or not (as dockerd does).
pub async fn timed<T>(action: &str, fut: impl std::future::Future<Output = T>) -> T {
    let start = std::time::Instant::now();
    let out = fut.await;
    METRICS.container_action(action, start.elapsed());
    out
}

/// Times `fut` as network action `action`, success or not.
pub async fn timed_network<T>(action: &str, fut: impl std::future::Future<Output = T>) -> T {
    let start = std::time::Instant::now();
    let out = fut.await;
    METRICS.network_action(action, start.elapsed());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_registers_and_encodes() {
        METRICS.container_action("start", Duration::from_millis(3));
        METRICS.event();
        METRICS.network_action("create", Duration::from_millis(1));
        METRICS.raft_transaction(Duration::from_millis(2));
        METRICS.scheduling_delay(Duration::from_millis(40));
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&METRICS.registry.gather())
            .unwrap();
        assert!(text.contains("engine_daemon_container_actions_seconds_bucket{action=\"start\""));
        assert!(text.contains("engine_daemon_events_total"));
        assert!(text.contains("engine_daemon_network_actions_seconds_count{action=\"create\"} 1"));
        assert!(text.contains("swarm_raft_transaction_latency_seconds_count 1"));
        assert!(text.contains("swarm_dispatcher_scheduling_delay_seconds_count 1"));
        assert!(!text.contains("shoal_invalid"));
    }
}
