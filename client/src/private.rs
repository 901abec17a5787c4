//! Private blobs on the client: encrypt a file to a policy before it is stored, and fetch the
//! key of a sealed blob from the key servers and decrypt it after it is read (the scheme:
//! `floe_common::privacy`; the policies: `floe_ledger_types::policy`).
//!
//! Writing needs only the master public key from the ledger. Reading signs one key request
//! with the wallet's key and sends it to every key server at once; the first `threshold`
//! shares that verify (each by a pairing against its server's public share) are combined, the
//! combined key is checked against the master public key, and the data key decrypts the blob
//! segment by segment, so memory stays bounded by one segment whatever the file's size. When
//! enough servers refuse by policy that `threshold` answers can no longer come, the read fails
//! with [`PrivateError::AccessDenied`], naming the policy and the reason a server gave.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use floe_common::privacy::{
    DataKey, EncryptedShare, HEADER_LEN, IbeError, KeyRequest, KeyShare, MAGIC, SealError,
    SealedHeader, Sealer, combine, decapsulate,
};
use floe_common::{Epoch, ObjectId};
use floe_ledger_types::{ClientError, KeyServerInfo, KeyServers, LedgerClient};
use futures::StreamExt as _;

use crate::blobs::ReadError;
use crate::wallet::Wallet;

mod read;

pub use read::{Asker, BUFFER_BEFORE_KEY, DECRYPT_IN_FLIGHT, Peeked, SealedBlob, peek};

/// Segment size of files sealed by the client (the default of the format, 1 MiB).
pub const SEGMENT_SIZE: u32 = floe_common::privacy::DEFAULT_SEGMENT_SIZE;

/// What went wrong with a private blob.
#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    /// The chain has no key servers.
    #[error("this chain has no key servers: private blobs are not available")]
    NoKeyServers,
    /// The key servers refused by policy.
    #[error("access denied by policy {policy}: {reason}")]
    AccessDenied {
        /// The blob's policy.
        policy: ObjectId,
        /// Why (as a key server put it).
        reason: String,
    },
    /// Fewer than `needed` key servers gave a valid share.
    #[error("{got} of the {needed} key shares needed: {}", .errors.join("; "))]
    NotEnoughShares {
        /// Valid shares.
        got: usize,
        /// The threshold.
        needed: usize,
        /// What the others answered.
        errors: Vec<String>,
    },
    /// The shares did not combine into the blob's key (a forged set of servers).
    #[error("the key shares do not give the blob's key: {0}")]
    BadKey(IbeError),
    /// Not a sealed blob, a malformed one, or bytes that fail authentication.
    #[error(transparent)]
    Sealed(#[from] SealError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A ledger query failed.
    #[error("ledger: {0}")]
    Ledger(ClientError),
    /// Reading the sealed blob from the storage nodes failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl PrivateError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PrivateError + '_ {
        move |source| PrivateError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The header of a sealed blob whose bytes start with `prefix`; `None` if they do not start
/// with the sealed-blob magic (an ordinary blob).
pub fn sealed_header(prefix: &[u8]) -> Option<Result<SealedHeader, SealError>> {
    prefix
        .starts_with(MAGIC)
        .then(|| SealedHeader::decode(prefix).map(|(h, _)| h))
}

/// The chain's key servers, as its genesis lists them.
#[derive(Debug, Clone)]
pub struct KeyServerSet {
    /// The list.
    pub servers: KeyServers,
    chain: String,
}

impl KeyServerSet {
    /// Reads the key servers of the chain `ledger` serves (`chain` is its id).
    pub async fn fetch(ledger: &LedgerClient, chain: &str) -> Result<Self, PrivateError> {
        let servers = ledger
            .key_servers()
            .await
            .map_err(PrivateError::Ledger)?
            .ok_or(PrivateError::NoKeyServers)?;
        Ok(KeyServerSet {
            servers,
            chain: chain.to_owned(),
        })
    }

    /// A set from a known list (tests, tools).
    pub fn new(servers: KeyServers, chain: impl Into<String>) -> Self {
        KeyServerSet {
            servers,
            chain: chain.into(),
        }
    }

    /// Encrypts the file at `src` to `policy` into `dst` (header, then segments), one segment
    /// in memory at a time. Returns the header.
    pub fn seal_file(
        &self,
        src: &Path,
        dst: &mut impl Write,
        dst_path: &Path,
        policy: ObjectId,
    ) -> Result<SealedHeader, PrivateError> {
        let mut file = std::fs::File::open(src).map_err(PrivateError::io(src))?;
        let len = file.metadata().map_err(PrivateError::io(src))?.len();
        let mut sealer = Sealer::new(
            &mut rand::rngs::OsRng,
            &self.servers.master,
            &self.chain,
            policy,
            len,
            SEGMENT_SIZE,
        )?;
        dst.write_all(&sealer.header_bytes())
            .map_err(PrivateError::io(dst_path))?;
        let mut buf = Vec::with_capacity(SEGMENT_SIZE as usize + 16);
        while let Some(n) = sealer.next_segment_len() {
            buf.resize(n, 0);
            file.read_exact(&mut buf).map_err(PrivateError::io(src))?;
            sealer.seal_segment(&mut buf)?;
            dst.write_all(&buf).map_err(PrivateError::io(dst_path))?;
        }
        let header = *sealer.header();
        sealer.finish()?;
        dst.flush().map_err(PrivateError::io(dst_path))?;
        Ok(header)
    }

    /// The data key of the blob with `header`, from `threshold` key servers, asked as
    /// `wallet` in ledger epoch `epoch`.
    pub async fn data_key(
        &self,
        wallet: &Wallet,
        epoch: Epoch,
        header: &SealedHeader,
    ) -> Result<DataKey, PrivateError> {
        let id = header.identity(&self.chain);
        let (ephemeral, signed) = KeyRequest::new_signed(
            &mut rand::rngs::OsRng,
            wallet.key(),
            &self.chain,
            epoch,
            header.policy,
            header.nonce,
            now_ms(),
        );
        let request = floe_common::codec::encode(&signed);
        let needed = usize::from(self.servers.threshold);
        let n = self.servers.servers.len();
        let mut asks: futures::stream::FuturesUnordered<_> = self
            .servers
            .servers
            .iter()
            .map(|s| ask(s, &request))
            .collect();
        let (mut shares, mut errors, mut denied) = (Vec::<KeyShare>::new(), Vec::new(), None);
        let mut denials = 0;
        while let Some((server, answer)) = asks.next().await {
            let checked = answer.and_then(|bytes| {
                let share = EncryptedShare::decode(&bytes).map_err(|e| e.to_string())?;
                if share.index() != server.public.index() {
                    return Err(format!(
                        "share of index {} from index {}",
                        share.index(),
                        server.public.index()
                    ));
                }
                ephemeral
                    .open_verified(&share, &id, &server.public)
                    .map_err(|e| e.to_string())
            });
            match checked {
                Ok(share) => {
                    shares.push(share);
                    if shares.len() >= needed {
                        break;
                    }
                }
                Err(e) => {
                    if let Some(reason) = e.strip_prefix(DENIED) {
                        denials += 1;
                        denied.get_or_insert_with(|| reason.to_owned());
                    }
                    tracing::debug!(server = %server.validator, error = %e, "key server gave no share");
                    errors.push(format!("{}: {e}", server.validator));
                    // Too many refusals by policy for a threshold of shares to come.
                    if denials > n - needed {
                        break;
                    }
                }
            }
        }
        if shares.len() < needed {
            if let Some(reason) = denied.filter(|_| denials > n - needed) {
                return Err(PrivateError::AccessDenied {
                    policy: header.policy,
                    reason,
                });
            }
            return Err(PrivateError::NotEnoughShares {
                got: shares.len(),
                needed,
                errors,
            });
        }
        let key = combine(&shares, self.servers.threshold).map_err(PrivateError::BadKey)?;
        key.verify(&id, &self.servers.master)
            .map_err(PrivateError::BadKey)?;
        Ok(decapsulate(&key, &header.encapsulation, &id))
    }
}

/// The prefix of an `access_denied` answer in the per-server error text.
const DENIED: &str = "access_denied: ";

/// One key server's answer to `request`: its encrypted share, or why not.
async fn ask<'a>(
    server: &'a KeyServerInfo,
    request: &[u8],
) -> (&'a KeyServerInfo, Result<bytes::Bytes, String>) {
    let client = LedgerClient::new(vec![server.url.clone()]);
    let answer = client.key_share(request).await.map_err(|e| match e.code() {
        Some("access_denied") => format!("{DENIED}{}", message_of(&e)),
        _ => e.to_string(),
    });
    (server, answer)
}

/// The server's message of an HTTP error, without the `access denied: ` the server puts first.
fn message_of(e: &ClientError) -> String {
    match e {
        ClientError::Http { message, .. } => message
            .strip_prefix("access denied: ")
            .unwrap_or(message)
            .to_owned(),
        other => other.to_string(),
    }
}

/// Decrypts the sealed blob in `src` (header included) into `dst` under `key`, one segment in
/// memory at a time. Returns the plaintext length. `dst` is complete only if this succeeds.
pub fn open_stream(
    key: &DataKey,
    src: &mut impl Read,
    src_path: &Path,
    dst: &mut impl Write,
    dst_path: &Path,
) -> Result<u64, PrivateError> {
    let mut head = Vec::with_capacity(HEADER_LEN);
    (&mut *src)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(PrivateError::io(src_path))?;
    let (header, _) = SealedHeader::decode(&head)?;
    let mut opener = floe_common::privacy::Opener::new(key, &header)?;
    let mut read = HEADER_LEN as u64;
    let short = |read: u64| SealError::Length {
        expected: header.sealed_len(),
        actual: read,
    };
    let mut buf = Vec::new();
    while let Some(n) = opener.next_segment_len() {
        buf.clear();
        (&mut *src)
            .take(n as u64)
            .read_to_end(&mut buf)
            .map_err(PrivateError::io(src_path))?;
        read += buf.len() as u64;
        if buf.len() < n {
            return Err(short(read).into());
        }
        opener.open_segment(&mut buf)?;
        dst.write_all(&buf).map_err(PrivateError::io(dst_path))?;
    }
    opener.finish()?;
    let mut extra = [0u8; 1];
    if src.read(&mut extra).map_err(PrivateError::io(src_path))? != 0 {
        return Err(short(read + 1).into());
    }
    dst.flush().map_err(PrivateError::io(dst_path))?;
    Ok(header.plaintext_len)
}

/// The header of the sealed blob in the file at `path`, if it is one.
pub fn sealed_file_header(path: &Path) -> Result<Option<SealedHeader>, PrivateError> {
    let mut file = std::fs::File::open(path).map_err(PrivateError::io(path))?;
    let mut head = Vec::with_capacity(HEADER_LEN);
    (&mut file)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(PrivateError::io(path))?;
    Ok(sealed_header(&head).transpose()?)
}

/// The local clock in Unix milliseconds (a key request's `issued_at_ms`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
