//! `floe daemon`: an HTTP publisher and aggregator with Walrus's routes and JSON shapes, so that
//! HTTP clients and scripts written for a Walrus daemon work against Floe.
//!
//! | Route | What |
//! |---|---|
//! | `PUT /v1/blobs?epochs=N&deletable=true\|permanent=true&force=true` | store the raw body; JSON `newlyCreated` / `alreadyCertified` / `markedInvalid` / `error` |
//! | `GET /v1/blobs/{blobId}` | the blob's bytes; `Range: bytes=…` → 206; `?strict_consistency_check` / `?skip_consistency_check` |
//! | `GET /v1/blobs/{blobId}/byte-range?start=S&length=L` | a byte range of the blob |
//! | `GET /v1/blobs/by-object-id/{objectId}` | the blob of a blob object, with its attributes (`content-type`, …) as headers |
//! | `PUT /v1/quilts?epochs=N…` | store a `multipart/form-data` body as a quilt (one field per file, optional `_metadata`); `{blobStoreResult, storedQuiltBlobs}` ([`quilts`]) |
//! | `GET /v1/blobs/by-quilt-patch-id/{patchId}` | a quilt patch's bytes (only its symbols are fetched); `Range` relative to the patch |
//! | `GET /v1/blobs/by-quilt-id/{quiltId}/{identifier}` | the same, by identifier (through the quilt's index) |
//! | `GET /v1/quilts/{quiltId}/patches` | a quilt's patches: `[{identifier, quiltPatchId, tags}]` |
//! | `GET /v1/api` | the OpenAPI document, as YAML ([`openapi`]) |
//! | `GET /status` | the daemon's status: ledger reachable, slots in use ([`api::DaemonStatus`]) |
//! | `GET /metrics` | Prometheus metrics ([`metrics`](self::metrics)) |
//!
//! Every `GET` route answers `HEAD` too. Browser-facing headers (CORS for reads, caching,
//! `nosniff`, a sandbox for active content) are the [`web`] module's rules.
//!
//! Who may store is [`auth::Publisher`]: open, off, or JSON Web Tokens as Walrus's
//! authenticated publisher.
//!
//! Limits: a publisher body larger than [`DaemonOptions::max_body`] (a quilt's:
//! [`DaemonOptions::max_quilt_body`]) is refused with 413 before it is read; more than [`DaemonOptions::max_concurrent`] stores (or
//! [`DaemonOptions::max_concurrent_reads`] reads) at once are refused with 429 and `Retry-After`
//! before the body is read, so memory stays bounded by `max_concurrent × max_body` plus the
//! reads. Errors are Walrus's `Status` JSON (`{"error": {"status", "code", "message",
//! "details"}}`); a failed store's document is at the same time the publisher's `error` result
//! (`blobId`, `failurePhase`, `errorMsg`).
//!
//! The OpenAPI document is generated from the handlers' annotations by the router that serves
//! them ([`api`]): it lists exactly the routes served, and the deviations from Walrus's contract.
//! `client/cli/openapi.yaml` is a copy for readers, kept equal to it by a test.
//!
//! ```no_run
//! # async fn demo(client: floe_client::BlobClient) -> std::io::Result<()> {
//! use floe_cli::daemon::{self, DaemonOptions};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:31415").await?;
//! let app = daemon::router(std::sync::Arc::new(client), &DaemonOptions::default());
//! daemon::serve(listener, app, tokio_util::sync::CancellationToken::new()).await
//! # }
//! ```

mod aggregator;
pub mod api;
pub mod auth;
pub mod conn;
mod error;
pub mod metrics;
mod portal;
mod publisher;
pub mod quilts;
pub mod range;
pub mod rate;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxState;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use floe_client::blobs::BlobClient;

pub use error::ApiError;

/// The default bind address (Walrus's).
pub const DEFAULT_BIND: &str = "127.0.0.1:31415";

/// Attribute keys served as response headers by `GET /v1/blobs/by-object-id/…` by default
/// (Walrus's default `allowed_headers`).
pub const DEFAULT_ALLOWED_HEADERS: [&str; 7] = [
    "content-type",
    "authorization",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-location",
    "link",
];

/// Limits and defaults of the daemon.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Largest publisher body, in bytes (Walrus's default: 10,240 KiB).
    pub max_body: u64,
    /// Largest `PUT /v1/quilts` body, in bytes (Walrus's default: 100 MiB).
    pub max_quilt_body: u64,
    /// Stores at once; more are refused with 429 (Walrus's default: 8).
    pub max_concurrent: usize,
    /// Reads at once; more are refused with 429.
    pub max_concurrent_reads: usize,
    /// Blob attributes returned as headers by `by-object-id` (lower case).
    pub allowed_headers: Vec<String>,
    /// The origin allowed to read cross-origin (`Access-Control-Allow-Origin`), `*` by
    /// default; `None` sends no CORS headers.
    pub cors_allow_origin: Option<String>,
    /// Serve HTML, SVG and XML without `Content-Security-Policy: sandbox` (lets a stored page
    /// run script with the daemon's origin: only for a daemon that serves its own sites).
    pub allow_active_content: bool,
    /// Who may store ([`auth`]).
    pub publisher: auth::Publisher,
    /// Stores per client IP address ([`rate`]); `None`: no per-client limit.
    pub publisher_rate: Option<rate::Rate>,
    /// Largest blob a read serves (413 above it, decided from the metadata before any sliver
    /// is fetched); `None`: no limit.
    pub max_read_blob_size: Option<u64>,
    /// Reads one client address may have in flight at once (429 above it); `None`: only
    /// [`DaemonOptions::max_concurrent_reads`] bounds them.
    pub max_reads_per_client: Option<usize>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            max_body: 10 * 1024 * 1024,
            max_quilt_body: 100 * 1024 * 1024,
            max_concurrent: 8,
            max_concurrent_reads: 64,
            allowed_headers: DEFAULT_ALLOWED_HEADERS.map(str::to_owned).to_vec(),
            cors_allow_origin: Some("*".to_owned()),
            allow_active_content: false,
            publisher: auth::Publisher::Open,
            publisher_rate: None,
            max_read_blob_size: None,
            max_reads_per_client: None,
        }
    }
}

/// What the handlers share.
pub(crate) struct State {
    pub(crate) client: Arc<BlobClient>,
    pub(crate) options: DaemonOptions,
    pub(crate) stores: Arc<Semaphore>,
    pub(crate) reads: Arc<Semaphore>,
    /// The OpenAPI document, as served.
    pub(crate) openapi_yaml: String,
    /// Counters for `/metrics`.
    pub(crate) metrics: metrics::DaemonMetrics,
    /// Per-client store rate.
    pub(crate) store_rate: Option<rate::RateLimiter>,
    /// Per-client reads in flight.
    pub(crate) client_reads: Option<rate::ClientSlots>,
    /// Sites resolved by the portal.
    pub(crate) portal: portal::Portal,
}

impl State {
    fn in_flight(&self) -> (usize, usize) {
        let reads = self.options.max_concurrent_reads.max(1) - self.reads.available_permits();
        let stores = self.options.max_concurrent.max(1) - self.stores.available_permits();
        (reads, stores)
    }
}

/// The routes, each with its part of the OpenAPI document.
fn routes() -> OpenApiRouter<Arc<State>> {
    OpenApiRouter::with_openapi(api::ApiDoc::openapi())
        .routes(routes!(publisher::put_blob))
        .routes(routes!(aggregator::get_blob))
        .routes(routes!(aggregator::get_byte_range))
        .routes(routes!(aggregator::get_by_object_id))
        .routes(routes!(quilts::put_quilt))
        .routes(routes!(quilts::get_by_quilt_patch_id))
        .routes(routes!(quilts::get_by_quilt_id))
        .routes(routes!(quilts::list_patches))
        .routes(routes!(openapi_document))
        .routes(routes!(status))
        .routes(routes!(metrics_text))
}

/// The daemon's OpenAPI document, generated from the routes it serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// [`openapi`] as YAML, as `GET /v1/api` serves it.
pub fn openapi_yaml() -> String {
    serde_yaml_ng::to_string(&openapi()).expect("an OpenAPI document serializes")
}

/// The daemon's routes over `client` (which pays for stores from its wallet).
pub fn router(client: Arc<BlobClient>, options: &DaemonOptions) -> Router {
    let (routes, doc) = routes().split_for_parts();
    let state = Arc::new(State {
        client,
        stores: Arc::new(Semaphore::new(options.max_concurrent.max(1))),
        reads: Arc::new(Semaphore::new(options.max_concurrent_reads.max(1))),
        options: options.clone(),
        openapi_yaml: serde_yaml_ng::to_string(&doc).expect("an OpenAPI document serializes"),
        metrics: metrics::DaemonMetrics::default(),
        store_rate: options.publisher_rate.map(rate::RateLimiter::new),
        client_reads: options.max_reads_per_client.map(rate::ClientSlots::new),
        portal: portal::Portal::default(),
    });
    routes
        .fallback(|| async { ApiError::not_found("NOT_FOUND", "no such route") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::web_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            portal::portal,
        ))
        .with_state(state)
}

/// How long a write to a client may make no progress before its connection is dropped
/// ([`conn`]).
pub const DEFAULT_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `app` on `listener` until `stop` is cancelled (then finishes the requests in flight),
/// dropping connections whose writes stall for [`DEFAULT_STALL_TIMEOUT`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    serve_with_stall(listener, app, stop, DEFAULT_STALL_TIMEOUT).await
}

/// [`serve`], dropping connections whose writes stall for `stall` ([`conn`]).
pub async fn serve_with_stall(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: CancellationToken,
    stall: std::time::Duration,
) -> std::io::Result<()> {
    axum::serve(
        conn::StallGuardedListener::new(listener, stall),
        app.into_make_service_with_connect_info::<conn::ClientAddr>(),
    )
    .with_graceful_shutdown(stop.cancelled_owned())
    .await
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/api",
    operation_id = "api",
    responses((status = 200, description = "The OpenAPI document (YAML).", content_type = "application/yaml", body = String))
)]
async fn openapi_document(AxState(state): AxState<Arc<State>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        )],
        state.openapi_yaml.clone(),
    )
}

/// The daemon's status.
///
/// `ok` with the ledger's epoch, or `degraded` (503) when the ledger does not answer; and how
/// many reads and stores are being served.
#[utoipa::path(
    get,
    path = "/status",
    operation_id = "status",
    responses(
        (status = 200, description = "The daemon can serve.", body = api::DaemonStatus),
        (status = 503, description = "The ledger does not answer: reads and stores fail until it does.", body = api::DaemonStatus),
    )
)]
async fn status(AxState(state): AxState<Arc<State>>) -> impl IntoResponse {
    let (reads, stores) = state.in_flight();
    let system = state.client.ledger().system().await;
    let mut doc = api::DaemonStatus {
        status: "ok".to_owned(),
        chain_id: state.client.chain_id().to_owned(),
        epoch: None,
        ledger_error: None,
        reads_in_flight: reads,
        max_concurrent_reads: state.options.max_concurrent_reads,
        stores_in_flight: stores,
        max_concurrent_stores: state.options.max_concurrent,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let code = match system {
        Ok(s) => {
            doc.epoch = Some(s.epoch.0);
            axum::http::StatusCode::OK
        }
        Err(e) => {
            doc.status = "degraded".to_owned();
            doc.ledger_error = Some(e.to_string());
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (code, axum::Json(doc))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    responses((status = 200, description = "Requests by route, method and status; body bytes and latency by route; slots in use.", content_type = "application/openmetrics-text", body = String))
)]
async fn metrics_text(AxState(state): AxState<Arc<State>>) -> impl IntoResponse {
    let (reads, stores) = state.in_flight();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(reads, stores),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `client/cli/openapi.yaml` is the generated document; regenerate it with
    /// `UPDATE_OPENAPI=1 cargo test -p floe-cli --lib openapi`.
    #[test]
    fn openapi_document_parses_and_lists_the_routes() {
        let generated = openapi_yaml();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).expect("write openapi.yaml");
        }
        let checked_in = std::fs::read_to_string(&path).expect("openapi.yaml");
        assert!(
            checked_in == generated,
            "client/cli/openapi.yaml differs from the generated document; regenerate it with \
             UPDATE_OPENAPI=1 cargo test -p floe-cli --lib openapi"
        );
        let doc = openapi();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "/metrics",
                "/status",
                "/v1/api",
                "/v1/blobs",
                "/v1/blobs/by-object-id/{object_id}",
                "/v1/blobs/by-quilt-id/{quilt_id}/{identifier}",
                "/v1/blobs/by-quilt-patch-id/{quilt_patch_id}",
                "/v1/blobs/{blob_id}",
                "/v1/blobs/{blob_id}/byte-range",
                "/v1/quilts",
                "/v1/quilts/{quilt_id}/patches",
            ]
        );
    }
}
