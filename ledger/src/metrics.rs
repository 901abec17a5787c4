//! A validator's Prometheus metrics, served as OpenMetrics text at `GET /metrics` on its RPC
//! address, prefixed `floe_ledger`:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `height` | | last committed block |
//! | `round` | | the consensus round of the height being decided (0 when all goes well) |
//! | `block_interval_seconds` | | time between consecutive blocks, by their agreed timestamps (histogram) |
//! | `finality_seconds` | | from a transaction's admission to this validator's mempool to its commit (histogram) |
//! | `mempool_transactions`, `mempool_bytes` | | what waits in the pool |
//! | `transactions_total` | `outcome` (`success`, `failed`, `refused`) | committed transactions: executed, failed and charged, or refused without a charge |
//! | `rpc_requests_total` | `route`, `status` | RPC answers by route template |
//! | `rpc_request_seconds` | `route` | time to the answer's head (histogram) |

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use floe_ledger_types::{BlockRecord, TxStatus};

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

fn seconds_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The validator's metrics (shared by the consensus loop and the RPC).
pub struct LedgerMetrics {
    registry: Registry,
    height: Gauge,
    round: Gauge,
    block_interval: Histogram,
    finality: Histogram,
    mempool_transactions: Gauge,
    mempool_bytes: Gauge,
    transactions: Family<OutcomeLabels, Counter<u64, AtomicU64>>,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    render: Mutex<()>,
}

impl std::fmt::Debug for LedgerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerMetrics").finish_non_exhaustive()
    }
}

impl Default for LedgerMetrics {
    fn default() -> Self {
        let m = LedgerMetrics {
            registry: Registry::with_prefix("floe_ledger"),
            height: Gauge::default(),
            round: Gauge::default(),
            block_interval: seconds_histogram(),
            finality: seconds_histogram(),
            mempool_transactions: Gauge::default(),
            mempool_bytes: Gauge::default(),
            transactions: Family::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(seconds_histogram),
            render: Mutex::new(()),
        };
        let mut m = m;
        let r = &mut m.registry;
        r.register("height", "Last committed block", m.height.clone());
        r.register(
            "round",
            "Consensus round of the height being decided",
            m.round.clone(),
        );
        r.register(
            "block_interval_seconds",
            "Time between consecutive blocks, by their agreed timestamps",
            m.block_interval.clone(),
        );
        r.register(
            "finality_seconds",
            "From a transaction's admission to this validator's mempool to its commit",
            m.finality.clone(),
        );
        r.register(
            "mempool_transactions",
            "Transactions waiting in the pool",
            m.mempool_transactions.clone(),
        );
        r.register(
            "mempool_bytes",
            "Bytes of transactions waiting in the pool",
            m.mempool_bytes.clone(),
        );
        r.register(
            "transactions",
            "Committed transactions by outcome (success, failed and charged, refused)",
            m.transactions.clone(),
        );
        r.register(
            "rpc_requests",
            "RPC answers by route and status",
            m.requests.clone(),
        );
        r.register(
            "rpc_request_seconds",
            "Time to an RPC answer's head, by route",
            m.request_seconds.clone(),
        );
        m
    }
}

fn gauge(g: &Gauge, v: u64) {
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
}

impl LedgerMetrics {
    /// A committed block: its height, its interval from the previous block, and its outcomes.
    /// (`previous_timestamp_ms` is `None` for the first block).
    pub fn committed(&self, record: &BlockRecord, previous_timestamp_ms: Option<u64>) {
        let header = &record.block.header;
        gauge(&self.height, header.height);
        if let Some(previous) = previous_timestamp_ms {
            let ms = header.timestamp_ms.saturating_sub(previous);
            self.block_interval.observe(ms as f64 / 1000.0);
        }
        for outcome in &record.outcomes {
            let label = match &outcome.status {
                TxStatus::Success(_) => "success",
                TxStatus::Failure(f) if f.fee_charged.is_some() => "failed",
                TxStatus::Failure(_) => "refused",
            };
            self.transactions
                .get_or_create(&OutcomeLabels { outcome: label })
                .inc();
        }
    }

    /// A transaction committed `latency` after this validator admitted it.
    pub fn finalized(&self, latency: Duration) {
        self.finality.observe(latency.as_secs_f64());
    }

    /// The pool's size.
    pub fn mempool(&self, transactions: usize, bytes: usize) {
        gauge(&self.mempool_transactions, transactions as u64);
        gauge(&self.mempool_bytes, bytes as u64);
    }

    /// The consensus round being played.
    pub fn round(&self, round: u32) {
        gauge(&self.round, u64::from(round));
    }

    /// An RPC answer.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// OpenMetrics text.
    pub fn render(&self) -> String {
        let _one_at_a_time = self.render.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
