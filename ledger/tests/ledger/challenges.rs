//! Storage challenges on the ledger: the live-blob snapshot and seed of each epoch, proofs
//! made from real encoded blobs, refusals, settlement and forfeited rewards.

use floe_common::challenge::{StorageProof, challenged_sliver, challenges, snapshot_root};
use floe_common::encoding::encode_blob;
use floe_common::{EncodedBlob, EncodingConfig, Epoch, Frost, NodeId};
use floe_ledger::state::challenge::challenge_seed;
use floe_ledger::{EpochEvent, Event, Genesis, State, TxKind, node_id_of};

use crate::support::*;

pub fn nid(i: usize) -> NodeId {
    node_id_of(&node_key(i).public())
}

/// The test genesis with `k` challenges per node and a window of `window_ms`.
pub fn challenge_genesis(k: u16, window_ms: u64) -> Genesis {
    let mut g = genesis();
    g.params.challenges_per_node = k;
    g.params.challenge_window_ms = window_ms;
    g
}

pub fn config() -> EncodingConfig {
    EncodingConfig::new(100).unwrap()
}

/// Encodes `len` bytes from `seed`, registers (for `epochs`) and certifies the blob.
pub fn store_blob(net: &mut Net, user: usize, seed: u8, len: usize, epochs: u32) -> EncodedBlob {
    try_store_blob(net, user, seed, len, epochs).expect("stored")
}

/// [`store_blob`], or `None` if a transaction of it fails (e.g. no capacity left).
pub fn try_store_blob(
    net: &mut Net,
    user: usize,
    seed: u8,
    len: usize,
    epochs: u32,
) -> Option<EncodedBlob> {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let enc = encode_blob(&config(), &data).unwrap();
    let md = enc.metadata.metadata();
    let storage = net
        .exec(
            user,
            TxKind::ReserveSpace {
                encoded_size: MIB,
                epochs_ahead: epochs,
            },
        )
        .ok()?
        .created[0];
    let fx = net
        .exec(
            user,
            TxKind::RegisterBlob {
                storage,
                blob_id: enc.blob_id(),
                root_hash: md.root(),
                unencoded_length: md.unencoded_length,
                encoding_type: md.encoding_type,
                deletable: false,
            },
        )
        .ok()?;
    let object = fx.created[0];
    // Withdrawals may have shrunk the committee below seven members: sign with those left
    // (a certificate short of quorum is then refused by the ledger, like any other).
    let members = net.state.committee().members().len();
    let signers: Vec<usize> = QUORUM.into_iter().filter(|&i| i < members).collect();
    let certificate = net.confirmation(
        enc.blob_id(),
        floe_common::BlobPersistence::Permanent,
        &signers,
    );
    net.exec(
        user,
        TxKind::CertifyBlob {
            blob_object: object,
            certificate,
        },
    )
    .ok()?;
    Some(enc)
}

/// The proofs node `i` owes in the current round, made from `blobs`' slivers.
pub fn honest_proofs(net: &Net, i: usize, blobs: &[EncodedBlob]) -> Vec<StorageProof> {
    let config = config();
    net.state
        .challenge_draws(&nid(i))
        .into_iter()
        .map(|(blob_id, c)| {
            let enc = blobs.iter().find(|b| b.blob_id() == blob_id).unwrap();
            let (pair, _) = challenged_sliver(&c, &blob_id, 100);
            let sliver = enc.pairs[pair.as_usize()].sliver(c.axis);
            StorageProof::prove(&config, &enc.metadata, pair, sliver, c.symbol).unwrap()
        })
        .collect()
}

pub fn submit_kind(net: &Net, proofs: Vec<StorageProof>) -> TxKind {
    TxKind::SubmitStorageProofs {
        epoch: net.state.epoch(),
        first: 0,
        proofs,
    }
}

fn results(events: &[Event]) -> Option<(Epoch, Vec<NodeId>, Vec<NodeId>)> {
    events.iter().find_map(|e| match e {
        Event::Epoch(EpochEvent::ChallengeResults {
            epoch,
            passed,
            failed,
        }) => Some((*epoch, passed.clone(), failed.clone())),
        _ => None,
    })
}

fn rewards(events: &[Event]) -> (Vec<(NodeId, Frost)>, Frost, Frost) {
    events
        .iter()
        .find_map(|e| match e {
            Event::Epoch(EpochEvent::RewardsPaid {
                nodes,
                leftover,
                forfeited,
                ..
            }) => Some((
                nodes.iter().map(|r| (r.node, r.reward)).collect(),
                *leftover,
                *forfeited,
            )),
            _ => None,
        })
        .expect("rewards paid")
}

/// A network in epoch 1 with three certified blobs live until epoch 5, node keys funded.
fn epoch_one(k: u16, window_ms: u64) -> (Net, Vec<EncodedBlob>) {
    let mut net = Net::from_genesis(&challenge_genesis(k, window_ms));
    net.fund_node_keys();
    let blobs: Vec<_> = (0..3)
        .map(|s| store_blob(&mut net, 0, s, 3000, 5))
        .collect();
    let events = net.block_at(GENESIS_MS + EPOCH_MS);
    assert_eq!(net.state.epoch(), Epoch(1));
    let seed = challenge_seed(&block_hash(net.height), Epoch(1));
    assert!(
        events.contains(&Event::Epoch(EpochEvent::ChallengesStarted {
            epoch: Epoch(1),
            seed,
            k,
            live_blobs: 3,
            snapshot_root: snapshot_root(&{
                let mut ids: Vec<_> = blobs.iter().map(EncodedBlob::blob_id).collect();
                ids.sort();
                ids
            }),
            closes_ms: GENESIS_MS + EPOCH_MS + window_ms.min(EPOCH_MS),
        }))
    );
    let round = net.state.challenge_round().unwrap();
    assert_eq!((round.seed, round.seed_height), (seed, net.height));
    let mut ids: Vec<_> = blobs.iter().map(EncodedBlob::blob_id).collect();
    ids.sort();
    assert_eq!(net.state.challenge_blobs(), ids.as_slice());
    net.sync_all();
    (net, blobs)
}

#[test]
fn challenges_honest_nodes_pass_and_are_paid() {
    let (mut net, blobs) = epoch_one(5, EPOCH_MS / 2);
    let escrow = net.state.system().epoch_accounts[&Epoch(1)].rewards;
    for i in 0..10 {
        let proofs = honest_proofs(&net, i, &blobs);
        assert_eq!(proofs.len(), 5);
        let fx = net
            .exec_key(&node_key(i), submit_kind(&net, proofs))
            .unwrap();
        assert_eq!(
            fx.events,
            vec![Event::Epoch(EpochEvent::StorageProved {
                epoch: Epoch(1),
                node: nid(i),
                proofs: 5
            })]
        );
    }
    let events = net.block_at(GENESIS_MS + EPOCH_MS + EPOCH_MS / 2);
    let (epoch, passed, failed) = results(&events).unwrap();
    assert_eq!((epoch, passed.len(), failed), (Epoch(1), 10, vec![]));
    let events = net.block_at(GENESIS_MS + 2 * EPOCH_MS);
    let (paid, leftover, forfeited) = rewards(&events);
    assert_eq!(paid.len(), 10);
    // Each member holds 10 of 100 shards: ⌊T × 10 / 100⌋.
    for (_, r) in &paid {
        assert_eq!(r.0, escrow.0 * 10 / 100);
    }
    assert_eq!(forfeited, Frost::ZERO);
    assert_eq!(leftover.0, escrow.0 - 10 * (escrow.0 * 10 / 100));
    net.state.check_supply().unwrap();
}

#[test]
fn challenges_lazy_and_wrong_nodes_forfeit_and_others_are_unaffected() {
    let (mut net, blobs) = epoch_one(4, EPOCH_MS / 2);
    let escrow = net.state.system().epoch_accounts[&Epoch(1)].rewards;
    let next_escrow = net.state.system().epoch_accounts[&Epoch(2)].rewards;
    for i in [0, 1, 2, 4, 6, 7, 8, 9] {
        let proofs = honest_proofs(&net, i, &blobs);
        net.exec_key(&node_key(i), submit_kind(&net, proofs))
            .unwrap();
    }
    // Node 5 sends a proof with one symbol byte changed: refused, naming the proof.
    let mut proofs = honest_proofs(&net, 5, &blobs);
    proofs[2].data[0] ^= 1;
    let e = net.reject_key(&node_key(5), submit_kind(&net, proofs), "proof_failed");
    assert!(e.to_string().starts_with("storage proof 2 fails"), "{e}");
    // Node 3 sends nothing.
    let events = net.block_at(GENESIS_MS + EPOCH_MS + EPOCH_MS / 2);
    let (_, passed, failed) = results(&events).unwrap();
    assert_eq!(passed.len(), 8);
    let mut lazy = vec![nid(3), nid(5)];
    lazy.sort();
    assert_eq!(failed, lazy);
    let events = net.block_at(GENESIS_MS + 2 * EPOCH_MS);
    let (paid, leftover, forfeited) = rewards(&events);
    let share = escrow.0 * 10 / 100;
    assert_eq!(paid.len(), 8);
    assert!(paid.iter().all(|(n, r)| !lazy.contains(n) && r.0 == share));
    assert_eq!(forfeited, Frost(2 * share));
    // The forfeited rewards and the leftover go to the next epoch's escrow.
    assert_eq!(leftover.0, escrow.0 - 10 * share);
    assert_eq!(
        net.state.system().epoch_accounts[&Epoch(2)].rewards.0,
        next_escrow.0 + 2 * share + leftover.0
    );
    net.state.check_supply().unwrap();
}

#[test]
fn adv_duplicate_submission_is_refused() {
    let (mut net, blobs) = epoch_one(3, EPOCH_MS / 2);
    let proofs = honest_proofs(&net, 4, &blobs);
    net.exec_key(&node_key(4), submit_kind(&net, proofs.clone()))
        .unwrap();
    net.reject_key(&node_key(4), submit_kind(&net, proofs), "already_proved");
}

#[test]
fn adv_challenges_cannot_precompute() {
    let (mut net, blobs) = epoch_one(6, EPOCH_MS / 2);
    let config = config();
    let live = net.state.challenge_blobs().to_vec();
    // Proofs of the draws of any other seed (here: a block that did not start the epoch).
    let other = challenge_seed(&block_hash(net.height + 1), Epoch(1));
    let draws = challenges(
        &other,
        &nid(2),
        6,
        live.len() as u64,
        net.state.shards_of(&nid(2)),
        100,
    );
    let proofs: Vec<_> = draws
        .iter()
        .map(|c| {
            let blob_id = live[c.blob_rank as usize];
            let enc = blobs.iter().find(|b| b.blob_id() == blob_id).unwrap();
            let (pair, _) = challenged_sliver(c, &blob_id, 100);
            let sliver = enc.pairs[pair.as_usize()].sliver(c.axis);
            StorageProof::prove(&config, &enc.metadata, pair, sliver, c.symbol).unwrap()
        })
        .collect();
    assert_ne!(proofs, honest_proofs(&net, 2, &blobs));
    let e = net.reject_key(&node_key(2), submit_kind(&net, proofs), "proof_failed");
    assert!(e.to_string().contains("the challenge asks"), "{e}");
    // Last epoch's honest proofs are not this epoch's either.
    let proofs = honest_proofs(&net, 2, &blobs);
    net.block_at(GENESIS_MS + 2 * EPOCH_MS);
    assert_eq!(net.state.epoch(), Epoch(2));
    // Epoch 1's settled round stays readable after epoch 2's starts.
    let last = net.state.last_challenge_round().unwrap();
    assert!(last.epoch == Epoch(1) && last.settled);
    assert_eq!(net.state.challenge_round().unwrap().epoch, Epoch(2));
    net.reject_key(
        &node_key(2),
        submit_kind(&net, proofs.clone()),
        "proof_failed",
    );
    net.reject_key(
        &node_key(2),
        TxKind::SubmitStorageProofs {
            epoch: Epoch(1),
            first: 0,
            proofs,
        },
        "wrong_epoch",
    );
}

#[test]
fn adv_proofs_outside_the_window_are_refused() {
    let (mut net, blobs) = epoch_one(3, EPOCH_MS / 4);
    let proofs = honest_proofs(&net, 1, &blobs);
    net.block_at(GENESIS_MS + EPOCH_MS + EPOCH_MS / 4);
    net.reject_key(
        &node_key(1),
        submit_kind(&net, proofs),
        "challenge_window_closed",
    );
    let round = net.state.challenge_round().unwrap();
    assert!(round.settled && round.failed.contains(&nid(1)));
}

#[test]
fn adv_submissions_need_a_member_and_proofs_in_draw_order() {
    let (mut net, blobs) = epoch_one(3, EPOCH_MS / 2);
    let proofs = honest_proofs(&net, 1, &blobs);
    // A user (not a node key) cannot submit for anyone.
    net.reject(0, submit_kind(&net, proofs.clone()), "not_committee_member");
    let mut long = proofs.clone();
    long.push(proofs[0].clone());
    net.reject_key(&node_key(1), submit_kind(&net, long), "wrong_proof_count");
    net.reject_key(
        &node_key(1),
        submit_kind(&net, Vec::new()),
        "wrong_proof_count",
    );
    // In two transactions, in order: the first half, then the rest.
    let half = proofs.len() / 2;
    let part = |first: usize, proofs: &[StorageProof]| TxKind::SubmitStorageProofs {
        epoch: Epoch(1),
        first: first as u16,
        proofs: proofs.to_vec(),
    };
    net.reject_key(
        &node_key(1),
        part(half, &proofs[half..]),
        "proof_out_of_order",
    );
    net.exec_key(&node_key(1), part(0, &proofs[..half]))
        .unwrap();
    assert!(
        !net.state
            .challenge_round()
            .unwrap()
            .passed
            .contains(&nid(1))
    );
    // The same first half again is a replay.
    net.reject_key(&node_key(1), part(0, &proofs[..half]), "proof_out_of_order");
    // The second half must prove the draws it claims: the first half again does not.
    net.reject_key(&node_key(1), part(half, &proofs[..half]), "proof_failed");
    net.exec_key(&node_key(1), part(half, &proofs[half..]))
        .unwrap();
    assert!(
        net.state
            .challenge_round()
            .unwrap()
            .passed
            .contains(&nid(1))
    );
    net.reject_key(&node_key(1), part(0, &proofs), "already_proved");
}

#[test]
fn no_round_in_epoch_zero_or_when_disabled_and_nothing_to_prove_passes() {
    let mut net = Net::from_genesis(&challenge_genesis(3, EPOCH_MS / 2));
    net.fund_node_keys();
    net.reject_key(&node_key(0), submit_kind(&net, vec![]), "no_challenges");
    // Epoch 1 without live blobs: nothing to prove, everyone passes.
    net.block_at(GENESIS_MS + EPOCH_MS);
    assert_eq!(net.state.challenge_round().unwrap().live_blobs, 0);
    net.exec_key(&node_key(0), submit_kind(&net, vec![]))
        .unwrap();
    let events = net.block_at(GENESIS_MS + EPOCH_MS + EPOCH_MS / 2);
    let (_, passed, failed) = results(&events).unwrap();
    assert_eq!((passed.len(), failed.len()), (10, 0));
    // k = 0: no round at all.
    let mut net = Net::from_genesis(&challenge_genesis(0, EPOCH_MS / 2));
    net.block_at(GENESIS_MS + EPOCH_MS);
    assert!(net.state.challenge_round().is_none());
}

#[test]
fn snapshot_holds_only_live_certified_valid_blobs_and_survives_restart() {
    let mut net = Net::from_genesis(&challenge_genesis(3, EPOCH_MS / 2));
    let live = store_blob(&mut net, 0, 1, 2000, 5);
    // Expires at epoch 1.
    store_blob(&mut net, 0, 2, 2000, 1);
    // Invalid.
    let bad = store_blob(&mut net, 1, 3, 2000, 5);
    let certificate = net.invalid_cert(bad.blob_id(), &VALIDITY);
    net.exec(
        1,
        TxKind::InvalidateBlob {
            blob_id: bad.blob_id(),
            certificate,
        },
    )
    .unwrap();
    // Registered, never certified.
    let storage = net.reserve(2, MIB, 5);
    net.exec(2, Net::register_kind(storage, 1000, 9, false))
        .unwrap();
    net.block_at(GENESIS_MS + EPOCH_MS);
    assert_eq!(net.state.challenge_blobs(), &[live.blob_id()]);
    let restored = State::from_entries(net.state.entries()).unwrap();
    assert!(restored == net.state);
    assert_eq!(restored.challenge_blobs(), &[live.blob_id()]);
    assert_eq!(restored.digest(), net.state.digest());
}
