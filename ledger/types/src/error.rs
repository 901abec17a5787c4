//! Why a transaction was rejected.
//!
//! Every rejection has a stable machine code ([`TxError::code`]) that the RPC returns and the
//! store records; the `Display` text is for humans and may change.

use floe_common::{BlobId, Epoch, Frost, NodeId, ObjectId};
use serde::{Deserialize, Serialize};

/// A transaction that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}")]
pub struct TxFailure {
    /// Why.
    pub error: TxError,
    /// `Some(fee)` when the transaction passed the admission checks (fee at least the minimum,
    /// the account's next nonce, a balance covering the fee) and failed in execution: its
    /// writes were dropped, but `fee` was charged and its nonce consumed. `None` when an
    /// admission check refused it: it changed nothing.
    pub fee_charged: Option<Frost>,
}

impl TxFailure {
    /// A failure of an admission check: nothing was charged.
    pub fn refused(error: TxError) -> Self {
        TxFailure {
            error,
            fee_charged: None,
        }
    }
}

impl TxFailure {
    /// The stable code of the error.
    pub fn code(&self) -> &'static str {
        self.error.code()
    }

    /// Whether the fee was charged and the nonce consumed.
    pub fn charged(&self) -> bool {
        self.fee_charged.is_some()
    }
}

/// Why a transaction was rejected. See [`TxFailure`] for what a failure cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a transaction.
    #[error("malformed transaction: {reason}")]
    Malformed {
        /// Decoder message.
        reason: String,
    },
    /// Something is larger than allowed.
    #[error("{what} of {size} exceeds the limit of {max}")]
    TooLarge {
        /// What is too large.
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The signature does not verify.
    #[error("bad signature: {reason}")]
    BadSignature {
        /// Why.
        reason: String,
    },
    /// The signing key is not the sender's.
    #[error("the signing key does not belong to the sender")]
    WrongSender,
    /// The fee is below the minimum.
    #[error("fee {fee:?} is below the minimum {min:?}")]
    FeeTooLow {
        /// Offered.
        fee: Frost,
        /// Minimum.
        min: Frost,
    },
    /// The nonce was already used.
    #[error("nonce {got} already used (next is {expected})")]
    NonceTooLow {
        /// Next expected nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The nonce skips ahead.
    #[error("nonce {got} is ahead of the next nonce {expected}")]
    NonceTooHigh {
        /// Next expected nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The sender cannot pay.
    #[error("insufficient balance: need {needed:?}, have {available:?}")]
    InsufficientBalance {
        /// Amount needed.
        needed: Frost,
        /// Amount available.
        available: Frost,
    },
    /// A zero amount or size where a positive one is required.
    #[error("{what} must be positive")]
    ZeroAmount {
        /// What was zero.
        what: String,
    },
    /// No such object.
    #[error("unknown object {0}")]
    UnknownObject(ObjectId),
    /// The object belongs to someone else.
    #[error("object {0} is not owned by the sender")]
    NotOwner(ObjectId),
    /// The object has another type.
    #[error("object {object} is not a {expected}")]
    WrongObjectType {
        /// The object.
        object: ObjectId,
        /// The type expected.
        expected: String,
    },
    /// The storage resource has ended.
    #[error("storage {object} ended at epoch {end_epoch}")]
    StorageExpired {
        /// The object.
        object: ObjectId,
        /// Its end epoch (exclusive).
        end_epoch: Epoch,
    },
    /// The storage resource starts in a future epoch.
    #[error("storage {object} starts at epoch {start_epoch}")]
    StorageNotStarted {
        /// The object.
        object: ObjectId,
        /// Its start epoch.
        start_epoch: Epoch,
    },
    /// The storage resource is smaller than the encoded blob.
    #[error("storage of {size} bytes is smaller than the encoded blob ({needed} bytes)")]
    StorageTooSmall {
        /// Storage size.
        size: u64,
        /// Encoded length of the blob.
        needed: u64,
    },
    /// A split point outside the storage resource.
    #[error("invalid split: {reason}")]
    InvalidSplit {
        /// Why.
        reason: String,
    },
    /// Two storage resources that can be fused neither by size nor by period.
    #[error("storage resources cannot be fused: {reason}")]
    IncompatibleStorage {
        /// Why.
        reason: String,
    },
    /// The blob id does not derive from the root hash, length and encoding.
    #[error("blob id {claimed} does not match the derived id {computed}")]
    BlobIdMismatch {
        /// The id in the transaction.
        claimed: BlobId,
        /// The id derived.
        computed: BlobId,
    },
    /// The blob is already certified.
    #[error("blob object {0} is already certified")]
    AlreadyCertified(ObjectId),
    /// The blob is not certified.
    #[error("blob object {0} is not certified")]
    NotCertified(ObjectId),
    /// The blob has expired.
    #[error("blob object {object} expired at epoch {end_epoch}")]
    BlobExpired {
        /// The object.
        object: ObjectId,
        /// Its end epoch (exclusive).
        end_epoch: Epoch,
    },
    /// The blob id was invalidated.
    #[error("blob {0} is invalid")]
    BlobInvalid(BlobId),
    /// The certificate does not verify against the current committee.
    #[error("invalid certificate: {reason}")]
    CertificateInvalid {
        /// The certificate error.
        reason: String,
    },
    /// The certificate verifies but certifies something else.
    #[error("certificate is for another message: {reason}")]
    WrongCertificateMessage {
        /// What differs.
        reason: String,
    },
    /// The blob is permanent.
    #[error("blob object {0} is not deletable")]
    NotDeletable(ObjectId),
    /// The blob id is already invalid.
    #[error("blob {0} is already invalid")]
    AlreadyInvalid(BlobId),
    /// The blob object has too many attributes.
    #[error("a blob object can have at most {max} attributes")]
    TooManyAttributes {
        /// The limit.
        max: u64,
    },
    /// No such attribute.
    #[error("blob object has no attribute {0:?}")]
    UnknownAttribute(String),
    /// The faucet is not enabled on this chain.
    #[error("the faucet is disabled")]
    FaucetDisabled,
    /// More than the faucet gives per call.
    #[error("faucet gives at most {max:?} per call, asked {asked:?}")]
    FaucetLimit {
        /// Asked.
        asked: Frost,
        /// Per-call maximum.
        max: Frost,
    },
    /// The account would draw more from the faucet than one account may over the chain's life.
    #[error(
        "the faucet gives one account at most {max:?}; this one drew {drawn:?}, asked {asked:?}"
    )]
    FaucetAccountCap {
        /// Asked.
        asked: Frost,
        /// What the account drew before.
        drawn: Frost,
        /// Per-account maximum.
        max: Frost,
    },
    /// The faucet would mint more in this epoch than it may.
    #[error(
        "the faucet mints at most {max:?} per epoch; epoch {epoch} minted {minted:?}, asked {asked:?}"
    )]
    FaucetEpochCap {
        /// The current epoch.
        epoch: Epoch,
        /// Asked.
        asked: Frost,
        /// What the faucet minted in this epoch before.
        minted: Frost,
        /// Per-epoch maximum.
        max: Frost,
    },
    /// The faucet would mint more than it may over the chain's life.
    #[error("the faucet mints at most {max:?} in all; it minted {minted:?}, asked {asked:?}")]
    FaucetTotalCap {
        /// Asked.
        asked: Frost,
        /// What the faucet minted before.
        minted: Frost,
        /// Lifetime maximum.
        max: Frost,
    },
    /// A number of epochs outside the allowed range.
    #[error("{got} epochs ahead is outside 1..={max}")]
    EpochsOutOfRange {
        /// Requested epochs ahead (for an extension: the resulting end minus the current epoch).
        got: u64,
        /// Maximum epochs ahead.
        max: u32,
    },
    /// A node with this name or key exists.
    #[error("duplicate node: {reason}")]
    DuplicateNode {
        /// What repeats.
        reason: String,
    },
    /// No such node.
    #[error("unknown node {0}")]
    UnknownNode(NodeId),
    /// An ed25519 public key that is not a valid curve point.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// Commission above 100 %.
    #[error("commission of {0} bps exceeds 10000")]
    InvalidCommission(u16),
    /// A text field that is empty or not allowed.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// Withdraw without a withdrawal request.
    #[error("no withdrawal was requested for {0}")]
    WithdrawalNotRequested(ObjectId),
    /// A second withdrawal request.
    #[error("withdrawal already requested for {0}")]
    WithdrawalAlreadyRequested(ObjectId),
    /// Withdraw before the stake left the pool.
    #[error("stake leaves its pool at epoch {requested} (now {current})")]
    WithdrawalTooEarly {
        /// Epoch from which it can be withdrawn.
        requested: Epoch,
        /// Current epoch.
        current: Epoch,
    },
    /// Reserving would exceed the voted total capacity in some epoch.
    #[error("capacity exceeded in epoch {epoch}: {needed} bytes asked, {available} available")]
    CapacityExceeded {
        /// The first epoch without room.
        epoch: Epoch,
        /// Bytes asked.
        needed: u64,
        /// Bytes still free in that epoch.
        available: u64,
    },
    /// The sender controls neither the node's owner account nor its key.
    #[error("not authorized: {reason}")]
    NotAuthorized {
        /// Why.
        reason: String,
    },
    /// The sender controls no member of the current committee.
    #[error("the sender controls no member of the current committee")]
    NotCommitteeMember,
    /// No epoch change is waiting for shard sync.
    #[error("epoch {epoch} is not in its sync phase")]
    NotSyncing {
        /// Current epoch.
        epoch: Epoch,
    },
    /// A message for another epoch.
    #[error("wrong epoch {got}, the current epoch is {expected}")]
    WrongEpoch {
        /// Current epoch.
        expected: Epoch,
        /// Epoch in the transaction.
        got: Epoch,
    },
    /// The node already reported its shards synced.
    #[error("node {0} already reported its shards synced")]
    AlreadySynced(NodeId),
    /// Stake of a node that is handing its shards over cannot be withdrawn yet.
    #[error("stake with node {node} is locked until the epoch change's shard sync completes")]
    StakeLocked {
        /// The node.
        node: NodeId,
    },
    /// A proposal with an invalid change or deadline.
    #[error("invalid proposal: {reason}")]
    InvalidProposal {
        /// Why.
        reason: String,
    },
    /// No such proposal.
    #[error("unknown proposal {0}")]
    UnknownProposal(u64),
    /// The proposal no longer takes votes.
    #[error("proposal {0} is closed")]
    ProposalClosed(u64),
    /// No storage challenges run in this epoch (epoch 0, or challenges disabled).
    #[error("no storage challenges in epoch {epoch}")]
    NoChallenges {
        /// Current epoch.
        epoch: Epoch,
    },
    /// The epoch's challenge window has closed.
    #[error("the challenge window of epoch {epoch} closed at {closes_ms} ms")]
    ChallengeWindowClosed {
        /// Current epoch.
        epoch: Epoch,
        /// When it closed (block time).
        closes_ms: u64,
    },
    /// The node's proofs for this epoch were already accepted.
    #[error("node {0} already proved its storage challenges this epoch")]
    AlreadyProved(NodeId),
    /// A site record or change that does not validate.
    #[error("invalid site: {0}")]
    InvalidSite(String),
    /// A name that is not a hostname label.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// A name held by someone until an epoch.
    #[error("the name {name} is taken until epoch {expires}")]
    NameTaken {
        /// The name.
        name: String,
        /// When it becomes free.
        expires: Epoch,
    },
    /// A name that nobody holds (never claimed, or expired).
    #[error("the name {0} is not held (claim it)")]
    NameNotHeld(String),
    /// No proof, or more proofs than draws left.
    #[error("{got} storage proofs for {expected} challenges left")]
    WrongProofCount {
        /// Draws not yet proved.
        expected: u64,
        /// Proofs sent.
        got: u64,
    },
    /// Proofs that do not start at the first unproved draw.
    #[error("storage proofs start at draw {got}, the next unproved draw is {expected}")]
    ProofOutOfOrder {
        /// The first unproved draw.
        expected: u64,
        /// Where the proofs start.
        got: u64,
    },
    /// A storage proof does not answer its draw.
    #[error("storage proof {index} fails: {reason}")]
    ProofFailed {
        /// Its index (= the draw's).
        index: u64,
        /// Why.
        reason: String,
    },
    /// An amount or counter overflowed.
    #[error("arithmetic overflow in {what}")]
    Overflow {
        /// What overflowed.
        what: String,
    },
    /// The blob object is shared: nobody owns it, so nobody may delete, burn, transfer or
    /// share it again, or change its attributes.
    #[error("blob object {0} is shared: nobody owns it")]
    BlobShared(ObjectId),
    /// A shared blob's funds do not cover an extension.
    #[error("shared blob {object} holds {available:?}, the extension costs {needed:?}")]
    InsufficientSharedFunds {
        /// The shared blob.
        object: ObjectId,
        /// The extension's price.
        needed: Frost,
        /// Its funds.
        available: Frost,
    },
    /// A policy rule that does not validate.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// A price above what the sender agreed to pay.
    #[error("the price is {price:?}, more than the limit {limit:?}")]
    PriceAboveLimit {
        /// The price.
        price: Frost,
        /// The sender's limit.
        limit: Frost,
    },
    /// A live permanent blob object cannot be burned.
    #[error(
        "blob object {object} is permanent and stored until epoch {end_epoch}: it can be burned once it expires"
    )]
    PermanentNotExpired {
        /// The object.
        object: ObjectId,
        /// Its end epoch (exclusive).
        end_epoch: Epoch,
    },
}

impl TxError {
    /// The stable machine code of this rejection (snake case, never changes once released).
    pub fn code(&self) -> &'static str {
        match self {
            TxError::Malformed { .. } => "malformed",
            TxError::TooLarge { .. } => "too_large",
            TxError::BadSignature { .. } => "bad_signature",
            TxError::WrongSender => "wrong_sender",
            TxError::FeeTooLow { .. } => "fee_too_low",
            TxError::NonceTooLow { .. } => "nonce_too_low",
            TxError::NonceTooHigh { .. } => "nonce_too_high",
            TxError::InsufficientBalance { .. } => "insufficient_balance",
            TxError::ZeroAmount { .. } => "zero_amount",
            TxError::UnknownObject(_) => "unknown_object",
            TxError::NotOwner(_) => "not_owner",
            TxError::WrongObjectType { .. } => "wrong_object_type",
            TxError::StorageExpired { .. } => "storage_expired",
            TxError::StorageNotStarted { .. } => "storage_not_started",
            TxError::StorageTooSmall { .. } => "storage_too_small",
            TxError::InvalidSplit { .. } => "invalid_split",
            TxError::IncompatibleStorage { .. } => "incompatible_storage",
            TxError::BlobIdMismatch { .. } => "blob_id_mismatch",
            TxError::AlreadyCertified(_) => "already_certified",
            TxError::NotCertified(_) => "not_certified",
            TxError::BlobExpired { .. } => "blob_expired",
            TxError::BlobInvalid(_) => "blob_invalid",
            TxError::CertificateInvalid { .. } => "certificate_invalid",
            TxError::WrongCertificateMessage { .. } => "wrong_certificate_message",
            TxError::NotDeletable(_) => "not_deletable",
            TxError::AlreadyInvalid(_) => "already_invalid",
            TxError::TooManyAttributes { .. } => "too_many_attributes",
            TxError::UnknownAttribute(_) => "unknown_attribute",
            TxError::FaucetDisabled => "faucet_disabled",
            TxError::FaucetLimit { .. } => "faucet_limit",
            TxError::FaucetAccountCap { .. } => "faucet_account_cap",
            TxError::FaucetEpochCap { .. } => "faucet_epoch_cap",
            TxError::FaucetTotalCap { .. } => "faucet_total_cap",
            TxError::EpochsOutOfRange { .. } => "epochs_out_of_range",
            TxError::DuplicateNode { .. } => "duplicate_node",
            TxError::UnknownNode(_) => "unknown_node",
            TxError::InvalidPublicKey => "invalid_public_key",
            TxError::InvalidCommission(_) => "invalid_commission",
            TxError::InvalidField { .. } => "invalid_field",
            TxError::WithdrawalNotRequested(_) => "withdrawal_not_requested",
            TxError::WithdrawalAlreadyRequested(_) => "withdrawal_already_requested",
            TxError::WithdrawalTooEarly { .. } => "withdrawal_too_early",
            TxError::CapacityExceeded { .. } => "capacity_exceeded",
            TxError::NotAuthorized { .. } => "not_authorized",
            TxError::NotCommitteeMember => "not_committee_member",
            TxError::NotSyncing { .. } => "not_syncing",
            TxError::WrongEpoch { .. } => "wrong_epoch",
            TxError::AlreadySynced(_) => "already_synced",
            TxError::StakeLocked { .. } => "stake_locked",
            TxError::InvalidProposal { .. } => "invalid_proposal",
            TxError::UnknownProposal(_) => "unknown_proposal",
            TxError::ProposalClosed(_) => "proposal_closed",
            TxError::NoChallenges { .. } => "no_challenges",
            TxError::ChallengeWindowClosed { .. } => "challenge_window_closed",
            TxError::AlreadyProved(_) => "already_proved",
            TxError::WrongProofCount { .. } => "wrong_proof_count",
            TxError::ProofOutOfOrder { .. } => "proof_out_of_order",
            TxError::ProofFailed { .. } => "proof_failed",
            TxError::InvalidSite(_) => "invalid_site",
            TxError::InvalidName(_) => "invalid_name",
            TxError::NameTaken { .. } => "name_taken",
            TxError::NameNotHeld(_) => "name_not_held",
            TxError::InvalidPolicy(_) => "invalid_policy",
            TxError::PriceAboveLimit { .. } => "price_above_limit",
            TxError::Overflow { .. } => "overflow",
            TxError::BlobShared(_) => "blob_shared",
            TxError::InsufficientSharedFunds { .. } => "insufficient_shared_funds",
            TxError::PermanentNotExpired { .. } => "permanent_not_expired",
        }
    }

    /// An overflow in `what`.
    pub fn overflow(what: &str) -> Self {
        TxError::Overflow {
            what: what.to_owned(),
        }
    }

    /// `what` is larger than `max`.
    pub fn too_large(what: &str, size: u64, max: u64) -> Self {
        TxError::TooLarge {
            what: what.to_owned(),
            size,
            max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_through_json_with_their_codes() {
        let errs = [
            TxError::NonceTooLow {
                expected: 3,
                got: 1,
            },
            TxError::UnknownObject(ObjectId([1; 32])),
            TxError::CertificateInvalid {
                reason: "below quorum".into(),
            },
            TxError::FaucetDisabled,
            TxError::FaucetEpochCap {
                epoch: Epoch(2),
                asked: Frost(5),
                minted: Frost(7),
                max: Frost(10),
            },
        ];
        for e in errs {
            let json = serde_json::to_string(&e).unwrap();
            let back: TxError = serde_json::from_str(&json).unwrap();
            assert_eq!(back.code(), e.code());
            assert_eq!(back, e);
        }
        assert_eq!(TxError::WrongSender.code(), "wrong_sender");
        assert_eq!(TxError::overflow("x").code(), "overflow");
    }
}
