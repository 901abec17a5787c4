//! Property tests of the RedStuff encoding: round trips, decoding from random subsets, recovery
//! from random helpers, tampering, and inconsistency proofs.

use floe_common::encoding::faulty::inconsistent_blob;
use floe_common::encoding::{
    ConsistencyCheck, DecodeError, RecoveryError, RecoveryOutcome, RecoverySymbol, Sliver,
    SliverAxis, SliverExpander, decode_blob, encode_blob, recover_sliver, recover_unproven,
    recovery_symbols,
};
use floe_common::{BlobMetadata, EncodingConfig, SliverIndex, SliverPairIndex, codec};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.r#gen()).collect()
}

fn slivers(enc: &floe_common::EncodedBlob, axis: SliverAxis, idx: &[usize]) -> Vec<Sliver> {
    let n = enc.pairs.len();
    idx.iter()
        .map(|&i| {
            let pair = SliverIndex(i as u16).to_pair(axis, n as u16);
            enc.pairs[pair.as_usize()].sliver(axis).clone()
        })
        .collect()
}

/// Encode, check every sliver verifies, decode from a random subset of exactly the needed size
/// on each axis, and from the systematic subset.
fn round_trip(n: u16, len: usize, seed: u64) {
    let config = EncodingConfig::new(n).unwrap();
    let data = blob(len, seed);
    let enc = encode_blob(&config, &data).unwrap();
    assert_eq!(enc.pairs.len(), usize::from(n));
    // Metadata verifies against its id and survives BCS.
    let md_bytes = codec::encode(enc.metadata.metadata());
    let md: BlobMetadata = codec::decode(&md_bytes, BlobMetadata::max_encoded_len(n)).unwrap();
    let verified = md.verify(enc.blob_id(), &config).unwrap();
    let s = config.symbol_size(len as u64).unwrap();
    let mut ex = SliverExpander::new(config, s);
    for pair in &enc.pairs {
        ex.verify(&pair.primary, &verified).unwrap();
        ex.verify(&pair.secondary, &verified).unwrap();
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0xdead);
    for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
        let k = config.slivers_to_decode(axis);
        let mut all: Vec<usize> = (0..usize::from(n)).collect();
        all.shuffle(&mut rng);
        for subset in [
            all[..k].to_vec(),
            (0..k).collect::<Vec<_>>(),
            (usize::from(n) - k..usize::from(n)).collect(),
        ] {
            let sl = slivers(&enc, axis, &subset);
            for check in [ConsistencyCheck::Default, ConsistencyCheck::Strict] {
                let out = decode_blob(&config, &verified, &sl, check).unwrap();
                assert_eq!(out, data, "n={n} len={len} axis={axis} check={check:?}");
            }
            // One sliver fewer is not enough.
            assert!(matches!(
                decode_blob(&config, &verified, &sl[1..], ConsistencyCheck::Default),
                Err(DecodeError::NotEnoughSlivers { .. })
            ));
        }
    }
}

#[test]
fn round_trip_edge_lengths() {
    for n in [4u16, 7, 10, 31] {
        let config = EncodingConfig::new(n).unwrap();
        let k = config.rows() * config.cols();
        for len in [0, 1, 2, 3, k - 1, k, k + 1, 2 * k + 3, 1000] {
            round_trip(n, len, len as u64 * 7 + u64::from(n));
        }
    }
}

#[test]
fn round_trip_large_shard_counts() {
    round_trip(100, 100_000, 1);
    round_trip(1000, 1 << 16, 2);
}

#[test]
fn max_symbol_size_boundary() {
    let config = EncodingConfig::new(4).unwrap(); // rows 2, cols 3
    let max = config.max_blob_size() as usize;
    assert_eq!(config.symbol_size(max as u64).unwrap(), 65534);
    round_trip(4, max, 9);
    assert!(encode_blob(&config, &vec![0u8; max + 1]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_lengths_and_shards(n in prop::sample::select(vec![4u16, 5, 7, 10, 13, 31]), len in 0usize..5000, seed: u64) {
        round_trip(n, len, seed);
    }

    #[test]
    fn recovery_from_random_helpers(n in prop::sample::select(vec![4u16, 7, 10, 31, 100]), len in 0usize..20_000, seed: u64) {
        let config = EncodingConfig::new(n).unwrap();
        let data = blob(len, seed);
        let enc = encode_blob(&config, &data).unwrap();
        let s = config.symbol_size(len as u64).unwrap();
        let mut ex = SliverExpander::new(config, s);
        let mut rng = StdRng::seed_from_u64(seed);
        let target_pair = SliverPairIndex(rng.gen_range(0..n));
        for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
            let target = target_pair.sliver_index(axis, n);
            let needed = config.recovery_symbols_needed(axis);
            // Helpers hold slivers on the other axis; pick exactly `needed` random ones.
            let mut helpers: Vec<usize> = (0..usize::from(n)).collect();
            helpers.shuffle(&mut rng);
            let mut syms: Vec<RecoverySymbol> = Vec::new();
            for &h in &helpers[..needed] {
                let sl = &slivers(&enc, axis.other(), &[h])[0];
                syms.extend(recovery_symbols(&mut ex, sl, &[target]).unwrap());
            }
            // Symbols survive BCS.
            let bytes = codec::encode(&syms);
            let syms: Vec<RecoverySymbol> = codec::decode(&bytes, bytes.len()).unwrap();
            let expected = enc.pairs[target_pair.as_usize()].sliver(axis).clone();
            match recover_sliver(&config, &enc.metadata, axis, target, syms.clone()).unwrap() {
                RecoveryOutcome::Recovered(sl) => prop_assert_eq!(sl, expected.clone()),
                RecoveryOutcome::Inconsistent(_) => prop_assert!(false, "consistent blob reported inconsistent"),
            }
            // Without proofs: honest symbols rebuild the same sliver; one wrong byte anywhere
            // yields `None`, never a wrong sliver.
            let bare: Vec<(SliverIndex, &[u8])> =
                syms.iter().map(|s| (s.source_index, s.data.as_slice())).collect();
            let unproven = recover_unproven(&config, &enc.metadata, axis, target, &bare).unwrap();
            prop_assert_eq!(unproven.as_ref(), Some(&expected));
            let mut wrong = syms[rng.gen_range(0..syms.len())].data.clone();
            let i = rng.gen_range(0..wrong.len());
            wrong[i] ^= 0x40;
            let mut tampered = bare.clone();
            let which = rng.gen_range(0..tampered.len());
            tampered[which].1 = &wrong;
            if tampered[which].1 != bare[which].1 {
                prop_assert_eq!(recover_unproven(&config, &enc.metadata, axis, target, &tampered).unwrap(), None);
            }
            prop_assert!(recover_unproven(&config, &enc.metadata, axis, target, &bare[1..]).is_err());
            // Tampered data, proof or target: refused, and then too few remain.
            let mut bad = syms.clone();
            bad[0].data[0] ^= 1;
            let res = recover_sliver(&config, &enc.metadata, axis, target, bad);
            let rejected_one = matches!(res, Err(RecoveryError::NotEnoughSymbols { rejected: 1, .. }));
            prop_assert!(rejected_one, "tampered symbol accepted: {:?}", res);
            let mut bad = syms.clone();
            if let Some(node) = bad[1].proof.path.first_mut() {
                *node = floe_common::merkle::Node::Digest(floe_common::Digest([3; 32]));
            }
            prop_assert!(bad[1].verify(&config, &enc.metadata, axis, target).is_err());
            // Duplicates of one helper do not count twice.
            let mut dup = syms.clone();
            dup[1] = dup[0].clone();
            prop_assert!(recover_sliver(&config, &enc.metadata, axis, target, dup).is_err());
            // A symbol for another target is refused.
            let other = SliverIndex((target.0 + 1) % n);
            prop_assert!(syms[0].verify(&config, &enc.metadata, axis, other).is_err());
        }
    }

    #[test]
    fn tampered_slivers_are_rejected(n in prop::sample::select(vec![4u16, 10, 31]), len in 1usize..4000, seed: u64, byte in any::<prop::sample::Index>()) {
        let config = EncodingConfig::new(n).unwrap();
        let enc = encode_blob(&config, &blob(len, seed)).unwrap();
        let s = config.symbol_size(len as u64).unwrap();
        let mut ex = SliverExpander::new(config, s);
        let p = (seed % u64::from(n)) as usize;
        for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
            let mut sl = enc.pairs[p].sliver(axis).clone();
            let i = byte.index(sl.data.len());
            sl.data[i] ^= 0x80;
            prop_assert!(ex.verify(&sl, &enc.metadata).is_err());
            let mut sl = enc.pairs[p].sliver(axis).clone();
            sl.data.pop();
            prop_assert!(ex.verify(&sl, &enc.metadata).is_err());
            // Relabelled as another sliver: refused unless that sliver happens to hold the same
            // bytes (tiny blobs are mostly zero padding, so some slivers are identical).
            let mut sl = enc.pairs[p].sliver(axis).clone();
            let orig = sl.index;
            sl.index = SliverIndex((sl.index.0 + 1) % n);
            if enc.metadata.sliver_hash(axis, sl.index) != enc.metadata.sliver_hash(axis, orig) {
                prop_assert!(ex.verify(&sl, &enc.metadata).is_err());
            }
            let mut sl = enc.pairs[p].sliver(axis).clone();
            sl.index = SliverIndex(n);
            prop_assert!(ex.verify(&sl, &enc.metadata).is_err());
        }
        // Metadata offered for the wrong blob id, or with a hash changed, is refused.
        let md = enc.metadata.metadata().clone();
        let mut other_id = enc.blob_id();
        other_id.0[0] ^= 1;
        prop_assert!(md.clone().verify(other_id, &config).is_err());
        let mut md2 = md;
        md2.hashes[0].secondary.0[5] ^= 1;
        prop_assert!(md2.verify(enc.blob_id(), &config).is_err());
    }
}

#[test]
fn inconsistent_encoding_is_caught_and_proven() {
    for n in [4u16, 10, 31] {
        let config = EncodingConfig::new(n).unwrap();
        let data = blob(3000, u64::from(n));
        // Alter a non-systematic primary sliver: reads from systematic rows never see it.
        let bad_pair = SliverPairIndex(n - 1);
        let enc = inconsistent_blob(&config, &data, bad_pair).unwrap();
        let s = config.symbol_size(3000).unwrap();
        let mut ex = SliverExpander::new(config, s);
        // Every sliver verifies against the (dishonest) metadata...
        for pair in &enc.pairs {
            ex.verify(&pair.primary, &enc.metadata).unwrap();
            ex.verify(&pair.secondary, &enc.metadata).unwrap();
        }
        // ...but recovering the altered sliver from honest helpers exposes it.
        let target = bad_pair.sliver_index(SliverAxis::Primary, n);
        let needed = config.recovery_symbols_needed(SliverAxis::Primary);
        let mut syms = Vec::new();
        for j in 0..needed {
            let sl = &slivers(&enc, SliverAxis::Secondary, &[j])[0];
            syms.extend(recovery_symbols(&mut ex, sl, &[target]).unwrap());
        }
        let proof = match recover_sliver(&config, &enc.metadata, SliverAxis::Primary, target, syms)
            .unwrap()
        {
            RecoveryOutcome::Inconsistent(p) => p,
            RecoveryOutcome::Recovered(_) => panic!("inconsistency not detected at n={n}"),
        };
        // A third party with only the metadata verifies the proof (also after BCS).
        let bytes = codec::encode(&proof);
        assert!(bytes.len() <= floe_common::InconsistencyProof::max_encoded_len(&config));
        let proof: floe_common::InconsistencyProof = codec::decode(&bytes, bytes.len()).unwrap();
        let md = enc
            .metadata
            .metadata()
            .clone()
            .verify(enc.blob_id(), &config)
            .unwrap();
        proof.verify(&config, &md).unwrap();
        // A proof with one symbol removed or tampered is refused.
        let mut short = proof.clone();
        short.symbols.pop();
        assert!(short.verify(&config, &md).is_err());
        let mut tampered = proof.clone();
        tampered.symbols[0].data[0] ^= 1;
        assert!(tampered.verify(&config, &md).is_err());
        // Readers of the inconsistent blob get InvalidBlob, never bytes, when a non-systematic
        // subset that includes the altered sliver is decoded.
        let rows = config.rows();
        let subset: Vec<usize> = (usize::from(n) - rows..usize::from(n)).collect();
        let sl = slivers(&enc, SliverAxis::Primary, &subset);
        assert_eq!(
            decode_blob(&config, &enc.metadata, &sl, ConsistencyCheck::Default),
            Err(DecodeError::InvalidBlob)
        );
        assert_eq!(
            decode_blob(&config, &enc.metadata, &sl, ConsistencyCheck::Strict),
            Err(DecodeError::InvalidBlob)
        );

        // A "proof" against a consistent blob is refused.
        let honest = encode_blob(&config, &data).unwrap();
        let mut syms = Vec::new();
        for j in 0..needed {
            let sl = &slivers(&honest, SliverAxis::Secondary, &[j])[0];
            syms.extend(recovery_symbols(&mut ex, sl, &[target]).unwrap());
        }
        let fake = floe_common::InconsistencyProof {
            target_axis: SliverAxis::Primary,
            target_index: target,
            symbols: syms,
        };
        assert_eq!(
            fake.verify(&config, &honest.metadata),
            Err(RecoveryError::NotInconsistent)
        );
    }
}

#[test]
fn mixed_axes_and_foreign_slivers_are_refused() {
    let config = EncodingConfig::new(10).unwrap();
    let enc = encode_blob(&config, &blob(500, 1)).unwrap();
    let mut sl = slivers(&enc, SliverAxis::Primary, &[0, 1, 2]);
    sl.push(enc.pairs[5].secondary.clone());
    assert!(matches!(
        decode_blob(&config, &enc.metadata, &sl, ConsistencyCheck::Default),
        Err(DecodeError::BadSliver { .. })
    ));
    // Slivers of a different-length blob do not fit.
    let other = encode_blob(&config, &blob(5000, 1)).unwrap();
    let sl = slivers(&other, SliverAxis::Primary, &[0, 1, 2, 3]);
    assert!(decode_blob(&config, &enc.metadata, &sl, ConsistencyCheck::Default).is_err());
}

#[test]
fn threaded_encoding_is_identical() {
    use floe_common::encoding::{EncodeOptions, encode_blob_with};
    for (n, len) in [(10u16, 5000usize), (100, 300_000), (1000, 70_000)] {
        let config = EncodingConfig::new(n).unwrap();
        let data = blob(len, 3);
        let one = encode_blob(&config, &data).unwrap();
        for threads in [2, 3] {
            let many = encode_blob_with(&config, &data, EncodeOptions { threads }).unwrap();
            assert_eq!(many.blob_id(), one.blob_id());
            assert_eq!(many.pairs, one.pairs);
        }
    }
}
