//! A blob object's later life: extend (paid by the wallet, or from a shared blob's funds),
//! delete several at once, transfer, fund a shared blob, burn.

use std::fmt::Write as _;

use floe_client::{Floe, FloeError, Receipt};
use floe_common::{BlobId, Frost, ObjectId};
use floe_ledger_types::{Address, Event, MAX_BURN_BLOBS};
use serde_json::{Value, json};

use super::Env;
use super::blobs::until;
use crate::fail::{CliError, Context, from_floe, not_found};
use crate::render::Report;
use crate::{BurnArgs, DeleteArgs};

/// `floe extend --object ID --epochs N [--shared]`.
pub async fn extend(
    env: &Env,
    object: ObjectId,
    epochs: u32,
    shared: bool,
) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let fail = |e: FloeError| from_floe(&e, &ctx);
    let receipt = if shared {
        floe.extend_shared_blob(object, epochs).await
    } else {
        floe.extend_blob(object, epochs).await
    }
    .map_err(fail)?;
    let extended = receipt.effects.events.iter().find_map(|e| match e {
        Event::BlobExtended {
            blob_id, end_epoch, ..
        } => Some((*blob_id, *end_epoch)),
        _ => None,
    });
    let spent = receipt.effects.events.iter().find_map(|e| match e {
        Event::SharedBlobSpent { amount, funds, .. } => Some((*amount, *funds)),
        _ => None,
    });
    let system = floe.system().await.map_err(fail)?;
    let mut human = match extended {
        Some((blob_id, end)) => format!(
            "Extended blob {blob_id} (object {object}) by {epochs} epoch(s): stored {} \
             (block {}).\n",
            until(&system, end),
            receipt.height
        ),
        None => format!("Extended object {object} (block {}).\n", receipt.height),
    };
    if let Some((amount, funds)) = spent {
        let _ = writeln!(human, "Paid {amount} from its funds; {funds} left.");
    }
    let mut doc = json!({
        "object_id": object,
        "blob_id": extended.map(|e| e.0),
        "epochs": epochs,
        "end_epoch": extended.map(|e| e.1),
        "digest": receipt.digest,
        "height": receipt.height,
        "fee": receipt.effects.fee_charged,
    });
    if let Some((amount, funds)) = spent {
        doc["paid_from_funds"] = json!(amount);
        doc["funds"] = json!(funds);
    }
    Ok(Report::new(doc, human))
}

/// One deletion's document: the object, its blob, the storage object it gave back.
fn deleted_doc(object: ObjectId, receipt: &Receipt) -> Value {
    let blob_id = receipt.effects.events.iter().find_map(|e| match e {
        Event::BlobDeleted { blob_id, .. } => Some(*blob_id),
        _ => None,
    });
    json!({
        "object_id": object,
        "blob_id": blob_id,
        "storage_object": receipt.effects.created.first(),
        "digest": receipt.digest,
        "height": receipt.height,
        "fee": receipt.effects.fee_charged,
    })
}

/// The wallet's live deletable blob objects of each blob id in `wanted` (id, where it came
/// from); a blob id without one is an error.
async fn deletable_objects_of(
    floe: &Floe,
    ctx: &Context,
    wanted: &[(BlobId, String)],
) -> Result<Vec<ObjectId>, CliError> {
    let fail = |e: FloeError| from_floe(&e, ctx);
    let owned = floe.list_blobs().await.map_err(fail)?;
    let epoch = floe.system().await.map_err(fail)?.epoch;
    let mut found = Vec::new();
    for (blob_id, source) in wanted {
        let of_blob: Vec<ObjectId> = owned
            .iter()
            .filter(|b| b.blob.blob_id == *blob_id && b.blob.deletable && epoch < b.blob.end_epoch)
            .map(|b| b.object_id)
            .collect();
        if of_blob.is_empty() {
            return Err(not_found(
                "no_deletable_object",
                format!("the wallet has no live deletable blob object of blob {blob_id}{source}"),
            )
            .hint("`floe list-blobs` lists your blob objects; permanent ones cannot be deleted"));
        }
        found.extend(of_blob);
    }
    Ok(found)
}

/// `floe delete --object ID… | --blob-id ID… | --file PATH…`: one `DeleteBlob` per object, in
/// order; a failure stops and names the objects deleted before it.
pub async fn delete(env: &Env, args: DeleteArgs) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let mut wanted: Vec<(BlobId, String)> =
        args.blob_ids.iter().map(|b| (*b, String::new())).collect();
    if !args.files.is_empty() {
        let n_shards = floe
            .system()
            .await
            .map_err(|e| from_floe(&e, &ctx))?
            .n_shards;
        for path in &args.files {
            let data = std::fs::read(path).map_err(|e| {
                CliError::local("read", format!("cannot read {}: {e}", path.display()))
            })?;
            let id = floe_client::blob_id_of(&data, n_shards)
                .map_err(|e| CliError::local("encoding", e.to_string()))?;
            wanted.push((id.blob_id, format!(" (file {})", path.display())));
        }
    }
    let mut targets = args.objects.clone();
    targets.extend(deletable_objects_of(&floe, &ctx, &wanted).await?);
    let mut seen = std::collections::BTreeSet::new();
    targets.retain(|o| seen.insert(*o));
    let mut done: Vec<Value> = Vec::new();
    let mut human = String::new();
    for object in targets {
        let receipt = match floe.delete_blob(object).await {
            Ok(r) => r,
            Err(e) => {
                let mut err = from_floe(&e, &ctx);
                err.message = format!("deleting {object}: {}", err.message);
                if !done.is_empty() {
                    let ids: Vec<String> = done
                        .iter()
                        .map(|d| d["object_id"].as_str().unwrap_or_default().to_owned())
                        .collect();
                    err.message = format!(
                        "{} (deleted before the failure: {})",
                        err.message,
                        ids.join(", ")
                    );
                }
                return Err(err);
            }
        };
        let doc = deleted_doc(object, &receipt);
        let _ = write!(human, "Deleted blob object {object}");
        if let Some(b) = doc["blob_id"].as_str() {
            let _ = write!(human, " (blob {b})");
        }
        let _ = writeln!(human, " in block {}.", receipt.height);
        if let Some(s) = doc["storage_object"].as_str() {
            let _ = writeln!(
                human,
                "  Its remaining storage is yours again as storage object {s}."
            );
        }
        done.push(doc);
    }
    Ok(Report::new(json!({ "deleted": done }), human))
}

/// `floe transfer-blob --object ID --to ADDR`.
pub async fn transfer_blob(env: &Env, object: ObjectId, to: Address) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let receipt = floe
        .transfer_blob(object, to)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let blob_id = receipt.effects.events.iter().find_map(|e| match e {
        Event::BlobTransferred { blob_id, .. } => Some(*blob_id),
        _ => None,
    });
    let blob = blob_id.map(|b| format!(" (blob {b})")).unwrap_or_default();
    Ok(Report::new(
        json!({
            "object_id": object,
            "blob_id": blob_id,
            "to": to,
            "digest": receipt.digest,
            "height": receipt.height,
            "fee": receipt.effects.fee_charged,
        }),
        format!(
            "Gave blob object {object}{blob} to {to} (block {}).\n",
            receipt.height
        ),
    ))
}

/// `floe fund-shared-blob --object ID --amount WAL`.
pub async fn fund_shared_blob(
    env: &Env,
    object: ObjectId,
    amount: Frost,
) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let receipt = floe
        .fund_shared_blob(object, amount)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let funds = receipt.effects.events.iter().find_map(|e| match e {
        Event::SharedBlobFunded { funds, .. } => Some(*funds),
        _ => None,
    });
    let now = funds
        .map(|f| format!("; it now holds {f}"))
        .unwrap_or_default();
    Ok(Report::new(
        json!({
            "object_id": object,
            "amount": amount,
            "funds": funds,
            "digest": receipt.digest,
            "height": receipt.height,
            "fee": receipt.effects.fee_charged,
        }),
        format!(
            "Added {amount} to shared blob {object}{now} (block {}).\n",
            receipt.height
        ),
    ))
}

/// `floe burn-blobs --object ID… | --all-expired`: at most [`MAX_BURN_BLOBS`] objects per
/// transaction; a failing transaction stops, naming the objects burned before it.
pub async fn burn_blobs(env: &Env, args: BurnArgs) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let fail = |e: FloeError| from_floe(&e, &ctx);
    let objects = if args.all_expired {
        let epoch = floe.system().await.map_err(fail)?.epoch;
        floe.list_blobs()
            .await
            .map_err(fail)?
            .into_iter()
            .filter(|b| b.blob.end_epoch <= epoch)
            .map(|b| b.object_id)
            .collect()
    } else {
        args.objects.clone()
    };
    if objects.is_empty() {
        return Ok(Report::new(
            json!({ "burned": [], "deleted": [], "transactions": [] }),
            "No expired blob objects to burn.\n".to_owned(),
        ));
    }
    let (mut burned, mut deleted, mut txs) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in objects.chunks(MAX_BURN_BLOBS) {
        let receipt = floe.burn_blobs(chunk).await.map_err(|e| {
            let mut err = fail(e);
            if !txs.is_empty() {
                err.message = format!(
                    "{} (burned before the failure: {} object(s) in {} transaction(s))",
                    err.message,
                    burned.len() + deleted.len(),
                    txs.len()
                );
            }
            err
        })?;
        for e in &receipt.effects.events {
            match e {
                Event::BlobBurned {
                    object_id, blob_id, ..
                } => burned.push(json!({ "object_id": object_id, "blob_id": blob_id })),
                Event::BlobDeleted {
                    object_id, blob_id, ..
                } => deleted.push(json!({ "object_id": object_id, "blob_id": blob_id })),
                _ => {}
            }
        }
        txs.push(json!({
            "digest": receipt.digest,
            "height": receipt.height,
            "fee": receipt.effects.fee_charged,
            "storage_objects": receipt.effects.created,
        }));
    }
    let mut human = format!(
        "Burned {} blob object(s) in {} transaction(s).\n",
        burned.len() + deleted.len(),
        txs.len()
    );
    for b in &burned {
        let _ = writeln!(
            human,
            "  {}  expired (or invalid): removed",
            b["object_id"].as_str().unwrap_or("")
        );
    }
    for d in &deleted {
        let _ = writeln!(
            human,
            "  {}  live and deletable: deleted, its remaining storage is yours again",
            d["object_id"].as_str().unwrap_or("")
        );
    }
    Ok(Report::new(
        json!({ "burned": burned, "deleted": deleted, "transactions": txs }),
        human,
    ))
}
