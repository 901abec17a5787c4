//! The daemon's error documents: Walrus's `Status` JSON.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use floe_common::BlobId;
use serde_json::Value;

use super::api::{ErrorInfo, Status, StatusError};

/// A failed request: an HTTP status, a machine-readable reason and a message for people.
///
/// Its body is `{"error": {"status", "code", "message", "details": [ErrorInfo]}}`. A failed
/// store also carries `blobId`, `failurePhase` and `errorMsg` in the same `error` object, so the
/// document is both a `Status` and the publisher's `error` result.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `BLOB_NOT_FOUND`, `INVALID_RANGE`, … (UPPER_SNAKE_CASE; in `details[0].reason`).
    pub reason: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// For a failed store: the blob id (if known) and the phase that failed.
    pub store: Option<Box<(Option<BlobId>, &'static str)>>,
    /// Extra response headers (`Content-Range`, `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            store: None,
            headers: Vec::new(),
        }
    }

    /// 400.
    pub fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    /// 404.
    pub fn not_found(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason, message)
    }

    /// 429 with `Retry-After: 1`.
    pub fn busy(what: &str, limit: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            format!("the daemon is already serving {limit} {what} (its limit); retry shortly"),
        )
        .header(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from_static("1"),
        )
    }

    /// This error, with a response header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// This error, as the failure of a store in `phase`.
    pub fn in_store(mut self, blob_id: Option<BlobId>, phase: &'static str) -> Self {
        self.store = Some(Box::new((blob_id, phase)));
        self
    }

    /// The typed document.
    pub fn status(&self) -> Status {
        let store = self.store.as_deref();
        Status {
            error: StatusError {
                status: canonical(self.status).to_owned(),
                code: self.status.as_u16(),
                message: self.message.clone(),
                details: vec![ErrorInfo {
                    type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                    reason: self.reason.to_owned(),
                    domain: "floe.daemon".into(),
                    metadata: Default::default(),
                }],
                blob_id: store.map(|(blob_id, _)| *blob_id),
                failure_phase: store.map(|(_, phase)| (*phase).to_owned()),
                error_msg: store.map(|_| self.message.clone()),
            },
        }
    }

    /// The JSON document.
    pub fn body(&self) -> Value {
        serde_json::to_value(self.status()).expect("a Status serializes")
    }
}

/// The general kind of an HTTP status, as `Status.error.status`.
fn canonical(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "INVALID_ARGUMENT",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        for (k, v) in &self.headers {
            headers.insert(k.clone(), v.clone());
        }
        (self.status, headers, Json(self.status())).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.reason,
            self.message
        )
    }
}
