//! Random transaction sequences: supply is conserved, rejected transactions change nothing, and
//! the changes taken after each transaction rebuild the live state.

use std::collections::BTreeMap;

use floe_common::{BlobPersistence, Epoch, Frost, ObjectId};
use floe_ledger::policy::{PolicyRule, Unlock};
use floe_ledger::{Address, Effects, Object, State, TxFailure, TxKind, node_id_of};
use proptest::prelude::*;

use crate::support::*;

#[derive(Debug, Clone)]
enum Op {
    Transfer(usize, usize, u64),
    Faucet(usize, u64),
    Reserve(usize, u64, u32),
    SplitEpoch(usize, usize, u32),
    SplitSize(usize, usize, u64),
    Fuse(usize, usize, usize),
    Register(usize, usize, u64, bool, bool),
    Certify(usize, usize, bool),
    Extend(usize, usize, u32),
    Delete(usize, usize),
    Invalidate(usize),
    Attr(usize, usize, bool),
    Stake(usize, usize, u64),
    RequestWithdrawal(usize, usize),
    Withdraw(usize, usize),
    BadNonce(usize, u64),
    Advance(u64),
    /// Create (or, with a site picked, delete) a site.
    Site(usize, usize, bool),
    /// Claim (0), renew (1), transfer (2) or point (3) one of three names.
    Name(usize, u8, u8, u32, usize),
    /// Give a blob object to another user.
    TransferBlob(usize, usize, usize),
    /// Share a blob object with some funds.
    Share(usize, usize, u64),
    /// Fund a shared blob.
    FundShared(usize, usize, u64),
    /// Extend a shared blob from its funds.
    ExtendShared(usize, usize, u32),
    /// Burn one or two blob objects.
    Burn(usize, usize, Option<usize>),
    /// Create a policy: owner (0), allowlist (1), timelock (2), paid (3), and/or (4, 5) of
    /// two picked policies.
    CreatePolicy(usize, u8, usize, u64),
    /// Edit a picked allowlist: add and remove users.
    EditAllowlist(usize, usize, usize, usize),
    /// Pay for access to a picked policy, with a price limit.
    PayAccess(usize, usize, u64),
    /// Reserve, register and certify a 1000-byte blob (salt, deletable, epochs): the blobs the
    /// lifecycle operations act on.
    Store(usize, u8, bool, u32),
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0usize..4;
    let pick = any::<usize>();
    prop_oneof![
        1 => (u.clone(), u.clone(), 0u64..2_000_000_000_000).prop_map(|(a, b, x)| Op::Transfer(a, b, x)),
        1 => (u.clone(), 0u64..6_000_000_000).prop_map(|(a, x)| Op::Faucet(a, x)),
        3 => (u.clone(), 0u64..4 * MIB, 0u32..12).prop_map(|(a, s, e)| Op::Reserve(a, s, e)),
        1 => (u.clone(), pick, 0u32..12).prop_map(|(a, p, e)| Op::SplitEpoch(a, p, e)),
        1 => (u.clone(), pick, 0u64..4 * MIB).prop_map(|(a, p, s)| Op::SplitSize(a, p, s)),
        1 => (u.clone(), pick, pick).prop_map(|(a, p, q)| Op::Fuse(a, p, q)),
        2 => (
            u.clone(),
            pick,
            1u64..800_000,
            any::<bool>(),
            prop::bool::weighted(0.1)
        )
            .prop_map(|(a, p, l, d, bad)| Op::Register(a, p, l, d, bad)),
        2 => (u.clone(), pick, prop::bool::weighted(0.8)).prop_map(|(a, p, g)| Op::Certify(a, p, g)),
        1 => (u.clone(), pick, 0u32..12).prop_map(|(a, p, k)| Op::Extend(a, p, k)),
        1 => (u.clone(), pick).prop_map(|(a, p)| Op::Delete(a, p)),
        1 => pick.prop_map(Op::Invalidate),
        1 => (u.clone(), pick, any::<bool>()).prop_map(|(a, p, s)| Op::Attr(a, p, s)),
        1 => (u.clone(), 0usize..11, 0u64..1_000_000).prop_map(|(a, n, x)| Op::Stake(a, n, x)),
        1 => (u.clone(), pick).prop_map(|(a, p)| Op::RequestWithdrawal(a, p)),
        1 => (u.clone(), pick).prop_map(|(a, p)| Op::Withdraw(a, p)),
        1 => (u.clone(), 1u64..3).prop_map(|(a, d)| Op::BadNonce(a, d)),
        1 => (u.clone(), pick, any::<bool>()).prop_map(|(a, p, d)| Op::Site(a, p, d)),
        1 => (u.clone(), 0u8..4, 0u8..3, 0u32..14, pick)
            .prop_map(|(a, k, n, e, p)| Op::Name(a, k, n, e, p)),
        1 => (u.clone(), pick, 0usize..4).prop_map(|(a, p, b)| Op::TransferBlob(a, p, b)),
        2 => (u.clone(), pick, 0u64..5_000).prop_map(|(a, p, x)| Op::Share(a, p, x)),
        2 => (u.clone(), pick, 0u64..5_000).prop_map(|(a, p, x)| Op::FundShared(a, p, x)),
        2 => (u.clone(), pick, 0u32..4).prop_map(|(a, p, k)| Op::ExtendShared(a, p, k)),
        2 => (u.clone(), pick, prop::option::of(pick)).prop_map(|(a, p, q)| Op::Burn(a, p, q)),
        3 => (u.clone(), 0u8..6, any::<bool>(), 1u32..5)
            .prop_map(|(a, salt, d, e)| Op::Store(a, salt, d, e)),
        1 => (0u64..2 * EPOCH_MS).prop_map(Op::Advance),
        1 => (u.clone(), 0u8..6, pick, 0u64..10_000).prop_map(|(a, k, p, x)| Op::CreatePolicy(a, k, p, x)),
        1 => (u.clone(), pick, 0usize..4, 0usize..4).prop_map(|(a, p, x, y)| Op::EditAllowlist(a, p, x, y)),
        2 => (u, pick, 0u64..10_000).prop_map(|(a, p, x)| Op::PayAccess(a, p, x)),
    ]
}

/// The users' and the shared objects' owners.
fn owners() -> Vec<Address> {
    (0..4)
        .map(|u| addr(&user_key(u)))
        .chain([Address::SHARED])
        .collect()
}

/// All objects of one type, in id order (picks index into this list).
fn objects(net: &Net, ty: &str) -> Vec<(ObjectId, Object)> {
    owners()
        .iter()
        .flat_map(|o| net.state.objects_owned_by(o))
        .filter(|(_, o)| o.type_name() == ty)
        .map(|(id, o)| (id, o.clone()))
        .collect()
}

/// The sender for an operation on the `p`-th object of `list`: mostly (`a < 3`) the user that
/// owns it, so that owner-only operations succeed often enough to build on; else user `a`.
fn owner_or(list: &[(ObjectId, Object)], p: usize, a: usize) -> usize {
    if list.is_empty() || a == 3 {
        return a;
    }
    let owner = list[p % list.len()].1.owner();
    (0..4).find(|&u| addr(&user_key(u)) == owner).unwrap_or(a)
}

fn nth(list: &[(ObjectId, Object)], p: usize) -> ObjectId {
    if list.is_empty() {
        ObjectId([0xee; 32])
    } else {
        list[p % list.len()].0
    }
}

fn kind_of(net: &Net, op: &Op) -> Option<(usize, TxKind)> {
    let storage = objects(net, "storage");
    let blobs = objects(net, "blob");
    let staked = objects(net, "staked_wal");
    let sites = objects(net, "site");
    let shared = objects(net, "shared_blob");
    let policies = objects(net, "policy");
    let user = |i: usize| addr(&user_key(i % 4));
    Some(match *op {
        Op::CreatePolicy(a, k, p, x) => {
            let rule = match k {
                0 => PolicyRule::Owner,
                1 => PolicyRule::Allowlist {
                    members: [user(p)].into(),
                },
                2 => PolicyRule::Timelock {
                    unlock: Unlock::Epoch(Epoch((x % 5) as u32)),
                },
                3 => PolicyRule::Paid {
                    price: Frost(x),
                    epochs: (p % 4) as u32,
                },
                4 => PolicyRule::And {
                    left: nth(&policies, p),
                    right: nth(&policies, p / 2),
                },
                _ => PolicyRule::Or {
                    left: nth(&policies, p),
                    right: nth(&policies, p / 2),
                },
            };
            (a, TxKind::CreatePolicy { rule })
        }
        Op::EditAllowlist(a, p, x, y) => (
            owner_or(&policies, p, a),
            TxKind::UpdateAllowlist {
                policy: nth(&policies, p),
                add: vec![user(x)],
                remove: vec![user(y)],
            },
        ),
        Op::PayAccess(a, p, x) => (
            a,
            TxKind::PayForAccess {
                policy: nth(&policies, p),
                max_price: Frost(x),
            },
        ),
        Op::TransferBlob(a, p, b) => (
            owner_or(&blobs, p, a),
            TxKind::TransferBlob {
                blob_object: nth(&blobs, p),
                to: addr(&user_key(b)),
            },
        ),
        Op::Share(a, p, x) => (
            owner_or(&blobs, p, a),
            TxKind::ShareBlob {
                blob_object: nth(&blobs, p),
                amount: Frost(x),
            },
        ),
        Op::FundShared(a, p, x) => (
            a,
            TxKind::FundSharedBlob {
                shared: nth(&shared, p),
                amount: Frost(x),
            },
        ),
        Op::ExtendShared(a, p, k) => (
            a,
            TxKind::ExtendSharedBlob {
                shared: nth(&shared, p),
                epochs_ahead: k,
            },
        ),
        Op::Burn(a, p, q) => (
            owner_or(&blobs, p, a),
            TxKind::BurnBlobs {
                blob_objects: [Some(p), q]
                    .into_iter()
                    .flatten()
                    .map(|i| nth(&blobs, i))
                    .collect(),
            },
        ),
        Op::Site(a, _, false) => (
            a,
            TxKind::CreateSite {
                record: floe_common::site::SiteRecord::default(),
            },
        ),
        Op::Site(a, p, true) => (
            a,
            TxKind::DeleteSite {
                site: nth(&sites, p),
            },
        ),
        Op::Name(a, k, n, epochs, p) => {
            let name = format!("name-{n}");
            let site = (p % 2 == 0).then(|| nth(&sites, p));
            (
                a,
                match k {
                    0 => TxKind::ClaimName { name, epochs, site },
                    1 => TxKind::RenewName { name, epochs },
                    2 => TxKind::TransferName {
                        name,
                        to: addr(&user_key(p % 4)),
                    },
                    _ => TxKind::SetNameSite { name, site },
                },
            )
        }
        Op::Transfer(a, b, x) => (
            a,
            TxKind::Transfer {
                to: addr(&user_key(b)),
                amount: Frost(x),
            },
        ),
        Op::Faucet(a, x) => (a, TxKind::Faucet { amount: Frost(x) }),
        Op::Reserve(a, s, e) => (
            a,
            TxKind::ReserveSpace {
                encoded_size: s,
                epochs_ahead: e,
            },
        ),
        Op::SplitEpoch(a, p, e) => (
            a,
            TxKind::SplitStorageByEpoch {
                storage: nth(&storage, p),
                split_epoch: Epoch(e),
            },
        ),
        Op::SplitSize(a, p, s) => (
            a,
            TxKind::SplitStorageBySize {
                storage: nth(&storage, p),
                size: s,
            },
        ),
        Op::Fuse(a, p, q) => (
            a,
            TxKind::FuseStorage {
                first: nth(&storage, p),
                second: nth(&storage, q),
            },
        ),
        Op::Register(a, p, len, d, bad) => {
            let a = owner_or(&storage, p, a);
            let mut k = Net::register_kind(nth(&storage, p), len, (len % 3) as u8, d);
            if let (
                true,
                TxKind::RegisterBlob {
                    unencoded_length, ..
                },
            ) = (bad, &mut k)
            {
                *unencoded_length += 1;
            }
            (a, k)
        }
        Op::Certify(a, p, good) => {
            let id = nth(&blobs, p);
            let (blob_id, persistence) = match blobs.iter().find(|(i, _)| *i == id) {
                Some((_, Object::Blob(b))) if b.deletable => {
                    (b.blob_id, BlobPersistence::Deletable(id))
                }
                Some((_, Object::Blob(b))) => (b.blob_id, BlobPersistence::Permanent),
                _ => return None,
            };
            let signers = members_of(net, if good { &QUORUM } else { &BELOW_QUORUM });
            let certificate = net.confirmation(blob_id, persistence, &signers);
            (
                a,
                TxKind::CertifyBlob {
                    blob_object: id,
                    certificate,
                },
            )
        }
        Op::Extend(a, p, k) => (
            a,
            TxKind::ExtendBlob {
                blob_object: nth(&blobs, p),
                epochs_ahead: k,
            },
        ),
        Op::Delete(a, p) => (
            a,
            TxKind::DeleteBlob {
                blob_object: nth(&blobs, p),
            },
        ),
        Op::Invalidate(p) => {
            let id = nth(&blobs, p);
            let blob_id = match blobs.iter().find(|(i, _)| *i == id) {
                Some((_, Object::Blob(b))) => b.blob_id,
                _ => return None,
            };
            let certificate = net.invalid_cert(blob_id, &members_of(net, &VALIDITY));
            (
                0,
                TxKind::InvalidateBlob {
                    blob_id,
                    certificate,
                },
            )
        }
        Op::Attr(a, p, set) => {
            let blob_object = nth(&blobs, p);
            let key = "content-type".to_owned();
            if set {
                (
                    a,
                    TxKind::SetBlobAttribute {
                        blob_object,
                        key,
                        value: "text/plain".into(),
                    },
                )
            } else {
                (a, TxKind::RemoveBlobAttribute { blob_object, key })
            }
        }
        Op::Stake(a, n, x) => (
            a,
            TxKind::Stake {
                node: node_id_of(&node_key(n).public()),
                amount: Frost(x),
            },
        ),
        Op::RequestWithdrawal(a, p) => (
            a,
            TxKind::RequestWithdrawal {
                staked: nth(&staked, p),
            },
        ),
        Op::Withdraw(a, p) => (
            a,
            TxKind::Withdraw {
                staked: nth(&staked, p),
            },
        ),
        Op::BadNonce(..) | Op::Advance(_) | Op::Store(..) => return None,
    })
}

fn check_blob_index(state: &State) {
    // Every index entry (table 3 of the stored entries) names existing objects of its blob id,
    // and is kept without objects only for an invalidated blob id.
    for (key, _) in state.entries() {
        if key.first() != Some(&3) {
            continue;
        }
        let blob_id = floe_common::BlobId(key[1..].try_into().unwrap());
        let info = state.blob_status(&blob_id).unwrap();
        assert!(
            !info.objects.is_empty() || info.is_invalid(),
            "empty entry {blob_id}"
        );
        for id in &info.objects {
            let b = state.object(id).and_then(Object::as_blob);
            assert_eq!(b.map(|b| b.blob_id), Some(blob_id), "{id} in the index");
        }
    }
    let mut by_id: BTreeMap<_, Vec<ObjectId>> = BTreeMap::new();
    for owner in owners() {
        for (id, o) in state.objects_owned_by(&owner) {
            if let Some(b) = o.as_blob() {
                by_id.entry(b.blob_id).or_default().push(id);
            }
        }
    }
    for (blob_id, ids) in by_id {
        let info = state
            .blob_status(&blob_id)
            .expect("index entry for a live blob");
        assert_eq!(info.objects.iter().copied().collect::<Vec<_>>(), {
            let mut v = ids;
            v.sort();
            v
        });
        assert_eq!(
            (info.registered_permanent + info.registered_deletable) as usize,
            info.objects.len()
        );
        let blobs: Vec<_> = info
            .objects
            .iter()
            .map(|id| state.object(id).and_then(Object::as_blob).unwrap())
            .collect();
        let certified = |deletable: bool| {
            blobs
                .iter()
                .filter(|b| b.deletable == deletable && b.is_certified())
                .count() as u32
        };
        assert_eq!(
            (info.certified_permanent, info.certified_deletable),
            (certified(false), certified(true))
        );
        assert_eq!(
            info.max_certified_end_epoch,
            blobs
                .iter()
                .filter(|b| b.is_certified())
                .map(|b| b.end_epoch)
                .max()
        );
    }
}

/// The signers among `wanted` that are members of the current committee: a sequence may shrink
/// the committee (nodes leave), and a certificate then carries less weight, which the ledger
/// must refuse like any other weak certificate.
fn members_of(net: &Net, wanted: &[usize]) -> Vec<usize> {
    let n = net.state.committee().members().len();
    wanted.iter().copied().filter(|&i| i < n).collect()
}

/// Executes `kind` from `user` and checks what a refusal cost: nothing at admission, the fee
/// and the nonce in execution. The effects of a success.
fn run(net: &mut Net, user: usize, kind: TxKind) -> Result<Option<Effects>, TestCaseError> {
    let before = net.state.clone();
    let digest = before.digest();
    let key = user_key(user);
    let sender = addr(&key);
    let (nonce, balance) = (net.nonce(&sender), net.balance(&sender));
    match net.exec_full(&key, nonce, MIN_FEE, kind) {
        Ok(fx) => return Ok(Some(fx)),
        // Refused by an admission check: nothing changed.
        Err(TxFailure {
            fee_charged: None, ..
        }) => {
            prop_assert!(net.state == before);
            prop_assert_eq!(net.state.digest(), digest);
        }
        // Failed in execution: the fee is paid and the nonce consumed.
        Err(TxFailure {
            fee_charged: Some(fee),
            ..
        }) => {
            prop_assert_eq!(fee, MIN_FEE.min(balance));
            prop_assert_eq!(net.nonce(&sender), nonce + 1);
            prop_assert_eq!(net.balance(&sender), Frost(balance.0 - fee.0));
        }
    }
    Ok(None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_conserve_supply_and_replay(ops in proptest::collection::vec(op(), 1..60)) {
        let mut net = Net::new();
        let mut store: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut persist = |net: &mut Net| {
            for (k, v) in net.state.take_changes() {
                match v {
                    Some(v) => store.insert(k, v),
                    None => store.remove(&k),
                };
            }
            let rebuilt = State::from_entries(store.clone()).unwrap();
            assert!(rebuilt == net.state, "store diverged from state");
            assert!(rebuilt.owner_index_is_consistent());
        };
        persist(&mut net);
        for op in &ops {
            match op {
                Op::Advance(ms) => {
                    net.time_ms += ms;
                    net.height += 1;
                    let ctx = net.ctx();
                    net.state.begin_block(&ctx);
                }
                Op::BadNonce(a, d) => {
                    let k = user_key(*a);
                    let n = net.nonce(&addr(&k)) + d;
                    let before = net.state.clone();
                    let r = net.exec_raw(&k, n, MIN_FEE, TxKind::Faucet { amount: Frost(1) });
                    prop_assert_eq!(r.unwrap_err().code(), "nonce_too_high");
                    prop_assert!(net.state == before);
                }
                Op::Store(a, salt, deletable, epochs) => {
                    // Reserve, register and certify: three transactions, each checked.
                    let storage = run(&mut net, *a, TxKind::ReserveSpace {
                        encoded_size: MIB,
                        epochs_ahead: *epochs,
                    })?;
                    let Some(storage) = storage.and_then(|fx| fx.created.first().copied()) else {
                        continue;
                    };
                    let register = Net::register_kind(storage, 1000, *salt, *deletable);
                    let Some(fx) = run(&mut net, *a, register)? else { continue };
                    let object = fx.created[0];
                    let (blob_id, _) = blob_fixture(1000, *salt);
                    let persistence = if *deletable {
                        BlobPersistence::Deletable(object)
                    } else {
                        BlobPersistence::Permanent
                    };
                    let signers = members_of(&net, &QUORUM);
                    let certificate = net.confirmation(blob_id, persistence, &signers);
                    run(&mut net, *a, TxKind::CertifyBlob { blob_object: object, certificate })?;
                }
                _ => {
                    let Some((user, kind)) = kind_of(&net, op) else { continue };
                    run(&mut net, user, kind)?;
                }
            }
            prop_assert_eq!(net.state.check_supply(), Ok(()));
            check_blob_index(&net.state);
            prop_assert!(net.state.owner_index_is_consistent());
            persist(&mut net);
        }
    }
}
