//! The devnet's error type.

use std::path::PathBuf;

/// A devnet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file did not parse (JSON, TOML, YAML or a key).
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key file could not be written or read, or group or others can read it.
    #[error(transparent)]
    KeyFile(#[from] floe_runtime::SecretFileError),
    /// The requested network shape is not possible.
    #[error("invalid options: {0}")]
    Options(String),
    /// [`crate::Devnet::generate`] found an existing devnet.
    #[error("a devnet already exists in {} (remove the folder to start a new one)", .0.display())]
    Exists(PathBuf),
    /// No `devnet.json` in the folder.
    #[error("no devnet in {} (run `floe-devnet up --dir {}` first)", .0.display(), .0.display())]
    NotFound(PathBuf),
    /// The folder was moved after generation; its configuration files hold absolute paths.
    #[error(
        "the devnet in {} was created in {}; its configuration files hold absolute paths, so move it back (or remove it and start a new one)",
        now.display(),
        was.display()
    )]
    Moved {
        /// Where it was created.
        was: PathBuf,
        /// Where it is now.
        now: PathBuf,
    },
    /// The generated genesis is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] floe_ledger::GenesisError),
    /// No process of that name.
    #[error("no process named {0:?} in this devnet (see `floe-devnet status`)")]
    UnknownProcess(String),
    /// The process (or another `up`) is already running.
    #[error("{name} is already running (pid {pid})")]
    AlreadyRunning {
        /// Process name (`up` for the supervisor).
        name: String,
        /// Its pid.
        pid: u32,
    },
    /// A port of the process is taken by another program.
    #[error("{name}: {addr} is in use by another program")]
    PortInUse {
        /// Process name.
        name: String,
        /// The address.
        addr: String,
    },
    /// The process could not be spawned.
    #[error("starting {name}: {source}")]
    Spawn {
        /// Process name.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Sending a signal failed (other than "no such process").
    #[error("signalling pid {pid}: {errno}")]
    Signal {
        /// The pid.
        pid: u32,
        /// Why.
        errno: nix::errno::Errno,
    },
    /// A process exited while the devnet was waiting for it.
    #[error("{name} exited ({status}); last lines of {}:\n{tail}", log.display())]
    Exited {
        /// Process name.
        name: String,
        /// Exit status, as text.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// The network did not become ready in time.
    #[error("not ready after {secs} s; still waiting for: {}", waiting.join(", "))]
    NotReady {
        /// The timeout.
        secs: u64,
        /// What was missing (process names, `ledger height`).
        waiting: Vec<String>,
    },
    /// A ledger call failed.
    #[error("ledger: {0}")]
    Ledger(#[from] floe_ledger::ClientError),
    /// The demo could not connect to the network.
    #[error("demo: connecting: {0}")]
    DemoConnect(#[from] floe_client::blobs::ConnectError),
    /// The demo store failed.
    #[error("demo: store: {0}")]
    DemoStore(#[from] floe_client::blobs::StoreError),
    /// The demo read failed.
    #[error("demo: read: {0}")]
    DemoRead(#[from] floe_client::blobs::ReadError),
    /// The demo site's ledger connection failed.
    #[error("demo site: {0}")]
    DemoSite(floe_client::FloeError),
    /// The demo site could not be published.
    #[error("demo site: {0}")]
    DemoSiteSetup(String),
    /// The demo read back other bytes than it stored.
    #[error("demo: blob {0} read back different bytes")]
    DemoMismatch(floe_common::BlobId),
}

impl DevnetError {
    /// An IO error on `path` (for `map_err`).
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DevnetError {
        let path = path.into();
        move |source| DevnetError::Io { path, source }
    }

    /// A parse error on `path` (for `map_err`).
    pub(crate) fn parse<E: std::fmt::Display>(
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(E) -> DevnetError {
        let path = path.into();
        move |e| DevnetError::Parse {
            path,
            reason: e.to_string(),
        }
    }
}
