//! The aggregator: `GET /v1/blobs/{blobId}` (with `Range`), `…/byte-range`, and
//! `GET /v1/blobs/by-object-id/{objectId}` (attributes as headers).

use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use floe_common::{BlobId, ConsistencyCheck, ObjectId};
use serde::Deserialize;
use utoipa::IntoParams;

use super::api::Status;
use super::conn::ClientAddr;
use super::range::{ByteRange, RangeError};
use super::rate::ClientSlot;
use super::{ApiError, State, web};
use floe_client::blobs::{OpenBlob, ReadError, StreamStats};
use futures::StreamExt as _;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::OwnedSemaphorePermit;

/// Consistency options of a read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadParams {
    /// Check the whole encoding, not only the slivers read (slower).
    strict_consistency_check: Option<bool>,
    /// Check nothing beyond each sliver's hash (faster; a writer's inconsistency goes unseen).
    skip_consistency_check: Option<bool>,
}

impl ReadParams {
    fn check(&self) -> Result<ConsistencyCheck, ApiError> {
        match (
            self.strict_consistency_check.unwrap_or(false),
            self.skip_consistency_check.unwrap_or(false),
        ) {
            (true, true) => Err(ApiError::bad_request(
                "INVALID_CONSISTENCY_OPTIONS",
                "strict_consistency_check and skip_consistency_check exclude each other",
            )),
            (true, false) => Ok(ConsistencyCheck::Strict),
            (false, true) => Ok(ConsistencyCheck::Skip),
            (false, false) => Ok(ConsistencyCheck::Default),
        }
    }
}

/// The client's address; without connect info (a router served by other means) all share one.
pub(super) fn ip_of(client: Option<Extension<ConnectInfo<ClientAddr>>>) -> IpAddr {
    client.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.0.ip())
}

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_request("INVALID_QUERY", format!("bad query: {e}")))
}

pub(super) fn parse_blob_id(s: &str) -> Result<BlobId, ApiError> {
    s.parse().map_err(|e| {
        ApiError::bad_request(
            "INVALID_BLOB_ID",
            format!("{s:?} is not a blob id (43 characters of URL-safe base64): {e}"),
        )
    })
}

/// The `Range` header, parsed (malformed → 416 before any work).
pub(super) fn range_of(headers: &HeaderMap) -> Result<Option<(ByteRange, String)>, ApiError> {
    let Some(value) = headers.get(header::RANGE) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("<not text>").to_owned();
    match ByteRange::parse(&text) {
        Ok(r) => Ok(Some((r, text))),
        Err(e) => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "INVALID_RANGE",
            e.to_string(),
        )),
    }
}

/// A blob opened for a read, with the read slot it holds until its body has been sent.
pub(super) struct Opened {
    pub(super) blob: OpenBlob,
    slot: ReadSlot,
}

/// A read's slots: one of the daemon's, and one of its client's if those are limited.
struct ReadSlot {
    _daemon: OwnedSemaphorePermit,
    _client: Option<ClientSlot>,
}

/// Takes a read slot and opens a blob (ledger status and verified metadata), mapping failures
/// to HTTP errors. Nothing but the metadata is fetched: the body streams later.
pub(super) async fn open(
    state: &State,
    client: IpAddr,
    blob_id: BlobId,
) -> Result<Opened, ApiError> {
    let per_client = match &state.client_reads {
        None => None,
        Some(slots) => Some(slots.try_take(client).ok_or_else(|| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_READS_FROM_CLIENT",
                format!(
                    "{client} already has {} reads in flight (the daemon's limit per client); \
                     retry when one has finished",
                    slots.per_client()
                ),
            )
            .header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        })?),
    };
    let daemon = state
        .reads
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("reads", state.options.max_concurrent_reads))?;
    let slot = ReadSlot {
        _daemon: daemon,
        _client: per_client,
    };
    let limit = state.options.max_read_blob_size.unwrap_or(u64::MAX);
    match state.client.open(blob_id, limit).await {
        Ok(blob) => Ok(Opened { blob, slot }),
        Err(e) => {
            tracing::debug!(%blob_id, error = %e, "read failed");
            Err(read_error(&e))
        }
    }
}

/// The body of bytes `range` of an opened blob: streamed as rows verify, holding the read slot
/// until the last byte is out (or the client is gone). A failure mid-body aborts the
/// response, so a client never takes a truncated body for a whole one.
fn body(state: &State, opened: Opened, range: Range<u64>, check: ConsistencyCheck) -> Body {
    let stream = state.client.stream(opened.blob.clone(), range, check);
    body_of(state, opened, stream, Vec::new())
}

/// `X-Floe-Encrypted: floe/sealed/v1` marks a private blob's ciphertext (the aggregator never
/// decrypts; `floe read` does, with keys the blob's policy lets the reader have).
pub const ENCRYPTED_HEADER: &str = "x-floe-encrypted";

/// [`body`]; with `mark`, also looks at the blob's first bytes and marks a sealed blob in
/// `headers`. A body from byte 0 peeks at its own first chunks (no extra fetch); another range
/// reads the prefix first.
async fn marked_body(
    state: &State,
    opened: Opened,
    range: Range<u64>,
    check: ConsistencyCheck,
    mark: bool,
    headers: &mut HeaderMap,
) -> Body {
    use floe_common::privacy::MAGIC;
    let want = MAGIC.len() as u64;
    if !mark || opened.blob.len() < want {
        return body(state, opened, range, check);
    }
    let mark_if = |prefix: &[u8], headers: &mut HeaderMap| {
        if prefix.starts_with(MAGIC) {
            headers.insert(
                HeaderName::from_static(ENCRYPTED_HEADER),
                HeaderValue::from_static("floe/sealed/v1"),
            );
        }
    };
    if range.start != 0 {
        if let Ok((prefix, _)) = state.client.read_range(&opened.blob, 0..want).await {
            mark_if(&prefix, headers);
        }
        return body(state, opened, range, check);
    }
    let mut stream = state.client.stream(opened.blob.clone(), range, check);
    let mut first: Vec<Result<bytes::Bytes, ReadError>> = Vec::new();
    let mut seen = Vec::new();
    while (seen.len() as u64) < want {
        match stream.next().await {
            Some(Ok(chunk)) => {
                seen.extend_from_slice(&chunk[..chunk.len().min(MAGIC.len())]);
                first.push(Ok(chunk));
            }
            Some(Err(e)) => {
                first.push(Err(e));
                break;
            }
            None => break,
        }
    }
    mark_if(&seen, headers);
    body_of(state, opened, stream, first)
}

/// The response body of `stream`, after the chunks already taken from it.
fn body_of(
    state: &State,
    opened: Opened,
    stream: floe_client::blobs::BlobStream,
    taken: Vec<Result<bytes::Bytes, ReadError>>,
) -> Body {
    let Opened { blob, slot } = opened;
    let blob_id = blob.blob_id();
    let stats = stream.stats();
    let stream = futures::stream::iter(taken).chain(stream);
    let held = Held {
        _slot: slot,
        stats,
        node_bytes: state.metrics.read_node_bytes.clone(),
        degraded: state.metrics.read_degraded.clone(),
    };
    Body::from_stream(stream.map(move |item| {
        let _held = &held;
        item.inspect_err(|e| tracing::warn!(%blob_id, error = %e, "read failed mid-body"))
    }))
}

/// What a read body holds until it is dropped (sent, failed, or its client gone): the read
/// slot; then it counts what the read fetched.
struct Held {
    _slot: ReadSlot,
    stats: Arc<StreamStats>,
    node_bytes: Counter,
    degraded: Counter,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.node_bytes.inc_by(self.stats.fetched_bytes());
        if self.stats.degraded() {
            self.degraded.inc();
        }
    }
}

/// A failed read as an HTTP error.
pub(crate) fn read_error(e: &ReadError) -> ApiError {
    let message = e.to_string();
    match e {
        ReadError::NotFound(id) => ApiError::not_found(
            "BLOB_NOT_FOUND",
            format!(
                "blob {id} is not stored on Floe: it was never registered, or all its blob \
                 objects were deleted"
            ),
        ),
        ReadError::NotCertified(id) => ApiError::not_found(
            "BLOB_NOT_CERTIFIED",
            format!(
                "blob {id} is registered but not certified: its upload has not finished (retry \
                 later) or was abandoned"
            ),
        ),
        ReadError::Invalid(id) => ApiError::not_found(
            "BLOB_INVALID",
            format!(
                "blob {id} is invalid: its writer encoded it inconsistently, so it has no \
                 content and is never served"
            ),
        ),
        ReadError::NoMetadata(_) | ReadError::NotEnoughSlivers { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BLOB_UNAVAILABLE",
            format!("{message}; too few storage nodes answered, retry later"),
        )
        .header(header::RETRY_AFTER, HeaderValue::from_static("5")),
        ReadError::Connect(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NETWORK_UNAVAILABLE",
            message,
        ),
        ReadError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BLOB_TOO_LARGE",
            format!("{message}: this aggregator serves blobs up to --max-read-blob-size"),
        ),
        ReadError::Decode(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "DECODE_FAILED", message)
        }
    }
}

/// The blob's bytes: 200, or 206 / 416 for a `Range`. `extra` headers (attributes) come first;
/// `Content-Type` defaults to `application/octet-stream`; `cache` is the `Cache-Control` of a
/// success ([`web`](super::web)).
async fn respond(
    state: &State,
    opened: Opened,
    check: ConsistencyCheck,
    range: Option<(ByteRange, String)>,
    extra: HeaderMap,
    cache: &'static str,
) -> Result<Response, ApiError> {
    let served = Served {
        bytes: 0..opened.blob.len(),
        etag: opened.blob.blob_id().to_string(),
    };
    respond_within(state, opened, served, check, range, extra, cache, true).await
}

/// What a read serves of an opened blob: all of it, or a quilt patch's data.
pub(super) struct Served {
    /// The bytes of the blob served as the resource (a `Range` is relative to them).
    pub(super) bytes: Range<u64>,
    /// The `ETag`, unquoted.
    pub(super) etag: String,
}

/// [`respond`] for bytes `served` of the blob; with `mark_sealed`, a private blob (its bytes
/// start with the sealed-blob magic) is marked with [`ENCRYPTED_HEADER`].
#[allow(clippy::too_many_arguments)]
pub(super) async fn respond_within(
    state: &State,
    opened: Opened,
    served: Served,
    check: ConsistencyCheck,
    range: Option<(ByteRange, String)>,
    extra: HeaderMap,
    cache: &'static str,
    mark_sealed: bool,
) -> Result<Response, ApiError> {
    let base = served.bytes.start;
    let len = served.bytes.end - served.bytes.start;
    let mut headers = extra;
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers
        .entry(header::CONTENT_TYPE)
        .or_insert(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", served.etag)) {
        headers.insert(header::ETAG, etag);
    }
    let Some((range, text)) = range else {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        let body = marked_body(
            state,
            opened,
            served.bytes,
            check,
            mark_sealed,
            &mut headers,
        )
        .await;
        return Ok((StatusCode::OK, headers, body).into_response());
    };
    match range.resolve(len, &text) {
        Ok(r) => {
            let value = format!("bytes {}-{}/{len}", r.start, r.end - 1);
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("ASCII"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(r.end - r.start));
            let bytes = base + r.start..base + r.end;
            let body = marked_body(state, opened, bytes, check, mark_sealed, &mut headers).await;
            Ok((StatusCode::PARTIAL_CONTENT, headers, body).into_response())
        }
        Err(e @ RangeError::Unsatisfiable { .. }) => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "RANGE_NOT_SATISFIABLE",
            e.to_string(),
        )
        .header(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{len}")).expect("ASCII"),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "INVALID_RANGE",
            e.to_string(),
        )),
    }
}

/// Read a blob.
///
/// Reconstructs the blob from the storage nodes and returns its bytes. A `Range` header with one
/// range returns 206 with `Content-Range`; a range outside the blob, or a malformed or
/// multi-range header, returns 416.
///
/// The body streams: the head, with `Content-Length`, is sent once the blob's metadata is
/// verified, and the bytes as the storage nodes' slivers arrive and verify. A range fetches
/// only the slivers (and of a partly covered sliver only the symbols) it needs. Should the read
/// fail after the head was sent, the connection is aborted: a body shorter than
/// `Content-Length` is never a whole one. A client that stops reading is disconnected after
/// the daemon's stall timeout.
///
/// `Content-Type` is the `content-type` attribute the blob's objects agree on (set with
/// `floe store --content-type` or `floe attr set`), else `application/octet-stream`.
#[utoipa::path(
    method(get, head),
    path = "/v1/blobs/{blob_id}",
    operation_id = "get_blob",
    params(
        ("blob_id" = String, Path, description = "The blob id: 43 characters of URL-safe base64."),
        ReadParams,
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-999`."),
    ),
    responses(
        (status = 200, description = "The blob's bytes (`ETag` is the quoted blob id, `Accept-Ranges: bytes`). `HEAD` answers the same head without the body.", body = Vec<u8>, content_type = "application/octet-stream",
            headers(
                ("ETag" = String, description = "The quoted blob id."),
                ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`: content addressed by blob id never changes."),
                ("Access-Control-Allow-Origin" = String, description = "The operator's allowed origin (`*` by default)."),
                ("X-Content-Type-Options" = String, description = "`nosniff`."),
                ("X-Floe-Encrypted" = String, description = "`floe/sealed/v1` when the blob is private: its bytes are ciphertext, which `floe read` decrypts for a wallet its policy allows; the daemon never decrypts."),
                ("Content-Length" = u64, description = "The blob's (or the range's) length, sent before the body streams."),
            )),
        (status = 206, description = "The requested range, with `Content-Range`.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "A malformed blob id, or both consistency options.", body = Status),
        (status = 404, description = "Not stored (`BLOB_NOT_FOUND`), registered but not certified (`BLOB_NOT_CERTIFIED`), or invalid: inconsistently encoded, never served (`BLOB_INVALID`); the reason is in `error.details[0].reason`.", body = Status),
        (status = 416, description = "The range is malformed or outside the blob (`Content-Range: bytes */LEN` when the length is known).", body = Status),
        (status = 413, description = "The blob is larger than the aggregator serves (`--max-read-blob-size`, `BLOB_TOO_LARGE`), decided from its metadata before any sliver is fetched.", body = Status),
        (status = 429, description = "Too many reads at once (`TOO_MANY_REQUESTS`), or from this client address (`TOO_MANY_READS_FROM_CLIENT`); retry after `Retry-After` seconds.", body = Status),
        (status = 500, description = "Decoding failed.", body = Status),
        (status = 503, description = "Too few storage nodes answered, or the ledger is unreachable; retry later.", body = Status),
    )
)]
pub(crate) async fn get_blob(
    AxState(state): AxState<Arc<State>>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path(blob_id): Path<String>,
    params: Result<Query<ReadParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let check = query(params)?.check()?;
    let blob_id = parse_blob_id(&blob_id)?;
    let range = range_of(&headers)?;
    let opened = open(&state, ip_of(client), blob_id).await?;
    let mut extra = HeaderMap::new();
    if let Some(v) = content_type_by_id(&state, blob_id).await {
        extra.insert(header::CONTENT_TYPE, v);
    }
    respond(&state, opened, check, range, extra, web::IMMUTABLE).await
}

/// Most blob objects looked at for a read by blob id's content type.
const MAX_TYPE_LOOKUPS: usize = 4;

/// The content type of a blob read by id: the `content-type` attribute its blob objects agree
/// on (the first few, by id), if any do and the daemon allows the header. Lookup failures are
/// not errors: the bytes are served as `application/octet-stream`.
async fn content_type_by_id(state: &State, blob_id: BlobId) -> Option<HeaderValue> {
    if !state
        .options
        .allowed_headers
        .iter()
        .any(|h| h == "content-type")
    {
        return None;
    }
    let ledger = state.client.ledger();
    let status = ledger.blob_status(&blob_id).await.ok()??;
    let mut found: Option<String> = None;
    for id in status.info.objects.iter().take(MAX_TYPE_LOOKUPS) {
        let Ok(Some(o)) = ledger.object(id).await else {
            continue;
        };
        let Some(b) = o.object.as_blob() else {
            continue;
        };
        if let Some(t) = b.attributes.get("content-type") {
            match &found {
                Some(f) if f != t => return None,
                _ => found = Some(t.clone()),
            }
        }
    }
    found.and_then(|t| HeaderValue::from_str(&t).ok())
}

/// `?start=S&length=L`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ByteRangeParams {
    /// First byte.
    start: u64,
    /// Bytes to read (at least 1).
    #[param(minimum = 1)]
    length: u64,
}

/// Read bytes `[start, start + length)` of a blob.
#[utoipa::path(
    method(get, head),
    path = "/v1/blobs/{blob_id}/byte-range",
    operation_id = "get_blob_byte_range",
    params(
        ("blob_id" = String, Path, description = "The blob id."),
        ByteRangeParams,
    ),
    responses(
        (status = 200, description = "The bytes.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "Length 0, an overflow, or a range outside the blob.", body = Status),
        (status = 404, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 429, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 503, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
    )
)]
pub(crate) async fn get_byte_range(
    AxState(state): AxState<Arc<State>>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path(blob_id): Path<String>,
    params: Result<Query<ByteRangeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let blob_id = parse_blob_id(&blob_id)?;
    let bad = |m: String| ApiError::bad_request("INVALID_BYTE_RANGE", m);
    if p.length == 0 {
        return Err(bad("length must be greater than 0".into()));
    }
    let end = p
        .start
        .checked_add(p.length)
        .ok_or_else(|| bad("start + length overflows".into()))?;
    let opened = open(&state, ip_of(client), blob_id).await?;
    let len = opened.blob.len();
    if end > len {
        return Err(bad(format!(
            "bytes {}..{end} are outside the blob of {len} bytes",
            p.start
        )));
    }
    let body = body(&state, opened, p.start..end, ConsistencyCheck::Default);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(web::IMMUTABLE),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(p.length)),
        ],
        body,
    )
        .into_response())
}

/// Read the blob of a blob object, with its attributes as headers.
///
/// Looks the blob object up on the ledger and returns its blob. Attributes whose key is in the
/// daemon's allowed headers (by default `content-type`, `authorization`,
/// `content-disposition`, `content-encoding`, `content-language`, `content-location`, `link`)
/// are returned as response headers. `Range` and the consistency options work as for
/// `GET /v1/blobs/{blob_id}`.
#[utoipa::path(
    method(get, head),
    path = "/v1/blobs/by-object-id/{object_id}",
    operation_id = "get_blob_by_object_id",
    params(
        ("object_id" = String, Path, description = "The blob object id: 0x and 64 hex digits."),
        ReadParams,
        ("Range" = Option<String>, Header, description = "One byte range."),
    ),
    responses(
        (status = 200, description = "The blob's bytes, with attribute headers.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 206, description = "The requested range.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "A malformed object id.", body = Status),
        (status = 404, description = "No such object (`OBJECT_NOT_FOUND`), not a blob object (`NOT_A_BLOB_OBJECT`), or as for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 416, description = "A bad range.", body = Status),
        (status = 429, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 503, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
    )
)]
pub(crate) async fn get_by_object_id(
    AxState(state): AxState<Arc<State>>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path(object_id): Path<String>,
    params: Result<Query<ReadParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let check = query(params)?.check()?;
    let id: ObjectId = object_id.parse().map_err(|e| {
        ApiError::bad_request(
            "INVALID_OBJECT_ID",
            format!("{object_id:?} is not an object id (0x and 64 hex digits): {e}"),
        )
    })?;
    let range = range_of(&headers)?;
    let object = state
        .client
        .ledger()
        .object(&id)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "LEDGER_UNAVAILABLE",
                format!("cannot look up object {id}: {e}"),
            )
        })?
        .ok_or_else(|| {
            ApiError::not_found(
                "OBJECT_NOT_FOUND",
                format!("object {id} does not exist (never created, or deleted)"),
            )
        })?;
    // A shared blob is read like the blob object it was made from.
    let Some(blob) = object.object.as_blob().cloned() else {
        return Err(ApiError::not_found(
            "NOT_A_BLOB_OBJECT",
            format!(
                "object {id} is a {} object, not a blob object",
                object.type_name
            ),
        ));
    };
    let mut extra = HeaderMap::new();
    for (key, value) in &blob.attributes {
        let key = key.to_ascii_lowercase();
        if !state.options.allowed_headers.contains(&key) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            extra.insert(name, value);
        }
    }
    let opened = open(&state, ip_of(client), blob.blob_id).await?;
    respond(&state, opened, check, range, extra, web::BY_OBJECT).await
}
