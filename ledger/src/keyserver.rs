//! A validator's key server for private blobs: it releases this validator's share of a blob's
//! key to a reader whom the blob's policy allows (the scheme: `floe_common::privacy`).
//!
//! Rules, checked in this order for every `POST /v1/keys/share` (body: the BCS of a signed
//! [`KeyRequest`], at most [`MAX_SIGNED_KEY_REQUEST_LEN`] bytes):
//!
//! 1. the bytes decode (`malformed`) and the signature is the requester's (`bad_signature`);
//! 2. the chain is this chain (`wrong_chain`), and the epoch is the ledger's current one or
//!    the one before (`stale_epoch`: a reader may sign just before an epoch change);
//! 3. `issued_at_ms` is within [`FRESHNESS`] of this server's clock, either way
//!    (`stale_request`);
//! 4. the request body was not answered before (`replayed`): digests are remembered for
//!    twice the freshness window, which covers every request still fresh, at most
//!    [`MAX_REMEMBERED`] of them (beyond that, new requests are refused as `busy` until old
//!    ones expire, rather than forgetting ones that could be replayed);
//! 5. the policy, read from this validator's committed state with the ledger's clock (epoch
//!    and latest block time), allows the requester (`access_denied`, with the reason).
//!
//! Only then is the share computed and sent, ElGamal-encrypted to the request's ephemeral key.
//! A refused request is not remembered, so a reader may retry once a policy lets it in.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use floe_common::privacy::request::MAX_SIGNED_KEY_REQUEST_LEN;
use floe_common::privacy::{EncryptedShare, KeyRequest, KeyServerSecret};
use floe_common::{Digest, Epoch};
use floe_ledger_types::policy::{Denial, LedgerClock, evaluate};

use crate::state::State;

/// How far a request's `issued_at_ms` may be from the server's clock.
pub const FRESHNESS: Duration = Duration::from_secs(60);
/// Most request digests remembered against replays.
pub const MAX_REMEMBERED: usize = 1 << 20;

/// Why a key server refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRequestError {
    /// Bytes that are not a signed key request.
    #[error("malformed key request: {0}")]
    Malformed(String),
    /// A signature that is not the requester's.
    #[error("bad signature on the key request: {0}")]
    BadSignature(String),
    /// A request for another chain.
    #[error("key request for chain {got:?}, this is {expected:?}")]
    WrongChain {
        /// The request's chain.
        got: String,
        /// This chain.
        expected: String,
    },
    /// A request signed for an epoch other than the current one or the one before.
    #[error("key request for epoch {got}, the ledger is in epoch {current}")]
    StaleEpoch {
        /// The request's epoch.
        got: Epoch,
        /// The ledger's.
        current: Epoch,
    },
    /// A request issued too long ago, or in the future.
    #[error(
        "key request issued at {issued_at_ms} ms, {skew_ms} ms from this server's clock (at most {max_ms})"
    )]
    StaleRequest {
        /// The request's time.
        issued_at_ms: u64,
        /// The distance to the server's clock.
        skew_ms: u64,
        /// The allowed distance.
        max_ms: u64,
    },
    /// A request already answered.
    #[error("key request {0} was already answered")]
    Replayed(Digest),
    /// The replay cache is full of fresh requests.
    #[error("the key server is busy: {0} fresh requests remembered")]
    Busy(usize),
    /// The policy does not allow the requester.
    #[error("access denied: {0}")]
    AccessDenied(Denial),
}

impl KeyRequestError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyRequestError::Malformed(_) => "malformed",
            KeyRequestError::BadSignature(_) => "bad_signature",
            KeyRequestError::WrongChain { .. } => "wrong_chain",
            KeyRequestError::StaleEpoch { .. } => "stale_epoch",
            KeyRequestError::StaleRequest { .. } => "stale_request",
            KeyRequestError::Replayed(_) => "replayed",
            KeyRequestError::Busy(_) => "busy",
            KeyRequestError::AccessDenied(_) => "access_denied",
        }
    }
}

/// Digests of answered requests, with their expiry, oldest first.
#[derive(Debug, Default)]
struct ReplayCache {
    seen: HashMap<Digest, u64>,
    order: VecDeque<(u64, Digest)>,
}

impl ReplayCache {
    fn expire(&mut self, now_ms: u64) {
        while let Some(&(expires, d)) = self.order.front() {
            if expires > now_ms {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&d);
        }
    }
}

/// Counters of a key server.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyServerStats {
    /// Shares released.
    pub released: u64,
    /// Requests refused by a policy.
    pub denied: u64,
    /// Requests refused for any other reason.
    pub refused: u64,
}

/// A validator's key server.
pub struct KeyServer {
    secret: KeyServerSecret,
    chain: String,
    replays: Mutex<ReplayCache>,
    stats: Mutex<KeyServerStats>,
}

impl std::fmt::Debug for KeyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyServer")
            .field("index", &self.secret.index())
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl KeyServer {
    /// The key server of chain `chain` holding `secret`.
    pub fn new(secret: KeyServerSecret, chain: impl Into<String>) -> Self {
        KeyServer {
            secret,
            chain: chain.into(),
            replays: Mutex::default(),
            stats: Mutex::default(),
        }
    }

    /// This server's index.
    pub fn index(&self) -> u16 {
        self.secret.index()
    }

    /// Counters so far.
    pub fn stats(&self) -> KeyServerStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers the signed request `bytes` against the committed `state` whose latest block
    /// has time `tip_ms`, at server time `now_ms` (module docs).
    pub fn answer(
        &self,
        bytes: &[u8],
        state: &State,
        tip_ms: u64,
        now_ms: u64,
    ) -> Result<EncryptedShare, KeyRequestError> {
        let result = self.check_and_answer(bytes, state, tip_ms, now_ms);
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(_) => stats.released += 1,
            Err(KeyRequestError::AccessDenied(_)) => stats.denied += 1,
            Err(_) => stats.refused += 1,
        }
        result
    }

    fn check_and_answer(
        &self,
        bytes: &[u8],
        state: &State,
        tip_ms: u64,
        now_ms: u64,
    ) -> Result<EncryptedShare, KeyRequestError> {
        if bytes.len() > MAX_SIGNED_KEY_REQUEST_LEN {
            return Err(KeyRequestError::Malformed(format!(
                "{} bytes, at most {MAX_SIGNED_KEY_REQUEST_LEN}",
                bytes.len()
            )));
        }
        let signed = KeyRequest::decode_signed(bytes)
            .map_err(|e| KeyRequestError::Malformed(e.to_string()))?;
        let msg = KeyRequest::verify_signed(&signed).map_err(|e| match e {
            floe_common::messages::MessageError::Signature(s) => {
                KeyRequestError::BadSignature(s.to_string())
            }
            other => KeyRequestError::Malformed(other.to_string()),
        })?;
        if msg.chain != self.chain {
            return Err(KeyRequestError::WrongChain {
                got: msg.chain,
                expected: self.chain.clone(),
            });
        }
        let current = state.epoch();
        if msg.epoch != current && msg.epoch.0.checked_add(1) != Some(current.0) {
            return Err(KeyRequestError::StaleEpoch {
                got: msg.epoch,
                current,
            });
        }
        let req = msg.body;
        let max_ms = FRESHNESS.as_millis() as u64;
        let skew_ms = now_ms.abs_diff(req.issued_at_ms);
        if skew_ms > max_ms {
            return Err(KeyRequestError::StaleRequest {
                issued_at_ms: req.issued_at_ms,
                skew_ms,
                max_ms,
            });
        }
        let digest = req.digest();
        self.check_replay(&digest, now_ms)?;
        let reader = floe_ledger_types::Address::of(&req.requester);
        let clock = LedgerClock {
            epoch: current,
            time_ms: tip_ms,
        };
        evaluate(&req.policy, &reader, clock, &|id| state.object(id).cloned())
            .map_err(KeyRequestError::AccessDenied)?;
        self.remember(digest, now_ms, 2 * max_ms)?;
        let id = req.identity(&self.chain);
        Ok(self
            .secret
            .respond(&mut rand::rngs::OsRng, &id, &req.ephemeral))
    }

    /// Refuses a request already answered (cheap, before the policy is evaluated).
    fn check_replay(&self, digest: &Digest, now_ms: u64) -> Result<(), KeyRequestError> {
        let mut cache = self.replays.lock().unwrap_or_else(|e| e.into_inner());
        cache.expire(now_ms);
        if cache.seen.contains_key(digest) {
            return Err(KeyRequestError::Replayed(*digest));
        }
        Ok(())
    }

    /// Records `digest` until `now_ms + keep_ms`; refuses one already recorded.
    fn remember(&self, digest: Digest, now_ms: u64, keep_ms: u64) -> Result<(), KeyRequestError> {
        let mut cache = self.replays.lock().unwrap_or_else(|e| e.into_inner());
        cache.expire(now_ms);
        if cache.seen.contains_key(&digest) {
            return Err(KeyRequestError::Replayed(digest));
        }
        if cache.seen.len() >= MAX_REMEMBERED {
            return Err(KeyRequestError::Busy(cache.seen.len()));
        }
        let expires = now_ms.saturating_add(keep_ms);
        cache.seen.insert(digest, expires);
        cache.order.push_back((expires, digest));
        Ok(())
    }
}
