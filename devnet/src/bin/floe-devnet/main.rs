//! `floe-devnet`: runs a local Floe network (validators and storage nodes, each its own
//! process) and controls it: `up`, `status`, `kill`, `restart`, `down`.
//!
//! The hidden subcommands `validator --config PATH` and `node --config PATH` are how `up`
//! runs each process (it re-executes this binary), so `cargo run -p floe-devnet` needs no
//! other binary.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use clap::{Args, Parser, Subcommand};
use floe_devnet::{
    Devnet, DevnetOptions, Event, NetworkStatus, ProcessKind, ProcessStatus, STOP_GRACE, State,
};
use tokio_util::sync::CancellationToken;

/// How long `up` waits for the network to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long `restart` waits for the process's health check.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `up` checks its processes.
const SUPERVISE_EVERY: Duration = Duration::from_millis(500);

#[derive(Parser)]
#[command(
    name = "floe-devnet",
    version,
    about = "Runs a local Floe network: ledger validators and storage nodes, each its own process"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DirArg {
    /// The devnet folder.
    #[arg(long, default_value = "devnet-data")]
    dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a devnet in --dir (or resume the one there), start every process, wait until
    /// the network is ready, and supervise it until Ctrl-C (SIGINT), SIGTERM or SIGHUP.
    Up(UpArgs),
    /// Write a network for processes on separate machines (keys, genesis, one configuration
    /// per process with its --hosts address) without starting anything: the files a
    /// deployment copies to each machine (see README, "Running on several machines").
    Generate(GenerateArgs),
    /// Show every process: pid, up or down, and what its health endpoint reports.
    Status {
        #[command(flatten)]
        dir: DirArg,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// SIGKILL one process (e.g. `node-3`), like a crash.
    Kill {
        /// Process name (`validator-N` or `node-N`).
        name: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Stop one process (if running) and start it again with the same configuration, then wait
    /// for its health check. Works with or without a running `up`.
    Restart {
        /// Process name (`validator-N` or `node-N`).
        name: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Stop the supervising `up` and every process (SIGTERM, SIGKILL after 10 s); the data
    /// stays, and `up` resumes the network.
    Down {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Run one validator (how `up` starts them).
    #[command(hide = true)]
    Validator {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run one storage node (how `up` starts them).
    #[command(hide = true)]
    Node {
        #[arg(long)]
        config: PathBuf,
    },
}

/// The shape of a new network.
#[derive(Args)]
struct ShapeArgs {
    /// Validators, with equal voting power [default: 4]. This and the next options shape a new
    /// devnet only; an existing one is resumed as it was generated.
    #[arg(long)]
    validators: Option<usize>,
    /// Storage nodes, with equal stake [default: 10].
    #[arg(long)]
    nodes: Option<usize>,
    /// Shards [default: 100].
    #[arg(long)]
    shards: Option<u16>,
    /// Epoch length in seconds of block time [default: 3600]. An hour keeps a demo within one
    /// epoch; a short epoch (e.g. 20) shows committee changes and shard migration.
    #[arg(long)]
    epoch_secs: Option<u64>,
    /// Target time between blocks in milliseconds [default: 200].
    #[arg(long)]
    block_time_ms: Option<u64>,
}

#[derive(Args)]
struct UpArgs {
    #[command(flatten)]
    dir: DirArg,
    #[command(flatten)]
    shape: ShapeArgs,
    /// Do not run the demo once the network is ready.
    #[arg(long)]
    no_demo: bool,
}

#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    dir: DirArg,
    #[command(flatten)]
    shape: ShapeArgs,
    /// The machines' addresses, one per process, validators first then nodes (comma
    /// separated): each process listens on its own, and its peers and the genesis name it.
    #[arg(long, value_delimiter = ',', required = true)]
    hosts: Vec<std::net::Ipv4Addr>,
}

impl ShapeArgs {
    fn options(&self) -> DevnetOptions {
        let d = DevnetOptions::default();
        DevnetOptions {
            validators: self.validators.unwrap_or(d.validators),
            nodes: self.nodes.unwrap_or(d.nodes),
            shards: self.shards.unwrap_or(d.shards),
            epoch_secs: self.epoch_secs.unwrap_or(d.epoch_secs),
            block_time_ms: self.block_time_ms.unwrap_or(d.block_time_ms),
            hosts: Vec::new(),
        }
    }

    /// The options given that differ from an existing devnet's (which keeps its own).
    fn ignored(&self, o: &DevnetOptions) -> Vec<String> {
        let differs = |given: Option<u64>, actual: u64| given.is_some_and(|g| g != actual);
        [
            (
                "--validators",
                differs(self.validators.map(|v| v as u64), o.validators as u64),
            ),
            (
                "--nodes",
                differs(self.nodes.map(|v| v as u64), o.nodes as u64),
            ),
            (
                "--shards",
                differs(self.shards.map(u64::from), u64::from(o.shards)),
            ),
            ("--epoch-secs", differs(self.epoch_secs, o.epoch_secs)),
            (
                "--block-time-ms",
                differs(self.block_time_ms, o.block_time_ms),
            ),
        ]
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A token cancelled on SIGINT, SIGTERM or SIGHUP (handlers installed before it returns).
fn cancel_on_signal() -> anyhow::Result<CancellationToken> {
    floe_runtime::cancel_on_signal().context("listening for signals")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Validator { config } => run_process(ProcessKind::Validator, &config),
        Command::Node { config } => run_process(ProcessKind::Node, &config),
        command => {
            floe_runtime::init_tracing("warn");
            runtime()?.block_on(control(command))
        }
    }
}

/// A validator or storage node, until SIGINT or SIGTERM; tracing goes to stderr (its log).
fn run_process(kind: ProcessKind, config: &Path) -> anyhow::Result<()> {
    floe_runtime::init_tracing(
        "info,arc_malachitebft=warn,informalsystems_malachitebft=warn,libp2p=warn",
    );
    runtime()?.block_on(async {
        let cancel = cancel_on_signal()?;
        let result: anyhow::Result<()> = match kind {
            ProcessKind::Validator => {
                let config = floe_devnet::manifest::read_validator_config(config)?;
                floe_ledger::validator::run(config, cancel)
                    .await
                    .map_err(Into::into)
            }
            ProcessKind::Node => {
                let config = floe_devnet::manifest::read_node_config(config)?;
                floe_node::server::run(config, cancel)
                    .await
                    .map_err(Into::into)
            }
        };
        match &result {
            Ok(()) => tracing::info!("{kind} stopped"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "{kind} failed"),
        }
        result
    })
}

async fn control(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => up(args).await,
        Command::Generate(args) => generate(&args),
        Command::Status { dir, json } => {
            let devnet = Devnet::load(&dir.dir)?;
            let status = devnet.status().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            Ok(())
        }
        Command::Kill { name, dir } => {
            let mut devnet = Devnet::load(&dir.dir)?;
            devnet.set_stop_on_drop(false);
            match devnet.kill(&name)? {
                Some(pid) => println!("killed {name} (pid {pid}) with SIGKILL"),
                None => println!("{name} is not running"),
            }
            Ok(())
        }
        Command::Restart { name, dir } => {
            let mut devnet = Devnet::load(&dir.dir)?;
            devnet.set_stop_on_drop(false);
            if let Some(pid) = devnet.stop(&name, STOP_GRACE)? {
                println!("stopped {name} (pid {pid})");
            }
            let pid = devnet.start(&name)?;
            println!("started {name} (pid {pid}); waiting for its health check");
            let status = devnet
                .wait_healthy(&name, HEALTHY_TIMEOUT)
                .await
                .with_context(|| {
                    format!(
                        "{name} was started (pid {pid}) but is not healthy; see {}",
                        devnet.log_path(&name).display()
                    )
                })?;
            println!("{name} is up: {}", details(&status));
            Ok(())
        }
        Command::Down { dir } => {
            let mut devnet = Devnet::load(&dir.dir)?;
            if let Some(pid) = devnet.stop_supervisor(STOP_GRACE)? {
                println!("stopped floe-devnet up (pid {pid})");
            }
            for (name, pid) in devnet.stop_all(STOP_GRACE)? {
                println!("stopped {name} (pid {pid})");
            }
            println!(
                "devnet stopped; `floe-devnet up --dir {}` resumes it",
                devnet.dir().display()
            );
            Ok(())
        }
        Command::Validator { .. } | Command::Node { .. } => unreachable!("handled in main"),
    }
}

/// `floe-devnet generate`.
fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let hosts = args
        .hosts
        .iter()
        .map(|&addr| floe_devnet::Host { netns: None, addr })
        .collect();
    let opts = DevnetOptions {
        hosts,
        ..args.shape.options()
    };
    std::fs::create_dir_all(&args.dir.dir)
        .with_context(|| format!("creating {}", args.dir.dir.display()))?;
    let devnet = Devnet::generate(&args.dir.dir, &opts)?;
    println!(
        "generated {} in {}",
        devnet.chain_id(),
        devnet.dir().display()
    );
    for p in devnet.processes() {
        println!(
            "  {:<14} {}  config {}",
            p.name,
            p.http_listen.ip(),
            devnet.path(&p.config).display()
        );
    }
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let (mut devnet, resumed) = Devnet::open(&args.dir.dir, &args.shape.options())?;
    let dir = devnet.dir().to_owned();
    let o = devnet.manifest().options.clone();
    if resumed {
        println!(
            "resuming the devnet in {} (chain {})",
            dir.display(),
            devnet.chain_id()
        );
        let ignored = args.shape.ignored(&o);
        if !ignored.is_empty() {
            eprintln!(
                "floe-devnet: note: {} ignored: an existing devnet keeps the shape it was \
                 generated with (remove {} to start over)",
                ignored.join(", "),
                dir.display()
            );
        }
    } else {
        println!(
            "generated a devnet in {} (chain {})",
            dir.display(),
            devnet.chain_id()
        );
    }
    println!(
        "  {} validators, {} storage nodes, {} shards, {} s epochs, {} ms blocks",
        o.validators, o.nodes, o.shards, o.epoch_secs, o.block_time_ms
    );
    devnet
        .claim_supervisor()
        .context("this devnet is already up; `floe-devnet down` stops it")?;
    if let Err(e) = devnet.ensure_stopped() {
        devnet.release_supervisor();
        devnet.set_stop_on_drop(false);
        return Err(anyhow!(
            "{e}: a process of this devnet is running without `up`; stop it with \
             `floe-devnet down --dir {}`",
            dir.display()
        ));
    }
    let result = supervise(&mut devnet, args.no_demo).await;
    if let Err(e) = devnet.stop_all(STOP_GRACE) {
        eprintln!("floe-devnet: stopping the processes: {e}");
    }
    devnet.release_supervisor();
    result
}

/// Starts the processes, waits until the network is ready, runs the demo, and watches the
/// processes until a signal; then stops them.
async fn supervise(devnet: &mut Devnet, no_demo: bool) -> anyhow::Result<()> {
    let dir = devnet.dir().to_owned();
    let cancel = cancel_on_signal()?;
    let started = devnet.start_all()?;
    println!(
        "started {} processes; waiting for the network (logs in {})",
        started.len(),
        dir.join("logs").display()
    );
    let status = tokio::select! {
        r = devnet.wait_ready(READY_TIMEOUT) => r?,
        () = cancel.cancelled() => {
            println!("interrupted; stopping the devnet");
            return Ok(());
        }
    };
    let client_config = devnet.write_client_config()?;
    print_ready(devnet, &status, &client_config);

    if !no_demo {
        tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(60), floe_devnet::demo(&client_config)) => {
                match r {
                    Ok(Ok(report)) => {
                        println!("demo: {report}");
                        println!(
                            "  read it yourself: floe --config {} read {} -o copy.txt",
                            client_config.display(),
                            report.blob_id
                        );
                    }
                    Ok(Err(e)) => eprintln!("floe-devnet: demo failed: {e}"),
                    Err(_) => eprintln!("floe-devnet: demo timed out"),
                }
            }
            () = cancel.cancelled() => {}
        }
    }

    while !cancel.is_cancelled() {
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(SUPERVISE_EVERY) => {
                let events = devnet.poll();
                report(devnet, events);
            }
        }
    }
    println!("stopping the devnet");
    let stopped = devnet.stop_all(STOP_GRACE)?;
    println!(
        "devnet stopped ({} processes); `floe-devnet up --dir {}` resumes it",
        stopped.len(),
        dir.display()
    );
    Ok(())
}

fn print_ready(devnet: &Devnet, status: &NetworkStatus, client_config: &Path) {
    let dir = devnet.dir();
    let o = &devnet.manifest().options;
    let config = client_config.display();
    println!("devnet ready");
    println!(
        "  chain:      {} at height {}",
        devnet.chain_id(),
        status.ledger_height().unwrap_or(0)
    );
    println!(
        "  processes:  {} validators, {} storage nodes over {} shards",
        o.validators, o.nodes, o.shards
    );
    println!("  ledger rpc: {}", devnet.validator_urls().join(" "));
    println!("  folder:     {} (logs/, run/)", dir.display());
    println!("  client:     {config}");
    println!(
        "  wallet:     {} ({} WAL at genesis; owns the nodes' stake)",
        devnet.path(&devnet.manifest().wallet).display(),
        floe_devnet::manifest::WALLET_WAL
    );
    println!(
        "next steps (`floe` is `cargo run --release -p floe-cli --bin floe --`, or install it with `cargo install --path client/cli`):"
    );
    println!("  floe --config {config} store FILE");
    println!("  floe --config {config} read BLOB_ID");
    println!("  floe --config {config} daemon");
    println!("  floe-devnet status --dir {}", dir.display());
    println!(
        "  floe-devnet kill node-1 --dir {0}; floe-devnet restart node-1 --dir {0}",
        dir.display()
    );
    println!("Ctrl-C (or `floe-devnet down`) stops the network; `up` again resumes it.");
}

fn report(devnet: &Devnet, events: Vec<Event>) {
    for event in events {
        match event {
            Event::Exited(exit) if exit.requested => println!(
                "{} (pid {}) exited: {} (stopped on request)",
                exit.name,
                exit.pid,
                exit.status_text()
            ),
            Event::Exited(exit) => {
                eprintln!(
                    "floe-devnet: {} (pid {}) exited unexpectedly: {}; the other processes keep running",
                    exit.name,
                    exit.pid,
                    exit.status_text()
                );
                eprintln!("floe-devnet: last lines of {}:", exit.log.display());
                for line in exit.tail.lines() {
                    eprintln!("    {line}");
                }
                eprintln!(
                    "floe-devnet: `floe-devnet restart {} --dir {}` starts it again",
                    exit.name,
                    devnet.dir().display()
                );
            }
            Event::Adopted { name, pid } => {
                println!("{name} is running (pid {pid}), started by another command");
            }
        }
    }
}

fn print_status(status: &NetworkStatus) {
    println!(
        "devnet {} (chain {})",
        status.dir.display(),
        status.chain_id
    );
    match status.supervisor {
        Some(pid) => println!("supervised by floe-devnet up (pid {pid})"),
        None => println!("no floe-devnet up is supervising it"),
    }
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(["NAME", "KIND", "PID", "STATE", "ADDRESS", "DETAILS"]);
    for p in &status.processes {
        table.add_row([
            p.name.clone(),
            p.kind.to_string(),
            p.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            match p.state {
                State::Up => "up",
                State::Down => "down",
            }
            .to_owned(),
            p.address.clone(),
            details(p),
        ]);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    for line in table.lines() {
        println!("{}", line.trim_end());
    }
}

fn details(p: &ProcessStatus) -> String {
    if p.state == State::Down {
        return "-".into();
    }
    if let Some(e) = &p.error {
        return format!("not answering: {e}");
    }
    match p.kind {
        ProcessKind::Validator => format!("height {}", p.height.unwrap_or(0)),
        ProcessKind::Node => format!(
            "epoch {}, ledger height {}, {} shards, {} stored",
            p.epoch.unwrap_or(0),
            p.ledger_height.unwrap_or(0),
            p.shards.unwrap_or(0),
            bytesize::ByteSize::b(p.stored_bytes.unwrap_or(0))
        ),
    }
}
