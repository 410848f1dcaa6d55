//! Prometheus metrics: one process-wide registry. The HTTP layer counts
//! requests and their latency, slots count plugin calls by outcome and
//! time them, the store times its durable writes, and queue depth is read
//! from the engine at scrape time. Served as text at `/metrics`.

use std::sync::OnceLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub plugin_calls: IntCounterVec,
    pub plugin_duration: HistogramVec,
    pub store_write_duration: HistogramVec,
    pub queue_depth: IntGaugeVec,
    pub missed_offers: IntCounterVec,
    pub agent_missed_offers: IntCounterVec,
    pub http_connections_open: IntGauge,
    pub http_connections_refused: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("switchboard".into()), None)?;
    let http_requests = IntCounterVec::new(
        Opts::new("http_requests_total", "HTTP requests by route and status"),
        &["method", "route", "status"],
    )?;
    let http_duration = HistogramVec::new(
        HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
            .buckets(LATENCY_BUCKETS.to_vec()),
        &["method", "route"],
    )?;
    let plugin_calls = IntCounterVec::new(
        Opts::new(
            "plugin_calls_total",
            "Plugin calls by slot, plugin version and outcome (ok, error, trap, timeout, invalid)",
        ),
        &["slot", "plugin", "version", "outcome"],
    )?;
    let plugin_duration = HistogramVec::new(
        HistogramOpts::new("plugin_call_duration_seconds", "Plugin call latency")
            .buckets(LATENCY_BUCKETS.to_vec()),
        &["slot", "plugin"],
    )?;
    let store_write_duration = HistogramVec::new(
        HistogramOpts::new(
            "store_durable_write_duration_seconds",
            "Time a writer waits for its writes to be on disk (group commit)",
        )
        .buckets(LATENCY_BUCKETS.to_vec()),
        &["store"],
    )?;
    let queue_depth = IntGaugeVec::new(
        Opts::new("queue_depth", "Contacts waiting, by queue"),
        &["queue"],
    )?;
    let missed_offers = IntCounterVec::new(
        Opts::new(
            "missed_offers_total",
            "Offers that expired unanswered (the queue's offer_timeout_secs), by queue",
        ),
        &["queue"],
    )?;
    let agent_missed_offers = IntCounterVec::new(
        Opts::new(
            "agent_missed_offers_total",
            "Offers that expired unanswered, by the agent who was offered the contact",
        ),
        &["agent"],
    )?;
    registry.register(Box::new(missed_offers.clone()))?;
    registry.register(Box::new(agent_missed_offers.clone()))?;
    let http_connections_open = IntGauge::new("http_connections_open", "Open HTTP connections")?;
    let http_connections_refused = IntCounterVec::new(
        Opts::new(
            "http_connections_refused_total",
            "HTTP connections refused at the connection limits, by reason (server_full, peer_full)",
        ),
        &["reason"],
    )?;
    registry.register(Box::new(http_connections_open.clone()))?;
    registry.register(Box::new(http_connections_refused.clone()))?;
    registry.register(Box::new(http_requests.clone()))?;
    registry.register(Box::new(http_duration.clone()))?;
    registry.register(Box::new(plugin_calls.clone()))?;
    registry.register(Box::new(plugin_duration.clone()))?;
    registry.register(Box::new(store_write_duration.clone()))?;
    registry.register(Box::new(queue_depth.clone()))?;
    Ok(Metrics {
        registry,
        http_requests,
        http_duration,
        plugin_calls,
        plugin_duration,
        store_write_duration,
        queue_depth,
        missed_offers,
        agent_missed_offers,
        http_connections_open,
        http_connections_refused,
    })
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    // The names and labels above are constant and valid.
    #[allow(clippy::expect_used)]
    M.get_or_init(|| build().expect("metric definitions are valid"))
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
