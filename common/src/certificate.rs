//! Committees and certificates: signatures of many storage nodes over one message, weighed in
//! shards.
//!
//! A certificate is a signer bitmap over the committee's member order (bit `i` is bit `i % 8` of
//! byte `i / 8`, least significant first), the message bytes, and one ed25519 signature per
//! signer in member order. It is valid when every signature verifies over the same message, the
//! message is for the committee's epoch, and the signers' shard weight reaches the threshold:
//! quorum `3w ≥ 2n+1` (availability) or validity `3w ≥ n+1` (invalid blob).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypto::{PublicKey, Signature, SignatureError, verify_batch};
use crate::ids::{Epoch, NodeId};
use crate::messages::{MessageBody, MessageError, ProtocolMessage, SignedMessage};

/// A member of a storage committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeMember {
    /// Node id on the ledger.
    pub node_id: NodeId,
    /// Key that signs confirmations and attestations.
    pub public_key: PublicKey,
    /// Shards held (signature weight).
    pub weight: u16,
}

/// The storage committee of an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committee {
    epoch: Epoch,
    n_shards: u16,
    members: Vec<CommitteeMember>,
}

/// Thresholds of signer weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// `3w ≥ 2n+1`.
    Quorum,
    /// `3w ≥ n+1`: at least one correct signer.
    Validity,
}

impl Threshold {
    /// Whether `weight` of `n` shards reaches the threshold. This is the one place the quorum
    /// and validity rules are written down; everything else asks here.
    pub const fn reached(self, weight: u32, n: u16) -> bool {
        let (w, n) = (weight as u64, n as u64);
        match self {
            Threshold::Quorum => 3 * w > 2 * n,
            Threshold::Validity => 3 * w > n,
        }
    }

    /// The smallest weight of `n` shards that reaches the threshold.
    pub const fn min_weight(self, n: u16) -> u32 {
        let n = n as u32;
        match self {
            Threshold::Quorum => 2 * n / 3 + 1,
            Threshold::Validity => n / 3 + 1,
        }
    }
}

/// A committee or certificate is malformed or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Committee weights do not add up to the shard count, or keys/ids repeat.
    #[error("invalid committee: {0}")]
    BadCommittee(String),
    /// A signer index outside the committee.
    #[error("unknown signer {index} (committee has {members} members)")]
    UnknownSigner {
        /// Index.
        index: usize,
        /// Members.
        members: usize,
    },
    /// The bitmap is longer than the committee needs.
    #[error("signer bitmap of {got} bytes, at most {max} allowed")]
    BitmapTooLong {
        /// Bytes.
        got: usize,
        /// Allowed.
        max: usize,
    },
    /// The number of signatures differs from the signers in the bitmap.
    #[error("{signatures} signatures for {signers} signers")]
    SignatureCount {
        /// Signatures.
        signatures: usize,
        /// Signers.
        signers: usize,
    },
    /// The same member signed twice.
    #[error("duplicate signer {0}")]
    DuplicateSigner(usize),
    /// A confirmation over a different message than the others.
    #[error("signer {0} signed a different message")]
    MixedMessages(usize),
    /// Signer weight below the threshold.
    #[error("signer weight {weight} of {n_shards} shards is below the {threshold:?} threshold")]
    InsufficientWeight {
        /// Weight of signers.
        weight: u32,
        /// Shards.
        n_shards: u16,
        /// Threshold.
        threshold: Threshold,
    },
    /// The message is of another network.
    #[error("message of chain {got:?}, expected {expected:?}")]
    WrongChain {
        /// Message chain id.
        got: String,
        /// The verifier's chain id.
        expected: String,
    },
    /// The message is for another epoch than the committee's.
    #[error("message for epoch {got}, committee is for epoch {expected}")]
    WrongEpoch {
        /// Message epoch.
        got: Epoch,
        /// Committee epoch.
        expected: Epoch,
    },
    /// The message is malformed or of the wrong type.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A signature does not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl Committee {
    /// A committee; weights must add up to `n_shards`, keys and ids must be distinct.
    pub fn new(
        epoch: Epoch,
        n_shards: u16,
        members: Vec<CommitteeMember>,
    ) -> Result<Self, CertificateError> {
        let total: u32 = members.iter().map(|m| u32::from(m.weight)).sum();
        if members.is_empty() || total != u32::from(n_shards) {
            return Err(CertificateError::BadCommittee(format!(
                "{} members with {total} shards, expected {n_shards}",
                members.len()
            )));
        }
        let mut keys: Vec<_> = members.iter().map(|m| m.public_key).collect();
        keys.sort();
        keys.dedup();
        let mut ids: Vec<_> = members.iter().map(|m| m.node_id).collect();
        ids.sort();
        ids.dedup();
        if keys.len() != members.len() || ids.len() != members.len() {
            return Err(CertificateError::BadCommittee(
                "repeated public key or node id".into(),
            ));
        }
        Ok(Self {
            epoch,
            n_shards,
            members,
        })
    }

    /// The epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Total shards.
    pub fn n_shards(&self) -> u16 {
        self.n_shards
    }

    /// Members in certificate order.
    pub fn members(&self) -> &[CommitteeMember] {
        &self.members
    }

    /// The member index of a node.
    pub fn index_of(&self, node_id: &NodeId) -> Option<usize> {
        self.members.iter().position(|m| m.node_id == *node_id)
    }
}

/// Signatures of committee members over one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Signer bitmap over the member order.
    #[serde(with = "serde_bytes")]
    pub signers: Vec<u8>,
    /// The signed message bytes.
    #[serde(with = "serde_bytes")]
    pub message: Vec<u8>,
    /// One signature per signer, in member order.
    pub signatures: Vec<Signature>,
}

impl Certificate {
    /// Signer indices in the bitmap, in order.
    pub fn signer_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.signers.iter().enumerate().flat_map(|(byte, b)| {
            (0..8)
                .filter(move |bit| b >> bit & 1 == 1)
                .map(move |bit| byte * 8 + bit)
        })
    }

    /// Verifies the certificate against `committee` of chain `chain` and returns the decoded
    /// message.
    pub fn verify<T: MessageBody>(
        &self,
        committee: &Committee,
        chain: &str,
        threshold: Threshold,
    ) -> Result<ProtocolMessage<T>, CertificateError> {
        let m = committee.members.len();
        if self.signers.len() > m.div_ceil(8) {
            return Err(CertificateError::BitmapTooLong {
                got: self.signers.len(),
                max: m.div_ceil(8),
            });
        }
        let signers: Vec<usize> = self.signer_indices().collect();
        if let Some(&index) = signers.iter().find(|&&i| i >= m) {
            return Err(CertificateError::UnknownSigner { index, members: m });
        }
        if signers.len() != self.signatures.len() {
            return Err(CertificateError::SignatureCount {
                signatures: self.signatures.len(),
                signers: signers.len(),
            });
        }
        let weight: u32 = signers
            .iter()
            .map(|&i| u32::from(committee.members[i].weight))
            .sum();
        if !threshold.reached(weight, committee.n_shards) {
            return Err(CertificateError::InsufficientWeight {
                weight,
                n_shards: committee.n_shards,
                threshold,
            });
        }
        let msg = ProtocolMessage::<T>::from_bytes(&self.message)?;
        check_context(&msg, chain, committee.epoch)?;
        let items: Vec<(PublicKey, &[u8], Signature)> = signers
            .iter()
            .zip(&self.signatures)
            .map(|(&i, s)| (committee.members[i].public_key, self.message.as_slice(), *s))
            .collect();
        verify_batch(&items)?;
        Ok(msg)
    }
}

/// The message is of chain `chain` and for `epoch`.
fn check_context<T>(
    msg: &ProtocolMessage<T>,
    chain: &str,
    epoch: Epoch,
) -> Result<(), CertificateError> {
    if msg.chain != chain {
        return Err(CertificateError::WrongChain {
            got: msg.chain.clone(),
            expected: chain.to_owned(),
        });
    }
    if msg.epoch != epoch {
        return Err(CertificateError::WrongEpoch {
            got: msg.epoch,
            expected: epoch,
        });
    }
    Ok(())
}

/// Collects signed messages from members into a certificate.
#[derive(Debug)]
pub struct CertificateBuilder<'c, T> {
    committee: &'c Committee,
    chain: String,
    message: Option<Vec<u8>>,
    signatures: BTreeMap<usize, Signature>,
    weight: u32,
    _body: std::marker::PhantomData<fn() -> T>,
}

impl<'c, T: MessageBody> CertificateBuilder<'c, T> {
    /// An empty builder for `committee` of chain `chain`.
    pub fn new(committee: &'c Committee, chain: &str) -> Self {
        Self {
            committee,
            chain: chain.to_owned(),
            message: None,
            signatures: BTreeMap::new(),
            weight: 0,
            _body: std::marker::PhantomData,
        }
    }

    /// Adds member `index`'s signed message after verifying it; returns the total weight.
    pub fn add(
        &mut self,
        index: usize,
        signed: &SignedMessage<T>,
    ) -> Result<u32, CertificateError> {
        let members = self.committee.members.len();
        let member = self
            .committee
            .members
            .get(index)
            .ok_or(CertificateError::UnknownSigner { index, members })?;
        if self.signatures.contains_key(&index) {
            return Err(CertificateError::DuplicateSigner(index));
        }
        if self
            .message
            .as_ref()
            .is_some_and(|m| *m != signed.serialized)
        {
            return Err(CertificateError::MixedMessages(index));
        }
        let msg = signed.verify(&member.public_key)?;
        check_context(&msg, &self.chain, self.committee.epoch)?;
        self.message
            .get_or_insert_with(|| signed.serialized.clone());
        self.signatures.insert(index, signed.signature);
        self.weight += u32::from(member.weight);
        Ok(self.weight)
    }

    /// Weight collected so far.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Whether the collected weight reaches `threshold`.
    pub fn reached(&self, threshold: Threshold) -> bool {
        threshold.reached(self.weight, self.committee.n_shards)
    }

    /// The certificate over what was collected (which may be below threshold).
    pub fn finish(self) -> Option<Certificate> {
        let message = self.message?;
        let mut signers = vec![0u8; self.committee.members.len().div_ceil(8)];
        for &i in self.signatures.keys() {
            signers[i / 8] |= 1 << (i % 8);
        }
        Some(Certificate {
            signers,
            message,
            signatures: self.signatures.into_values().collect(),
        })
    }
}
