//! The ledger's cost of a challenge round, through its real state machine: the block that
//! starts the round (the live-blob snapshot), and the `SubmitStorageProofs` transactions of
//! every node.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use floe_common::challenge::snapshot_root;
use floe_common::encoding::{EncodeOptions, encode_blob_with};
use floe_common::hash::Digest;
use floe_common::{BlobId, EncodedBlob, EncodingConfig, Epoch};
use floe_ledger::{EpochEvent, Event, SignedTransaction, TxKind, node_id_of};
use serde_json::{Value, json};

use crate::net::{CHAIN, K, NODES, Net, SHARDS, Stakes, genesis, node_key, user_key};
use crate::proofs::{blob_bytes, prove, round3};

fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1e3)
}

/// The live blobs of the round the block's events start, or an error if none starts.
fn round_started(events: &[Event]) -> anyhow::Result<u64> {
    events
        .iter()
        .find_map(|e| match e {
            Event::Epoch(EpochEvent::ChallengesStarted { live_blobs, .. }) => Some(*live_blobs),
            _ => None,
        })
        .context("the block did not start a challenge round")
}

/// What the epoch-change block cost: the block itself (the epoch state machine, snapshot
/// included) and taking its state changes (the entries a validator writes to its store).
struct EpochChange {
    live_blobs: u64,
    block: Duration,
    changes: Duration,
    changes_bytes: usize,
}

impl EpochChange {
    /// Moves `net` to its epoch's midpoint (the next committee is selected, untimed) and then
    /// times the block that starts the next epoch and its round.
    fn measure(net: &mut Net) -> anyhow::Result<EpochChange> {
        net.block_at_midpoint();
        // Everything before the boundary block is in earlier blocks' writes.
        net.take_changes();
        let start = Instant::now();
        let events = net.block_at_next_epoch();
        let block = start.elapsed();
        let start = Instant::now();
        let changes_bytes = net.take_changes();
        let changes = start.elapsed();
        Ok(EpochChange {
            live_blobs: round_started(&events)?,
            block,
            changes,
            changes_bytes,
        })
    }

    fn json(&self) -> Value {
        json!({
            "live_blobs": self.live_blobs,
            "block_ms": ms(self.block),
            "take_changes_ms": ms(self.changes),
            "changes_bytes": self.changes_bytes,
        })
    }
}

/// Encodes `count` blobs of `len` bytes at 1000 shards and stores them (live for 3 epochs).
fn store_real_blobs(
    net: &mut Net,
    count: usize,
    len: usize,
) -> anyhow::Result<BTreeMap<BlobId, EncodedBlob>> {
    let config = EncodingConfig::new(SHARDS)?;
    let user = user_key();
    let mut blobs = BTreeMap::new();
    for i in 0..count {
        let data = blob_bytes(len, i as u8);
        let enc = encode_blob_with(&config, &data, EncodeOptions { threads: 2 })?;
        let md = enc.metadata.metadata();
        let id = net.store(&user, md.root(), md.unencoded_length, 3)?;
        ensure!(id == enc.blob_id(), "the ledger derived another blob id");
        blobs.insert(id, enc);
    }
    Ok(blobs)
}

/// Figure 3: 100 nodes × k = 20 at 1000 shards, with `real_blobs` real blobs of `blob_len`
/// bytes. Every node's proofs must be accepted.
pub fn round(real_blobs: usize, blob_len: usize) -> anyhow::Result<Value> {
    let mut net = Net::new(&genesis(Stakes::Equal))?;
    let config = EncodingConfig::new(SHARDS)?;
    eprintln!("ledger: storing {real_blobs} blobs of {blob_len} bytes at {SHARDS} shards");
    let blobs = store_real_blobs(&mut net, real_blobs, blob_len)?;
    let change = EpochChange::measure(&mut net)?;
    ensure!(net.state.epoch() == Epoch(1), "not in epoch 1");
    ensure!(
        change.live_blobs == real_blobs as u64,
        "{} live blobs in the snapshot, {real_blobs} stored",
        change.live_blobs
    );

    // What the nodes prepare (not the ledger's cost): their proofs, in draw order.
    let mut txs = Vec::with_capacity(NODES);
    for i in 0..NODES {
        let key = node_key(i);
        let draws = net.state.challenge_draws(&node_id_of(&key.public()));
        ensure!(
            draws.len() == usize::from(K),
            "node {i} has {} draws",
            draws.len()
        );
        let proofs = draws
            .iter()
            .map(|(blob_id, c)| prove(&config, &blobs[blob_id], c))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let kind = TxKind::SubmitStorageProofs {
            epoch: Epoch(1),
            first: 0,
            proofs,
        };
        let tx = net.transaction(&key, net.nonce(&key), kind);
        txs.push((key, tx));
    }

    // One block within the window holds the 100 submissions.
    net.block_at(net.time_ms() + 1_000);
    net.take_changes();
    let (mut total, mut validator) = (Duration::ZERO, Duration::ZERO);
    let (mut tx_bytes, mut fees, mut proved) = (0usize, 0u64, 0usize);
    for (key, tx) in txs {
        let start = Instant::now();
        let bytes = SignedTransaction::sign(&key, tx, CHAIN).encode();
        let signed = Instant::now();
        let verified = SignedTransaction::decode(&bytes)?.verify(CHAIN)?;
        let ctx = net.next_ctx();
        let fx = floe_ledger::apply(&mut net.state, &verified, &ctx)?;
        let end = Instant::now();
        total += end - start;
        validator += end - signed;
        tx_bytes += bytes.len();
        fees += fx.fee_charged.0;
        proved += usize::from(
            fx.events
                .iter()
                .any(|e| matches!(e, Event::Epoch(EpochEvent::StorageProved { proofs: K, .. }))),
        );
    }
    let start = Instant::now();
    let proofs_changes_bytes = net.take_changes();
    let proofs_changes = start.elapsed();
    let passed = net.state.challenge_round().map_or(0, |r| r.passed.len());
    if proved != NODES || passed != NODES {
        bail!("{proved} StorageProved events and {passed} nodes passed, expected {NODES}");
    }
    let per_tx = |d: Duration| round3(d.as_secs_f64() * 1e3 / NODES as f64);
    Ok(json!({
        "nodes": NODES,
        "shards": SHARDS,
        "k": K,
        "real_blobs": real_blobs,
        "real_blob_bytes": blob_len,
        "passed": passed,
        "proofs_total_ms": ms(total),
        "proofs_ms_per_tx": per_tx(total),
        "validator_total_ms": ms(validator),
        "validator_ms_per_tx": per_tx(validator),
        "proofs_take_changes_ms": ms(proofs_changes),
        "proofs_changes_bytes": proofs_changes_bytes,
        "tx_bytes_total": tx_bytes,
        "tx_bytes_per_node": tx_bytes / NODES,
        "fee_total_frost": fees,
        "min_fee_frost": net.min_fee().0,
        "epoch_change": change.json(),
    }))
}

/// The epoch change at scale: `blobs` made-up blobs (certified records are all the snapshot
/// reads), stored in epoch 1 of a network whose node 0 holds a quorum alone, so each
/// certificate is one signature. Times the change 0 → 1 without live blobs and 1 → 2 with
/// them.
pub fn scale(blobs: usize) -> anyhow::Result<Value> {
    let mut net = Net::new(&genesis(Stakes::Dominant))?;
    let empty = EpochChange::measure(&mut net)?;
    ensure!(empty.live_blobs == 0, "live blobs before any was stored");
    let user = user_key();
    let start = Instant::now();
    for i in 0..blobs {
        let root = Digest(*blake3::hash(&(i as u64).to_le_bytes()).as_bytes());
        net.store(&user, root, 1000, 2)?;
        if (i + 1) % 20_000 == 0 {
            eprintln!("scale: {} blobs stored", i + 1);
        }
    }
    let setup = start.elapsed();
    let full = EpochChange::measure(&mut net)?;
    ensure!(
        full.live_blobs == blobs as u64,
        "{} live blobs in the snapshot, {blobs} stored",
        full.live_blobs
    );
    // The part of the change that hashes the snapshot (its Merkle root), on its own.
    let ids = net.state.challenge_blobs().to_vec();
    let start = Instant::now();
    std::hint::black_box(snapshot_root(std::hint::black_box(&ids)));
    let root = start.elapsed();
    Ok(json!({
        "snapshot_live_blobs": blobs,
        "without_blobs": empty.json(),
        "with_blobs": full.json(),
        "snapshot_root_ms": ms(root),
        "store_setup_s": round3(setup.as_secs_f64()),
    }))
}
