//! The validator's HTTP JSON API (axum).
//!
//! | route                             | what                                                   |
//! |-----------------------------------|--------------------------------------------------------|
//! | `POST /v1/transactions`           | submit (BCS or JSON); `?wait=true&timeout_ms=` waits    |
//! | `POST /v1/transactions/batch`     | submit BCS `Vec<SignedTransaction>`                     |
//! | `GET /v1/transactions/{digest}`   | committed status; `?wait_ms=` long-polls               |
//! | `GET /v1/accounts/{address}`      | balance, nonce, owned objects (`?after=&limit=` pages) |
//! | `GET /v1/objects/{object_id}`     | one object                                             |
//! | `GET /v1/blobs/{blob_id}`         | blob id status                                         |
//! | `GET /v1/nodes`, `/v1/nodes/{id}` | storage nodes                                          |
//! | `GET /v1/committee[?epoch=E]`     | current committee, or the previous/next one of epoch E |
//! | `GET /v1/system`                  | parameters, prices, capacity, epoch state and timing, tip |
//! | `GET /v1/proposals`, `/v1/proposals/{id}` | governance proposals                          |
//! | `GET /v1/challenges`              | storage challenges: current round, last settled round  |
//! | `GET /v1/challenges/blobs?ranks=` | the current round's blobs of those ranks, with Merkle paths to its `snapshot_root` |
//! | `GET /v1/events`                  | `?after=H:I&limit=&wait_ms=` event log                 |
//! | `GET /v1/blocks/{height\|latest}?wait_ms=N` | block record (JSON, or BCS with `Accept: application/octet-stream`); the next height long-polls up to `wait_ms` |
//! | `GET /v1/validators`, `/v1/genesis`, `/v1/health` | chain metadata                         |
//! | `GET /v1/key-servers`             | the key servers of private blobs (from the genesis)    |
//! | `POST /v1/keys/share`             | a signed key request (BCS) → this validator's encrypted key share (BCS), see [`crate::keyserver`] |
//!
//! Abuse is bounded: connections, requests in flight, request time, waiting requests in total
//! and per client, and bodies (see [`RpcLimits`] and the `limits` module).
//!
//! Every response is JSON (except BCS blocks on request); every error is
//! [`ErrorBody`](types::ErrorBody) `{code, message}` with a status that means what it says (400
//! malformed, 404 unknown, 409 nonce conflict, 413 too large, 415 content type, 422 rejected
//! transaction, 429 too many waiting requests or sender limit, 503 mempool full or overloaded,
//! 504 wait timed out).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::TxError;
use crate::keyserver::KeyServer;
use crate::mempool::{Admission, MempoolError};
use crate::service::{Ledger, SubmitError};

mod challenges;
mod forward;
mod handlers;
mod keys;
mod limits;
mod queries;

pub use forward::{ForwardTask, Forwarder};
pub use limits::{CappedListener, ClientAddr, RpcLimits};
// The JSON shapes, shared with the typed client.
use floe_ledger_types::rpc as types;
use types::{AdmissionStatus, ErrorBody};

/// Largest body of `POST /v1/transactions` (a JSON transaction is a few times its BCS size).
pub const MAX_TX_BODY: usize = 1 << 20;
/// Largest body of `POST /v1/transactions/batch`.
pub const MAX_BATCH_BODY: usize = 8 << 20;
/// Most transactions in one batch.
pub const MAX_BATCH_TXS: usize = 20_000;
/// Longest wait of a long-poll or `wait=true` submission.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
/// Default wait of `wait=true` submissions.
pub const DEFAULT_SUBMIT_WAIT: Duration = Duration::from_secs(30);
/// Default and largest `limit` of `GET /v1/events`.
pub const DEFAULT_EVENT_LIMIT: usize = 100;
/// Largest `limit` of `GET /v1/events`.
pub const MAX_EVENT_LIMIT: usize = 1000;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Other validators' base URLs (`http://host:port`), to forward transactions to.
    pub peers: Vec<String>,
    /// How often queued transactions are forwarded.
    pub forward_interval: Duration,
    /// Timeout of one forwarding request.
    pub forward_timeout: Duration,
    /// Bounds on connections, requests and waits.
    pub limits: RpcLimits,
    /// This validator's key server for private blobs, if it runs one.
    pub key_server: Option<Arc<KeyServer>>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            peers: Vec::new(),
            forward_interval: Duration::from_millis(10),
            forward_timeout: Duration::from_secs(5),
            limits: RpcLimits::default(),
            key_server: None,
        }
    }
}

/// An error response.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                pending: None,
            },
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "rpc internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }

    pub(crate) fn with_pending(mut self, pending: bool) -> Self {
        self.body.pending = Some(pending);
        self
    }

    pub(crate) fn body(&self) -> &ErrorBody {
        &self.body
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        let status = match &e {
            SubmitError::Invalid(TxError::Malformed { .. }) => StatusCode::BAD_REQUEST,
            SubmitError::Invalid(TxError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            SubmitError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SubmitError::Mempool(MempoolError::Full { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            SubmitError::Mempool(MempoolError::SenderLimit(_)) => StatusCode::TOO_MANY_REQUESTS,
            SubmitError::Mempool(
                MempoolError::FeeTooLow { .. }
                | MempoolError::FeesNotCovered { .. }
                | MempoolError::FaucetDisabled
                | MempoolError::NotCommitteeMember,
            ) => StatusCode::UNPROCESSABLE_ENTITY,
            SubmitError::Mempool(MempoolError::NonceTaken(_))
            | SubmitError::Mempool(MempoolError::AlreadyCommitted(_))
            | SubmitError::Mempool(MempoolError::NonceTooLow { .. }) => StatusCode::CONFLICT,
            SubmitError::Mempool(MempoolError::NonceTooHigh { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// Runs `f` on a blocking thread (RocksDB reads and state scans must not hold up the async
/// workers that answer everyone else).
async fn blocking<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&Ledger) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let ledger = st.ledger.clone();
    tokio::task::spawn_blocking(move || f(&ledger))
        .await
        .map_err(ApiError::internal)
}

#[derive(Clone)]
struct AppState {
    ledger: Arc<Ledger>,
    forwarder: Forwarder,
    snapshots: challenges::SnapshotCache,
    key_server: Option<Arc<KeyServer>>,
}

impl From<Admission> for AdmissionStatus {
    fn from(a: Admission) -> Self {
        match a {
            Admission::Added => AdmissionStatus::Added,
            Admission::Duplicate => AdmissionStatus::Duplicate,
        }
    }
}

/// The API's routes over `ledger`; admitted client transactions go to `forwarder`, and
/// long-polls end when its shutdown token fires. Key requests go to `key_server`.
pub fn router(
    ledger: Arc<Ledger>,
    forwarder: Forwarder,
    key_server: Option<Arc<KeyServer>>,
) -> Router {
    let state = AppState {
        ledger,
        forwarder,
        snapshots: Default::default(),
        key_server,
    };
    Router::new()
        .route(
            "/v1/transactions",
            post(handlers::submit).layer(DefaultBodyLimit::max(MAX_TX_BODY)),
        )
        .route(
            "/v1/transactions/batch",
            post(handlers::submit_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)),
        )
        .route("/v1/transactions/{digest}", get(handlers::transaction))
        .route("/v1/accounts/{address}", get(queries::account))
        .route("/v1/objects/{object_id}", get(queries::object))
        .route("/v1/blobs/{blob_id}", get(queries::blob))
        .route("/v1/nodes", get(queries::nodes))
        .route("/v1/nodes/{node_id}", get(queries::node))
        .route("/v1/committee", get(queries::committee))
        .route("/v1/system", get(queries::system))
        .route("/v1/challenges", get(challenges::rounds))
        .route("/v1/challenges/blobs", get(challenges::blobs))
        .route("/v1/proposals", get(queries::proposals))
        .route("/v1/proposals/{id}", get(queries::proposal))
        .route("/v1/events", get(queries::events))
        .route("/v1/blocks/{height}", get(queries::block))
        .route("/v1/validators", get(queries::validators))
        .route("/v1/genesis", get(queries::genesis))
        .route("/v1/health", get(queries::health))
        .route("/v1/key-servers", get(keys::key_servers))
        .route(
            "/v1/keys/share",
            post(keys::share).layer(DefaultBodyLimit::max(
                floe_common::privacy::request::MAX_SIGNED_KEY_REQUEST_LEN,
            )),
        )
        .route("/metrics", get(metrics_text))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_request,
        ))
        .with_state(state)
}

/// `GET /metrics`: the validator's metrics ([`crate::metrics`]), OpenMetrics text.
async fn metrics_text(
    axum::extract::State(st): axum::extract::State<AppState>,
) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.ledger.metrics().render(),
    )
}

/// Counts every answer by route template and status.
async fn count_request(
    axum::extract::State(st): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    st.ledger
        .metrics()
        .request(&route, response.status().as_u16(), started.elapsed());
    response
}

/// Serves the API on `listener` until `cancel` fires, forwarding admitted transactions to
/// `config.peers`. Returns when both the server (after in-flight requests finish; long-polls end
/// early on cancel) and the forwarding task have stopped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ledger: Arc<Ledger>,
    config: RpcConfig,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    // A child token: the server stopping on its own stops the forwarder, not the caller.
    let stop = cancel.child_token();
    let (forwarder, task) = Forwarder::new(
        config.peers,
        config.forward_interval,
        config.forward_timeout,
        stop.clone(),
    );
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "rpc listening");
    }
    let limits = config.limits;
    let app = router(ledger, forwarder, config.key_server)
        .layer(axum::middleware::from_fn_with_state(
            limits::Waits::new(&limits),
            limits::limit_waits,
        ))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    limits::overload_error,
                ))
                .load_shed()
                .concurrency_limit(limits.max_in_flight)
                .timeout(limits.request_timeout),
        );
    let listener = CappedListener::new(listener, limits.max_connections);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ClientAddr>(),
    )
    .with_graceful_shutdown(stop.clone().cancelled_owned());
    let (served, ()) = tokio::join!(
        async {
            let r = server.await;
            if let Err(error) = &r {
                tracing::error!(%error, "rpc server failed");
            }
            stop.cancel();
            r
        },
        task.run()
    );
    tracing::info!("rpc stopped");
    served
}
