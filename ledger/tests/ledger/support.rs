//! A test network: genesis with 10 storage nodes over 100 shards, 4 funded users.

use floe_common::encoding::derive_blob_id;
use floe_common::messages::{InvalidBlobIdMsg, MessageBody};
use floe_common::{
    BlobId, BlobPersistence, Certificate, CertificateBuilder, Committee, Digest, EncodingType,
    Epoch, Frost, KeyPair, ObjectId, ProtocolMessage, SignedMessage, StorageConfirmation,
};
use floe_ledger::{
    Address, BlockContext, Effects, FaucetParams, Genesis, GenesisNode, Object, Params,
    SignedTransaction, State, Transaction, TxError, TxFailure, TxKind, apply,
};

pub const CHAIN: &str = "floe-test";
pub const MIB: u64 = 1 << 20;
pub const EPOCH_MS: u64 = 60_000;
pub const GENESIS_MS: u64 = 1_000_000;
pub const MIN_FEE: Frost = Frost(10);
pub const STORAGE_PRICE: Frost = Frost(1_000);
pub const WRITE_PRICE: Frost = Frost(500);
pub const MAX_AHEAD: u32 = 10;
pub const USER_FUNDS: Frost = Frost(1_000_000_000_000);
pub const NODE_STAKE: Frost = Frost(1_000_000_000);
pub const FAUCET_MAX: Frost = Frost(5_000_000_000);
/// The faucet's per-account cap: eight full calls.
pub const FAUCET_ACCOUNT: Frost = Frost(8 * FAUCET_MAX.0);
/// The faucet's per-epoch cap: sixteen full calls, all accounts together.
pub const FAUCET_EPOCH: Frost = Frost(16 * FAUCET_MAX.0);
/// The faucet's lifetime cap: twenty-four full calls.
pub const FAUCET_TOTAL: Frost = Frost(24 * FAUCET_MAX.0);

pub fn user_key(i: usize) -> KeyPair {
    KeyPair::from_seed([i as u8 + 1; 32])
}

pub fn node_key(i: usize) -> KeyPair {
    KeyPair::from_seed([i as u8 + 100; 32])
}

pub fn addr(k: &KeyPair) -> Address {
    Address::of(&k.public())
}

pub fn params() -> Params {
    Params {
        epoch_duration_ms: EPOCH_MS,
        max_epochs_ahead: MAX_AHEAD,
        storage_price_per_mib_epoch: STORAGE_PRICE,
        write_price_per_mib: WRITE_PRICE,
        min_fee: MIN_FEE,
        // Storage challenges have their own tests (`challenges.rs`), which turn them on.
        challenges_per_node: 0,
        ..Params::for_shards(100)
    }
}

pub fn genesis_node(i: usize, stake: Frost) -> GenesisNode {
    GenesisNode {
        commission_bps: 500,
        storage_price_vote: STORAGE_PRICE,
        write_price_vote: WRITE_PRICE,
        ..GenesisNode::new(
            format!("node-{i}"),
            node_key(i).public(),
            addr(&user_key(i % 4)),
            stake,
            format!("/ip4/127.0.0.1/tcp/{}", 9000 + i),
            format!("http://127.0.0.1:{}", 8000 + i),
        )
    }
}

pub fn genesis() -> Genesis {
    let mut g = Genesis::builder(CHAIN, 100)
        .time_ms(GENESIS_MS)
        .params(|p| *p = params())
        .devnet()
        .faucet(FaucetParams {
            max_per_call: FAUCET_MAX,
            max_per_account: FAUCET_ACCOUNT,
            max_per_epoch: FAUCET_EPOCH,
            max_total: FAUCET_TOTAL,
        });
    for i in 0..4 {
        g = g
            .validator(
                format!("validator-{i}"),
                KeyPair::from_seed([i as u8 + 200; 32]).public(),
                1,
            )
            .account(addr(&user_key(i)), USER_FUNDS);
    }
    for i in 0..10 {
        g = g.node(genesis_node(i, NODE_STAKE));
    }
    g.build()
}

/// A blob id with a made-up root hash.
pub fn blob_fixture(len: u64, salt: u8) -> (BlobId, Digest) {
    let root = Digest(*blake3::hash(&[salt; 7]).as_bytes());
    (derive_blob_id(EncodingType::RedStuffRs2, len, &root), root)
}

/// The hash of the test block at `height` (made up, distinct per height).
pub fn block_hash(height: u64) -> floe_ledger::BlockHash {
    floe_ledger::BlockHash(*blake3::hash(&height.to_le_bytes()).as_bytes())
}

pub struct Net {
    pub state: State,
    pub time_ms: u64,
    pub height: u64,
}

impl Net {
    pub fn new() -> Self {
        Self::from_genesis(&genesis())
    }

    pub fn from_genesis(g: &Genesis) -> Self {
        Self {
            state: State::from_genesis(g).unwrap(),
            time_ms: g.genesis_time_ms,
            height: 1,
        }
    }

    pub fn ctx(&self) -> BlockContext {
        BlockContext {
            height: self.height,
            timestamp_ms: self.time_ms,
            tx_index: 0,
            block_hash: block_hash(self.height),
        }
    }

    pub fn nonce(&self, a: &Address) -> u64 {
        self.state.account(a).map_or(0, |a| a.nonce)
    }

    pub fn balance(&self, a: &Address) -> Frost {
        self.state.account(a).map_or(Frost::ZERO, |a| a.balance)
    }

    pub fn exec_raw(
        &mut self,
        key: &KeyPair,
        nonce: u64,
        fee: Frost,
        kind: TxKind,
    ) -> Result<Effects, TxError> {
        self.exec_full(key, nonce, fee, kind).map_err(|f| f.error)
    }

    /// Executes a transaction; a failure says what it cost.
    pub fn exec_full(
        &mut self,
        key: &KeyPair,
        nonce: u64,
        fee: Frost,
        kind: TxKind,
    ) -> Result<Effects, TxFailure> {
        let tx = Transaction {
            sender: addr(key),
            nonce,
            fee,
            kind,
        };
        let verified = SignedTransaction::sign(key, tx, CHAIN)
            .verify(CHAIN)
            .map_err(TxFailure::refused)?;
        self.height += 1;
        let ctx = self.ctx();
        apply(&mut self.state, &verified, &ctx)
    }

    pub fn exec_key(&mut self, key: &KeyPair, kind: TxKind) -> Result<Effects, TxError> {
        let n = self.nonce(&addr(key));
        self.exec_raw(key, n, MIN_FEE, kind)
    }

    pub fn exec(&mut self, user: usize, kind: TxKind) -> Result<Effects, TxError> {
        self.exec_key(&user_key(user), kind)
    }

    /// Expects `kind` to fail in execution with `code`: it pays its fee and consumes its nonce,
    /// and nothing else of it is kept (the state equals that after a transaction that only
    /// fails).
    pub fn reject(&mut self, user: usize, kind: TxKind, code: &str) -> TxError {
        self.reject_key(&user_key(user), kind, code)
    }

    /// [`Net::reject`] for a transaction signed by `key`.
    pub fn reject_key(&mut self, key: &KeyPair, kind: TxKind, code: &str) -> TxError {
        let sender = addr(key);
        let (nonce, balance) = (self.nonce(&sender), self.balance(&sender));
        let fees = self.state.system().fee_pool;
        // The oracle: the same block position, a transaction that does nothing but fail.
        let mut oracle = Net {
            state: self.state.clone(),
            time_ms: self.time_ms,
            height: self.height,
        };
        let failure = self
            .exec_full(key, nonce, MIN_FEE, kind)
            .expect_err("the transaction fails");
        assert_eq!(failure.code(), code, "{failure}");
        let charged = MIN_FEE.min(balance);
        assert_eq!(failure.fee_charged, Some(charged), "{failure}");
        assert_eq!(self.nonce(&sender), nonce + 1, "the nonce is consumed");
        assert_eq!(
            self.balance(&sender),
            Frost(balance.0 - charged.0),
            "the fee is paid"
        );
        assert_eq!(self.state.system().fee_pool, Frost(fees.0 + charged.0));
        let only_fails = oracle
            .exec_full(
                key,
                nonce,
                MIN_FEE,
                // Fails in execution on every chain (above any per-call cap, or no faucet),
                // and, being a faucet call, even from an account that cannot pay the fee.
                TxKind::Faucet {
                    amount: Frost(u64::MAX),
                },
            )
            .expect_err("an oversized faucet call fails");
        assert_eq!(only_fails.fee_charged, Some(charged));
        assert!(
            self.state == oracle.state,
            "a failed tx kept more than its fee and nonce"
        );
        assert_eq!(self.state.digest(), oracle.state.digest());
        failure.error
    }

    pub fn advance_epochs(&mut self, k: u64) {
        self.time_ms += k * EPOCH_MS;
        self.height += 1;
        let ctx = self.ctx();
        self.state.begin_block(&ctx);
    }

    /// Moves time to `t` with an empty block; returns the block events.
    pub fn block_at(&mut self, t: u64) -> Vec<floe_ledger::Event> {
        self.time_ms = t;
        self.height += 1;
        let ctx = self.ctx();
        self.state.begin_block(&ctx);
        self.state.take_block_events()
    }

    /// Gives every genesis node key's account 1 WAL (for `EpochSyncDone` fees).
    pub fn fund_node_keys(&mut self) {
        for i in 0..10 {
            self.exec(
                0,
                TxKind::Transfer {
                    to: addr(&node_key(i)),
                    amount: Frost(1_000_000_000),
                },
            )
            .unwrap();
        }
    }

    /// Every current committee member not yet counted reports `EpochSyncDone`.
    /// Every member of the current committee not yet counted reports its shards synced
    /// (also after the quorum: late reports complete the handover).
    pub fn sync_all(&mut self) {
        let epoch = self.state.epoch();
        let members: Vec<_> = self.state.committee().members().to_vec();
        for m in members {
            if self.state.system().epoch_synced.contains(&m.node_id) {
                continue;
            }
            let key = (0..20)
                .map(node_key)
                .find(|k| k.public() == m.public_key)
                .unwrap();
            self.exec_key(&key, TxKind::EpochSyncDone { epoch })
                .unwrap();
        }
    }

    pub fn reserve(&mut self, user: usize, size: u64, epochs: u32) -> ObjectId {
        let fx = self
            .exec(
                user,
                TxKind::ReserveSpace {
                    encoded_size: size,
                    epochs_ahead: epochs,
                },
            )
            .unwrap();
        fx.created[0]
    }

    pub fn register_kind(storage: ObjectId, len: u64, salt: u8, deletable: bool) -> TxKind {
        let (blob_id, root_hash) = blob_fixture(len, salt);
        TxKind::RegisterBlob {
            storage,
            blob_id,
            root_hash,
            unencoded_length: len,
            encoding_type: EncodingType::RedStuffRs2,
            deletable,
        }
    }

    /// Reserves 1 MiB for `epochs` and registers a 1000-byte blob; returns (object, blob id).
    pub fn register(
        &mut self,
        user: usize,
        salt: u8,
        deletable: bool,
        epochs: u32,
    ) -> (ObjectId, BlobId) {
        let storage = self.reserve(user, MIB, epochs);
        let fx = self
            .exec(user, Self::register_kind(storage, 1000, salt, deletable))
            .unwrap();
        (fx.created[0], blob_fixture(1000, salt).0)
    }

    /// A certificate over `body` for `epoch` signed by the committee members `signers`.
    pub fn cert_of<T: MessageBody>(&self, epoch: Epoch, body: T, signers: &[usize]) -> Certificate {
        self.cert_on(CHAIN, epoch, body, signers)
    }

    /// [`Net::cert_of`], with the members signing for network `chain`.
    pub fn cert_on<T: MessageBody>(
        &self,
        chain: &str,
        epoch: Epoch,
        body: T,
        signers: &[usize],
    ) -> Certificate {
        let c = self.state.committee();
        let committee = Committee::new(epoch, c.n_shards(), c.members().to_vec()).unwrap();
        let msg = ProtocolMessage::new(chain, epoch, body);
        let mut b = CertificateBuilder::<T>::new(&committee, chain);
        for &i in signers {
            let pk = committee.members()[i].public_key;
            let key = (0..20).map(node_key).find(|k| k.public() == pk).unwrap();
            b.add(i, &SignedMessage::sign(&key, &msg)).unwrap();
        }
        b.finish().unwrap()
    }

    pub fn confirmation(
        &self,
        blob_id: BlobId,
        persistence: BlobPersistence,
        signers: &[usize],
    ) -> Certificate {
        let body = StorageConfirmation {
            blob_id,
            persistence,
        };
        self.cert_of(self.state.epoch(), body, signers)
    }

    pub fn invalid_cert(&self, blob_id: BlobId, signers: &[usize]) -> Certificate {
        self.cert_of(self.state.epoch(), InvalidBlobIdMsg { blob_id }, signers)
    }

    pub fn certify(
        &mut self,
        user: usize,
        object: ObjectId,
        blob_id: BlobId,
        deletable: bool,
    ) -> Effects {
        let p = if deletable {
            BlobPersistence::Deletable(object)
        } else {
            BlobPersistence::Permanent
        };
        let certificate = self.confirmation(blob_id, p, &QUORUM);
        self.exec(
            user,
            TxKind::CertifyBlob {
                blob_object: object,
                certificate,
            },
        )
        .unwrap()
    }

    pub fn blob(&self, id: &ObjectId) -> floe_ledger::BlobObject {
        match self.state.object(id) {
            Some(Object::Blob(b)) => b.clone(),
            o => panic!("not a blob: {o:?}"),
        }
    }

    pub fn shared(&self, id: &ObjectId) -> floe_ledger::SharedBlob {
        match self.state.object(id) {
            Some(Object::SharedBlob(s)) => s.clone(),
            o => panic!("not a shared blob: {o:?}"),
        }
    }

    /// Registers and certifies a 1000-byte blob stored for `epochs`; returns (object, blob id).
    pub fn stored(
        &mut self,
        user: usize,
        salt: u8,
        deletable: bool,
        epochs: u32,
    ) -> (ObjectId, BlobId) {
        let (obj, blob_id) = self.register(user, salt, deletable, epochs);
        self.certify(user, obj, blob_id, deletable);
        (obj, blob_id)
    }

    pub fn storage(&self, id: &ObjectId) -> floe_ledger::StorageResource {
        match self.state.object(id) {
            Some(Object::Storage(s)) => s.clone(),
            o => panic!("not storage: {o:?}"),
        }
    }
}

/// 7 of 10 members with 10 shards each: 70 > 66.7.
pub const QUORUM: [usize; 7] = [0, 1, 2, 3, 4, 5, 6];
/// 6 members: 60 shards, below quorum.
pub const BELOW_QUORUM: [usize; 6] = [0, 1, 2, 3, 4, 5];
/// 4 members: 40 > 33.3 (validity).
pub const VALIDITY: [usize; 4] = [2, 4, 6, 8];
/// 3 members: 30, below validity.
pub const BELOW_VALIDITY: [usize; 3] = [1, 3, 5];
