//! The devnet's faucet caps and per-node shard cap, and why together they keep WAL minted by
//! the faucet from taking the storage committee.
//!
//! Anyone who reaches a devnet's RPC may draw from its faucet, register storage nodes and
//! stake on them; shards, and with them certificate and governance weight, follow stake. So
//! faucet money is stake anyone can mint, and the caps must keep it below what would buy a
//! dangerous share of the `n` shards. The attacker's nodes must hold at most
//! [`max_attacker_shards`]`(n) = min(⌊n/3⌋, n − Q)` shards, where `Q = ⌊2n/3⌋ + 1` is the quorum
//! weight: then they reach neither a validity share (`3w > n`, enough to certify any blob
//! invalid on their own) nor enough to deny the honest nodes a quorum, and a fortiori no
//! quorum of their own (certificates, governance).
//!
//! **What the attacker can mint.** Every faucet mint counts against `max_total` (enforced by the
//! ledger, [`floe_ledger::FaucetParams`]), whatever the number of accounts, so an attacker holds
//! at most `A = max_total` WAL of stake; `max_per_epoch` and `max_per_account` only spread it
//! out. A per-epoch cap alone would not do: it grows with every epoch (and `--epoch-secs` may be
//! 1), so it bounds nothing over a devnet's life.
//!
//! **What that stake buys.** The genesis has `m` storage nodes in the committee (at most the
//! active set size), each with stake `h` = [`NODE_STAKE_WAL`]; `H = m·h`. Shards are apportioned
//! by D'Hondt: each goes to the highest `stake / (shards + 1)`. Let `q` be the quotient of the
//! last shard given. Every node won each of its shards with a quotient of at least `q`, so the
//! attacker's nodes hold at most `A/q` shards together, however the stake is split among them;
//! and each genesis node below the cap ended with quotient `h/(s+1) ≤ q`, so holds
//! `s ≥ h/q − 1` (a genesis node at the cap holds at least as many as one below it, and if all
//! are at the cap they hold every shard, as `m·cap ≥ n`). So the attacker holds at most
//! `min(A/q, n + m − H/q) ≤ A(n + m)/(A + H)` shards, which stays at most
//! `F` = [`max_attacker_shards`] while `A(n + m − F − 1) < (F + 1)·H` ([`max_attacker_stake`]). For the default devnet (100 shards, 10 nodes of 100,000 WAL), `F`
//! is 33 and the bound is about 447,000 WAL.
//!
//! **The per-node cap.** [`max_shards_per_node`] is `F` (33 of 100 shards by default): a
//! single node, however large its stake, stays below a validity share (with a cap of `n`, one
//! node with enough stake would take every shard). It is raised to `⌈n/m⌉` when that is
//! larger (one to three genesis nodes), so that the genesis nodes can always hold every shard
//! between them (`m·cap ≥ n`) and the cap never pushes a shard to a newcomer. It is not
//! `⌈n/m⌉` everywhere: that would freeze the committee (no genesis node could take shards from
//! another, so stake moved between them would move no shard), and the bound above does not
//! need it.
//!
//! This assumes every genesis node keeps at least its genesis stake `h`: the operator (the
//! wallet owns that stake) can always give shards away by withdrawing it.
//!
//! **The margin.** `max_total` ([`faucet`]) is half of the smaller of that bound and `h`: half,
//! for what the attacker's nodes might earn from others' storage payments; below `h`, so no
//! attacker node ever has the stake of a genesis node and none can push one out of the active
//! set. By default that is 50,000 WAL over the devnet's life, at most 20,000 WAL per epoch and
//! 10,000 WAL per account, 1,000 WAL per call: ample for trying a devnet out (a MiB stored for
//! an epoch costs 0.0001 WAL), and 10,000,000 WAL sit in the operator's wallet.

use floe_common::{Frost, Threshold};
use floe_ledger::FaucetParams;
use floe_ledger_types::genesis::DEFAULT_ACTIVE_SET_SIZE;

use crate::manifest::{DevnetOptions, NODE_STAKE_WAL};

/// Most WAL one faucet transaction mints.
pub const FAUCET_PER_CALL_WAL: u64 = 1_000;
/// Most WAL one account may draw from the faucet over the devnet's life.
pub const FAUCET_PER_ACCOUNT_WAL: u64 = 10_000;
/// Most WAL the faucet mints per epoch, all accounts together (never above [`faucet`]'s
/// `max_total`).
pub const FAUCET_PER_EPOCH_WAL: u64 = 20_000;

fn wal(n: u64) -> Frost {
    Frost::from_wal(n).expect("devnet WAL amounts fit in u64")
}

/// Genesis storage nodes in the committee: all of them, up to the active set size.
fn committee_nodes(opts: &DevnetOptions) -> u64 {
    (opts.nodes as u64).clamp(1, u64::from(DEFAULT_ACTIVE_SET_SIZE))
}

/// The most shards of `n` that nodes outside the genesis may hold: below a validity share, and
/// leaving the rest a quorum (`min(⌊n/3⌋, n − Q)`).
pub fn max_attacker_shards(n: u16) -> u16 {
    let validity = Threshold::Validity.min_weight(n);
    let quorum = Threshold::Quorum.min_weight(n);
    let f = (validity - 1).min(u32::from(n).saturating_sub(quorum));
    u16::try_from(f).expect("below n")
}

/// The per-node shard cap of a devnet's genesis: [`max_attacker_shards`], or `⌈n / m⌉` for `m`
/// genesis nodes in the committee if that is larger (see the module docs).
pub fn max_shards_per_node(opts: &DevnetOptions) -> u16 {
    let even = u64::from(opts.shards).div_ceil(committee_nodes(opts));
    let even = u16::try_from(even).expect("at most the shard count");
    max_attacker_shards(opts.shards).max(even)
}

/// The largest stake `A` (FROST) for which outside nodes hold at most
/// [`max_attacker_shards`] under D'Hondt against the genesis nodes: the largest `A` with
/// `A(n + m − F − 1) < (F + 1)·H` (see the module docs).
pub fn max_attacker_stake(opts: &DevnetOptions) -> Frost {
    let n = u128::from(opts.shards);
    let m = u128::from(committee_nodes(opts));
    let f = u128::from(max_attacker_shards(opts.shards));
    let honest = m * u128::from(wal(NODE_STAKE_WAL).0);
    let numerator = (f + 1) * honest;
    let denominator = n + m - f - 1;
    let bound = numerator.div_ceil(denominator) - 1;
    Frost(u64::try_from(bound).unwrap_or(u64::MAX))
}

/// The faucet of a devnet's genesis: [`FAUCET_PER_CALL_WAL`], [`FAUCET_PER_ACCOUNT_WAL`] and
/// [`FAUCET_PER_EPOCH_WAL`], and a lifetime total of half the smaller of
/// [`max_attacker_stake`] and one genesis node's stake, rounded down to whole WAL; the smaller
/// caps never above the total.
pub fn faucet(opts: &DevnetOptions) -> FaucetParams {
    let one_wal = wal(1).0;
    let ceiling = max_attacker_stake(opts).0.min(wal(NODE_STAKE_WAL).0);
    let max_total = Frost(ceiling / 2 / one_wal * one_wal);
    let capped = |w: u64| wal(w).min(max_total);
    FaucetParams {
        max_per_call: capped(FAUCET_PER_CALL_WAL),
        max_per_account: capped(FAUCET_PER_ACCOUNT_WAL),
        max_per_epoch: capped(FAUCET_PER_EPOCH_WAL),
        max_total,
    }
}

#[cfg(test)]
mod tests {
    use floe_common::NodeId;
    use floe_ledger::apportion;

    use super::*;

    fn opts(nodes: usize, shards: u16) -> DevnetOptions {
        DevnetOptions {
            nodes,
            shards,
            ..DevnetOptions::default()
        }
    }

    /// The shards outside nodes win under D'Hondt with the devnet's cap, their stake split
    /// into `parts` (equal, or one large part and small ones).
    fn attacker_shards(o: &DevnetOptions, stake: u64, parts: u64, lopsided: bool) -> u16 {
        let h = wal(NODE_STAKE_WAL).0;
        let mut stakes: Vec<(NodeId, u64)> = (0..o.nodes)
            .map(|i| (NodeId([i as u8 + 1; 32]), h))
            .collect();
        for p in 0..parts {
            let share = match (lopsided, p) {
                (false, _) => stake / parts,
                (true, 0) => stake - (parts - 1) * (stake / (4 * parts)),
                (true, _) => stake / (4 * parts),
            };
            stakes.push((outsider(p), share));
        }
        let counts = apportion(&stakes, o.shards, max_shards_per_node(o)).unwrap();
        counts
            .iter()
            .filter(|(id, _)| id.0[0] == 0)
            .map(|(_, c)| *c)
            .sum()
    }

    /// An outside node: its id is below every genesis node's (`[i + 1; 32]`), so it wins ties.
    fn outsider(p: u64) -> NodeId {
        let mut id = [0; 32];
        id[31] = p as u8;
        NodeId(id)
    }

    #[test]
    fn default_devnet_caps() {
        let o = DevnetOptions::default();
        assert_eq!(max_shards_per_node(&o), 33);
        assert_eq!(max_shards_per_node(&opts(4, 8)), 2);
        assert_eq!(max_shards_per_node(&opts(2, 100)), 50);
        assert_eq!(max_attacker_shards(100), 33);
        let f = faucet(&o);
        assert_eq!(f.max_per_call, wal(1_000));
        assert_eq!(f.max_per_account, wal(10_000));
        assert_eq!(f.max_per_epoch, wal(20_000));
        assert_eq!(f.max_total, wal(50_000));
    }

    #[test]
    fn adv_faucet_stake_cannot_take_the_committee() {
        for shards in [1u16, 2, 3, 4, 7, 8, 10, 31, 100] {
            for nodes in [1usize, 2, 3, 4, 5, 10] {
                if usize::from(shards) < nodes {
                    continue;
                }
                let o = opts(nodes, shards);
                let most = max_attacker_shards(shards);
                let total = faucet(&o).max_total.0;
                // The bound itself holds, not only its half.
                for stake in [total, max_attacker_stake(&o).0] {
                    for parts in 1..=6 {
                        for lopsided in [false, true] {
                            let got = attacker_shards(&o, stake, parts, lopsided);
                            assert!(
                                got <= most,
                                "{nodes} nodes, {shards} shards: {stake} FROST in {parts} \
                                 nodes (lopsided {lopsided}) won {got} > {most} shards"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn adv_single_node_capped_below_a_third() {
        // Without the shard cap, one node with enough stake takes a validity share (the cap
        // keeps it below)...
        let o = DevnetOptions::default();
        let h = wal(NODE_STAKE_WAL).0;
        let mut stakes: Vec<(NodeId, u64)> = (0..10u8).map(|i| (NodeId([i + 1; 32]), h)).collect();
        stakes.push((outsider(0), 10 * h));
        let uncapped = apportion(&stakes, o.shards, o.shards).unwrap();
        assert!(uncapped[&outsider(0)] > max_attacker_shards(o.shards));
        let capped = apportion(&stakes, o.shards, max_shards_per_node(&o)).unwrap();
        assert!(capped[&outsider(0)] <= max_attacker_shards(o.shards));
        // ...and without a lifetime total, splitting that stake over nodes takes one anyway.
        assert!(attacker_shards(&o, 10 * h, 5, false) > max_attacker_shards(o.shards));
    }
}
