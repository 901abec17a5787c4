//! The store against a real RocksDB in a temporary directory.

use floe_common::codec;
use floe_common::{
    BlobId, EncodingConfig, Epoch, ShardIndex, SliverAxis, SliverPairIndex, encode_blob,
};

use super::schema::{CF_BLOBS, CF_METADATA, CF_PRIMARY, sliver_key};
use super::sliver_format::{decode_stored_sliver, encode_stored_sliver};
use super::*;
use crate::blob_state::BlobState;

fn config() -> EncodingConfig {
    EncodingConfig::new(10).unwrap()
}

#[test]
fn slivers_and_metadata_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let enc = encode_blob(&config(), &vec![7u8; 10_000]).unwrap();
    let id = enc.blob_id();
    {
        let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
        st.put_metadata(&id, enc.metadata.metadata()).unwrap();
        for p in [2usize, 5] {
            let pair = &enc.pairs[p];
            st.put_sliver(&id, pair.index, &pair.primary).unwrap();
            st.put_sliver(&id, pair.index, &pair.secondary).unwrap();
        }
        st.set_pull_cursor(ShardIndex(3), SliverAxis::Primary, Epoch(42), id)
            .unwrap();
        // A sliver offered under the wrong pair is refused.
        assert!(matches!(
            st.put_sliver(&id, SliverPairIndex(3), &enc.pairs[2].primary),
            Err(StorageError::WrongPair { .. })
        ));
        // Dropped without any flush: only the write-ahead log holds the data.
    }
    let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
    assert_eq!(
        st.metadata(&id).unwrap().as_ref(),
        Some(enc.metadata.metadata())
    );
    for p in [2usize, 5] {
        let pair = &enc.pairs[p];
        assert_eq!(
            st.sliver(&id, pair.index, SliverAxis::Primary)
                .unwrap()
                .as_ref(),
            Some(&pair.primary)
        );
        assert_eq!(
            st.sliver(&id, pair.index, SliverAxis::Secondary)
                .unwrap()
                .as_ref(),
            Some(&pair.secondary)
        );
    }
    assert!(
        st.sliver(&id, SliverPairIndex(0), SliverAxis::Primary)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        st.stored_pairs(&id, SliverAxis::Primary).unwrap(),
        vec![SliverPairIndex(2), SliverPairIndex(5)]
    );
    assert_eq!(
        st.pull_cursor(ShardIndex(3), SliverAxis::Primary).unwrap(),
        Some((Epoch(42), id))
    );
    assert_eq!(
        st.pull_cursor(ShardIndex(3), SliverAxis::Secondary)
            .unwrap(),
        None
    );

    let stats = st.stats();
    assert_eq!((stats.slivers, stats.blobs), (4, 1));
    assert!(stats.bytes > 4 * pair_len(&enc));
    // Storing again does not count twice.
    st.put_sliver(&id, enc.pairs[2].index, &enc.pairs[2].primary)
        .unwrap();
    assert_eq!(st.stats(), stats);

    assert_eq!(st.delete_blob(&id).unwrap(), stats.bytes);
    assert_eq!(st.stats(), StorageStats::default());
    assert!(st.metadata(&id).unwrap().is_none());
    assert!(
        st.stored_pairs(&id, SliverAxis::Secondary)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn handed_over_slivers_are_deleted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let enc = encode_blob(&config(), &vec![3u8; 7_000]).unwrap();
    let id = enc.blob_id();
    let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
    st.put_metadata(&id, enc.metadata.metadata()).unwrap();
    for p in [1usize, 4, 8] {
        let pair = &enc.pairs[p];
        st.put_sliver(&id, pair.index, &pair.primary).unwrap();
        st.put_sliver(&id, pair.index, &pair.secondary).unwrap();
    }
    let before = st.stats();
    let keep = [enc.pairs[4].index];
    let (slivers, freed) = st.delete_slivers_except(&id, &keep).unwrap();
    assert_eq!(slivers, 4);
    let after = st.stats();
    assert_eq!((after.slivers, before.bytes - after.bytes), (2, freed));
    for p in [1usize, 8] {
        let pair = enc.pairs[p].index;
        assert!(!st.has_sliver(&id, pair, SliverAxis::Primary).unwrap());
        assert!(
            st.sliver(&id, pair, SliverAxis::Secondary)
                .unwrap()
                .is_none()
        );
    }
    assert!(st.has_sliver(&id, keep[0], SliverAxis::Secondary).unwrap());
    assert_eq!(st.delete_slivers_except(&id, &keep).unwrap(), (0, 0));
    assert_eq!(st.delete_blob(&id).unwrap(), after.bytes);
    assert_eq!(st.stats(), StorageStats::default());
    assert!(!st.has_sliver(&id, keep[0], SliverAxis::Primary).unwrap());
}

fn pair_len(enc: &floe_common::EncodedBlob) -> u64 {
    enc.pairs[0]
        .primary
        .data
        .len()
        .min(enc.pairs[0].secondary.data.len()) as u64
}

#[test]
fn block_events_and_cursor_commit_together() {
    let dir = tempfile::tempdir().unwrap();
    let a = BlobId([1; 32]);
    let b = BlobId([2; 32]);
    let state = BlobState {
        registered_permanent: 1,
        end_epoch: floe_common::Epoch(5),
        ..BlobState::default()
    };
    let round = ChallengeRecord {
        epoch: floe_common::Epoch(1),
        seed: floe_common::Digest([4; 32]),
        k: 10,
        live_blobs: 1,
        snapshot_root: floe_common::Digest([5; 32]),
        closes_ms: 99,
        proved: Vec::new(),
        settled: None,
    };
    {
        let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
        assert_eq!(st.ledger_height().unwrap(), None);
        st.apply_block_events(
            LedgerTip {
                height: 1,
                timestamp_ms: 0,
                epoch: floe_common::Epoch(0),
                sync_pending: false,
            },
            &[(a, Some(state.clone())), (b, Some(state.clone()))],
            &[a],
            None,
            None,
        )
        .unwrap();
        st.apply_block_events(
            LedgerTip {
                height: 2,
                timestamp_ms: 0,
                epoch: floe_common::Epoch(1),
                sync_pending: true,
            },
            &[(b, None)],
            &[],
            Some(&EpochRecord {
                epoch: floe_common::Epoch(1),
                previous_epoch: floe_common::Epoch(0),
                members: Vec::new(),
                moves: Vec::new(),
                synced: Vec::new(),
            }),
            Some(&round),
        )
        .unwrap();
    }
    let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
    assert_eq!(st.ledger_height().unwrap(), Some(2));
    assert_eq!(st.ledger_tip().unwrap().height, 2);
    assert_eq!(st.ledger_tip().unwrap().epoch, floe_common::Epoch(1));
    assert!(st.ledger_tip().unwrap().sync_pending);
    assert_eq!(
        st.epoch_record().unwrap().unwrap().previous_epoch,
        floe_common::Epoch(0)
    );
    assert_eq!(st.challenge_record().unwrap(), Some(round));
    assert_eq!(st.blob_states(&BlobId([0; 32]), 10).unwrap().len(), 1);
    assert_eq!(st.pending_blobs(&BlobId([0; 32]), 10).unwrap(), vec![a]);
    assert_eq!(st.blob_state(&a).unwrap(), Some(state));
    assert_eq!(st.blob_state(&b).unwrap(), None);
    st.db.put_cf(st.cf(CF_BLOBS), b.0, b"\xff").unwrap();
    assert!(matches!(
        st.blob_state(&b),
        Err(StorageError::Corrupt { .. })
    ));
}

#[test]
fn corrupt_records_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(
        dir.path(),
        config(),
        StorageOptions {
            sync_writes: true,
            ..StorageOptions::default()
        },
    )
    .unwrap();
    let id = BlobId([1; 32]);
    st.db.put_cf(st.cf(CF_METADATA), id.0, b"garbage").unwrap();
    assert!(matches!(
        st.metadata(&id),
        Err(StorageError::Corrupt { .. })
    ));
    // Valid metadata of another blob stored under this id is caught by re-verification.
    let enc = encode_blob(&config(), b"hello").unwrap();
    st.db
        .put_cf(
            st.cf(CF_METADATA),
            id.0,
            codec::encode(enc.metadata.metadata()),
        )
        .unwrap();
    assert!(matches!(
        st.metadata(&id),
        Err(StorageError::Corrupt { .. })
    ));
    // A secondary sliver stored in the primary family is caught.
    let key = sliver_key(&id, SliverPairIndex(0));
    st.db
        .put_cf(
            st.cf(CF_PRIMARY),
            key,
            encode_stored_sliver(&enc.pairs[0].secondary),
        )
        .unwrap();
    assert!(matches!(
        st.sliver(&id, SliverPairIndex(0), SliverAxis::Primary),
        Err(StorageError::Corrupt { .. })
    ));
    // Truncated, mis-versioned and ragged values are caught.
    let good = encode_stored_sliver(&enc.pairs[0].primary);
    let mut bad_version = good.clone();
    let t = bad_version.len() - 6;
    bad_version[t] = 9;
    let mut ragged = enc.pairs[0].primary.data.clone();
    ragged.push(0);
    ragged.extend_from_slice(&good[t..]);
    for bad in [vec![1, 2, 3], bad_version, ragged] {
        st.db.put_cf(st.cf(CF_PRIMARY), key, bad).unwrap();
        assert!(matches!(
            st.sliver(&id, SliverPairIndex(0), SliverAxis::Primary),
            Err(StorageError::Corrupt { .. })
        ));
    }
    assert_eq!(
        decode_stored_sliver(good).unwrap(),
        enc.pairs[0].primary,
        "round trip"
    );
    // A second process cannot open the same store.
    assert!(Storage::open(dir.path(), config(), StorageOptions::default()).is_err());
}

#[test]
fn wal_sync_is_shared_by_concurrent_callers() {
    let dir = tempfile::tempdir().unwrap();
    let st = std::sync::Arc::new(
        Storage::open(dir.path(), config(), StorageOptions::default()).unwrap(),
    );
    // Nothing written: nothing to sync.
    st.sync_wal().unwrap();
    assert_eq!(st.wal_syncs(), 0);
    let enc = encode_blob(&config(), &vec![3u8; 5_000]).unwrap();
    let id = enc.blob_id();
    st.put_metadata(&id, enc.metadata.metadata()).unwrap();
    st.sync_wal().unwrap();
    assert_eq!(st.wal_syncs(), 1);
    // Covered already: no second fsync.
    st.sync_wal().unwrap();
    assert_eq!(st.wal_syncs(), 1);
    // Many writers each asking for durability share fsyncs.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (st, enc) = (st.clone(), enc.clone());
            std::thread::spawn(move || {
                for p in (t..enc.pairs.len()).step_by(8) {
                    st.put_sliver(&id, enc.pairs[p].index, &enc.pairs[p].primary)
                        .unwrap();
                    st.sync_wal().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let syncs = st.wal_syncs() - 1;
    assert!(
        (1..=enc.pairs.len() as u64).contains(&syncs),
        "{syncs} fsyncs for {} writes",
        enc.pairs.len()
    );
}
