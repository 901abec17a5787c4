//! Validator sets, consensus sign bytes and commit certificates, free of the consensus engine.
//!
//! Storage nodes and clients follow one validator's RPC and check what it says: a block is final
//! when a commit certificate carries precommits for its hash from validators holding more than
//! two thirds of the voting power (`3·signed > 2·total`). The precommit's signed bytes are
//! exactly the ones the consensus engine signs ([`vote_sign_bytes`]), so the certificate the
//! engine produced verifies here without the engine.
//!
//! Sign bytes are BCS of an intent header (type, version, app id — the same header every Floe
//! signature starts with), the chain id, and the message fields; a vote can never be replayed as
//! a proposal, on another chain, or as a storage confirmation.

use floe_common::ids::TextForm;
use floe_common::messages::{Intent, IntentType};
use floe_common::{PublicKey, Signature};
use serde::{Deserialize, Serialize};

use crate::block::{Block, BlockHash};

floe_common::fixed_bytes!(
    /// A validator's address: its ed25519 consensus public key (hex text form).
    ValidatorAddress,
    32,
    TextForm::Hex
);

impl ValidatorAddress {
    /// The address of `key`.
    pub fn of(key: &PublicKey) -> Self {
        ValidatorAddress(key.0)
    }

    /// The public key this address is.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0)
    }
}

/// One validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorInfo {
    /// Human name (`validator-1`, …).
    pub name: String,
    /// Consensus key; the address is this key.
    pub public_key: PublicKey,
    /// Voting power (> 0).
    pub power: u64,
}

impl ValidatorInfo {
    /// The validator's address.
    pub fn address(&self) -> ValidatorAddress {
        ValidatorAddress::of(&self.public_key)
    }
}

/// The validator set, sorted by address (so every validator derives the same order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorSet {
    validators: Vec<ValidatorInfo>,
}

/// A validator set or commit certificate was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Empty set, zero power, duplicate key or overflowing total.
    #[error("invalid validator set: {0}")]
    InvalidSet(&'static str),
    /// The block belongs to another chain.
    #[error("block is for chain {0:?}")]
    WrongChain(String),
    /// The block's transactions do not match its header's `tx_root`.
    #[error("block transactions do not match the header's tx_root")]
    TxRoot,
    /// The certificate is for another height.
    #[error("certificate is for height {got}, block is at {expected}")]
    WrongHeight {
        /// Certificate height.
        got: u64,
        /// Block height.
        expected: u64,
    },
    /// The certificate is for another block.
    #[error("certificate is for block {got}, block hashes to {expected}")]
    WrongBlock {
        /// Certificate's block hash.
        got: BlockHash,
        /// Recomputed hash.
        expected: BlockHash,
    },
    /// A signer is not in the validator set.
    #[error("unknown validator {0}")]
    UnknownValidator(ValidatorAddress),
    /// A validator signed twice.
    #[error("duplicate signature from {0}")]
    DuplicateSigner(ValidatorAddress),
    /// A signature does not verify.
    #[error("invalid signature from {0}")]
    BadSignature(ValidatorAddress),
    /// Not more than two thirds of the power signed.
    #[error("not enough voting power: {signed} of {total}")]
    NotEnoughPower {
        /// Power that signed.
        signed: u64,
        /// Total power.
        total: u64,
    },
}

impl ValidatorSet {
    /// A set from validators in any order.
    pub fn new(mut validators: Vec<ValidatorInfo>) -> Result<Self, CertError> {
        if validators.is_empty() {
            return Err(CertError::InvalidSet("no validators"));
        }
        if validators.iter().any(|v| v.power == 0) {
            return Err(CertError::InvalidSet("zero voting power"));
        }
        validators.sort_by_key(|v| v.address());
        if validators
            .windows(2)
            .any(|w| w[0].address() == w[1].address())
        {
            return Err(CertError::InvalidSet("duplicate validator key"));
        }
        validators
            .iter()
            .try_fold(0u64, |acc, v| acc.checked_add(v.power))
            .ok_or(CertError::InvalidSet("total power overflows"))?;
        Ok(ValidatorSet { validators })
    }

    /// Validators in address order.
    pub fn validators(&self) -> &[ValidatorInfo] {
        &self.validators
    }

    /// Total voting power.
    pub fn total_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).sum()
    }

    /// The validator with this address.
    pub fn get(&self, address: &ValidatorAddress) -> Option<&ValidatorInfo> {
        self.validators
            .binary_search_by_key(address, |v| v.address())
            .ok()
            .map(|i| &self.validators[i])
    }

    /// The proposer of `(height, round)`: round-robin over the address order.
    pub fn proposer(&self, height: u64, round: u32) -> &ValidatorInfo {
        let n = self.validators.len() as u64;
        let i = (height.wrapping_sub(1).wrapping_add(u64::from(round))) % n;
        &self.validators[i as usize]
    }
}

/// Prevote or precommit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoteKind {
    /// First voting step.
    Prevote,
    /// Second voting step; a quorum of these commits a block.
    Precommit,
}

#[derive(Serialize)]
struct VoteSignBytes<'a> {
    intent: Intent,
    chain_id: &'a str,
    kind: VoteKind,
    height: u64,
    round: i64,
    block: Option<BlockHash>,
    validator: ValidatorAddress,
}

/// The bytes a validator signs for a vote. `round` is the engine's round (−1 for none); `block`
/// is `None` for a nil vote.
pub fn vote_sign_bytes(
    chain_id: &str,
    kind: VoteKind,
    height: u64,
    round: i64,
    block: Option<BlockHash>,
    validator: ValidatorAddress,
) -> Vec<u8> {
    floe_common::codec::encode(&VoteSignBytes {
        intent: Intent::of(IntentType::ConsensusVote),
        chain_id,
        kind,
        height,
        round,
        block,
        validator,
    })
}

#[derive(Serialize)]
struct ProposalSignBytes<'a> {
    intent: Intent,
    chain_id: &'a str,
    height: u64,
    round: i64,
    pol_round: i64,
    block: BlockHash,
    proposer: ValidatorAddress,
}

/// The bytes a proposer signs for a proposal (and, with [`IntentType::ProposalPart`], for the
/// block body streamed next to it).
pub fn proposal_sign_bytes(
    intent: IntentType,
    chain_id: &str,
    height: u64,
    round: i64,
    pol_round: i64,
    block: BlockHash,
    proposer: ValidatorAddress,
) -> Vec<u8> {
    floe_common::codec::encode(&ProposalSignBytes {
        intent: Intent::of(intent),
        chain_id,
        height,
        round,
        pol_round,
        block,
        proposer,
    })
}

/// One precommit in a commit certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSignature {
    /// Who signed.
    pub validator: ValidatorAddress,
    /// Signature over [`vote_sign_bytes`] (precommit, height, round, `Some(block_hash)`).
    pub signature: Signature,
}

/// Proof that a block was committed: precommits from more than two thirds of the power.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCertificate {
    /// Height.
    pub height: u64,
    /// Round in which the block was decided.
    pub round: u32,
    /// The committed block's hash.
    pub block_hash: BlockHash,
    /// The precommits.
    pub signatures: Vec<CommitSignature>,
}

impl CommitCertificate {
    /// Checks that the certificate commits `block` under `validators`: heights and the
    /// *recomputed* block hash match, every signer is known and signed once, every signature
    /// verifies (batch), and the signers hold more than two thirds of the power.
    pub fn verify(
        &self,
        chain_id: &str,
        block: &Block,
        validators: &ValidatorSet,
    ) -> Result<(), CertError> {
        if self.height != block.height() {
            return Err(CertError::WrongHeight {
                got: self.height,
                expected: block.height(),
            });
        }
        let hash = block.hash();
        if self.block_hash != hash {
            return Err(CertError::WrongBlock {
                got: self.block_hash,
                expected: hash,
            });
        }
        self.verify_signatures(chain_id, validators)
    }

    /// Checks the signatures and power for `self.block_hash` (the caller has matched the hash).
    pub fn verify_signatures(
        &self,
        chain_id: &str,
        validators: &ValidatorSet,
    ) -> Result<(), CertError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut signed = 0u64;
        let mut items = Vec::with_capacity(self.signatures.len());
        for s in &self.signatures {
            let v = validators
                .get(&s.validator)
                .ok_or(CertError::UnknownValidator(s.validator))?;
            if !seen.insert(s.validator) {
                return Err(CertError::DuplicateSigner(s.validator));
            }
            signed += v.power;
            let msg = vote_sign_bytes(
                chain_id,
                VoteKind::Precommit,
                self.height,
                i64::from(self.round),
                Some(self.block_hash),
                s.validator,
            );
            items.push((v.public_key, msg, s.signature));
        }
        let total = validators.total_power();
        if u128::from(signed) * 3 <= u128::from(total) * 2 {
            return Err(CertError::NotEnoughPower { signed, total });
        }
        let batch: Vec<(PublicKey, &[u8], Signature)> = items
            .iter()
            .map(|(k, m, s)| (*k, m.as_slice(), *s))
            .collect();
        if floe_common::crypto::verify_batch(&batch).is_err() {
            // Find the culprit for a precise error.
            for (k, m, s) in &items {
                if k.verify(m, s).is_err() {
                    return Err(CertError::BadSignature(ValidatorAddress::of(k)));
                }
            }
        }
        Ok(())
    }
}

/// The engine's view of these types: a validator's address is its key, a consensus value is a
/// block hash (bodies travel separately).
#[cfg(feature = "malachite")]
mod engine {
    use malachitebft_core_types as mc;

    use super::ValidatorAddress;
    use crate::block::BlockHash;

    impl mc::Address for ValidatorAddress {}

    impl mc::Value for BlockHash {
        type Id = BlockHash;

        fn id(&self) -> BlockHash {
            *self
        }
    }
}
