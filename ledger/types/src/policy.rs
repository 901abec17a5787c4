//! Access policies for private blobs: who may obtain the key of an encrypted blob.
//!
//! A private blob is encrypted on the client to an identity that names a policy object on the
//! ledger. A key server releases its share of the identity's key only when the policy, read
//! from the key server's own copy of the ledger, allows the requester ([`evaluate`]). Policies
//! are ledger objects created and changed by transactions, so changing one changes who gets
//! keys from the next block on. A key already released cannot be taken back: a reader who once
//! had access keeps the plaintext it read (as with any encryption scheme).
//!
//! Rules ([`PolicyRule`]):
//!
//! - `Owner`: only the policy's owner.
//! - `Allowlist`: the owner and the listed addresses; the owner adds and removes members
//!   ([`crate::TxKind::UpdateAllowlist`]), at most [`MAX_ALLOWLIST`].
//! - `Timelock`: anyone, once the ledger's epoch or block time reached the unlock point. Not
//!   even the owner reads earlier (a time capsule); compose with `Or` to let the owner in.
//! - `Paid`: the owner, and every reader who paid `price` to the owner
//!   ([`crate::TxKind::PayForAccess`]); one payment gives access for `epochs` epochs, from the
//!   current one (or from the end of a running access). The payment is recorded in an
//!   [`AccessObject`] at [`access_object_id`], owned by the reader.
//! - `And` / `Or`: both, or either, of two existing policies. The operands must exist when the
//!   composition is created, so compositions form a DAG; its depth is at most
//!   [`MAX_POLICY_DEPTH`], which bounds an evaluation to `2^depth` leaves.
//!
//! Time is the ledger's: the current epoch and the latest block's timestamp, the same for
//! every honest key server at the same height (a key server's own clock plays no part).

use std::collections::BTreeSet;

use floe_common::{Epoch, Frost, ObjectId};
use serde::{Deserialize, Serialize};

use crate::objects::Object;
use crate::tx::Address;

/// Most members of an allowlist.
pub const MAX_ALLOWLIST: usize = 1024;
/// Deepest composition of policies (a leaf has depth 1).
pub const MAX_POLICY_DEPTH: u8 = 8;

/// When a time-locked policy opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlock {
    /// From this epoch on.
    Epoch(Epoch),
    /// From the first block whose timestamp (ms since the Unix epoch) is at least this.
    TimeMs(u64),
}

impl std::fmt::Display for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unlock::Epoch(e) => write!(f, "epoch {e}"),
            Unlock::TimeMs(ms) => write!(f, "block time {ms} ms"),
        }
    }
}

/// Who may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyRule {
    /// Only the owner.
    Owner,
    /// The owner and the members.
    Allowlist {
        /// Allowed readers besides the owner.
        members: BTreeSet<Address>,
    },
    /// Anyone, from the unlock point on.
    Timelock {
        /// When.
        unlock: Unlock,
    },
    /// The owner, and readers who paid `price` for `epochs` epochs of access.
    Paid {
        /// WAL (in FROST) a reader pays the owner per purchase (more than zero).
        price: Frost,
        /// Epochs of access one purchase gives (1..=`max_epochs_ahead`).
        epochs: u32,
    },
    /// Both policies allow.
    And {
        /// A policy.
        left: ObjectId,
        /// Another policy.
        right: ObjectId,
    },
    /// Either policy allows.
    Or {
        /// A policy.
        left: ObjectId,
        /// Another policy.
        right: ObjectId,
    },
}

impl PolicyRule {
    /// The rule's kind: `owner`, `allowlist`, `timelock`, `paid`, `and`, `or`.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyRule::Owner => "owner",
            PolicyRule::Allowlist { .. } => "allowlist",
            PolicyRule::Timelock { .. } => "timelock",
            PolicyRule::Paid { .. } => "paid",
            PolicyRule::And { .. } => "and",
            PolicyRule::Or { .. } => "or",
        }
    }

    /// The policies a composition refers to.
    pub fn operands(&self) -> Option<(ObjectId, ObjectId)> {
        match self {
            PolicyRule::And { left, right } | PolicyRule::Or { left, right } => {
                Some((*left, *right))
            }
            _ => None,
        }
    }
}

/// A policy on the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyObject {
    /// Owner: edits an allowlist, is paid by readers, and reads under `Owner`, `Allowlist`
    /// and `Paid`.
    pub owner: Address,
    /// The rule.
    pub rule: PolicyRule,
    /// 1 for a leaf, 1 + the deeper operand's for a composition.
    pub depth: u8,
    /// 0 when created, +1 per change.
    pub version: u64,
    /// Epoch of creation.
    pub created_epoch: Epoch,
}

/// Paid access of one reader to one `Paid` policy, at [`access_object_id`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessObject {
    /// The policy.
    pub policy: ObjectId,
    /// The reader (and owner of this object).
    pub reader: Address,
    /// The first epoch without access.
    pub until: Epoch,
}

/// The object id of `reader`'s paid access to `policy`:
/// `BLAKE3("floe/access/v1" ‖ policy ‖ reader)`, looked up without an index.
pub fn access_object_id(policy: &ObjectId, reader: &Address) -> ObjectId {
    let mut h = blake3::Hasher::new();
    h.update(b"floe/access/v1");
    h.update(&policy.0);
    h.update(&reader.0);
    ObjectId(*h.finalize().as_bytes())
}

/// The ledger's clock for an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerClock {
    /// Current epoch.
    pub epoch: Epoch,
    /// Timestamp of the latest block (ms since the Unix epoch).
    pub time_ms: u64,
}

/// Why a policy does not allow a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Denial {
    /// No such object.
    #[error("policy {policy} does not exist")]
    UnknownPolicy {
        /// The id asked for.
        policy: ObjectId,
    },
    /// The object is not a policy.
    #[error("object {policy} is a {found}, not a policy")]
    NotAPolicy {
        /// The id asked for.
        policy: ObjectId,
        /// Its type.
        found: String,
    },
    /// An `Owner` policy and another reader.
    #[error("policy {policy} allows only its owner {owner}")]
    NotOwner {
        /// The policy.
        policy: ObjectId,
        /// Its owner.
        owner: Address,
    },
    /// Not on the allowlist.
    #[error("{reader} is not on the allowlist of policy {policy}")]
    NotListed {
        /// The policy.
        policy: ObjectId,
        /// The reader.
        reader: Address,
    },
    /// A time lock not yet open.
    #[error("policy {policy} opens at {unlock}")]
    Locked {
        /// The policy.
        policy: ObjectId,
        /// When it opens.
        unlock: Unlock,
    },
    /// No paid access (never paid, or it ended).
    #[error("{reader} has no paid access to policy {policy}{}", ended_text(*.ended))]
    NotPaid {
        /// The policy.
        policy: ObjectId,
        /// The reader.
        reader: Address,
        /// The first epoch without access, if the reader paid once.
        ended: Option<Epoch>,
        /// What access costs.
        price: Frost,
    },
    /// One side of an `And` refuses.
    #[error("policy {policy} needs both of its policies: {inner}")]
    AndRefused {
        /// The composition.
        policy: ObjectId,
        /// Why the refusing side refuses.
        inner: Box<Denial>,
    },
    /// Neither side of an `Or` allows.
    #[error("policy {policy} needs one of its policies: {left}; and {right}")]
    OrRefused {
        /// The composition.
        policy: ObjectId,
        /// Why the left side refuses.
        left: Box<Denial>,
        /// Why the right side refuses.
        right: Box<Denial>,
    },
}

fn ended_text(ended: Option<Epoch>) -> String {
    match ended {
        Some(e) => format!(" (it ended at epoch {e})"),
        None => String::new(),
    }
}

/// Whether `policy` allows `reader` at `clock`, reading objects through `lookup`.
///
/// Pure and bounded: a composition is at most [`MAX_POLICY_DEPTH`] deep (checked when it
/// was created; a deeper chain found here is refused rather than followed).
pub fn evaluate(
    policy: &ObjectId,
    reader: &Address,
    clock: LedgerClock,
    lookup: &dyn Fn(&ObjectId) -> Option<Object>,
) -> Result<(), Denial> {
    eval_at(policy, reader, clock, lookup, MAX_POLICY_DEPTH)
}

fn eval_at(
    policy: &ObjectId,
    reader: &Address,
    clock: LedgerClock,
    lookup: &dyn Fn(&ObjectId) -> Option<Object>,
    budget: u8,
) -> Result<(), Denial> {
    let p = match lookup(policy) {
        Some(Object::Policy(p)) => p,
        Some(other) => {
            return Err(Denial::NotAPolicy {
                policy: *policy,
                found: other.type_name().to_owned(),
            });
        }
        None => return Err(Denial::UnknownPolicy { policy: *policy }),
    };
    let id = *policy;
    match &p.rule {
        PolicyRule::Owner if *reader == p.owner => Ok(()),
        PolicyRule::Owner => Err(Denial::NotOwner {
            policy: id,
            owner: p.owner,
        }),
        PolicyRule::Allowlist { members } if *reader == p.owner || members.contains(reader) => {
            Ok(())
        }
        PolicyRule::Allowlist { .. } => Err(Denial::NotListed {
            policy: id,
            reader: *reader,
        }),
        PolicyRule::Timelock { unlock } => {
            let open = match unlock {
                Unlock::Epoch(e) => clock.epoch >= *e,
                Unlock::TimeMs(ms) => clock.time_ms >= *ms,
            };
            if open {
                Ok(())
            } else {
                Err(Denial::Locked {
                    policy: id,
                    unlock: *unlock,
                })
            }
        }
        PolicyRule::Paid { price, .. } => {
            if *reader == p.owner {
                return Ok(());
            }
            let ended = match lookup(&access_object_id(policy, reader)) {
                Some(Object::Access(a)) if a.policy == id && a.reader == *reader => {
                    if a.until > clock.epoch {
                        return Ok(());
                    }
                    Some(a.until)
                }
                _ => None,
            };
            Err(Denial::NotPaid {
                policy: id,
                reader: *reader,
                ended,
                price: *price,
            })
        }
        PolicyRule::And { left, right } | PolicyRule::Or { left, right } => {
            let budget = budget
                .checked_sub(1)
                .filter(|b| *b > 0)
                .ok_or(Denial::NotAPolicy {
                    policy: id,
                    found: "policy composed too deeply".into(),
                })?;
            let l = eval_at(left, reader, clock, lookup, budget);
            if matches!(p.rule, PolicyRule::And { .. }) {
                let inner = match l {
                    Ok(()) => eval_at(right, reader, clock, lookup, budget),
                    Err(e) => Err(e),
                };
                inner.map_err(|e| Denial::AndRefused {
                    policy: id,
                    inner: Box::new(e),
                })
            } else {
                let Err(l) = l else { return Ok(()) };
                eval_at(right, reader, clock, lookup, budget).map_err(|r| Denial::OrRefused {
                    policy: id,
                    left: Box::new(l),
                    right: Box::new(r),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn addr(b: u8) -> Address {
        Address([b; 32])
    }

    fn pol(owner: u8, rule: PolicyRule) -> Object {
        Object::Policy(PolicyObject {
            owner: addr(owner),
            rule,
            depth: 1,
            version: 0,
            created_epoch: Epoch(0),
        })
    }

    const CLOCK: LedgerClock = LedgerClock {
        epoch: Epoch(5),
        time_ms: 1_000,
    };

    #[test]
    fn leaves_and_compositions() {
        let mut objects = BTreeMap::new();
        let (owner, list, lock, paid) = (
            ObjectId([1; 32]),
            ObjectId([2; 32]),
            ObjectId([3; 32]),
            ObjectId([4; 32]),
        );
        objects.insert(owner, pol(1, PolicyRule::Owner));
        objects.insert(
            list,
            pol(
                1,
                PolicyRule::Allowlist {
                    members: [addr(2)].into(),
                },
            ),
        );
        objects.insert(
            lock,
            pol(
                1,
                PolicyRule::Timelock {
                    unlock: Unlock::Epoch(Epoch(6)),
                },
            ),
        );
        objects.insert(
            paid,
            pol(
                1,
                PolicyRule::Paid {
                    price: Frost(10),
                    epochs: 2,
                },
            ),
        );
        objects.insert(
            access_object_id(&paid, &addr(3)),
            Object::Access(AccessObject {
                policy: paid,
                reader: addr(3),
                until: Epoch(6),
            }),
        );
        objects.insert(
            access_object_id(&paid, &addr(4)),
            Object::Access(AccessObject {
                policy: paid,
                reader: addr(4),
                until: Epoch(5),
            }),
        );
        let and = ObjectId([5; 32]);
        let or = ObjectId([6; 32]);
        objects.insert(
            and,
            pol(
                1,
                PolicyRule::And {
                    left: list,
                    right: paid,
                },
            ),
        );
        objects.insert(
            or,
            pol(
                1,
                PolicyRule::Or {
                    left: owner,
                    right: lock,
                },
            ),
        );
        let lookup = |id: &ObjectId| objects.get(id).cloned();
        let eval = |p: &ObjectId, r: u8, clock| evaluate(p, &addr(r), clock, &lookup);
        assert_eq!(eval(&owner, 1, CLOCK), Ok(()));
        assert!(matches!(
            eval(&owner, 2, CLOCK),
            Err(Denial::NotOwner { .. })
        ));
        assert_eq!(eval(&list, 1, CLOCK), Ok(()));
        assert_eq!(eval(&list, 2, CLOCK), Ok(()));
        assert!(matches!(
            eval(&list, 3, CLOCK),
            Err(Denial::NotListed { .. })
        ));
        assert!(matches!(eval(&lock, 1, CLOCK), Err(Denial::Locked { .. })));
        let later = LedgerClock {
            epoch: Epoch(6),
            ..CLOCK
        };
        assert_eq!(eval(&lock, 9, later), Ok(()));
        assert_eq!(eval(&paid, 3, CLOCK), Ok(()));
        assert!(matches!(
            eval(&paid, 3, later),
            Err(Denial::NotPaid {
                ended: Some(Epoch(6)),
                ..
            })
        ));
        assert!(matches!(
            eval(&paid, 4, CLOCK),
            Err(Denial::NotPaid {
                ended: Some(Epoch(5)),
                ..
            })
        ));
        assert!(matches!(
            eval(&paid, 2, CLOCK),
            Err(Denial::NotPaid { ended: None, .. })
        ));
        assert_eq!(eval(&paid, 1, CLOCK), Ok(()));
        // And: listed (2) but unpaid; paid (3) but unlisted; the owner passes both.
        assert!(matches!(
            eval(&and, 2, CLOCK),
            Err(Denial::AndRefused { .. })
        ));
        assert!(matches!(
            eval(&and, 3, CLOCK),
            Err(Denial::AndRefused { .. })
        ));
        assert_eq!(eval(&and, 1, CLOCK), Ok(()));
        // Or: the owner always, anyone once unlocked.
        assert_eq!(eval(&or, 1, CLOCK), Ok(()));
        let denied = eval(&or, 2, CLOCK).unwrap_err();
        assert!(matches!(denied, Denial::OrRefused { .. }));
        assert!(denied.to_string().contains("opens at epoch 6"), "{denied}");
        assert_eq!(eval(&or, 2, later), Ok(()));
        assert!(matches!(
            eval(&ObjectId([9; 32]), 1, CLOCK),
            Err(Denial::UnknownPolicy { .. })
        ));
    }

    #[test]
    fn a_cycle_planted_in_storage_ends_in_a_refusal() {
        // Transactions cannot build a cycle (operands exist first); an evaluation still ends.
        let a = ObjectId([1; 32]);
        let objects: BTreeMap<ObjectId, Object> =
            [(a, pol(1, PolicyRule::And { left: a, right: a }))].into();
        let lookup = |id: &ObjectId| objects.get(id).cloned();
        assert!(evaluate(&a, &addr(1), CLOCK, &lookup).is_err());
    }
}
