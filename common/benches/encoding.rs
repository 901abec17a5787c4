//! Criterion benchmarks of the encoding hot paths: encode, decode, sliver verification,
//! recovery, and batch hashing.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use floe_common::encoding::{
    ConsistencyCheck, SliverAxis, SliverExpander, decode_blob, encode_blob,
};
use floe_common::{EncodingConfig, hash};

fn blob(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn bench_encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("redstuff");
    g.sample_size(10);
    for (n, len) in [(100u16, 4usize << 20), (1000, 4 << 20), (1000, 1 << 20)] {
        let config = EncodingConfig::new(n).expect("valid");
        let data = blob(len);
        g.throughput(Throughput::Bytes(len as u64));
        let id = format!("n{n}/{}KiB", len >> 10);
        g.bench_with_input(BenchmarkId::new("encode", &id), &data, |b, d| {
            b.iter(|| encode_blob(&config, d).expect("encodes"));
        });
        let enc = encode_blob(&config, &data).expect("encodes");
        let rows = config.rows();
        let start = usize::from(n) - rows;
        let worst: Vec<_> = (start..usize::from(n))
            .map(|i| enc.pairs[i].primary.clone())
            .collect();
        g.bench_with_input(
            BenchmarkId::new("decode_default_check", &id),
            &worst,
            |b, sl| {
                b.iter(|| {
                    decode_blob(&config, &enc.metadata, sl, ConsistencyCheck::Default)
                        .expect("decodes")
                });
            },
        );
        let s = config.symbol_size(len as u64).expect("size");
        let mut ex = SliverExpander::new(config, s);
        g.bench_function(BenchmarkId::new("verify_primary_sliver", &id), |b| {
            b.iter(|| {
                ex.verify(&enc.pairs[0].primary, &enc.metadata)
                    .expect("valid")
            });
        });
        g.bench_function(BenchmarkId::new("expand_secondary_root", &id), |b| {
            b.iter(|| {
                ex.root(SliverAxis::Secondary, &enc.pairs[0].secondary.data)
                    .expect("valid")
            });
        });
    }
    g.finish();
}

fn bench_hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("hash");
    for size in [6usize, 302, 1024] {
        let count = 4096;
        let data = blob(size * count);
        let mut out = vec![[0u8; 32]; count];
        g.throughput(Throughput::Elements(count as u64));
        g.bench_function(BenchmarkId::new("leaves", size), |b| {
            b.iter(|| hash::leaves(&data, size, &mut out))
        });
    }
    let children: Vec<[u8; 32]> = (0..8192u32)
        .map(|i| hash::blake3(&i.to_le_bytes()).0)
        .collect();
    let mut out = vec![[0u8; 32]; 4096];
    g.throughput(Throughput::Elements(4096));
    g.bench_function("parents", |b| b.iter(|| hash::parents(&children, &mut out)));
    g.finish();
}

criterion_group!(benches, bench_encoding, bench_hashing);
criterion_main!(benches);
