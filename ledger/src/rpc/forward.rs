//! Transaction forwarding: every transaction a validator admits from a client is sent to every
//! other validator's mempool, since the consensus engine does not gossip transactions and any
//! validator may propose the next block.
//!
//! Handlers queue admitted transactions on a bounded channel; one task drains it every
//! `interval`, encodes the batch as BCS `Vec<SignedTransaction>` (split to stay under the peers'
//! body limit) and posts it to each peer's `/v1/transactions/batch` with
//! [`FORWARDED_HEADER`], so the peer does not forward it again. Failures are logged and dropped:
//! a client can always resubmit, and a transaction in any honest proposer's mempool gets in.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::types::FORWARDED_HEADER;
use crate::tx::SignedTransaction;

/// Transactions queued for forwarding before new ones are dropped.
const QUEUE_CAPACITY: usize = 100_000;
/// Largest forwarded body (the batch route accepts [`super::MAX_BATCH_BODY`]).
const MAX_FORWARD_BYTES: usize = 4 << 20;
/// Most transactions in one forwarded body.
const MAX_FORWARD_TXS: usize = 10_000;

/// The handlers' side of forwarding: a queue to the forwarding task, and the server's shutdown
/// token (long-polls end when it fires).
#[derive(Clone)]
pub struct Forwarder {
    queue: Option<mpsc::Sender<SignedTransaction>>,
    shutdown: CancellationToken,
}

impl Forwarder {
    /// A forwarder to `peers` (base URLs) that sends every `interval`, and the task that does
    /// it. The task ends when `shutdown` fires or every [`Forwarder`] clone is dropped.
    pub fn new(
        peers: Vec<String>,
        interval: Duration,
        timeout: Duration,
        shutdown: CancellationToken,
    ) -> (Forwarder, ForwardTask) {
        let (queue, rx) = if peers.is_empty() {
            (None, None)
        } else {
            let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
            (Some(tx), Some(rx))
        };
        let task = ForwardTask {
            peers: peers
                .into_iter()
                .map(|p| p.trim_end_matches('/').to_owned())
                .collect(),
            rx,
            interval,
            timeout,
            shutdown: shutdown.clone(),
        };
        (Forwarder { queue, shutdown }, task)
    }

    /// A forwarder with no peers.
    pub fn disabled(shutdown: CancellationToken) -> Forwarder {
        Forwarder {
            queue: None,
            shutdown,
        }
    }

    /// The server's shutdown token.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Queues admitted transactions (dropped, with a warning, if the queue is full).
    pub fn forward(&self, txs: impl IntoIterator<Item = SignedTransaction>) {
        let Some(queue) = &self.queue else { return };
        let mut dropped = 0usize;
        for tx in txs {
            if queue.try_send(tx).is_err() {
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::warn!(dropped, "forward queue full, transactions not forwarded");
        }
    }
}

/// The forwarding task; run it with [`ForwardTask::run`].
pub struct ForwardTask {
    peers: Vec<String>,
    rx: Option<mpsc::Receiver<SignedTransaction>>,
    interval: Duration,
    timeout: Duration,
    shutdown: CancellationToken,
}

impl ForwardTask {
    /// Forwards until shutdown.
    pub async fn run(self) {
        let Some(mut rx) = self.rx else {
            return;
        };
        let http = match reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .build()
        {
            Ok(c) => c,
            Err(error) => {
                tracing::error!(%error, "cannot build the forwarding http client, not forwarding");
                return;
            }
        };
        loop {
            let first = tokio::select! {
                () = self.shutdown.cancelled() => return,
                tx = rx.recv() => match tx {
                    Some(tx) => tx,
                    None => return,
                },
            };
            // Collect for one interval, then send.
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
            let mut batch = vec![first];
            while let Ok(tx) = rx.try_recv() {
                batch.push(tx);
            }
            for chunk in chunks(&batch) {
                let body = bytes::Bytes::from(floe_common::codec::encode(chunk));
                let sends = self
                    .peers
                    .iter()
                    .map(|peer| send(&http, peer, body.clone(), chunk.len(), &self.shutdown));
                futures::future::join_all(sends).await;
            }
        }
    }
}

async fn send(
    http: &reqwest::Client,
    peer: &str,
    body: bytes::Bytes,
    txs: usize,
    shutdown: &CancellationToken,
) {
    let request = http
        .post(format!("{peer}/v1/transactions/batch"))
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(FORWARDED_HEADER, "1")
        .body(body)
        .send();
    let result = tokio::select! {
        () = shutdown.cancelled() => return,
        r = request => r,
    };
    match result {
        Ok(resp) if resp.status().is_success() => {
            tracing::trace!(peer, txs, "forwarded transactions");
        }
        Ok(resp) => {
            tracing::warn!(peer, txs, status = %resp.status(), "peer refused forwarded transactions");
        }
        Err(error) => {
            tracing::warn!(peer, txs, %error, "forwarding transactions failed");
        }
    }
}

/// Splits `txs` into runs of at most [`MAX_FORWARD_TXS`] and about [`MAX_FORWARD_BYTES`].
fn chunks(txs: &[SignedTransaction]) -> Vec<&[SignedTransaction]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, tx) in txs.iter().enumerate() {
        let size = tx.encode().len() + 8;
        if i > start && (bytes + size > MAX_FORWARD_BYTES || i - start >= MAX_FORWARD_TXS) {
            out.push(&txs[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < txs.len() {
        out.push(&txs[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use floe_common::{Frost, KeyPair};

    use super::*;
    use crate::tx::{Address, Transaction, TxKind};

    #[test]
    fn chunks_respect_count_and_size() {
        let key = KeyPair::from_seed([1; 32]);
        let txs: Vec<SignedTransaction> = (0..25_000)
            .map(|nonce| {
                let tx = Transaction {
                    sender: Address::of(&key.public()),
                    nonce,
                    fee: Frost(1),
                    kind: TxKind::Faucet { amount: Frost(1) },
                };
                SignedTransaction {
                    tx,
                    public_key: key.public(),
                    signature: floe_common::Signature([0; 64]),
                }
            })
            .collect();
        let parts = chunks(&txs);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), txs.len());
        assert!(
            parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= MAX_FORWARD_TXS)
        );
        assert!(
            parts
                .iter()
                .all(|p| floe_common::codec::encode(p).len() <= MAX_FORWARD_BYTES)
        );
        assert!(chunks(&[]).is_empty());
    }
}
