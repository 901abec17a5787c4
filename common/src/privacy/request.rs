//! Share transport: a reader's signed key request and a key server's encrypted share.
//!
//! # Request
//!
//! A reader makes one ephemeral ElGamal key pair `(e, E = e·G1)` ([`EphemeralSecret`],
//! [`EphemeralPublic`]) and signs one [`KeyRequest`] with its account key; it sends the same
//! signed request to every key server. The request is a [`SignedMessage`] with intent
//! [`IntentType::KeyRequest`] (4), so its chain id and epoch are bound like every other
//! signed message. The body's BCS is 168 bytes:
//!
//! ```text
//! policy ObjectId (32) ‖ blob nonce (32) ‖ ephemeral key E (G1, 48) ‖ requester ed25519 key (32)
//!   ‖ issued_at_ms u64 LE (8) ‖ request id (16)
//! ```
//!
//! The signed bytes are `[4, 0, 0x46] ‖ BCS(chain) ‖ epoch u32 LE ‖ body`: `176 + |c|` bytes on
//! a chain id of `|c| < 128` bytes; on the wire, `BCS(SignedMessage)` adds a ULEB128 length (2
//! bytes from 128 on) and the 64-byte signature: 252 bytes for a 10-byte chain id. The
//! signature is checked against the body's own `requester` ([`KeyRequest::verify_signed`]).
//! The key server then checks, outside this crate: the chain and epoch
//! ([`ProtocolMessage::check`]), the freshness of `issued_at_ms`, replays (keyed by
//! [`KeyRequest::digest`]), and that the policy lets `requester` read.
//!
//! # Response
//!
//! The server's share `sᵢ·H(id)` ElGamal-encrypted to `E` ([`KeyServerSecret::respond`]):
//! `c1 = r·G1`, `c2 = sᵢ·H(id) + r·E` for a fresh random `r`. [`EncryptedShare`] BCS, 98 bytes:
//!
//! ```text
//! server index u16 LE (2) ‖ c1 (G1, 48) ‖ c2 (G1, 48)
//! ```
//!
//! The reader opens it as `c2 − e·c1` ([`EphemeralSecret::open`]) and checks the share by a
//! pairing against the server's public key ([`KeyShare::verify`], or
//! [`EphemeralSecret::open_verified`]), so responses need no signature: a bad or substituted
//! share is caught, and an eavesdropper, who lacks `e`, learns nothing from the response.

use blstrs::{G1Affine, G1Projective, Scalar};
use group::Curve;
use group::prime::PrimeCurveAffine;
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::codec;
use crate::crypto::{KeyPair, PublicKey};
use crate::hash::Digest;
use crate::ids::{Epoch, ObjectId, TextForm};
use crate::messages::{
    IntentType, MAX_MESSAGE_LEN, MessageBody, MessageError, ProtocolMessage, SignedMessage,
};
use crate::privacy::ibe::{
    BlobNonce, IbeError, Identity, KeyServerPublic, KeyServerSecret, KeyShare, point_newtype,
    random_nonzero,
};
use crate::privacy::points::{self, G1_LEN, Secret};

/// Length of a [`KeyRequest`] body's BCS.
pub const KEY_REQUEST_LEN: usize = 32 + 32 + G1_LEN + 32 + 8 + 16;
/// Longest BCS of a signed key request: a signed message of at most [`MAX_MESSAGE_LEN`] bytes,
/// its 2-byte length and the signature.
pub const MAX_SIGNED_KEY_REQUEST_LEN: usize = MAX_MESSAGE_LEN + 2 + 64;
/// Length of an [`EncryptedShare`]'s BCS.
pub const ENCRYPTED_SHARE_LEN: usize = 2 + 2 * G1_LEN;
/// The BLAKE3 `derive_key` context of [`KeyRequest::digest`].
pub const KEY_REQUEST_DIGEST_CONTEXT: &str = "floe key request v1 digest";

crate::fixed_bytes!(
    /// A random id that makes each key request unique (16 bytes, hex text form).
    RequestId,
    16,
    TextForm::Hex
);

point_newtype!(
    /// A reader's ephemeral ElGamal public key `E = e·G1` (48 bytes compressed).
    EphemeralPublic,
    G1Affine,
    G1_LEN,
    "points::g1",
    g1_from_bytes,
    "ephemeral public key"
);

/// A reader's ephemeral ElGamal secret `e`, made per request. Zeroed on drop; `Debug` never
/// shows it.
pub struct EphemeralSecret(Secret<Scalar>);

impl EphemeralSecret {
    /// A fresh key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self(Secret(random_nonzero(rng)))
    }

    /// `E = e·G1`.
    pub fn public(&self) -> EphemeralPublic {
        EphemeralPublic((G1Affine::generator() * self.0.0).to_affine())
    }

    /// The share in `share`: `c2 − e·c1`. Not checked: see [`KeyShare::verify`].
    pub fn open(&self, share: &EncryptedShare) -> KeyShare {
        let point = (G1Projective::from(share.c2) - share.c1 * self.0.0).to_affine();
        KeyShare::from_parts(share.index, point)
    }

    /// Opens `share` and checks it is `server`'s share of `id`'s key.
    pub fn open_verified(
        &self,
        share: &EncryptedShare,
        id: &Identity,
        server: &KeyServerPublic,
    ) -> Result<KeyShare, IbeError> {
        let s = self.open(share);
        s.verify(id, server)?;
        Ok(s)
    }
}

impl Drop for EphemeralSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for EphemeralSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EphemeralSecret(<secret>)")
    }
}

/// "Send me your share of the key of blob `nonce` under `policy`, encrypted to `ephemeral`."
/// The body of a signed key request (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// The policy object the blob is sealed under.
    pub policy: ObjectId,
    /// The blob's nonce (from its header).
    pub nonce: BlobNonce,
    /// Where the share is encrypted to.
    pub ephemeral: EphemeralPublic,
    /// Who asks: the signer, whom the policy must allow.
    pub requester: PublicKey,
    /// When the request was made (Unix milliseconds), for the server's freshness check.
    pub issued_at_ms: u64,
    /// Random, so that two requests never have the same bytes.
    pub request_id: RequestId,
}

impl MessageBody for KeyRequest {
    const INTENT: IntentType = IntentType::KeyRequest;
}

impl KeyRequest {
    /// A fresh request by `key` for the blob `(policy, nonce)`, signed for `chain` and
    /// `epoch`, with a new ephemeral key and request id. Returns the ephemeral secret (to open
    /// the responses) and the signed request (the same for every key server).
    pub fn new_signed(
        rng: &mut impl CryptoRngCore,
        key: &KeyPair,
        chain: &str,
        epoch: Epoch,
        policy: ObjectId,
        nonce: BlobNonce,
        issued_at_ms: u64,
    ) -> (EphemeralSecret, SignedMessage<KeyRequest>) {
        let ephemeral = EphemeralSecret::generate(rng);
        let mut request_id = [0u8; 16];
        rng.fill_bytes(&mut request_id);
        let body = KeyRequest {
            policy,
            nonce,
            ephemeral: ephemeral.public(),
            requester: key.public(),
            issued_at_ms,
            request_id: RequestId(request_id),
        };
        let signed = body.sign(key, chain, epoch);
        (ephemeral, signed)
    }

    /// Signs this body for `chain` and `epoch`. `key` must be `requester`'s, or the request
    /// does not verify.
    pub fn sign(&self, key: &KeyPair, chain: &str, epoch: Epoch) -> SignedMessage<KeyRequest> {
        SignedMessage::sign(key, &ProtocolMessage::new(chain, epoch, self.clone()))
    }

    /// Decodes a signed request received over the wire (at most
    /// [`MAX_SIGNED_KEY_REQUEST_LEN`] bytes); check it with [`KeyRequest::verify_signed`].
    pub fn decode_signed(bytes: &[u8]) -> Result<SignedMessage<KeyRequest>, MessageError> {
        Ok(codec::decode(bytes, MAX_SIGNED_KEY_REQUEST_LEN)?)
    }

    /// Decodes the message (intent checked) and verifies its signature under the body's
    /// `requester`. The caller then checks chain, epoch, freshness, replay and policy.
    pub fn verify_signed(
        signed: &SignedMessage<KeyRequest>,
    ) -> Result<ProtocolMessage<KeyRequest>, MessageError> {
        let msg = ProtocolMessage::<KeyRequest>::from_bytes(&signed.serialized)?;
        msg.body
            .requester
            .verify(&signed.serialized, &signed.signature)?;
        Ok(msg)
    }

    /// The identity whose key share is asked for, on `chain`: the key server passes its own
    /// chain id (which [`ProtocolMessage::check`] has compared with the message's).
    pub fn identity(&self, chain: &str) -> Identity {
        Identity::new(chain, self.policy, self.nonce)
    }

    /// A digest of the body, for a replay cache: `BLAKE3-derive_key(KEY_REQUEST_DIGEST_CONTEXT,
    /// BCS(body))`. Two requests with the same body are one request, whatever they were signed
    /// for.
    pub fn digest(&self) -> Digest {
        let mut h = blake3::Hasher::new_derive_key(KEY_REQUEST_DIGEST_CONTEXT);
        h.update(&codec::encode(self));
        Digest(*h.finalize().as_bytes())
    }
}

/// A key server's share ElGamal-encrypted to a reader's ephemeral key (module docs).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
    #[serde(deserialize_with = "points::server_index")]
    index: u16,
    #[serde(with = "points::g1")]
    c1: G1Affine,
    #[serde(with = "points::g1")]
    c2: G1Affine,
}

impl EncryptedShare {
    /// The index of the server that made it.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The BCS bytes ([`ENCRYPTED_SHARE_LEN`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes [`EncryptedShare::to_bytes`]: index not 0, both points checked.
    pub fn decode(bytes: &[u8]) -> Result<Self, IbeError> {
        Ok(codec::decode(bytes, ENCRYPTED_SHARE_LEN)?)
    }
}

impl std::fmt::Debug for EncryptedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EncryptedShare({}, {}, {})",
            self.index,
            TextForm::Hex.encode(&self.c1.to_compressed()),
            TextForm::Hex.encode(&self.c2.to_compressed())
        )
    }
}

impl KeyServerSecret {
    /// This server's share of `id`'s key, encrypted to `ephemeral`. The caller must first
    /// check the request (signature, chain, epoch, freshness, replay, policy).
    pub fn respond(
        &self,
        rng: &mut impl CryptoRngCore,
        id: &Identity,
        ephemeral: &EphemeralPublic,
    ) -> EncryptedShare {
        let mut r = Secret(random_nonzero(rng));
        let c1 = G1Affine::generator() * r.0;
        let c2 = id.point() * self.share() + ephemeral.point() * r.0;
        r.zeroize();
        let mut out = [G1Affine::identity(); 2];
        G1Projective::batch_normalize(&[c1, c2], &mut out);
        EncryptedShare {
            index: self.index(),
            c1: out[0],
            c2: out[1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn sizes_are_as_documented() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let key = KeyPair::from_seed([1; 32]);
        let (eph, signed) = KeyRequest::new_signed(
            &mut rng,
            &key,
            "floe-vects",
            Epoch(7),
            ObjectId([3; 32]),
            BlobNonce([4; 32]),
            1_700_000_000_000,
        );
        let msg = KeyRequest::verify_signed(&signed).unwrap();
        assert_eq!(codec::encode(&msg.body).len(), KEY_REQUEST_LEN);
        assert_eq!(signed.serialized.len(), 176 + 10);
        assert_eq!(signed.serialized[..3], [4, 0, 0x46]);
        let wire = codec::encode(&signed);
        assert_eq!(wire.len(), 252);
        assert_eq!(KeyRequest::decode_signed(&wire).unwrap(), signed);

        let (_, secrets, publics) = crate::privacy::deal(&mut rng, 3, 2).unwrap();
        let id = msg.body.identity("floe-vects");
        let enc = secrets[2].respond(&mut rng, &id, &msg.body.ephemeral);
        let bytes = enc.to_bytes();
        assert_eq!(bytes.len(), ENCRYPTED_SHARE_LEN);
        assert_eq!(bytes[..2], [3, 0]);
        let back = EncryptedShare::decode(&bytes).unwrap();
        let share = eph.open_verified(&back, &id, &publics[2]).unwrap();
        assert_eq!(share, secrets[2].derive_share(&id));
        assert_eq!(format!("{eph:?}"), "EphemeralSecret(<secret>)");
    }
}
