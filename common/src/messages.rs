//! Signed protocol messages.
//!
//! Every signed message is the BCS encoding of
//! `intent (type u8, version u8, app id u8) ‖ chain id (BCS string) ‖ epoch u32 LE ‖ body`, so
//! that a signature made for one purpose, network, epoch or application can never be replayed
//! as another. On chain `c` (of `|c|` < 128 bytes) a storage confirmation for a permanent blob
//! is `41 + |c|` bytes: `[1, 0, 0x46] ‖ |c| ‖ c ‖ epoch ‖ blob id ‖ 0x00`; for a deletable
//! blob `73 + |c|`: `… ‖ 0x01 ‖ object id`. Conformance vectors pin these layouts. Verifiers
//! check the chain id and the epoch ([`ProtocolMessage::check`]).

use std::marker::PhantomData;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::codec::{self, CodecError};
use crate::crypto::{KeyPair, PublicKey, Signature, SignatureError};
use crate::encoding::SliverAxis;
use crate::ids::{BlobId, Epoch, ObjectId, ShardIndex};

/// Floe's application id in the intent header ('F').
pub const APP_ID: u8 = 0x46;
/// The current intent version.
pub const INTENT_VERSION: u8 = 0;
/// Largest signed protocol message (bodies are small and fixed-size).
pub const MAX_MESSAGE_LEN: usize = 1024;

/// What a signature is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IntentType {
    /// A storage node stored its slivers of a blob.
    StorageConfirmation = 1,
    /// A storage node verified an inconsistency proof for a blob.
    InvalidBlobId = 2,
    /// A storage node asks another for a shard's slivers.
    SyncShard = 3,
    /// A reader asks the key servers for their shares of a private blob's key
    /// ([`crate::privacy::KeyRequest`]).
    KeyRequest = 4,
    /// A ledger transaction.
    Transaction = 16,
    /// A consensus vote (prevote or precommit) of a ledger validator.
    ConsensusVote = 17,
    /// A consensus proposal of a ledger validator.
    ConsensusProposal = 18,
    /// A block body streamed by the proposer alongside its proposal.
    ProposalPart = 19,
}

/// The intent header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// [`IntentType`] as a byte.
    pub msg_type: u8,
    /// [`INTENT_VERSION`].
    pub version: u8,
    /// [`APP_ID`].
    pub app_id: u8,
}

impl Intent {
    /// The current header for `t`.
    pub const fn of(t: IntentType) -> Intent {
        Intent {
            msg_type: t as u8,
            version: INTENT_VERSION,
            app_id: APP_ID,
        }
    }
}

/// A message body with a fixed intent.
pub trait MessageBody: Serialize + DeserializeOwned {
    /// The intent of messages with this body.
    const INTENT: IntentType;
}

/// Intent + chain + epoch + body: the bytes that are signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolMessage<T> {
    /// Header.
    pub intent: Intent,
    /// The network's chain id.
    pub chain: String,
    /// The signer's current epoch.
    pub epoch: Epoch,
    /// Body.
    pub body: T,
}

impl<T: MessageBody> ProtocolMessage<T> {
    /// A message of chain `chain` for `epoch`.
    pub fn new(chain: &str, epoch: Epoch, body: T) -> Self {
        Self {
            intent: Intent::of(T::INTENT),
            chain: chain.to_owned(),
            epoch,
            body,
        }
    }

    /// Checks that the message belongs to chain `chain` and epoch `epoch`.
    pub fn check(&self, chain: &str, epoch: Epoch) -> Result<(), MessageError> {
        if self.chain != chain {
            return Err(MessageError::WrongChain {
                got: self.chain.clone(),
                expected: chain.to_owned(),
            });
        }
        if self.epoch != epoch {
            return Err(MessageError::WrongEpoch {
                got: self.epoch,
                expected: epoch,
            });
        }
        Ok(())
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes bytes and checks the intent header.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MessageError> {
        let msg: Self = codec::decode(bytes, MAX_MESSAGE_LEN)?;
        if msg.intent != Intent::of(T::INTENT) {
            return Err(MessageError::WrongIntent {
                got: msg.intent,
                expected: Intent::of(T::INTENT),
            });
        }
        Ok(msg)
    }
}

/// Whether a blob is permanent or deletable (then with its blob object id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlobPersistence {
    /// Cannot be deleted before its end epoch.
    Permanent,
    /// Its owner may delete the blob object.
    Deletable(ObjectId),
}

/// "I store all my slivers of this blob."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageConfirmation {
    /// The blob.
    pub blob_id: BlobId,
    /// Its persistence.
    pub persistence: BlobPersistence,
}

impl MessageBody for StorageConfirmation {
    const INTENT: IntentType = IntentType::StorageConfirmation;
}

/// "I verified a proof that this blob is inconsistent."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidBlobIdMsg {
    /// The blob.
    pub blob_id: BlobId,
}

impl MessageBody for InvalidBlobIdMsg {
    const INTENT: IntentType = IntentType::InvalidBlobId;
}

/// "Send me the slivers of this shard, from this blob id on" (node to node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncShardRequest {
    /// The shard.
    pub shard: ShardIndex,
    /// Which slivers.
    pub axis: SliverAxis,
    /// First blob id (inclusive).
    pub start: BlobId,
    /// At most this many slivers.
    pub count: u64,
}

impl MessageBody for SyncShardRequest {
    const INTENT: IntentType = IntentType::SyncShard;
}

/// A signed message could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Bytes that are not a message of the expected type.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A message for another purpose, version or application.
    #[error("wrong intent {got:?}, expected {expected:?}")]
    WrongIntent {
        /// Found.
        got: Intent,
        /// Expected.
        expected: Intent,
    },
    /// Bad signature.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A message of another network.
    #[error("message of chain {got:?}, expected {expected:?}")]
    WrongChain {
        /// Found.
        got: String,
        /// Expected.
        expected: String,
    },
    /// A message for another epoch.
    #[error("message for epoch {got}, expected {expected}")]
    WrongEpoch {
        /// Found.
        got: Epoch,
        /// Expected.
        expected: Epoch,
    },
}

/// A message's canonical bytes with one signature over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SignedMessage<T> {
    /// BCS of the [`ProtocolMessage`].
    #[serde(with = "serde_bytes")]
    pub serialized: Vec<u8>,
    /// Signature over `serialized`.
    pub signature: Signature,
    #[serde(skip)]
    _body: PhantomData<fn() -> T>,
}

impl<T: MessageBody> SignedMessage<T> {
    /// Signs a message.
    pub fn sign(key: &KeyPair, msg: &ProtocolMessage<T>) -> Self {
        let serialized = msg.to_bytes();
        let signature = key.sign_raw(&serialized);
        Self {
            serialized,
            signature,
            _body: PhantomData,
        }
    }

    /// From parts received over the wire (not yet verified).
    pub fn from_parts(serialized: Vec<u8>, signature: Signature) -> Self {
        Self {
            serialized,
            signature,
            _body: PhantomData,
        }
    }

    /// Verifies the signature under `key` and decodes the message.
    pub fn verify(&self, key: &PublicKey) -> Result<ProtocolMessage<T>, MessageError> {
        key.verify(&self.serialized, &self.signature)?;
        ProtocolMessage::from_bytes(&self.serialized)
    }
}
