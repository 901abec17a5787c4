//! The node's metrics, in a `prometheus-client` registry rendered in the OpenMetrics text format
//! on `GET /metrics`.
//!
//! Counters only go up and are kept in memory (they restart at zero with the process, as
//! Prometheus expects); the stored-data gauges are set from the store's exact, persisted
//! statistics when the registry is rendered. Latencies are histograms: inbound requests by
//! protocol (handler time, queueing excluded), and blob syncs from start to outcome.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::storage::{SpaceStatus, StorageStats};

/// An inbound request's protocol and result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// The protocol (`/floe/get-sliver/1`, …).
    pub protocol: String,
    /// `ok`, or the refusal's label (`busy`, `not_registered`, …).
    pub result: String,
}

/// An inbound request's protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ProtocolLabels {
    /// The protocol.
    pub protocol: String,
}

/// Latency buckets from 1 ms to about 16 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The node's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Bytes of recovery responses (symbols, proofs) and metadata received while recovering.
    pub recovery_bytes_received: Counter,
    /// Slivers rebuilt from peers' symbols.
    pub slivers_recovered: Counter,
    /// Blobs whose slivers were all recovered.
    pub blobs_recovered: Counter,
    /// Recovery attempts that failed (retried later).
    pub recovery_failures: Counter,
    /// Blobs found inconsistent by this node.
    pub inconsistencies_found: Counter,
    /// Blob data deleted by garbage collection.
    pub gc_blobs_deleted: Counter,
    /// Bytes freed by garbage collection.
    pub gc_bytes_deleted: Counter,
    /// fsyncs of the write-ahead log before signing confirmations (set from the store).
    wal_syncs: Counter,
    /// Data writes refused because the disk was full (set from the store).
    writes_refused_full: Counter,
    /// Slivers received from a shard's previous holder (shard sync).
    pub shard_slivers_received: Counter,
    /// Bytes of slivers received by shard sync.
    pub shard_bytes_received: Counter,
    /// Shard pulls that failed and fell back to recovery.
    pub shard_sync_fallbacks: Counter,
    /// Epoch changes whose gained shards this node synced and reported.
    pub epoch_syncs_reported: Counter,
    /// Slivers of handed-over shards deleted after the sync was done.
    pub handed_over_slivers_deleted: Counter,
    /// Ledger block records refused by the follower (bad certificate or unproven results);
    /// each one made the node leave the validator that served it.
    pub ledger_records_rejected: Counter,
    /// Storage proofs the ledger accepted from this node.
    pub challenge_proofs_submitted: Counter,
    /// Challenged symbols this node could not prove from its store (missing or bad sliver).
    pub challenge_prove_failures: Counter,
    /// Settled challenge rounds this node passed.
    pub challenge_rounds_passed: Counter,
    /// Settled challenge rounds this node failed (forfeiting the epoch's rewards).
    pub challenge_rounds_failed: Counter,
    challenge_epoch: Gauge,
    challenge_proved: Gauge,
    /// How long a blob sync took, from its start to its outcome (seconds).
    pub blob_sync_seconds: Histogram,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<ProtocolLabels, Histogram, fn() -> Histogram>,
    stored_bytes: Gauge,
    slivers_stored: Gauge,
    blobs_stored: Gauge,
    ledger_height: Gauge,
    epoch: Gauge,
    shards: Gauge,
    blobs_recovering: Gauge,
    storage_full: Gauge,
    storage_free_bytes: Gauge,
    long_polls: Gauge,
    /// Serialises rendering (gauges are set, then the registry encoded).
    render: Mutex<()>,
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
    /// fsyncs of the write-ahead log made before signing confirmations.
    pub wal_syncs: u64,
    /// Free space and whether the store takes data writes.
    pub space: SpaceStatus,
    /// Confirmation requests waiting for slivers.
    pub long_polls: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("floe_node"),
            recovery_bytes_received: Counter::default(),
            slivers_recovered: Counter::default(),
            blobs_recovered: Counter::default(),
            recovery_failures: Counter::default(),
            inconsistencies_found: Counter::default(),
            gc_blobs_deleted: Counter::default(),
            gc_bytes_deleted: Counter::default(),
            wal_syncs: Counter::default(),
            writes_refused_full: Counter::default(),
            shard_slivers_received: Counter::default(),
            shard_bytes_received: Counter::default(),
            shard_sync_fallbacks: Counter::default(),
            epoch_syncs_reported: Counter::default(),
            handed_over_slivers_deleted: Counter::default(),
            ledger_records_rejected: Counter::default(),
            challenge_proofs_submitted: Counter::default(),
            challenge_prove_failures: Counter::default(),
            challenge_rounds_passed: Counter::default(),
            challenge_rounds_failed: Counter::default(),
            challenge_epoch: Gauge::default(),
            challenge_proved: Gauge::default(),
            blob_sync_seconds: latency(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency),
            stored_bytes: Gauge::default(),
            slivers_stored: Gauge::default(),
            blobs_stored: Gauge::default(),
            ledger_height: Gauge::default(),
            epoch: Gauge::default(),
            shards: Gauge::default(),
            blobs_recovering: Gauge::default(),
            storage_full: Gauge::default(),
            storage_free_bytes: Gauge::default(),
            long_polls: Gauge::default(),
            render: Mutex::new(()),
        };
        m.register();
        m
    }
}

impl Metrics {
    /// The latest challenge round followed, and whether this node's proofs were accepted.
    pub fn set_challenge_round(&self, epoch: floe_common::Epoch, proved: bool) {
        self.challenge_epoch.set(i64::from(epoch.0));
        self.challenge_proved.set(i64::from(proved));
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        for (name, help, gauge) in [
            (
                "stored_bytes",
                "Bytes of slivers and metadata stored",
                &self.stored_bytes,
            ),
            (
                "slivers_stored",
                "Slivers stored (both axes)",
                &self.slivers_stored,
            ),
            (
                "blobs_stored",
                "Blobs whose metadata is stored",
                &self.blobs_stored,
            ),
            (
                "ledger_height",
                "Last ledger block applied",
                &self.ledger_height,
            ),
            ("epoch", "Current epoch", &self.epoch),
            ("shards", "Shards held", &self.shards),
            (
                "blobs_recovering",
                "Certified blobs queued for sliver recovery",
                &self.blobs_recovering,
            ),
            (
                "storage_full",
                "1 while the disk is too full to take new data (metadata and slivers are refused with storage_full; reads go on), else 0",
                &self.storage_full,
            ),
            (
                "storage_free_bytes",
                "Bytes free on the file system of the store",
                &self.storage_free_bytes,
            ),
            (
                "long_polls",
                "Confirmation requests waiting for slivers (bounded by the long-poll budget)",
                &self.long_polls,
            ),
            (
                "challenge_epoch",
                "Epoch of the latest storage challenge round followed",
                &self.challenge_epoch,
            ),
            (
                "challenge_proved",
                "1 once the ledger accepted this node's proofs for that round, else 0",
                &self.challenge_proved,
            ),
        ] {
            r.register(name, help, gauge.clone());
        }
        for (name, help, counter) in [
            (
                "shard_slivers_received",
                "Slivers received from a shard's previous holder",
                &self.shard_slivers_received,
            ),
            (
                "shard_bytes_received",
                "Sliver bytes received from a shard's previous holder",
                &self.shard_bytes_received,
            ),
            (
                "shard_sync_fallbacks",
                "Shard pulls that failed and fell back to recovery from the committee",
                &self.shard_sync_fallbacks,
            ),
            (
                "epoch_syncs_reported",
                "Epoch changes whose gained shards were synced and reported to the ledger",
                &self.epoch_syncs_reported,
            ),
            (
                "handed_over_slivers_deleted",
                "Slivers of shards handed to other nodes, deleted after the sync was done",
                &self.handed_over_slivers_deleted,
            ),
            (
                "ledger_records_rejected",
                "Ledger block records refused (certificate or results failed to verify); the validator that served each was left",
                &self.ledger_records_rejected,
            ),
            (
                "recovery_bytes_received",
                "Bytes received from peers while recovering slivers (symbols, proofs, metadata)",
                &self.recovery_bytes_received,
            ),
            (
                "slivers_recovered",
                "Slivers rebuilt from peers' recovery symbols",
                &self.slivers_recovered,
            ),
            (
                "blobs_recovered",
                "Blobs whose missing slivers were all recovered",
                &self.blobs_recovered,
            ),
            (
                "recovery_failures",
                "Recovery attempts that failed and were rescheduled",
                &self.recovery_failures,
            ),
            (
                "inconsistencies_found",
                "Blobs this node proved inconsistently encoded",
                &self.inconsistencies_found,
            ),
            (
                "gc_blobs_deleted",
                "Blobs whose data garbage collection deleted",
                &self.gc_blobs_deleted,
            ),
            (
                "gc_bytes_deleted",
                "Bytes freed by garbage collection",
                &self.gc_bytes_deleted,
            ),
            (
                "wal_syncs",
                "fsyncs of the write-ahead log before signing storage confirmations (one serves all confirmations waiting on it)",
                &self.wal_syncs,
            ),
            (
                "challenge_proofs_submitted",
                "Storage proofs the ledger accepted from this node",
                &self.challenge_proofs_submitted,
            ),
            (
                "challenge_prove_failures",
                "Challenged symbols this node could not prove from its store (missing or bad sliver)",
                &self.challenge_prove_failures,
            ),
            (
                "challenge_rounds_passed",
                "Settled storage challenge rounds this node passed",
                &self.challenge_rounds_passed,
            ),
            (
                "challenge_rounds_failed",
                "Settled storage challenge rounds this node failed (the epoch's rewards are forfeited)",
                &self.challenge_rounds_failed,
            ),
            (
                "writes_refused_full",
                "Metadata and sliver writes refused because the disk was full",
                &self.writes_refused_full,
            ),
        ] {
            r.register(name, help, counter.clone());
        }
        r.register(
            "requests",
            "Inbound requests answered, by protocol and result",
            self.requests.clone(),
        );
        r.register(
            "request_seconds",
            "Time to answer an inbound request, by protocol",
            self.request_seconds.clone(),
        );
        r.register(
            "blob_sync_seconds",
            "Time from the start of a blob sync to its outcome",
            self.blob_sync_seconds.clone(),
        );
    }

    /// Counts an answered inbound request and its handling time.
    pub fn request(&self, protocol: &'static str, result: &'static str, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                protocol: protocol.into(),
                result: result.into(),
            })
            .inc();
        self.request_seconds
            .get_or_create(&ProtocolLabels {
                protocol: protocol.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The requests answered with `(protocol, result)`.
    pub fn requests(&self, protocol: &str, result: &str) -> u64 {
        self.requests
            .get_or_create(&RequestLabels {
                protocol: protocol.into(),
                result: result.into(),
            })
            .get()
    }

    /// The OpenMetrics text of every metric, with the gauges set from `g`.
    pub fn render(&self, g: &Gauges) -> String {
        let _one_at_a_time = self
            .render
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let set = |gauge: &Gauge, v: u64| gauge.set(i64::try_from(v).unwrap_or(i64::MAX));
        set(&self.stored_bytes, g.stored.bytes);
        set(&self.slivers_stored, g.stored.slivers);
        set(&self.blobs_stored, g.stored.blobs);
        set(&self.ledger_height, g.ledger_height);
        set(&self.epoch, u64::from(g.epoch));
        set(&self.shards, g.shards);
        set(&self.blobs_recovering, g.recovering);
        set(&self.storage_full, u64::from(g.space.full));
        set(&self.storage_free_bytes, g.space.available.unwrap_or(0));
        set(&self.long_polls, g.long_polls);
        for (counter, total) in [
            (&self.wal_syncs, g.wal_syncs),
            (&self.writes_refused_full, g.space.refused),
        ] {
            let counted = counter.get();
            if total > counted {
                counter.inc_by(total - counted);
            }
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_text() {
        let m = Metrics::default();
        m.request("/floe/get-sliver/1", "ok", Duration::from_millis(3));
        m.request("/floe/get-sliver/1", "ok", Duration::from_millis(40));
        m.request("/floe/put-sliver/1", "bad_sliver", Duration::from_millis(1));
        m.recovery_bytes_received.inc_by(1234);
        m.blob_sync_seconds.observe(0.5);
        let text = m.render(&Gauges {
            stored: StorageStats {
                slivers: 7,
                bytes: 99,
                blobs: 1,
            },
            space: SpaceStatus {
                full: true,
                available: Some(5),
                min_free: 10,
                refused: 3,
            },
            ..Gauges::default()
        });
        assert!(text.contains("floe_node_stored_bytes 99\n"), "{text}");
        assert!(text.contains("floe_node_storage_full 1\n"), "{text}");
        assert!(text.contains("floe_node_storage_free_bytes 5\n"), "{text}");
        assert!(
            text.contains("floe_node_writes_refused_full_total 3\n"),
            "{text}"
        );
        assert!(text.contains("floe_node_slivers_stored 7\n"));
        assert!(text.contains("floe_node_recovery_bytes_received_total 1234\n"));
        assert!(text.contains("floe_node_slivers_recovered_total 0\n"));
        assert!(text.contains(
            "floe_node_requests_total{protocol=\"/floe/get-sliver/1\",result=\"ok\"} 2\n"
        ));
        assert!(text.contains(
            "floe_node_requests_total{protocol=\"/floe/put-sliver/1\",result=\"bad_sliver\"} 1\n"
        ));
        // The latency histogram: two observations, one at or under 4 ms.
        assert!(
            text.contains("floe_node_request_seconds_count{protocol=\"/floe/get-sliver/1\"} 2\n")
        );
        assert!(
            text.contains(
                "floe_node_request_seconds_bucket{le=\"0.004\",protocol=\"/floe/get-sliver/1\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("floe_node_blob_sync_seconds_count 1\n"));
        assert!(text.ends_with("# EOF\n"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = line.rsplit_once(' ').unwrap();
            v.parse::<f64>().unwrap();
        }
        assert_eq!(m.requests("/floe/get-sliver/1", "ok"), 2);
    }
}
