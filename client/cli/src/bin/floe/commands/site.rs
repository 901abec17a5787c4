//! Sites and names: `floe site …`, `floe name …`.

use std::fmt::Write as _;
use std::path::Path;

use floe_client::blobs::{Persistence, StoreOptions};
use floe_client::sites::{self, SiteError, SiteFiles};
use floe_common::ObjectId;
use floe_common::site::{SiteRecord, site_label};
use floe_ledger_types::{NameObject, TxKind};
use serde_json::json;

use super::Env;
use super::data::{paying_client, store_epochs};
use crate::fail::{CliError, Context, from_floe, from_quilt_store, not_found};
use crate::render::{Report, bytes, table};
use crate::{Lifetime, NameCommand, SiteCommand};

/// The portal's default address (`floe daemon`'s default bind).
const PORTAL: &str = "localhost:31415";

/// A site error as a CLI error.
fn from_site(e: &SiteError, ctx: &Context) -> CliError {
    match e {
        SiteError::Io { .. } => CliError::local("read", e.to_string()),
        SiteError::Empty(_) => CliError::local("empty_site", e.to_string())
            .hint("a site needs at least one file; nothing was paid"),
        SiteError::Config(_) => CliError::local("bad_site_config", e.to_string())
            .hint("fix site.yaml (keys: site_headers, headers, routes, redirects, not_found); nothing was paid"),
        SiteError::Invalid(_) => CliError::local("invalid_site", e.to_string())
            .hint("fix the files or site.yaml; nothing was paid"),
        SiteError::Store(s) => from_quilt_store(s, ctx),
        SiteError::Ledger(f) => from_floe(f, ctx),
        SiteError::NotASite(_) | SiteError::UnknownSite(_) => {
            not_found("unknown_site", e.to_string()).hint("list your sites with `floe site list`")
        }
        SiteError::UnknownName(_) | SiteError::NameWithoutSite(_) => {
            not_found("unknown_name", e.to_string())
        }
        SiteError::NameTaken { .. } => not_found("name_taken", e.to_string())
            .hint("pick another name; nothing was paid"),
    }
}

/// `http://<name or label>.localhost:31415/`.
fn portal_url(label: &str) -> String {
    format!("http://{label}.{PORTAL}/")
}

fn store_options(epochs: u32, lifetime: &Lifetime) -> StoreOptions {
    StoreOptions {
        epochs,
        persistence: if lifetime.permanent {
            Persistence::Permanent
        } else {
            Persistence::Deletable
        },
        ..StoreOptions::default()
    }
}

fn read_dir(dir: &Path, ctx: &Context) -> Result<SiteFiles, CliError> {
    SiteFiles::from_dir(dir).map_err(|e| from_site(&e, ctx))
}

/// `floe site …`.
pub async fn site(env: &Env, cmd: SiteCommand) -> Result<Report, CliError> {
    match cmd {
        SiteCommand::Publish {
            dir,
            name,
            lifetime,
        } => publish(env, &dir, name, &lifetime).await,
        SiteCommand::Update {
            dir,
            site,
            lifetime,
        } => update(env, &dir, &site, &lifetime).await,
        SiteCommand::List => list(env).await,
        SiteCommand::Show { site } => show(env, &site).await,
        SiteCommand::Delete { site } => delete(env, &site).await,
    }
}

async fn publish(
    env: &Env,
    dir: &Path,
    name: Option<String>,
    lifetime: &Lifetime,
) -> Result<Report, CliError> {
    let (config, client, ctx) = paying_client(env).await?;
    let files = read_dir(dir, &ctx)?;
    let (floe, _) = env.connect_wallet().await?;
    let (epochs, _) = store_epochs(&config, &client, &ctx, lifetime.duration()).await?;
    let out = sites::publish_site(
        &client,
        &floe,
        &files,
        &store_options(epochs, lifetime),
        name.as_deref().map(|n| (n, epochs)),
    )
    .await
    .map_err(|e| from_site(&e, &ctx))?;
    let label = site_label(&out.site);
    let url = portal_url(out.name.as_deref().unwrap_or(&label));
    let mut h = format!(
        "Published {} files ({}) as site {}.\n",
        out.record.resources.len(),
        bytes(out.record.total_size()),
        out.site
    );
    let _ = writeln!(h, "Quilts: {}", join(&out.quilts));
    if let Some(n) = &out.name {
        let _ = writeln!(h, "Name: {n}");
    }
    let _ = writeln!(h, "Open it (with `floe daemon` running): {url}");
    Ok(Report::new(
        json!({
            "site": out.site,
            "label": label,
            "name": out.name,
            "url": url,
            "files": out.record.resources.len(),
            "quilts": out.quilts,
            "record": out.record,
            "receipts": out.receipts,
        }),
        h,
    ))
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn update(
    env: &Env,
    dir: &Path,
    site: &str,
    lifetime: &Lifetime,
) -> Result<Report, CliError> {
    let (config, client, ctx) = paying_client(env).await?;
    let files = read_dir(dir, &ctx)?;
    let (floe, _) = env.connect_wallet().await?;
    let id = sites::resolve_site(&floe, site)
        .await
        .map_err(|e| from_site(&e, &ctx))?;
    let (epochs, _) = store_epochs(&config, &client, &ctx, lifetime.duration()).await?;
    let out = sites::update_site(
        &client,
        &floe,
        &id,
        &files,
        &store_options(epochs, lifetime),
    )
    .await
    .map_err(|e| from_site(&e, &ctx))?;
    let h = match &out.receipt {
        None => format!("Site {id} is already up to date; nothing was paid.\n"),
        Some(r) => format!(
            "Updated site {id} in block {}: {} files stored, {} removed, {} unchanged.\n",
            r.height,
            out.stored.len(),
            out.removed.len(),
            out.unchanged
        ),
    };
    Ok(Report::new(&out, h))
}

async fn list(env: &Env) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let address = floe.address().map_err(|e| from_floe(&e, &ctx))?;
    let list = sites::sites_of(&floe, &address)
        .await
        .map_err(|e| from_site(&e, &ctx))?;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.site.to_string(),
                s.object.record.resources.len().to_string(),
                bytes(s.object.record.total_size()),
                s.object.version.to_string(),
                portal_url(&site_label(&s.site)),
            ]
        })
        .collect();
    let h = if rows.is_empty() {
        "No sites. Publish one with `floe site publish DIR`.\n".to_owned()
    } else {
        table(&["SITE", "FILES", "SIZE", "VERSION", "PORTAL URL"], &rows)
    };
    Ok(Report::new(&list, h))
}

/// A record in words.
fn record_text(record: &SiteRecord) -> String {
    let rows: Vec<Vec<String>> = record
        .resources
        .iter()
        .map(|(path, r)| {
            vec![
                path.clone(),
                bytes(r.size),
                r.content_type.clone(),
                r.patch.to_string(),
            ]
        })
        .collect();
    let mut h = table(&["PATH", "SIZE", "TYPE", "PATCH ID"], &rows);
    for (pattern, target) in &record.routes {
        let _ = writeln!(h, "route    {pattern} → {target}");
    }
    for (from, r) in &record.redirects {
        let _ = writeln!(h, "redirect {from} → {} ({})", r.to, r.status);
    }
    if let Some(p) = &record.not_found {
        let _ = writeln!(h, "404 page {p}");
    }
    h
}

async fn show(env: &Env, site: &str) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect().await?;
    let id = sites::resolve_site(&floe, site)
        .await
        .map_err(|e| from_site(&e, &ctx))?;
    let object = sites::site_object(&floe, &id)
        .await
        .map_err(|e| from_site(&e, &ctx))?;
    let label = site_label(&id);
    let mut h = format!(
        "Site {id} (version {}, owner {}), {} files, {}\nPortal: {}\n\n",
        object.version,
        object.owner,
        object.record.resources.len(),
        bytes(object.record.total_size()),
        portal_url(&label)
    );
    h.push_str(&record_text(&object.record));
    Ok(Report::new(
        json!({ "site": id, "label": label, "object": object }),
        h,
    ))
}

async fn delete(env: &Env, site: &str) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let id = sites::resolve_site(&floe, site)
        .await
        .map_err(|e| from_site(&e, &ctx))?;
    let receipt = floe
        .execute("delete site", TxKind::DeleteSite { site: id })
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    Ok(Report::new(
        json!({ "site": id, "receipt": receipt }),
        format!(
            "Deleted site {id} (block {}). Its files stay stored until they expire.\n",
            receipt.height
        ),
    ))
}

/// `floe name …`.
pub async fn name(env: &Env, cmd: NameCommand) -> Result<Report, CliError> {
    if let NameCommand::Show { name } = &cmd {
        return show_name(env, name).await;
    }
    let (floe, ctx) = env.connect_wallet().await?;
    let site_of = |text: Option<String>| {
        let floe = &floe;
        let ctx = &ctx;
        async move {
            match text {
                Some(t) => sites::resolve_site(floe, &t)
                    .await
                    .map(Some)
                    .map_err(|e| from_site(&e, ctx)),
                None => Ok(None),
            }
        }
    };
    let (kind, what) = match cmd {
        NameCommand::Claim { name, site, epochs } => {
            let config = env.config()?;
            let epochs = epochs.unwrap_or(config.default_epochs.max(1));
            let site = site_of(site).await?;
            (TxKind::ClaimName { name, epochs, site }, "claim name")
        }
        NameCommand::Renew { name, epochs } => (TxKind::RenewName { name, epochs }, "renew name"),
        NameCommand::Transfer { name, to } => (TxKind::TransferName { name, to }, "transfer name"),
        NameCommand::Point { name, site } => {
            let site = site_of(site).await?;
            (TxKind::SetNameSite { name, site }, "point name")
        }
        NameCommand::Show { .. } => unreachable!("handled above"),
    };
    let receipt = floe
        .execute(what, kind)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let h = format!(
        "Done: {what} (block {}, fee {}).\n",
        receipt.height, receipt.effects.fee_charged
    );
    Ok(Report::new(json!({ "receipt": receipt }), h))
}

async fn show_name(env: &Env, name: &str) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect().await?;
    let n: Option<NameObject> = sites::name_object(&floe, name)
        .await
        .map_err(|e| from_site(&e, &ctx))?;
    let epoch = floe.system().await.map_err(|e| from_floe(&e, &ctx))?.epoch;
    let Some(n) = n.filter(|n| n.expires > epoch) else {
        return Err(
            not_found("unknown_name", format!("nobody holds the name {name}")).hint(format!(
                "claim it with `floe name claim {name} --site SITE`"
            )),
        );
    };
    let site: Option<ObjectId> = n.site;
    let h = format!(
        "Name {} held by {} until epoch {}; site {}\nPortal: {}\n",
        n.name,
        n.owner,
        n.expires,
        site.map_or("none".to_owned(), |s| s.to_string()),
        portal_url(&n.name)
    );
    Ok(Report::new(&n, h))
}
