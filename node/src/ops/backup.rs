//! `floe-node backup`: a checkpoint of a running node's store, made by the node itself.
//!
//! RocksDB lets one process open a store, so the command asks the running node: it sends
//! `POST /admin/checkpoint` ([`crate::http::admin`]) to the node's `http_listen` over loopback
//! (an unspecified listen address such as `0.0.0.0` is reached at `127.0.0.1`, `::` at `::1`),
//! with the output directory made absolute. The node writes the checkpoint with its own
//! permissions and answers the checkpoint's ledger cursor. The output directory must not exist;
//! its parent is created if missing.
//!
//! A checkpoint on the store's file system shares its table files with the store through hard
//! links (it costs almost no space until compaction rewrites them); to keep it elsewhere, copy
//! the directory after. [`super::restore`] puts one back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ErrorKind;
use crate::http::admin::{AdminError, CHECKPOINT_PATH, CheckpointRequest, CheckpointResponse};

/// Longest wait to connect to the node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The output directory exists.
    #[error("{} exists; a checkpoint goes to a new directory", path.display())]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// The output path could not be made absolute, or its parent created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The node's HTTP endpoint did not answer (is the node running?).
    #[error("cannot reach the node at {url} (is it running?): {source}")]
    NodeUnreachable {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The node refused or failed the checkpoint.
    #[error("the node answered {status}: {message} [{code}]")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The node's error code (`forbidden`, `bad_request`, `exists`, `checkpoint_failed`).
        code: String,
        /// The node's message.
        message: String,
    },
    /// The node's answer did not decode.
    #[error("unexpected answer from {url}: {source}")]
    Response {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
}

impl BackupError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BackupError::Exists { .. } | BackupError::Io { .. } => ErrorKind::Local,
            BackupError::Refused { .. } => ErrorKind::Rejected,
            BackupError::NodeUnreachable { .. } | BackupError::Response { .. } => {
                ErrorKind::Network
            }
        }
    }

    /// A stable snake-case code for scripts (for a refusal, the node's code).
    pub fn code(&self) -> &str {
        match self {
            BackupError::Exists { .. } => "exists",
            BackupError::Io { .. } => "io",
            BackupError::NodeUnreachable { .. } => "node_unreachable",
            BackupError::Refused { code, .. } => code,
            BackupError::Response { .. } => "bad_answer",
        }
    }
}

/// Where to reach a node listening on `http_listen` from the same host: the address itself,
/// or loopback for an unspecified one.
pub fn admin_address(http_listen: SocketAddr) -> SocketAddr {
    match http_listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), http_listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), http_listen.port())
        }
        _ => http_listen,
    }
}

/// Asks the node listening on `http_listen` to write a checkpoint of its store to `out`.
pub async fn backup(
    http_listen: SocketAddr,
    out: &Path,
) -> Result<CheckpointResponse, BackupError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    let dir = std::path::absolute(out).map_err(io(out))?;
    if dir.symlink_metadata().is_ok() {
        return Err(BackupError::Exists { path: dir });
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let url = format!("http://{}{CHECKPOINT_PATH}", admin_address(http_listen));
    let http = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|source| BackupError::NodeUnreachable {
            url: url.clone(),
            source,
        })?;
    let answer = http
        .post(&url)
        .json(&CheckpointRequest { dir })
        .send()
        .await
        .map_err(|source| BackupError::NodeUnreachable {
            url: url.clone(),
            source,
        })?;
    let status = answer.status();
    if !status.is_success() {
        let error = answer
            .json::<AdminError>()
            .await
            .unwrap_or_else(|e| AdminError {
                code: "unknown".into(),
                message: e.to_string(),
            });
        return Err(BackupError::Refused {
            status: status.as_u16(),
            code: error.code,
            message: error.message,
        });
    }
    let made: CheckpointResponse = answer
        .json()
        .await
        .map_err(|source| BackupError::Response { url, source })?;
    tracing::info!(dir = %made.dir.display(), ledger_height = made.ledger_height, "checkpoint written");
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_reached_over_loopback() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(admin_address(a("0.0.0.0:29001")), a("127.0.0.1:29001"));
        assert_eq!(admin_address(a("[::]:29001")), a("[::1]:29001"));
        assert_eq!(admin_address(a("127.0.0.1:29001")), a("127.0.0.1:29001"));
        assert_eq!(admin_address(a("10.1.2.3:29001")), a("10.1.2.3:29001"));
    }

    /// No node listening: a network-kind error, and an existing output is refused before the
    /// node is asked.
    #[tokio::test]
    async fn backup_errors_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let err = backup(addr, &dir.path().join("cp")).await.unwrap_err();
        assert!(
            matches!(err, BackupError::NodeUnreachable { .. }),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Network);
        let err = backup(addr, dir.path()).await.unwrap_err();
        assert!(matches!(err, BackupError::Exists { .. }), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Local);
    }
}
