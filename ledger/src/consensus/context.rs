//! The Malachite [`Context`]: Floe's heights, votes, proposals and signing scheme.
//!
//! - The consensus *value* is a [`BlockHash`]; bodies travel as one signed [`ProposalPart`] and
//!   are kept by hash, so a block is gossiped once and the consensus WAL holds only hashes.
//! - The address of a validator is its ed25519 public key; the set is sorted by address and the
//!   proposer is round-robin (`(height − 1 + round) mod n`).
//! - Vote and proposal sign bytes come from [`crate::cert`], so commit certificates verify
//!   without the engine. Vote extensions are disabled (`Extension = ()`); a vote's signed bytes
//!   are a pure function of (kind, height, round, value, validator), as the engine's certificate
//!   checks require.

use malachitebft_app_channel::app::types::core::{
    self as mc, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::block::{Block, BlockHash};
use crate::cert::{self, ValidatorAddress, ValidatorInfo, VoteKind};
use floe_common::{PublicKey, Signature};

/// Floe's consensus context: carries the chain id every signature commits to.
#[derive(Debug, Clone)]
pub struct FloeContext {
    chain_id: Arc<str>,
}

impl FloeContext {
    /// The context for `chain_id`.
    pub fn new(chain_id: &str) -> Self {
        FloeContext {
            chain_id: chain_id.into(),
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }
}

/// A ledger height (from 1).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Height(pub u64);

impl std::fmt::Display for Height {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

// `ValidatorAddress` and `BlockHash` implement the engine's `Address` and `Value` in
// `floe-ledger-types` (its `malachite` feature).

/// A signed proposal's content: "at (height, round) I propose block `value`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Proposed block.
    pub value: BlockHash,
    /// Proof-of-lock round (`Round::Nil` if none).
    pub pol_round: Round,
    /// Proposer.
    pub proposer: ValidatorAddress,
}

impl Proposal {
    /// The bytes the proposer signs.
    pub fn sign_bytes(&self, chain_id: &str) -> Vec<u8> {
        cert::proposal_sign_bytes(
            floe_common::messages::IntentType::ConsensusProposal,
            chain_id,
            self.height.0,
            self.round.as_i64(),
            self.pol_round.as_i64(),
            self.value,
            self.proposer,
        )
    }
}

impl mc::Proposal<FloeContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &BlockHash {
        &self.value
    }
    fn take_value(self) -> BlockHash {
        self.value
    }
    fn pol_round(&self) -> Round {
        self.pol_round
    }
    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// A prevote or precommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// Voter.
    pub validator: ValidatorAddress,
    /// Always `None`: Floe runs without vote extensions.
    pub extension: Option<SignedExtension<FloeContext>>,
}

/// Converts the engine's vote type.
pub fn vote_kind(t: VoteType) -> VoteKind {
    match t {
        VoteType::Prevote => VoteKind::Prevote,
        VoteType::Precommit => VoteKind::Precommit,
    }
}

impl Vote {
    /// The bytes the voter signs (never includes the extension).
    pub fn sign_bytes(&self, chain_id: &str) -> Vec<u8> {
        let block = match self.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(h) => Some(h),
        };
        cert::vote_sign_bytes(
            chain_id,
            vote_kind(self.kind),
            self.height.0,
            self.round.as_i64(),
            block,
            self.validator,
        )
    }
}

impl mc::Vote<FloeContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }
    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }
    fn vote_type(&self) -> VoteType {
        self.kind
    }
    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }
    fn extension(&self) -> Option<&SignedExtension<FloeContext>> {
        self.extension.as_ref()
    }
    fn take_extension(&mut self) -> Option<SignedExtension<FloeContext>> {
        self.extension.take()
    }
    fn extend(self, extension: SignedExtension<FloeContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// The block body of a proposal, signed by the proposer. One part carries the whole block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalPart {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: i64,
    /// Proof-of-lock round (−1 for none).
    pub pol_round: i64,
    /// Proposer.
    pub proposer: ValidatorAddress,
    /// The block.
    pub block: Block,
    /// Proposer's signature over the part's sign bytes (intent `ProposalPart`, block hash).
    pub signature: Signature,
}

impl ProposalPart {
    /// The bytes the proposer signs.
    pub fn sign_bytes(&self, chain_id: &str) -> Vec<u8> {
        cert::proposal_sign_bytes(
            floe_common::messages::IntentType::ProposalPart,
            chain_id,
            self.height,
            self.round,
            self.pol_round,
            self.block.hash(),
            self.proposer,
        )
    }
}

impl mc::ProposalPart<FloeContext> for ProposalPart {
    fn is_first(&self) -> bool {
        true
    }
    fn is_last(&self) -> bool {
        true
    }
}

/// A validator as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// Address (= public key).
    pub address: ValidatorAddress,
    /// Public key.
    pub public_key: PublicKey,
    /// Voting power.
    pub power: u64,
}

impl mc::Validator<FloeContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }
    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// The validator set as the engine sees it (address order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Arc<Vec<Validator>>,
}

impl From<&cert::ValidatorSet> for ValidatorSet {
    fn from(set: &cert::ValidatorSet) -> Self {
        let validators = set
            .validators()
            .iter()
            .map(|v: &ValidatorInfo| Validator {
                address: v.address(),
                public_key: v.public_key,
                power: v.power,
            })
            .collect();
        ValidatorSet {
            validators: Arc::new(validators),
        }
    }
}

impl mc::ValidatorSet<FloeContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }
    fn total_voting_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).sum()
    }
    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(address, |v| v.address)
            .ok()
            .map(|i| &self.validators[i])
    }
    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// Floe's signing scheme: ed25519 on floe-common's types (strict verification everywhere, so a
/// certificate the engine accepts is one clients accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ed25519Scheme;

/// A key or signature of the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} bytes, got {got}")]
pub struct KeyLengthError {
    expected: usize,
    got: usize,
}

impl mc::SigningScheme for Ed25519Scheme {
    type DecodingError = KeyLengthError;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = floe_common::KeyPair;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, KeyLengthError> {
        <[u8; 64]>::try_from(bytes)
            .map(Signature)
            .map_err(|_| KeyLengthError {
                expected: 64,
                got: bytes.len(),
            })
    }
    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }
    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, KeyLengthError> {
        <[u8; 32]>::try_from(bytes)
            .map(PublicKey)
            .map_err(|_| KeyLengthError {
                expected: 32,
                got: bytes.len(),
            })
    }
    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

impl mc::Context for FloeContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockHash;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519Scheme;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let n = validator_set.validators.len() as u64;
        let r = u64::from(round.as_u32().unwrap_or(0));
        let i = height.0.wrapping_sub(1).wrapping_add(r) % n;
        &validator_set.validators[i as usize]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockHash,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            kind: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            kind: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}
