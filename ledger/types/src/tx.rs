//! Transactions: addresses, the transaction kinds, signing and verification.
//!
//! A transaction is signed over the BCS encoding of [`TxSignData`]:
//! `intent [16, 0, 0x46] ‖ chain_id (BCS string: ULEB128 length ‖ UTF-8) ‖ transaction`.
//! There is no epoch in a transaction's intent; replay is prevented by the per-account nonce and
//! across chains by the chain id (a text id from genesis, e.g. `"floe-devnet-1"`).

use floe_common::challenge::StorageProof;
use floe_common::codec::{self, CodecError};
use floe_common::crypto::verify_batch as verify_signatures;
use floe_common::ids::IdParseError;
use floe_common::messages::{Intent, IntentType};
use floe_common::{
    BlobId, Certificate, Digest, EncodingType, Epoch, Frost, KeyPair, NodeId, ObjectId, PublicKey,
    Signature,
};
use serde::{Deserialize, Serialize};

use crate::error::TxError;

/// Largest encoded [`SignedTransaction`]: 128 KiB. A certificate signed by all of 1000 nodes is
/// about 64 KiB of signatures, so it fits with room to spare.
pub const MAX_TX_BYTES: usize = 128 * 1024;
/// Largest encoded [`SignedTransaction`] carrying [`TxKind::SubmitStorageProofs`]: 1 MiB, room
/// for 15 proofs of the largest symbols ([`StorageProof::max_encoded_len`] is below 67 KiB for
/// any shard count) and for hundreds of typical ones; more proofs take more transactions.
pub const MAX_PROOFS_TX_BYTES: usize = 1 << 20;
/// Longest node name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest network or HTTP address of a node, in bytes.
pub const MAX_ADDRESS_LEN: usize = 256;
/// Longest blob attribute key, in bytes.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 128;
/// Longest blob attribute value, in bytes.
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 1024;
/// Most attributes on one blob object.
pub const MAX_ATTRIBUTES: usize = 32;
/// Largest commission, in basis points (100 %).
pub const MAX_COMMISSION_BPS: u16 = 10_000;
/// Furthest a proposal's deadline may be from its creation, in epochs.
pub const MAX_PROPOSAL_EPOCHS: u32 = 16;
/// Most blob objects one [`TxKind::BurnBlobs`] removes.
pub const MAX_BURN_BLOBS: usize = 1000;

/// `0x`-less lowercase hex text form for ledger ids (a `0x` prefix is accepted when parsing).
#[derive(Debug, Clone, Copy)]
struct PlainHex;

impl PlainHex {
    fn encode(self, bytes: &[u8]) -> String {
        hex::encode(bytes)
    }

    fn decode<const N: usize>(
        self,
        kind: &'static str,
        text: &str,
    ) -> Result<[u8; N], IdParseError> {
        let t = text.trim();
        let t = t.strip_prefix("0x").unwrap_or(t);
        let bytes = hex::decode(t).map_err(|_| IdParseError::BadAlphabet {
            kind,
            text: text.to_owned(),
            alphabet: "hex",
        })?;
        <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| IdParseError::WrongLength {
            kind,
            expected: N,
            got: bytes.len(),
        })
    }
}

floe_common::fixed_bytes!(
    /// An account address: `BLAKE3("floe/address" ‖ ed25519 public key)`. Raw bytes in BCS,
    /// lowercase hex without `0x` in text and JSON.
    Address,
    32,
    PlainHex
);

floe_common::fixed_bytes!(
    /// A transaction digest: `BLAKE3(BCS(SignedTransaction))`. Lowercase hex in text and JSON.
    TxDigest,
    32,
    PlainHex
);

impl Address {
    /// The owner of shared objects (shared blobs): the all-zero address, which no key has
    /// (an address is a hash of a public key). Nothing can be signed for it.
    pub const SHARED: Address = Address([0; 32]);

    /// The address of an ed25519 public key.
    pub fn of(key: &PublicKey) -> Address {
        let mut h = blake3::Hasher::new();
        h.update(b"floe/address");
        h.update(&key.0);
        Address(*h.finalize().as_bytes())
    }
}

/// The id of the storage node whose protocol key is `key`: `BLAKE3("floe/node" ‖ key)`.
pub fn node_id_of(key: &PublicKey) -> NodeId {
    let mut h = blake3::Hasher::new();
    h.update(b"floe/node");
    h.update(&key.0);
    NodeId(*h.finalize().as_bytes())
}

/// A transaction: who, which nonce, what fee, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The paying and signing account.
    pub sender: Address,
    /// Must equal the sender's account nonce (0 for a new account).
    pub nonce: u64,
    /// Fee paid to the fee pool; at least the genesis `min_fee`.
    pub fee: Frost,
    /// What to do.
    pub kind: TxKind,
}

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxKind {
    /// Pays `amount` to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount.
        amount: Frost,
    },
    /// Mints `amount` to the sender (devnet only; at most the genesis per-call limit).
    Faucet {
        /// Amount.
        amount: Frost,
    },
    /// Buys a storage resource of `encoded_size` bytes for epochs `[now, now + epochs_ahead)` at
    /// `storage_price × ceil(encoded_size / 1 MiB) × epochs_ahead`.
    ReserveSpace {
        /// Bytes (encoded length).
        encoded_size: u64,
        /// Epochs, `1..=max_epochs_ahead`.
        epochs_ahead: u32,
    },
    /// Splits a storage resource in time: it keeps `[start, split_epoch)` and a new object gets
    /// `[split_epoch, end)`.
    SplitStorageByEpoch {
        /// The storage object.
        storage: ObjectId,
        /// Strictly between its start and end epochs.
        split_epoch: Epoch,
    },
    /// Splits a storage resource in size: it keeps `size` bytes and a new object gets the rest.
    SplitStorageBySize {
        /// The storage object.
        storage: ObjectId,
        /// Strictly between 0 and its size.
        size: u64,
    },
    /// Fuses `second` into `first`: same period → sizes add; same size and adjacent periods →
    /// periods join. `second` is deleted.
    FuseStorage {
        /// Kept.
        first: ObjectId,
        /// Consumed.
        second: ObjectId,
    },
    /// Registers a blob, consuming a current storage resource and paying the write price.
    RegisterBlob {
        /// The storage object (owned by the sender, current, large enough).
        storage: ObjectId,
        /// The blob id (re-derived and checked).
        blob_id: BlobId,
        /// Merkle root over the sliver-pair hashes.
        root_hash: Digest,
        /// Length before encoding.
        unencoded_length: u64,
        /// Encoding.
        encoding_type: EncodingType,
        /// Whether the owner may delete it before it expires.
        deletable: bool,
    },
    /// Certifies a registered blob with a quorum of storage confirmations.
    CertifyBlob {
        /// The blob object.
        blob_object: ObjectId,
        /// Storage confirmations of the current committee.
        certificate: Certificate,
    },
    /// Extends a certified blob by `epochs_ahead` epochs at the current storage price.
    ExtendBlob {
        /// The blob object.
        blob_object: ObjectId,
        /// Epochs added to its end.
        epochs_ahead: u32,
    },
    /// Deletes a deletable blob and returns its remaining storage to the owner.
    DeleteBlob {
        /// The blob object.
        blob_object: ObjectId,
    },
    /// Marks a blob id invalid with a certificate of validity weight of invalid-blob messages.
    InvalidateBlob {
        /// The blob id.
        blob_id: BlobId,
        /// `InvalidBlobIdMsg` signatures of the current committee.
        certificate: Certificate,
    },
    /// Sets (inserts or replaces) an attribute of a blob object.
    SetBlobAttribute {
        /// The blob object.
        blob_object: ObjectId,
        /// Key (1..=128 bytes).
        key: String,
        /// Value (at most 1024 bytes).
        value: String,
    },
    /// Removes an attribute of a blob object.
    RemoveBlobAttribute {
        /// The blob object.
        blob_object: ObjectId,
        /// Key.
        key: String,
    },
    /// Registers a storage node owned by the sender.
    RegisterNode {
        /// Unique name (1..=64 bytes).
        name: String,
        /// The node's ed25519 protocol key; the node id derives from it.
        public_key: PublicKey,
        /// libp2p multiaddr text (at most 256 bytes).
        network_address: String,
        /// HTTP address (at most 256 bytes).
        http_address: String,
        /// Commission on rewards, in basis points (≤ 10000).
        commission_bps: u16,
        /// Storage price vote (FROST per MiB per epoch).
        storage_price_vote: Frost,
        /// Write price vote (FROST per MiB).
        write_price_vote: Frost,
        /// Capacity vote (bytes).
        capacity_vote: u64,
    },
    /// Stakes `amount` with `node`, creating a `StakedWal` object owned by the sender.
    Stake {
        /// The node.
        node: NodeId,
        /// Amount.
        amount: Frost,
    },
    /// Asks to withdraw a `StakedWal`; it stops counting towards the node's stake now.
    RequestWithdrawal {
        /// The staked object.
        staked: ObjectId,
    },
    /// Withdraws a `StakedWal` that left its pool (or never activated); returns principal and
    /// rewards.
    Withdraw {
        /// The staked object.
        staked: ObjectId,
    },
    /// Sets a node's price and capacity votes (sender: the node's owner or its key's account).
    SetNodeVotes {
        /// The node.
        node: NodeId,
        /// Storage price vote (FROST per MiB per epoch).
        storage_price: Frost,
        /// Write price vote (FROST per MiB).
        write_price: Frost,
        /// Capacity vote (bytes this node can store).
        capacity: u64,
    },
    /// Pays a node's collectable commission to its owner (sender: the owner).
    CollectCommission {
        /// The node.
        node: NodeId,
    },
    /// A member of the current committee reports that it holds all its shards for `epoch`
    /// (sender: the account of the node's protocol key).
    EpochSyncDone {
        /// The current epoch.
        epoch: Epoch,
    },
    /// A member of the current committee proves its storage challenges of `epoch` (sender: the
    /// account of the node's protocol key): `proofs[i]` answers draw `first + i`
    /// ([`floe_common::challenge::challenges`] over the epoch's seed and live blobs). The
    /// proofs may come in several transactions, in draw order (`first` is the number already
    /// accepted), within the challenge window; the member has proved when the last draw is.
    SubmitStorageProofs {
        /// The current epoch.
        epoch: Epoch,
        /// The draw `proofs[0]` answers: the count of this epoch's proofs already accepted.
        first: u16,
        /// One proof per draw from `first` on, in draw order (at least one).
        proofs: Vec<StorageProof>,
    },
    /// Proposes a governance change (sender: the owner or key account of a current committee
    /// member).
    Propose {
        /// The change.
        change: crate::objects::ProposalChange,
        /// Last epoch in which votes count (`current..=current + MAX_PROPOSAL_EPOCHS`).
        deadline_epoch: Epoch,
    },
    /// Votes on a proposal with the shard weight of every current committee member the sender
    /// controls (as owner or node key); a later vote replaces an earlier one.
    Vote {
        /// Proposal id.
        proposal: u64,
        /// Approve (`true`) or reject.
        approve: bool,
    },
    /// Creates a site owned by the sender (the record must validate).
    CreateSite {
        /// Paths, routes, redirects, 404 page, headers.
        record: floe_common::site::SiteRecord,
    },
    /// Changes a site (sender: its owner); the result must validate.
    UpdateSite {
        /// The site.
        site: ObjectId,
        /// What changes.
        changes: floe_common::site::SiteChanges,
    },
    /// Deletes a site (sender: its owner). Names pointing at it then resolve to nothing.
    DeleteSite {
        /// The site.
        site: ObjectId,
    },
    /// Claims a free (never claimed, or expired) name for `epochs` epochs, paying the name
    /// price per epoch into the epochs' reward escrow; optionally points it at a site.
    ClaimName {
        /// The name.
        name: String,
        /// Epochs held, from the current one (1..=`max_epochs_ahead`).
        epochs: u32,
        /// The site it names.
        site: Option<ObjectId>,
    },
    /// Extends a held name by `epochs` (sender: its owner), paying for them.
    RenewName {
        /// The name.
        name: String,
        /// Epochs added.
        epochs: u32,
    },
    /// Gives a held name to another account (sender: its owner).
    TransferName {
        /// The name.
        name: String,
        /// The new owner.
        to: Address,
    },
    /// Points a held name at a site, or at nothing (sender: its owner).
    SetNameSite {
        /// The name.
        name: String,
        /// The site.
        site: Option<ObjectId>,
    },
    /// Gives a blob object to another account (sender: its owner). Any owned blob object may
    /// be given, certified or not, live or expired; a shared blob has no owner to give it.
    TransferBlob {
        /// The blob object.
        blob_object: ObjectId,
        /// The new owner (not [`Address::SHARED`]).
        to: Address,
    },
    /// Turns a certified, live blob object of the sender into a shared blob (same object id):
    /// nobody owns it any more, anyone may fund it and extend it from its funds, and nobody
    /// may delete, burn, transfer it or change its attributes. `amount` (zero allowed) moves
    /// from the sender into its funds.
    ShareBlob {
        /// The blob object.
        blob_object: ObjectId,
        /// WAL the sender puts into its funds.
        amount: Frost,
    },
    /// Adds `amount` of the sender's WAL to a live shared blob's funds (anyone may).
    FundSharedBlob {
        /// The shared blob.
        shared: ObjectId,
        /// WAL added (more than zero).
        amount: Frost,
    },
    /// Extends a shared blob by `epochs_ahead` epochs at the current storage price, paid from
    /// its funds (anyone may send it).
    ExtendSharedBlob {
        /// The shared blob.
        shared: ObjectId,
        /// Epochs added to its end.
        epochs_ahead: u32,
    },
    /// Removes blob objects of the sender, all or none: an expired or invalidated one of any
    /// persistence is dropped; a live deletable one is deleted as by [`TxKind::DeleteBlob`]
    /// (its remaining storage comes back); a live permanent one is refused.
    BurnBlobs {
        /// The blob objects (1..=[`MAX_BURN_BLOBS`], each once).
        blob_objects: Vec<ObjectId>,
    },
    /// Creates an access policy for private blobs, owned by the sender (see
    /// [`crate::policy`]).
    CreatePolicy {
        /// The rule.
        rule: crate::policy::PolicyRule,
    },
    /// Adds and removes members of an allowlist policy (sender: its owner); removals apply
    /// after additions. From the next block on, key servers answer by the new list.
    UpdateAllowlist {
        /// The policy.
        policy: ObjectId,
        /// Addresses added.
        add: Vec<Address>,
        /// Addresses removed.
        remove: Vec<Address>,
    },
    /// Pays a `Paid` policy's price to its owner for its epochs of access (from the current
    /// epoch, or from the end of the sender's running access).
    PayForAccess {
        /// The policy.
        policy: ObjectId,
        /// The most the sender agrees to pay (refused if the price is higher).
        max_price: Frost,
    },
}

impl TxKind {
    /// The largest encoded signed transaction of this kind: [`MAX_PROOFS_TX_BYTES`] for
    /// storage proofs, [`MAX_TX_BYTES`] for everything else.
    pub fn max_tx_bytes(&self) -> usize {
        match self {
            TxKind::SubmitStorageProofs { .. } => MAX_PROOFS_TX_BYTES,
            _ => MAX_TX_BYTES,
        }
    }
}

/// The signed bytes of a transaction (see the module docs).
#[derive(Serialize)]
pub struct TxSignData<'a> {
    /// `Intent::of(IntentType::Transaction)`.
    pub intent: Intent,
    /// The chain id from genesis.
    pub chain_id: &'a str,
    /// The transaction.
    pub tx: &'a Transaction,
}

impl Transaction {
    /// The bytes a sender signs on chain `chain_id`.
    pub fn sign_bytes(&self, chain_id: &str) -> Vec<u8> {
        codec::encode(&TxSignData {
            intent: Intent::of(IntentType::Transaction),
            chain_id,
            tx: self,
        })
    }
}

/// A transaction with its sender's key and signature (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The sender's ed25519 key (`Address::of(public_key)` must be `tx.sender`).
    pub public_key: PublicKey,
    /// Signature over [`Transaction::sign_bytes`].
    pub signature: Signature,
}

impl SignedTransaction {
    /// Signs `tx` for chain `chain_id`.
    pub fn sign(key: &KeyPair, tx: Transaction, chain_id: &str) -> Self {
        let signature = key.sign_raw(&tx.sign_bytes(chain_id));
        Self {
            tx,
            public_key: key.public(),
            signature,
        }
    }

    /// Canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes at most [`MAX_TX_BYTES`] bytes ([`MAX_PROOFS_TX_BYTES`] for storage proofs).
    pub fn decode(bytes: &[u8]) -> Result<Self, TxError> {
        let tx: Self = codec::decode(bytes, MAX_PROOFS_TX_BYTES).map_err(|e| match e {
            CodecError::TooLarge { size, limit } => {
                TxError::too_large("transaction", size as u64, limit as u64)
            }
            // Only storage proofs may exceed the general limit.
            CodecError::Malformed(_) if bytes.len() > MAX_TX_BYTES => {
                TxError::too_large("transaction", bytes.len() as u64, MAX_TX_BYTES as u64)
            }
            CodecError::Malformed(e) => TxError::Malformed {
                reason: e.to_string(),
            },
        })?;
        tx.check_size(bytes.len())?;
        Ok(tx)
    }

    /// `BLAKE3(BCS(self))`.
    pub fn digest(&self) -> TxDigest {
        TxDigest(*blake3::hash(&self.encode()).as_bytes())
    }

    /// Checks the sender, size and (strictly) the signature.
    pub fn verify(self, chain_id: &str) -> Result<VerifiedTransaction, TxError> {
        let bytes = self.precheck()?;
        self.public_key
            .verify(&self.tx.sign_bytes(chain_id), &self.signature)
            .map_err(|e| TxError::BadSignature {
                reason: e.to_string(),
            })?;
        Ok(VerifiedTransaction::new(self, &bytes))
    }

    /// Sender and size checks; returns the encoding.
    fn precheck(&self) -> Result<Vec<u8>, TxError> {
        if Address::of(&self.public_key) != self.tx.sender {
            return Err(TxError::WrongSender);
        }
        let bytes = self.encode();
        self.check_size(bytes.len())?;
        Ok(bytes)
    }

    /// Refuses an encoding of `len` bytes larger than this transaction's kind allows.
    fn check_size(&self, len: usize) -> Result<(), TxError> {
        let max = self.tx.kind.max_tx_bytes();
        if len > max {
            return Err(TxError::too_large("transaction", len as u64, max as u64));
        }
        Ok(())
    }

    /// Verifies every transaction of a block, all or nothing: the first transaction failing
    /// its sender or size check, or the batch failing its signature check, makes the whole set
    /// fail. A failed batch is not checked again one by one (a block with any bad signature is
    /// invalid, whichever it is), so a forged block costs its checker one batch verification.
    pub fn verify_all(
        txs: &[SignedTransaction],
        chain_id: &str,
    ) -> Result<Vec<VerifiedTransaction>, (Option<usize>, TxError)> {
        let mut bytes = Vec::with_capacity(txs.len());
        for (i, t) in txs.iter().enumerate() {
            bytes.push(t.precheck().map_err(|e| (Some(i), e))?);
        }
        let sign_bytes: Vec<Vec<u8>> = txs.iter().map(|t| t.tx.sign_bytes(chain_id)).collect();
        let items: Vec<(PublicKey, &[u8], Signature)> = txs
            .iter()
            .zip(&sign_bytes)
            .map(|(t, b)| (t.public_key, b.as_slice(), t.signature))
            .collect();
        verify_signatures(&items).map_err(|e| {
            (
                None,
                TxError::BadSignature {
                    reason: e.to_string(),
                },
            )
        })?;
        Ok(txs
            .iter()
            .zip(bytes)
            .map(|(t, b)| VerifiedTransaction::new(t.clone(), &b))
            .collect())
    }

    /// Verifies many transactions, batching the signature checks; falls back to one-by-one
    /// checks when the batch fails, so each result is exactly that of [`SignedTransaction::verify`].
    pub fn verify_batch(
        txs: &[SignedTransaction],
        chain_id: &str,
    ) -> Vec<Result<VerifiedTransaction, TxError>> {
        let prechecked: Vec<Result<Vec<u8>, TxError>> = txs.iter().map(|t| t.precheck()).collect();
        let sign_bytes: Vec<Option<Vec<u8>>> = txs
            .iter()
            .zip(&prechecked)
            .map(|(t, p)| p.is_ok().then(|| t.tx.sign_bytes(chain_id)))
            .collect();
        let items: Vec<(PublicKey, &[u8], Signature)> = txs
            .iter()
            .zip(&sign_bytes)
            .filter_map(|(t, b)| b.as_deref().map(|b| (t.public_key, b, t.signature)))
            .collect();
        if verify_signatures(&items).is_ok() {
            txs.iter()
                .zip(prechecked)
                .map(|(t, p)| p.map(|bytes| VerifiedTransaction::new(t.clone(), &bytes)))
                .collect()
        } else {
            txs.iter().map(|t| t.clone().verify(chain_id)).collect()
        }
    }
}

/// A transaction whose sender and signature were checked. Only verification builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTransaction {
    signed: SignedTransaction,
    digest: TxDigest,
}

impl VerifiedTransaction {
    fn new(signed: SignedTransaction, bytes: &[u8]) -> Self {
        Self {
            signed,
            digest: TxDigest(*blake3::hash(bytes).as_bytes()),
        }
    }

    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.signed.tx
    }

    /// The signed transaction.
    pub fn signed(&self) -> &SignedTransaction {
        &self.signed
    }

    /// Its digest.
    pub fn digest(&self) -> TxDigest {
        self.digest
    }

    /// The signed transaction back.
    pub fn into_inner(self) -> SignedTransaction {
        self.signed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> KeyPair {
        KeyPair::from_seed([i; 32])
    }

    fn transfer(from: &KeyPair, nonce: u64) -> Transaction {
        Transaction {
            sender: Address::of(&from.public()),
            nonce,
            fee: Frost(10),
            kind: TxKind::Transfer {
                to: Address([9; 32]),
                amount: Frost(5),
            },
        }
    }

    #[test]
    fn address_text_forms() {
        let a = Address::of(&key(1).public());
        let s = a.to_string();
        assert_eq!(s.len(), 64);
        assert!(!s.starts_with("0x"));
        assert_eq!(s.parse::<Address>().unwrap(), a);
        assert_eq!(format!("0x{s}").parse::<Address>().unwrap(), a);
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{s}\""));
        assert_eq!(codec::encode(&a), a.0.to_vec());
        assert!("abcd".parse::<Address>().is_err());
        assert!("zz".repeat(32).parse::<Address>().is_err());
    }

    #[test]
    fn verify_all_is_all_or_nothing() {
        let k = key(1);
        let mut txs: Vec<_> = (0..20)
            .map(|n| SignedTransaction::sign(&k, transfer(&k, n), "floe-test"))
            .collect();
        let verified = SignedTransaction::verify_all(&txs, "floe-test").unwrap();
        assert_eq!(verified.len(), 20);
        assert_eq!(verified[7].digest(), txs[7].digest());
        // A wrong signature fails the batch as a whole, without naming the culprit.
        txs[13].signature = Signature([3; 64]);
        let (index, e) = SignedTransaction::verify_all(&txs, "floe-test").unwrap_err();
        assert_eq!((index, e.code()), (None, "bad_signature"));
        // A wrong sender is found before any signature is checked, and named.
        txs[4].public_key = key(2).public();
        let (index, e) = SignedTransaction::verify_all(&txs, "floe-test").unwrap_err();
        assert_eq!((index, e.code()), (Some(4), "wrong_sender"));
        assert!(
            SignedTransaction::verify_all(&[], "floe-test")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn sign_verify_and_reject() {
        let k = key(1);
        let signed = SignedTransaction::sign(&k, transfer(&k, 0), "floe-test");
        let bytes = signed.encode();
        let decoded = SignedTransaction::decode(&bytes).unwrap();
        assert_eq!(decoded, signed);
        let v = decoded.verify("floe-test").unwrap();
        assert_eq!(v.digest(), signed.digest());
        assert_eq!(v.tx(), &signed.tx);
        // Another chain.
        assert_eq!(
            signed.clone().verify("floe-other").unwrap_err().code(),
            "bad_signature"
        );
        // Someone else's key.
        let mut wrong = signed.clone();
        wrong.public_key = key(2).public();
        assert_eq!(
            wrong.verify("floe-test").unwrap_err().code(),
            "wrong_sender"
        );
        // Tampered tx.
        let mut tampered = signed;
        tampered.tx.nonce = 1;
        assert_eq!(
            tampered.verify("floe-test").unwrap_err().code(),
            "bad_signature"
        );
        // Size and malformed bytes.
        assert_eq!(
            SignedTransaction::decode(&vec![0; MAX_TX_BYTES + 1])
                .unwrap_err()
                .code(),
            "too_large"
        );
        assert_eq!(
            SignedTransaction::decode(&bytes[..bytes.len() - 1])
                .unwrap_err()
                .code(),
            "malformed"
        );
    }

    #[test]
    fn only_storage_proofs_may_exceed_the_general_size_limit() {
        let k = key(1);
        let sender = Address::of(&k.public());
        let memo = |kind| Transaction {
            sender,
            nonce: 0,
            fee: Frost(10),
            kind,
        };
        let config = floe_common::EncodingConfig::new(10).unwrap();
        let enc = floe_common::encoding::encode_blob(&config, &[7; 2000]).unwrap();
        let pair = floe_common::SliverPairIndex(0);
        let mut proof =
            StorageProof::prove(&config, &enc.metadata, pair, &enc.pairs[0].primary, 0).unwrap();
        proof.data = vec![1; 60_000];
        let big = SignedTransaction::sign(
            &k,
            memo(TxKind::SubmitStorageProofs {
                epoch: Epoch(1),
                first: 0,
                proofs: vec![proof; 3],
            }),
            "c",
        );
        let bytes = big.encode();
        assert!(bytes.len() > MAX_TX_BYTES && bytes.len() <= MAX_PROOFS_TX_BYTES);
        assert_eq!(SignedTransaction::decode(&bytes).unwrap(), big);
        // The same size for another kind is refused, decoded or not.
        let mut other = SignedTransaction::sign(&k, memo(TxKind::Faucet { amount: Frost(1) }), "c");
        other.signature = Signature([0; 64]);
        let mut long = other.encode();
        long.resize(MAX_TX_BYTES + 1, 0);
        assert_eq!(
            SignedTransaction::decode(&long).unwrap_err().code(),
            "too_large"
        );
        assert_eq!(
            SignedTransaction::decode(&vec![0; MAX_PROOFS_TX_BYTES + 1])
                .unwrap_err()
                .code(),
            "too_large"
        );
    }

    #[test]
    fn sign_bytes_layout() {
        let k = key(1);
        let tx = transfer(&k, 3);
        let b = tx.sign_bytes("ab");
        assert_eq!(&b[..6], &[16, 0, 0x46, 2, b'a', b'b']);
        assert_eq!(&b[6..], codec::encode(&tx).as_slice());
    }

    #[test]
    fn batch_matches_single() {
        let keys: Vec<KeyPair> = (1..=6).map(key).collect();
        let mut txs: Vec<SignedTransaction> = keys
            .iter()
            .map(|k| SignedTransaction::sign(k, transfer(k, 0), "c"))
            .collect();
        let all = SignedTransaction::verify_batch(&txs, "c");
        assert!(all.iter().all(Result::is_ok));
        txs[2].tx.nonce = 7; // bad signature
        txs[4].public_key = keys[0].public(); // wrong sender
        let res = SignedTransaction::verify_batch(&txs, "c");
        for (t, r) in txs.iter().zip(&res) {
            assert_eq!(r, &t.clone().verify("c"));
        }
        assert_eq!(res[2].as_ref().unwrap_err().code(), "bad_signature");
        assert_eq!(res[4].as_ref().unwrap_err().code(), "wrong_sender");
        assert!(SignedTransaction::verify_batch(&[], "c").is_empty());
    }
}
