//! Chunked-file manifests: the byte format pinned, round trips, and hostile bytes.

use floe_common::manifest::{ChunkedManifest, MAGIC, ManifestChunk, ManifestError};
use floe_common::{BlobId, Digest};
use proptest::prelude::*;

fn manifest(sizes: &[u64], chunk_size: u64) -> ChunkedManifest {
    ChunkedManifest {
        size: sizes.iter().sum(),
        chunk_size,
        hash: Digest([5; 32]),
        chunks: sizes
            .iter()
            .enumerate()
            .map(|(i, s)| ManifestChunk {
                blob_id: BlobId([i as u8; 32]),
                size: *s,
            })
            .collect(),
    }
}

#[test]
fn conformance_manifest_bytes() {
    let m = manifest(&[4, 4, 1], 4);
    let bytes = m.encode();
    assert_eq!(&bytes[..16], MAGIC);
    assert_eq!(hex::encode(&bytes[16..]), PINNED);
    assert_eq!(ChunkedManifest::decode(&bytes).unwrap(), Some(m));
}

const PINNED: &str = "09000000000000000400000000000000050505050505050505050505050505050505050505050505050505050505050503000000000000000000000000000000000000000000000000000000000000000004000000000000000101010101010101010101010101010101010101010101010101010101010101040000000000000002020202020202020202020202020202020202020202020202020202020202020100000000000000";

#[test]
fn adv_inconsistent_manifests_are_refused() {
    let ok = manifest(&[4, 4, 1], 4);
    ok.check().unwrap();
    for (m, what) in [
        (manifest(&[4, 3, 1], 4), "a short middle chunk"),
        (manifest(&[4, 5], 4), "a long last chunk"),
        (manifest(&[4, 0], 4), "an empty last chunk"),
        (manifest(&[], 4), "no chunk"),
        (manifest(&[4], 0), "chunk size 0"),
        (
            ChunkedManifest {
                size: 10,
                ..manifest(&[4, 4, 1], 4)
            },
            "sizes that do not add up",
        ),
    ] {
        let bytes = m.encode();
        assert!(
            matches!(
                ChunkedManifest::decode(&bytes),
                Err(ManifestError::Inconsistent(_))
            ),
            "{what}"
        );
    }
    // Without the magic: an ordinary blob, whatever follows.
    assert_eq!(ChunkedManifest::decode(b"hello").unwrap(), None);
    assert_eq!(ChunkedManifest::decode(&ok.encode()[1..]).unwrap(), None);
    // The magic, then garbage or a truncated manifest.
    let mut garbage = MAGIC.to_vec();
    garbage.extend_from_slice(&[0xff; 40]);
    assert!(matches!(
        ChunkedManifest::decode(&garbage),
        Err(ManifestError::Malformed(_))
    ));
    let full = ok.encode();
    assert!(ChunkedManifest::decode(&full[..full.len() - 3]).is_err());
}

proptest! {
    #[test]
    fn manifests_round_trip(chunk in 1u64..1_000_000, n in 1usize..50, last in 1u64..1_000_000) {
        let last = last.min(chunk);
        let mut sizes = vec![chunk; n - 1];
        sizes.push(last);
        let m = manifest(&sizes, chunk);
        prop_assert_eq!(ChunkedManifest::decode(&m.encode()).unwrap(), Some(m));
    }

    #[test]
    fn hostile_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&tail);
        let _ = ChunkedManifest::decode(&bytes);
        let _ = ChunkedManifest::decode(&tail);
    }
}
