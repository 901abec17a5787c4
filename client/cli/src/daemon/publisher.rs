//! `PUT /v1/blobs`: store the body, answer with Walrus's `BlobStoreResult` (camelCase).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::{Bytes, BytesMut};
use floe_common::{BlobId, Epoch, Frost, ObjectId};
use floe_ledger_types::Address;
use futures::StreamExt as _;
use serde::Deserialize;
use utoipa::IntoParams;

use super::api::{
    AlreadyCertified, BlobObject, BlobStoreResult, MarkedInvalid, NewlyCreated,
    RegisterFromScratch, ResourceOperation, Status, StorageResource,
};
use super::auth::Publisher;
use super::{ApiError, State};
use floe_client::blobs::{Persistence, StoreError, StoreOptions, StoreOutcome, UploadError};

/// The publisher's query parameters (unknown ones are ignored, like Walrus's).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PutParams {
    /// Epochs ahead of the current one to store the blob for (default 1).
    #[param(minimum = 1)]
    epochs: Option<u32>,
    /// Create a deletable blob (the default).
    deletable: Option<bool>,
    /// Create a permanent blob instead of a deletable one.
    permanent: Option<bool>,
    /// Store even if the blob is already certified for long enough.
    force: Option<bool>,
    /// Only `RS2`.
    encoding_type: Option<String>,
    /// Give the new blob object to this address once it is certified (hex, with or without
    /// `0x`); the answer's `sentTo` says it was. Not with `share`.
    send_object_to: Option<String>,
    /// Turn the new blob object into a shared blob once it is certified (without funds); the
    /// answer's `sharedBlobObject` names it. Not with `send_object_to`.
    share: Option<bool>,
}

/// What happens to a newly created blob object once it is certified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostStore {
    /// It stays with the publisher's wallet.
    Keep,
    /// It is transferred to this address.
    SendTo(Address),
    /// It becomes a shared blob.
    Share,
}

/// What a valid request asks for.
#[derive(Debug)]
pub(crate) struct Wanted {
    pub(crate) epochs: u32,
    persistence: Persistence,
    force: bool,
    post_store: PostStore,
}

impl Wanted {
    /// The SDK's options for it.
    pub(crate) fn store_options(&self) -> StoreOptions {
        StoreOptions {
            epochs: self.epochs,
            persistence: self.persistence,
            force: self.force,
            ..StoreOptions::default()
        }
    }
}

fn validate(p: PutParams) -> Result<Wanted, ApiError> {
    let bad = ApiError::bad_request;
    if p.deletable == Some(true) && p.permanent == Some(true) {
        return Err(bad(
            "CONFLICTING_PERSISTENCE",
            "a blob cannot be both deletable and permanent: pass at most one of deletable=true \
             and permanent=true",
        ));
    }
    let epochs = p.epochs.unwrap_or(1);
    if epochs == 0 {
        return Err(bad("INVALID_EPOCHS", "epochs must be at least 1"));
    }
    if let Some(e) = p.encoding_type
        && !e.eq_ignore_ascii_case("RS2")
    {
        return Err(ApiError::bad_request(
            "UNSUPPORTED_ENCODING_TYPE",
            format!("unsupported encoding_type {e:?}: Floe supports RS2 only"),
        ));
    }
    let send_to = match &p.send_object_to {
        None => None,
        Some(text) => Some(text.parse::<Address>().map_err(|e| {
            ApiError::bad_request(
                "INVALID_SEND_OBJECT_TO",
                format!("send_object_to {text:?} is not an address: {e}"),
            )
        })?),
    };
    if send_to == Some(Address::SHARED) {
        return Err(bad(
            "INVALID_SEND_OBJECT_TO",
            "send_object_to is the owner of shared objects, which nobody controls: pass \
             share=true to share the blob",
        ));
    }
    let post_store = match (send_to, p.share == Some(true)) {
        (Some(_), true) => {
            return Err(bad(
                "CONFLICTING_POST_STORE",
                "a blob object is either sent (send_object_to) or shared (share=true), not both",
            ));
        }
        (Some(to), false) => PostStore::SendTo(to),
        (None, true) => PostStore::Share,
        (None, false) => PostStore::Keep,
    };
    Ok(Wanted {
        epochs,
        persistence: if p.permanent == Some(true) {
            Persistence::Permanent
        } else {
            Persistence::Deletable
        },
        force: p.force.unwrap_or(false),
        post_store,
    })
}

pub(crate) fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "BLOB_TOO_LARGE",
        format!("the body is larger than this publisher's limit of {limit} bytes"),
    )
}

/// Reads the body into one buffer (sized from `Content-Length` when given), refusing more than
/// `limit` bytes as soon as they arrive. Each received chunk is dropped once copied in, and the
/// encoder reads this buffer in place (`BlobClient::store` borrows it), so the blob is in
/// memory once, not twice.
pub(crate) async fn read_body(
    body: Body,
    size_hint: Option<u64>,
    limit: u64,
) -> Result<Bytes, ApiError> {
    let capacity = size_hint.unwrap_or(0).min(limit);
    let mut buf = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("BODY_READ_FAILED", format!("cannot read the body: {e}"))
        })?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Store a blob.
///
/// Stores the raw body for `epochs` epochs, paid by the publisher's wallet. If the blob is
/// already certified for at least that long (and `force` is not set), nothing is paid and the
/// answer is `alreadyCertified`. A new blob object is then given to `send_object_to`, or
/// shared with `share=true`.
#[utoipa::path(
    put,
    path = "/v1/blobs",
    operation_id = "put_blob",
    params(PutParams),
    request_body(
        content = Vec<u8>,
        content_type = "application/octet-stream",
        description = "The blob's bytes."
    ),
    security((), ("jwt" = [])),
    responses(
        (status = 200, description = "Stored, already certified, or known to be invalid.", body = BlobStoreResult),
        (status = 400, description = "Bad parameters: both deletable and permanent, epochs 0 or too many, an unsupported encoding, a `send_object_to` that is not an address (`INVALID_SEND_OBJECT_TO`), or `send_object_to` with `share` (`CONFLICTING_POST_STORE`).", body = Status),
        (status = 401, description = "An authenticated publisher got no token, or one that is malformed, badly signed or expired (`MISSING_TOKEN`, `INVALID_TOKEN`).", body = Status),
        (status = 403, description = "The token does not allow this store (`TOKEN_EPOCHS_EXCEEDED`, `TOKEN_SIZE_EXCEEDED`, `TOKEN_RECIPIENT_MISMATCH`), was already used (`TOKEN_REPLAYED`), or the daemon is an aggregator only (`PUBLISHER_DISABLED`).", body = Status),
        (status = 413, description = "The body is larger than the publisher's limit (`--max-body`), or than the network can encode.", body = Status),
        (status = 429, description = "The publisher is already serving `--max-concurrent` stores (`TOO_MANY_REQUESTS`), or this client address made more than `--publisher-rate` stores a minute (`RATE_LIMITED`); retry after `Retry-After` seconds.", body = Status),
        (status = 500, description = "The ledger rejected a transaction of the store (`failurePhase` says which; `transfer` or `share` after a certified store, whose `blobId` is given).", body = Status),
        (status = 503, description = "The ledger or the storage nodes could not be reached, or the publisher's wallet cannot pay.", body = Status),
        (status = 504, description = "Too few storage nodes confirmed storage in time; retry.", body = Status),
    )
)]
pub(crate) async fn put_blob(
    AxState(state): AxState<Arc<State>>,
    client: Option<axum::Extension<axum::extract::ConnectInfo<super::conn::ClientAddr>>>,
    params: Result<Query<PutParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BlobStoreResult>, ApiError> {
    let (wanted, admitted) = admit(&state, client, params, &headers, state.options.max_body)?;
    let data = read_body(body, admitted.declared, admitted.limit).await?;
    admitted.check_size(data.len())?;
    let opts = wanted.store_options();
    let started = std::time::Instant::now();
    let outcome = state.client.store(&data, &opts).await;
    let size = data.len();
    drop(data);
    match outcome {
        Ok(outcome) => {
            tracing::info!(blob_id = %outcome.blob_id(), size, ms = started.elapsed().as_millis() as u64, "stored");
            Ok(Json(stored(&state, &outcome, &wanted).await?))
        }
        Err(e) => store_failed(&state, e, size).await.map(Json),
    }
}

/// A store that failed: `markedInvalid` for an invalid blob id, else the error.
pub(crate) async fn store_failed(
    state: &State,
    e: StoreError,
    size: usize,
) -> Result<BlobStoreResult, ApiError> {
    match e {
        StoreError::Invalid(blob_id) => Ok(marked_invalid(state, blob_id).await),
        e => {
            tracing::warn!(size, error = %e, "store failed");
            Err(store_error(e))
        }
    }
}

/// A store admitted by [`admit`]: its body limit, the declared length, and the store slot held
/// until it is dropped.
pub(crate) struct Admitted {
    /// The most body bytes accepted.
    pub(crate) limit: u64,
    /// `Content-Length`, if sent.
    pub(crate) declared: Option<u64>,
    /// The exact body size a token demands.
    exact: Option<u64>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Admitted {
    /// Refuses a body of another size than the token allows.
    pub(crate) fn check_size(&self, len: usize) -> Result<(), ApiError> {
        match self.exact {
            Some(size) if len as u64 != size => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "TOKEN_SIZE_EXCEEDED",
                format!("the token allows a body of exactly {size} bytes, not {len}"),
            )),
            _ => Ok(()),
        }
    }
}

/// What every store goes through before its body is read: the per-client rate, the query,
/// who may store (JWT), the declared length against `max_body` (and the token), and a store
/// slot.
pub(crate) fn admit(
    state: &State,
    client: Option<axum::Extension<axum::extract::ConnectInfo<super::conn::ClientAddr>>>,
    params: Result<Query<PutParams>, QueryRejection>,
    headers: &HeaderMap,
    max_body: u64,
) -> Result<(Wanted, Admitted), ApiError> {
    if let Some(limiter) = &state.store_rate {
        // Without the peer's address (a router served without connect info), all share one.
        let ip = client.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.0.0.ip());
        if let Err(wait) = limiter.take(ip, std::time::Instant::now()) {
            let secs = wait.as_secs().max(1);
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("too many stores from {ip}; retry in {secs} s"),
            )
            .header(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from_str(&secs.to_string()).expect("digits"),
            ));
        }
    }
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("INVALID_QUERY", format!("bad query: {e}")))?;
    let wanted = validate(params)?;
    let mut limit = max_body;
    let mut exact = None;
    match &state.options.publisher {
        Publisher::Open => {}
        Publisher::Off => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "PUBLISHER_DISABLED",
                "this daemon is an aggregator only: it stores nothing",
            ));
        }
        Publisher::Authenticated(auth) => {
            let send_to = match wanted.post_store {
                PostStore::SendTo(to) => Some(to),
                _ => None,
            };
            let grant = auth.admit(headers, wanted.epochs, send_to)?;
            if let Some(most) = grant.max_size.or(grant.size) {
                limit = limit.min(most);
            }
            exact = grant.size;
        }
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    // Take a slot before reading the body, so at most `max_concurrent` bodies are in memory.
    let slot = state
        .stores
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("stores", state.options.max_concurrent))?;
    Ok((
        wanted,
        Admitted {
            limit,
            declared,
            exact,
            _slot: slot,
        },
    ))
}

/// Gives away or shares a newly created blob object as `post_store` asks; returns what the
/// answer reports (`sentTo`, `sharedBlobObject`). A failure names the stored blob and the
/// phase (`transfer` or `share`): the blob is stored and certified, its object stays with the
/// publisher's wallet.
async fn post_store(
    state: &State,
    blob_id: BlobId,
    object: ObjectId,
    post_store: PostStore,
) -> Result<(Option<Address>, Option<ObjectId>), ApiError> {
    let failed = |e: StoreError, phase: &'static str| {
        tracing::warn!(%blob_id, %object, error = %e, phase, "after the store");
        let e = store_error(e);
        e.in_store(Some(blob_id), phase)
    };
    match post_store {
        PostStore::Keep => Ok((None, None)),
        PostStore::SendTo(to) => {
            state
                .client
                .transfer_blob(object, to)
                .await
                .map_err(|e| failed(e, "transfer"))?;
            Ok((Some(to), None))
        }
        PostStore::Share => {
            state
                .client
                .share_blob(object, Frost::ZERO)
                .await
                .map_err(|e| failed(e, "share"))?;
            Ok((None, Some(object)))
        }
    }
}

/// The `newlyCreated` or `alreadyCertified` document, after giving away or sharing a new
/// blob object as `wanted` asks (an already certified blob creates no object, so nothing is
/// sent or shared).
pub(crate) async fn stored(
    state: &State,
    outcome: &StoreOutcome,
    wanted: &Wanted,
) -> Result<BlobStoreResult, ApiError> {
    let epochs = wanted.epochs;
    Ok(match outcome {
        StoreOutcome::NewlyCreated {
            blob_id,
            blob_object,
            size,
            encoded_size,
            cost,
            end_epoch,
            persistence,
            ..
        } => {
            let (sent_to, shared_blob_object) =
                post_store(state, *blob_id, *blob_object, wanted.post_store).await?;
            let object = match state.client.ledger().object(blob_object).await {
                Ok(Some(o)) => o.object.as_blob().cloned(),
                _ => None,
            };
            // Fall back to what the store reported if the object cannot be read back.
            let (registered, certified, start, end, storage_size, deletable) = match &object {
                Some(b) => (
                    b.registered_epoch,
                    b.certified_epoch,
                    b.start_epoch,
                    b.end_epoch,
                    b.size,
                    b.deletable,
                ),
                None => {
                    let start = Epoch(end_epoch.0.saturating_sub(epochs));
                    (
                        start,
                        None,
                        start,
                        *end_epoch,
                        *encoded_size,
                        *persistence == Persistence::Deletable,
                    )
                }
            };
            BlobStoreResult::NewlyCreated(NewlyCreated {
                blob_object: BlobObject {
                    id: *blob_object,
                    registered_epoch: registered.0,
                    blob_id: *blob_id,
                    size: *size,
                    encoding_type: "RS2".into(),
                    certified_epoch: certified.map(|e| e.0),
                    storage: StorageResource {
                        id: *blob_object,
                        start_epoch: start.0,
                        end_epoch: end.0,
                        storage_size,
                    },
                    deletable,
                },
                resource_operation: ResourceOperation::RegisterFromScratch(RegisterFromScratch {
                    encoded_length: *encoded_size,
                    epochs_ahead: epochs,
                }),
                cost: cost.0,
                shared_blob_object,
                sent_to,
            })
        }
        StoreOutcome::AlreadyCertified { blob_id, end_epoch } => {
            BlobStoreResult::AlreadyCertified(AlreadyCertified {
                blob_id: *blob_id,
                end_epoch: end_epoch.0,
                object: certified_object(state, blob_id, *end_epoch).await,
            })
        }
    })
}

/// Blob objects looked at to name the certified object of an `alreadyCertified` answer.
const MAX_OBJECTS_LOOKED_UP: usize = 16;

/// A certified blob object of `blob_id` ending at `end` (Walrus names the certifying event or
/// the object; Floe's ledger has no event ids, so the object it is).
async fn certified_object(state: &State, blob_id: &BlobId, end: Epoch) -> Option<ObjectId> {
    let ledger = state.client.ledger();
    let status = ledger.blob_status(blob_id).await.ok()??;
    let mut fallback = None;
    for id in status.info.objects.iter().take(MAX_OBJECTS_LOOKED_UP) {
        if let Ok(Some(o)) = ledger.object(id).await
            && let Some(b) = o.object.as_blob()
            && b.is_certified()
        {
            if b.end_epoch == end {
                return Some(*id);
            }
            fallback.get_or_insert(*id);
        }
    }
    fallback
}

/// The `markedInvalid` document. Floe's ledger has no event ids: `event` is omitted and
/// `invalidatedEpoch` says when.
async fn marked_invalid(state: &State, blob_id: BlobId) -> BlobStoreResult {
    let invalidated_epoch = match state.client.ledger().blob_status(&blob_id).await {
        Ok(Some(s)) => s.info.invalidated_epoch.map(|e| e.0),
        _ => None,
    };
    BlobStoreResult::MarkedInvalid(MarkedInvalid {
        blob_id,
        invalidated_epoch,
    })
}

/// A failed store as an HTTP error that is also the publisher's `error` result.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    let message = e.to_string();
    match e {
        StoreError::Encode(_) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BLOB_TOO_LARGE", message)
                .in_store(None, "encode")
        }
        StoreError::Connect(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NETWORK_UNAVAILABLE",
            message,
        )
        .in_store(None, "connect"),
        StoreError::Rejected { step, code, .. } => {
            let (status, reason) = match code.as_str() {
                "epochs_out_of_range" => (StatusCode::BAD_REQUEST, "EPOCHS_OUT_OF_RANGE"),
                "too_large" => (StatusCode::PAYLOAD_TOO_LARGE, "BLOB_TOO_LARGE"),
                "insufficient_balance" => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "PUBLISHER_INSUFFICIENT_FUNDS",
                ),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "LEDGER_REJECTED"),
            };
            ApiError::new(status, reason, message).in_store(None, step)
        }
        StoreError::Trust { step, .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "LEDGER_UNTRUSTED", message)
                .in_store(None, step)
        }
        StoreError::Ledger { step, .. }
        | StoreError::NotFinal { step }
        | StoreError::MissingEvent { step, .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "LEDGER_UNAVAILABLE",
            message,
        )
        .in_store(None, step),
        StoreError::Upload(UploadError::NotEnoughConfirmations { .. }) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "NOT_ENOUGH_CONFIRMATIONS",
            message,
        )
        .in_store(None, "upload"),
        StoreError::Invalid(blob_id) => {
            ApiError::new(StatusCode::BAD_REQUEST, "BLOB_INVALID", message)
                .in_store(Some(blob_id), "status")
        }
    }
}

#[cfg(test)]
mod tests {
    use floe_client::blobs::{NodeFailure, NodeFailures, NodeUploadError};
    use floe_node_protocol::p2p::CallError;

    use super::*;

    #[test]
    fn query_validation() {
        let w = validate(PutParams::default()).unwrap();
        assert_eq!(w.post_store, PostStore::Keep);
        assert_eq!(
            (w.epochs, w.persistence, w.force),
            (1, Persistence::Deletable, false)
        );
        let w = validate(PutParams {
            epochs: Some(5),
            permanent: Some(true),
            force: Some(true),
            encoding_type: Some("rs2".into()),
            ..PutParams::default()
        })
        .unwrap();
        assert_eq!(
            (w.epochs, w.persistence, w.force),
            (5, Persistence::Permanent, true)
        );
        for p in [
            PutParams {
                deletable: Some(true),
                permanent: Some(true),
                ..PutParams::default()
            },
            PutParams {
                epochs: Some(0),
                ..PutParams::default()
            },
            PutParams {
                encoding_type: Some("RS1".into()),
                ..PutParams::default()
            },
            PutParams {
                send_object_to: Some("0x01".into()),
                ..PutParams::default()
            },
            PutParams {
                send_object_to: Some("00".repeat(32)),
                ..PutParams::default()
            },
            PutParams {
                send_object_to: Some("ab".repeat(32)),
                share: Some(true),
                ..PutParams::default()
            },
        ] {
            let e = validate(p).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn post_store_actions() {
        let to: Address = "ab".repeat(32).parse().unwrap();
        let w = validate(PutParams {
            send_object_to: Some(format!("0x{}", "AB".repeat(32))),
            ..PutParams::default()
        })
        .unwrap();
        assert_eq!(w.post_store, PostStore::SendTo(to));
        let w = validate(PutParams {
            share: Some(true),
            ..PutParams::default()
        })
        .unwrap();
        assert_eq!(w.post_store, PostStore::Share);
        let w = validate(PutParams {
            share: Some(false),
            ..PutParams::default()
        })
        .unwrap();
        assert_eq!(w.post_store, PostStore::Keep);
    }

    #[test]
    fn store_errors_are_status_and_error_results() {
        let e = store_error(StoreError::Upload(UploadError::NotEnoughConfirmations {
            weight: 3,
            quorum: 9,
            failures: NodeFailures(vec![NodeFailure {
                node: "node-1".into(),
                error: NodeUploadError::Call(CallError::Stopped),
            }]),
        }));
        assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
        let body = e.body();
        assert_eq!(body["error"]["code"], 504);
        assert_eq!(body["error"]["failurePhase"], "upload");
        assert!(
            body["error"]["errorMsg"]
                .as_str()
                .unwrap()
                .contains("node-1")
        );
        assert_eq!(
            body["error"]["details"][0]["reason"],
            "NOT_ENOUGH_CONFIRMATIONS"
        );
    }
}
