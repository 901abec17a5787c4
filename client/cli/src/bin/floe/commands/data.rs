//! Blob data: store, read, bench, daemon.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use floe_cli::bench;
use floe_cli::daemon::auth::{Algorithm, JwtAuth, JwtOptions, Publisher};
use floe_cli::daemon::{self, DaemonOptions};
use floe_client::blobs::{BlobClient, BlobOptions, Persistence, StoreOptions, StoreOutcome};
use floe_client::files::{self, DryRun, Epochs, StoredFile};
use floe_client::private::{self, Peeked};
use floe_client::{ClientConfig, Wallet};
use floe_common::{BlobId, ConsistencyCheck, KeyPair};
use floe_ledger_types::LedgerClient;
use floe_ledger_types::rpc::SystemInfo;
use serde_json::json;

use super::Env;
use super::blobs::until;
use super::private::{Sealing, from_private, open_bytes, open_file, read_sealed_to_file};
use crate::fail::{CliError, Context, from_connect, from_files, from_floe, from_read, from_store};
use crate::progress::{self, Bar};
use crate::render::{Report, bytes, duration};
use crate::{BenchCommand, DaemonArgs, ReadArgs, StoreArgs};

/// A blob client paying from the configuration's wallet.
pub(super) async fn paying_client(
    env: &Env,
) -> Result<(ClientConfig, BlobClient, Context), CliError> {
    let config = env.config()?;
    let wallet = Wallet::load(&config.wallet).map_err(|e| CliError::wallet(&e))?;
    let ctx = env.context(Some(&wallet));
    let ledger = LedgerClient::new(config.ledger_rpc.clone());
    let options = BlobOptions {
        trust: env.trust(&config)?,
        ..BlobOptions::default()
    };
    let client = BlobClient::connect(ledger, wallet.key().clone(), options)
        .await
        .map_err(|e| from_connect(&e, &ctx))?;
    Ok((config, client, ctx))
}

/// The epochs a store pays for: `--epochs` (a count, or `max`), `--end-epoch` or
/// `--earliest-expiry-time`, resolved against the ledger's epoch schedule, or the config's
/// default; with the ledger's system record it was resolved against.
pub(super) async fn store_epochs(
    config: &ClientConfig,
    client: &BlobClient,
    ctx: &Context,
    epochs: Option<Epochs>,
) -> Result<(u32, SystemInfo), CliError> {
    let system = client
        .ledger()
        .system()
        .await
        .map_err(|e| from_files(&e.into(), ctx))?;
    let epochs = epochs
        .unwrap_or(Epochs::Count(config.default_epochs.max(1)))
        .resolve(&system)
        .map_err(|e| from_files(&e, ctx))?;
    Ok((epochs, system))
}

/// A blob client for reading (no wallet needed: a throwaway key).
pub(super) async fn reading_client(env: &Env) -> Result<(BlobClient, Context), CliError> {
    let config = env.config()?;
    let ctx = env.context(None);
    let ledger = LedgerClient::new(config.ledger_rpc.clone());
    let key = KeyPair::generate(&mut rand::rngs::OsRng);
    let options = BlobOptions {
        trust: env.trust(&config)?,
        ..BlobOptions::default()
    };
    let client = BlobClient::connect(ledger, key, options)
        .await
        .map_err(|e| from_connect(&e, &ctx))?;
    Ok((client, ctx))
}

/// Refuses missing or unreadable inputs before anything is paid.
fn check_inputs(paths: &[PathBuf]) -> Result<(), CliError> {
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(CliError::local(
                    "read",
                    format!("{} is not a file", p.display()),
                ));
            }
            Err(e) => {
                return Err(CliError::local(
                    "read",
                    format!("cannot read {}: {e}", p.display()),
                ));
            }
        }
    }
    Ok(())
}

fn name(p: &Path) -> String {
    p.display().to_string()
}

/// `floe store FILE… [--epochs N|max|--end-epoch E|--earliest-expiry-time T]
/// [--permanent|--deletable] [--dry-run] [--force] [--content-type [TYPE]] [--share]`.
pub async fn store(env: &Env, args: StoreArgs) -> Result<Report, CliError> {
    check_inputs(&args.files)?;
    if args.dry_run {
        return dry_run(env, &args).await;
    }
    let (config, client, ctx) = paying_client(env).await?;
    let sealing = match args.policy.filter(|_| args.encrypt) {
        Some(policy) => Some(Sealing::prepare(env, policy).await?),
        None => None,
    };
    let (epochs, system) = store_epochs(&config, &client, &ctx, args.lifetime.duration()).await?;
    let persistence = if args.lifetime.permanent {
        Persistence::Permanent
    } else {
        Persistence::Deletable
    };
    let show = progress::wanted(env.json);
    let mut done: Vec<StoredFile> = Vec::new();
    for path in &args.files {
        let bar = Bar::start(show, name(path));
        let opts = StoreOptions {
            epochs,
            persistence,
            force: args.force,
            progress: Bar::hook(bar.as_ref()),
            ..StoreOptions::default()
        };
        // An encrypted file is sealed into a temporary file, which is what is stored.
        let sealed = match &sealing {
            Some(s) => Some(s.seal(path)?),
            None => None,
        };
        let source = sealed.as_ref().map_or(path.as_path(), |t| t.path());
        let result = files::store_file(&client, source, &opts)
            .await
            .map(|stored| StoredFile {
                path: path.clone(),
                ..stored
            });
        drop(sealed);
        if let Some(b) = &bar {
            b.finish();
        }
        match result {
            Ok(stored) => done.push(stored),
            Err(e) => {
                let mut err = from_files(&e, &ctx);
                err.message = format!("storing {}: {}", path.display(), err.message);
                if !done.is_empty() {
                    let ids: Vec<String> = done
                        .iter()
                        .map(|d| format!("{} ({})", d.path.display(), d.outcome.blob_id()))
                        .collect();
                    err.message = format!(
                        "{} (stored before the failure: {})",
                        err.message,
                        ids.join(", ")
                    );
                }
                return Err(err);
            }
        }
    }
    let mut human = String::new();
    for d in &done {
        human.push_str(&describe_store(d, &system));
        if let Some(c) = &d.chunked {
            let _ = writeln!(
                human,
                "  Chunked:     {} in {} chunks of {}; the blob id above is its manifest's and \
                 names the file (`floe read` writes the whole file)",
                bytes(c.size),
                c.chunks.len(),
                bytes(c.chunk_size)
            );
        }
    }
    if let Some(s) = &sealing {
        let _ = writeln!(
            human,
            "  Encrypted:   only readers policy {} allows can read it (`floe policy show {}`)",
            s.policy(),
            s.policy()
        );
    }
    let mut types = Vec::new();
    if let Some(given) = &args.content_type {
        let (floe, _) = env.connect_wallet().await?;
        for d in &done {
            let StoreOutcome::NewlyCreated { blob_object, .. } = &d.outcome else {
                let _ = writeln!(
                    human,
                    "{}: no new blob object, so no content type was set.",
                    d.path.display()
                );
                continue;
            };
            let ty = if given.is_empty() {
                floe_common::quilt::guess_content_type(&d.path.to_string_lossy())
            } else {
                given.clone()
            };
            floe.set_blob_attribute(*blob_object, "content-type", &ty)
                .await
                .map_err(|e| from_floe(&e, &ctx))?;
            let _ = writeln!(human, "  Content type: {ty}");
            types.push(json!({ "blob_object": blob_object, "content_type": ty }));
        }
    }
    let mut shared = Vec::new();
    if args.share {
        let (floe, _) = env.connect_wallet().await?;
        for d in &done {
            let StoreOutcome::NewlyCreated { blob_object, .. } = &d.outcome else {
                let _ = writeln!(
                    human,
                    "{}: no new blob object, so nothing was shared.",
                    d.path.display()
                );
                continue;
            };
            floe.share_blob(*blob_object, floe_common::Frost::ZERO)
                .await
                .map_err(|e| from_floe(&e, &ctx))?;
            let _ = writeln!(
                human,
                "  Shared:      {blob_object} is now a shared blob (fund it with `floe \
                 fund-shared-blob`, extend it with `floe extend --shared`)"
            );
            shared.push(*blob_object);
        }
    }
    Ok(Report::new(
        json!({
            "epoch": system.epoch,
            "blobs": done,
            "content_types": types,
            "shared": shared,
            "encrypted_policy": sealing.as_ref().map(Sealing::policy),
        }),
        human,
    ))
}

fn describe_store(d: &StoredFile, system: &SystemInfo) -> String {
    let mut h = String::new();
    match &d.outcome {
        StoreOutcome::NewlyCreated {
            blob_id,
            blob_object,
            size,
            encoded_size,
            cost,
            end_epoch,
            persistence,
            confirmed_shards,
            phases,
        } => {
            let kind = match persistence {
                Persistence::Permanent => "permanent",
                Persistence::Deletable => "deletable",
            };
            let _ = writeln!(
                h,
                "Stored {} ({}) as a new {kind} blob.",
                d.path.display(),
                bytes(*size)
            );
            let _ = writeln!(h, "  Blob id:     {blob_id}");
            let _ = writeln!(h, "  Blob object: {blob_object}");
            let _ = writeln!(h, "  Available:   {}", until(system, *end_epoch));
            let _ = writeln!(
                h,
                "  Cost:        {cost} for {} encoded, plus transaction fees",
                bytes(*encoded_size)
            );
            let _ = writeln!(
                h,
                "  Confirmed by nodes holding {confirmed_shards} of {} shards; encode {}, \
                 register {}, upload {}, certify {}",
                system.n_shards,
                duration(phases.encode),
                duration(phases.register),
                duration(phases.upload),
                duration(phases.certify)
            );
        }
        StoreOutcome::AlreadyCertified { blob_id, end_epoch } => {
            let _ = writeln!(
                h,
                "{} is already stored as blob {blob_id}, available {}; nothing was paid \
                 (--force stores a new copy).",
                d.path.display(),
                until(system, *end_epoch)
            );
        }
    }
    h
}

async fn dry_run(env: &Env, args: &StoreArgs) -> Result<Report, CliError> {
    let config = env.config()?;
    let ctx = env.context(None);
    let ledger = LedgerClient::new(config.ledger_rpc.clone());
    let epochs = args
        .lifetime
        .duration()
        .unwrap_or(Epochs::Count(config.default_epochs.max(1)));
    let mut runs: Vec<(PathBuf, DryRun)> = Vec::new();
    for path in &args.files {
        let run = files::dry_run_file(&ledger, path, epochs)
            .await
            .map_err(|e| from_files(&e, &ctx))?;
        runs.push((path.clone(), run));
    }
    let system = ledger
        .system()
        .await
        .map_err(|e| from_files(&e.into(), &ctx))?;
    let mut human = String::new();
    for (path, r) in &runs {
        let _ = writeln!(
            human,
            "{} ({}): blob id {}",
            path.display(),
            bytes(r.size),
            r.blob_id
        );
        let _ = writeln!(
            human,
            "  Encoded size: {} over {} shards",
            bytes(r.encoded_size),
            system.n_shards
        );
        let _ = writeln!(
            human,
            "  Price:        {} for {} epoch(s): storage {} + write {}, plus transaction fees",
            r.price.total, r.epochs, r.price.storage, r.price.write
        );
        let _ = writeln!(human, "  Available:    {}", until(&system, r.end_epoch));
        if r.invalid {
            let _ = writeln!(
                human,
                "  This blob id is marked invalid: a store would be refused."
            );
        } else if r.already_certified {
            let _ = writeln!(
                human,
                "  Already certified until epoch {}: a store would pay nothing (unless --force).",
                r.certified_until.unwrap_or_default()
            );
        }
    }
    human.push_str("Dry run: nothing was paid or uploaded.\n");
    let json_runs: Vec<_> = runs
        .iter()
        .map(|(path, r)| {
            let mut v = serde_json::to_value(r).expect("serializes");
            v["path"] = json!(path);
            v
        })
        .collect();
    Ok(Report::new(
        json!({ "dry_run": true, "epoch": system.epoch, "blobs": json_runs }),
        human,
    ))
}

/// `path` with `suffix` appended to its file name, in the same directory.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

fn consistency(strict: bool, skip: bool) -> ConsistencyCheck {
    match (strict, skip) {
        (true, _) => ConsistencyCheck::Strict,
        (false, true) => ConsistencyCheck::Skip,
        (false, false) => ConsistencyCheck::Default,
    }
}

/// `floe read BLOB_ID [-o FILE] [--strict-consistency-check|--skip-consistency-check]`.
pub async fn read(env: &Env, args: ReadArgs) -> Result<Report, CliError> {
    let (client, ctx) = reading_client(env).await?;
    let check = consistency(args.strict_consistency_check, args.skip_consistency_check);
    let blob_id: BlobId = args.blob_id;
    let show = progress::wanted(env.json);
    let fail = |e: files::FilesError| from_files(&e, &ctx);
    match &args.out {
        Some(path) => {
            let bar = Bar::start(show, blob_id.to_string());
            let hook = Bar::hook(bar.as_ref());
            let blob = client
                .open_with_progress(blob_id, u64::MAX, hook.as_ref())
                .await
                .map_err(|e| from_read(&e, &ctx))?;
            // A sealed blob streams through its decryption.
            let blob = match private::peek(&client, blob)
                .await
                .map_err(|e| from_private(&e, &ctx))?
            {
                Peeked::Sealed(sealed) => {
                    drop(hook);
                    drop(bar);
                    let size = sealed.blob().len();
                    let decrypted = read_sealed_to_file(env, &client, sealed, check, path).await?;
                    let human = format!(
                        "Read blob {blob_id} ({}) into {}, decrypted ({}) with keys released \
                         under policy {}.\n",
                        bytes(size),
                        path.display(),
                        bytes(decrypted["size"].as_u64().unwrap_or(0)),
                        decrypted["policy"].as_str().unwrap_or("?")
                    );
                    let blob = json!({ "blob_id": blob_id, "size": size });
                    return Ok(Report::new(
                        json!({ "path": path, "blob": blob, "decrypted": decrypted }),
                        human,
                    ));
                }
                Peeked::Plain(blob) => blob,
            };
            // Read beside the output first: a sealed file stored in chunks is decrypted
            // into it once whole.
            let raw = sibling(path, ".floe-read");
            let r = files::read_opened_to_file(&client, blob, check, &raw, hook.as_ref()).await;
            drop(hook);
            drop(bar);
            let summary = r.map_err(fail)?;
            let decrypted = match open_file(env, &raw, path).await {
                Ok(Some(d)) => Some(d),
                Ok(None) => {
                    std::fs::rename(&raw, path).map_err(|e| {
                        CliError::local("write", format!("{}: {e}", path.display()))
                    })?;
                    None
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&raw);
                    return Err(e);
                }
            };
            let p = summary.phases;
            let mut human = format!(
                "Read blob {blob_id} ({}) into {} (metadata {}, slivers {}, decode {}).\n",
                bytes(summary.size),
                path.display(),
                duration(p.metadata),
                duration(p.slivers),
                duration(p.decode)
            );
            if let Some(d) = &decrypted {
                let _ = writeln!(
                    human,
                    "Decrypted it ({}) with keys released under policy {}.",
                    bytes(d["size"].as_u64().unwrap_or(0)),
                    d["policy"].as_str().unwrap_or("?")
                );
            }
            Ok(Report::new(
                json!({ "path": path, "blob": summary, "decrypted": decrypted }),
                human,
            ))
        }
        None if env.json => {
            let (summary, data) = files::read_blob(&client, blob_id, check, None)
                .await
                .map_err(fail)?;
            let (data, policy) = match open_bytes(env, &data).await? {
                Some((plain, policy)) => (plain, Some(policy)),
                None => (data, None),
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
            Ok(Report::new(
                json!({ "blob": summary, "data_base64": b64, "decrypted_policy": policy }),
                String::new(),
            ))
        }
        None => {
            // Bytes to stdout; a bar (if any) on stderr.
            let bar = Bar::start(show, blob_id.to_string());
            let hook = Bar::hook(bar.as_ref());
            let (summary, data) = files::read_blob(&client, blob_id, check, hook.as_ref())
                .await
                .map_err(fail)?;
            drop(hook);
            drop(bar);
            let data = match open_bytes(env, &data).await? {
                Some((plain, _)) => plain,
                None => data,
            };
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, &data)
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(|e| CliError::local("write", format!("cannot write to stdout: {e}")))?;
            tracing::debug!(size = summary.size, "blob written to stdout");
            Ok(Report::silent())
        }
    }
}

/// `floe bench …`: one JSON line.
pub async fn bench(env: &Env, cmd: BenchCommand) -> Result<Report, CliError> {
    match cmd {
        BenchCommand::Encode { size, shards } => {
            let size = usize::try_from(size)
                .map_err(|_| CliError::local("usage", "--size is too large"))?;
            let b = tokio::task::spawn_blocking(move || bench::bench_encode(size, shards))
                .await
                .map_err(|e| CliError::local("bench", e.to_string()))?
                .map_err(|e| CliError::local("encoding", e.to_string()))?;
            Ok(Report::line(b))
        }
        BenchCommand::Store { size, epochs } => {
            let size = usize::try_from(size)
                .map_err(|_| CliError::local("usage", "--size is too large"))?;
            let (config, client, ctx) = paying_client(env).await?;
            let epochs = epochs.unwrap_or(config.default_epochs.max(1));
            let b = bench::bench_store(&client, size, epochs)
                .await
                .map_err(|e| from_store(&e, &ctx))?;
            Ok(Report::line(b))
        }
        BenchCommand::Quilt {
            files,
            size,
            individual,
            epochs,
            reads,
        } => {
            let (config, client, ctx) = paying_client(env).await?;
            let epochs = epochs.unwrap_or(config.default_epochs.max(1));
            let b = bench::bench_quilt(&client, files, size, individual, epochs, reads)
                .await
                .map_err(|e| match e {
                    bench::QuiltBenchError::Quilt(e) => crate::fail::from_quilt_store(&e, &ctx),
                    bench::QuiltBenchError::Store(e) => from_store(&e, &ctx),
                    bench::QuiltBenchError::Read(e) => crate::fail::from_quilt_read(&e, &ctx),
                    e @ bench::QuiltBenchError::Ledger(_) => {
                        CliError::new(crate::fail::Exit::Network, "ledger_error", e.to_string())
                    }
                })?;
            Ok(Report::line(b))
        }
        BenchCommand::Private {
            size,
            requests,
            server_requests,
            rounds,
            epochs,
        } => {
            let (config, client, ctx) = paying_client(env).await?;
            let (floe, _) = env.connect_wallet().await?;
            let wallet = Wallet::load(&config.wallet).map_err(|e| CliError::wallet(&e))?;
            let epochs = epochs.unwrap_or(config.default_epochs.max(1));
            let size = usize::try_from(size)
                .map_err(|_| CliError::local("size", "size does not fit in memory"))?;
            let options = bench::PrivateBenchOptions {
                size,
                epochs,
                rounds,
                requests,
                server_requests,
            };
            let b = bench::bench_private(&client, &floe, &wallet, options)
                .await
                .map_err(|e| match e {
                    bench::PrivateBenchError::Ledger(e) => from_floe(&e, &ctx),
                    bench::PrivateBenchError::Private(e) => super::private::from_private(&e, &ctx),
                    bench::PrivateBenchError::Store(e) => from_store(&e, &ctx),
                    bench::PrivateBenchError::Read(e) => from_read(&e, &ctx),
                    bench::PrivateBenchError::Files(e) => from_files(&e, &ctx),
                    e => CliError::new(crate::fail::Exit::Network, "bench", e.to_string()),
                })?;
            Ok(Report::line(b))
        }
        BenchCommand::Read { blob_id } => {
            let (client, ctx) = reading_client(env).await?;
            let b = bench::bench_read(&client, blob_id)
                .await
                .map_err(|e| from_read(&e, &ctx))?;
            Ok(Report::line(b))
        }
        BenchCommand::Aggregator {
            blob_id,
            url,
            pid,
            clients,
            rate,
        } => {
            let b = bench::bench_aggregator(&url, blob_id, pid, clients, rate)
                .await
                .map_err(|e| {
                    CliError::new(crate::fail::Exit::Network, "bench", e.to_string())
                        .hint("start the daemon first: floe daemon --aggregator-only &")
                })?;
            Ok(Report::line(b))
        }
    }
}

/// Who may store, from the flags; an open publisher on a non-loopback address needs
/// `--unsafe-open-publisher`.
fn publisher_of(args: &DaemonArgs) -> Result<Publisher, CliError> {
    if args.aggregator_only {
        return Ok(Publisher::Off);
    }
    if let Some(secret) = &args.jwt_decode_secret {
        let algorithm: Algorithm = args.jwt_algorithm.parse().map_err(|_| {
            CliError::local(
                "jwt",
                format!("unknown JWT algorithm {:?}", args.jwt_algorithm),
            )
            .hint("one of HS256, HS384, HS512, EdDSA, ES256, ES384, RS256, RS384, RS512, PS256, PS384, PS512")
        })?;
        let options = JwtOptions {
            algorithm,
            max_age: (args.jwt_expiring_sec > 0)
                .then(|| std::time::Duration::from_secs(args.jwt_expiring_sec)),
            cache_size: args.jwt_cache_size.max(1),
        };
        let auth =
            JwtAuth::new(secret, options).map_err(|e| CliError::local("jwt", e.to_string()))?;
        return Ok(Publisher::Authenticated(Arc::new(auth)));
    }
    if !is_loopback(&args.bind) && !args.unsafe_open_publisher {
        return Err(CliError::local(
            "open_publisher",
            format!(
                "refusing to run an unauthenticated publisher on {}: anyone who reaches it \
                 spends this wallet's WAL",
                args.bind
            ),
        )
        .hint(
            "pass --jwt-decode-secret, or --aggregator-only, or (on a trusted network) \
             --unsafe-open-publisher",
        ));
    }
    Ok(Publisher::Open)
}

/// The per-client store rate: `--publisher-rate`, else 60 a minute off loopback.
fn publisher_rate_of(args: &DaemonArgs) -> Option<daemon::rate::Rate> {
    let per_minute = args
        .publisher_rate
        .unwrap_or(if is_loopback(&args.bind) { 0 } else { 60 });
    (per_minute > 0).then(|| daemon::rate::Rate {
        per_minute,
        burst: (per_minute / 6).max(1),
    })
}

/// Reads per client address at once: as given (0: no limit), else 8 off loopback.
fn reads_per_client_of(args: &DaemonArgs) -> Option<usize> {
    let n = args
        .max_reads_per_client
        .unwrap_or(if is_loopback(&args.bind) { 0 } else { 8 });
    (n > 0).then_some(n)
}

fn is_loopback(bind: &str) -> bool {
    bind.parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback())
        || bind.starts_with("localhost:")
}

/// `floe daemon`: serves until Ctrl-C.
pub async fn daemon(env: &Env, args: DaemonArgs) -> Result<Report, CliError> {
    let publisher = publisher_of(&args)?;
    let (_config, client, ctx) = paying_client(env).await?;
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .map_err(|e| {
            CliError::local("bind", format!("cannot listen on {}: {e}", args.bind))
                .hint("pick another address with --bind HOST:PORT")
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::local("bind", e.to_string()))?;
    let options = DaemonOptions {
        max_body: args.max_body,
        max_quilt_body: args.max_quilt_body,
        max_concurrent: args.max_concurrent,
        max_concurrent_reads: args.max_concurrent_reads,
        cors_allow_origin: (args.cors_allow_origin != "none")
            .then(|| args.cors_allow_origin.clone()),
        allow_active_content: args.allow_active_content,
        publisher,
        publisher_rate: publisher_rate_of(&args),
        max_read_blob_size: args.max_read_blob_size,
        max_reads_per_client: reads_per_client_of(&args),
        ..DaemonOptions::default()
    };
    eprintln!(
        "floe daemon: publisher and aggregator on http://{addr} (stores paid by {}; body limit \
         {} bytes, {} stores and {} reads at once). API: http://{addr}/v1/api. Ctrl-C stops.",
        ctx.address.as_deref().unwrap_or("the wallet"),
        options.max_body,
        options.max_concurrent,
        options.max_concurrent_reads
    );
    let app = daemon::router(Arc::new(client), &options);
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    let stall = std::time::Duration::from_secs(args.stall_timeout);
    daemon::serve_with_stall(listener, app, stop, stall)
        .await
        .map_err(|e| CliError::new(crate::fail::Exit::Network, "serve", e.to_string()))?;
    Ok(Report::new(
        json!({ "stopped": true, "address": addr.to_string() }),
        "floe daemon stopped.\n".to_owned(),
    ))
}
