//! Private blobs in `floe store --encrypt --policy P` and `floe read`: sealing files before
//! they are stored, and opening sealed blobs after they are read.

use std::path::{Path, PathBuf};

use floe_client::private::{self, Asker, KeyServerSet, PrivateError, SealedBlob};
use floe_client::{BlobClient, Floe, Wallet};
use floe_common::privacy::SealedHeader;
use floe_common::{ConsistencyCheck, ObjectId};
use serde_json::{Value, json};

use super::Env;
use crate::fail::{CliError, Context, Exit, from_floe, from_read};

/// A private blob's error as the user sees it.
pub fn from_private(e: &PrivateError, ctx: &Context) -> CliError {
    match e {
        PrivateError::AccessDenied { policy, .. } => {
            CliError::new(Exit::Rejected, "access_denied", e.to_string()).hint(format!(
                "see who may read with `floe policy show {policy}`: ask its owner to add your \
                 address{}, or pay with `floe policy pay {policy}` if it is a paid policy",
                ctx.address
                    .as_deref()
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default()
            ))
        }
        PrivateError::NoKeyServers => {
            CliError::new(Exit::Rejected, "no_key_servers", e.to_string())
        }
        PrivateError::NotEnoughShares { .. } => {
            CliError::new(Exit::Network, "key_servers_unavailable", e.to_string())
                .hint("too few key servers answered; try again when more validators are up")
        }
        PrivateError::BadKey(_) => CliError::new(Exit::Network, "bad_key_shares", e.to_string()),
        PrivateError::Sealed(_) => CliError::new(Exit::Rejected, "bad_ciphertext", e.to_string()),
        PrivateError::Io { .. } => CliError::local("io", e.to_string()),
        PrivateError::Ledger(_) => CliError::new(Exit::Network, "ledger", e.to_string()),
        PrivateError::Read(r) => from_read(r, ctx),
    }
}

/// What sealing needs: the key servers' master key, and a checked policy.
pub struct Sealing {
    keys: KeyServerSet,
    policy: ObjectId,
}

impl Sealing {
    /// Checks that `policy` is a policy (before anything is paid) and reads the key servers.
    pub async fn prepare(env: &Env, policy: ObjectId) -> Result<Sealing, CliError> {
        let (floe, ctx) = env.connect_wallet().await?;
        floe.policy(policy).await.map_err(|e| {
            from_floe(&e, &ctx).hint("create one with `floe policy create …`; nothing was paid")
        })?;
        let keys = KeyServerSet::fetch(floe.ledger(), floe.chain_id())
            .await
            .map_err(|e| from_private(&e, &ctx))?;
        Ok(Sealing { keys, policy })
    }

    /// Seals `path` into a temporary file (removed when dropped).
    pub fn seal(&self, path: &Path) -> Result<tempfile::NamedTempFile, CliError> {
        let ctx = Context::default();
        let mut tmp = tempfile::NamedTempFile::new()
            .map_err(|e| CliError::local("io", format!("cannot create a temporary file: {e}")))?;
        let tmp_path = tmp.path().to_owned();
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        self.keys
            .seal_file(path, &mut out, &tmp_path, self.policy)
            .map_err(|e| from_private(&e, &ctx))?;
        drop(out);
        Ok(tmp)
    }

    /// The policy.
    pub fn policy(&self) -> ObjectId {
        self.policy
    }
}

/// What asking for keys needs: the key servers, the configuration's wallet and the epoch.
struct Keys {
    servers: KeyServerSet,
    wallet: Wallet,
    epoch: floe_common::Epoch,
    ctx: Context,
}

impl Keys {
    async fn load(env: &Env) -> Result<Keys, CliError> {
        let config = env.config()?;
        let wallet = Wallet::load(&config.wallet).map_err(|e| {
            CliError::wallet(&e)
                .hint("the blob is private: reading it needs a wallet its policy allows")
        })?;
        let (floe, ctx): (Floe, Context) = env.connect_wallet().await?;
        let (servers, system) = tokio::join!(
            KeyServerSet::fetch(floe.ledger(), floe.chain_id()),
            floe.system()
        );
        let servers = servers.map_err(|e| from_private(&e, &ctx))?;
        let epoch = system.map_err(|e| from_floe(&e, &ctx))?.epoch;
        Ok(Keys {
            servers,
            wallet,
            epoch,
            ctx,
        })
    }

    fn asker(&self) -> Asker<'_> {
        Asker {
            wallet: &self.wallet,
            epoch: self.epoch,
        }
    }
}

/// The key of a sealed blob, asked as the configuration's wallet.
async fn data_key(
    env: &Env,
    header: &SealedHeader,
) -> Result<(floe_common::privacy::DataKey, Context), CliError> {
    let keys = Keys::load(env).await?;
    let key = keys
        .servers
        .data_key(&keys.wallet, keys.epoch, header)
        .await
        .map_err(|e| from_private(&e, &keys.ctx))?;
    Ok((key, keys.ctx))
}

/// Reads the sealed blob `sealed` into the file at `out`, decrypting it as it streams in
/// (through a temporary file beside `out`, renamed into place only when every segment
/// opened); returns what to report.
pub async fn read_sealed_to_file(
    env: &Env,
    client: &BlobClient,
    sealed: Box<SealedBlob>,
    check: ConsistencyCheck,
    out: &Path,
) -> Result<Value, CliError> {
    let policy = sealed.header().policy;
    let keys = Keys::load(env).await?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let io = |e: std::io::Error| CliError::local("io", format!("{}: {e}", out.display()));
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    let (file, tmp_path) = tmp.into_parts();
    let dst = std::io::BufWriter::with_capacity(1 << 20, file);
    let (dst, size) = keys
        .servers
        .read_sealed(client, sealed, check, keys.asker(), dst, &tmp_path)
        .await
        .map_err(|e| from_private(&e, &keys.ctx))?;
    drop(dst);
    tmp_path.persist(out).map_err(|e| io(e.error))?;
    Ok(json!({ "policy": policy, "size": size }))
}

/// If the file at `sealed` is a sealed blob, decrypts it into `out` (through a temporary file
/// beside it, renamed into place) and removes `sealed`; returns what to report. Otherwise
/// returns `None` and leaves both alone.
pub async fn open_file(env: &Env, sealed: &Path, out: &Path) -> Result<Option<Value>, CliError> {
    let local = |e: PrivateError| from_private(&e, &Context::default());
    let Some(header) = private::sealed_file_header(sealed).map_err(local)? else {
        return Ok(None);
    };
    let (key, ctx) = data_key(env, &header).await?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let io = |e: std::io::Error| CliError::local("io", format!("{}: {e}", out.display()));
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    let mut src = std::io::BufReader::new(std::fs::File::open(sealed).map_err(io)?);
    let tmp_path = tmp.path().to_owned();
    let mut dst = std::io::BufWriter::new(tmp.as_file_mut());
    let size = private::open_stream(&key, &mut src, sealed, &mut dst, &tmp_path)
        .map_err(|e| from_private(&e, &ctx))?;
    drop(dst);
    tmp.persist(out).map_err(|e| io(e.error))?;
    let _ = std::fs::remove_file(sealed);
    Ok(Some(json!({ "policy": header.policy, "size": size })))
}

/// If `data` is a sealed blob, its plaintext; otherwise `None`.
pub async fn open_bytes(env: &Env, data: &[u8]) -> Result<Option<(Vec<u8>, ObjectId)>, CliError> {
    let Some(header) = private::sealed_header(data) else {
        return Ok(None);
    };
    let header = header.map_err(|e| from_private(&e.into(), &Context::default()))?;
    let (key, ctx) = data_key(env, &header).await?;
    let mut plain = Vec::with_capacity(usize::try_from(header.plaintext_len).unwrap_or(0));
    private::open_stream(
        &key,
        &mut &data[..],
        Path::new("-"),
        &mut plain,
        Path::new("-"),
    )
    .map_err(|e| from_private(&e, &ctx))?;
    Ok(Some((plain, header.policy)))
}
