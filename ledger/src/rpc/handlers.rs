//! Transaction routes: submit (single and batch) and committed status with long-polls.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::types::{
    AdmissionStatus, BatchItem, BatchResponse, FORWARDED_HEADER, SubmitResponse, TxResponse,
};
use super::{ApiError, AppState, DEFAULT_SUBMIT_WAIT, MAX_BATCH_BODY, MAX_BATCH_TXS, MAX_WAIT};
use crate::mempool::{Admission, MempoolError};
use crate::service::{Ledger, SubmitError};
use crate::store::ChainTip;
use crate::tx::{SignedTransaction, TxDigest};
use floe_ledger_types::CommittedTx;

/// The request body, or the extractor's rejection as a JSON error (413 when over the limit).
pub(super) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "bad_request"
        };
        ApiError::new(status, code, r.body_text())
    })
}

/// Query parameters, or a 400.
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|r| ApiError::bad_request(r.body_text()))
}

/// Parses a path segment, or a 400 `invalid_{what}`.
pub(super) fn parse<T>(what: &str, text: &str) -> Result<T, ApiError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            &format!("invalid_{what}"),
            format!("invalid {what} {text:?}: {e}"),
        )
    })
}

fn is_forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED_HEADER)
}

enum BodyFormat {
    Bcs,
    Json,
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BodyFormat::Bcs);
    };
    let essence = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/octet-stream" | "" => Ok(BodyFormat::Bcs),
        "application/json" => Ok(BodyFormat::Json),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "content type {other:?}: use application/octet-stream (BCS) or application/json"
            ),
        )),
    }
}

/// Waits until the tip moves past what `rx` last saw, until `deadline` or shutdown. Returns
/// whether it moved.
pub(super) async fn wait_for_commit(
    rx: &mut watch::Receiver<ChainTip>,
    deadline: Instant,
    shutdown: &CancellationToken,
) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep_until(deadline) => false,
        r = rx.changed() => r.is_ok(),
    }
}

/// The committed transaction, waiting up to `wait` for it.
async fn wait_committed(
    ledger: &Ledger,
    digest: &TxDigest,
    wait: Duration,
    shutdown: &CancellationToken,
) -> Result<Option<CommittedTx>, ApiError> {
    let deadline = Instant::now() + wait.min(MAX_WAIT);
    let mut rx = ledger.subscribe();
    loop {
        rx.borrow_and_update();
        if let Some(c) = ledger.transaction(digest).map_err(ApiError::internal)? {
            return Ok(Some(c));
        }
        if !wait_for_commit(&mut rx, deadline, shutdown).await {
            return Ok(None);
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SubmitQuery {
    #[serde(default)]
    wait: bool,
    timeout_ms: Option<u64>,
}

/// `POST /v1/transactions`.
pub(super) async fn submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<SubmitQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let format = body_format(&headers)?;
    let bytes = body_bytes(body)?;
    let tx = match format {
        BodyFormat::Bcs => SignedTransaction::decode(&bytes).map_err(SubmitError::Invalid)?,
        BodyFormat::Json => serde_json::from_slice::<SignedTransaction>(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("invalid JSON transaction: {e}"),
            )
        })?,
    };
    let digest = tx.digest();
    let result = st
        .ledger
        .submit(std::slice::from_ref(&tx))
        .pop()
        .unwrap_or(Err(SubmitError::Mempool(MempoolError::Full {
            what: "no admission result".into(),
        })));
    let admission = match result {
        Ok((_, admission)) => {
            if admission == Admission::Added && !is_forwarded(&headers) {
                st.forwarder.forward([tx]);
            }
            tracing::debug!(%digest, ?admission, "transaction submitted");
            AdmissionStatus::from(admission)
        }
        // Resubmitting a committed transaction while waiting returns its status.
        Err(
            e @ SubmitError::Mempool(
                MempoolError::NonceTooLow { .. } | MempoolError::AlreadyCommitted(_),
            ),
        ) if q.wait => {
            return match st.ledger.transaction(&digest).map_err(ApiError::internal)? {
                Some(c) => Ok(Json(TxResponse::from(c)).into_response()),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    if !q.wait {
        return Ok(Json(SubmitResponse { digest, admission }).into_response());
    }
    let wait = q
        .timeout_ms
        .map_or(DEFAULT_SUBMIT_WAIT, Duration::from_millis)
        .min(MAX_WAIT);
    let shutdown = st.forwarder.shutdown();
    match wait_committed(&st.ledger, &digest, wait, shutdown).await? {
        Some(c) => Ok(Json(TxResponse::from(c)).into_response()),
        None => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "transaction {digest} not committed within {} ms",
                wait.as_millis()
            ),
        )
        .with_pending(st.ledger.is_pending(&digest))),
    }
}

/// `POST /v1/transactions/batch`.
pub(super) async fn submit_batch(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResponse>, ApiError> {
    let bytes = body_bytes(body)?;
    let txs: Vec<SignedTransaction> =
        floe_common::codec::decode(&bytes, MAX_BATCH_BODY).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("invalid BCS transaction batch: {e}"),
            )
        })?;
    if txs.len() > MAX_BATCH_TXS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_transactions",
            format!("{} transactions, at most {MAX_BATCH_TXS}", txs.len()),
        ));
    }
    let ledger = st.ledger.clone();
    let (txs, results) = tokio::task::spawn_blocking(move || {
        let results = ledger.submit(&txs);
        (txs, results)
    })
    .await
    .map_err(ApiError::internal)?;
    let forwarded = is_forwarded(&headers);
    let mut to_forward = Vec::new();
    let mut items = Vec::with_capacity(txs.len());
    for (tx, result) in txs.into_iter().zip(results) {
        let item = match result {
            Ok((digest, admission)) => {
                if admission == Admission::Added && !forwarded {
                    to_forward.push(tx);
                }
                BatchItem {
                    digest,
                    admission: Some(admission.into()),
                    error: None,
                }
            }
            Err(e) => BatchItem {
                digest: tx.digest(),
                admission: None,
                error: Some(ApiError::from(e).body().clone()),
            },
        };
        items.push(item);
    }
    tracing::debug!(
        txs = items.len(),
        forwarded,
        new = to_forward.len(),
        "transaction batch submitted"
    );
    st.forwarder.forward(to_forward);
    Ok(Json(BatchResponse { results: items }))
}

#[derive(Debug, Deserialize)]
pub(super) struct TxQuery {
    wait_ms: Option<u64>,
}

/// `GET /v1/transactions/{digest}`.
pub(super) async fn transaction(
    State(st): State<AppState>,
    Path(digest): Path<String>,
    q: Result<Query<TxQuery>, QueryRejection>,
) -> Result<Json<TxResponse>, ApiError> {
    let q = query(q)?;
    let digest: TxDigest = parse("digest", &digest)?;
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(0));
    match wait_committed(&st.ledger, &digest, wait, st.forwarder.shutdown()).await? {
        Some(c) => Ok(Json(c.into())),
        None => {
            let pending = st.ledger.is_pending(&digest);
            Err(ApiError::not_found(
                "unknown_transaction",
                format!(
                    "transaction {digest} is not committed ({})",
                    if pending { "pending" } else { "not pending" }
                ),
            )
            .with_pending(pending))
        }
    }
}
