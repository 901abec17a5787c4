//! Quilts: `store-quilt`, `read-quilt`, `list-patches`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use floe_client::blobs::{
    Persistence, QuiltFile, QuiltPatch, QuiltPatchId, StoreOptions, StoreOutcome, patch_id_of,
};
use floe_common::BlobId;
use serde_json::json;

use super::Env;
use super::data::{paying_client, reading_client, store_epochs};
use crate::fail::{CliError, from_quilt_read, from_quilt_store};
use crate::render::{Report, bytes, table};
use crate::{ReadQuiltArgs, StoreQuiltArgs};

/// The files under `dir`, with their paths relative to it as identifiers.
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>, CliError> {
    floe_client::files::files_under(dir).map_err(|e| CliError::local("read", e.to_string()))
}

/// `floe store-quilt FILE… | --dir DIR [--tag K=V …] [--epochs N|max]`.
pub async fn store_quilt(env: &Env, args: StoreQuiltArgs) -> Result<Report, CliError> {
    let inputs: Vec<(String, PathBuf)> = match &args.dir {
        Some(dir) => files_under(dir)?,
        None => args
            .files
            .iter()
            .map(|p| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, p.clone())
            })
            .collect(),
    };
    if inputs.is_empty() {
        let what = args.dir.as_ref().map_or("no files".to_owned(), |d| {
            format!("{} has no files", d.display())
        });
        return Err(
            CliError::local("empty_quilt", format!("nothing to store: {what}"))
                .hint("a quilt needs at least one file"),
        );
    }
    let tags: BTreeMap<String, String> = args.tags.iter().cloned().collect();
    let mut files = Vec::with_capacity(inputs.len());
    for (identifier, path) in &inputs {
        let data = std::fs::read(path)
            .map_err(|e| CliError::local("read", format!("cannot read {}: {e}", path.display())))?;
        files.push(QuiltFile {
            identifier: identifier.clone(),
            tags: tags.clone(),
            content_type: None,
            data,
        });
    }
    let (config, client, ctx) = paying_client(env).await?;
    let (epochs, system) = store_epochs(&config, &client, &ctx, args.lifetime.duration()).await?;
    let opts = StoreOptions {
        epochs,
        persistence: if args.lifetime.permanent {
            Persistence::Permanent
        } else {
            Persistence::Deletable
        },
        ..StoreOptions::default()
    };
    let out = client
        .store_quilt(files, &opts)
        .await
        .map_err(|e| from_quilt_store(&e, &ctx))?;
    let quilt_id = out.store.blob_id();
    let mut human = match &out.store {
        StoreOutcome::NewlyCreated {
            size,
            encoded_size,
            cost,
            ..
        } => format!(
            "Stored {} files as quilt {quilt_id} ({}, {} encoded, cost {cost} plus transaction \
             fees).\n",
            out.patches.len(),
            bytes(*size),
            bytes(*encoded_size)
        ),
        StoreOutcome::AlreadyCertified { end_epoch, .. } => format!(
            "Quilt {quilt_id} of these {} files is already stored until epoch {end_epoch}; \
             nothing was paid.\n",
            out.patches.len()
        ),
    };
    let rows: Vec<Vec<String>> = out
        .patches
        .iter()
        .map(|(id, p)| vec![id.clone(), p.to_string()])
        .collect();
    human.push_str(&table(&["Identifier", "Patch id"], &rows));
    let patches: Vec<_> = out
        .patches
        .iter()
        .map(|(id, p)| json!({ "identifier": id, "patch_id": p }))
        .collect();
    Ok(Report::new(
        json!({ "epoch": system.epoch, "quilt": out.store, "patches": patches }),
        human,
    ))
}

/// `floe list-patches QUILT_ID`.
pub async fn list_patches(env: &Env, quilt_id: BlobId) -> Result<Report, CliError> {
    let (client, ctx) = reading_client(env).await?;
    let index = client
        .read_quilt_index(quilt_id)
        .await
        .map_err(|e| from_quilt_read(&e, &ctx))?;
    let mut rows = Vec::new();
    let mut list = Vec::new();
    for e in &index.patches {
        let patch_id =
            patch_id_of(&index, quilt_id, &e.identifier).map_err(|e| from_quilt_read(&e, &ctx))?;
        let tags: Vec<String> = e.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rows.push(vec![
            e.identifier.clone(),
            patch_id.to_string(),
            e.content_type.clone(),
            tags.join(" "),
        ]);
        list.push(json!({
            "identifier": e.identifier,
            "patch_id": patch_id,
            "content_type": e.content_type,
            "tags": e.tags,
        }));
    }
    let mut human = format!("Quilt {quilt_id}: {} patches.\n", index.patches.len());
    human.push_str(&table(
        &["Identifier", "Patch id", "Content type", "Tags"],
        &rows,
    ));
    Ok(Report::new(
        json!({ "quilt_id": quilt_id, "patches": list }),
        human,
    ))
}

/// Where patch `identifier` goes under `dir`: refused if the identifier would leave it.
fn out_path(dir: &Path, identifier: &str) -> Result<PathBuf, CliError> {
    let rel = Path::new(identifier);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(CliError::local(
            "unsafe_identifier",
            format!(
                "patch {identifier:?} would be written outside {}",
                dir.display()
            ),
        ));
    }
    Ok(dir.join(rel))
}

/// `floe read-quilt QUILT_ID [IDENTIFIER…] | --patch PATCH_ID … | --tag K=V … [-o DIR]`.
pub async fn read_quilt(env: &Env, args: ReadQuiltArgs) -> Result<Report, CliError> {
    // A patch id of another quilt than the one named is refused before anything is read.
    if let Some(q) = args.quilt_id
        && let Some(p) = args.patches.iter().find(|p| p.quilt_id != q)
    {
        let e = floe_client::blobs::QuiltReadError::WrongQuilt {
            patch_id: *p,
            expected: q,
        };
        return Err(from_quilt_read(&e, &env.context(None)));
    }
    let (client, ctx) = reading_client(env).await?;
    let fail = |e| from_quilt_read(&e, &ctx);
    let mut patches: Vec<QuiltPatch> = Vec::new();
    if !args.patches.is_empty() {
        for p in &args.patches {
            patches.push(client.read_patch(*p).await.map_err(fail)?);
        }
    } else {
        let quilt_id = args
            .quilt_id
            .ok_or_else(|| CliError::local("usage", "name a quilt id, or patches with --patch"))?;
        let blob = client
            .open(quilt_id, u64::MAX)
            .await
            .map_err(|e| fail(e.into()))?;
        let (index, _) = client.quilt_index_of(&blob).await.map_err(fail)?;
        let wanted: Vec<QuiltPatchId> = if args.identifiers.is_empty() {
            index
                .patches
                .iter()
                .filter(|e| args.tags.iter().all(|(k, v)| e.tags.get(k) == Some(v)))
                .map(|e| patch_id_of(&index, quilt_id, &e.identifier))
                .collect::<Result<_, _>>()
                .map_err(fail)?
        } else {
            args.identifiers
                .iter()
                .map(|id| patch_id_of(&index, quilt_id, id))
                .collect::<Result<_, _>>()
                .map_err(fail)?
        };
        for p in wanted {
            patches.push(client.read_patch_of(&blob, p).await.map_err(fail)?);
        }
    }
    let listed = |p: &QuiltPatch| {
        json!({
            "identifier": p.identifier,
            "patch_id": p.patch_id,
            "content_type": p.content_type,
            "tags": p.tags,
            "size": p.data.len(),
        })
    };
    match &args.out {
        Some(dir) => {
            let mut human = String::new();
            let mut list = Vec::new();
            for p in &patches {
                let path = out_path(dir, &p.identifier)?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        CliError::local("write", format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                std::fs::write(&path, &p.data).map_err(|e| {
                    CliError::local("write", format!("cannot write {}: {e}", path.display()))
                })?;
                let _ = writeln!(
                    human,
                    "{} ({}) -> {}",
                    p.identifier,
                    bytes(p.data.len() as u64),
                    path.display()
                );
                let mut v = listed(p);
                v["path"] = json!(path);
                list.push(v);
            }
            let _ = writeln!(human, "Read {} patches.", patches.len());
            Ok(Report::new(json!({ "patches": list }), human))
        }
        None if env.json => {
            let list: Vec<_> = patches
                .iter()
                .map(|p| {
                    let mut v = listed(p);
                    v["data_base64"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(&p.data));
                    v
                })
                .collect();
            Ok(Report::new(json!({ "patches": list }), String::new()))
        }
        None => match patches.as_slice() {
            [one] => {
                let mut out = std::io::stdout().lock();
                std::io::Write::write_all(&mut out, &one.data)
                    .and_then(|()| std::io::Write::flush(&mut out))
                    .map_err(|e| {
                        CliError::local("write", format!("cannot write to stdout: {e}"))
                    })?;
                Ok(Report::silent())
            }
            _ => Err(CliError::local(
                "usage",
                format!("{} patches selected: stdout takes one", patches.len()),
            )
            .hint("write them to a directory with -o DIR, or use --json")),
        },
    }
}

/// `KEY=VALUE`.
pub fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}
