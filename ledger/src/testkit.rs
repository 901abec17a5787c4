//! Fixtures for tests and benchmarks: blocks committed with real validator precommits outside
//! consensus, and storage-confirmation certificates signed by real node keys. Nothing here is
//! used by a running validator.

use floe_common::messages::{BlobPersistence, ProtocolMessage, SignedMessage, StorageConfirmation};
use floe_common::{
    BlobId, Certificate, CertificateBuilder, CertificateError, Committee, Epoch, KeyPair,
};

use crate::block::{Block, BlockHeader, tx_root};
use crate::cert::{
    CommitCertificate, CommitSignature, ValidatorAddress, VoteKind, vote_sign_bytes,
};
use crate::chain::ChainError;
use crate::service::Ledger;
use crate::store::BlockRecord;
use crate::tx::{SignedTransaction, node_id_of};

/// A round-0 commit certificate for `block`, signed by `signers`.
pub fn precommit_certificate(
    chain_id: &str,
    block: &Block,
    signers: &[&KeyPair],
) -> CommitCertificate {
    let hash = block.hash();
    let height = block.height();
    CommitCertificate {
        height,
        round: 0,
        block_hash: hash,
        signatures: signers
            .iter()
            .map(|key| {
                let validator = ValidatorAddress::of(&key.public());
                let msg = vote_sign_bytes(
                    chain_id,
                    VoteKind::Precommit,
                    height,
                    0,
                    Some(hash),
                    validator,
                );
                CommitSignature {
                    validator,
                    signature: key.sign_raw(&msg),
                }
            })
            .collect(),
    }
}

/// Builds the next block from `ledger`'s mempool (proposed by `signers[0]`, one millisecond
/// after its parent) and commits it with the precommits of `signers`.
pub fn commit_next_block(ledger: &Ledger, signers: &[&KeyPair]) -> Result<BlockRecord, ChainError> {
    let tip = ledger.tip();
    let txs: Vec<SignedTransaction> = ledger
        .reap(1000, 1 << 20)
        .into_iter()
        .map(|t| t.into_inner())
        .collect();
    let proposer = signers.first().map_or(ValidatorAddress([0; 32]), |k| {
        ValidatorAddress::of(&k.public())
    });
    let block = Block {
        header: BlockHeader {
            chain_id: ledger.chain_id().to_owned(),
            height: tip.height + 1,
            parent_hash: tip.block_hash,
            timestamp_ms: tip.timestamp_ms + 1,
            proposer,
            tx_root: tx_root(&txs),
            app_hash: tip.app_hash,
        },
        txs,
    };
    let cert = precommit_certificate(ledger.chain_id(), &block, signers);
    ledger.commit(&block, None, cert)
}

/// A storage-confirmation certificate of chain `chain` for `blob_id` at `epoch`, signed by the first `signers`
/// members of `committee` whose keys are among `node_keys`.
pub fn confirmation_certificate(
    chain: &str,
    committee: &Committee,
    node_keys: &[KeyPair],
    epoch: Epoch,
    blob_id: BlobId,
    persistence: BlobPersistence,
    signers: usize,
) -> Result<Certificate, CertificateError> {
    let msg = ProtocolMessage::new(
        chain,
        epoch,
        StorageConfirmation {
            blob_id,
            persistence,
        },
    );
    let mut builder = CertificateBuilder::new(committee, chain);
    let mut signed = 0;
    for (i, member) in committee.members().iter().enumerate() {
        if signed == signers {
            break;
        }
        if let Some(key) = node_keys
            .iter()
            .find(|k| node_id_of(&k.public()) == member.node_id)
        {
            builder.add(i, &SignedMessage::sign(key, &msg))?;
            signed += 1;
        }
    }
    builder
        .finish()
        .ok_or_else(|| CertificateError::BadCommittee("no committee member's key was given".into()))
}

/// The two transactions that put a (made-up) blob on the ledger: reserve `encoded_size` bytes
/// for `epochs_ahead` epochs, then register the blob with `root_hash` and `unencoded_length`
/// (permanent) on that storage. `sign(nonce, kind)` signs as the owner; the transactions use
/// nonces `first_nonce` and `first_nonce + 1`.
pub struct BlobRegistration {
    /// Reserve, then register.
    pub txs: [SignedTransaction; 2],
    /// The blob id derived from the root hash and length.
    pub blob_id: BlobId,
    /// The blob object the registration creates.
    pub blob_object: floe_common::ObjectId,
}

/// Builds a [`BlobRegistration`].
pub fn reserve_and_register(
    sign: impl Fn(u64, crate::tx::TxKind) -> SignedTransaction,
    first_nonce: u64,
    unencoded_length: u64,
    root_hash: floe_common::hash::Digest,
    encoded_size: u64,
    epochs_ahead: u32,
) -> BlobRegistration {
    use crate::tx::TxKind;
    use floe_common::EncodingType;
    let blob_id = floe_common::encoding::derive_blob_id(
        EncodingType::RedStuffRs2,
        unencoded_length,
        &root_hash,
    );
    let reserve = sign(
        first_nonce,
        TxKind::ReserveSpace {
            encoded_size,
            epochs_ahead,
        },
    );
    let storage = crate::state::derive_object_id(&reserve.digest(), 0);
    let register = sign(
        first_nonce + 1,
        TxKind::RegisterBlob {
            storage,
            blob_id,
            root_hash,
            unencoded_length,
            encoding_type: EncodingType::RedStuffRs2,
            deletable: false,
        },
    );
    let blob_object = crate::state::derive_object_id(&register.digest(), 0);
    BlobRegistration {
        txs: [reserve, register],
        blob_id,
        blob_object,
    }
}
