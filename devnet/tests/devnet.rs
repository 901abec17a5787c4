//! The devnet end to end, with real processes: the `floe-devnet` binary (`up`, `status`,
//! `kill`, `restart`, `down`) and the library handle, each on a small network (1 validator,
//! 4 storage nodes, 8 shards, 100 ms blocks) in a temporary folder.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use floe_client::ClientConfig;
use floe_devnet::{Devnet, DevnetError, DevnetOptions, Event, NetworkStatus, ProcessKind, State};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const EXE: &str = env!("CARGO_BIN_EXE_floe-devnet");
const SMALL: [&str; 8] = [
    "--validators",
    "1",
    "--nodes",
    "4",
    "--shards",
    "8",
    "--block-time-ms",
    "100",
];
const READY: Duration = Duration::from_secs(120);

fn small() -> DevnetOptions {
    DevnetOptions {
        validators: 1,
        nodes: 4,
        shards: 8,
        epoch_secs: 3600,
        block_time_ms: 100,
        hosts: Vec::new(),
    }
}

/// A running `floe-devnet up`: its stdout lines arrive on a channel, stderr goes to a file.
struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: PathBuf,
}

impl Up {
    fn spawn(dir: &Path, stderr: PathBuf, extra: &[&str]) -> Up {
        let mut child = Command::new(EXE)
            .arg("up")
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Up {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits for a stdout line containing `text`.
    fn wait_for(&mut self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(text);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {text:?} from `up`; stdout:\n{}\nstderr:\n{}",
            self.seen.join("\n"),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        );
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for `up` to exit and returns its exit code.
    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "`up` did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `floe-devnet down` when dropped, so a failing test leaves no processes behind.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        if Devnet::exists(&self.0) {
            let _ = Command::new(EXE)
                .arg("down")
                .arg("--dir")
                .arg(&self.0)
                .stdout(Stdio::null())
                .status();
        }
    }
}

/// Runs `floe-devnet ARGS --dir DIR`, expects success, returns stdout.
fn cli(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(EXE)
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "floe-devnet {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn status(dir: &Path) -> NetworkStatus {
    serde_json::from_str(&cli(dir, &["status", "--json"])).unwrap()
}

fn assert_all_up(status: &NetworkStatus) {
    for p in &status.processes {
        assert_eq!(p.state, State::Up, "{p:?}");
        assert!(p.healthy, "{p:?}");
        assert!(p.pid.is_some());
    }
}

/// Whether `pid` is a live process (a zombie is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        !matches!(state, Some(Some('Z' | 'X')) | None)
    })
}

fn pid_files(dir: &Path) -> Vec<(String, u32)> {
    let Ok(entries) = std::fs::read_dir(dir.join("run")) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = std::fs::read_to_string(e.path())
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            (name, pid)
        })
        .collect()
}

/// `GET /health` over a plain TCP connection; the response body.
fn http_get(addr: &str, path: &str) -> String {
    let addr = addr.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    text.split_once("\r\n\r\n").unwrap().1.to_owned()
}

#[test]
fn cli_up_status_kill_restart_sigterm_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let _down = Down(dir.clone());

    let mut up = Up::spawn(
        &dir,
        tmp.path().join("up1.err"),
        &[&SMALL[..], &["--no-demo"]].concat(),
    );
    up.wait_for("devnet ready", READY);
    let config = ClientConfig::load(&dir.join("client.yaml")).unwrap();
    assert_eq!(config.ledger_rpc.len(), 1);
    assert_eq!(config.wallet, dir.join("wallet.json"));
    let first = status(&dir);
    assert_eq!(first.processes.len(), 5);
    assert_eq!(first.supervisor, Some(up.pid()));
    assert_all_up(&first);
    assert!(
        first
            .processes
            .iter()
            .all(|p| p.kind == ProcessKind::Validator || p.shards == Some(2))
    );
    let genesis = std::fs::read(dir.join("genesis.json")).unwrap();

    // kill: down in `status`, and `up` says so.
    let out = cli(&dir, &["kill", "node-2"]);
    assert!(out.contains("killed node-2"), "{out}");
    let st = status(&dir);
    let node2 = st.process("node-2").unwrap();
    assert_eq!((node2.state, node2.pid), (State::Down, None));
    assert!(
        st.processes
            .iter()
            .filter(|p| p.name != "node-2")
            .all(|p| p.healthy)
    );
    up.wait_for("node-2", Duration::from_secs(10));

    // restart: started by this command (not a child of `up`), healthy again.
    let out = cli(&dir, &["restart", "node-2"]);
    assert!(out.contains("node-2 is up"), "{out}");
    let st = status(&dir);
    let node2 = st.process("node-2").unwrap();
    assert_eq!(node2.state, State::Up);
    assert!(node2.healthy);
    let health: serde_json::Value =
        serde_json::from_str(&http_get(&node2.address, "/health")).unwrap();
    assert_eq!(health["name"], "node-2");
    assert_eq!(health["status"], "ok");
    up.wait_for("node-2 is running", Duration::from_secs(10));

    // A crash that no floe-devnet command asked for is reported with the log's last lines.
    let node3 = st.process("node-3").unwrap().pid.unwrap();
    kill(Pid::from_raw(node3 as i32), Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let err = std::fs::read_to_string(tmp.path().join("up1.err")).unwrap();
        // The report is several lines written one after another: wait for its last one.
        if err.contains("node-3")
            && err.contains("exited unexpectedly")
            && err.contains("starts it again")
        {
            assert!(err.contains("last lines of"), "{err}");
            assert!(
                err.contains("starting node-3"),
                "the log tail is shown: {err}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "crash not reported: {err}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // SIGTERM to `up`: every process stops (also node-2, which `up` did not start), exit 0.
    let height = status(&dir).ledger_height().unwrap();
    let pids = pid_files(&dir);
    assert_eq!(pids.len(), 5, "up + 4 running processes: {pids:?}");
    kill(Pid::from_raw(up.pid() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(up.wait_exit(Duration::from_secs(30)), Some(0));
    for (name, pid) in &pids {
        assert!(!alive(*pid), "{name} (pid {pid}) survived");
    }
    assert!(pid_files(&dir).is_empty(), "{:?}", pid_files(&dir));
    assert!(
        status(&dir)
            .processes
            .iter()
            .all(|p| p.state == State::Down)
    );

    // Without `up`, `restart` runs a process on its own (a validator: a node needs the ledger
    // to answer its health check), and `up` refuses to start over it.
    let out = cli(&dir, &["restart", "validator-1"]);
    assert!(out.contains("validator-1 is up"), "{out}");
    let st = status(&dir);
    assert_eq!(st.supervisor, None);
    assert!(
        st.processes
            .iter()
            .all(|p| (p.state == State::Up) == (p.name == "validator-1"))
    );
    let refused = Command::new(EXE)
        .args(["up", "--no-demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("validator-1 is already running"), "{err}");
    assert_eq!(
        status(&dir).process("validator-1").unwrap().state,
        State::Up,
        "left alone"
    );
    let out = cli(&dir, &["down"]);
    assert!(out.contains("stopped validator-1"), "{out}");
    assert!(pid_files(&dir).is_empty());

    // `up` again resumes the same chain where it stopped.
    let mut up = Up::spawn(&dir, tmp.path().join("up2.err"), &["--no-demo"]);
    up.wait_for("resuming", READY);
    up.wait_for("devnet ready", READY);
    let resumed = status(&dir);
    assert_all_up(&resumed);
    assert_eq!(resumed.chain_id, first.chain_id);
    assert!(resumed.ledger_height().unwrap() > height);
    assert_eq!(std::fs::read(dir.join("genesis.json")).unwrap(), genesis);

    // `down` stops `up` and everything else.
    let out = cli(&dir, &["down"]);
    assert!(out.contains("devnet stopped"), "{out}");
    assert_eq!(up.wait_exit(Duration::from_secs(30)), Some(0));
    assert!(pid_files(&dir).is_empty());
    for p in &resumed.processes {
        assert!(!alive(p.pid.unwrap()), "{}", p.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_starts_kills_restarts_and_reports_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devnet = Devnet::generate(tmp.path(), &small())
        .unwrap()
        .with_executable(EXE);
    let started = devnet.start_all().unwrap();
    assert_eq!(started.len(), 5);
    let ready = devnet.wait_ready(READY).await.unwrap();
    assert!(ready.processes.iter().all(|p| p.healthy));
    // The demo `up` runs: a sample file stored on the nodes and read back byte for byte.
    let config = devnet.write_client_config().unwrap();
    let report = floe_devnet::demo(&config)
        .await
        .expect("demo store and read");
    assert!(report.size > 100_000);
    // …and a demo site published under the name `demo`, served by `floe daemon`'s portal.
    assert_eq!(
        report.site_url.as_deref(),
        Some("http://demo.localhost:31415/")
    );
    let name = devnet
        .ledger_client()
        .object(&floe_ledger::name_object_id("demo"))
        .await
        .unwrap()
        .expect("the name is held");
    let floe_ledger::Object::Name(name) = name.object else {
        panic!("not a name: {name:?}");
    };
    let site = name.site.expect("the name points at the site");
    let site = devnet.ledger_client().object(&site).await.unwrap().unwrap();
    assert!(
        matches!(&site.object, floe_ledger::Object::Site(s) if s.record.resources.len() == 3),
        "{site:?}"
    );
    assert_eq!(
        std::fs::read(&report.file).unwrap().len(),
        report.size,
        "the sample file is left for the user"
    );
    assert!(matches!(
        devnet.start("node-1"),
        Err(DevnetError::AlreadyRunning { .. })
    ));

    // A requested kill is not an event; the process can be started again.
    let pid = devnet.kill("node-1").unwrap().unwrap();
    assert!(!alive(pid));
    assert_eq!(devnet.pid("node-1").unwrap(), None);
    assert_eq!(devnet.kill("node-1").unwrap(), None, "not running");
    devnet.start("node-1").unwrap();
    let st = devnet
        .wait_healthy("node-1", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(st.shards, Some(2));

    // A crash is reported once by `poll`, as not requested, with the log tail.
    let victim = devnet.pid("node-4").unwrap().unwrap();
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        let exits: Vec<_> = devnet
            .poll()
            .into_iter()
            .filter_map(|e| match e {
                Event::Exited(x) => Some(x),
                Event::Adopted { .. } => None,
            })
            .collect();
        if let Some(x) = exits.into_iter().next() {
            break x;
        }
        assert!(Instant::now() < deadline, "no exit event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (exit.name.as_str(), exit.pid, exit.requested),
        ("node-4", victim, false)
    );
    assert!(
        exit.status_text().contains("SIGKILL"),
        "{}",
        exit.status_text()
    );
    assert!(exit.tail.contains("starting node-4"));
    assert!(devnet.poll().is_empty(), "reported once");

    // The ledger answers through the handle's client.
    let wallet = floe_ledger::Address::of(&devnet.wallet().unwrap().public());
    let account = devnet.ledger_client().account(&wallet).await.unwrap();
    let genesis_balance = floe_common::Frost::from_wal(floe_devnet::manifest::WALLET_WAL).unwrap();
    assert!(
        account.balance < genesis_balance,
        "the demo paid for its blob"
    );
    assert_eq!(account.balance, report.balance);

    // Dropping the handle kills what it started.
    let pids: Vec<u32> = devnet.running().into_iter().map(|(_, p)| p).collect();
    assert_eq!(pids.len(), 4);
    drop(devnet);
    assert!(pids.iter().all(|p| !alive(*p)));
    assert!(pid_files(tmp.path()).is_empty());
}

#[test]
fn generate_writes_a_consistent_devnet_and_load_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    assert!(matches!(Devnet::load(&dir), Err(DevnetError::NotFound(_))));
    let devnet = Devnet::generate(&dir, &small()).unwrap();
    let m = devnet.manifest().clone();
    let names: Vec<&str> = m.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["validator-1", "node-1", "node-2", "node-3", "node-4"]
    );

    // Ports are distinct.
    let mut ports: Vec<u16> = m
        .processes
        .iter()
        .flat_map(|p| [p.http_listen.port(), p.p2p_port().unwrap()])
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 10);

    // The genesis funds the wallet and the nodes, and the configurations agree with it.
    let genesis = devnet.genesis().unwrap();
    genesis.validate().unwrap();
    assert_eq!(genesis.chain_id, m.chain_id);
    assert_eq!(genesis.n_shards, 8);
    assert!(genesis.devnet);
    assert_eq!(genesis.faucet, Some(floe_devnet::limits::faucet(&small())));
    assert_eq!(
        genesis.params.max_shards_per_node,
        floe_devnet::limits::max_shards_per_node(&small())
    );
    let wallet = floe_ledger::Address::of(&devnet.wallet().unwrap().public());
    assert_eq!(genesis.accounts.len(), 5);
    assert_eq!(genesis.accounts[0].0, wallet);
    assert!(genesis.storage_nodes.iter().all(|n| n.owner == wallet));
    for spec in devnet.processes() {
        let config = devnet.path(&spec.config);
        match spec.kind {
            ProcessKind::Validator => {
                let c = floe_devnet::manifest::read_validator_config(&config).unwrap();
                assert_eq!(c.rpc_listen, spec.http_listen);
                assert_eq!(c.block_time_ms, 100);
            }
            ProcessKind::Node => {
                let c = floe_devnet::manifest::read_node_config(&config).unwrap();
                assert_eq!(c.http_listen, spec.http_listen);
                assert_eq!(c.ledger_rpc, devnet.validator_urls());
                let g = genesis
                    .storage_nodes
                    .iter()
                    .find(|n| n.name == c.name)
                    .unwrap();
                assert_eq!(g.network_address, c.p2p_listen);
            }
        }
    }
    let path = devnet.write_client_config().unwrap();
    let config = ClientConfig::load(&path).unwrap();
    assert_eq!(config.wallet, devnet.dir().join("wallet.json"));

    // Loading and opening find the same devnet; generating again refuses.
    let loaded = Devnet::load(&dir).unwrap();
    assert_eq!(loaded.manifest(), &m);
    let (opened, resumed) = Devnet::open(&dir, &DevnetOptions::default()).unwrap();
    assert!(resumed);
    assert_eq!(opened.manifest().options, small());
    assert!(matches!(
        Devnet::generate(&dir, &small()),
        Err(DevnetError::Exists(_))
    ));
    assert!(loaded.running().is_empty());
    assert!(loaded.ensure_stopped().is_ok());

    // A moved folder is refused (its configurations hold absolute paths).
    let moved = tmp.path().join("moved");
    std::fs::rename(&dir, &moved).unwrap();
    assert!(matches!(
        Devnet::load(&moved),
        Err(DevnetError::Moved { .. })
    ));
}

/// The key seed the devnet used to derive every key from, and published as its chain id
/// (`floe-devnet-<seed>`): what an attacker who saw one block would try.
fn old_derivations(chain_id: &str, processes: usize) -> Vec<floe_common::PublicKey> {
    let Some(seed) = chain_id
        .strip_prefix("floe-devnet-")
        .and_then(|s| u64::from_str_radix(s, 16).ok())
    else {
        return Vec::new();
    };
    let derive = |role: &str, index: usize| {
        let mut h = blake3::Hasher::new();
        h.update(b"floe-devnet/key");
        h.update(&seed.to_le_bytes());
        h.update(role.as_bytes());
        h.update(&(index as u64).to_le_bytes());
        floe_common::KeyPair::from_seed(*h.finalize().as_bytes()).public()
    };
    let validator = |index: usize| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&seed.to_le_bytes());
        b[8..16].copy_from_slice(&(index as u64).to_le_bytes());
        b[16] = 0x56;
        floe_common::KeyPair::from_seed(b).public()
    };
    (0..processes)
        .flat_map(|i| [derive("node", i), derive("wallet", i), validator(i)])
        .collect()
}

#[test]
fn adv_devnet_keys_not_derivable() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut chain_ids = std::collections::BTreeSet::new();
    for name in ["a", "b"] {
        let devnet = Devnet::generate(&tmp.path().join(name), &small()).unwrap();
        let m = devnet.manifest().clone();
        assert!(chain_ids.insert(m.chain_id.clone()), "chain ids repeat");
        let json = std::fs::read_to_string(devnet.dir().join("devnet.json")).unwrap();
        assert!(!json.contains("seed"), "devnet.json names a seed: {json}");

        // Every key file is owner-only, and so is the manifest.
        let mut files: Vec<PathBuf> = m
            .processes
            .iter()
            .map(|p| devnet.path(&p.key_file))
            .collect();
        files.push(devnet.path(&m.wallet));
        let mut keys = Vec::new();
        for file in &files {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(format!("{mode:o}"), "600", "{}", file.display());
            keys.push(floe_runtime::read_key_file(file).unwrap());
        }
        let mode = std::fs::metadata(devnet.dir().join("devnet.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(format!("{:o}", mode & 0o777), "600", "devnet.json");

        // No key is shared within or across devnets, none is what the chain id would derive,
        // and the chain id holds no part of any key.
        let derived = old_derivations(&m.chain_id, m.processes.len() + 1);
        let suffix = m.chain_id.trim_start_matches("floe-devnet-").to_owned();
        for key in keys {
            assert!(seen.insert(key.public()), "a key repeats");
            assert!(
                !derived.contains(&key.public()),
                "key derived from the chain id"
            );
            let secret = hex::encode(key.seed());
            let public = key.public().to_string();
            assert!(!secret.contains(&suffix) && !public.contains(&suffix));
        }
        let genesis = devnet.genesis().unwrap();
        assert!(genesis.devnet);
        assert!(
            genesis
                .validators
                .iter()
                .all(|v| seen.contains(&v.public_key))
        );
    }

    // A devnet of the seeded format is not resumed.
    let dir = tmp.path().join("a");
    let path = dir.join("devnet.json");
    let mut old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    old["format"] = 1.into();
    old["seed"] = 7.into();
    std::fs::write(&path, old.to_string()).unwrap();
    match Devnet::load(&dir) {
        Err(DevnetError::Parse { reason, .. }) => assert!(reason.contains("format 1"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
