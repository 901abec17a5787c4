//! Conformance vectors: blob ids of fixed inputs, the exact bytes of every signed message, a
//! quilt's layout and patch ids, and the private-blob formats (identity point, sealed header,
//! data key, key request, encrypted share).
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

/// The chain the vectors' messages are signed for.
const CHAIN: &str = "floe-vects";

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
    quilt_vectors(&mut v);
    privacy_vectors(&mut v);
    let blob_id = BlobId([0x11; 32]);
    let epoch = Epoch(7);
    let k = key(1);
    v.insert("key/1/public".into(), k.public().to_string());
    let mut put = |name: &str, bytes: Vec<u8>, sig: floe_common::Signature| {
        v.insert(format!("message/{name}/bytes"), hex::encode(bytes));
        v.insert(format!("message/{name}/signature"), sig.to_string());
    };
    let conf = ProtocolMessage::new(
        CHAIN,
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
        CHAIN,
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
    let inv = ProtocolMessage::new(CHAIN, epoch, InvalidBlobIdMsg { blob_id });
    let s = SignedMessage::sign(&k, &inv);
    put("invalid_blob_id", s.serialized.clone(), s.signature);
    let sync = ProtocolMessage::new(
        CHAIN,
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
        CHAIN,
        epoch,
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Permanent,
        },
    );
    let mut b = CertificateBuilder::new(&committee, CHAIN);
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

    // Storage challenges: the draws for a fixed seed and node, and a proof's exact bytes.
    let seed = floe_common::Digest([0x5e; 32]);
    let node = NodeId([0x0d; 32]);
    let shards = [ShardIndex(3), ShardIndex(40), ShardIndex(77)];
    let draws = floe_common::challenge::challenges(&seed, &node, 4, 1000, &shards, 100);
    let text: Vec<String> = draws
        .iter()
        .map(|c| format!("{}/{}/{}/{}", c.blob_rank, c.shard.0, c.axis, c.symbol))
        .collect();
    v.insert("challenge/draws/k4".into(), text.join(" "));
    let config = EncodingConfig::new(10).unwrap();
    let enc = encode_blob(&config, &input(1000)).unwrap();
    let c = floe_common::challenge::Challenge {
        blob_rank: 0,
        shard: ShardIndex(6),
        axis: SliverAxis::Secondary,
        symbol: 5,
    };
    let (pair, _) = floe_common::challenge::challenged_sliver(&c, &enc.blob_id(), 10);
    let proof = floe_common::challenge::StorageProof::prove(
        &config,
        &enc.metadata,
        pair,
        enc.pairs[pair.as_usize()].sliver(c.axis),
        c.symbol,
    )
    .unwrap();
    v.insert(
        "challenge/proof/n10/len1000".into(),
        hex::encode(floe_common::codec::encode(&proof)),
    );
    v
}

/// A small quilt at 10 shards: its bytes, blob id, symbol size and patch ids.
fn quilt_vectors(v: &mut BTreeMap<String, String>) {
    use floe_common::quilt::{QuiltFile, QuiltPatchId, encode_quilt};
    let config = EncodingConfig::new(10).unwrap();
    let files = vec![
        QuiltFile {
            identifier: "index.html".into(),
            tags: BTreeMap::from([("lang".into(), "en".into())]),
            content_type: None,
            data: input(40),
        },
        QuiltFile {
            identifier: "empty".into(),
            tags: BTreeMap::new(),
            content_type: Some("text/plain".into()),
            data: Vec::new(),
        },
        QuiltFile {
            identifier: "a/b.bin".into(),
            tags: BTreeMap::new(),
            content_type: None,
            data: input(7),
        },
    ];
    let q = encode_quilt(&config, &files).unwrap();
    let blob_id = encode_blob(&config, &q.data).unwrap().blob_id();
    v.insert("quilt/n10/bytes".into(), hex::encode(&q.data));
    v.insert("quilt/n10/blob_id".into(), blob_id.to_string());
    v.insert("quilt/n10/symbol_size".into(), q.symbol_size.to_string());
    for p in &q.index.patches {
        let id = QuiltPatchId {
            quilt_id: blob_id,
            start_symbol: p.start_symbol,
            end_symbol: p.end_symbol,
        };
        v.insert(
            format!("quilt/n10/patch_id/{}", p.identifier),
            id.to_string(),
        );
    }
}

/// Private blobs, all from a seeded RNG: the master public key of a 3-of-4 deal, an identity's
/// point, a sealed blob's header, data key and digest (which pin the hash to G1, the pairing's
/// byte form and the segment AEAD), a signed key request and an encrypted share.
fn privacy_vectors(v: &mut BTreeMap<String, String>) {
    use floe_common::privacy::{
        BlobNonce, Identity, KeyRequest, MIN_SEGMENT_SIZE, combine, deal, decapsulate,
        seal_with_segment_size,
    };
    use rand::SeedableRng as _;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xf10e);
    let (mpk, secrets, publics) = deal(&mut rng, 4, 3).unwrap();
    v.insert("privacy/master_public_key".into(), mpk.to_string());
    v.insert(
        "privacy/key_server/2/public".into(),
        hex::encode(publics[1].key_bytes()),
    );
    let policy = ObjectId([0x33; 32]);
    let id = Identity::new(CHAIN, policy, BlobNonce([0x44; 32]));
    v.insert(
        "privacy/identity/point".into(),
        hex::encode(id.point().to_compressed()),
    );
    let (sealed, header) = seal_with_segment_size(
        &mut rng,
        &mpk,
        CHAIN,
        policy,
        &input(5000),
        MIN_SEGMENT_SIZE,
    )
    .unwrap();
    v.insert("privacy/sealed/header".into(), hex::encode(header.encode()));
    v.insert(
        "privacy/sealed/len5000/blake3".into(),
        floe_common::hash::blake3(&sealed).to_string(),
    );
    let blob_id = header.identity(CHAIN);
    let shares: Vec<_> = secrets[..3]
        .iter()
        .map(|s| s.derive_share(&blob_id))
        .collect();
    let identity_key = combine(&shares, 3).unwrap();
    let data_key = decapsulate(&identity_key, &header.encapsulation, &blob_id);
    v.insert(
        "privacy/sealed/data_key".into(),
        hex::encode(data_key.as_bytes()),
    );
    v.insert(
        "privacy/key_share/2".into(),
        hex::encode(secrets[1].derive_share(&id).to_bytes()),
    );
    let (_, signed) = KeyRequest::new_signed(
        &mut rng,
        &key(1),
        CHAIN,
        Epoch(7),
        policy,
        header.nonce,
        1_700_000_000_000,
    );
    v.insert(
        "privacy/key_request/bytes".into(),
        hex::encode(&signed.serialized),
    );
    v.insert(
        "privacy/key_request/signature".into(),
        signed.signature.to_string(),
    );
    let request = KeyRequest::verify_signed(&signed).unwrap().body;
    v.insert(
        "privacy/key_request/digest".into(),
        request.digest().to_string(),
    );
    let response = secrets[1].respond(&mut rng, &request.identity(CHAIN), &request.ephemeral);
    v.insert(
        "privacy/encrypted_share/bytes".into(),
        hex::encode(response.to_bytes()),
    );
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
        CHAIN,
        Epoch(7),
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Permanent,
        },
    );
    // intent ‖ chain id (length byte, 10 bytes) ‖ epoch ‖ blob id ‖ persistence.
    let b = conf.to_bytes();
    assert_eq!(b.len(), 51);
    assert_eq!(b[..4], [1, 0, 0x46, 10]);
    assert_eq!(&b[4..14], CHAIN.as_bytes());
    assert_eq!(b[14..18], [7, 0, 0, 0]);
    assert_eq!(b[50], 0);
    let del = ProtocolMessage::new(
        CHAIN,
        Epoch(7),
        StorageConfirmation {
            blob_id,
            persistence: BlobPersistence::Deletable(ObjectId([0x22; 32])),
        },
    );
    let b = del.to_bytes();
    assert_eq!(b.len(), 83);
    assert_eq!(b[50], 1);
    assert_eq!(b[51..], [0x22; 32]);
    let inv = ProtocolMessage::new(CHAIN, Epoch(7), InvalidBlobIdMsg { blob_id }).to_bytes();
    assert_eq!(inv.len(), 50);
    assert_eq!(inv[0], 2);
}

/// Signature vectors: fixed key, signature and message bytes with the verdict every verifier
/// must reach. Single and batch verification give the same verdict for each (see
/// `floe_common::crypto`).
mod signatures {
    use floe_common::crypto::{PublicKey, Signature, verify_batch};

    const MSG: &str = "666c6f65207369676e617475726520766563746f72"; // "floe signature vector"
    /// key(1) over MSG: valid.
    const VALID: (&str, &str) = (
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "ff6c5a5d62a1136c9fcdbbb6d541b354861565ecbde93337022bf069c36e9f9a1ca81de41efc77714385e6e10e58e1d0f453f24014a45e9bf6bb102607b7680a",
    );
    /// Refused: (name, key, signature).
    const REFUSED: [(&str, &str, &str); 4] = [
        (
            // The identity key with R = B, s = 1: satisfies the batch equation for any message.
            "identity key",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "58666666666666666666666666666666666666666666666666666666666666660100000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            // A key with a torsion component, and a signature satisfying the cofactorless
            // equation under it.
            "key with torsion",
            "e445a9708d645e4bfbfd5a5b3948e64eb2dfe10796d3c8b7149a1c17881a4aec",
            "feaf9d07b868cc52786305312c376563c622b0386a10d105e3c1501b28d65f7e418edc69badef48c810eda7497caaf92f356ad57b3137d9b57dc0a32470ca900",
        ),
        (
            // VALID with a point of order 8 added to R.
            "R with torsion",
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
            "8a60faf7ca72e12e1776f47e4d8f6857edc185f827c36cf83d59186ad0805e461ca81de41efc77714385e6e10e58e1d0f453f24014a45e9bf6bb102607b7680a",
        ),
        (
            // VALID with s + l (not canonical).
            "non-canonical s",
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
            "ff6c5a5d62a1136c9fcdbbb6d541b354861565ecbde93337022bf069c36e9f9a097c1341395f8ac91922de84ed51c0e5f453f24014a45e9bf6bb102607b7681a",
        ),
    ];

    fn key(h: &str) -> PublicKey {
        PublicKey(hex::decode(h).unwrap().try_into().unwrap())
    }

    fn sig(h: &str) -> Signature {
        Signature(hex::decode(h).unwrap().try_into().unwrap())
    }

    #[test]
    fn single_and_batch_verification_agree_on_the_vectors() {
        let msg = hex::decode(MSG).unwrap();
        let (vk, vs) = (key(VALID.0), sig(VALID.1));
        vk.verify(&msg, &vs).expect("the valid vector verifies");
        let other = floe_common::KeyPair::from_seed([2; 32]);
        let other_sig = other.sign_raw(&msg);
        verify_batch(&[(vk, &msg, vs), (other.public(), &msg, other_sig)]).expect("valid batch");
        for (name, k, s) in REFUSED {
            let (k, s) = (key(k), sig(s));
            assert!(
                k.verify(&msg, &s).is_err(),
                "{name}: single verification accepted it"
            );
            // The batch equation uses random weights: try many times, so a refusal that holds
            // only by chance would show.
            for _ in 0..64 {
                let batch = [
                    (vk, &msg[..], vs),
                    (k, &msg[..], s),
                    (other.public(), &msg[..], other_sig),
                ];
                assert!(
                    verify_batch(&batch).is_err(),
                    "{name}: batch verification accepted it"
                );
            }
        }
    }

    /// The identity-key vector is not hypothetical: the plain batch equation accepts it.
    #[test]
    fn the_identity_key_forgery_passes_an_unchecked_batch() {
        let msg = hex::decode(MSG).unwrap();
        let dalek_key = |h: &str| {
            ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(h).unwrap().try_into().unwrap())
                .unwrap()
        };
        let dalek_sig = |h: &str| {
            ed25519_dalek::Signature::from_bytes(&hex::decode(h).unwrap().try_into().unwrap())
        };
        let (_, k, s) = REFUSED[0];
        let msgs: [&[u8]; 2] = [&msg, b"any other message"];
        let keys = [dalek_key(VALID.0), dalek_key(k)];
        let sigs = [dalek_sig(VALID.1), dalek_sig(s)];
        // Only the first signature is over msgs[0]; the forgery "signs" whatever it is paired with.
        let msgs = [msgs[0], msgs[1]];
        assert!(ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok());
    }
}
