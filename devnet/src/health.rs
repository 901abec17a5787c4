//! Status of the devnet's processes and waiting for readiness, over their HTTP endpoints:
//! `GET /v1/health` of a validator, `GET /health` of a storage node.

use std::time::{Duration, Instant};

use floe_ledger_types::rpc::HealthResponse;
use floe_node::http::HttpHealth;
use serde::{Deserialize, Serialize};

use crate::devnet::{Devnet, Event};
use crate::error::DevnetError;
use crate::manifest::{ProcessKind, ProcessSpec};

/// Whether a process is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Alive.
    Up,
    /// Not running.
    Down,
}

/// One process's status (`floe-devnet status --json` prints a [`NetworkStatus`] of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// Name.
    pub name: String,
    /// Validator or storage node.
    pub kind: ProcessKind,
    /// Pid, when running.
    pub pid: Option<u32>,
    /// Running or not.
    pub state: State,
    /// Whether its health endpoint answered.
    pub healthy: bool,
    /// Base URL of its HTTP endpoint (validator RPC, node health and metrics).
    pub address: String,
    /// Validator: its ledger height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Node: its epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Node: the last ledger block it applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_height: Option<u64>,
    /// Node: shards it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<usize>,
    /// Node: bytes of slivers and metadata stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
    /// Why the health endpoint did not answer, when running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole devnet's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    /// The devnet folder.
    pub dir: std::path::PathBuf,
    /// The chain id.
    pub chain_id: String,
    /// Pid of the `floe-devnet up` supervising it, if any.
    pub supervisor: Option<u32>,
    /// Every process, validators first.
    pub processes: Vec<ProcessStatus>,
}

impl NetworkStatus {
    /// The status of `name`.
    pub fn process(&self, name: &str) -> Option<&ProcessStatus> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// The highest height a validator reports.
    pub fn ledger_height(&self) -> Option<u64> {
        self.processes.iter().filter_map(|p| p.height).max()
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
) -> Result<T, reqwest::Error> {
    // The errors name the URL.
    http.get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

async fn probe(http: &reqwest::Client, spec: &ProcessSpec, pid: Option<u32>) -> ProcessStatus {
    let mut status = ProcessStatus {
        name: spec.name.clone(),
        kind: spec.kind,
        pid,
        state: if pid.is_some() {
            State::Up
        } else {
            State::Down
        },
        healthy: false,
        address: spec.http_url(),
        height: None,
        epoch: None,
        ledger_height: None,
        shards: None,
        stored_bytes: None,
        error: None,
    };
    if pid.is_none() {
        return status;
    }
    match spec.kind {
        ProcessKind::Validator => {
            match get_json::<HealthResponse>(http, format!("{}/v1/health", status.address)).await {
                Ok(h) => {
                    status.healthy = true;
                    status.height = Some(h.height);
                }
                Err(e) => status.error = Some(e.to_string()),
            }
        }
        ProcessKind::Node => {
            match get_json::<HttpHealth>(http, format!("{}/health", status.address)).await {
                Ok(h) if h.status == "ok" => {
                    status.healthy = true;
                    status.epoch = Some(h.health.epoch.get());
                    status.ledger_height = Some(h.health.ledger_height);
                    status.shards = Some(h.health.shards.len());
                    status.stored_bytes = Some(h.health.stored_bytes);
                }
                Ok(h) => status.error = Some(format!("status {:?}", h.status)),
                Err(e) => status.error = Some(e.to_string()),
            }
        }
    }
    status
}

impl Devnet {
    /// Every process's status: pid and, for running ones, what its health endpoint says
    /// (queried concurrently, 2 s timeout each).
    pub async fn status(&self) -> NetworkStatus {
        let probes = self
            .processes()
            .iter()
            .map(|spec| probe(&self.http, spec, self.running_pid(spec)));
        NetworkStatus {
            dir: self.dir().to_owned(),
            chain_id: self.chain_id().to_owned(),
            supervisor: self.supervisor(),
            processes: futures::future::join_all(probes).await,
        }
    }

    /// The status of one process.
    pub async fn process_status(&self, name: &str) -> Result<ProcessStatus, DevnetError> {
        let spec = self.process(name)?;
        Ok(probe(&self.http, spec, self.running_pid(spec)).await)
    }

    /// Waits until every validator answers, the ledger height grows (blocks are being
    /// finalised), and every storage node's `/health` answers. Fails as soon as a process
    /// exits (with its log tail), or after `timeout`.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<NetworkStatus, DevnetError> {
        let start = Instant::now();
        let mut base: Option<u64> = None;
        loop {
            self.fail_on_exit(None)?;
            let status = self.status().await;
            let mut waiting: Vec<String> = status
                .processes
                .iter()
                .filter(|p| !p.healthy)
                .map(|p| p.name.clone())
                .collect();
            let validators_up = status
                .processes
                .iter()
                .all(|p| p.kind != ProcessKind::Validator || p.healthy);
            let height = status.ledger_height();
            if validators_up && base.is_none() {
                base = height;
            }
            if !matches!((base, height), (Some(b), Some(h)) if h > b) {
                waiting.push("ledger height".into());
            }
            if waiting.is_empty() {
                return Ok(status);
            }
            if start.elapsed() >= timeout {
                return Err(DevnetError::NotReady {
                    secs: timeout.as_secs(),
                    waiting,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until `name`'s health endpoint answers; fails if a process exits or after
    /// `timeout`.
    pub async fn wait_healthy(
        &mut self,
        name: &str,
        timeout: Duration,
    ) -> Result<ProcessStatus, DevnetError> {
        let start = Instant::now();
        loop {
            self.fail_on_exit(Some(name))?;
            let status = self.process_status(name).await?;
            if status.healthy {
                return Ok(status);
            }
            if start.elapsed() >= timeout {
                return Err(DevnetError::NotReady {
                    secs: timeout.as_secs(),
                    waiting: vec![name.to_owned()],
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls, failing on the first exit (of `only`, if given); other events are kept for the
    /// next [`Devnet::poll`].
    fn fail_on_exit(&mut self, only: Option<&str>) -> Result<(), DevnetError> {
        let mut keep = Vec::new();
        let mut failure = None;
        for event in self.poll() {
            match event {
                Event::Exited(exit) if failure.is_none() && only.is_none_or(|n| n == exit.name) => {
                    failure = Some(exit.into_error());
                }
                other => keep.push(other),
            }
        }
        self.pending.extend(keep);
        failure.map_or(Ok(()), Err)
    }
}
