//! Streaming reads of sealed blobs: the plaintext is written as the blob arrives.
//!
//! [`peek`] reads a blob's first [`HEADER_LEN`] bytes (a sparse read: a few symbols with their
//! proofs) and tells a sealed blob from an ordinary one. [`KeyServerSet::read_sealed`] then
//! overlaps the three costs of a private read instead of paying them one after the other:
//!
//! * the **key** is asked for as soon as the header is known, while the rows stream in
//!   ([`READ_AHEAD`] bytes ahead, for as many rows in flight as a whole-blob read);
//! * rows are cut into sealed segments as they arrive; until the key is there, at most
//!   [`BUFFER_BEFORE_KEY`] bytes of them wait (the stream is not polled beyond that, so memory
//!   stays bounded when key servers are slow);
//! * segments are **decrypted in parallel** on blocking threads, at most
//!   [`DECRYPT_IN_FLIGHT`] at a time, and written in order by one writer thread.
//!
//! Each segment authenticates at its own position before its plaintext is written. The output
//! is complete only when the call returns `Ok`: it checks that every segment of the header was
//! opened and that no byte is left over.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

use floe_common::privacy::{HEADER_LEN, MAGIC, SealError, SealedHeader, SegmentOpener};
use floe_common::{ConsistencyCheck, Epoch};
use futures::StreamExt as _;
use futures::stream::FuturesOrdered;

use super::{KeyServerSet, PrivateError, sealed_header};
use crate::blobs::{BlobClient, OpenBlob};
use crate::wallet::Wallet;

/// Segments decrypted at once.
pub const DECRYPT_IN_FLIGHT: usize = 4;

/// How far the blob is fetched ahead of the decryptors: more rows in flight than a server's
/// stream keeps, as the output is a file that takes bytes as fast as they come.
pub const READ_AHEAD: usize = 64 << 20;

/// Sealed bytes read ahead while the key is being fetched.
pub const BUFFER_BEFORE_KEY: usize = 64 << 20;

/// Sealed bytes read ahead of the decryptors once the key is known, in segments.
const AHEAD_SEGMENTS: usize = 2 * DECRYPT_IN_FLIGHT;

/// A blob whose first bytes were read ([`peek`]).
pub enum Peeked {
    /// A sealed blob, with its header.
    Sealed(Box<SealedBlob>),
    /// An ordinary blob (or one too short to be sealed).
    Plain(OpenBlob),
}

/// A sealed blob and its header, checked against the blob's length.
pub struct SealedBlob {
    blob: OpenBlob,
    header: SealedHeader,
}

impl SealedBlob {
    /// The header.
    pub fn header(&self) -> &SealedHeader {
        &self.header
    }

    /// The blob.
    pub fn blob(&self) -> &OpenBlob {
        &self.blob
    }
}

/// Reads the first bytes of `blob` and tells whether it is sealed. A blob that starts with the
/// sealed-blob magic but has a malformed header, or a length its header does not imply, is
/// refused with [`PrivateError::Sealed`].
pub async fn peek(client: &BlobClient, blob: OpenBlob) -> Result<Peeked, PrivateError> {
    let len = blob.len();
    if len < MAGIC.len() as u64 {
        return Ok(Peeked::Plain(blob));
    }
    let end = len.min(HEADER_LEN as u64);
    let mut stream = client.stream(blob.clone(), 0..end, ConsistencyCheck::Default);
    let mut prefix = Vec::with_capacity(HEADER_LEN);
    while let Some(chunk) = stream.next().await {
        prefix.extend_from_slice(&chunk?);
    }
    match sealed_header(&prefix) {
        None => Ok(Peeked::Plain(blob)),
        Some(header) => {
            let header = header?;
            header.check_sealed_len(len)?;
            Ok(Peeked::Sealed(Box::new(SealedBlob { blob, header })))
        }
    }
}

/// Who asks for a key: the wallet that signs the request, and the ledger epoch it names.
#[derive(Clone, Copy)]
pub struct Asker<'a> {
    /// The reader's wallet.
    pub wallet: &'a Wallet,
    /// The current ledger epoch.
    pub epoch: Epoch,
}

impl KeyServerSet {
    /// Reads the sealed blob `sealed` and writes its plaintext to `dst` (named `dst_path` in
    /// errors), fetching its key as `asker`; see the [module docs](self). Returns `dst` and the
    /// plaintext length. On an error `dst` may hold a prefix of the plaintext: write to a
    /// temporary file and keep it only on success.
    pub async fn read_sealed<W: Write + Send + 'static>(
        &self,
        client: &BlobClient,
        sealed: Box<SealedBlob>,
        check: ConsistencyCheck,
        asker: Asker<'_>,
        dst: W,
        dst_path: &Path,
    ) -> Result<(W, u64), PrivateError> {
        let SealedBlob { blob, header } = *sealed;
        let len = blob.len();
        let mut stream = client.stream_ahead(blob, HEADER_LEN as u64..len, check, READ_AHEAD);
        let key = self.data_key(asker.wallet, asker.epoch, &header);
        tokio::pin!(key);

        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(DECRYPT_IN_FLIGHT);
        let path = dst_path.to_owned();
        let writer = tokio::task::spawn_blocking(move || {
            let mut dst = dst;
            while let Some(plain) = rx.blocking_recv() {
                dst.write_all(&plain)?;
            }
            dst.flush()?;
            Ok::<W, std::io::Error>(dst)
        });
        let io = |source| PrivateError::Io {
            path: path.clone(),
            source,
        };

        let mut cutter = Cutter::new(header);
        let mut opener: Option<SegmentOpener> = None;
        let mut decrypting = FuturesOrdered::new();
        let mut stream_done = false;
        loop {
            if let Some(op) = &opener {
                while decrypting.len() < DECRYPT_IN_FLIGHT {
                    let Some((i, mut segment)) = cutter.ready.pop_front() else {
                        break;
                    };
                    cutter.ready_bytes -= segment.len();
                    let op = op.clone();
                    decrypting.push_back(tokio::task::spawn_blocking(move || {
                        op.open(i, &mut segment).map(|()| segment)
                    }));
                }
            }
            let ahead = match opener {
                None => BUFFER_BEFORE_KEY,
                Some(_) => AHEAD_SEGMENTS * header.segment_size as usize,
            };
            tokio::select! {
                k = &mut key, if opener.is_none() => {
                    opener = Some(SegmentOpener::new(&k?, &header)?);
                }
                done = decrypting.next(), if !decrypting.is_empty() => {
                    let plain = match done {
                        Some(Ok(result)) => result?,
                        Some(Err(e)) => return Err(io(std::io::Error::other(e))),
                        None => unreachable!("the branch runs only while segments are decrypting"),
                    };
                    if tx.send(plain).await.is_err() {
                        break; // The writer failed: its error is returned below.
                    }
                }
                chunk = stream.next(), if !stream_done && cutter.ready_bytes < ahead => {
                    match chunk {
                        Some(bytes) => cutter.push(&bytes?)?,
                        None => stream_done = true,
                    }
                }
                else => break,
            }
        }
        drop(tx);
        let dst = writer
            .await
            .map_err(|e| io(std::io::Error::other(e)))?
            .map_err(io)?;
        cutter.finish()?;
        Ok((dst, header.plaintext_len))
    }
}

/// Cuts the sealed bytes after the header into segments, checking their count.
struct Cutter {
    header: SealedHeader,
    /// Complete segments not yet handed to a decryptor, with their positions.
    ready: VecDeque<(u64, Vec<u8>)>,
    ready_bytes: usize,
    /// The segment being filled, and its position.
    current: Vec<u8>,
    index: u64,
}

impl Cutter {
    fn new(header: SealedHeader) -> Self {
        Cutter {
            current: Vec::with_capacity(header.sealed_segment_len(0).unwrap_or(0)),
            header,
            ready: VecDeque::new(),
            ready_bytes: 0,
            index: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) -> Result<(), SealError> {
        while !bytes.is_empty() {
            let Some(want) = self.header.sealed_segment_len(self.index) else {
                return Err(SealError::Length {
                    expected: self.header.sealed_len(),
                    actual: self.header.sealed_len() + bytes.len() as u64,
                });
            };
            let take = (want - self.current.len()).min(bytes.len());
            self.current.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.current.len() == want {
                let next = self.header.sealed_segment_len(self.index + 1).unwrap_or(0);
                let full = std::mem::replace(&mut self.current, Vec::with_capacity(next));
                self.ready_bytes += full.len();
                self.ready.push_back((self.index, full));
                self.index += 1;
            }
        }
        Ok(())
    }

    /// Checks that every segment was cut and handed on (the caller opened each one).
    fn finish(&self) -> Result<(), SealError> {
        let segments = self.header.segments();
        if self.index == segments && self.ready.is_empty() {
            return Ok(());
        }
        Err(SealError::Incomplete {
            done: self.index - self.ready.len() as u64,
            segments,
        })
    }
}
