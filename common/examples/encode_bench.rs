//! Encoding benchmark; prints one JSON line.
//!
//! ```text
//! cargo run --release -p floe-common --example encode_bench -- --size 67108864 --shards 1000 [--threads 2] [--repeat 3]
//! ```
//!
//! * `encode_mib_s`: blob MiB per second for slivers + every hash + metadata + blob id.
//! * `decode_mib_s`: from `rows` non-systematic primary slivers (the worst case: every column
//!   is Reed-Solomon decoded and every systematic row is rebuilt for the default consistency
//!   check). `decode_systematic_mib_s`: from primary slivers `0..rows`.
//! * `recover_pair_ms`: rebuilding one sliver pair from peers' recovery symbols (proof checks,
//!   decoding, and the hash check of the result); `recover_pair_bytes` is what those symbols
//!   and proofs weigh in BCS, next to `pair_bytes`.
//! * `peak_rss_bytes`: the process's peak resident set after encoding (the blob included).

#![allow(clippy::print_stdout)]

use std::time::Instant;

use floe_common::encoding::{
    ConsistencyCheck, EncodeOptions, RecoveryOutcome, SliverAxis, SliverExpander, decode_blob,
    encode_blob_with, recover_sliver, recovery_symbols,
};
use floe_common::{EncodingConfig, SliverIndex, SliverPairIndex, codec};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v}"))
        })
        .unwrap_or(default)
}

fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn mib_s(bytes: usize, secs: f64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) / secs * 10.0).round() / 10.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size = arg(&args, "--size", 64 << 20) as usize;
    let shards = arg(&args, "--shards", 1000) as u16;
    let threads = arg(&args, "--threads", 1) as usize;
    let repeat = arg(&args, "--repeat", 1).max(1);
    let config = EncodingConfig::new(shards).expect("valid shard count");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let blob: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();

    let mut best_encode = f64::MAX;
    let mut enc = None;
    for _ in 0..repeat {
        drop(enc.take());
        let t = Instant::now();
        let e =
            encode_blob_with(&config, &blob, EncodeOptions { threads }).expect("encodable size");
        best_encode = best_encode.min(t.elapsed().as_secs_f64());
        enc = Some(e);
    }
    let enc = enc.expect("encoded");
    let peak = peak_rss();

    let n = config.n();
    let rows = config.rows();
    let start = if 2 * rows <= n { rows } else { n - rows };
    let worst: Vec<_> = (start..start + rows)
        .map(|i| enc.pairs[i].primary.clone())
        .collect();
    let systematic: Vec<_> = (0..rows).map(|i| enc.pairs[i].primary.clone()).collect();
    let mut best_decode = f64::MAX;
    let mut best_sys = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let out = decode_blob(&config, &enc.metadata, &worst, ConsistencyCheck::Default)
            .expect("decodes");
        best_decode = best_decode.min(t.elapsed().as_secs_f64());
        assert!(out == blob, "decoded bytes differ");
        let t = Instant::now();
        let out = decode_blob(
            &config,
            &enc.metadata,
            &systematic,
            ConsistencyCheck::Default,
        )
        .expect("decodes");
        best_sys = best_sys.min(t.elapsed().as_secs_f64());
        assert!(out == blob, "decoded bytes differ");
    }

    // Recovery of pair p = n/2: helpers expand their slivers and send symbols with proofs.
    let s = config.symbol_size(size as u64).expect("encodable");
    let mut ex = SliverExpander::new(config, s);
    let pair = SliverPairIndex((n / 2) as u16);
    let mut syms = Vec::new();
    let mut recover_bytes = 0usize;
    for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
        let target = pair.sliver_index(axis, shards);
        let needed = config.recovery_symbols_needed(axis);
        let mut v = Vec::with_capacity(needed);
        for h in (0..n).filter(|&h| h != pair.as_usize()).take(needed) {
            let helper = SliverIndex(h as u16).to_pair(axis.other(), shards);
            let sl = enc.pairs[helper.as_usize()].sliver(axis.other());
            v.extend(recovery_symbols(&mut ex, sl, &[target]).expect("valid sliver"));
        }
        recover_bytes += codec::encode(&v).len();
        syms.push((axis, target, v));
    }
    let t = Instant::now();
    for (axis, target, v) in syms {
        match recover_sliver(&config, &enc.metadata, axis, target, v).expect("recovers") {
            RecoveryOutcome::Recovered(sl) => {
                assert!(sl == *enc.pairs[pair.as_usize()].sliver(axis));
            }
            RecoveryOutcome::Inconsistent(_) => panic!("consistent blob reported inconsistent"),
        }
    }
    let recover_ms = (t.elapsed().as_secs_f64() * 1e4).round() / 10.0;
    let pair_bytes = (config.rows() + config.cols()) * usize::from(s);

    println!(
        "{{\"size\":{size},\"shards\":{shards},\"threads\":{threads},\"encode_mib_s\":{},\"decode_mib_s\":{},\
         \"decode_systematic_mib_s\":{},\"recover_pair_ms\":{recover_ms},\"recover_pair_bytes\":{recover_bytes},\
         \"pair_bytes\":{pair_bytes},\"peak_rss_bytes\":{peak},\"blob_id\":\"{}\"}}",
        mib_s(size, best_encode),
        mib_s(size, best_decode),
        mib_s(size, best_sys),
        enc.blob_id()
    );
}
