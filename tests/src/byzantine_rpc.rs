//! A Byzantine ledger RPC server: a proxy in front of an honest validator that forwards every
//! request, but rewrites the results of every block record it serves.
//!
//! The forgery keeps each block's header and commit certificate intact (so the certificate
//! still verifies) and changes only what the certificate does not sign directly: it drops
//! every `BlobCertified` event, adds a `BlobInvalidated` event for every registered blob, and
//! appends a block event announcing epoch 1,000,000 with an empty committee. A node that
//! believed it would never see a blob certified, would delete every blob's data, and would
//! leave its shards. The only defence is checking each block's results against the next
//! certified header.
//!
//! It also lies in `GET /v1/system`: another chain id ([`FORGED_CHAIN`]) and a minimum fee of
//! [`FORGED_MIN_FEE`], to obtain a signature for another network or drain a wallet through
//! fees.
//!
//! With [`Forgery::blob_status`], it answers every `GET /v1/blobs/{id}` with a permanent
//! certification lasting until [`FORGED_END_EPOCH`], backed by made-up evidence, so that a
//! client believing it skips storing a blob nobody stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use floe_common::{BlobId, Epoch, ObjectId, codec};
use floe_ledger::{BlobIdInfo, EpochEvent, Event};
use floe_ledger_types::rpc::{BlobEvidence, BlobStatus};
use floe_ledger_types::{BlockRecord, TxStatus};
use tokio_util::sync::CancellationToken;

/// The epoch the forged block events announce.
pub const FORGED_EPOCH: Epoch = Epoch(1_000_000);

/// The chain id the forged `/v1/system` reports.
pub const FORGED_CHAIN: &str = "forged-chain";
/// The minimum fee the forged `/v1/system` reports (1,000 WAL).
pub const FORGED_MIN_FEE: u64 = 1_000_000_000_000;

/// The end epoch of the forged blob certifications.
pub const FORGED_END_EPOCH: Epoch = Epoch(1_000);

/// What the proxy forges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forgery {
    /// Block records' results.
    pub results: bool,
    /// `GET /v1/system` (chain id and minimum fee).
    pub system: bool,
    /// `GET /v1/blobs/{id}`: every blob certified.
    pub blob_status: bool,
}

impl Forgery {
    /// Block results and the system answer (what the cluster's proxy does).
    pub const RESULTS_AND_SYSTEM: Forgery = Forgery {
        results: true,
        system: true,
        blob_status: false,
    };
    /// Blob status answers only.
    pub const BLOB_STATUS: Forgery = Forgery {
        results: false,
        system: false,
        blob_status: true,
    };
}

/// Largest body the proxy relays.
const MAX_BODY: usize = 64 << 20;

/// A running Byzantine RPC proxy.
pub struct ByzantineRpc {
    /// Its URL (`http://127.0.0.1:port`).
    pub url: String,
    forged: Arc<AtomicU64>,
    cancel: CancellationToken,
}

#[derive(Clone)]
struct Proxy {
    honest: String,
    http: reqwest::Client,
    forged: Arc<AtomicU64>,
    forgery: Forgery,
}

impl ByzantineRpc {
    /// Starts a proxy in front of the validator at `honest` (its RPC URL), forging block
    /// results and the system answer.
    pub async fn start(honest: &str) -> ByzantineRpc {
        Self::start_with(honest, Forgery::RESULTS_AND_SYSTEM).await
    }

    /// Starts a proxy in front of the validator at `honest`, forging what `forgery` says.
    pub async fn start_with(honest: &str, forgery: Forgery) -> ByzantineRpc {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let forged = Arc::new(AtomicU64::new(0));
        let proxy = Proxy {
            honest: honest.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            forged: forged.clone(),
            forgery,
        };
        let app = Router::new().fallback(forward).with_state(proxy);
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(c.cancelled_owned())
                .await
                .expect("proxy serves");
        });
        ByzantineRpc {
            url,
            forged,
            cancel,
        }
    }

    /// Answers forged so far (block records, blob statuses).
    pub fn forged(&self) -> u64 {
        self.forged.load(Ordering::Relaxed)
    }
}

impl Drop for ByzantineRpc {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Rewrites `record`'s results as described in the module docs.
pub fn forge(record: &mut BlockRecord) {
    for outcome in &mut record.outcomes {
        let TxStatus::Success(effects) = &mut outcome.status else {
            continue;
        };
        effects
            .events
            .retain(|e| !matches!(e, Event::BlobCertified { .. }));
        let invalidations: Vec<Event> = effects
            .events
            .iter()
            .filter_map(|e| match e {
                Event::BlobRegistered { blob_id, epoch, .. } => Some(Event::BlobInvalidated {
                    blob_id: *blob_id,
                    epoch: *epoch,
                }),
                _ => None,
            })
            .collect();
        effects.events.extend(invalidations);
    }
    record
        .system_events
        .push(Event::Epoch(EpochEvent::EpochChanged {
            epoch: FORGED_EPOCH,
            start_ms: 0,
            next_epoch_at_ms: u64::MAX,
            members: Vec::new(),
            moves: Vec::new(),
            previous_epoch: Epoch(0),
        }));
}

fn is_block_request(method: &Method, uri: &Uri) -> bool {
    method == Method::GET && uri.path().starts_with("/v1/blocks/")
}

/// A blob status claiming `id` certified until [`FORGED_END_EPOCH`], with made-up evidence.
pub fn forged_status(id: BlobId) -> BlobStatus {
    let object = ObjectId([0xf0; 32]);
    let info = BlobIdInfo {
        registered_permanent: 1,
        certified_permanent: 1,
        max_certified_end_epoch: Some(FORGED_END_EPOCH),
        initial_certified_epoch: Some(Epoch(0)),
        objects: [object].into(),
        ..BlobIdInfo::default()
    };
    let evidence = BlobEvidence {
        object_id: object,
        height: 2,
        end_epoch: FORGED_END_EPOCH,
    };
    BlobStatus::new(id, info, Some(evidence))
}

async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if proxy.forgery.blob_status
        && method == Method::GET
        && let Some(id) = uri.path().strip_prefix("/v1/blobs/")
        && let Ok(id) = id.parse::<BlobId>()
    {
        proxy.forged.fetch_add(1, Ordering::Relaxed);
        return axum::Json(forged_status(id)).into_response();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = proxy
        .http
        .request(method.clone(), format!("{}{path}", proxy.honest))
        .body(body);
    for name in [header::ACCEPT, header::CONTENT_TYPE] {
        if let Some(v) = headers.get(&name) {
            request = request.header(name, v);
        }
    }
    let answer = match request.send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let Ok(bytes) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let is_bcs = content_type
        .as_ref()
        .is_some_and(|v| v.as_bytes() == b"application/octet-stream");
    let is_system = proxy.forgery.system && method == Method::GET && uri.path() == "/v1/system";
    let bytes = if status.is_success() && is_system {
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(mut v) => {
                v["chain_id"] = FORGED_CHAIN.into();
                v["min_fee"] = FORGED_MIN_FEE.into();
                Bytes::from(serde_json::to_vec(&v).expect("json"))
            }
            Err(_) => bytes,
        }
    } else if proxy.forgery.results
        && status.is_success()
        && is_bcs
        && is_block_request(&method, &uri)
    {
        match codec::decode::<BlockRecord>(&bytes, MAX_BODY) {
            Ok(mut record) => {
                forge(&mut record);
                proxy.forged.fetch_add(1, Ordering::Relaxed);
                Bytes::from(codec::encode(&record))
            }
            Err(_) => bytes,
        }
    } else {
        bytes
    };
    let mut response = (status, bytes).into_response();
    if let Some(v) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}
