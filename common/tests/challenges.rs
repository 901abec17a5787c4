//! Storage challenges: proofs made from a node's sliver verify against the blob id alone, and
//! every tampering or mismatch is refused; the draws are deterministic and in range.

use floe_common::challenge::{Challenge, ProofError, StorageProof, challenged_sliver, challenges};
use floe_common::encoding::encode_blob;
use floe_common::hash::Digest;
use floe_common::{BlobId, EncodingConfig, NodeId, ShardIndex, SliverAxis, codec};
use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.r#gen()).collect()
}

/// The proof a node holding `shard` gives for `challenge` of the encoded blob.
fn prove(
    config: &EncodingConfig,
    enc: &floe_common::EncodedBlob,
    challenge: &Challenge,
) -> StorageProof {
    let n = config.n_shards();
    let (pair, _) = challenged_sliver(challenge, &enc.blob_id(), n);
    let sliver = enc.pairs[pair.as_usize()].sliver(challenge.axis);
    StorageProof::prove(config, &enc.metadata, pair, sliver, challenge.symbol).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A proof from the right sliver verifies, survives its wire encoding, and fails once any
    /// byte of its symbol, its hashes or its length changes, or against another blob.
    #[test]
    fn proofs_verify_and_tampering_fails(
        n in prop::sample::select(vec![4u16, 7, 10, 31]),
        len in 0usize..20_000,
        seed in any::<u64>(),
        shard in any::<u16>(),
        primary in any::<bool>(),
        symbol in any::<u16>(),
        flip in any::<usize>(),
    ) {
        let config = EncodingConfig::new(n).unwrap();
        let enc = encode_blob(&config, &blob(len, seed)).unwrap();
        let id = enc.blob_id();
        let challenge = Challenge {
            blob_rank: 0,
            shard: ShardIndex(shard % n),
            axis: if primary { SliverAxis::Primary } else { SliverAxis::Secondary },
            symbol: symbol % n,
        };
        let proof = prove(&config, &enc, &challenge);
        proof.verify(&config, &id, &challenge).unwrap();

        let bytes = codec::encode(&proof);
        prop_assert!(bytes.len() <= StorageProof::max_encoded_len(&config));
        let back: StorageProof =
            codec::decode(&bytes, StorageProof::max_encoded_len(&config)).unwrap();
        prop_assert_eq!(&back, &proof);

        let mut bad = proof.clone();
        let i = flip % bad.data.len();
        bad.data[i] ^= 1;
        let tampered = matches!(bad.verify(&config, &id, &challenge), Err(ProofError::Path { .. }));
        prop_assert!(tampered);

        let mut bad = proof.clone();
        bad.pair_hashes.secondary.0[flip % 32] ^= 1;
        prop_assert!(bad.verify(&config, &id, &challenge).is_err());

        let mut bad = proof.clone();
        bad.unencoded_length += 1;
        prop_assert!(bad.verify(&config, &id, &challenge).is_err());

        let mut other = id.0;
        other[flip % 32] ^= 1;
        prop_assert!(proof.verify(&config, &BlobId(other), &challenge).is_err());
    }

    /// Hostile bytes never panic the decoder, and what decodes does not verify.
    #[test]
    fn hostile_proof_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let config = EncodingConfig::new(10).unwrap();
        if let Ok(p) = codec::decode::<StorageProof>(&bytes, StorageProof::max_encoded_len(&config)) {
            let challenge = Challenge {
                blob_rank: 0,
                shard: ShardIndex(0),
                axis: p.axis,
                symbol: p.symbol,
            };
            prop_assert!(p.verify(&config, &BlobId([7; 32]), &challenge).is_err());
        }
    }
}

/// A proof answers one challenge: another symbol, axis or shard is refused as such.
#[test]
fn a_proof_answers_only_its_challenge() {
    let config = EncodingConfig::new(10).unwrap();
    let enc = encode_blob(&config, &blob(5000, 1)).unwrap();
    let id = enc.blob_id();
    let c = Challenge {
        blob_rank: 3,
        shard: ShardIndex(4),
        axis: SliverAxis::Secondary,
        symbol: 7,
    };
    let proof = prove(&config, &enc, &c);
    proof.verify(&config, &id, &c).unwrap();
    for other in [
        Challenge { symbol: 8, ..c },
        Challenge {
            axis: SliverAxis::Primary,
            ..c
        },
        Challenge {
            shard: ShardIndex(5),
            ..c
        },
    ] {
        assert!(matches!(
            proof.verify(&config, &id, &other),
            Err(ProofError::WrongTarget { .. })
        ));
    }
    // A sliver of another pair cannot prove this one.
    let (pair, _) = challenged_sliver(&c, &id, 10);
    let wrong = enc.pairs[(pair.as_usize() + 1) % 10].sliver(c.axis);
    assert!(matches!(
        StorageProof::prove(&config, &enc.metadata, pair, wrong, c.symbol),
        Err(ProofError::CannotProve(_))
    ));
    // A corrupted sliver cannot prove anything.
    let mut corrupt = enc.pairs[pair.as_usize()].sliver(c.axis).clone();
    corrupt.data[0] ^= 1;
    assert!(matches!(
        StorageProof::prove(&config, &enc.metadata, pair, &corrupt, c.symbol),
        Err(ProofError::CannotProve(_))
    ));
}

/// Draws are a function of (seed, node, k): in range, over the node's shards only, different
/// for another seed or node, and none when there is nothing to prove.
#[test]
fn draws_are_deterministic_and_in_range() {
    let seed = Digest([9; 32]);
    let node = NodeId([1; 32]);
    let shards = [ShardIndex(30), ShardIndex(2), ShardIndex(17)];
    let a = challenges(&seed, &node, 200, 1000, &shards, 100);
    assert_eq!(a.len(), 200);
    assert_eq!(a, challenges(&seed, &node, 200, 1000, &shards, 100));
    // The order of the shards given does not matter.
    assert_eq!(
        a,
        challenges(
            &seed,
            &node,
            200,
            1000,
            &[ShardIndex(17), ShardIndex(30), ShardIndex(2)],
            100
        )
    );
    for c in &a {
        assert!(c.blob_rank < 1000 && c.symbol < 100 && shards.contains(&c.shard));
    }
    // Both axes, every shard, many blobs are drawn.
    assert!(a.iter().any(|c| c.axis == SliverAxis::Primary));
    assert!(a.iter().any(|c| c.axis == SliverAxis::Secondary));
    for s in shards {
        assert!(a.iter().any(|c| c.shard == s));
    }
    let ranks: std::collections::BTreeSet<u64> = a.iter().map(|c| c.blob_rank).collect();
    assert!(
        ranks.len() > 150,
        "{} distinct blobs in 200 draws",
        ranks.len()
    );
    assert_ne!(
        a,
        challenges(&Digest([8; 32]), &node, 200, 1000, &shards, 100)
    );
    assert_ne!(
        a,
        challenges(&seed, &NodeId([2; 32]), 200, 1000, &shards, 100)
    );
    assert!(challenges(&seed, &node, 20, 0, &shards, 100).is_empty());
    assert!(challenges(&seed, &node, 20, 1000, &[], 100).is_empty());
}
