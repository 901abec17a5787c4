//! The data of Floe's metadata ledger, shared by everyone who talks to it: validators, storage
//! nodes, the SDK and tools. No engine, no storage, no executor: a client that only stores blobs
//! depends on this crate and not on the validator (`floe-ledger`).
//!
//! * [`tx`]: accounts ([`Address`]), [`Transaction`], every [`TxKind`], signing and
//!   verification ([`SignedTransaction`] → [`VerifiedTransaction`]).
//! * [`error`]: [`TxError`], the typed rejection of a transaction, with stable codes, and [`TxFailure`], what a failed one cost.
//! * [`objects`], [`events`]: the records the ledger keeps (accounts, blob and storage objects,
//!   storage nodes, staking pools, the committee, proposals) and the events and effects a
//!   transaction or a block produces.
//! * [`policy`], [`key_servers`]: access policies of private blobs and their pure evaluation;
//!   the key servers that release keys under them.
//! * [`genesis`], [`committee`]: the genesis file and its validation, and the pure rules that
//!   apportion shards to nodes by stake (D'Hondt with a per-node cap, minimal movement).
//! * [`block`], [`cert`]: blocks, validator sets, consensus sign bytes and
//!   [`CommitCertificate::verify`], so anyone checks a block without running consensus.
//! * [`record`]: what a validator records per block ([`BlockRecord`], [`TxStatus`]) and event
//!   positions ([`EventCursor`]).
//! * [`rpc`], [`client`]: the JSON shapes of the HTTP RPC and the typed [`LedgerClient`].

pub mod block;
pub mod cert;
pub mod client;
pub mod committee;
pub mod error;
pub mod events;
pub mod genesis;
pub mod key_servers;
pub mod objects;
pub mod policy;
pub mod record;
pub mod rpc;
pub mod tx;

pub use block::{Block, BlockHash, BlockHeader};
pub use cert::{CertError, CommitCertificate, ValidatorAddress, ValidatorInfo, ValidatorSet};
pub use client::{BodyError, ClientError, LedgerClient, TransportError};
pub use committee::{ApportionError, active_set, apportion, assign_shards, transition};
pub use error::{TxError, TxFailure};
pub use events::{Effects, EpochEvent, Event, MemberShards, NodeReward, ShardMove};
pub use genesis::{
    DEFAULT_CHALLENGES_PER_NODE, FaucetParams, Genesis, GenesisBuilder, GenesisError, GenesisNode,
    GenesisValidator, MAX_CHALLENGES_PER_NODE, Params,
};
pub use key_servers::{KeyServerInfo, KeyServers, KeyServersError};
pub use objects::{
    Account, BlobIdInfo, BlobObject, ChallengeRound, CommitteeState, EpochAccount, EpochState,
    FaucetMinted, NameObject, NodeVotes, Object, Proposal, ProposalChange, ProposalStatus,
    SharedBlob, SiteObject, StakeStatus, StakedWal, StakingPool, StorageNode, StorageResource,
    SystemState, derive_object_id, name_object_id,
};
pub use policy::{
    AccessObject, Denial, LedgerClock, PolicyObject, PolicyRule, Unlock, access_object_id,
};
pub use record::{
    BlockRecord, CommittedTx, EventCursor, EventRecord, ResultsError, TxOutcome, TxStatus,
    app_hash_after,
};
pub use tx::{
    Address, MAX_BURN_BLOBS, MAX_PROOFS_TX_BYTES, MAX_TX_BYTES, SignedTransaction, Transaction,
    TxDigest, TxKind, VerifiedTransaction, node_id_of,
};
