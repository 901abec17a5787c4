//! Operator routes on the node's HTTP listener, answered only to loopback peers.
//!
//! `POST /admin/checkpoint` with the JSON body `{"dir": "/absolute/path"}` writes a checkpoint
//! of the running node's store to `dir` ([`Storage::checkpoint`]) and answers
//! [`CheckpointResponse`] (the checkpoint's ledger cursor, read back from it). RocksDB lets one
//! process open a store, so a backup of a running node has to be made by the node itself;
//! `floe-node backup` calls this route.
//!
//! The peer's address is checked before anything else, the body included: a request from any
//! address that is not loopback (`127.0.0.0/8`, `::1`, or their IPv4-mapped forms) is
//! answered `403` with code `forbidden`. `http_listen` may be a public address (for
//! `/metrics`); the admin routes stay local. Errors are JSON [`AdminError`]s: `400`
//! `bad_request` (no JSON body, a relative path, a missing parent directory), `409` `exists`
//! (the directory exists), `500` `checkpoint_failed`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use floe_common::Epoch;
use serde::{Deserialize, Serialize};

use crate::storage::Storage;

/// The checkpoint route.
pub const CHECKPOINT_PATH: &str = "/admin/checkpoint";

/// Body of `POST /admin/checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRequest {
    /// Where to write the checkpoint: an absolute path that does not exist, in an existing
    /// directory. The node's process writes it, with the node's permissions.
    pub dir: PathBuf,
}

/// Answer of `POST /admin/checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointResponse {
    /// The checkpoint's directory.
    pub dir: PathBuf,
    /// The last ledger block applied in the checkpoint (its follower cursor; 0: none).
    pub ledger_height: u64,
    /// The ledger epoch after that block.
    pub epoch: Epoch,
}

/// An admin route's error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminError {
    /// Stable code: `forbidden`, `bad_request`, `exists` or `checkpoint_failed`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = AdminError {
        code: code.to_owned(),
        message: message.into(),
    };
    (status, Json(body)).into_response()
}

/// Whether `peer` is a loopback address (IPv4-mapped IPv6 addresses count as their IPv4 form).
pub fn is_loopback(peer: &SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// The admin routes, on `storage`. They need the peer's address: serve them with
/// `into_make_service_with_connect_info::<SocketAddr>()` (without it every request fails).
pub fn router(storage: Arc<Storage>) -> Router {
    Router::new()
        .route(CHECKPOINT_PATH, post(checkpoint))
        .route_layer(axum::middleware::from_fn(require_loopback))
        .with_state(storage)
}

async fn require_loopback(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if !is_loopback(&peer) {
        tracing::warn!(%peer, path = %request.uri().path(), "admin request from a non-loopback peer refused");
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "admin routes answer loopback peers only",
        );
    }
    next.run(request).await
}

async fn checkpoint(
    State(storage): State<Arc<Storage>>,
    body: Result<Json<CheckpointRequest>, JsonRejection>,
) -> Response {
    let dir = match body {
        Ok(Json(r)) => r.dir,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
    };
    if !dir.is_absolute() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{} is not an absolute path", dir.display()),
        );
    }
    if dir.symlink_metadata().is_ok() {
        return refuse(
            StatusCode::CONFLICT,
            "exists",
            format!(
                "{} exists; a checkpoint goes to a new directory",
                dir.display()
            ),
        );
    }
    if !dir.parent().is_some_and(std::path::Path::is_dir) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the parent directory of {} does not exist", dir.display()),
        );
    }
    let target = dir.clone();
    let made = tokio::task::spawn_blocking(move || {
        storage.checkpoint(&target)?;
        Storage::open_read_only(&target, *storage.config())?.ledger_tip()
    })
    .await;
    match made {
        Ok(Ok(tip)) => {
            tracing::info!(dir = %dir.display(), ledger_height = tip.height, "checkpoint taken");
            Json(CheckpointResponse {
                dir,
                ledger_height: tip.height,
                epoch: tip.epoch,
            })
            .into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(dir = %dir.display(), error = %e, "checkpoint failed");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "checkpoint_failed",
                e.to_string(),
            )
        }
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "checkpoint_failed",
            format!("checkpoint task: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use axum::extract::connect_info::MockConnectInfo;
    use floe_common::EncodingConfig;

    use super::*;
    use crate::storage::StorageOptions;

    #[test]
    fn loopback_addresses() {
        let at = |ip: std::net::IpAddr| SocketAddr::new(ip, 4000);
        assert!(is_loopback(&at(Ipv4Addr::LOCALHOST.into())));
        assert!(is_loopback(&at(Ipv4Addr::new(127, 3, 2, 1).into())));
        assert!(is_loopback(&at(Ipv6Addr::LOCALHOST.into())));
        assert!(is_loopback(&at(Ipv4Addr::LOCALHOST
            .to_ipv6_mapped()
            .into())));
        for other in [
            std::net::IpAddr::from(Ipv4Addr::new(10, 0, 0, 1)),
            Ipv4Addr::new(203, 0, 113, 7).into(),
            Ipv4Addr::UNSPECIFIED.into(),
            Ipv6Addr::UNSPECIFIED.into(),
            Ipv4Addr::new(192, 168, 1, 1).to_ipv6_mapped().into(),
        ] {
            assert!(!is_loopback(&at(other)), "{other}");
        }
    }

    /// Serves the admin routes on a store, as if every request came from `peer`.
    async fn serve_as(peer: SocketAddr) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(
            Storage::open(
                &dir.path().join("db"),
                EncodingConfig::new(10).unwrap(),
                StorageOptions::default(),
            )
            .unwrap(),
        );
        let app = router(storage).layer(MockConnectInfo(peer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{CHECKPOINT_PATH}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (dir, url)
    }

    /// A request from a non-loopback peer is refused before the body is read: no
    /// checkpoint, `403 forbidden`, even for a valid body.
    #[tokio::test]
    async fn adv_checkpoint_route_refuses_non_loopback() {
        let (dir, url) = serve_as(SocketAddr::from(([203, 0, 113, 7], 5555))).await;
        let target = dir.path().join("checkpoint");
        let http = reqwest::Client::new();
        let answer = http
            .post(&url)
            .json(&CheckpointRequest {
                dir: target.clone(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::FORBIDDEN);
        let error: AdminError = answer.json().await.unwrap();
        assert_eq!(error.code, "forbidden");
        assert!(!target.exists(), "no checkpoint for a remote peer");
        // Even a malformed body is answered 403, not 400: nothing is parsed for strangers.
        let answer = http.post(&url).body("nope").send().await.unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::FORBIDDEN);
    }

    /// From loopback the checkpoint is written and opens as a store; a second one at the same
    /// place and relative paths are refused.
    #[tokio::test]
    async fn checkpoint_route_from_loopback() {
        let (dir, url) = serve_as(SocketAddr::from(([127, 0, 0, 1], 5555))).await;
        let target = dir.path().join("checkpoint");
        let http = reqwest::Client::new();
        let post = |body: CheckpointRequest| http.post(&url).json(&body).send();
        let answer = post(CheckpointRequest {
            dir: target.clone(),
        })
        .await
        .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::OK);
        let made: CheckpointResponse = answer.json().await.unwrap();
        assert_eq!(
            (made.dir.as_path(), made.ledger_height),
            (target.as_path(), 0)
        );
        assert!(target.join("CURRENT").is_file());
        let again = post(CheckpointRequest {
            dir: target.clone(),
        })
        .await
        .unwrap();
        assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
        let relative = post(CheckpointRequest {
            dir: PathBuf::from("relative/checkpoint"),
        })
        .await
        .unwrap();
        assert_eq!(relative.status(), reqwest::StatusCode::BAD_REQUEST);
        let orphan = post(CheckpointRequest {
            dir: dir.path().join("missing/checkpoint"),
        })
        .await
        .unwrap();
        assert_eq!(orphan.status(), reqwest::StatusCode::BAD_REQUEST);
    }
}
