//! Quilts over HTTP, with Walrus's routes and shapes: `PUT /v1/quilts` (multipart, one field
//! per patch), `GET /v1/blobs/by-quilt-patch-id/{id}`, `GET /v1/blobs/by-quilt-id/{id}/{name}`
//! and `GET /v1/quilts/{id}/patches`.
//!
//! The store goes through the publisher's admission ([`publisher::admit`]: rate, JWT, body
//! limit, store slot) with the quilt body limit; the reads through the aggregator's (read
//! slots, the body streamed with the slot held), serving only the patch's bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use floe_client::blobs::{QuiltFile, QuiltPatchId, QuiltReadError, QuiltStoreError, patch_id_of};
use floe_common::ConsistencyCheck;
use floe_common::quilt::QuiltError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::aggregator::{Served, ip_of, open, parse_blob_id, range_of, read_error, respond_within};
use super::api::{BlobStoreResult, Status};
use super::conn::ClientAddr;
use super::publisher::{self, PutParams};
use super::{ApiError, State, web};

/// The multipart field that carries the patches' tags.
const METADATA_FIELD: &str = "_metadata";

/// `PUT /v1/quilts`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuiltStoreResult {
    /// The quilt blob's store, as `PUT /v1/blobs` answers it.
    pub blob_store_result: BlobStoreResult,
    /// Each patch's identifier and patch id.
    pub stored_quilt_blobs: Vec<StoredQuiltPatch>,
}

/// A stored patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredQuiltPatch {
    /// Its identifier (the multipart field name).
    pub identifier: String,
    /// Its patch id (55 characters of URL-safe base64).
    #[schema(value_type = String)]
    pub quilt_patch_id: QuiltPatchId,
}

/// A patch of `GET /v1/quilts/{quilt_id}/patches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuiltPatchItem {
    /// Its identifier.
    pub identifier: String,
    /// Its patch id.
    #[schema(value_type = String)]
    pub quilt_patch_id: QuiltPatchId,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// One entry of the `_metadata` field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchMetadata {
    identifier: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn bad_multipart(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("INVALID_MULTIPART", format!("bad multipart body: {e}"))
}

/// The patches of a `multipart/form-data` body of at most `limit` bytes.
async fn files_of(headers: &HeaderMap, body: Body, limit: u64) -> Result<Vec<QuiltFile>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::bad_request(
            "INVALID_CONTENT_TYPE",
            "a quilt is sent as multipart/form-data, one field per file",
        )
    })?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limit)
            .per_field(limit),
    );
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut files: Vec<QuiltFile> = Vec::new();
    let mut metadata: Option<Vec<PatchMetadata>> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(
                multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. },
            ) => {
                return Err(publisher::too_large(limit));
            }
            Err(e) => return Err(bad_multipart(e)),
        };
        let Some(name) = field.name().map(str::to_owned) else {
            return Err(bad_multipart(
                "a field without a name (the patch's identifier)",
            ));
        };
        let content_type = field
            .content_type()
            .map(ToString::to_string)
            .filter(|t| t != "application/octet-stream");
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(
                multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. },
            ) => {
                return Err(publisher::too_large(limit));
            }
            Err(e) => return Err(bad_multipart(e)),
        };
        if name == METADATA_FIELD {
            metadata = Some(serde_json::from_slice(&data).map_err(|e| {
                ApiError::bad_request(
                    "INVALID_QUILT_METADATA",
                    format!("_metadata is not a JSON array of {{identifier, tags}}: {e}"),
                )
            })?);
            continue;
        }
        files.push(QuiltFile {
            identifier: name,
            tags: BTreeMap::new(),
            content_type,
            data: data.into(),
        });
    }
    for m in metadata.unwrap_or_default() {
        let Some(f) = files.iter_mut().find(|f| f.identifier == m.identifier) else {
            return Err(ApiError::bad_request(
                "UNKNOWN_QUILT_METADATA_IDENTIFIER",
                format!(
                    "_metadata names {:?}, which is no field of the body",
                    m.identifier
                ),
            ));
        };
        f.tags = m.tags;
    }
    Ok(files)
}

/// A quilt that cannot be built, as a 400 (or 413).
fn quilt_error(e: &QuiltError) -> ApiError {
    let reason = match e {
        QuiltError::Empty => "EMPTY_QUILT",
        QuiltError::DuplicateIdentifier(_) => "DUPLICATE_IDENTIFIER",
        QuiltError::InvalidIdentifier { .. } => "INVALID_IDENTIFIER",
        QuiltError::InvalidTags { .. } => "INVALID_TAGS",
        QuiltError::InvalidContentType { .. } => "INVALID_CONTENT_TYPE",
        QuiltError::TooManyPatches { .. } => "TOO_MANY_PATCHES",
        QuiltError::TooLarge { .. } | QuiltError::IndexTooLarge { .. } => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "QUILT_TOO_LARGE",
                e.to_string(),
            );
        }
        QuiltError::UnknownVersion(_) | QuiltError::Malformed(_) | QuiltError::Truncated { .. } => {
            "INVALID_QUILT"
        }
    };
    ApiError::bad_request(reason, format!("invalid quilt: {e}")).in_store(None, "encode")
}

/// Store a quilt.
///
/// Stores many files as one blob (a quilt), each readable on its own by patch id or
/// identifier. The body is `multipart/form-data`: each field is a file, its name the patch's
/// identifier and its `Content-Type` (unless `application/octet-stream`) the patch's content
/// type (else guessed from the identifier); an optional `_metadata` field holds a JSON array
/// of `{"identifier", "tags"}`. Query parameters, authentication, rate and concurrency limits
/// are those of `PUT /v1/blobs`; the body limit is `--max-quilt-body`.
#[utoipa::path(
    put,
    path = "/v1/quilts",
    operation_id = "put_quilt",
    params(PutParams),
    request_body(
        content = String,
        content_type = "multipart/form-data",
        description = "One field per file (name = identifier), and optionally `_metadata`: `[{\"identifier\": \"a.txt\", \"tags\": {\"k\": \"v\"}}]`."
    ),
    security((), ("jwt" = [])),
    responses(
        (status = 200, description = "Stored (or already certified): the blob's result and each patch's id.", body = QuiltStoreResult),
        (status = 400, description = "Bad parameters, a malformed body, or an invalid quilt: `EMPTY_QUILT`, `DUPLICATE_IDENTIFIER`, `INVALID_IDENTIFIER` (empty, control characters, surrounding whitespace, over 1024 bytes), `INVALID_TAGS` (over 64 KiB), `TOO_MANY_PATCHES`, `INVALID_QUILT_METADATA`. Nothing is paid.", body = Status),
        (status = 401, description = "As for `PUT /v1/blobs`.", body = Status),
        (status = 403, description = "As for `PUT /v1/blobs`.", body = Status),
        (status = 413, description = "The body is larger than `--max-quilt-body` (`BLOB_TOO_LARGE`), or the files do not fit one blob (`QUILT_TOO_LARGE`).", body = Status),
        (status = 429, description = "As for `PUT /v1/blobs`.", body = Status),
        (status = 500, description = "As for `PUT /v1/blobs`.", body = Status),
        (status = 503, description = "As for `PUT /v1/blobs`.", body = Status),
        (status = 504, description = "As for `PUT /v1/blobs`.", body = Status),
    )
)]
pub(crate) async fn put_quilt(
    AxState(state): AxState<Arc<State>>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    params: Result<Query<PutParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<QuiltStoreResult>, ApiError> {
    let (wanted, admitted) = publisher::admit(
        &state,
        client,
        params,
        &headers,
        state.options.max_quilt_body,
    )?;
    let files = files_of(&headers, body, admitted.limit).await?;
    let size: usize = files.iter().map(|f| f.data.len()).sum();
    admitted.check_size(size)?;
    let count = files.len();
    let started = std::time::Instant::now();
    match state
        .client
        .store_quilt(files, &wanted.store_options())
        .await
    {
        Ok(out) => {
            tracing::info!(quilt_id = %out.store.blob_id(), patches = count, size, ms = started.elapsed().as_millis() as u64, "quilt stored");
            Ok(Json(QuiltStoreResult {
                blob_store_result: publisher::stored(&state, &out.store, &wanted).await?,
                stored_quilt_blobs: out
                    .patches
                    .into_iter()
                    .map(|(identifier, quilt_patch_id)| StoredQuiltPatch {
                        identifier,
                        quilt_patch_id,
                    })
                    .collect(),
            }))
        }
        Err(QuiltStoreError::Format(e)) => Err(quilt_error(&e)),
        Err(QuiltStoreError::Store(e)) => {
            let result = publisher::store_failed(&state, e, size).await?;
            Ok(Json(QuiltStoreResult {
                blob_store_result: result,
                stored_quilt_blobs: Vec::new(),
            }))
        }
    }
}

/// A failed quilt read as an HTTP error.
fn quilt_read_error(e: &QuiltReadError) -> ApiError {
    let message = e.to_string();
    match e {
        QuiltReadError::Read(r) => read_error(r),
        QuiltReadError::NotAQuilt { .. } => ApiError::not_found("NOT_A_QUILT", message),
        QuiltReadError::UnknownIdentifier { .. } => {
            ApiError::not_found("QUILT_PATCH_NOT_FOUND", message)
        }
        QuiltReadError::WrongQuilt { .. }
        | QuiltReadError::OutOfRange { .. }
        | QuiltReadError::BadPatch { .. } => ApiError::not_found("QUILT_PATCH_NOT_FOUND", message),
    }
}

/// Streams a patch: its data only (a `Range` is relative to it), with its content type,
/// identifier and allowed tags as headers, the patch id as `ETag`.
pub(super) async fn serve_patch(
    state: &State,
    client: std::net::IpAddr,
    patch_id: Option<QuiltPatchId>,
    quilt_id: floe_common::BlobId,
    identifier: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let range = range_of(headers)?;
    let opened = open(state, client, quilt_id).await?;
    let patch_id = match (patch_id, identifier) {
        (Some(p), _) => p,
        (None, identifier) => {
            let (index, _) = state
                .client
                .quilt_index_of(&opened.blob)
                .await
                .map_err(|e| quilt_read_error(&e))?;
            patch_id_of(&index, quilt_id, identifier.unwrap_or_default())
                .map_err(|e| quilt_read_error(&e))?
        }
    };
    let at = state
        .client
        .locate_patch(&opened.blob, patch_id)
        .await
        .map_err(|e| quilt_read_error(&e))?;
    let meta = &at.header.meta;
    let mut extra = HeaderMap::new();
    for (key, value) in &meta.tags {
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
    if let Ok(v) = HeaderValue::from_str(&meta.content_type) {
        extra.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(meta.identifier.as_bytes()) {
        extra.insert(HeaderName::from_static("x-quilt-patch-identifier"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&patch_id.to_string()) {
        extra.insert(HeaderName::from_static("x-quilt-patch-id"), v);
    }
    let served = Served {
        bytes: at.data,
        etag: patch_id.to_string(),
    };
    respond_within(
        state,
        opened,
        served,
        ConsistencyCheck::Default,
        range,
        extra,
        web::IMMUTABLE,
        false,
    )
    .await
}

/// Read a quilt patch by its patch id.
///
/// Streams only the patch's bytes: of the quilt blob, just the symbols that hold the patch are
/// fetched (with proofs). `Range` is relative to the patch. The patch's content type is
/// `Content-Type`; its identifier is `X-Quilt-Patch-Identifier`; tags whose key is among the
/// daemon's allowed headers come back as headers (as attributes do on `by-object-id`).
#[utoipa::path(
    method(get, head),
    path = "/v1/blobs/by-quilt-patch-id/{quilt_patch_id}",
    operation_id = "get_blob_by_quilt_patch_id",
    params(
        ("quilt_patch_id" = String, Path, description = "The patch id: 55 characters of URL-safe base64."),
        ("Range" = Option<String>, Header, description = "One byte range of the patch."),
    ),
    responses(
        (status = 200, description = "The patch's bytes.", body = Vec<u8>, content_type = "application/octet-stream",
            headers(
                ("X-Quilt-Patch-Identifier" = String, description = "The patch's identifier."),
                ("ETag" = String, description = "The quoted patch id."),
            )),
        (status = 206, description = "The requested range of the patch.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "A malformed patch id (`INVALID_QUILT_PATCH_ID`).", body = Status),
        (status = 404, description = "No such patch (`QUILT_PATCH_NOT_FOUND`: outside the quilt, or no patch at those symbols), not a quilt (`NOT_A_QUILT`), or as for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 416, description = "A bad range.", body = Status),
        (status = 429, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 503, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
    )
)]
pub(crate) async fn get_by_quilt_patch_id(
    AxState(state): AxState<Arc<State>>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path(patch_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: QuiltPatchId = patch_id.parse().map_err(|e| {
        ApiError::bad_request(
            "INVALID_QUILT_PATCH_ID",
            format!("{patch_id:?} is not a quilt patch id: {e}"),
        )
    })?;
    serve_patch(&state, ip_of(client), Some(id), id.quilt_id, None, &headers).await
}

/// Read a quilt patch by its quilt and identifier.
///
/// Reads the quilt's index (its first symbols), then streams the patch as
/// `by-quilt-patch-id` does.
#[utoipa::path(
    method(get, head),
    path = "/v1/blobs/by-quilt-id/{quilt_id}/{identifier}",
    operation_id = "get_blob_by_quilt_id",
    params(
        ("quilt_id" = String, Path, description = "The quilt's blob id."),
        ("identifier" = String, Path, description = "The patch's identifier (percent-encoded; `/` as `%2F`)."),
        ("Range" = Option<String>, Header, description = "One byte range of the patch."),
    ),
    responses(
        (status = 200, description = "The patch's bytes, with `X-Quilt-Patch-Identifier` and `ETag`.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 206, description = "The requested range of the patch.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "A malformed quilt id.", body = Status),
        (status = 404, description = "No patch with this identifier (`QUILT_PATCH_NOT_FOUND`), not a quilt (`NOT_A_QUILT`), or as for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 416, description = "A bad range.", body = Status),
        (status = 429, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 503, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
    )
)]
pub(crate) async fn get_by_quilt_id(
    AxState(state): AxState<Arc<State>>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path((quilt_id, identifier)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let quilt_id = parse_blob_id(&quilt_id)?;
    serve_patch(
        &state,
        ip_of(client),
        None,
        quilt_id,
        Some(&identifier),
        &headers,
    )
    .await
}

/// List a quilt's patches.
///
/// Reads the quilt's index: every patch's identifier, patch id and tags, sorted by
/// identifier.
#[utoipa::path(
    get,
    path = "/v1/quilts/{quilt_id}/patches",
    operation_id = "list_quilt_patches",
    params(("quilt_id" = String, Path, description = "The quilt's blob id.")),
    responses(
        (status = 200, description = "The patches.", body = Vec<QuiltPatchItem>),
        (status = 400, description = "A malformed quilt id.", body = Status),
        (status = 404, description = "Not a quilt (`NOT_A_QUILT`), or as for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 429, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
        (status = 503, description = "As for `GET /v1/blobs/{blob_id}`.", body = Status),
    )
)]
pub(crate) async fn list_patches(
    AxState(state): AxState<Arc<State>>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path(quilt_id): Path<String>,
) -> Result<Json<Vec<QuiltPatchItem>>, ApiError> {
    let quilt_id = parse_blob_id(&quilt_id)?;
    let opened = open(&state, ip_of(client), quilt_id).await?;
    let (index, _) = state
        .client
        .quilt_index_of(&opened.blob)
        .await
        .map_err(|e| quilt_read_error(&e))?;
    drop(opened);
    Ok(Json(
        index
            .patches
            .into_iter()
            .map(|e| QuiltPatchItem {
                quilt_patch_id: QuiltPatchId {
                    quilt_id,
                    start_symbol: e.start_symbol,
                    end_symbol: e.end_symbol,
                },
                identifier: e.identifier,
                tags: e.tags,
            })
            .collect(),
    ))
}
