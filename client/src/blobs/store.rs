//! Storing a blob: encode, pay and register, upload, confirm, certify.

use std::collections::HashSet;
use std::time::Instant;

use floe_common::config::EncodingConfigError;
use floe_common::{
    BlobId, BlobMetadata, BlobPersistence, EncodedBlob, EncodingType, Epoch, Frost, NodeId,
    ObjectId,
};
use floe_ledger_types::rpc::SystemInfo;
use floe_ledger_types::{ClientError, SignedTransaction, Transaction, TxKind, TxStatus};
use floe_node_protocol::committee::CommitteeView;
use serde::Serialize;

use super::progress::{ProgressHook, report};
use super::upload::{SliverSource, UploadError, UploadOptions, upload};
use super::{BlobClient, ConnectError};
use crate::trust::TrustError;

/// Permanent, or deletable by its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Cannot be deleted before it expires.
    #[default]
    Permanent,
    /// Its owner may delete it.
    Deletable,
}

/// How to store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Epochs ahead to pay for (at least 1).
    pub epochs: u32,
    /// Persistence.
    pub persistence: Persistence,
    /// Store even if the blob is already certified with enough lifetime.
    pub force: bool,
    /// Do not upload to these nodes (they recover their slivers later). For tests and partial
    /// uploads; the store still needs quorum weight from the others.
    pub skip_nodes: HashSet<NodeId>,
    /// Told about phases and upload bytes (progress bars).
    pub progress: Option<ProgressHook>,
}

/// Milliseconds spent in each step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StorePhases {
    /// Erasure coding.
    pub encode: u64,
    /// Paying and registering on the ledger.
    pub register: u64,
    /// Uploading until quorum.
    pub upload: u64,
    /// Certifying on the ledger.
    pub certify: u64,
}

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum StoreOutcome {
    /// Newly registered, uploaded and certified.
    NewlyCreated {
        /// The blob id.
        blob_id: BlobId,
        /// The new blob object (owned by the wallet).
        blob_object: ObjectId,
        /// Unencoded size.
        size: u64,
        /// Encoded size paid for.
        encoded_size: u64,
        /// Price paid (storage and write), in FROST.
        cost: Frost,
        /// End epoch (exclusive).
        end_epoch: Epoch,
        /// Persistence.
        persistence: Persistence,
        /// Shards of nodes that confirmed.
        confirmed_shards: u32,
        /// Time per step.
        phases: StorePhases,
    },
    /// Already certified with enough lifetime: nothing was paid.
    AlreadyCertified {
        /// The blob id.
        blob_id: BlobId,
        /// The latest certified end epoch.
        end_epoch: Epoch,
    },
}

impl StoreOutcome {
    /// The blob id.
    pub fn blob_id(&self) -> BlobId {
        match self {
            StoreOutcome::NewlyCreated { blob_id, .. }
            | StoreOutcome::AlreadyCertified { blob_id, .. } => *blob_id,
        }
    }
}

/// A store failed. Nothing is left half-done in the wallet: a failure before registration
/// spends nothing; a failure after it leaves a registered (paid) blob object that a later
/// store of the same data reuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The blob cannot be encoded (too large for the network's shard count).
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodingConfigError),
    /// The network could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The ledger refused a transaction.
    #[error("{step}: the ledger rejected the transaction ({code}): {message}")]
    Rejected {
        /// Which step.
        step: &'static str,
        /// The ledger's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The ledger could not be reached.
    #[error("{step}: ledger unavailable: {source}")]
    Ledger {
        /// Which step.
        step: &'static str,
        /// The failure.
        #[source]
        source: ClientError,
    },
    /// A submitted transaction was not final within the ledger timeout.
    #[error("{step}: the transaction was not final in time")]
    NotFinal {
        /// Which step.
        step: &'static str,
    },
    /// A transaction succeeded without the event the step relies on.
    #[error("{step}: the ledger reported no {event} event")]
    MissingEvent {
        /// Which step.
        step: &'static str,
        /// The event.
        event: &'static str,
    },
    /// The blob was invalidated on the ledger.
    #[error("blob {0} is marked invalid on the ledger")]
    Invalid(BlobId),
    /// Not enough nodes confirmed storage.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The ledger asks a fee above the client's cap; nothing was signed.
    #[error("{step}: {source}")]
    Trust {
        /// Which step.
        step: &'static str,
        /// What was refused.
        source: TrustError,
    },
}

/// What an upload is for: the registered blob.
struct UploadTarget<'m> {
    blob_id: BlobId,
    blob_object: ObjectId,
    metadata: &'m BlobMetadata,
    persistence: BlobPersistence,
}

/// Runs blocking work in place: on a multi-threaded runtime the worker hands its other tasks
/// away for the duration; on a current-thread runtime the caller is the only task anyway.
pub(super) fn in_place<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Times a store redoes its upload because the epoch changed under it.
pub const EPOCH_RETRIES: u32 = 2;

fn ledger_err(step: &'static str) -> impl Fn(ClientError) -> StoreError {
    move |e| match e {
        ClientError::Http { code, message, .. } => StoreError::Rejected {
            step,
            code,
            message,
        },
        source => StoreError::Ledger { step, source },
    }
}

impl BlobClient {
    /// Stores `data`.
    pub async fn store(
        &self,
        data: &[u8],
        opts: &StoreOptions,
    ) -> Result<StoreOutcome, StoreError> {
        let started = Instant::now();
        report(opts.progress.as_ref(), |p| p.phase("encode"));
        let committee = self.committee().await?;
        let config = *committee.encoding();
        // Encode in place, without copying the caller's data: on a multi-threaded runtime the
        // worker hands its other tasks away for the duration (`block_in_place`); on a
        // current-thread runtime the caller is the only task anyway.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        // No primary parity is kept in this pass: it is computed per group of nodes during the
        // upload (see `upload`), so memory stays near the blob's size.
        let prepare = || {
            in_place(|| floe_common::encoding::prepare(&config, data, threads, |_| false))
                .map_err(StoreError::from)
        };
        let prepared = prepare()?;
        let encode_ms = started.elapsed().as_millis() as u64;
        let metadata = prepared.metadata().clone();
        // If the epoch changes during the upload, the new committee gets the slivers again
        // from a fresh preparation (the first one was consumed).
        let again = || prepare().map(SliverSource::Prepared);
        self.store_from(
            SliverSource::Prepared(prepared),
            Some(&again),
            metadata,
            opts,
            committee,
            encode_ms,
        )
        .await
    }

    /// Stores an already encoded blob (for example a deliberately inconsistent one in tests).
    pub async fn store_encoded(
        &self,
        encoded: EncodedBlob,
        opts: &StoreOptions,
        committee: CommitteeView,
        encode_ms: u64,
    ) -> Result<StoreOutcome, StoreError> {
        let metadata = encoded.metadata.clone();
        self.store_from(
            SliverSource::encoded(encoded),
            None,
            metadata,
            opts,
            committee,
            encode_ms,
        )
        .await
    }

    /// Registers, uploads and certifies. If the upload or the certification fails because the
    /// epoch changed meanwhile (confirmations are signed for, and certificates checked against,
    /// the current committee), the upload is redone to the new committee with a source from
    /// `again`, at most [`EPOCH_RETRIES`] times; the registration is kept.
    async fn store_from<'a>(
        &self,
        source: SliverSource<'a>,
        again: Option<&(dyn Fn() -> Result<SliverSource<'a>, StoreError> + Sync)>,
        verified: floe_common::VerifiedBlobMetadata,
        opts: &StoreOptions,
        committee: CommitteeView,
        encode_ms: u64,
    ) -> Result<StoreOutcome, StoreError> {
        let blob_id = verified.blob_id();
        let epochs = opts.epochs.max(1);
        let system = self.ledger.system().await.map_err(ledger_err("status"))?;
        if let Some(end_epoch) = self
            .certified_until(&blob_id, &system, epochs, opts)
            .await?
        {
            return Ok(StoreOutcome::AlreadyCertified { blob_id, end_epoch });
        }

        // Pay and register in one batch: the storage object id is derived from the reserve
        // transaction's digest, so the registration can name it before it exists.
        let t = Instant::now();
        report(opts.progress.as_ref(), |p| p.phase("register"));
        let metadata = verified.metadata().clone();
        let size = metadata.unencoded_length;
        let encoded_size = committee.encoding().encoded_length(size)?;
        let (blob_object, end_epoch, storage_cost) = self
            .register(&metadata, encoded_size, epochs, opts.persistence)
            .await?;
        // The registration pays the write price on top of the storage reservation.
        let write_cost = floe_ledger_types::objects::price(system.write_price, encoded_size, 1)
            .unwrap_or(Frost(u64::MAX));
        let cost = storage_cost
            .checked_add(write_cost)
            .unwrap_or(Frost(u64::MAX));
        let register_ms = t.elapsed().as_millis() as u64;

        let persistence = match opts.persistence {
            Persistence::Permanent => BlobPersistence::Permanent,
            Persistence::Deletable => BlobPersistence::Deletable(blob_object),
        };
        let target = UploadTarget {
            blob_id,
            blob_object,
            metadata: &metadata,
            persistence,
        };
        let (weight, upload_ms, certify_ms) = self
            .upload_and_certify(&target, source, again, opts, committee)
            .await?;
        Ok(StoreOutcome::NewlyCreated {
            blob_id,
            blob_object,
            size,
            encoded_size,
            cost,
            end_epoch,
            persistence: opts.persistence,
            confirmed_shards: weight,
            phases: StorePhases {
                encode: encode_ms,
                register: register_ms,
                upload: upload_ms,
                certify: certify_ms,
            },
        })
    }

    /// The end epoch of a certified copy that already lasts `epochs` from now (so nothing needs
    /// storing), unless `opts.force`; an invalidated blob id is an error. With a proof root
    /// ([`LedgerTrust::proof_root`](crate::LedgerTrust::proof_root)) the certification is
    /// proven by a certified block before the store is skipped; a claim that does not prove
    /// is logged and the blob is stored.
    async fn certified_until(
        &self,
        blob_id: &BlobId,
        system: &SystemInfo,
        epochs: u32,
        opts: &StoreOptions,
    ) -> Result<Option<Epoch>, StoreError> {
        let Some(status) = self
            .ledger
            .blob_status(blob_id)
            .await
            .map_err(ledger_err("status"))?
        else {
            return Ok(None);
        };
        if status.invalid {
            return Err(StoreError::Invalid(*blob_id));
        }
        let wanted_end = Epoch(system.epoch.0.saturating_add(epochs));
        let Some(claimed) = status
            .info
            .max_certified_end_epoch
            .filter(|end| *end >= wanted_end && !opts.force)
        else {
            return Ok(None);
        };
        let Some((chain_id, validators)) = self.options.trust.proof_root() else {
            return Ok(Some(claimed));
        };
        match self
            .ledger
            .prove_certification(blob_id, &status, chain_id, validators)
            .await
        {
            Ok(Some(proven)) if proven.end_epoch >= wanted_end => {
                tracing::debug!(%blob_id, height = proven.height, end_epoch = %proven.end_epoch, "certification proven");
                Ok(Some(proven.end_epoch))
            }
            Ok(_) => {
                tracing::warn!(%blob_id, %claimed, "the ledger's certified end epoch is not proven; storing the blob");
                Ok(None)
            }
            Err(error) => {
                tracing::warn!(%blob_id, %error, "the ledger's claim that the blob is certified is not proven; storing the blob");
                Ok(None)
            }
        }
    }

    /// Uploads and certifies; returns (confirmed shards, upload ms, certify ms). If the upload
    /// or the certification fails because the epoch changed meanwhile, uploads again to the new
    /// committee with a source from `again`, at most [`EPOCH_RETRIES`] times.
    async fn upload_and_certify<'a>(
        &self,
        target: &UploadTarget<'_>,
        source: SliverSource<'a>,
        again: Option<&(dyn Fn() -> Result<SliverSource<'a>, StoreError> + Sync)>,
        opts: &StoreOptions,
        mut committee: CommitteeView,
    ) -> Result<(u32, u64, u64), StoreError> {
        let mut source = Some(source);
        let mut attempt = 0;
        loop {
            let source = match (source.take(), again) {
                (Some(s), _) => s,
                (None, Some(again)) => again()?,
                (None, None) => unreachable!("a retry needs a source"),
            };
            let t = Instant::now();
            report(opts.progress.as_ref(), |p| p.phase("upload"));
            let uploaded = upload(
                &self.p2p,
                &committee,
                target.blob_id,
                source,
                target.metadata,
                target.persistence,
                UploadOptions {
                    chain_id: &self.chain_id,
                    bytes_in_flight: self.options.upload_bytes_in_flight,
                    extra_time: self.options.extra_upload_time,
                    confirmation_wait: self.options.confirmation_wait,
                    skip_nodes: &opts.skip_nodes,
                    progress: opts.progress.as_ref(),
                },
            )
            .await;
            let upload_ms = t.elapsed().as_millis() as u64;
            let t = Instant::now();
            let failure = match uploaded {
                Ok((certificate, weight)) => {
                    report(opts.progress.as_ref(), |p| p.phase("certify"));
                    let certify = TxKind::CertifyBlob {
                        blob_object: target.blob_object,
                        certificate,
                    };
                    match self.submit("certify", vec![certify]).await {
                        Ok(_) => return Ok((weight, upload_ms, t.elapsed().as_millis() as u64)),
                        Err(e) => e,
                    }
                }
                Err(e) => e.into(),
            };
            attempt += 1;
            if again.is_none() || attempt > EPOCH_RETRIES {
                return Err(failure);
            }
            let now = self.ledger.system().await.map_err(ledger_err("status"))?;
            if now.epoch == committee.epoch() {
                return Err(failure);
            }
            tracing::info!(blob_id = %target.blob_id, from = %committee.epoch(), to = %now.epoch, error = %failure, "the epoch changed during the store; uploading to the new committee");
            committee = self.committee().await?;
        }
    }

    /// Reserves storage and registers the blob; returns the blob object, its end epoch and the
    /// price paid.
    async fn register(
        &self,
        metadata: &BlobMetadata,
        encoded_size: u64,
        epochs: u32,
        persistence: Persistence,
    ) -> Result<(ObjectId, Epoch, Frost), StoreError> {
        let kinds = vec![
            TxKind::ReserveSpace {
                encoded_size,
                epochs_ahead: epochs,
            },
            // Placeholder storage id, fixed below once the reserve digest is known.
            TxKind::RegisterBlob {
                storage: ObjectId([0; 32]),
                blob_id: metadata.blob_id(),
                root_hash: metadata.root(),
                unencoded_length: metadata.unencoded_length,
                encoding_type: EncodingType::RedStuffRs2,
                deletable: persistence == Persistence::Deletable,
            },
        ];
        let effects = self.submit("register", kinds).await?;
        let mut blob_object = None;
        let mut end_epoch = Epoch(0);
        let mut cost = Frost(0);
        for event in effects.iter().flat_map(|e| &e.events) {
            match event {
                floe_ledger_types::Event::StorageReserved {
                    cost: c,
                    end_epoch: e,
                    ..
                } => {
                    cost = *c;
                    end_epoch = *e;
                }
                floe_ledger_types::Event::BlobRegistered { object_id, .. } => {
                    blob_object = Some(*object_id);
                }
                _ => {}
            }
        }
        let blob_object = blob_object.ok_or(StoreError::MissingEvent {
            step: "register",
            event: "BlobRegistered",
        })?;
        Ok((blob_object, end_epoch, cost))
    }

    /// Gives the wallet's blob object `object` to `to`: what a publisher storing for someone
    /// else does once the blob is certified (Walrus's `send_object_to`).
    pub async fn transfer_blob(
        &self,
        object: ObjectId,
        to: floe_ledger_types::Address,
    ) -> Result<floe_ledger_types::Effects, StoreError> {
        let kind = TxKind::TransferBlob {
            blob_object: object,
            to,
        };
        Ok(self.submit("transfer", vec![kind]).await?.remove(0))
    }

    /// Turns the wallet's certified blob object `object` into a shared blob with `amount` of
    /// the wallet's WAL as its funds (Walrus's `share`).
    pub async fn share_blob(
        &self,
        object: ObjectId,
        amount: Frost,
    ) -> Result<floe_ledger_types::Effects, StoreError> {
        let kind = TxKind::ShareBlob {
            blob_object: object,
            amount,
        };
        Ok(self.submit("share", vec![kind]).await?.remove(0))
    }

    /// Signs `kinds` with consecutive nonces, submits them as one batch and waits until all are
    /// final. A `RegisterBlob` following a `ReserveSpace` is pointed at the storage object the
    /// reservation creates. Returns each transaction's effects.
    pub(crate) async fn submit(
        &self,
        step: &'static str,
        kinds: Vec<TxKind>,
    ) -> Result<Vec<floe_ledger_types::Effects>, StoreError> {
        let sender = self.address();
        let _one_batch_at_a_time = self.submit_lock.lock().await;
        let account = self
            .ledger
            .account(&sender)
            .await
            .map_err(ledger_err(step))?;
        let system = self.ledger.system().await.map_err(ledger_err(step))?;
        let fee = self
            .options
            .trust
            .fee(system.min_fee)
            .map_err(|source| StoreError::Trust { step, source })?;
        let mut txs: Vec<SignedTransaction> = Vec::with_capacity(kinds.len());
        for (i, mut kind) in kinds.into_iter().enumerate() {
            if let (TxKind::RegisterBlob { storage, .. }, Some(prev)) = (&mut kind, txs.last())
                && matches!(prev.tx.kind, TxKind::ReserveSpace { .. })
            {
                *storage = floe_ledger_types::derive_object_id(&prev.digest(), 0);
            }
            txs.push(SignedTransaction::sign(
                &self.key,
                Transaction {
                    sender,
                    nonce: account.nonce + i as u64,
                    fee,
                    kind,
                },
                &self.chain_id,
            ));
        }
        let admitted = self
            .ledger
            .submit_batch(&txs)
            .await
            .map_err(ledger_err(step))?;
        if let Some(err) = admitted.iter().find_map(|a| a.error.as_ref()) {
            return Err(StoreError::Rejected {
                step,
                code: err.code.clone(),
                message: err.message.clone(),
            });
        }
        let mut effects = Vec::with_capacity(txs.len());
        for tx in &txs {
            let committed = self
                .ledger
                .transaction(&tx.digest(), Some(self.options.ledger_timeout))
                .await
                .map_err(ledger_err(step))?
                .ok_or(StoreError::NotFinal { step })?;
            match committed.outcome.status {
                TxStatus::Success(e) => effects.push(e),
                TxStatus::Failure(e) => {
                    return Err(StoreError::Rejected {
                        step,
                        code: e.code().into(),
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(effects)
    }
}
