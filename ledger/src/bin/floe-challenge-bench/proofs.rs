//! Storage proofs on their own: how fast one thread verifies them, and how large they are.

use std::time::{Duration, Instant};

use anyhow::ensure;
use floe_common::challenge::{Challenge, StorageProof, challenged_sliver, challenges};
use floe_common::encoding::{EncodeOptions, encode_blob_with};
use floe_common::hash::Digest;
use floe_common::{BlobId, EncodedBlob, EncodingConfig, NodeId, ShardIndex, codec};
use serde_json::{Value, json};

/// Shards per made-up node.
const SHARDS_PER_NODE: u16 = 10;
/// Challenges per made-up node.
const K: u16 = 20;
/// How long the verification loop runs at least.
const MIN_VERIFY_TIME: Duration = Duration::from_secs(2);

/// `len` bytes of a blob, different per `seed`.
pub fn blob_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

/// Encodes a blob of `len` bytes at `n_shards` shards (on two threads: set-up, not measured).
fn encode(n_shards: u16, len: usize, seed: u8) -> anyhow::Result<(EncodingConfig, EncodedBlob)> {
    let config = EncodingConfig::new(n_shards)?;
    let enc = encode_blob_with(
        &config,
        &blob_bytes(len, seed),
        EncodeOptions { threads: 2 },
    )?;
    Ok((config, enc))
}

/// The proof of `challenge` from the encoded blob (what an honest node sends).
pub fn prove(
    config: &EncodingConfig,
    enc: &EncodedBlob,
    challenge: &Challenge,
) -> anyhow::Result<StorageProof> {
    let (pair, _) = challenged_sliver(challenge, &enc.blob_id(), config.n_shards());
    let sliver = enc.pairs[pair.as_usize()].sliver(challenge.axis);
    Ok(StorageProof::prove(
        config,
        &enc.metadata,
        pair,
        sliver,
        challenge.symbol,
    )?)
}

/// `count` challenges of the only live blob and their proofs: `K` draws for each of
/// `count / K` made-up nodes holding `SHARDS_PER_NODE` consecutive shards.
fn proofs_of(
    config: &EncodingConfig,
    enc: &EncodedBlob,
    count: usize,
) -> anyhow::Result<Vec<(StorageProof, Challenge)>> {
    let n = config.n_shards();
    let seed = Digest(*blake3::hash(b"floe-challenge-bench seed").as_bytes());
    let mut out = Vec::with_capacity(count);
    for i in 0..count.div_ceil(usize::from(K)) {
        let node = NodeId(*blake3::hash(&(i as u64).to_le_bytes()).as_bytes());
        let first = (i as u64 * u64::from(SHARDS_PER_NODE) % u64::from(n)) as u16;
        let shards: Vec<_> = (0..SHARDS_PER_NODE)
            .map(|s| ShardIndex((first + s) % n))
            .collect();
        for c in challenges(&seed, &node, K, 1, &shards, n) {
            out.push((prove(config, enc, &c)?, c));
        }
    }
    out.truncate(count);
    Ok(out)
}

/// Verifies `proofs` over and over for at least `MIN_VERIFY_TIME` on this thread.
fn verify_loop(
    config: &EncodingConfig,
    blob_id: &BlobId,
    proofs: &[(StorageProof, Challenge)],
) -> anyhow::Result<(u64, Duration)> {
    let (mut verified, start) = (0u64, Instant::now());
    while start.elapsed() < MIN_VERIFY_TIME {
        for (proof, challenge) in proofs {
            std::hint::black_box(proof).verify(config, blob_id, challenge)?;
        }
        verified += proofs.len() as u64;
    }
    Ok((verified, start.elapsed()))
}

/// Figure 1: proofs verified per second on one thread at 1000 shards, for a blob of
/// `blob_len` bytes and `count` distinct proofs (verified repeatedly).
pub fn verify_rate(blob_len: usize, count: usize) -> anyhow::Result<Value> {
    let (config, enc) = encode(1000, blob_len, 1)?;
    let proofs = proofs_of(&config, &enc, count)?;
    ensure!(!proofs.is_empty(), "no proofs to verify");
    let (verified, took) = verify_loop(&config, &enc.blob_id(), &proofs)?;
    let per_s = verified as f64 / took.as_secs_f64();
    Ok(json!({
        "proofs_per_s": per_s.round(),
        "us_per_proof": round3(1e6 / per_s),
        "blob_bytes": blob_len,
        "distinct_proofs": proofs.len(),
        "verified": verified,
    }))
}

/// Figure 2: the mean BCS size of a proof at `n_shards` for a blob of `len` bytes, over
/// `count` challenges (the Merkle paths vary a little: padding nodes encode in one byte).
fn mean_proof_bytes(n_shards: u16, len: usize, count: usize) -> anyhow::Result<f64> {
    let (config, enc) = encode(n_shards, len, 2)?;
    let proofs = proofs_of(&config, &enc, count)?;
    let total: usize = proofs.iter().map(|(p, _)| codec::encode(p).len()).sum();
    Ok(total as f64 / proofs.len() as f64)
}

/// Figure 2: proof sizes at 100 and 1000 shards for 1 MiB and 64 MiB blobs, and the bound
/// the ledger enforces at 1000 shards.
pub fn proof_sizes() -> anyhow::Result<Value> {
    const MIB: usize = 1 << 20;
    let mut sizes = serde_json::Map::new();
    for n in [100u16, 1000] {
        for (name, len) in [("1mib", MIB), ("64mib", 64 * MIB)] {
            eprintln!("proof sizes: n = {n}, {name}");
            let mean = mean_proof_bytes(n, len, 400)?;
            sizes.insert(format!("n{n}_{name}"), json!(round3(mean)));
        }
    }
    let max = StorageProof::max_encoded_len(&EncodingConfig::new(1000)?);
    // The symbol sizes behind the figures.
    let symbol = |n: u16, len: usize| -> anyhow::Result<u16> {
        Ok(EncodingConfig::new(n)?.symbol_size(len as u64)?)
    };
    Ok(json!({
        "proof_bytes": sizes,
        "symbol_bytes": {
            "n100_1mib": symbol(100, MIB)?,
            "n100_64mib": symbol(100, 64 * MIB)?,
            "n1000_1mib": symbol(1000, MIB)?,
            "n1000_64mib": symbol(1000, 64 * MIB)?,
        },
        "max_proof_bytes_n1000": max,
    }))
}

/// `x` rounded to three decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
