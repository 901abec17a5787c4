//! Threshold Boneh-Franklin identity-based encryption on BLS12-381.
//!
//! # Keys
//!
//! The master secret `s` is a scalar of `Fr`, Shamir-shared `t`-of-`n` among the key servers:
//! a random polynomial `f` of degree `t − 1` with `f(0) = s`; server `i` (1-based, `u16`)
//! holds `sᵢ = f(i)` ([`KeyServerSecret`]) and publishes `sᵢ·G2` ([`KeyServerPublic`]). The
//! master public key is `s·G2` ([`MasterPublicKey`]). Any `t` shares determine `s`; fewer
//! reveal nothing about it.
//!
//! [`deal`] is a trusted dealer: it sees `s`. That is acceptable for a devnet genesis. A real
//! network must generate the shares with a distributed key generation (no party ever holds
//! `s`) and, when the key-server set changes, *reshare* them proactively: the new servers get
//! shares of the same `s` (the old ones become useless), so the master public key, and with it
//! every existing ciphertext, stays valid.
//!
//! # Identities
//!
//! A blob's identity is `(chain id, policy object, 32-byte nonce)`, hashed to G1 with RFC 9380
//! hash-to-curve (`hash_to_curve`, `expand_message_xmd` with SHA-256, simplified SWU, random
//! oracle) under the domain separation tag [`IDENTITY_DST`]. The hashed message is
//!
//! ```text
//! "floe/ibe/v1" (11 bytes) ‖ BCS(chain id) ‖ policy ObjectId (32) ‖ nonce (32)
//! ```
//!
//! where `BCS(chain id)` is the ULEB128 length then the UTF-8 bytes (one length byte for chain
//! ids under 128 bytes). The nonce is random per blob: the identity key of one blob opens no
//! other blob, even under the same policy.
//!
//! The identity key is `d = s·H(id)`. Server `i`'s share of it is `sᵢ·H(id)` ([`KeyShare`]),
//! checked against the server's public key by `e(sᵢ·H(id), G2) = e(H(id), sᵢ·G2)`
//! ([`KeyShare::verify`]). [`combine`] interpolates `t` shares at 0 (Lagrange), and
//! [`IdentityKey::verify`] checks the result against the master public key,
//! `e(d, G2) = e(H(id), s·G2)`: a reader with fewer than `t` valid shares, or with a bad one,
//! learns that it does not hold the key instead of decrypting garbage. Each check computes
//! `e(x, G2)·e(−H(id), Y) = 1` (`x` the share or key, `Y` the server's or master public key)
//! with one multi-Miller loop and one final exponentiation.
//!
//! # Key encapsulation
//!
//! [`encapsulate`]: random non-zero `r`, `U = r·G2` ([`Encapsulation`], 96 bytes),
//! `K = e(r·H(id), s·G2) = e(H(id), G2)^(rs)`. [`decapsulate`]: `K = e(d, U)`. The data key is
//!
//! ```text
//! DataKey = BLAKE3-derive_key("floe ibe v1 data key", K (576 bytes) ‖ U (96) ‖ identity message)
//! ```
//!
//! where `K`'s 576 bytes are its twelve `Fp` coefficients, each 48 bytes **little-endian** and
//! canonical (fully reduced mod `p`, out of Montgomery form), in the order
//!
//! ```text
//! c0.c0.c0, c0.c0.c1, c0.c1.c0, c0.c1.c1, c0.c2.c0, c0.c2.c1,
//! c1.c0.c0, c1.c0.c1, c1.c1.c0, c1.c1.c1, c1.c2.c0, c1.c2.c1
//! ```
//!
//! in the usual tower `Fp12 = Fp6[w]/(w² − v)`, `Fp6 = Fp2[v]/(v³ − (u + 1))`,
//! `Fp2 = Fp[u]/(u² + 1)` (`Fp12 = c0 + c1·w`, `Fp6 = c0 + c1·v + c2·v²`, `Fp2 = c0 + c1·u`).
//! This is `blstrs`'s own uncompressed serialization of `Gt` (its serde form: nested structs
//! `{c0, c1}`, `{c0, c1, c2}`, `{c0, c1}` down to each `Fp` as six little-endian `u64` limbs)
//! written with BCS, which adds no framing. It is neither blst's `blst_bendian_from_fp12`
//! (big-endian, `c0`/`c1` interleaved) nor the 288-byte torus compression of `blstrs`'s
//! `Compress`. A unit test pins it on `e(G1, G2)`, the conformance vectors on a sealed blob.

use std::fmt;
use std::sync::LazyLock;

use blstrs::{Bls12, G1Affine, G1Projective, G2Affine, G2Prepared, G2Projective, Gt, Scalar};
use ff::Field;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use pairing::{MillerLoopResult, MultiMillerLoop};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::codec;
use crate::ids::{ObjectId, TextForm};
use crate::privacy::points::{self, G1_LEN, G2_LEN, SCALAR_LEN, Secret};

/// The first bytes of every identity message.
pub const IDENTITY_TAG: &[u8; 11] = b"floe/ibe/v1";
/// The hash-to-curve domain separation tag of identities (RFC 9380 naming).
pub const IDENTITY_DST: &[u8] = b"FLOE-IBE-V1_BLS12381G1_XMD:SHA-256_SSWU_RO_";
/// The BLAKE3 `derive_key` context of data keys.
pub const DATA_KEY_CONTEXT: &str = "floe ibe v1 data key";
/// Length of a data key.
pub const DATA_KEY_LEN: usize = 32;
/// Length of a BCS-encoded [`KeyShare`]: index (2) and point (48).
pub const KEY_SHARE_LEN: usize = 2 + G1_LEN;
/// Length of the byte form of a `Gt` element in the data-key derivation (module docs).
const GT_LEN: usize = 576;

crate::fixed_bytes!(
    /// The random per-blob nonce of an identity (32 bytes, hex text form).
    BlobNonce,
    32,
    TextForm::Hex
);

impl BlobNonce {
    /// A fresh random nonce.
    pub fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        Self(b)
    }
}

/// A threshold-IBE operation failed, or bytes are not a valid key, share or point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbeError {
    /// The threshold is 0 or above the number of servers.
    #[error("invalid threshold {threshold} of {servers} key servers")]
    InvalidThreshold {
        /// The threshold asked for.
        threshold: u16,
        /// The number of key servers (or of shares given).
        servers: usize,
    },
    /// Fewer shares than the threshold.
    #[error("{got} key shares, the threshold is {threshold}")]
    TooFewShares {
        /// Shares given.
        got: usize,
        /// Shares needed.
        threshold: u16,
    },
    /// Two shares of the same key server.
    #[error("two key shares of key server {0}")]
    DuplicateIndex(u16),
    /// A key server index of 0 (indices are 1-based; the polynomial at 0 is the secret).
    #[error("key server index 0")]
    ZeroIndex,
    /// A share checked against another server's public key.
    #[error("a share of key server {share} checked against key server {server}")]
    WrongServer {
        /// The share's index.
        share: u16,
        /// The public key's index.
        server: u16,
    },
    /// A share that is not the server's share of this identity's key.
    #[error("the key share of key server {index} does not verify")]
    InvalidShare {
        /// The server.
        index: u16,
    },
    /// An identity key that is not this identity's key under the master public key.
    #[error("the identity key does not verify under the master public key")]
    InvalidKey,
    /// Public shares that are not one sharing of the master public key.
    #[error("the public share of key server {index} is not on the master key's sharing")]
    InconsistentShares {
        /// The first server whose public share does not fit.
        index: u16,
    },
    /// Bytes that are not a canonical point of the prime-order subgroup.
    #[error("invalid {what}: not a canonical point of the prime-order subgroup")]
    InvalidPoint {
        /// Which point.
        what: &'static str,
    },
    /// The identity point where it makes no sense.
    #[error("invalid {what}: the identity point")]
    IdentityPoint {
        /// Which point.
        what: &'static str,
    },
    /// A scalar that is not canonical, or zero.
    #[error("invalid scalar: zero or not below the group order")]
    InvalidScalar,
    /// Bytes that are not the BCS of the expected type.
    #[error(transparent)]
    Codec(#[from] crate::codec::CodecError),
}

/// A uniformly random non-zero scalar.
pub(crate) fn random_nonzero(rng: &mut impl CryptoRngCore) -> Scalar {
    loop {
        let s = Scalar::random(&mut *rng);
        if !bool::from(s.is_zero()) {
            return s;
        }
    }
}

/// The G2 generator, prepared for Miller loops.
static G2_GENERATOR: LazyLock<G2Prepared> =
    LazyLock::new(|| G2Prepared::from(G2Affine::generator()));

/// Whether `e(a, G2) = e(c, d)`, checked as `e(a, G2)·e(−c, d) = 1` with one multi-Miller
/// loop and one final exponentiation.
fn pairing_matches_generator(a: &G1Affine, c: &G1Affine, d: &G2Affine) -> bool {
    let neg_c = -c;
    let d = G2Prepared::from(*d);
    let r = Bls12::multi_miller_loop(&[(a, &G2_GENERATOR), (&neg_c, &d)]).final_exponentiation();
    bool::from(r.is_identity())
}

/// RFC 9380 `hash_to_curve` to G1 with `expand_message_xmd` (SHA-256) and simplified SWU
/// (blst's `blst_hash_to_g1`, no augmentation).
fn hash_to_g1(msg: &[u8], dst: &[u8]) -> G1Affine {
    G1Projective::hash_to_curve(msg, dst, &[]).to_affine()
}

/// The 576-byte form of a `Gt` element (module docs): `blstrs`'s serde form written with BCS,
/// the twelve canonical `Fp` coefficients, 48 bytes little-endian each, `c0.c0.c0` first.
///
/// # Panics
///
/// Never with the `blstrs` of `Cargo.lock`: the form is fixed-size (nested structs of `u64`
/// arrays), which BCS always writes, and a unit test pins its bytes. A later `blstrs` whose
/// serde form were not exactly 576 bytes would panic here rather than derive another key.
fn gt_bytes(k: &Gt) -> [u8; GT_LEN] {
    let mut out = [0u8; GT_LEN];
    let mut rest: &mut [u8] = &mut out;
    let written = bcs::serialize_into(&mut rest, k);
    let exact = written.is_ok() && rest.is_empty();
    if !exact {
        out.zeroize();
    }
    assert!(exact, "the BCS of a blstrs Gt is its 576 coefficient bytes");
    out
}

/// The identity of one blob: `(chain id, policy, nonce)` and its point `H(id)` in G1.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    chain: String,
    policy: ObjectId,
    nonce: BlobNonce,
    point: G1Affine,
}

impl Identity {
    /// The identity of the blob with `nonce` under `policy` on chain `chain`. Hashes to the
    /// curve once (about as costly as a scalar multiplication); reuse the value.
    pub fn new(chain: &str, policy: ObjectId, nonce: BlobNonce) -> Self {
        let mut id = Self {
            chain: chain.to_owned(),
            policy,
            nonce,
            point: G1Affine::identity(),
        };
        id.point = hash_to_g1(&id.message(), IDENTITY_DST);
        id
    }

    /// The chain id.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The policy object.
    pub fn policy(&self) -> ObjectId {
        self.policy
    }

    /// The blob's nonce.
    pub fn nonce(&self) -> BlobNonce {
        self.nonce
    }

    /// The hashed message (module docs): tag ‖ BCS(chain) ‖ policy ‖ nonce.
    pub fn message(&self) -> Vec<u8> {
        let chain = codec::encode(&self.chain);
        let mut m = Vec::with_capacity(IDENTITY_TAG.len() + chain.len() + 64);
        m.extend_from_slice(IDENTITY_TAG);
        m.extend_from_slice(&chain);
        m.extend_from_slice(&self.policy.0);
        m.extend_from_slice(&self.nonce.0);
        m
    }

    /// `H(id)`, the identity's point in G1.
    pub fn point(&self) -> G1Affine {
        self.point
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain)
            .field("policy", &self.policy)
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// Defines a newtype over a checked point with byte conversions, hex `Display` and serde.
macro_rules! point_newtype {
    ($(#[$meta:meta])* $name:ident, $point:ty, $len:expr, $with:literal, $decode:ident, $what:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(#[serde(with = $with)] $point);

        impl $name {
            /// Length of the compressed encoding.
            pub const LEN: usize = $len;

            /// From compressed bytes: canonical, in the prime-order subgroup, not the identity.
            pub fn from_bytes(bytes: &[u8; $len]) -> Result<Self, $crate::privacy::IbeError> {
                $crate::privacy::points::$decode(bytes, $what).map(Self)
            }

            /// The compressed encoding.
            pub fn to_bytes(&self) -> [u8; $len] {
                self.0.to_compressed()
            }

            /// The point.
            pub fn point(&self) -> $point {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$crate::ids::TextForm::Hex.encode(&self.to_bytes()))
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}
pub(crate) use point_newtype;

point_newtype!(
    /// The master public key `s·G2` (96 bytes compressed). Every private blob of the network
    /// is encrypted to it.
    MasterPublicKey,
    G2Affine,
    G2_LEN,
    "points::g2",
    g2_from_bytes,
    "master public key"
);

point_newtype!(
    /// A blob's key encapsulation `U = r·G2` (96 bytes compressed), stored in its header.
    Encapsulation,
    G2Affine,
    G2_LEN,
    "points::g2",
    g2_from_bytes,
    "encapsulation"
);

/// A key server's public key `sᵢ·G2`, with its 1-based index.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyServerPublic {
    #[serde(deserialize_with = "points::server_index")]
    index: u16,
    #[serde(with = "points::g2")]
    key: G2Affine,
}

impl KeyServerPublic {
    /// From the index and the compressed key.
    pub fn from_bytes(index: u16, key: &[u8; G2_LEN]) -> Result<Self, IbeError> {
        if index == 0 {
            return Err(IbeError::ZeroIndex);
        }
        Ok(Self {
            index,
            key: points::g2_from_bytes(key, "key server public key")?,
        })
    }

    /// The 1-based index.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The compressed key.
    pub fn key_bytes(&self) -> [u8; G2_LEN] {
        self.key.to_compressed()
    }
}

impl fmt::Debug for KeyServerPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyServerPublic({}, {})",
            self.index,
            TextForm::Hex.encode(&self.key_bytes())
        )
    }
}

/// A key server's share `sᵢ` of the master secret. Zeroed on drop; `Debug` never shows it.
///
/// Serde form: `{ index: u16, share: 32 bytes little-endian }` (in BCS 34 bytes; in JSON or
/// TOML the share is `0x` hex). Deserialisation refuses index 0 and a zero or non-canonical
/// share.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyServerSecret {
    #[serde(deserialize_with = "points::server_index")]
    index: u16,
    #[serde(with = "points::secret_scalar")]
    share: Secret<Scalar>,
}

impl KeyServerSecret {
    /// From the index and the 32-byte little-endian share.
    pub fn from_bytes(index: u16, share: &[u8; SCALAR_LEN]) -> Result<Self, IbeError> {
        if index == 0 {
            return Err(IbeError::ZeroIndex);
        }
        Ok(Self {
            index,
            share: Secret(points::scalar_from_bytes(share)?),
        })
    }

    /// The share as 32 bytes little-endian: secret, for key files only.
    pub fn to_bytes(&self) -> [u8; SCALAR_LEN] {
        self.share.0.to_bytes_le()
    }

    /// The 1-based index.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The public key `sᵢ·G2`.
    pub fn public(&self) -> KeyServerPublic {
        KeyServerPublic {
            index: self.index,
            key: (G2Affine::generator() * self.share.0).to_affine(),
        }
    }

    /// This server's share `sᵢ·H(id)` of `id`'s key. The caller must first check that the
    /// requester may read `id` (policy, freshness, replay); the share is then sent encrypted
    /// ([`KeyServerSecret::respond`]).
    pub fn derive_share(&self, id: &Identity) -> KeyShare {
        KeyShare {
            index: self.index,
            point: (id.point * self.share.0).to_affine(),
        }
    }

    pub(crate) fn share(&self) -> &Scalar {
        &self.share.0
    }
}

impl Drop for KeyServerSecret {
    fn drop(&mut self) {
        self.share.zeroize();
    }
}

impl fmt::Debug for KeyServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyServerSecret({}, <secret>)", self.index)
    }
}

/// A key server's share `sᵢ·H(id)` of an identity key. BCS: index u16 LE ‖ point (48 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyShare {
    #[serde(deserialize_with = "points::server_index")]
    index: u16,
    #[serde(with = "points::g1")]
    point: G1Affine,
}

impl KeyShare {
    /// The index of the server that made it.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The share's point.
    pub fn point(&self) -> G1Affine {
        self.point
    }

    /// Checks that this is `server`'s share of `id`'s key: `e(share, G2) = e(H(id), sᵢ·G2)`.
    pub fn verify(&self, id: &Identity, server: &KeyServerPublic) -> Result<(), IbeError> {
        if self.index != server.index {
            return Err(IbeError::WrongServer {
                share: self.index,
                server: server.index,
            });
        }
        if pairing_matches_generator(&self.point, &id.point, &server.key) {
            Ok(())
        } else {
            Err(IbeError::InvalidShare { index: self.index })
        }
    }

    /// The BCS bytes ([`KEY_SHARE_LEN`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes [`KeyShare::to_bytes`], checking the index (not 0) and the point.
    pub fn decode(bytes: &[u8]) -> Result<Self, IbeError> {
        Ok(codec::decode(bytes, KEY_SHARE_LEN)?)
    }

    /// Internal: a share from an opened ciphertext (not yet verified).
    pub(crate) fn from_parts(index: u16, point: G1Affine) -> Self {
        Self { index, point }
    }
}

impl fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyShare({}, {})",
            self.index,
            TextForm::Hex.encode(&self.point.to_compressed())
        )
    }
}

/// An identity key `d = s·H(id)`: opens every blob of that identity (one blob, as the nonce
/// is random per blob). Zeroed on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct IdentityKey(Secret<G1Affine>);

impl IdentityKey {
    /// Checks that this is `id`'s key under `mpk`: `e(d, G2) = e(H(id), s·G2)`. Fails for a key
    /// combined from fewer than the threshold of shares, or from a bad share.
    pub fn verify(&self, id: &Identity, mpk: &MasterPublicKey) -> Result<(), IbeError> {
        if pairing_matches_generator(&self.0.0, &id.point, &mpk.0) {
            Ok(())
        } else {
            Err(IbeError::InvalidKey)
        }
    }

    /// The compressed key: secret.
    pub fn to_bytes(&self) -> [u8; G1_LEN] {
        self.0.0.to_compressed()
    }

    /// From compressed bytes (checked; verify it with [`IdentityKey::verify`]).
    pub fn from_bytes(bytes: &[u8; G1_LEN]) -> Result<Self, IbeError> {
        points::g1_from_bytes(bytes, "identity key").map(|p| Self(Secret(p)))
    }
}

impl Drop for IdentityKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(<secret>)")
    }
}

/// The symmetric key of one blob (32 bytes). Zeroed on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// From raw bytes (a key the writer kept).
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw bytes: secret.
    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<secret>)")
    }
}

/// Shares the master secret `t`-of-`n` with a trusted dealer (module docs: devnet genesis
/// only). Returns the master public key, the servers' secrets and their public keys, both
/// in index order `1..=n`.
#[allow(clippy::type_complexity)]
pub fn deal(
    rng: &mut impl CryptoRngCore,
    servers: u16,
    threshold: u16,
) -> Result<(MasterPublicKey, Vec<KeyServerSecret>, Vec<KeyServerPublic>), IbeError> {
    if threshold == 0 || threshold > servers {
        return Err(IbeError::InvalidThreshold {
            threshold,
            servers: usize::from(servers),
        });
    }
    loop {
        let mut coeffs: Vec<Secret<Scalar>> = (0..threshold)
            .map(|_| Secret(random_nonzero(rng)))
            .collect();
        let secrets: Vec<KeyServerSecret> = (1..=servers)
            .map(|index| {
                let x = Scalar::from(u64::from(index));
                let share = coeffs
                    .iter()
                    .rev()
                    .fold(Scalar::ZERO, |acc, c| acc * x + c.0);
                KeyServerSecret {
                    index,
                    share: Secret(share),
                }
            })
            .collect();
        let mpk = MasterPublicKey((G2Affine::generator() * coeffs[0].0).to_affine());
        coeffs.zeroize();
        // A zero share has probability about n/2²⁵⁵; its public key would be the identity.
        if secrets.iter().any(|s| bool::from(s.share.0.is_zero())) {
            continue;
        }
        let publics = secrets.iter().map(KeyServerSecret::public).collect();
        return Ok((mpk, secrets, publics));
    }
}

/// Interpolates the identity key from `threshold` shares (Lagrange at 0), using the first
/// `threshold` of `shares`.
///
/// Refuses a threshold of 0, fewer shares than the threshold, index 0 and two shares of one
/// server (anywhere in `shares`). Shares are not checked here: verify each with
/// [`KeyShare::verify`] first, or the result with [`IdentityKey::verify`]. Costs `O(t²)`
/// field operations and `t` scalar multiplications.
pub fn combine(shares: &[KeyShare], threshold: u16) -> Result<IdentityKey, IbeError> {
    if threshold == 0 {
        return Err(IbeError::InvalidThreshold {
            threshold,
            servers: shares.len(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in shares {
        if s.index == 0 {
            return Err(IbeError::ZeroIndex);
        }
        if !seen.insert(s.index) {
            return Err(IbeError::DuplicateIndex(s.index));
        }
    }
    if shares.len() < usize::from(threshold) {
        return Err(IbeError::TooFewShares {
            got: shares.len(),
            threshold,
        });
    }
    let used = &shares[..usize::from(threshold)];
    let indices: Vec<u16> = used.iter().map(|s| s.index).collect();
    let mut key = G1Projective::identity();
    for (share, lambda) in used.iter().zip(lagrange_at(&indices, Scalar::ZERO)?) {
        key += share.point * lambda;
    }
    Ok(IdentityKey(Secret(key.to_affine())))
}

/// The Lagrange coefficients at `x` of the points at `indices` (distinct, non-zero):
/// `λᵢ(x) = Π_{j≠i} (x − xⱼ) / (xᵢ − xⱼ)`, so that `f(x) = Σ λᵢ(x)·f(xᵢ)` for any polynomial
/// `f` of degree below `indices.len()`.
fn lagrange_at(indices: &[u16], x: Scalar) -> Result<Vec<Scalar>, IbeError> {
    let xs: Vec<Scalar> = indices
        .iter()
        .map(|i| Scalar::from(u64::from(*i)))
        .collect();
    xs.iter()
        .enumerate()
        .map(|(i, xi)| {
            let (mut num, mut den) = (Scalar::ONE, Scalar::ONE);
            for (j, xj) in xs.iter().enumerate() {
                if i != j {
                    num *= x - xj;
                    den *= xi - xj;
                }
            }
            Option::<Scalar>::from(den.invert())
                .map(|inv| num * inv)
                .ok_or(IbeError::DuplicateIndex(indices[i]))
        })
        .collect()
}

/// Checks that `servers`' public shares are one `threshold`-of-n sharing of `mpk`: the first
/// `threshold` of them interpolate (in the exponent) to `mpk` at 0 and to every other server's
/// key at its index. A genesis checks its key servers with this, so a wrong public share is
/// refused before anyone encrypts to the master key.
pub fn check_public_shares(
    mpk: &MasterPublicKey,
    servers: &[KeyServerPublic],
    threshold: u16,
) -> Result<(), IbeError> {
    let t = usize::from(threshold);
    if t == 0 || t > servers.len() {
        return Err(IbeError::InvalidThreshold {
            threshold,
            servers: servers.len(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in servers {
        if s.index == 0 {
            return Err(IbeError::ZeroIndex);
        }
        if !seen.insert(s.index) {
            return Err(IbeError::DuplicateIndex(s.index));
        }
    }
    let base = &servers[..t];
    let indices: Vec<u16> = base.iter().map(|s| s.index).collect();
    // The sharing polynomial's value at `x`, in the exponent.
    let at = |x: Scalar| -> Result<G2Affine, IbeError> {
        let mut sum = G2Projective::identity();
        for (s, lambda) in base.iter().zip(lagrange_at(&indices, x)?) {
            sum += s.key * lambda;
        }
        Ok(sum.to_affine())
    };
    if at(Scalar::ZERO)? != mpk.0 {
        return Err(IbeError::InconsistentShares {
            index: base[t - 1].index,
        });
    }
    for s in &servers[t..] {
        if at(Scalar::from(u64::from(s.index)))? != s.key {
            return Err(IbeError::InconsistentShares { index: s.index });
        }
    }
    Ok(())
}

/// A fresh data key for `id` under `mpk`, and its encapsulation for the blob's header.
pub fn encapsulate(
    rng: &mut impl CryptoRngCore,
    mpk: &MasterPublicKey,
    id: &Identity,
) -> (Encapsulation, DataKey) {
    let mut r = Secret(random_nonzero(rng));
    let u = (G2Affine::generator() * r.0).to_affine();
    let mut rh = Secret((id.point * r.0).to_affine());
    r.zeroize();
    let k = Secret(blstrs::pairing(&rh.0, &mpk.0));
    rh.zeroize();
    (Encapsulation(u), data_key(k, &u, id))
}

/// The data key of `enc` for `id`, with `id`'s key. A key that does not verify
/// ([`IdentityKey::verify`]) gives a wrong data key, which fails to open the blob.
pub fn decapsulate(key: &IdentityKey, enc: &Encapsulation, id: &Identity) -> DataKey {
    let k = Secret(blstrs::pairing(&key.0.0, &enc.0));
    data_key(k, &enc.0, id)
}

/// `BLAKE3-derive_key(DATA_KEY_CONTEXT, K ‖ U ‖ identity message)` (module docs).
fn data_key(mut k: Secret<Gt>, u: &G2Affine, id: &Identity) -> DataKey {
    let mut h = blake3::Hasher::new_derive_key(DATA_KEY_CONTEXT);
    let mut kb = gt_bytes(&k.0);
    k.zeroize();
    h.update(&kb);
    kb.zeroize();
    h.update(&u.to_compressed());
    h.update(&id.message());
    DataKey(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    /// RFC 9380 appendix J.9.1 (BLS12381G1_XMD:SHA-256_SSWU_RO_): the hash this module uses.
    #[test]
    fn hash_to_g1_matches_rfc_9380() {
        let dst = b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_";
        for (msg, x, y) in [
            (
                &b""[..],
                "052926add2207b76ca4fa57a8734416c8dc95e24501772c814278700eed6d1e4e8cf62d9c09db0fac349612b759e79a1",
                "08ba738453bfed09cb546dbb0783dbb3a5f1f566ed67bb6be0e8c67e2e81a4cc68ee29813bb7994998f3eae0c9c6a265",
            ),
            (
                b"abc",
                "03567bc5ef9c690c2ab2ecdf6a96ef1c139cc0b2f284dca0a9a7943388a49a3aee664ba5379a7655d3c68900be2f6903",
                "0b9c15f3fe6e5cf4211f346271d7b01c8f3b28be689c8429c85b67af215533311f0b8dfaaa154fa6b88176c229f2885d",
            ),
        ] {
            let p = hash_to_g1(msg, dst).to_uncompressed();
            assert_eq!(hex::encode(&p[..48]), x);
            assert_eq!(hex::encode(&p[48..]), y);
        }
    }

    /// The byte form of `Gt` in the data key (module docs), pinned on `1` and `e(G1, G2)`.
    #[test]
    fn gt_bytes_are_the_canonical_little_endian_coefficients() {
        let mut one = [0u8; GT_LEN];
        one[0] = 1;
        assert_eq!(gt_bytes(&Gt::identity()), one);
        let g = blstrs::pairing(&G1Affine::generator(), &G2Affine::generator());
        let gb = gt_bytes(&g);
        // Every coefficient is reduced: below p < 2³⁸¹, so its last (top) byte is under 0x20.
        for c in gb.chunks(48) {
            assert!(c[47] < 0x20);
        }
        // c0.c0.c0 of e(G1, G2) (0x1250ebd8…aca1789b6 big-endian, as other implementations
        // print it), the whole encoding, and the c0 ‖ c1 split: the inverse of a unitary
        // element is its conjugate, c0 − c1·w.
        assert_eq!(
            hex::encode(&gb[..48]),
            "b68917caaa0543a808c53908f694d1b6e7b38de90ce9d83d505ca1ef1b442d2727d7d06831d8b2a7920afc71d8eb5012"
        );
        assert_eq!(
            blake3::hash(&gb).to_hex().as_str(),
            "260e7fdb63e4bcd52f617bb437de87b4252f7e80a6ec5fbe541d8402ebd85a3c"
        );
        let inv = gt_bytes(&-g);
        assert_eq!(inv[..288], gb[..288]);
        for (a, b) in inv[288..].chunks(48).zip(gb[288..].chunks(48)) {
            assert_ne!(a, b);
        }
        assert_ne!(gt_bytes(&(g + g)), gb);
    }

    #[test]
    fn identity_message_layout() {
        let id = Identity::new("floe-vects", ObjectId([3; 32]), BlobNonce([4; 32]));
        let m = id.message();
        assert_eq!(m.len(), 11 + 1 + 10 + 64);
        assert_eq!(&m[..11], b"floe/ibe/v1");
        assert_eq!(m[11], 10);
        assert_eq!(&m[12..22], b"floe-vects");
        assert_eq!(m[22..54], [3; 32]);
        assert_eq!(m[54..], [4; 32]);
        assert_eq!(id.point(), hash_to_g1(&m, IDENTITY_DST));
        assert_ne!(
            id.point(),
            Identity::new("floe-vects", ObjectId([3; 32]), BlobNonce([5; 32])).point()
        );
    }

    #[test]
    fn public_shares_are_checked_against_the_master_key() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(41);
        let (mpk, _, publics) = deal(&mut rng, 4, 3).unwrap();
        check_public_shares(&mpk, &publics, 3).unwrap();
        // Any order of the servers.
        let mut reversed = publics.clone();
        reversed.reverse();
        check_public_shares(&mpk, &reversed, 3).unwrap();
        // A share from another dealing, or another master key.
        let (other_mpk, _, other) = deal(&mut rng, 4, 3).unwrap();
        let mut mixed = publics.clone();
        mixed[3] = other[3];
        assert_eq!(
            check_public_shares(&mpk, &mixed, 3),
            Err(IbeError::InconsistentShares { index: 4 })
        );
        mixed = publics.clone();
        mixed[1] = other[1];
        assert!(check_public_shares(&mpk, &mixed, 3).is_err());
        assert!(check_public_shares(&other_mpk, &publics, 3).is_err());
        assert!(check_public_shares(&mpk, &publics, 5).is_err());
        assert!(check_public_shares(&mpk, &[publics[0], publics[0]], 1).is_err());
    }

    #[test]
    fn lagrange_of_any_t_shares_gives_the_master_secret_point() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (mpk, secrets, publics) = deal(&mut rng, 5, 3).unwrap();
        let id = Identity::new("c", ObjectId([1; 32]), BlobNonce([2; 32]));
        let shares: Vec<KeyShare> = secrets.iter().map(|s| s.derive_share(&id)).collect();
        for (s, p) in shares.iter().zip(&publics) {
            s.verify(&id, p).unwrap();
        }
        let key = combine(&shares[1..4], 3).unwrap();
        key.verify(&id, &mpk).unwrap();
        let other = combine(&[shares[4], shares[0], shares[2]], 3).unwrap();
        assert_eq!(key.to_bytes(), other.to_bytes());
        assert!(matches!(
            combine(&shares[..2], 3),
            Err(IbeError::TooFewShares {
                got: 2,
                threshold: 3
            })
        ));
    }

    #[test]
    fn deal_validates_the_threshold() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for (n, t) in [(3, 0), (3, 4), (0, 0), (0, 1)] {
            assert!(matches!(
                deal(&mut rng, n, t),
                Err(IbeError::InvalidThreshold { .. })
            ));
        }
        let (_, secrets, publics) = deal(&mut rng, 1, 1).unwrap();
        assert_eq!((secrets.len(), publics.len()), (1, 1));
    }

    #[test]
    fn secrets_do_not_leak_through_debug_and_round_trip_through_serde() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let (_, secrets, _) = deal(&mut rng, 2, 2).unwrap();
        let s = &secrets[1];
        let hex_share = hex::encode(s.to_bytes());
        assert!(!format!("{s:?}").contains(&hex_share));
        let json = serde_json::to_string(s).unwrap();
        assert!(json.contains(&hex_share));
        let back: KeyServerSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_bytes(), s.to_bytes());
        let bcs = codec::encode(s);
        assert_eq!(bcs.len(), 34);
        let back: KeyServerSecret = codec::decode(&bcs, 34).unwrap();
        assert_eq!(back.public(), s.public());
        // Index 0 and a zero share are refused.
        let mut zero_index = bcs.clone();
        zero_index[..2].copy_from_slice(&[0, 0]);
        assert!(codec::decode::<KeyServerSecret>(&zero_index, 34).is_err());
        let mut zero_share = bcs;
        zero_share[2..].fill(0);
        assert!(codec::decode::<KeyServerSecret>(&zero_share, 34).is_err());
        assert!(matches!(
            KeyServerSecret::from_bytes(1, &[0xff; 32]),
            Err(IbeError::InvalidScalar)
        ));
        let d = DataKey::from_bytes([7; 32]);
        assert_eq!(format!("{d:?}"), "DataKey(<secret>)");
    }
}
