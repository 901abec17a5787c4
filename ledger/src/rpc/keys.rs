//! The key server's routes: `POST /v1/keys/share` (a signed key request in, this validator's
//! encrypted share out, both BCS) and `GET /v1/key-servers` (the genesis list of key servers).
//! The checks are [`crate::keyserver`]'s.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use floe_ledger_types::KeyServers;

use super::{ApiError, AppState};
use crate::keyserver::KeyRequestError;

/// `GET /v1/key-servers`.
pub(super) async fn key_servers(State(st): State<AppState>) -> Result<Json<KeyServers>, ApiError> {
    st.ledger
        .genesis()
        .key_servers
        .clone()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no_key_servers", "this chain has no key servers"))
}

/// `POST /v1/keys/share`.
pub(super) async fn share(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let Some(server) = st.key_server.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_key_server",
            "this validator runs no key server",
        ));
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let answer = super::blocking(&st, move |ledger| {
        let tip_ms = ledger.tip().timestamp_ms;
        ledger.read(|state| server.answer(&body, state, tip_ms, now_ms))
    })
    .await?;
    match answer {
        Ok(share) => Ok((
            [(header::CONTENT_TYPE, "application/octet-stream")],
            share.to_bytes(),
        )
            .into_response()),
        Err(e) => {
            let status = match &e {
                KeyRequestError::Malformed(_)
                | KeyRequestError::WrongChain { .. }
                | KeyRequestError::StaleEpoch { .. }
                | KeyRequestError::StaleRequest { .. } => StatusCode::BAD_REQUEST,
                KeyRequestError::BadSignature(_) => StatusCode::UNAUTHORIZED,
                KeyRequestError::AccessDenied(_) => StatusCode::FORBIDDEN,
                KeyRequestError::Replayed(_) => StatusCode::CONFLICT,
                KeyRequestError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            tracing::debug!(code = e.code(), error = %e, "key request refused");
            Err(ApiError::new(status, e.code(), e.to_string()))
        }
    }
}
