//! Criterion benchmarks of private blobs: sealing and opening 64 MiB, and the per-request
//! key-server and reader operations (derive, respond, open, verify, combine, decapsulate).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use floe_common::ObjectId;
use floe_common::privacy::{
    BlobNonce, EphemeralSecret, Identity, combine, deal, decapsulate, open, seal,
};
use rand::SeedableRng as _;
use rand::rngs::StdRng;

const CHAIN: &str = "floe-bench";

fn bench_stream(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let (mpk, secrets, _) = deal(&mut rng, 4, 3).expect("deal");
    let len = 64usize << 20;
    let plaintext: Vec<u8> = (0..len).map(|i| (i * 31 + i / 4093) as u8).collect();
    let mut g = c.benchmark_group("privacy");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("seal/64MiB", |b| {
        b.iter(|| seal(&mut rng, &mpk, CHAIN, ObjectId([1; 32]), &plaintext))
    });
    let (sealed, header) = seal(&mut rng, &mpk, CHAIN, ObjectId([1; 32]), &plaintext);
    let id = header.identity(CHAIN);
    let shares: Vec<_> = secrets[..3].iter().map(|s| s.derive_share(&id)).collect();
    let key = combine(&shares, 3).expect("combine");
    let data_key = decapsulate(&key, &header.encapsulation, &id);
    g.bench_function("open/64MiB", |b| {
        b.iter(|| open(&data_key, &sealed).expect("opens"))
    });
    g.finish();
}

fn bench_keys(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let mut g = c.benchmark_group("privacy");
    let (mpk, secrets, publics) = deal(&mut rng, 7, 3).expect("deal");
    let id = Identity::new(CHAIN, ObjectId([1; 32]), BlobNonce([2; 32]));
    g.bench_function("identity_hash_to_g1", |b| {
        b.iter(|| Identity::new(CHAIN, ObjectId([1; 32]), BlobNonce([2; 32])))
    });
    g.bench_function("derive_share", |b| b.iter(|| secrets[0].derive_share(&id)));
    let eph = EphemeralSecret::generate(&mut rng);
    let epk = eph.public();
    g.bench_function("respond", |b| {
        b.iter(|| secrets[0].respond(&mut rng, &id, &epk))
    });
    let enc = secrets[0].respond(&mut rng, &id, &epk);
    g.bench_function("open_share", |b| b.iter(|| eph.open(&enc)));
    let share = secrets[0].derive_share(&id);
    g.bench_function("verify_share", |b| {
        b.iter(|| share.verify(&id, &publics[0]).expect("valid"))
    });
    for (n, t) in [(4u16, 3u16), (10, 7)] {
        let (_, secrets, _) = deal(&mut rng, n, t).expect("deal");
        let shares: Vec<_> = secrets.iter().map(|s| s.derive_share(&id)).collect();
        g.bench_function(BenchmarkId::new("combine", format!("t{t}")), |b| {
            b.iter(|| combine(&shares, t).expect("combines"))
        });
    }
    let shares: Vec<_> = secrets[..3].iter().map(|s| s.derive_share(&id)).collect();
    let key = combine(&shares, 3).expect("combines");
    g.bench_function("verify_identity_key", |b| {
        b.iter(|| key.verify(&id, &mpk).expect("valid"))
    });
    let (enc, _) = floe_common::privacy::encapsulate(&mut rng, &mpk, &id);
    g.bench_function("encapsulate", |b| {
        b.iter(|| floe_common::privacy::encapsulate(&mut rng, &mpk, &id))
    });
    g.bench_function("decapsulate", |b| b.iter(|| decapsulate(&key, &enc, &id)));
    g.finish();
}

criterion_group!(benches, bench_stream, bench_keys);
criterion_main!(benches);
