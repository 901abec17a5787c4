//! What `floe-devnet up` shows once the network is ready.

use std::path::{Path, PathBuf};

use floe_client::blobs::StoreOptions;
use floe_client::sites::{self, SiteFiles};
use floe_client::{BlobClient, BlobOptions, ClientConfig, Floe};
use floe_common::{BlobId, ConsistencyCheck, Frost};
use floe_ledger::{Address, LedgerClient};

use crate::error::DevnetError;

/// What the demo did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// The wallet's address.
    pub wallet: Address,
    /// Its balance after the store, as the ledger reports it.
    pub balance: Frost,
    /// The sample file stored.
    pub file: PathBuf,
    /// Its blob id.
    pub blob_id: BlobId,
    /// Its size in bytes.
    pub size: usize,
    /// Milliseconds to store (encode, pay, upload, certify) and to read back.
    pub store_ms: u64,
    /// Milliseconds to read it back.
    pub read_ms: u64,
    /// The demo site's portal URL (served by `floe daemon`), if it could be published.
    pub site_url: Option<String>,
}

impl std::fmt::Display for DemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stored {} ({} bytes) as blob {} in {} ms, read it back byte for byte in {} ms; \
             wallet {} now holds {}",
            self.file.display(),
            self.size,
            self.blob_id,
            self.store_ms,
            self.read_ms,
            self.wallet,
            self.balance
        )?;
        if let Some(url) = &self.site_url {
            write!(
                f,
                "\ndemo site: {url} (serve it with `floe --config CLIENT_CONFIG daemon`)"
            )?;
        }
        Ok(())
    }
}

/// The name of the demo site.
pub const DEMO_SITE_NAME: &str = "demo";

/// The demo site's files (embedded, so the binary works from anywhere).
fn demo_site() -> SiteFiles {
    let files = [
        ("/index.html", include_str!("../demo-site/index.html")),
        ("/style.css", include_str!("../demo-site/style.css")),
        ("/404.html", include_str!("../demo-site/404.html")),
    ];
    SiteFiles {
        files: files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect(),
        config: Default::default(),
    }
}

/// Publishes the demo site under [`DEMO_SITE_NAME`], unless the name is already held (a
/// resumed devnet); returns its portal URL.
async fn publish_demo_site(
    config: &ClientConfig,
    client: &BlobClient,
) -> Result<String, DevnetError> {
    let url = format!("http://{DEMO_SITE_NAME}.localhost:31415/");
    let floe = Floe::from_config(config)
        .await
        .map_err(DevnetError::DemoSite)?;
    let held = sites::name_object(&floe, DEMO_SITE_NAME)
        .await
        .map_err(|e| DevnetError::DemoSiteSetup(e.to_string()))?;
    if held.is_some() {
        return Ok(url);
    }
    let epochs = config.default_epochs.max(1);
    sites::publish_site(
        client,
        &floe,
        &demo_site(),
        &StoreOptions {
            epochs,
            ..StoreOptions::default()
        },
        Some((DEMO_SITE_NAME, epochs)),
    )
    .await
    .map_err(|e| DevnetError::DemoSiteSetup(e.to_string()))?;
    Ok(url)
}

/// The sample stored by the demo: a small text file written next to the devnet's data.
fn sample(dir: &Path) -> Result<(PathBuf, Vec<u8>), DevnetError> {
    let path = dir.join("sample.txt");
    let mut text = String::from(
        "Hello from Floe!\n\nThis file was erasure-coded into sliver pairs, spread over the \
         devnet's storage nodes, certified on the ledger, and read back.\n",
    );
    for i in 0..2_000 {
        text.push_str(&format!(
            "line {i}: the quick brown fox jumps over the lazy dog\n"
        ));
    }
    std::fs::write(&path, &text).map_err(DevnetError::io(&path))?;
    Ok((path, text.into_bytes()))
}

/// The demo run by `up` (skipped with `--no-demo`), through the client configuration at
/// `config_path`: stores a sample file, reads it back, checks the bytes, and reports the blob id.
pub async fn demo(config_path: &Path) -> Result<DemoReport, DevnetError> {
    let config = ClientConfig::load(config_path).map_err(DevnetError::parse(config_path))?;
    let key = crate::manifest::read_key(&config.wallet)?;
    let wallet = Address::of(&key.public());
    let ledger = LedgerClient::new(config.ledger_rpc.clone());
    let client = BlobClient::connect(ledger.clone(), key, BlobOptions::default()).await?;
    let dir = config_path.parent().unwrap_or_else(|| Path::new("."));
    let (file, bytes) = sample(dir)?;
    let t = std::time::Instant::now();
    let stored = client
        .store(
            &bytes,
            &StoreOptions {
                epochs: config.default_epochs.max(1),
                ..StoreOptions::default()
            },
        )
        .await?;
    let store_ms = t.elapsed().as_millis() as u64;
    let blob_id = stored.blob_id();
    let t = std::time::Instant::now();
    let read = client.read(blob_id, ConsistencyCheck::Default).await?;
    let read_ms = t.elapsed().as_millis() as u64;
    if read.data != bytes {
        return Err(DevnetError::DemoMismatch(blob_id));
    }
    let site_url = match publish_demo_site(&config, &client).await {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::warn!(error = %e, "the demo site could not be published");
            None
        }
    };
    let account = ledger.account(&wallet).await?;
    Ok(DemoReport {
        site_url,
        wallet,
        balance: account.balance,
        file,
        blob_id,
        size: bytes.len(),
        store_ms,
        read_ms,
    })
}
