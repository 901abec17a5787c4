//! The typed client of a validator's RPC ([`crate::rpc`]), used by storage nodes, the CLI and
//! tests.
//!
//! It holds one or more validator base URLs and fails over to the next one on connection
//! errors (sticking to the last one that answered). Server errors come back as
//! [`ClientError::Http`] with the server's stable code. Blocks are fetched as BCS so their hash
//! is recomputed exactly; [`LedgerClient::verified_block`] checks the commit certificate against
//! a validator set the caller trusts, so following a single validator does not mean trusting it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use floe_common::{BlobId, NodeId, ObjectId};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::cert::{CertError, ValidatorSet};
use crate::genesis::Genesis;
use crate::record::CommittedTx;
use crate::record::{BlockRecord, EventCursor};
use crate::rpc::{
    AccountResponse, BatchItem, BatchResponse, BlobStatus, CommitteeResponse, ErrorBody,
    EventsResponse, HealthResponse, NodeInfo, NodesResponse, ObjectResponse, SubmitResponse,
    SystemInfo, TxResponse,
};
use crate::tx::{Address, SignedTransaction, TxDigest};

/// Timeout of a request that does not wait (a waiting one gets its wait on top).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connection timeout (then the next URL is tried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest BCS block record accepted.
const MAX_RECORD_BYTES: usize = 4 * crate::block::MAX_BLOCK_BYTES;
/// Largest response body read (the largest answers are block records and event pages).
pub const MAX_RESPONSE_BYTES: usize = 2 * MAX_RECORD_BYTES;
/// Pause before asking again when the server has no room for another waiting request.
const WAIT_RETRY: Duration = Duration::from_millis(250);

/// A client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("http {status}: {code}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// No validator could be reached (the last error).
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// A response did not decode.
    #[error("decode: {0}")]
    Decode(#[from] BodyError),
    /// A block's commit certificate does not verify.
    #[error("block verification failed: {0}")]
    Verification(#[from] CertError),
    /// A block's results are not the ones the next certified header commits to.
    #[error("block results not proven: {0}")]
    Results(#[from] crate::record::ResultsError),
    /// A server's claim about a blob is not proven by the blocks it names.
    #[error("blob claim not proven: {0}")]
    Evidence(#[from] crate::rpc::EvidenceError),
    /// A wait ran out (the server's 504, or the request timed out).
    #[error("timed out")]
    Timeout,
}

impl ClientError {
    /// The server's error code, for [`ClientError::Http`].
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Http { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for [`ClientError::Http`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// Why no validator answered.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The client was given no validator URL.
    #[error("no validator URLs")]
    NoUrls,
    /// The request to `url` failed (the last validator tried).
    #[error("{url}: {source}")]
    Request {
        /// The validator's base URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
}

/// A response body that is not what the API promises.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// A JSON body that does not decode.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A BCS body that does not decode.
    #[error(transparent)]
    Bcs(#[from] floe_common::codec::CodecError),
    /// A body larger than the client reads.
    #[error("response body over {max} bytes")]
    TooLarge {
        /// The cap.
        max: usize,
    },
}

/// A client of one or more validators.
#[derive(Debug)]
pub struct LedgerClient {
    urls: Vec<String>,
    http: reqwest::Client,
    current: AtomicUsize,
    request_timeout: Duration,
}

impl Clone for LedgerClient {
    /// Shares the connection pool; the clone starts on the same validator.
    fn clone(&self) -> Self {
        LedgerClient {
            urls: self.urls.clone(),
            http: self.http.clone(),
            current: AtomicUsize::new(self.current.load(std::sync::atomic::Ordering::Relaxed)),
            request_timeout: self.request_timeout,
        }
    }
}

/// A request's body and accepted response format.
enum Body {
    None,
    Bcs(Vec<u8>),
}

impl LedgerClient {
    /// A client of the validators at `urls` (base URLs such as `http://127.0.0.1:7000`).
    pub fn new(urls: Vec<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .unwrap_or_default();
        LedgerClient {
            urls: urls
                .into_iter()
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect(),
            http,
            current: AtomicUsize::new(0),
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// Gives up on a request (that does not wait) after `timeout` instead of 30 s; a waiting
    /// request gets its wait on top. A timed-out validator is left for the next request, so a
    /// short timeout makes a client leave a validator it can no longer reach (cut off by a
    /// partition, its connection silently dead) that much sooner.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The validator URLs.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The URL requests go to first (the last one that answered).
    pub fn current_url(&self) -> Option<&str> {
        let n = self.urls.len();
        (n > 0).then(|| self.urls[self.current.load(Ordering::Relaxed) % n].as_str())
    }

    /// Moves to the next validator: the current one served something that failed
    /// verification. Returns the URL left behind.
    pub fn fail_over(&self) -> Option<String> {
        let left = self.current_url()?.to_owned();
        self.current.fetch_add(1, Ordering::Relaxed);
        Some(left)
    }

    /// Sends a request, failing over on connection errors. A waiting request the server has
    /// no room for (`429 too_many_waits`) is asked again until its wait has passed.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        bcs_response: bool,
        wait: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let resp = self
                .send_once(method.clone(), path, query, &body, bcs_response, wait)
                .await?;
            let full = resp.status() == StatusCode::TOO_MANY_REQUESTS && !wait.is_zero();
            if full && tokio::time::Instant::now() + WAIT_RETRY < deadline {
                tokio::time::sleep(WAIT_RETRY).await;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Sends a request to the current URL, failing over on connection errors.
    async fn send_once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
        bcs_response: bool,
        wait: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        if self.urls.is_empty() {
            return Err(TransportError::NoUrls.into());
        }
        let n = self.urls.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let mut last = TransportError::NoUrls;
        for i in 0..n {
            let idx = (start + i) % n;
            let mut req: RequestBuilder = self
                .http
                .request(method.clone(), format!("{}{path}", self.urls[idx]))
                .timeout(self.request_timeout + wait)
                .query(query);
            if bcs_response {
                req = req.header(reqwest::header::ACCEPT, "application/octet-stream");
            }
            if let Body::Bcs(bytes) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.clone());
            }
            match req.send().await {
                Ok(resp) => {
                    self.current.store(idx, Ordering::Relaxed);
                    return Ok(resp);
                }
                Err(e) if e.is_timeout() => {
                    // A validator that stopped answering (cut off, or its connection silently
                    // dead) is left: the next request goes to the next one. This one is not
                    // sent again, as it may have been acted on.
                    self.current.store(idx + 1, Ordering::Relaxed);
                    tracing::debug!(url = %self.urls[idx], "validator timed out, the next request goes to the next");
                    return Err(ClientError::Timeout);
                }
                Err(e) if e.is_connect() => {
                    tracing::debug!(url = %self.urls[idx], error = %e, "validator unreachable, trying the next");
                    last = TransportError::Request {
                        url: self.urls[idx].clone(),
                        source: e,
                    };
                }
                Err(source) => {
                    return Err(TransportError::Request {
                        url: self.urls[idx].clone(),
                        source,
                    }
                    .into());
                }
            }
        }
        Err(last.into())
    }

    /// A successful response's body, read up to [`MAX_RESPONSE_BYTES`].
    async fn body(mut resp: reqwest::Response) -> Result<bytes::Bytes, ClientError> {
        let max = MAX_RESPONSE_BYTES;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(BodyError::TooLarge { max }.into());
        }
        let url = resp.url().origin().ascii_serialization();
        let mut body = bytes::BytesMut::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max {
                        return Err(BodyError::TooLarge { max }.into());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body.freeze()),
                Err(source) if source.is_timeout() => return Err(ClientError::Timeout),
                Err(source) => return Err(TransportError::Request { url, source }.into()),
            }
        }
    }

    async fn error_of(resp: reqwest::Response) -> ClientError {
        let status = resp.status();
        if status == StatusCode::GATEWAY_TIMEOUT {
            return ClientError::Timeout;
        }
        let bytes = Self::body(resp).await.unwrap_or_default();
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => ClientError::Http {
                status: status.as_u16(),
                code: e.code,
                message: e.message,
            },
            Err(_) => ClientError::Http {
                status: status.as_u16(),
                code: "unknown".into(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            },
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        wait: Duration,
    ) -> Result<T, ClientError> {
        let resp = self.send(method, path, query, body, false, wait).await?;
        if !resp.status().is_success() {
            return Err(Self::error_of(resp).await);
        }
        let bytes = Self::body(resp).await?;
        Ok(serde_json::from_slice(&bytes).map_err(BodyError::from)?)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.json(Method::GET, path, &[], Body::None, Duration::ZERO)
            .await
    }

    /// `Ok(None)` for a 404.
    fn optional<T>(r: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Submits a transaction (BCS) to the mempool.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<TxDigest, ClientError> {
        let r: SubmitResponse = self
            .json(
                Method::POST,
                "/v1/transactions",
                &[],
                Body::Bcs(tx.encode()),
                Duration::ZERO,
            )
            .await?;
        Ok(r.digest)
    }

    /// Submits a transaction and waits up to `timeout` (at most 120 s) for it to be committed.
    pub async fn submit_and_wait(
        &self,
        tx: &SignedTransaction,
        timeout: Duration,
    ) -> Result<CommittedTx, ClientError> {
        let r: TxResponse = self
            .json(
                Method::POST,
                "/v1/transactions",
                &[
                    ("wait", "true".into()),
                    ("timeout_ms", timeout.as_millis().to_string()),
                ],
                Body::Bcs(tx.encode()),
                timeout,
            )
            .await?;
        Ok(r.into())
    }

    /// Submits many transactions; one result per transaction.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<Vec<BatchItem>, ClientError> {
        let r: BatchResponse = self
            .json(
                Method::POST,
                "/v1/transactions/batch",
                &[],
                Body::Bcs(floe_common::codec::encode(txs)),
                Duration::ZERO,
            )
            .await?;
        Ok(r.results)
    }

    /// A committed transaction (`None` if not committed), long-polling up to `wait`.
    pub async fn transaction(
        &self,
        digest: &TxDigest,
        wait: Option<Duration>,
    ) -> Result<Option<CommittedTx>, ClientError> {
        let wait = wait.unwrap_or(Duration::ZERO);
        let r: Result<TxResponse, _> = self
            .json(
                Method::GET,
                &format!("/v1/transactions/{digest}"),
                &[("wait_ms", wait.as_millis().to_string())],
                Body::None,
                wait,
            )
            .await;
        Ok(Self::optional(r)?.map(Into::into))
    }

    /// An account (zero balance and nonce if unknown).
    pub async fn account(&self, address: &Address) -> Result<AccountResponse, ClientError> {
        self.get(&format!("/v1/accounts/{address}")).await
    }

    /// Every object `address` owns, in id order, page by page.
    pub async fn account_objects(
        &self,
        address: &Address,
    ) -> Result<Vec<ObjectResponse>, ClientError> {
        let mut objects = Vec::new();
        let mut after: Option<ObjectId> = None;
        loop {
            let path = match after {
                Some(a) => format!("/v1/accounts/{address}?after={a}"),
                None => format!("/v1/accounts/{address}"),
            };
            let page: AccountResponse = self.get(&path).await?;
            objects.extend(page.objects);
            match page.next_cursor {
                Some(next) if Some(next) != after => after = Some(next),
                _ => return Ok(objects),
            }
        }
    }

    /// An object.
    pub async fn object(&self, id: &ObjectId) -> Result<Option<ObjectResponse>, ClientError> {
        Self::optional(self.get(&format!("/v1/objects/{id}")).await)
    }

    /// The status of a blob id (`None` if never registered).
    pub async fn blob_status(&self, id: &BlobId) -> Result<Option<BlobStatus>, ClientError> {
        Self::optional(self.get(&format!("/v1/blobs/{id}")).await)
    }

    /// All storage nodes.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, ClientError> {
        let r: NodesResponse = self.get("/v1/nodes").await?;
        Ok(r.nodes)
    }

    /// One storage node.
    pub async fn node(&self, id: &NodeId) -> Result<Option<NodeInfo>, ClientError> {
        Self::optional(self.get(&format!("/v1/nodes/{id}")).await)
    }

    /// The current storage committee.
    pub async fn committee(&self) -> Result<CommitteeResponse, ClientError> {
        self.get("/v1/committee").await
    }

    /// The committee serving epoch `epoch`: the current one, the previous one (reads during a
    /// sync) or the next one (selected at mid-epoch); `None` if none has that epoch.
    pub async fn committee_at(
        &self,
        epoch: floe_common::Epoch,
    ) -> Result<Option<CommitteeResponse>, ClientError> {
        Self::optional(self.get(&format!("/v1/committee?epoch={}", epoch.0)).await)
    }

    /// The storage challenges of the current epoch and the last settled round.
    pub async fn challenges(&self) -> Result<crate::rpc::ChallengesResponse, ClientError> {
        self.get("/v1/challenges").await
    }

    /// The blobs of `ranks` in the current round's snapshot, with their Merkle paths (check
    /// them with [`floe_common::challenge::RankedBlob::verify`] against the root of a
    /// verified `ChallengesStarted` event). At most [`crate::rpc::MAX_CHALLENGE_RANKS`].
    pub async fn challenge_blobs(
        &self,
        ranks: &[u64],
    ) -> Result<crate::rpc::ChallengeBlobsResponse, ClientError> {
        let ranks: Vec<String> = ranks.iter().map(u64::to_string).collect();
        self.get(&format!("/v1/challenges/blobs?ranks={}", ranks.join(",")))
            .await
    }

    /// Every governance proposal, by id.
    pub async fn proposals(&self) -> Result<Vec<crate::objects::Proposal>, ClientError> {
        let r: crate::rpc::ProposalsResponse = self.get("/v1/proposals").await?;
        Ok(r.proposals)
    }

    /// One governance proposal.
    pub async fn proposal(&self, id: u64) -> Result<Option<crate::objects::Proposal>, ClientError> {
        Self::optional(self.get(&format!("/v1/proposals/{id}")).await)
    }

    /// System parameters, prices, epoch and tip.
    pub async fn system(&self) -> Result<SystemInfo, ClientError> {
        self.get("/v1/system").await
    }

    /// Up to `limit` events strictly after `after` (from the start if `None`), long-polling up
    /// to `wait` when there are none.
    pub async fn events(
        &self,
        after: Option<EventCursor>,
        limit: usize,
        wait: Option<Duration>,
    ) -> Result<EventsResponse, ClientError> {
        let wait = wait.unwrap_or(Duration::ZERO);
        let mut query = vec![
            ("limit", limit.to_string()),
            ("wait_ms", wait.as_millis().to_string()),
        ];
        if let Some(after) = after {
            query.push(("after", after.to_string()));
        }
        self.json(Method::GET, "/v1/events", &query, Body::None, wait)
            .await
    }

    async fn block_at(
        &self,
        which: &str,
        wait: Duration,
    ) -> Result<Option<BlockRecord>, ClientError> {
        let path = format!("/v1/blocks/{which}");
        let query = [("wait_ms", wait.as_millis().to_string())];
        let query = if wait.is_zero() { &[][..] } else { &query[..] };
        let resp = self
            .send(Method::GET, &path, query, Body::None, true, wait)
            .await?;
        if !resp.status().is_success() {
            return Self::optional(Err(Self::error_of(resp).await));
        }
        let bytes = Self::body(resp).await?;
        Ok(Some(
            floe_common::codec::decode(&bytes, MAX_RECORD_BYTES).map_err(BodyError::from)?,
        ))
    }

    /// The committed block at `height` (unverified; see [`LedgerClient::verified_block`]).
    pub async fn block(&self, height: u64) -> Result<Option<BlockRecord>, ClientError> {
        self.block_at(&height.to_string(), Duration::ZERO).await
    }

    /// The latest committed block (unverified).
    pub async fn latest_block(&self) -> Result<Option<BlockRecord>, ClientError> {
        self.block_at("latest", Duration::ZERO).await
    }

    /// Like [`LedgerClient::verified_block`], but if `height` is the next one to commit, the
    /// server holds the request up to `wait` and answers as soon as it commits.
    pub async fn verified_block_wait(
        &self,
        height: u64,
        chain_id: &str,
        validators: &ValidatorSet,
        wait: Duration,
    ) -> Result<Option<BlockRecord>, ClientError> {
        let Some(record) = self.block_at(&height.to_string(), wait).await? else {
            return Ok(None);
        };
        verify_record(&record, height, chain_id, validators)?;
        Ok(Some(record))
    }

    /// The committed block at `height`, checked to be of chain `chain_id`, at that height, and
    /// committed by more than two thirds of `validators` (the block hash is recomputed). The
    /// record's results (outcomes, events, block events) are the server's word until the next
    /// block's header proves them: use [`LedgerClient::proven_block`] to check them too.
    pub async fn verified_block(
        &self,
        height: u64,
        chain_id: &str,
        validators: &ValidatorSet,
    ) -> Result<Option<BlockRecord>, ClientError> {
        self.verified_block_wait(height, chain_id, validators, Duration::ZERO)
            .await
    }

    /// Block `height` with its results proven: its certificate verified as by
    /// [`LedgerClient::verified_block`], and its outcomes, events and block events checked
    /// against the certified header of block `height + 1`
    /// ([`BlockRecord::prove_results`](crate::BlockRecord::prove_results)). `None` until block
    /// `height + 1` is committed.
    pub async fn proven_block(
        &self,
        height: u64,
        chain_id: &str,
        validators: &ValidatorSet,
    ) -> Result<Option<BlockRecord>, ClientError> {
        let Some(record) = self.verified_block(height, chain_id, validators).await? else {
            return Ok(None);
        };
        let next = height.saturating_add(1);
        let Some(next) = self.verified_block(next, chain_id, validators).await? else {
            return Ok(None);
        };
        record.prove_results(&next.block.header)?;
        Ok(Some(record))
    }

    /// A blob's certification, proven: the server's [`BlobStatus`] names the block holding
    /// the event that set its latest certified end epoch ([`BlobEvidence`]), and that block's
    /// results are proven by the next certified header. `None` when the server says the blob
    /// is not certified (or unknown); an error when it says certified and cannot prove it.
    /// Waits up to [`PROOF_WAIT`] for the block after the event's to be committed.
    ///
    /// [`BlobStatus`]: crate::rpc::BlobStatus
    /// [`BlobEvidence`]: crate::rpc::BlobEvidence
    pub async fn proven_certification(
        &self,
        blob_id: &BlobId,
        chain_id: &str,
        validators: &ValidatorSet,
    ) -> Result<Option<crate::rpc::ProvenCertification>, ClientError> {
        let Some(status) = self.blob_status(blob_id).await? else {
            return Ok(None);
        };
        self.prove_certification(blob_id, &status, chain_id, validators)
            .await
    }

    /// [`LedgerClient::proven_certification`] of a status already fetched for `blob_id`:
    /// `None` when it says the blob is not certified, the proof of its evidence otherwise (the
    /// event must be of `blob_id`, whatever blob the status names).
    pub async fn prove_certification(
        &self,
        blob_id: &BlobId,
        status: &crate::rpc::BlobStatus,
        chain_id: &str,
        validators: &ValidatorSet,
    ) -> Result<Option<crate::rpc::ProvenCertification>, ClientError> {
        use crate::rpc::EvidenceError;
        if !status.certified {
            return Ok(None);
        }
        let evidence = status.evidence.ok_or(EvidenceError::Missing(*blob_id))?;
        let deadline = tokio::time::Instant::now() + PROOF_WAIT;
        let record = loop {
            if let Some(r) = self
                .proven_block(evidence.height, chain_id, validators)
                .await?
            {
                break r;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EvidenceError::NotYetProven(evidence.height).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Ok(Some(evidence.prove(blob_id, &record)?))
    }

    /// The validator set.
    pub async fn validators(&self) -> Result<ValidatorSet, ClientError> {
        self.get("/v1/validators").await
    }

    /// The key servers of private blobs (`None` if the chain has none).
    pub async fn key_servers(&self) -> Result<Option<crate::KeyServers>, ClientError> {
        Self::optional(self.get("/v1/key-servers").await)
    }

    /// `POST /v1/keys/share`: sends a signed key request (BCS) to the validator this client
    /// talks to and returns its encrypted key share (BCS, unchecked: the caller verifies it).
    pub async fn key_share(&self, request: &[u8]) -> Result<bytes::Bytes, ClientError> {
        let body = Body::Bcs(request.to_vec());
        let resp = self
            .send(
                Method::POST,
                "/v1/keys/share",
                &[],
                body,
                true,
                Duration::ZERO,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(Self::error_of(resp).await);
        }
        Self::body(resp).await
    }

    /// The genesis.
    pub async fn genesis(&self) -> Result<Genesis, ClientError> {
        self.get("/v1/genesis").await
    }

    /// Chain id, tip, mempool size and validator count.
    pub async fn health(&self) -> Result<HealthResponse, ClientError> {
        self.get("/v1/health").await
    }
}

/// How long [`LedgerClient::proven_certification`] waits for the block that proves an event.
pub const PROOF_WAIT: Duration = Duration::from_secs(5);

/// Checks that `record` is block `height` of chain `chain_id`, committed by `validators`, with
/// the transactions its header commits to.
pub fn verify_record(
    record: &BlockRecord,
    height: u64,
    chain_id: &str,
    validators: &ValidatorSet,
) -> Result<(), CertError> {
    if record.block.height() != height {
        return Err(CertError::WrongHeight {
            got: record.block.height(),
            expected: height,
        });
    }
    if record.block.header.chain_id != chain_id {
        return Err(CertError::WrongChain(record.block.header.chain_id.clone()));
    }
    // The certificate signs the header; the header binds the transactions.
    if crate::block::tx_root(&record.block.txs) != record.block.header.tx_root {
        return Err(CertError::TxRoot);
    }
    record
        .certificate
        .verify(chain_id, &record.block, validators)
}
