//! Starts a local cluster of validator processes (the `floe-ledger` binary next to this one),
//! drives it with signed transactions over the RPC, and prints one JSON line:
//! `{"validators":4,"transfers_per_s":…,"certifications_per_s":…,"finality_p50_ms":…,"finality_p99_ms":…}`.
//!
//! Two workloads, each for `--seconds`: transfers (many senders, sequential nonces), then blob
//! certifications (each with a 7-of-10 storage-node certificate over 100 shards, set up by
//! reserve + register transactions beforehand). Transactions are pre-signed, submitted in
//! batches round-robin to the validators at an offered rate, and a follower reads every new
//! block to time submit → final (the moment the block is visible on the RPC).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use floe_common::hash::Digest;
use floe_common::messages::BlobPersistence;
use floe_common::{Epoch, Frost, KeyPair};
use floe_ledger::localnet;
use floe_ledger::{
    Address, Genesis, GenesisNode, LedgerClient, SignedTransaction, Transaction, TxDigest, TxKind,
};
use tokio::sync::Mutex;

/// Benchmark options.
#[derive(Parser)]
#[command(
    name = "floe-ledger-bench",
    version,
    about = "Start a local cluster of validator processes, drive it, and print one JSON line"
)]
pub struct BenchArgs {
    /// Validators to start.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Seconds to drive each workload.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Offered transfer rate (transactions per second).
    #[arg(long, default_value_t = 2000)]
    pub transfer_rate: u64,
    /// Offered certification rate (transactions per second).
    #[arg(long, default_value_t = 700)]
    pub certify_rate: u64,
    /// Target block time of the cluster (ms).
    #[arg(long, default_value_t = 200)]
    pub block_time_ms: u64,
}

const CHAIN: &str = "floe-bench";
const SENDERS: usize = 256;
const NODES: usize = 10;
const SIGNERS: usize = 7;

fn key(tag: u8, i: usize) -> KeyPair {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    KeyPair::from_seed(seed)
}

fn genesis() -> Genesis {
    let funds = Frost(1_000_000 * 1_000_000_000);
    let mut g = Genesis::builder(CHAIN, 100).params(|p| {
        p.epoch_duration_ms = u64::MAX / 4;
        p.storage_price_per_mib_epoch = Frost(1);
        p.write_price_per_mib = Frost(1);
        p.min_fee = Frost(1);
    });
    for i in 0..SENDERS {
        g = g.account(Address::of(&key(1, i).public()), funds);
    }
    for i in 0..NODES {
        g = g.node(GenesisNode {
            commission_bps: 0,
            storage_price_vote: Frost(1),
            write_price_vote: Frost(1),
            capacity_vote: 1 << 50,
            ..GenesisNode::new(
                format!("node-{}", i + 1),
                key(2, i).public(),
                Address::of(&key(1, 0).public()),
                Frost(1_000_000_000),
                "/ip4/127.0.0.1/tcp/1",
                "http://127.0.0.1:1",
            )
        });
    }
    g.build()
}

fn sign(k: &KeyPair, nonce: u64, kind: TxKind) -> SignedTransaction {
    let tx = Transaction {
        sender: Address::of(&k.public()),
        nonce,
        fee: Frost(1),
        kind,
    };
    SignedTransaction::sign(k, tx, CHAIN)
}

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Submission times by digest, and the follower's observations.
#[derive(Default)]
struct Timings {
    submitted: HashMap<TxDigest, Instant>,
    latencies_ms: Vec<f64>,
    committed: usize,
    last_commit: Option<Instant>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.validators == 0 {
        bail!("--validators must be at least 1");
    }
    let dir = tempfile::Builder::new()
        .prefix("floe-ledger-bench")
        .tempdir()?;
    let (genesis, nodes) = localnet::write(
        dir.path(),
        genesis(),
        args.validators,
        None,
        args.block_time_ms,
    )?;
    // The validator binary is built next to this one.
    let exe = std::env::current_exe()?.with_file_name("floe-ledger");
    if !exe.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p floe-ledger)",
            exe.display()
        );
    }
    let mut procs = Procs(Vec::new());
    for n in &nodes {
        let log = std::fs::File::create(n.config.data_dir.with_extension("log"))?;
        procs.0.push(
            Command::new(&exe)
                .args(["run", "--config"])
                .arg(&n.config_path)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting a validator")?,
        );
    }
    let clients: Vec<LedgerClient> = nodes
        .iter()
        .map(|n| LedgerClient::new(vec![n.rpc_url.clone()]))
        .collect();
    wait_height(&clients[0], 2, Duration::from_secs(60)).await?;
    eprintln!("cluster up");

    // Transfers.
    let senders: Vec<KeyPair> = (0..SENDERS).map(|i| key(1, i)).collect();
    let per_sender = (args.transfer_rate * args.seconds) as usize / SENDERS + 1;
    let mut transfers = Vec::with_capacity(per_sender * SENDERS);
    for n in 0..per_sender {
        for (i, k) in senders.iter().enumerate() {
            let to = Address::of(&senders[(i + 1) % SENDERS].public());
            transfers.push(sign(
                k,
                n as u64,
                TxKind::Transfer {
                    to,
                    amount: Frost(1),
                },
            ));
        }
    }
    eprintln!("transfers signed: {}", transfers.len());
    let (tps, mut lat) = drive(&clients, transfers, args.transfer_rate, args.seconds).await?;
    eprintln!("transfers: {tps:.0}/s");

    // Certifications: set up registered blobs, then certify them.
    let committee = genesis.committee()?.committee;
    let node_keys: Vec<KeyPair> = (0..NODES).map(|i| key(2, i)).collect();
    let blobs = (args.certify_rate * args.seconds) as usize;
    let mut nonces: Vec<u64> = Vec::with_capacity(SENDERS);
    for k in &senders {
        nonces.push(clients[0].account(&Address::of(&k.public())).await?.nonce);
    }
    let mut setup = Vec::with_capacity(2 * blobs);
    let mut certs = Vec::with_capacity(blobs);
    for b in 0..blobs {
        let s = b % SENDERS;
        let k = &senders[s];
        let root = Digest(*blake3::hash(&(b as u64).to_le_bytes()).as_bytes());
        let floe_ledger::testkit::BlobRegistration {
            txs: [reserve, register],
            blob_id,
            blob_object,
        } = floe_ledger::testkit::reserve_and_register(
            |nonce, kind| sign(k, nonce, kind),
            nonces[s],
            1024,
            root,
            64 << 20,
            2,
        );
        let certificate = floe_ledger::testkit::confirmation_certificate(
            CHAIN,
            &committee,
            &node_keys,
            Epoch(0),
            blob_id,
            BlobPersistence::Permanent,
            SIGNERS,
        )?;
        setup.push(reserve);
        setup.push(register);
        nonces[s] += 2;
        certs.push((s, blob_object, certificate));
    }
    let mut certify = Vec::with_capacity(blobs);
    for (s, blob_object, certificate) in certs {
        certify.push(sign(
            &senders[s],
            nonces[s],
            TxKind::CertifyBlob {
                blob_object,
                certificate,
            },
        ));
        nonces[s] += 1;
    }
    eprintln!("setting up {blobs} blobs");
    drive(&clients, setup, args.transfer_rate, args.seconds * 3).await?;
    let (cps, lat2) = drive(&clients, certify, args.certify_rate, args.seconds).await?;
    eprintln!("certifications: {cps:.0}/s");
    lat.extend(lat2);
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let line = serde_json::json!({
        "validators": args.validators,
        "transfers_per_s": tps.round(),
        "certifications_per_s": cps.round(),
        "finality_p50_ms": pct(0.50).round(),
        "finality_p99_ms": pct(0.99).round(),
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    drop(procs);
    Ok(())
}

async fn wait_height(c: &LedgerClient, h: u64, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if c.health().await.is_ok_and(|x| x.height >= h) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the cluster did not reach height {h}")
}

/// Submits `txs` at `rate`/s in 20 ms batches round-robin over the validators, follows the
/// blocks, and returns (committed per second over the run, latencies in ms).
async fn drive(
    clients: &[LedgerClient],
    txs: Vec<SignedTransaction>,
    rate: u64,
    max_seconds: u64,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let total = txs.len();
    let timings = Arc::new(Mutex::new(Timings::default()));
    let start_height = clients[0].health().await?.height;
    let done = tokio_util::sync::CancellationToken::new();
    let follower = tokio::spawn(follow(
        clients[0].clone(),
        start_height,
        timings.clone(),
        done.clone(),
    ));
    let start = Instant::now();
    let tick = Duration::from_millis(20);
    let per_tick = ((rate as f64) * tick.as_secs_f64()).ceil() as usize;
    let mut sent = 0usize;
    let mut turn = 0usize;
    let mut ticker = tokio::time::interval(tick);
    while sent < total {
        ticker.tick().await;
        let batch = &txs[sent..(sent + per_tick).min(total)];
        {
            let mut t = timings.lock().await;
            let now = Instant::now();
            for tx in batch {
                t.submitted.insert(tx.digest(), now);
            }
        }
        let client = clients[turn % clients.len()].clone();
        turn += 1;
        let batch = batch.to_vec();
        tokio::spawn(async move {
            if let Err(e) = client.submit_batch(&batch).await {
                eprintln!("submit failed: {e}");
            }
        });
        sent += per_tick.min(total - sent);
    }
    // Wait for the stragglers.
    let deadline = start + Duration::from_secs(max_seconds.max(1) * 3 + 30);
    while Instant::now() < deadline {
        if timings.lock().await.committed >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.cancel();
    let _ = follower.await;
    let t = timings.lock().await;
    let elapsed = t
        .last_commit
        .map_or(f64::NAN, |l| (l - start).as_secs_f64());
    Ok((t.committed as f64 / elapsed, t.latencies_ms.clone()))
}

async fn follow(
    client: LedgerClient,
    mut height: u64,
    timings: Arc<Mutex<Timings>>,
    done: tokio_util::sync::CancellationToken,
) {
    while !done.is_cancelled() {
        let tip = match client.health().await {
            Ok(h) => h.height,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        while height < tip {
            height += 1;
            let Ok(Some(record)) = client.block(height).await else {
                height -= 1;
                break;
            };
            let now = Instant::now();
            let mut t = timings.lock().await;
            for o in &record.outcomes {
                if let Some(sent) = t.submitted.remove(&o.digest) {
                    t.latencies_ms.push((now - sent).as_secs_f64() * 1000.0);
                    t.committed += 1;
                    t.last_commit = Some(now);
                    if let floe_ledger_types::TxStatus::Failure(e) = &o.status {
                        eprintln!("tx failed: {e}");
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
