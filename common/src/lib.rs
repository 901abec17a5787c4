//! Floe's protocol core: everything two parties must agree on byte for byte.
//!
//! * [`ids`]: blob, object and node ids, epochs, shard and sliver indices, WAL amounts.
//! * [`codec`]: BCS, the canonical encoding, with size-limited decoding.
//! * [`config`]: encoding parameters (`f`, `rows`, `cols`, symbol size, thresholds) for `n` shards.
//! * [`hash`], [`merkle`]: BLAKE3 Merkle trees with proofs (Walrus conventions).
//! * [`encoding`]: RedStuff (two-dimensional Reed-Solomon): encode, decode with consistency
//!   checks, sliver verification, recovery from peers' symbols, inconsistency proofs.
//! * [`quilt`]: many small files in one blob (the byte layout, patch ids), each readable alone.
//! * [`manifest`]: chunked files: a large file as chunk blobs listed by a manifest blob.
//! * [`site`]: websites recorded on the ledger: the site record, path resolution, names.
//! * [`crypto`], [`messages`], [`certificate`]: ed25519 keys, intent-tagged signed messages,
//!   committees and weighted certificates.
//! * [`challenge`]: storage challenges: the symbols a node must prove it holds, and proofs
//!   checked against the blob id alone.
//! * [`privacy`]: private blobs: threshold identity-based encryption (BLS12-381), the sealed
//!   blob format (chunked ChaCha20-Poly1305), and key-share requests and responses.
//!
//! This crate is pure: no IO, no async, no clocks. It is safe to call from any thread.

pub mod certificate;
pub mod challenge;
pub mod codec;
pub mod config;
pub mod crypto;
pub mod encoding;
pub mod erasure;
pub mod hash;
pub mod ids;
pub mod manifest;
pub mod merkle;
pub mod messages;
pub mod privacy;
pub mod quilt;
pub mod site;

pub use certificate::{
    Certificate, CertificateBuilder, CertificateError, Committee, CommitteeMember, Threshold,
};
pub use codec::CodecError;
pub use config::{EncodingConfig, EncodingConfigError, EncodingType};
pub use crypto::{KeyPair, PublicKey, Signature, SignatureError};
pub use encoding::{
    BlobMetadata, ConsistencyCheck, DecodeError, EncodedBlob, InconsistencyProof, RecoveryError,
    RecoveryOutcome, RecoverySymbol, Sliver, SliverAxis, SliverExpander, SliverPair,
    VerifiedBlobMetadata, decode_blob, encode_blob,
};
pub use hash::Digest;
pub use ids::{
    BlobId, Epoch, Frost, IdParseError, NodeId, ObjectId, ShardIndex, SliverIndex, SliverPairIndex,
};
pub use messages::{BlobPersistence, ProtocolMessage, SignedMessage, StorageConfirmation};
pub use privacy::{
    DataKey, EncryptedShare, EphemeralSecret, IbeError, Identity, IdentityKey, KeyRequest,
    KeyServerPublic, KeyServerSecret, KeyShare, MasterPublicKey, SealError, SealedHeader,
};
