//! Private blobs: blob contents encrypted so that only readers a *policy* allows can open
//! them, with keys released by a threshold of *key servers*.
//!
//! This is the pure cryptographic core (the design of Mysten's Seal, with a single
//! threshold-shared master key); ledger policies, the key-server endpoint and the client build
//! on it. Storage nodes only ever see ciphertext.
//!
//! # Protocol
//!
//! 1. **Keys** ([`ibe`]). The master secret `s` is shared `t`-of-`n` among the key servers
//!    (server `i` holds `sᵢ`, publishes `sᵢ·G2`); the network publishes the master public key
//!    `s·G2`. [`deal`] is a trusted dealer for a devnet genesis; a real network needs a DKG
//!    and proactive resharing that keeps the master public key.
//! 2. **Seal** ([`seal`], [`Sealer`]). The writer picks a random nonce; the blob's identity
//!    is `(chain id, policy object, nonce)`. Boneh-Franklin encapsulation to that identity
//!    ([`encapsulate`]) gives a fresh [`DataKey`] and `U = r·G2`; the blob is encrypted under
//!    the data key in segments ([`stream`]), behind a header carrying policy, nonce and `U`
//!    ([`header`]).
//! 3. **Request** ([`request`]). A reader decodes the header, makes an ephemeral ElGamal key
//!    and sends one signed [`KeyRequest`] (intent 4: chain and epoch bound) to the key
//!    servers.
//! 4. **Respond.** Each key server checks the request (signature here; chain, epoch,
//!    freshness, replay and the policy outside this crate) and returns its share `sᵢ·H(id)`
//!    encrypted to the ephemeral key ([`KeyServerSecret::respond`]).
//! 5. **Open.** The reader opens and verifies each share by a pairing
//!    ([`EphemeralSecret::open_verified`]), combines `t` of them ([`combine`]), checks the
//!    identity key against the master public key ([`IdentityKey::verify`]), derives the data
//!    key ([`decapsulate`]) and decrypts ([`open`], [`Opener`]).
//!
//! # Guarantees
//!
//! * Fewer than `t` key servers learn nothing about `s`, and fewer than `t` shares give no
//!   identity key (the combined point fails [`IdentityKey::verify`]).
//! * An identity key opens one blob: the nonce is random per blob, so keys fetched for one
//!   blob open no other blob under the same policy.
//! * Shares travel encrypted to the reader's ephemeral key and are checked by pairings, so a
//!   wrong, forged or substituted share is detected, and responses need no signature.
//! * The segments are bound to the header and their position: any tampering, reordering,
//!   truncation, extension or splicing fails with a typed [`SealError`].
//!
//! # Byte formats
//!
//! The curve arithmetic is `blstrs` over the audited `blst`. Points are compressed (G1 48
//! bytes, G2 96 bytes) and checked on decoding: canonical, in the prime-order subgroup, not the
//! identity; scalars are 32 bytes little-endian, canonical, not zero. The pairing value `K`
//! enters the data key as `blstrs`'s canonical uncompressed `Gt` bytes and is never sent. The
//! layouts are in the submodules and pinned by conformance vectors:
//!
//! | What | Bytes | Format |
//! |------|-------|--------|
//! | identity message | `76 + |chain|` | [`ibe`] |
//! | sealed-blob header | 188 | [`header`] |
//! | segment | `≤ segment_size + 16` | [`stream`] |
//! | key request body | 168 | [`request`] |
//! | signed key request | `176 + |chain|` signed, + length and 64-byte signature | [`request`] |
//! | encrypted share | 98 | [`request`] |
//! | key share | 50 | [`ibe`] |
//! | pairing value `K` (data-key input, never sent): twelve `Fp`, 48 bytes LE each | 576 | [`ibe`] |
//!
//! Every decoder takes untrusted bytes, enforces a size limit and returns a typed error
//! ([`IbeError`], [`SealError`], [`crate::messages::MessageError`]); none panics.

pub mod header;
pub mod ibe;
mod points;
pub mod request;
pub mod stream;

pub use header::{
    DEFAULT_SEGMENT_SIZE, HEADER_LEN, HeaderError, MAGIC, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE,
    SealError, SealedHeader,
};
pub use ibe::{
    BlobNonce, DataKey, Encapsulation, IbeError, Identity, IdentityKey, KeyServerPublic,
    KeyServerSecret, KeyShare, MasterPublicKey, check_public_shares, combine, deal, decapsulate,
    encapsulate,
};
pub use points::{G1_LEN, G2_LEN, SCALAR_LEN};
pub use request::{EncryptedShare, EphemeralPublic, EphemeralSecret, KeyRequest, RequestId};
pub use stream::{Opener, Sealer, SegmentOpener, open, seal, seal_with_segment_size};
