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

/// A storage-confirmation certificate for `blob_id` at `epoch`, signed by the first `signers`
/// members of `committee` whose keys are among `node_keys`.
pub fn confirmation_certificate(
    committee: &Committee,
    node_keys: &[KeyPair],
    epoch: Epoch,
    blob_id: BlobId,
    persistence: BlobPersistence,
    signers: usize,
) -> Result<Certificate, CertificateError> {
    let msg = ProtocolMessage::new(
        epoch,
        StorageConfirmation {
            blob_id,
            persistence,
        },
    );
    let mut builder = CertificateBuilder::new(committee);
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
