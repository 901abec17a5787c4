//! The node's counters, rendered in the Prometheus text format on `GET /metrics`.
//!
//! Counters only go up and are kept in memory (they restart at zero with the process, as
//! Prometheus expects); the stored-data gauges come from the store's exact, persisted
//! statistics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::StorageStats;

/// The node's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Bytes of recovery responses (symbols, proofs) and metadata received while recovering.
    pub recovery_bytes_received: AtomicU64,
    /// Slivers rebuilt from peers' symbols.
    pub slivers_recovered: AtomicU64,
    /// Blobs whose slivers were all recovered.
    pub blobs_recovered: AtomicU64,
    /// Recovery attempts that failed (retried later).
    pub recovery_failures: AtomicU64,
    /// Blobs found inconsistent by this node.
    pub inconsistencies_found: AtomicU64,
    /// Blob data deleted by garbage collection.
    pub gc_blobs_deleted: AtomicU64,
    /// Bytes freed by garbage collection.
    pub gc_bytes_deleted: AtomicU64,
    /// Slivers received from a shard's previous holder (shard sync).
    pub shard_slivers_received: AtomicU64,
    /// Bytes of slivers received by shard sync.
    pub shard_bytes_received: AtomicU64,
    /// Shard pulls that failed and fell back to recovery.
    pub shard_sync_fallbacks: AtomicU64,
    /// Epoch changes whose gained shards this node synced and reported.
    pub epoch_syncs_reported: AtomicU64,
    /// Slivers of handed-over shards deleted after the sync was done.
    pub handed_over_slivers_deleted: AtomicU64,
    requests: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

/// Gauges read at render time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// What the store holds.
    pub stored: StorageStats,
    /// Last applied ledger block.
    pub ledger_height: u64,
    /// Current epoch.
    pub epoch: u32,
    /// Shards held.
    pub shards: u64,
    /// Blobs in the sync queue.
    pub recovering: u64,
}

impl Metrics {
    /// Counts an answered inbound request.
    pub fn request(&self, protocol: &'static str, result: &'static str) {
        let mut m = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.entry((protocol, result)).or_default() += 1;
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The requests answered with `(protocol, result)`.
    pub fn requests(&self, protocol: &str, result: &str) -> u64 {
        let m = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.iter()
            .filter(|((p, r), _)| *p == protocol && *r == result)
            .map(|(_, v)| *v)
            .sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        metric(
            "floe_node_stored_bytes",
            "gauge",
            "Bytes of slivers and metadata stored.",
            g.stored.bytes,
        );
        metric(
            "floe_node_slivers_stored",
            "gauge",
            "Slivers stored (both axes).",
            g.stored.slivers,
        );
        metric(
            "floe_node_blobs_stored",
            "gauge",
            "Blobs whose metadata is stored.",
            g.stored.blobs,
        );
        metric(
            "floe_node_ledger_height",
            "gauge",
            "Last ledger block applied.",
            g.ledger_height,
        );
        metric(
            "floe_node_epoch",
            "gauge",
            "Current epoch.",
            u64::from(g.epoch),
        );
        metric("floe_node_shards", "gauge", "Shards held.", g.shards);
        metric(
            "floe_node_blobs_recovering",
            "gauge",
            "Certified blobs queued for sliver recovery.",
            g.recovering,
        );
        for (name, help, c) in [
            (
                "floe_node_shard_slivers_received_total",
                "Slivers received from a shard's previous holder.",
                &self.shard_slivers_received,
            ),
            (
                "floe_node_shard_bytes_received_total",
                "Sliver bytes received from a shard's previous holder.",
                &self.shard_bytes_received,
            ),
            (
                "floe_node_shard_sync_fallbacks_total",
                "Shard pulls that failed and fell back to recovery from the committee.",
                &self.shard_sync_fallbacks,
            ),
            (
                "floe_node_epoch_syncs_reported_total",
                "Epoch changes whose gained shards were synced and reported to the ledger.",
                &self.epoch_syncs_reported,
            ),
            (
                "floe_node_handed_over_slivers_deleted_total",
                "Slivers of shards handed to other nodes, deleted after the sync was done.",
                &self.handed_over_slivers_deleted,
            ),
        ] {
            metric(name, "counter", help, load(c));
        }
        metric(
            "floe_node_recovery_bytes_received_total",
            "counter",
            "Bytes received from peers while recovering slivers (symbols, proofs, metadata).",
            load(&self.recovery_bytes_received),
        );
        metric(
            "floe_node_slivers_recovered_total",
            "counter",
            "Slivers rebuilt from peers' recovery symbols.",
            load(&self.slivers_recovered),
        );
        metric(
            "floe_node_blobs_recovered_total",
            "counter",
            "Blobs whose missing slivers were all recovered.",
            load(&self.blobs_recovered),
        );
        metric(
            "floe_node_recovery_failures_total",
            "counter",
            "Recovery attempts that failed and were rescheduled.",
            load(&self.recovery_failures),
        );
        metric(
            "floe_node_inconsistencies_found_total",
            "counter",
            "Blobs this node proved inconsistently encoded.",
            load(&self.inconsistencies_found),
        );
        metric(
            "floe_node_gc_blobs_deleted_total",
            "counter",
            "Blobs whose data garbage collection deleted.",
            load(&self.gc_blobs_deleted),
        );
        metric(
            "floe_node_gc_bytes_deleted_total",
            "counter",
            "Bytes freed by garbage collection.",
            load(&self.gc_bytes_deleted),
        );
        let _ = writeln!(
            out,
            "# HELP floe_node_requests_total Inbound requests answered, by protocol and result.\n\
             # TYPE floe_node_requests_total counter"
        );
        let m = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((protocol, result), v) in m.iter() {
            let _ = writeln!(
                out,
                "floe_node_requests_total{{protocol=\"{protocol}\",result=\"{result}\"}} {v}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.request("/floe/get-sliver/1", "ok");
        m.request("/floe/get-sliver/1", "ok");
        m.request("/floe/put-sliver/1", "bad_sliver");
        Metrics::add(&m.recovery_bytes_received, 1234);
        let text = m.render(&Gauges {
            stored: StorageStats {
                slivers: 7,
                bytes: 99,
                blobs: 1,
            },
            ..Gauges::default()
        });
        assert!(text.contains("floe_node_stored_bytes 99\n"));
        assert!(text.contains("floe_node_slivers_stored 7\n"));
        assert!(text.contains("floe_node_recovery_bytes_received_total 1234\n"));
        assert!(text.contains("floe_node_slivers_recovered_total 0\n"));
        assert!(text.contains(
            "floe_node_requests_total{protocol=\"/floe/get-sliver/1\",result=\"ok\"} 2\n"
        ));
        assert!(text.contains(
            "floe_node_requests_total{protocol=\"/floe/put-sliver/1\",result=\"bad_sliver\"} 1\n"
        ));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = line.rsplit_once(' ').unwrap();
            v.parse::<u64>().unwrap();
        }
        assert_eq!(m.requests("/floe/get-sliver/1", "ok"), 2);
    }
}
