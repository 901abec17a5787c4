//! The daemon's JSON documents, typed, and its OpenAPI description.
//!
//! The OpenAPI document is generated from the handlers' `#[utoipa::path]` annotations and these
//! types by the same `utoipa-axum` router that serves the routes ([`super::router`]), so it
//! cannot list a route the daemon does not serve, or miss one it does. Field names follow
//! Walrus's daemons (camelCase).

use std::collections::BTreeMap;

use floe_common::{BlobId, ObjectId};
use floe_ledger_types::Address;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// The answer to a store: `newlyCreated`, `alreadyCertified` or `markedInvalid`. A failed
/// store answers with its HTTP status and a `Status` whose `error` also carries `blobId`,
/// `failurePhase` and `errorMsg` (Walrus's `error` variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum BlobStoreResult {
    /// Registered, uploaded and certified now.
    NewlyCreated(NewlyCreated),
    /// Already certified for long enough: nothing was paid.
    AlreadyCertified(AlreadyCertified),
    /// The blob id is marked invalid on the ledger.
    MarkedInvalid(MarkedInvalid),
}

/// A newly stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewlyCreated {
    /// The blob object: owned by the publisher's wallet, by `sentTo`, or shared.
    pub blob_object: BlobObject,
    /// How its storage was obtained.
    pub resource_operation: ResourceOperation,
    /// Storage and write price paid, in FROST (fees excluded).
    pub cost: u64,
    /// With `share=true`: the shared blob, which keeps the blob object's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub shared_blob_object: Option<ObjectId>,
    /// With `send_object_to`: the address the blob object was given to (64 hex digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub sent_to: Option<Address>,
}

/// A blob object as Walrus's daemons describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlobObject {
    /// The object id (0x and 64 hex digits).
    #[schema(value_type = String)]
    pub id: ObjectId,
    /// Epoch of registration.
    pub registered_epoch: u32,
    /// The blob id (43 characters of URL-safe base64).
    #[schema(value_type = String)]
    pub blob_id: BlobId,
    /// Unencoded size.
    pub size: u64,
    /// Always `RS2`.
    pub encoding_type: String,
    /// Epoch of certification.
    pub certified_epoch: Option<u32>,
    /// The storage it holds.
    pub storage: StorageResource,
    /// Whether its owner may delete it.
    pub deletable: bool,
}

/// The storage a blob object holds (Floe folds storage into the blob object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageResource {
    /// The blob object id.
    #[schema(value_type = String)]
    pub id: ObjectId,
    /// First epoch.
    pub start_epoch: u32,
    /// End epoch (exclusive).
    pub end_epoch: u32,
    /// Encoded bytes paid for.
    pub storage_size: u64,
}

/// How storage was obtained: always bought fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ResourceOperation {
    /// Bought and registered in one batch.
    RegisterFromScratch(RegisterFromScratch),
}

/// A fresh storage purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterFromScratch {
    /// Encoded length bought.
    pub encoded_length: u64,
    /// Epochs ahead.
    pub epochs_ahead: u32,
}

/// A blob already certified for long enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlreadyCertified {
    /// The blob id.
    #[schema(value_type = String)]
    pub blob_id: BlobId,
    /// Its latest certified end epoch.
    pub end_epoch: u32,
    /// A certified blob object of this blob (Floe's ledger has no event ids to name instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub object: Option<ObjectId>,
}

/// A blob id marked invalid (inconsistently encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarkedInvalid {
    /// The blob id.
    #[schema(value_type = String)]
    pub blob_id: BlobId,
    /// When it was invalidated.
    pub invalidated_epoch: Option<u32>,
}

/// Every error answer (Google's `Status`, as Walrus's daemons send it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Status {
    /// What went wrong.
    pub error: StatusError,
}

/// The body of a `Status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusError {
    /// `INVALID_ARGUMENT`, `NOT_FOUND`, `OUT_OF_RANGE`, `RESOURCE_EXHAUSTED`, `INTERNAL`,
    /// `UNAVAILABLE` or `DEADLINE_EXCEEDED`.
    pub status: String,
    /// The HTTP status.
    pub code: u16,
    /// What went wrong, for people.
    pub message: String,
    /// One `ErrorInfo`, whose `reason` is machine-readable.
    pub details: Vec<ErrorInfo>,
    /// A failed store: the blob id, when known (`null` when it is not).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub blob_id: Option<Option<BlobId>>,
    /// A failed store: `encode`, `connect`, `status`, `register`, `upload`, `certify`, or
    /// after a certified store `transfer` (`send_object_to`) or `share`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_phase: Option<String>,
    /// A failed store: the message again (Walrus's field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

/// Why, for machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// `type.googleapis.com/google.rpc.ErrorInfo`.
    #[serde(rename = "@type")]
    pub type_url: String,
    /// `BLOB_NOT_FOUND`, `INVALID_RANGE`, … (UPPER_SNAKE_CASE).
    pub reason: String,
    /// `floe.daemon`.
    pub domain: String,
    /// Always empty.
    pub metadata: BTreeMap<String, String>,
}

/// `GET /status`: whether the daemon can serve, and how busy it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DaemonStatus {
    /// `ok`, or `degraded` when the ledger does not answer (reads and stores then fail).
    pub status: String,
    /// The chain served.
    pub chain_id: String,
    /// The ledger's current epoch (absent when it does not answer).
    pub epoch: Option<u32>,
    /// The ledger's error (when it does not answer).
    pub ledger_error: Option<String>,
    /// Reads being served.
    pub reads_in_flight: usize,
    /// Most reads at once.
    pub max_concurrent_reads: usize,
    /// Stores being served.
    pub stores_in_flight: usize,
    /// Most stores at once.
    pub max_concurrent_stores: usize,
    /// The daemon's version.
    pub version: String,
}

/// The document's parts that no handler describes: what the daemon is and how it differs from
/// Walrus's.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Floe daemon (publisher and aggregator)",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
        description = "`floe daemon` serves Walrus's publisher and aggregator routes with Walrus's \
JSON shapes (camelCase, as Walrus's daemons actually send them), so HTTP clients written for a \
Walrus daemon work against Floe.

Differences from the Walrus daemon:
- `send_object_to` (an address) and `share=true` act once the blob is certified, each in a \
transaction of its own: the blob object is transferred, and the answer's `sentTo` names the \
recipient; or it becomes a shared blob, named by `sharedBlobObject` (it keeps the blob object's \
id, and starts without funds). They exclude each other (400 `CONFLICTING_POST_STORE`). If that \
transaction fails, the answer is an error with `failurePhase` `transfer` or `share` and the \
`blobId`: the blob is stored and certified, and its object stays with the publisher's wallet. \
An `alreadyCertified` answer created no blob object, so nothing is sent or shared. A token \
with a `send_object_to` claim stores only for a request naming the same address (403 \
`TOKEN_RECIPIENT_MISMATCH`).
- `reuse_resources` is ignored: the publisher always buys fresh storage, so `resourceOperation` \
is always `registerFromScratch`.
- `alreadyCertified` names the certified blob `object`, never an `event`; `markedInvalid` has \
`invalidatedEpoch` instead of `event` (Floe's ledger has no event ids).
- `blobObject.storage.id` is the blob object's own id: Floe folds the storage resource into the \
blob object when the blob is registered.
- `cost` is storage plus write price, in FROST.
- Too many concurrent requests are refused with 429 and `Retry-After` (Walrus's reference \
documents no status for this).
- A failed store answers with the HTTP status of the failure and a body that is both a `Status` \
and the `error` variant of `BlobStoreResult` (`blobId`, `failurePhase`, `errorMsg` inside \
`error`).
- `Range` accepts one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); several ranges or a malformed \
header answer 416. A range read still reads and checks the whole blob.
- Quilts place patches on symbol boundaries of the blob, not on columns: a quilt holds up to \
`rows·cols − 1` patches (Walrus: `cols − 1`) and a patch read fetches about the patch's own \
bytes. The byte layout and patch ids (55 characters: quilt id, version, start and end symbol) \
are Floe's own. Tags whose key is an allowed header come back as headers.
- `/v1alpha/blobs/concat` is not implemented.
- JWT authentication (`--jwt-decode-secret`) follows Walrus's claims (`exp`, `jti`, `iat`, \
`epochs`/`max_epochs`, `size`/`max_size`, `send_object_to`); a missing or bad token is 401, a token the request \
exceeds or a replayed `jti` is 403, all before the body is read.
- `GET /v1/api` serves this document as YAML rather than a Redoc page.

Every answer carries `X-Content-Type-Options: nosniff`. Reads (`GET`, and `HEAD` on every \
`GET` route) carry `Access-Control-Allow-Origin` (the operator's `--cors-allow-origin`, `*` by \
default) and answer CORS preflights; `PUT` is never allowed cross-origin. A successful read by \
blob id is `Cache-Control: public, max-age=31536000, immutable` with the blob id as `ETag`; by \
object id `public, max-age=60`; errors are `no-store`. An answer whose content type a browser \
would run (HTML, SVG, XML) carries `Content-Security-Policy: sandbox` unless the operator \
passes `--allow-active-content`."
    ),
    components(schemas(BlobStoreResult, Status, DaemonStatus)),
    modifiers(&JwtScheme)
)]
pub struct ApiDoc;

/// Adds the publisher's bearer-token scheme (`jwt`) to the document.
struct JwtScheme;

impl utoipa::Modify for JwtScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Required by a publisher started with `--jwt-decode-secret`: a token \
                         signed with the operator's key, with `exp` and a unique `jti`.",
                    ))
                    .build(),
            ),
        );
    }
}
