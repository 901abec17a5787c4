//! Certificates: weights, thresholds, and every way a certificate can be wrong.

use floe_common::certificate::{
    Certificate, CertificateBuilder, CertificateError, Committee, CommitteeMember, Threshold,
};
use floe_common::messages::InvalidBlobIdMsg;
use floe_common::{
    BlobId, BlobPersistence, Epoch, KeyPair, NodeId, ProtocolMessage, SignedMessage,
    StorageConfirmation,
};

/// 10 members with one shard each over 10 shards.
/// The chain every message here is signed for.
const CHAIN: &str = "floe-test";

fn setup() -> (Vec<KeyPair>, Committee) {
    let keys: Vec<KeyPair> = (0..10u8).map(|i| KeyPair::from_seed([i + 1; 32])).collect();
    let members = keys
        .iter()
        .enumerate()
        .map(|(i, k)| CommitteeMember {
            node_id: NodeId([i as u8; 32]),
            public_key: k.public(),
            weight: 1,
        })
        .collect();
    (keys, Committee::new(Epoch(3), 10, members).unwrap())
}

fn conf(epoch: u32) -> ProtocolMessage<StorageConfirmation> {
    ProtocolMessage::new(
        CHAIN,
        Epoch(epoch),
        StorageConfirmation {
            blob_id: BlobId([5; 32]),
            persistence: BlobPersistence::Permanent,
        },
    )
}

fn cert_of(keys: &[KeyPair], committee: &Committee, signers: &[usize]) -> Certificate {
    let mut b = CertificateBuilder::new(committee, CHAIN);
    for &i in signers {
        b.add(i, &SignedMessage::sign(&keys[i], &conf(3))).unwrap();
    }
    b.finish().unwrap()
}

#[test]
fn quorum_and_validity_weights() {
    let (keys, committee) = setup();
    // n = 10: quorum needs 7, validity 4.
    let c7 = cert_of(&keys, &committee, &[0, 2, 3, 5, 6, 8, 9]);
    let msg = c7
        .verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum)
        .unwrap();
    assert_eq!(msg.body.blob_id, BlobId([5; 32]));
    let c6 = cert_of(&keys, &committee, &[0, 1, 2, 3, 4, 5]);
    assert!(matches!(
        c6.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum),
        Err(CertificateError::InsufficientWeight { weight: 6, .. })
    ));
    c6.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Validity)
        .unwrap();
    let c3 = cert_of(&keys, &committee, &[7, 8, 9]);
    assert!(
        c3.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Validity)
            .is_err()
    );
}

#[test]
fn builder_rejects_duplicates_unknown_mixed_and_bad_signatures() {
    let (keys, committee) = setup();
    let mut b = CertificateBuilder::new(&committee, CHAIN);
    b.add(0, &SignedMessage::sign(&keys[0], &conf(3))).unwrap();
    assert_eq!(
        b.add(0, &SignedMessage::sign(&keys[0], &conf(3))),
        Err(CertificateError::DuplicateSigner(0))
    );
    assert!(matches!(
        b.add(10, &SignedMessage::sign(&keys[0], &conf(3))),
        Err(CertificateError::UnknownSigner { index: 10, .. })
    ));
    let other = ProtocolMessage::new(
        CHAIN,
        Epoch(3),
        StorageConfirmation {
            blob_id: BlobId([6; 32]),
            persistence: BlobPersistence::Permanent,
        },
    );
    assert_eq!(
        b.add(1, &SignedMessage::sign(&keys[1], &other)),
        Err(CertificateError::MixedMessages(1))
    );
    // Member 2's message signed by member 3's key.
    assert!(matches!(
        b.add(2, &SignedMessage::sign(&keys[3], &conf(3))),
        Err(CertificateError::Message(_))
    ));
    let mut b2 = CertificateBuilder::new(&committee, CHAIN);
    assert!(matches!(
        b2.add(0, &SignedMessage::sign(&keys[0], &conf(4))),
        Err(CertificateError::WrongEpoch { .. })
    ));
    let mut b3 = CertificateBuilder::new(&committee, "another-chain");
    assert!(matches!(
        b3.add(0, &SignedMessage::sign(&keys[0], &conf(3))),
        Err(CertificateError::WrongChain { .. })
    ));
    assert_eq!(b.weight(), 1);
}

#[test]
fn tampered_certificates_are_refused() {
    let (keys, committee) = setup();
    let good = cert_of(&keys, &committee, &[0, 1, 2, 3, 4, 5, 6, 7]);
    good.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum)
        .unwrap();

    let mut c = good.clone();
    c.signatures.swap(0, 1);
    assert!(matches!(
        c.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum),
        Err(CertificateError::Signature(_))
    ));

    let mut c = good.clone();
    c.signers[1] |= 0b100; // signer 10 does not exist
    assert!(matches!(
        c.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum),
        Err(CertificateError::UnknownSigner { index: 10, .. })
    ));

    let mut c = good.clone();
    c.signers.push(0);
    assert!(matches!(
        c.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum),
        Err(CertificateError::BitmapTooLong { .. })
    ));

    let mut c = good.clone();
    c.signatures.pop();
    assert!(matches!(
        c.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum),
        Err(CertificateError::SignatureCount { .. })
    ));

    let mut c = good.clone();
    c.message[10] ^= 1; // another blob id: signatures no longer match
    assert!(
        c.verify::<StorageConfirmation>(&committee, CHAIN, Threshold::Quorum)
            .is_err()
    );

    // Right signatures, wrong type: a confirmation is not an invalid-blob attestation.
    assert!(matches!(
        good.verify::<InvalidBlobIdMsg>(&committee, CHAIN, Threshold::Validity),
        Err(CertificateError::Message(_))
    ));

    // A certificate of one network does not verify on another.
    assert!(matches!(
        good.verify::<StorageConfirmation>(&committee, "another-chain", Threshold::Quorum),
        Err(CertificateError::WrongChain { .. })
    ));

    // A certificate from the epoch-3 committee does not verify against epoch 4's.
    let next = Committee::new(Epoch(4), 10, committee.members().to_vec()).unwrap();
    assert!(matches!(
        good.verify::<StorageConfirmation>(&next, CHAIN, Threshold::Quorum),
        Err(CertificateError::WrongEpoch { .. })
    ));
}

#[test]
fn committees_must_be_well_formed() {
    let (keys, committee) = setup();
    let mut members = committee.members().to_vec();
    members[1].public_key = keys[0].public();
    assert!(Committee::new(Epoch(1), 10, members).is_err());
    let mut members = committee.members().to_vec();
    members[1].weight = 2;
    assert!(Committee::new(Epoch(1), 10, members).is_err());
    assert!(Committee::new(Epoch(1), 10, vec![]).is_err());
}
