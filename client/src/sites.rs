//! Sites: a directory published as a website.
//!
//! * [`SiteFiles::from_dir`] reads a directory: every file becomes a resource at its path
//!   relative to the directory (`/about/index.html`), and a `site.yaml` at its top, if any,
//!   sets headers, routes, redirects and the 404 page ([`SiteConfig`]; the file itself is not
//!   published). Without a `not_found` entry, `/404.html` is the 404 page when it exists.
//! * [`publish_site`] stores the files as quilts (one patch per file), builds the
//!   [`SiteRecord`], checks it, and records it on the ledger (`CreateSite`), then claims a name
//!   for it if one is given (`ClaimName`).
//! * [`update_site`] compares the files with the site's record by content hash, stores only
//!   new and changed files, and sends everything that changes in one `UpdateSite`.
//!
//! Reading a site's file is reading its patch ([`crate::blobs::BlobClient::read_patch`]),
//! with the same verification as any read.

mod config;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use floe_common::ObjectId;
use floe_common::quilt::{QuiltFile, guess_content_type};
use floe_common::site::{SiteChanges, SiteRecord, SiteResource, normalize_path};
use floe_ledger_types::{Object, SiteObject, TxKind};
use serde::Serialize;

pub use self::config::{RedirectSpec, SiteConfig};
use crate::blobs::{BlobClient, QuiltStoreError, StoreOptions};
use crate::error::FloeError;
use crate::floe::{Floe, Receipt};

/// The configuration file read from a site's directory.
pub const SITE_CONFIG_FILE: &str = "site.yaml";
/// Most files per quilt (a bigger site takes several quilts).
const FILES_PER_QUILT: usize = 500;
/// Most bytes per quilt.
const BYTES_PER_QUILT: u64 = 256 << 20;

/// A site could not be read, published or updated.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The directory, a file or `site.yaml` could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        error: std::io::Error,
    },
    /// The directory has no file to publish.
    #[error("{0} has no files to publish")]
    Empty(String),
    /// `site.yaml` does not parse, or names something the site does not have.
    #[error("site.yaml: {0}")]
    Config(String),
    /// The site would not validate (a path, a header, a route, a redirect loop…).
    #[error("invalid site: {0}")]
    Invalid(#[from] floe_common::site::SiteError),
    /// Storing the files failed.
    #[error("storing the files: {0}")]
    Store(#[from] QuiltStoreError),
    /// A ledger step failed.
    #[error(transparent)]
    Ledger(#[from] FloeError),
    /// The object is not a site.
    #[error("{0} is not a site")]
    NotASite(ObjectId),
    /// No object has this id.
    #[error("no site {0} on the ledger")]
    UnknownSite(ObjectId),
    /// The name is held by someone (checked before anything is paid).
    #[error("the name {name} is taken until epoch {expires}")]
    NameTaken {
        /// The name.
        name: String,
        /// When it becomes free.
        expires: floe_common::Epoch,
    },
    /// Nobody holds this name.
    #[error("nobody holds the name {0}")]
    UnknownName(String),
    /// The name points at no site.
    #[error("the name {0} points at no site")]
    NameWithoutSite(String),
}

/// The files of a site and its configuration, read from a directory.
#[derive(Debug, Clone, Default)]
pub struct SiteFiles {
    /// Path (`/…`, normalized) → bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// `site.yaml`.
    pub config: SiteConfig,
}

impl SiteFiles {
    /// Reads `dir` ([`crate::files::files_under`]; `site.yaml` at the top is the
    /// configuration).
    pub fn from_dir(dir: &Path) -> Result<SiteFiles, SiteError> {
        let io = |p: &Path, error| SiteError::Io {
            path: p.display().to_string(),
            error,
        };
        let listed = crate::files::files_under(dir).map_err(|e| match e {
            crate::files::FilesError::ReadFile { path, source } => io(&path, source),
            other => SiteError::Io {
                path: dir.display().to_string(),
                error: std::io::Error::other(other.to_string()),
            },
        })?;
        let mut files = BTreeMap::new();
        let mut config = SiteConfig::default();
        for (rel, path) in listed {
            let data = std::fs::read(&path).map_err(|e| io(&path, e))?;
            if rel == SITE_CONFIG_FILE {
                let text =
                    String::from_utf8(data).map_err(|_| SiteError::Config("not UTF-8".into()))?;
                config = SiteConfig::parse(&text)?;
                continue;
            }
            files.insert(normalize_path(&format!("/{rel}"))?, data);
        }
        if files.is_empty() {
            return Err(SiteError::Empty(dir.display().to_string()));
        }
        Ok(SiteFiles { files, config })
    }

    /// Checks, before anything is paid, that the files and `site.yaml` make a valid site
    /// (paths, headers, routes and the 404 page naming files, no redirect loop).
    pub fn check_offline(&self) -> Result<(), SiteError> {
        let headers = self.config.headers_by_path();
        let placeholder = self
            .files
            .iter()
            .map(|(path, data)| {
                let resource = SiteResource {
                    patch: floe_common::quilt::QuiltPatchId {
                        quilt_id: floe_common::BlobId([0; 32]),
                        start_symbol: 0,
                        end_symbol: 1,
                    },
                    content_type: guess_content_type(path),
                    size: data.len() as u64,
                    hash: floe_common::Digest::ZERO,
                    headers: headers.get(path).cloned().unwrap_or_default(),
                };
                (path.clone(), resource)
            })
            .collect();
        self.record(placeholder).map(|_| ())
    }

    /// The record these files make once stored at `patches` (path → patch id), checked.
    fn record(&self, resources: BTreeMap<String, SiteResource>) -> Result<SiteRecord, SiteError> {
        let record = self.config.apply(resources)?;
        record.validate()?;
        Ok(record)
    }
}

/// A published site.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedSite {
    /// The site object.
    pub site: ObjectId,
    /// Its record.
    pub record: SiteRecord,
    /// The quilts its files were stored in.
    pub quilts: Vec<floe_common::BlobId>,
    /// The name claimed for it, if any.
    pub name: Option<String>,
    /// The ledger transactions (site, then name).
    pub receipts: Vec<Receipt>,
}

/// An updated site.
#[derive(Debug, Clone, Serialize)]
pub struct UpdatedSite {
    /// The site object.
    pub site: ObjectId,
    /// Files stored anew (new or changed).
    pub stored: Vec<String>,
    /// Files removed.
    pub removed: Vec<String>,
    /// Files left as they were.
    pub unchanged: usize,
    /// The quilts the stored files went into.
    pub quilts: Vec<floe_common::BlobId>,
    /// The update transaction (`None` when nothing changed).
    pub receipt: Option<Receipt>,
}

/// Stores `paths` of `files` as quilts; returns their resources (path → resource) and quilts.
async fn store_files(
    client: &BlobClient,
    files: &SiteFiles,
    paths: &[&String],
    opts: &StoreOptions,
) -> Result<(BTreeMap<String, SiteResource>, Vec<floe_common::BlobId>), SiteError> {
    let mut resources = BTreeMap::new();
    let mut quilts = Vec::new();
    let mut batch: Vec<QuiltFile> = Vec::new();
    let mut batch_bytes = 0u64;
    let mut i = 0;
    while i <= paths.len() {
        let full = batch.len() >= FILES_PER_QUILT || batch_bytes >= BYTES_PER_QUILT;
        if (i == paths.len() || full) && !batch.is_empty() {
            let headers = files.config.headers_by_path();
            let sizes: BTreeMap<String, (u64, floe_common::Digest)> = batch
                .iter()
                .map(|f| {
                    let hash = floe_common::hash::blake3(&f.data);
                    (f.identifier.clone(), (f.data.len() as u64, hash))
                })
                .collect();
            let types: BTreeMap<String, String> = batch
                .iter()
                .map(|f| (f.identifier.clone(), guess_content_type(&f.identifier)))
                .collect();
            let out = client.store_quilt(std::mem::take(&mut batch), opts).await?;
            quilts.push(out.store.blob_id());
            for (path, patch) in out.patches {
                let (size, hash) = sizes[&path];
                resources.insert(
                    path.clone(),
                    SiteResource {
                        patch,
                        content_type: types[&path].clone(),
                        size,
                        hash,
                        headers: headers.get(&path).cloned().unwrap_or_default(),
                    },
                );
            }
            batch_bytes = 0;
        }
        if i == paths.len() {
            break;
        }
        let data = files.files[paths[i]].clone();
        batch_bytes += data.len() as u64;
        batch.push(QuiltFile {
            identifier: paths[i].clone(),
            data,
            ..QuiltFile::default()
        });
        i += 1;
    }
    Ok((resources, quilts))
}

/// Publishes `files` as a new site owned by `floe`'s wallet (module docs); claims `name` for
/// `name_epochs` epochs if given.
pub async fn publish_site(
    client: &BlobClient,
    floe: &Floe,
    files: &SiteFiles,
    opts: &StoreOptions,
    name: Option<(&str, u32)>,
) -> Result<PublishedSite, SiteError> {
    // Check what can be checked before paying: the record with placeholder patches.
    files.check_offline()?;
    if let Some((n, _)) = name {
        // A name someone holds would fail after the files were paid for: refuse it first.
        let epoch = floe.system().await?.epoch;
        if let Some(held) = name_object(floe, n).await?.filter(|h| h.expires > epoch) {
            return Err(SiteError::NameTaken {
                name: n.to_owned(),
                expires: held.expires,
            });
        }
    }
    let paths: Vec<&String> = files.files.keys().collect();
    let (resources, quilts) = store_files(client, files, &paths, opts).await?;
    let record = files.record(resources)?;
    let receipt = floe
        .execute(
            "create site",
            TxKind::CreateSite {
                record: record.clone(),
            },
        )
        .await?;
    let site = receipt.created("the site object")?;
    let mut receipts = vec![receipt];
    if let Some((n, epochs)) = name {
        receipts.push(
            floe.execute(
                "claim name",
                TxKind::ClaimName {
                    name: n.to_owned(),
                    epochs,
                    site: Some(site),
                },
            )
            .await?,
        );
    }
    Ok(PublishedSite {
        site,
        record,
        quilts,
        name: name.map(|(n, _)| n.to_owned()),
        receipts,
    })
}

/// The site object `site`.
pub async fn site_object(floe: &Floe, site: &ObjectId) -> Result<SiteObject, SiteError> {
    match floe.object(site).await?.map(|r| r.object) {
        Some(Object::Site(s)) => Ok(s),
        Some(_) => Err(SiteError::NotASite(*site)),
        None => Err(SiteError::UnknownSite(*site)),
    }
}

/// Updates `site` to `files` (module docs).
pub async fn update_site(
    client: &BlobClient,
    floe: &Floe,
    site: &ObjectId,
    files: &SiteFiles,
    opts: &StoreOptions,
) -> Result<UpdatedSite, SiteError> {
    files.check_offline()?;
    let current = site_object(floe, site).await?.record;
    let changed: Vec<&String> = files
        .files
        .iter()
        .filter(|(path, data)| {
            current.resources.get(*path).is_none_or(|r| {
                r.hash != floe_common::hash::blake3(data) || r.size != data.len() as u64
            })
        })
        .map(|(p, _)| p)
        .collect();
    let (stored, quilts) = store_files(client, files, &changed, opts).await?;
    let mut resources = current.resources.clone();
    resources.retain(|p, _| files.files.contains_key(p));
    resources.extend(stored.clone());
    // Headers from site.yaml apply to unchanged files too.
    let headers = files.config.headers_by_path();
    for (p, r) in resources.iter_mut() {
        r.headers = headers.get(p).cloned().unwrap_or_default();
    }
    let target = files.record(resources)?;
    let removed: BTreeSet<String> = current
        .resources
        .keys()
        .filter(|p| !target.resources.contains_key(*p))
        .cloned()
        .collect();
    let put: BTreeMap<String, SiteResource> = target
        .resources
        .iter()
        .filter(|(p, r)| current.resources.get(*p) != Some(*r))
        .map(|(p, r)| (p.clone(), r.clone()))
        .collect();
    let changes = SiteChanges {
        put,
        remove: removed.clone(),
        routes: (target.routes != current.routes).then(|| target.routes.clone()),
        redirects: (target.redirects != current.redirects).then(|| target.redirects.clone()),
        not_found: (target.not_found != current.not_found).then(|| target.not_found.clone()),
        headers: (target.headers != current.headers).then(|| target.headers.clone()),
    };
    let unchanged = files.files.len() - changed.len();
    let receipt = if changes == SiteChanges::default() {
        None
    } else {
        Some(
            floe.execute(
                "update site",
                TxKind::UpdateSite {
                    site: *site,
                    changes,
                },
            )
            .await?,
        )
    };
    Ok(UpdatedSite {
        site: *site,
        stored: changed.into_iter().cloned().collect(),
        removed: removed.into_iter().collect(),
        unchanged,
        quilts,
        receipt,
    })
}

/// A site with its id.
#[derive(Debug, Clone, Serialize)]
pub struct OwnedSite {
    /// The site object.
    pub site: ObjectId,
    /// The site.
    pub object: SiteObject,
}

/// The sites owned by `address`.
pub async fn sites_of(
    floe: &Floe,
    address: &floe_ledger_types::Address,
) -> Result<Vec<OwnedSite>, SiteError> {
    let objects = floe
        .ledger()
        .account_objects(address)
        .await
        .map_err(|e| FloeError::Ledger {
            step: "list sites",
            source: e,
        })?;
    Ok(objects
        .into_iter()
        .filter_map(|o| match o.object {
            Object::Site(s) => Some(OwnedSite {
                site: o.object_id,
                object: s,
            }),
            _ => None,
        })
        .collect())
}

/// The name object of `name`, held or expired (`None` if never claimed).
pub async fn name_object(
    floe: &Floe,
    name: &str,
) -> Result<Option<floe_ledger_types::NameObject>, SiteError> {
    floe_common::site::validate_name(name)?;
    match floe
        .object(&floe_ledger_types::name_object_id(name))
        .await?
        .map(|r| r.object)
    {
        Some(Object::Name(n)) => Ok(Some(n)),
        _ => Ok(None),
    }
}

/// The site that `text` names: a site object id (hex), a site label (base36, as in portal
/// hostnames), or a held name that points at a site.
pub async fn resolve_site(floe: &Floe, text: &str) -> Result<ObjectId, SiteError> {
    if let Ok(id) = text.parse::<ObjectId>() {
        return Ok(id);
    }
    if let Some(id) = floe_common::site::parse_site_label(text) {
        return Ok(id);
    }
    let epoch = floe.system().await?.epoch;
    match name_object(floe, text).await? {
        Some(n) if n.expires > epoch => n.site.ok_or(SiteError::NameWithoutSite(text.to_owned())),
        _ => Err(SiteError::UnknownName(text.to_owned())),
    }
}
