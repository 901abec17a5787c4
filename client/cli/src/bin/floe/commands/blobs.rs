//! Blob commands on the ledger: blob-id (offline), blob-status, list-blobs, attributes. (What
//! changes a blob object's life is in `lifecycle`.)

use std::fmt::Write as _;
use std::path::Path;

use floe_client::{Floe, FloeError};
use floe_common::{BlobId, Epoch, ObjectId};
use floe_ledger_types::rpc::SystemInfo;
use serde_json::json;

use super::Env;
use crate::fail::{CliError, from_floe, not_found};
use crate::render::{Report, bytes, relative, table, time_utc};

/// `until epoch E starts (2026-… UTC, in 3h)`.
pub(super) fn until(system: &SystemInfo, end: Epoch) -> String {
    let at = floe_client::floe::epoch_start_ms(system, end);
    format!(
        "until epoch {end} starts ({}, {})",
        time_utc(at),
        relative(at)
    )
}

/// `floe blob-id FILE [--shards N]`: the shard count comes from `--shards`, else the ledger
/// (when the config loads and a validator answers), else the config's `n_shards`.
pub async fn blob_id(env: &Env, file: &Path, shards: Option<u16>) -> Result<Report, CliError> {
    let data = std::fs::read(file)
        .map_err(|e| CliError::local("read", format!("cannot read {}: {e}", file.display())))?;
    let hint = "pass --shards N (the network's shard count; the devnet uses 100)";
    let (n_shards, source) = match shards {
        Some(n) => (n, "argument"),
        None => {
            let config = env.config().map_err(|e| e.hint(hint))?;
            let from_ledger = match Floe::connect(config.ledger_rpc.clone()).await {
                Ok(floe) => floe.system().await.map(|s| s.n_shards),
                Err(e) => Err(e),
            };
            match (from_ledger, config.n_shards) {
                (Ok(n), _) => (n, "ledger"),
                (Err(e), Some(n)) => {
                    tracing::warn!(error = %e, n_shards = n, "ledger unreachable; using the config's n_shards");
                    (n, "config")
                }
                (Err(e), None) => return Err(from_floe(&e, &Default::default()).hint(hint)),
            }
        }
    };
    let id = floe_client::blob_id_of(&data, n_shards)
        .map_err(|e| CliError::local("encoding", e.to_string()))?;
    Ok(Report::new(
        json!({
            "file": file,
            "blob_id": id.blob_id,
            "unencoded_length": id.unencoded_length,
            "encoded_length": id.encoded_length,
            "n_shards": id.n_shards,
            "n_shards_source": source,
        }),
        format!(
            "Blob id:      {}\nFile:         {} ({})\nEncoded size: {} over {} shards \
             (shard count from the {source})\n",
            id.blob_id,
            file.display(),
            bytes(id.unencoded_length),
            bytes(id.encoded_length),
            id.n_shards
        ),
    ))
}

pub async fn blob_status(env: &Env, blob_id: BlobId) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect().await?;
    let fail = |e: FloeError| from_floe(&e, &ctx);
    let Some(status) = floe.blob_status(&blob_id).await.map_err(fail)? else {
        return Err(not_found(
            "unknown_blob",
            format!("blob {blob_id} is not registered on the ledger"),
        )
        .hint("it was never stored, or all its blob objects were deleted"));
    };
    let system = floe.system().await.map_err(fail)?;
    let i = &status.info;
    let kind = match (status.permanent, status.deletable) {
        (true, true) => "permanent and deletable",
        (true, false) => "permanent",
        (false, true) => "deletable",
        (false, false) => "no live registration",
    };
    let state = if status.invalid {
        format!(
            "INVALID (since epoch {}): its data is not served",
            i.invalidated_epoch.unwrap_or_default()
        )
    } else if status.certified {
        format!("certified ({kind})")
    } else {
        format!("registered, not certified ({kind})")
    };
    let mut h = format!("Blob {blob_id}\nStatus:    {state}\n");
    if let Some(end) = i.max_certified_end_epoch {
        let expired = if system.epoch >= end {
            " — expired"
        } else {
            ""
        };
        let _ = writeln!(h, "Available: {}{expired}", until(&system, end));
    }
    if let Some(e) = i.initial_certified_epoch {
        let _ = writeln!(h, "Certified: first in epoch {e}");
    }
    let _ = writeln!(
        h,
        "Objects:   {} permanent ({} certified), {} deletable ({} certified)",
        i.registered_permanent,
        i.certified_permanent,
        i.registered_deletable,
        i.certified_deletable
    );
    for o in &i.objects {
        let _ = writeln!(h, "  {o}");
    }
    // With the chain's genesis, the certification is checked against a certified block.
    let mut json = serde_json::to_value(&status).expect("status serializes");
    if floe.can_prove() && status.certified {
        let proof = match floe.proven_certification(&blob_id).await {
            Ok(Some(p)) => {
                let _ = writeln!(
                    h,
                    "Proof:     certified until epoch {} by block {} (checked against the genesis validators)",
                    p.end_epoch, p.height
                );
                serde_json::to_value(p).expect("proof serializes")
            }
            Ok(None) => {
                let _ = writeln!(
                    h,
                    "Proof:     none (the ledger no longer reports a certification)"
                );
                serde_json::Value::Null
            }
            Err(e) => {
                let _ = writeln!(h, "Proof:     NOT PROVEN: {e}");
                serde_json::json!({ "error": e.to_string(), "code": e.code() })
            }
        };
        json["proof"] = proof;
    }
    Ok(Report::new(json, h))
}

pub async fn list_blobs(env: &Env) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let fail = |e: FloeError| from_floe(&e, &ctx);
    let address = floe.address().map_err(fail)?;
    let blobs = floe.list_blobs().await.map_err(fail)?;
    let system = floe.system().await.map_err(fail)?;
    let human = if blobs.is_empty() {
        format!("No blob objects owned by {address}.\n")
    } else {
        let rows: Vec<Vec<String>> = blobs
            .iter()
            .map(|b| {
                let state = if b.blob.invalid {
                    "invalid"
                } else if system.epoch >= b.blob.end_epoch {
                    "expired"
                } else if b.blob.is_certified() {
                    "certified"
                } else {
                    "registered"
                };
                vec![
                    b.object_id.to_string(),
                    b.blob.blob_id.to_string(),
                    bytes(b.blob.unencoded_length),
                    state.to_owned(),
                    b.blob.end_epoch.to_string(),
                    if b.blob.deletable { "yes" } else { "no" }.to_owned(),
                ]
            })
            .collect();
        let mut h = format!(
            "{} blob object(s) owned by {address} (current epoch {}):\n",
            blobs.len(),
            system.epoch
        );
        h.push_str(&table(
            &[
                "OBJECT ID",
                "BLOB ID",
                "SIZE",
                "STATE",
                "END EPOCH",
                "DELETABLE",
            ],
            &rows,
        ));
        h
    };
    Ok(Report::new(
        json!({ "address": address, "epoch": system.epoch, "blobs": blobs }),
        human,
    ))
}

/// `floe attr get|set|rm`.
pub async fn attr(env: &Env, cmd: crate::AttrCommand) -> Result<Report, CliError> {
    use crate::AttrCommand;
    match cmd {
        AttrCommand::Get { object, key } => {
            let (floe, ctx) = env.connect().await?;
            let attributes = blob_attributes(&floe, object)
                .await
                .map_err(|e| from_floe(&e, &ctx))?
                .ok_or_else(|| {
                    not_found("unknown_object", format!("no blob object {object}"))
                        .hint("list your blob objects with `floe list-blobs`")
                })?;
            match key {
                Some(k) => {
                    let value = attributes.get(&k).ok_or_else(|| {
                        not_found(
                            "unknown_attribute",
                            format!("blob object {object} has no attribute {k:?}"),
                        )
                    })?;
                    Ok(Report::new(
                        json!({ "object_id": object, "key": k, "value": value }),
                        format!("{value}\n"),
                    ))
                }
                None => {
                    let rows: Vec<Vec<String>> = attributes
                        .iter()
                        .map(|(k, v)| vec![k.clone(), v.clone()])
                        .collect();
                    let human = if rows.is_empty() {
                        format!("Blob object {object} has no attributes.\n")
                    } else {
                        table(&["KEY", "VALUE"], &rows)
                    };
                    Ok(Report::new(
                        json!({ "object_id": object, "attributes": attributes }),
                        human,
                    ))
                }
            }
        }
        AttrCommand::Set { object, key, value } => {
            let (floe, ctx) = env.connect_wallet().await?;
            let receipt = floe
                .set_blob_attribute(object, &key, &value)
                .await
                .map_err(|e| from_floe(&e, &ctx))?;
            Ok(Report::new(
                json!({ "object_id": object, "key": key, "value": value, "height": receipt.height, "fee": receipt.effects.fee_charged }),
                format!(
                    "Set {key} = {value:?} on blob object {object} (block {}).\n",
                    receipt.height
                ),
            ))
        }
        AttrCommand::Rm { object, key } => {
            let (floe, ctx) = env.connect_wallet().await?;
            let receipt = floe
                .remove_blob_attribute(object, &key)
                .await
                .map_err(|e| from_floe(&e, &ctx))?;
            Ok(Report::new(
                json!({ "object_id": object, "key": key, "height": receipt.height, "fee": receipt.effects.fee_charged }),
                format!(
                    "Removed {key} from blob object {object} (block {}).\n",
                    receipt.height
                ),
            ))
        }
    }
}

/// The attributes of blob object `object` (`None` if it is not one).
async fn blob_attributes(
    floe: &Floe,
    object: ObjectId,
) -> Result<Option<std::collections::BTreeMap<String, String>>, FloeError> {
    Ok(floe
        .object(&object)
        .await?
        .and_then(|r| r.object.as_blob().map(|b| b.attributes.clone())))
}
