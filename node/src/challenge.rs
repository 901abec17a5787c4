//! Answering storage challenges from the node's own store ([`floe_common::challenge`] has the
//! rules and the proof format).
//!
//! A proof is made only from what is stored and verified: the blob's metadata (checked against
//! its id when read back) and the challenged sliver, whose expanded hash must equal the one in
//! the metadata. A node that lost the sliver answers [`NodeError::NotFound`]; it may recover the
//! sliver first (the sync loop does) and answer then.

use floe_common::challenge::{Challenge, StorageProof, challenged_sliver};
use floe_common::{BlobId, SliverAxis};

use crate::core::NodeCore;
use crate::protocol::{NodeError, NodeResult};

impl NodeCore {
    /// Proves `challenge` for `blob_id` from this node's store. CPU-bound (one sliver
    /// expansion): call it off the async threads.
    pub fn prove_challenge(
        &self,
        blob_id: &BlobId,
        challenge: &Challenge,
    ) -> NodeResult<StorageProof> {
        let n_shards = self.config.n_shards();
        let (pair, _) = challenged_sliver(challenge, blob_id, n_shards);
        let metadata = self.verified_metadata(blob_id)?;
        let sliver = self
            .storage
            .sliver(blob_id, pair, challenge.axis)?
            .ok_or(NodeError::NotFound)?;
        StorageProof::prove(&self.config, &metadata, pair, &sliver, challenge.symbol).map_err(
            |e| {
                let axis: SliverAxis = challenge.axis;
                tracing::warn!(%blob_id, %pair, %axis, error = %e, "cannot prove a challenge from the stored sliver");
                NodeError::Internal(format!("stored sliver of pair {pair}: {e}"))
            },
        )
    }
}
