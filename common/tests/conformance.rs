//! Conformance vectors: blob ids of fixed inputs and the exact bytes of every signed message.
//!
//! The expected values live in `tests/vectors/conformance.json`. Any change to a byte format,
//! the encoding, the hash or the Merkle conventions changes them and fails this test. To
//! regenerate after a *deliberate* format change (a protocol version bump), run with
//! `FLOE_BLESS=1` and review the diff.

use std::collections::BTreeMap;

use floe_common::certificate::{CertificateBuilder, Committee, CommitteeMember, Threshold};
use floe_common::messages::{InvalidBlobIdMsg, SyncShardRequest};
use floe_common::{
    BlobId, BlobPersistence, EncodingConfig, Epoch, KeyPair, NodeId, ObjectId, ProtocolMessage,
    ShardIndex, SignedMessage, SliverAxis, StorageConfirmation, encode_blob,
};

fn input(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(7) % 251) as u8)
        .collect()
}

fn key(i: u8) -> KeyPair {
    KeyPair::from_seed([i; 32])
}

fn compute() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    for (n, lens) in [
        (10u16, vec![0usize, 1, 17, 1000, 100_003]),
        (1000, vec![0, 1, 4096]),
    ] {
        let config = EncodingConfig::new(n).unwrap();
        for len in lens {
            let enc = encode_blob(&config, &input(len)).unwrap();
            v.insert(format!("blob_id/n{n}/len{len}"), enc.blob_id().to_string());
            v.insert(
                format!("root/n{n}/len{len}"),
                enc.metadata.metadata().root().to_string(),
            );
            v.insert(
                format!("encoded_length/n{n}/len{len}"),
                config.encoded_length(len as u64).unwrap().to_string(),
            );
        }
    }
    let blob_id = BlobId([0x11; 32]);
    let epoch = Epoch(7);
    let k = key(1);
    v.insert("key/1/public".into(), k.public().to_string());
    let mut put = |name: &str, bytes: Vec<u8>, sig: floe_common::Signature| {
        v.insert(format!("message/{name}/bytes"), hex::encode(bytes));
        v.insert(format!("message/{name}/signature"), sig.to_string());
    };
    let conf = ProtocolMessage::new(
        epoch,
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Permanent,
        },
    );
    let s = SignedMessage::sign(&k, &conf);
    put(
        "storage_confirmation_permanent",
        s.serialized.clone(),
        s.signature,
    );
    let conf = ProtocolMessage::new(
        epoch,
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Deletable(ObjectId([0x22; 32])),
        },
    );
    let s = SignedMessage::sign(&k, &conf);
    put(
        "storage_confirmation_deletable",
        s.serialized.clone(),
        s.signature,
    );
    let inv = ProtocolMessage::new(epoch, InvalidBlobIdMsg { blob_id });
    let s = SignedMessage::sign(&k, &inv);
    put("invalid_blob_id", s.serialized.clone(), s.signature);
    let sync = ProtocolMessage::new(
        epoch,
        SyncShardRequest {
            shard: ShardIndex(3),
            axis: SliverAxis::Secondary,
            start: blob_id,
            count: 1000,
        },
    );
    let s = SignedMessage::sign(&k, &sync);
    put("sync_shard", s.serialized.clone(), s.signature);

    // A certificate of 3 of 4 members over a permanent confirmation.
    let members: Vec<CommitteeMember> = (0..4u8)
        .map(|i| CommitteeMember {
            node_id: NodeId([i; 32]),
            public_key: key(10 + i).public(),
            weight: [3, 3, 2, 2][i as usize],
        })
        .collect();
    let committee = Committee::new(epoch, 10, members).unwrap();
    let msg = ProtocolMessage::new(
        epoch,
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Permanent,
        },
    );
    let mut b = CertificateBuilder::new(&committee);
    for i in [0usize, 1, 3] {
        b.add(i, &SignedMessage::sign(&key(10 + i as u8), &msg))
            .unwrap();
    }
    assert!(b.reached(Threshold::Quorum));
    let cert = b.finish().unwrap();
    v.insert(
        "certificate/3of4".into(),
        hex::encode(floe_common::codec::encode(&cert)),
    );
    v
}

#[test]
fn conformance_vectors() {
    // The directory at run time (cargo sets it for tests): a build directory shared by clones
    // at different paths may hold a binary compiled in another clone.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    );
    let path = dir.join("tests/vectors/conformance.json");
    let actual = compute();
    if std::env::var_os("FLOE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        return;
    }
    let expected: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("vectors file present"))
            .unwrap();
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>()
    );
    for (k, e) in &expected {
        assert_eq!(&actual[k], e, "conformance vector {k} changed");
    }
}

#[test]
fn message_layouts_are_fixed() {
    let blob_id = BlobId([0x11; 32]);
    let conf = ProtocolMessage::new(
        Epoch(7),
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Permanent,
        },
    );
    let b = conf.to_bytes();
    assert_eq!(b.len(), 40);
    assert_eq!(b[..7], [1, 0, 0x46, 7, 0, 0, 0]);
    assert_eq!(b[39], 0);
    let del = ProtocolMessage::new(
        Epoch(7),
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Deletable(ObjectId([0x22; 32])),
        },
    );
    let b = del.to_bytes();
    assert_eq!(b.len(), 72);
    assert_eq!(b[39], 1);
    assert_eq!(b[40..], [0x22; 32]);
    let inv = ProtocolMessage::new(Epoch(7), InvalidBlobIdMsg { blob_id }).to_bytes();
    assert_eq!(inv.len(), 39);
    assert_eq!(inv[0], 2);
}
