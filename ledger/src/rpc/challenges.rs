//! Storage challenge routes: the rounds, and the blobs of drawn ranks with their Merkle paths
//! to the round's snapshot root (so a node checks what it is told).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use floe_common::Digest;
use floe_common::challenge::{RankedBlob, snapshot_tree};
use floe_common::merkle::MerkleTree;
use serde::Deserialize;

use super::handlers::query;
use super::types::{ChallengeBlobsResponse, ChallengesResponse, MAX_CHALLENGE_RANKS};
use super::{ApiError, AppState, blocking};

/// The Merkle tree of the current round's snapshot, built on the first request of a round
/// (keyed by its seed) and reused by the others: a round is asked once per member.
#[derive(Default, Clone)]
pub(super) struct SnapshotCache(Arc<Mutex<Option<CachedTree>>>);

/// A round's seed and its snapshot's tree.
type CachedTree = (Digest, Arc<MerkleTree>);

/// `GET /v1/challenges`.
pub(super) async fn rounds(State(st): State<AppState>) -> Json<ChallengesResponse> {
    Json(st.ledger.read(|s| ChallengesResponse {
        epoch: s.epoch(),
        current: s.challenge_round().cloned(),
        last: s.last_challenge_round().cloned(),
    }))
}

/// `GET /v1/challenges/blobs` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RanksQuery {
    /// Comma-separated ranks, at most [`MAX_CHALLENGE_RANKS`].
    ranks: String,
}

/// `GET /v1/challenges/blobs?ranks=3,17`: the current round's blobs of those ranks.
pub(super) async fn blobs(
    State(st): State<AppState>,
    q: Result<Query<RanksQuery>, QueryRejection>,
) -> Result<Json<ChallengeBlobsResponse>, ApiError> {
    let q = query(q)?;
    let ranks = q
        .ranks
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("rank {r:?} is not a number")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ranks.is_empty() || ranks.len() > MAX_CHALLENGE_RANKS {
        return Err(ApiError::bad_request(format!(
            "ask for 1 to {MAX_CHALLENGE_RANKS} ranks, not {}",
            ranks.len()
        )));
    }
    let cache = st.snapshots.clone();
    blocking(&st, move |ledger| {
        ledger.read(|s| {
            let round = s.challenge_round().ok_or_else(|| {
                ApiError::not_found("no_challenges", "no storage challenges this epoch")
            })?;
            let snapshot = s.challenge_blobs();
            let tree = {
                let mut c = cache.0.lock().unwrap_or_else(|p| p.into_inner());
                match c.as_ref().filter(|(seed, _)| *seed == round.seed) {
                    Some((_, tree)) => tree.clone(),
                    None => {
                        let tree = Arc::new(snapshot_tree(snapshot));
                        *c = Some((round.seed, tree.clone()));
                        tree
                    }
                }
            };
            let blobs = ranks
                .iter()
                .map(|&rank| {
                    RankedBlob::from_tree(&tree, snapshot, rank).ok_or_else(|| {
                        ApiError::not_found(
                            "unknown_rank",
                            format!("rank {rank} is not below {} live blobs", round.live_blobs),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ChallengeBlobsResponse {
                epoch: round.epoch,
                live_blobs: round.live_blobs,
                snapshot_root: round.snapshot_root,
                blobs,
            })
        })
    })
    .await?
    .map(Json)
}
