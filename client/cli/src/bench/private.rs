//! `floe bench private`: what encryption costs a store and a read, and how fast keys come.
//!
//! One JSON line with: a plain store and read of `size` random bytes; the same bytes sealed
//! (encrypt, store) and read back (read, fetch the key, decrypt; streamed, as `floe read -o`
//! does), with the overheads in percent (medians over `rounds`, each read checked
//! byte-exact); sealing and opening throughput alone; the latency of a full key retrieval
//! (threshold of key servers, shares verified, combined and checked) over `requests` fresh
//! requests, p50 and p99; and the requests per second one key server answers with 16 in
//! flight.

use std::time::{Duration, Instant};

use floe_client::blobs::{BlobClient, ReadError, StoreError, StoreOptions};
use floe_client::files::{self, FilesError};
use floe_client::private::{self, KeyServerSet, PrivateError};
use floe_client::{Floe, FloeError, Wallet};
use floe_common::ConsistencyCheck;
use floe_common::privacy::{BlobNonce, KeyRequest};
use floe_ledger_types::LedgerClient;
use floe_ledger_types::policy::PolicyRule;
use futures::StreamExt as _;
use serde::Serialize;

use super::{mib_s, random_data};

/// Pause after the stores of a round, before its reads: the nodes finish their own work on
/// the new blobs first.
const SETTLE: Duration = Duration::from_secs(3);

/// Requests in flight in the key-server throughput run.
const IN_FLIGHT: usize = 16;

/// `floe bench private`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivateBench {
    /// Bytes stored each way.
    pub size: u64,
    /// Rounds; each time below is the median over them.
    pub rounds: usize,
    /// Key servers and the threshold.
    pub key_servers: usize,
    /// Shares a read needs.
    pub threshold: u16,
    /// Plain store (ms).
    pub store_plain_ms: f64,
    /// Seal, then store the ciphertext (ms).
    pub store_private_ms: f64,
    /// `store_private_ms / store_plain_ms − 1`, in percent.
    pub store_overhead_pct: f64,
    /// Plain read as `floe read -o` does it (open, peek at the first bytes, read) (ms).
    pub read_plain_ms: f64,
    /// Plain read without the peek (`BlobClient::read`) (ms).
    pub read_plain_unpeeked_ms: f64,
    /// The peek alone: the first bytes of the blob, to tell a sealed one (ms).
    pub peek_ms: f64,
    /// Read the ciphertext, fetch the key, decrypt, as `floe read -o` does it: the key is
    /// fetched while rows stream in, segments decrypt as they arrive (ms).
    pub read_private_ms: f64,
    /// `read_private_ms / read_plain_ms − 1`, in percent.
    pub read_overhead_pct: f64,
    /// Sealing alone (MiB/s).
    pub seal_mib_s: f64,
    /// Opening alone (MiB/s).
    pub open_mib_s: f64,
    /// Key retrievals timed.
    pub key_requests: usize,
    /// Median key retrieval (ms).
    pub key_p50_ms: f64,
    /// 99th percentile key retrieval (ms).
    pub key_p99_ms: f64,
    /// Requests per second one key server answered (16 in flight).
    pub server_requests_per_s: f64,
    /// Requests in that run.
    pub server_requests: usize,
}

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum PrivateBenchError {
    /// A ledger step.
    #[error(transparent)]
    Ledger(#[from] FloeError),
    /// Sealing, keys or opening.
    #[error(transparent)]
    Private(#[from] PrivateError),
    /// A store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A file store.
    #[error(transparent)]
    Files(#[from] FilesError),
    /// A temporary file.
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
    /// Bytes read back differ from those stored.
    #[error("{0} gave other bytes than were stored")]
    Mismatch(&'static str),
    /// A key server refused a throughput request.
    #[error("key server refused: {0}")]
    Refused(String),
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn pct(a: f64, b: f64) -> f64 {
    ((a / b - 1.0) * 1000.0).round() / 10.0
}

/// What [`bench_private`] runs.
#[derive(Debug, Clone, Copy)]
pub struct PrivateBenchOptions {
    /// Bytes stored each way.
    pub size: usize,
    /// Epochs to store for.
    pub epochs: u32,
    /// Store/read rounds (each stores and reads both ways; medians are reported).
    pub rounds: usize,
    /// Key retrievals timed.
    pub requests: usize,
    /// Requests sent to one key server for its throughput.
    pub server_requests: usize,
}

/// The median of `xs` (ms).
fn median(mut xs: Vec<Duration>) -> f64 {
    xs.sort();
    xs.get(xs.len() / 2).map_or(0.0, |d| ms(*d))
}

/// Runs the benchmark (module docs) as `wallet`.
pub async fn bench_private(
    client: &BlobClient,
    floe: &Floe,
    wallet: &Wallet,
    o: PrivateBenchOptions,
) -> Result<PrivateBench, PrivateBenchError> {
    let size = o.size;
    let keys = KeyServerSet::fetch(floe.ledger(), floe.chain_id()).await?;
    let (policy, _) = floe.create_policy(PolicyRule::Owner).await?;
    let opts = StoreOptions {
        epochs: o.epochs,
        force: true,
        ..StoreOptions::default()
    };
    let mut data = Vec::new();
    let dir = tempfile::tempdir()?;
    let plain_path = dir.path().join("plain");
    let sealed_path = dir.path().join("sealed");
    let out_path = dir.path().join("out");

    let rounds = o.rounds.max(1);
    let mut t_store = (Vec::new(), Vec::new());
    let mut t_read = (Vec::new(), Vec::new(), Vec::new());
    let (mut seal, mut header) = (Duration::MAX, None);
    let mut t_peek = Vec::new();
    for round in 0..rounds {
        // Fresh bytes each round, so both stores write new blobs.
        data = random_data(size);
        std::fs::write(&plain_path, &data)?;
        let t = Instant::now();
        let plain = files::store_file(client, &plain_path, &opts).await?;
        t_store.0.push(t.elapsed());
        // Seal, then store the ciphertext.
        let t = Instant::now();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&sealed_path)?);
        let h = keys.seal_file(&plain_path, &mut out, &sealed_path, policy)?;
        drop(out);
        seal = seal.min(t.elapsed());
        let stored = files::store_file(client, &sealed_path, &opts).await?;
        t_store.1.push(t.elapsed());
        header = Some(h);
        // Let the nodes finish with the stores before timing reads.
        tokio::time::sleep(SETTLE).await;

        // The three reads, in a different order each round.
        for k in 0..3 {
            match (round + k) % 3 {
                0 => {
                    // Plain, as `floe read -o` does it: open, peek at the first bytes, read.
                    let t = Instant::now();
                    let blob = client.open(plain.outcome.blob_id(), u64::MAX).await?;
                    let p = Instant::now();
                    let private::Peeked::Plain(blob) = private::peek(client, blob).await? else {
                        return Err(PrivateBenchError::Mismatch("a plain blob peeked as sealed"));
                    };
                    t_peek.push(p.elapsed());
                    let got = client
                        .read_opened(blob, ConsistencyCheck::Default, None)
                        .await?;
                    t_read.0.push(t.elapsed());
                    if got.data != data {
                        return Err(PrivateBenchError::Mismatch("the plain read"));
                    }
                }
                1 => {
                    // Plain, without the peek.
                    let t = Instant::now();
                    let got = client
                        .read(plain.outcome.blob_id(), ConsistencyCheck::Default)
                        .await?;
                    t_read.1.push(t.elapsed());
                    if got.data != data {
                        return Err(PrivateBenchError::Mismatch("the plain read"));
                    }
                }
                _ => {
                    // Private, as `floe read -o` does it: open, peek, key servers and epoch,
                    // then the key fetched while the rows stream in and segments decrypted as
                    // they arrive.
                    let t = Instant::now();
                    let blob = client.open(stored.outcome.blob_id(), u64::MAX).await?;
                    let private::Peeked::Sealed(sealed) = private::peek(client, blob).await? else {
                        return Err(PrivateBenchError::Mismatch("a sealed blob peeked as plain"));
                    };
                    let (servers, system) = tokio::join!(
                        KeyServerSet::fetch(floe.ledger(), floe.chain_id()),
                        floe.system()
                    );
                    let asker = private::Asker {
                        wallet,
                        epoch: system?.epoch,
                    };
                    let dst = std::io::BufWriter::with_capacity(
                        1 << 20,
                        std::fs::File::create(&out_path)?,
                    );
                    servers?
                        .read_sealed(
                            client,
                            sealed,
                            ConsistencyCheck::Default,
                            asker,
                            dst,
                            &out_path,
                        )
                        .await?;
                    t_read.2.push(t.elapsed());
                    if std::fs::read(&out_path)? != data {
                        return Err(PrivateBenchError::Mismatch("the private read"));
                    }
                }
            }
        }
    }
    let header = header.expect("at least one round");
    let epoch = floe.system().await?.epoch;

    // Opening alone, from memory.
    let sealed = std::fs::read(&sealed_path)?;
    let key = keys.data_key(wallet, epoch, &header).await?;
    let t_open = Instant::now();
    let mut plain_again = Vec::with_capacity(size);
    private::open_stream(
        &key,
        &mut &sealed[..],
        &sealed_path,
        &mut plain_again,
        &plain_path,
    )?;
    let open = t_open.elapsed();
    drop((sealed, plain_again, data));
    let (requests, server_requests) = (o.requests, o.server_requests);

    // Key retrieval latency, fresh requests each time.
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        keys.data_key(wallet, epoch, &header).await?;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |d| ms(*d))
    };

    // One key server's throughput: distinct signed requests, 16 in flight.
    let server = &keys.servers.servers[0];
    let bodies: Vec<Vec<u8>> = (0..server_requests)
        .map(|_| {
            let (_, signed) = KeyRequest::new_signed(
                &mut rand::rngs::OsRng,
                wallet.key(),
                floe.chain_id(),
                epoch,
                policy,
                BlobNonce::random(&mut rand::rngs::OsRng),
                private::now_ms(),
            );
            floe_common::codec::encode(&signed)
        })
        .collect();
    let ledger = LedgerClient::new(vec![server.url.clone()]);
    let t = Instant::now();
    let results: Vec<_> = futures::stream::iter(bodies.iter())
        .map(|b| ledger.key_share(b))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let secs = t.elapsed().as_secs_f64();
    if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
        return Err(PrivateBenchError::Refused(e.to_string()));
    }

    let (sp, spr) = (median(t_store.0), median(t_store.1));
    let (rp, rd, rpr) = (median(t_read.0), median(t_read.1), median(t_read.2));
    Ok(PrivateBench {
        size: size as u64,
        rounds,
        key_servers: keys.servers.servers.len(),
        threshold: keys.servers.threshold,
        store_plain_ms: sp,
        store_private_ms: spr,
        store_overhead_pct: pct(spr, sp),
        read_plain_ms: rp,
        read_plain_unpeeked_ms: rd,
        peek_ms: median(t_peek),
        read_private_ms: rpr,
        read_overhead_pct: pct(rpr, rp),
        seal_mib_s: mib_s(size as u64, seal.as_secs_f64()),
        open_mib_s: mib_s(size as u64, open.as_secs_f64()),
        key_requests: requests,
        key_p50_ms: quantile(0.5),
        key_p99_ms: quantile(0.99),
        server_requests_per_s: (server_requests as f64 / secs * 10.0).round() / 10.0,
        server_requests,
    })
}
