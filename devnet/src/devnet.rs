//! [`Devnet`]: a devnet folder and the processes it runs.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use floe_client::ClientConfig;
use floe_common::KeyPair;
use floe_ledger::{Genesis, LedgerClient};
use nix::sys::signal::Signal;

use crate::error::DevnetError;
use crate::manifest::{self, DevnetOptions, MANIFEST_FILE, Manifest, ProcessKind, ProcessSpec};
use crate::process;

/// Lines of a log shown when a process exits.
pub const LOG_TAIL_LINES: usize = 20;
/// How long [`Devnet::stop`] and [`Devnet::stop_all`] wait after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Name of the supervisor's pid file (`run/up.pid`).
const SUPERVISOR: &str = "up";
/// How long a start waits for the ports of a just-stopped process to be released.
const PORT_RELEASE: Duration = Duration::from_secs(5);

/// A process of the devnet exited.
#[derive(Debug)]
pub struct Exit {
    /// Process name.
    pub name: String,
    /// Its pid.
    pub pid: u32,
    /// Its exit status, when it was a child of this handle.
    pub status: Option<ExitStatus>,
    /// Whether someone asked for it ([`Devnet::kill`] or [`Devnet::stop`], possibly from another
    /// `floe-devnet` command, which removes the pid file first). `false` means a crash.
    pub requested: bool,
    /// Its log file.
    pub log: PathBuf,
    /// The last lines of its log.
    pub tail: String,
}

impl Exit {
    /// The exit status as text (`exit status: 1`, `signal: 9 (SIGKILL)`, or `unknown` for a
    /// process started by another command).
    pub fn status_text(&self) -> String {
        self.status
            .map_or_else(|| "status unknown".to_owned(), |s| s.to_string())
    }

    /// This exit as an error.
    pub fn into_error(self) -> DevnetError {
        DevnetError::Exited {
            status: self.status_text(),
            name: self.name,
            log: self.log,
            tail: self.tail,
        }
    }
}

/// Something [`Devnet::poll`] noticed.
#[derive(Debug)]
pub enum Event {
    /// A process exited.
    Exited(Exit),
    /// A process was started by another command (e.g. `floe-devnet restart`).
    Adopted {
        /// Process name.
        name: String,
        /// Its pid.
        pid: u32,
    },
}

/// A devnet folder (see [`crate::manifest`] for its layout) and the processes this handle
/// started.
///
/// Processes are found through their pid files, so any handle (in any process) can see, stop,
/// kill and start them; only the handle that started a process gets its exit status. Dropping
/// the handle kills the processes it started unless [`Devnet::set_stop_on_drop`] turned that
/// off. Process control is blocking; health checks are async.
pub struct Devnet {
    dir: PathBuf,
    manifest: Manifest,
    exe: PathBuf,
    children: BTreeMap<String, Child>,
    /// Pids last seen alive (children and processes started elsewhere).
    watched: BTreeMap<String, u32>,
    /// Events taken by a wait that did not concern it, for the next [`Devnet::poll`].
    pub(crate) pending: Vec<Event>,
    stop_on_drop: bool,
    pub(crate) http: reqwest::Client,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("dir", &self.dir)
            .field("chain_id", &self.manifest.chain_id)
            .field("exe", &self.exe)
            .field("children", &self.children.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn absolute(dir: &Path) -> Result<PathBuf, DevnetError> {
    std::fs::canonicalize(dir).map_err(DevnetError::io(dir))
}

impl Devnet {
    /// Whether `dir` holds a devnet (`devnet.json`).
    pub fn exists(dir: &Path) -> bool {
        dir.join(MANIFEST_FILE).is_file()
    }

    /// Generates a new devnet in `dir` (created if missing); fails if one exists there.
    pub fn generate(dir: &Path, opts: &DevnetOptions) -> Result<Self, DevnetError> {
        std::fs::create_dir_all(dir).map_err(DevnetError::io(dir))?;
        let dir = absolute(dir)?;
        if Self::exists(&dir) {
            return Err(DevnetError::Exists(dir));
        }
        let manifest = manifest::generate(&dir, opts)?;
        Ok(Self::new(dir, manifest))
    }

    /// Loads the devnet in `dir`.
    pub fn load(dir: &Path) -> Result<Self, DevnetError> {
        if !Self::exists(dir) {
            return Err(DevnetError::NotFound(dir.to_owned()));
        }
        let dir = absolute(dir)?;
        let manifest = manifest::load(&dir)?;
        Ok(Self::new(dir, manifest))
    }

    /// Loads the devnet in `dir`, or generates one with `opts`; `true` if it was loaded.
    pub fn open(dir: &Path, opts: &DevnetOptions) -> Result<(Self, bool), DevnetError> {
        if Self::exists(dir) {
            Ok((Self::load(dir)?, true))
        } else {
            Ok((Self::generate(dir, opts)?, false))
        }
    }

    fn new(dir: PathBuf, manifest: Manifest) -> Self {
        Self {
            dir,
            manifest,
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("floe-devnet")),
            children: BTreeMap::new(),
            watched: BTreeMap::new(),
            pending: Vec::new(),
            stop_on_drop: true,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Uses `exe` (a `floe-devnet` binary) to run processes instead of the current executable;
    /// a test passes `env!("CARGO_BIN_EXE_floe-devnet")`.
    pub fn with_executable(mut self, exe: impl Into<PathBuf>) -> Self {
        self.exe = exe.into();
        self
    }

    /// Whether dropping this handle kills the processes it started (default `true`).
    pub fn set_stop_on_drop(&mut self, on: bool) {
        self.stop_on_drop = on;
    }

    /// The devnet folder (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The network description.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.manifest.chain_id
    }

    /// Validators, then storage nodes.
    pub fn processes(&self) -> &[ProcessSpec] {
        &self.manifest.processes
    }

    /// The process called `name`.
    pub fn process(&self, name: &str) -> Result<&ProcessSpec, DevnetError> {
        self.manifest
            .processes
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| DevnetError::UnknownProcess(name.to_owned()))
    }

    /// The processes of one kind.
    pub fn processes_of(&self, kind: ProcessKind) -> impl Iterator<Item = &ProcessSpec> {
        self.manifest
            .processes
            .iter()
            .filter(move |p| p.kind == kind)
    }

    /// `path` resolved against the devnet folder.
    pub fn path(&self, path: &Path) -> PathBuf {
        self.dir.join(path)
    }

    /// The log file of a process (`logs/NAME.log`).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// The pid file of a process (`run/NAME.pid`).
    pub fn pid_path(&self, name: &str) -> PathBuf {
        self.dir.join("run").join(format!("{name}.pid"))
    }

    /// The last lines of a process's log.
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        process::log_tail(&self.log_path(name), lines)
    }

    /// The genesis.
    pub fn genesis(&self) -> Result<Genesis, DevnetError> {
        manifest::read_json(&self.path(&self.manifest.genesis))
    }

    /// The client wallet's key.
    pub fn wallet(&self) -> Result<KeyPair, DevnetError> {
        manifest::read_key(&self.path(&self.manifest.wallet))
    }

    /// The validators' RPC base URLs.
    pub fn validator_urls(&self) -> Vec<String> {
        self.processes_of(ProcessKind::Validator)
            .map(ProcessSpec::http_url)
            .collect()
    }

    /// A ledger client over every validator.
    pub fn ledger_client(&self) -> LedgerClient {
        LedgerClient::new(self.validator_urls())
    }

    /// The client configuration of this devnet (wallet and genesis paths relative to the
    /// folder: the client proves ledger claims against the devnet's validators).
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            ledger_rpc: self.validator_urls(),
            wallet: self.manifest.wallet.clone(),
            default_epochs: 5,
            n_shards: self.genesis().ok().map(|g| g.n_shards),
            chain_id: Some(self.manifest.chain_id.clone()),
            max_fee: None,
            genesis: Some(self.manifest.genesis.clone()),
        }
    }

    /// Writes the client configuration (`client.yaml`) and returns its path.
    pub fn write_client_config(&self) -> Result<PathBuf, DevnetError> {
        let path = self.path(&self.manifest.client_config);
        let text = format!(
            "# Written by floe-devnet for chain {}; the wallet path is relative to this file.\n{}",
            self.manifest.chain_id,
            self.client_config().to_yaml()
        );
        manifest::write_file(&path, text.as_bytes(), false)?;
        Ok(path)
    }

    /// The argument that identifies a process on its command line.
    fn marker(&self, spec: &ProcessSpec) -> OsString {
        self.path(&spec.config).into_os_string()
    }

    /// The pid of `name` if it is running (per its pid file, or as a child of this handle).
    pub fn pid(&self, name: &str) -> Result<Option<u32>, DevnetError> {
        let spec = self.process(name)?;
        Ok(self.running_pid(spec))
    }

    pub(crate) fn running_pid(&self, spec: &ProcessSpec) -> Option<u32> {
        let marker = self.marker(spec);
        let child = self.children.get(&spec.name).map(Child::id);
        let alive = |pid: u32| {
            if Some(pid) == child {
                process::alive(pid, None)
            } else {
                process::alive(pid, Some(&marker))
            }
        };
        process::read_pid(&self.pid_path(&spec.name))
            .filter(|&pid| alive(pid))
            .or_else(|| child.filter(|&pid| alive(pid)))
    }

    /// The running processes and their pids.
    pub fn running(&self) -> Vec<(String, u32)> {
        self.manifest
            .processes
            .iter()
            .filter_map(|p| Some((p.name.clone(), self.running_pid(p)?)))
            .collect()
    }

    /// Fails with [`DevnetError::AlreadyRunning`] if any process of the devnet is running.
    pub fn ensure_stopped(&self) -> Result<(), DevnetError> {
        match self.running().into_iter().next() {
            Some((name, pid)) => Err(DevnetError::AlreadyRunning { name, pid }),
            None => Ok(()),
        }
    }

    /// The pid of a running `floe-devnet up` supervising this devnet.
    pub fn supervisor(&self) -> Option<u32> {
        process::read_pid(&self.pid_path(SUPERVISOR))
            .filter(|&pid| pid != std::process::id() && process::alive(pid, Some(OsStr::new("up"))))
    }

    /// Records the current process as this devnet's supervisor (`run/up.pid`); fails if
    /// another supervisor is running.
    pub fn claim_supervisor(&self) -> Result<(), DevnetError> {
        if let Some(pid) = self.supervisor() {
            return Err(DevnetError::AlreadyRunning {
                name: "floe-devnet up".into(),
                pid,
            });
        }
        process::write_pid(&self.pid_path(SUPERVISOR), std::process::id())
    }

    /// Removes `run/up.pid` if it names the current process.
    pub fn release_supervisor(&self) {
        process::remove_pid(&self.pid_path(SUPERVISOR), Some(std::process::id()));
    }

    /// Fails with [`DevnetError::PortInUse`] if a port of `name` cannot be bound now.
    pub fn check_ports(&self, name: &str) -> Result<(), DevnetError> {
        let spec = self.process(name)?;
        let addrs = [Some(spec.http_listen.port()), spec.p2p_port()];
        for port in addrs.into_iter().flatten() {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(DevnetError::PortInUse {
                    name: name.to_owned(),
                    addr: format!("127.0.0.1:{port}"),
                });
            }
        }
        Ok(())
    }

    /// [`Self::check_ports`], retried for up to [`PORT_RELEASE`]: a multi-threaded process that
    /// was just killed shows as a zombie while its other threads still hold its sockets.
    fn wait_for_ports(&self, name: &str) -> Result<(), DevnetError> {
        let deadline = Instant::now() + PORT_RELEASE;
        loop {
            match self.check_ports(name) {
                Err(DevnetError::PortInUse { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// Starts `name` (`floe-devnet validator|node --config …`, output appended to its log) and
    /// writes its pid file. Fails if it is already running or a port of it is taken.
    pub fn start(&mut self, name: &str) -> Result<u32, DevnetError> {
        let spec = self.process(name)?.clone();
        if let Some(pid) = self.running_pid(&spec) {
            return Err(DevnetError::AlreadyRunning {
                name: spec.name,
                pid,
            });
        }
        // Reap an exited child of the same name first.
        if let Some(mut old) = self.children.remove(name) {
            let _ = old.try_wait();
        }
        let config = self.marker(&spec);
        let run = [
            OsStr::new(spec.kind.subcommand()),
            OsStr::new("--config"),
            &config,
        ];
        // In a namespace of its own, `ip netns exec` runs it there (and execs into it, so the
        // pid is the process's). Its ports are not this namespace's to check.
        let (exe, args): (&Path, Vec<&OsStr>) = match spec.netns.as_deref() {
            Some(ns) => {
                let prefix = [OsStr::new("netns"), OsStr::new("exec"), OsStr::new(ns)];
                let args = prefix.into_iter().chain([self.exe.as_os_str()]).chain(run);
                (Path::new("ip"), args.collect())
            }
            None => {
                self.wait_for_ports(name)?;
                (self.exe.as_path(), run.to_vec())
            }
        };
        let child = process::spawn(exe, &args, &self.dir, &self.log_path(name), name)?;
        let pid = child.id();
        process::write_pid(&self.pid_path(name), pid)?;
        tracing::debug!(name, pid, "process started");
        self.children.insert(name.to_owned(), child);
        self.watched.insert(name.to_owned(), pid);
        Ok(pid)
    }

    /// Starts every process that is not running (validators first); returns the started ones.
    pub fn start_all(&mut self) -> Result<Vec<(String, u32)>, DevnetError> {
        let names: Vec<String> = self
            .manifest
            .processes
            .iter()
            .filter(|p| self.running_pid(p).is_none())
            .map(|p| p.name.clone())
            .collect();
        let mut started = Vec::with_capacity(names.len());
        for name in names {
            let pid = self.start(&name)?;
            started.push((name, pid));
        }
        Ok(started)
    }

    /// Kills `name` with SIGKILL, like a crash, and waits until it is gone; its pid file is
    /// removed. Returns its pid, or `None` if it was not running.
    pub fn kill(&mut self, name: &str) -> Result<Option<u32>, DevnetError> {
        let stopped = self.terminate(&[name.to_owned()], Signal::SIGKILL, Duration::ZERO)?;
        Ok(stopped.into_iter().next().map(|(_, pid)| pid))
    }

    /// Stops `name`: SIGTERM, up to `grace` to exit, then SIGKILL; its pid file is removed.
    /// Returns its pid, or `None` if it was not running.
    pub fn stop(&mut self, name: &str, grace: Duration) -> Result<Option<u32>, DevnetError> {
        let stopped = self.terminate(&[name.to_owned()], Signal::SIGTERM, grace)?;
        Ok(stopped.into_iter().next().map(|(_, pid)| pid))
    }

    /// Stops (if running) and starts `name` again with the same configuration.
    pub fn restart(&mut self, name: &str, grace: Duration) -> Result<u32, DevnetError> {
        self.stop(name, grace)?;
        self.start(name)
    }

    /// Stops every process (storage nodes are signalled first, all within one `grace`
    /// period), removes every pid file, and returns the processes that were running.
    pub fn stop_all(&mut self, grace: Duration) -> Result<Vec<(String, u32)>, DevnetError> {
        let names: Vec<String> = self
            .manifest
            .processes
            .iter()
            .rev()
            .map(|p| p.name.clone())
            .collect();
        self.terminate(&names, Signal::SIGTERM, grace)
    }

    /// Sends `sig` to the named processes, waits up to `grace` for them to exit, SIGKILLs the
    /// rest, waits for them, and removes their pid files.
    fn terminate(
        &mut self,
        names: &[String],
        sig: Signal,
        grace: Duration,
    ) -> Result<Vec<(String, u32)>, DevnetError> {
        let mut targets = Vec::new();
        for name in names {
            let spec = self.process(name)?;
            let running = self.running_pid(spec);
            let marker = self.marker(spec);
            // Remove the pid file before signalling: a supervisor watching this process then
            // knows the exit was requested.
            process::remove_pid(&self.pid_path(name), None);
            self.watched.remove(name);
            match running {
                Some(pid) => targets.push((name.clone(), pid, marker)),
                None => {
                    if let Some(mut child) = self.children.remove(name) {
                        let _ = child.try_wait();
                    }
                }
            }
        }
        for (_, pid, _) in &targets {
            process::send(*pid, sig)?;
        }
        let deadline = Instant::now() + grace;
        let mut left: Vec<&(String, u32, OsString)> = targets.iter().collect();
        loop {
            left.retain(|(n, p, m)| !self.gone(n, *p, m));
            if left.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for (name, pid, _) in &left {
            if sig != Signal::SIGKILL {
                tracing::warn!(name = %name, pid, "process did not stop in time; killing it");
            }
            process::send(*pid, Signal::SIGKILL)?;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|(n, p, m)| !self.gone(n, *p, m));
            std::thread::sleep(Duration::from_millis(20));
        }
        for (name, pid, _) in &targets {
            if self.children.get(name).is_some_and(|c| c.id() == *pid) {
                self.children.remove(name);
            }
        }
        Ok(targets.into_iter().map(|(n, p, _)| (n, p)).collect())
    }

    /// Whether process `name` with `pid` has exited (reaping it if it is a child).
    fn gone(&mut self, name: &str, pid: u32, marker: &OsStr) -> bool {
        match self.children.get_mut(name).filter(|c| c.id() == pid) {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => !process::alive(pid, Some(marker)),
        }
    }

    /// Stops a running `floe-devnet up` supervising this devnet (SIGTERM; it then stops the
    /// processes itself), waiting up to `grace` plus [`STOP_GRACE`] before SIGKILL. Returns its
    /// pid, or `None` if there was none.
    pub fn stop_supervisor(&self, grace: Duration) -> Result<Option<u32>, DevnetError> {
        let Some(pid) = self.supervisor() else {
            process::remove_pid(&self.pid_path(SUPERVISOR), None);
            return Ok(None);
        };
        let marker = Some(OsStr::new("up"));
        process::send(pid, Signal::SIGTERM)?;
        let deadline = Instant::now() + grace + STOP_GRACE;
        while process::alive(pid, marker) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if process::alive(pid, marker) {
            tracing::warn!(pid, "floe-devnet up did not stop in time; killing it");
            process::send(pid, Signal::SIGKILL)?;
        }
        process::remove_pid(&self.pid_path(SUPERVISOR), Some(pid));
        Ok(Some(pid))
    }

    /// Reaps exited children and notices processes started or ended by other commands. Call
    /// it regularly while supervising; every exit is reported once.
    pub fn poll(&mut self) -> Vec<Event> {
        let mut events = std::mem::take(&mut self.pending);
        let specs = self.manifest.processes.clone();
        for spec in &specs {
            let name = &spec.name;
            let pid_path = self.pid_path(name);
            let exited_child = match self.children.get_mut(name) {
                Some(child) => match child.try_wait() {
                    Ok(Some(status)) => Some((child.id(), Some(status))),
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(name = %name, error = %e, "cannot poll a child process");
                        continue;
                    }
                },
                None => None,
            };
            let exited = exited_child.or_else(|| {
                let pid = *self.watched.get(name)?;
                (!process::alive(pid, Some(&self.marker(spec)))).then_some((pid, None))
            });
            if let Some((pid, status)) = exited {
                self.children.remove(name);
                self.watched.remove(name);
                let requested = process::read_pid(&pid_path) != Some(pid);
                process::remove_pid(&pid_path, Some(pid));
                events.push(Event::Exited(Exit {
                    name: name.clone(),
                    pid,
                    status,
                    requested,
                    log: self.log_path(name),
                    tail: self.log_tail(name, LOG_TAIL_LINES),
                }));
                continue;
            }
            // A process started by another command (not a child of this handle).
            if !self.children.contains_key(name)
                && let Some(pid) = process::read_pid(&pid_path)
                && self.watched.get(name) != Some(&pid)
                && process::alive(pid, Some(&self.marker(spec)))
            {
                self.watched.insert(name.clone(), pid);
                events.push(Event::Adopted {
                    name: name.clone(),
                    pid,
                });
            }
        }
        events
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if !self.stop_on_drop {
            return;
        }
        for (name, mut child) in std::mem::take(&mut self.children) {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
            process::remove_pid(&self.pid_path(&name), Some(child.id()));
        }
    }
}
