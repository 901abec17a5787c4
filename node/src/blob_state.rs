//! The node's per-blob view of the ledger, built only from ledger events.
//!
//! [`apply_event`] is a pure fold: the follower ([`crate::follower`]) runs it over the events of
//! each verified block and stores the results. The counts mirror the ledger's own blob-id
//! status: registered and certified blob objects that were not deleted or burned, split by
//! persistence.
//! Expiry is not an event; readers compare [`BlobState::end_epoch`] with the current epoch.

use std::collections::BTreeMap;

use floe_common::{BlobId, Epoch, ObjectId};
use floe_ledger_types::Event;
use serde::{Deserialize, Serialize};

/// What the node knows about one blob id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobState {
    /// Registered (not deleted) deletable blob objects.
    pub registered_deletable: u32,
    /// Registered permanent blob objects (these cannot be deleted).
    pub registered_permanent: u32,
    /// Certified (not deleted) deletable blob objects.
    pub certified_deletable: u32,
    /// Certified permanent blob objects.
    pub certified_permanent: u32,
    /// The latest end epoch (exclusive) over the live registrations.
    pub end_epoch: Epoch,
    /// The latest end epoch over the permanent registrations.
    pub permanent_end_epoch: Epoch,
    /// The first epoch in which any blob object of this id was certified.
    pub certified_epoch: Option<Epoch>,
    /// The blob id was invalidated: its data is to be dropped.
    pub invalid: bool,
    /// The live deletable blob objects and their end epochs.
    pub deletable: BTreeMap<ObjectId, Epoch>,
}

impl BlobState {
    /// Whether any blob object of this id is certified (and not deleted).
    pub fn is_certified(&self) -> bool {
        self.certified_deletable + self.certified_permanent > 0
    }

    /// Whether nothing is left to remember (no live registration, not invalid).
    fn is_empty(&self) -> bool {
        self.registered_deletable == 0 && self.registered_permanent == 0 && !self.invalid
    }

    /// Records a live blob object (deletable: its own end epoch; permanent: the max) and
    /// recomputes the end epoch.
    fn track_object(&mut self, object_id: ObjectId, end_epoch: Epoch, deletable: bool) {
        if deletable {
            self.deletable.insert(object_id, end_epoch);
        } else {
            self.permanent_end_epoch = self.permanent_end_epoch.max(end_epoch);
        }
        self.recompute_end_epoch();
    }

    fn recompute_end_epoch(&mut self) {
        self.end_epoch = self
            .deletable
            .values()
            .copied()
            .fold(self.permanent_end_epoch, Epoch::max);
    }
}

/// The blob id an event is about, if it is a blob event.
pub fn event_blob_id(event: &Event) -> Option<BlobId> {
    match event {
        Event::BlobRegistered { blob_id, .. }
        | Event::BlobCertified { blob_id, .. }
        | Event::BlobExtended { blob_id, .. }
        | Event::BlobDeleted { blob_id, .. }
        | Event::BlobBurned { blob_id, .. }
        | Event::BlobInvalidated { blob_id, .. } => Some(*blob_id),
        _ => None,
    }
}

/// The state of a blob id after `event` (the caller passes the state of the event's blob id;
/// events about other things leave it unchanged). `None` means nothing is known (never
/// registered, or every deletable registration was deleted).
pub fn apply_event(state: Option<BlobState>, event: &Event) -> Option<BlobState> {
    match event {
        Event::BlobRegistered {
            object_id,
            end_epoch,
            deletable,
            ..
        } => {
            let mut s = state.unwrap_or_default();
            if *deletable {
                s.registered_deletable = s.registered_deletable.saturating_add(1);
            } else {
                s.registered_permanent = s.registered_permanent.saturating_add(1);
            }
            s.track_object(*object_id, *end_epoch, *deletable);
            Some(s)
        }
        Event::BlobCertified {
            object_id,
            end_epoch,
            deletable,
            epoch,
            ..
        } => {
            let mut s = state.unwrap_or_default();
            if *deletable {
                s.certified_deletable = s.certified_deletable.saturating_add(1);
            } else {
                s.certified_permanent = s.certified_permanent.saturating_add(1);
            }
            s.certified_epoch = Some(s.certified_epoch.map_or(*epoch, |e| e.min(*epoch)));
            s.track_object(*object_id, *end_epoch, *deletable);
            Some(s)
        }
        Event::BlobExtended {
            object_id,
            end_epoch,
            deletable,
            ..
        } => {
            let mut s = state.unwrap_or_default();
            s.track_object(*object_id, *end_epoch, *deletable);
            Some(s)
        }
        Event::BlobDeleted {
            object_id,
            was_certified,
            ..
        } => {
            let mut s = state?;
            if s.deletable.remove(object_id).is_some() {
                s.registered_deletable = s.registered_deletable.saturating_sub(1);
                if *was_certified {
                    s.certified_deletable = s.certified_deletable.saturating_sub(1);
                }
            }
            if !s.is_certified() {
                s.certified_epoch = None;
            }
            s.recompute_end_epoch();
            (!s.is_empty()).then_some(s)
        }
        // An expired (or invalidated) blob object removed by its owner: it no longer counts.
        Event::BlobBurned {
            object_id,
            deletable,
            was_certified,
            ..
        } => {
            let mut s = state?;
            if *deletable {
                if s.deletable.remove(object_id).is_some() {
                    s.registered_deletable = s.registered_deletable.saturating_sub(1);
                    if *was_certified {
                        s.certified_deletable = s.certified_deletable.saturating_sub(1);
                    }
                }
            } else {
                s.registered_permanent = s.registered_permanent.saturating_sub(1);
                if *was_certified {
                    s.certified_permanent = s.certified_permanent.saturating_sub(1);
                }
            }
            if !s.is_certified() {
                s.certified_epoch = None;
            }
            s.recompute_end_epoch();
            (!s.is_empty()).then_some(s)
        }
        Event::BlobInvalidated { .. } => {
            let mut s = state.unwrap_or_default();
            s.invalid = true;
            Some(s)
        }
        _ => state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOB: BlobId = BlobId([9; 32]);

    fn obj(i: u8) -> ObjectId {
        ObjectId([i; 32])
    }

    fn registered(o: u8, end: u32, deletable: bool) -> Event {
        Event::BlobRegistered {
            blob_id: BLOB,
            object_id: obj(o),
            epoch: Epoch(0),
            end_epoch: Epoch(end),
            deletable,
            size: 1000,
            encoding_type: floe_common::EncodingType::RedStuffRs2,
        }
    }

    fn certified(o: u8, end: u32, deletable: bool, epoch: u32) -> Event {
        Event::BlobCertified {
            blob_id: BLOB,
            object_id: obj(o),
            end_epoch: Epoch(end),
            deletable,
            epoch: Epoch(epoch),
        }
    }

    fn deleted(o: u8, end: u32, was_certified: bool) -> Event {
        Event::BlobDeleted {
            blob_id: BLOB,
            object_id: obj(o),
            end_epoch: Epoch(end),
            was_certified,
            epoch: Epoch(1),
        }
    }

    fn fold(events: &[Event]) -> Option<BlobState> {
        events.iter().fold(None, apply_event)
    }

    #[test]
    fn register_then_certify_permanent() {
        let s = fold(&[registered(1, 5, false)]).unwrap();
        assert_eq!((s.registered_permanent, s.certified_permanent), (1, 0));
        assert_eq!(s.end_epoch, Epoch(5));
        assert!(!s.is_certified() && s.certified_epoch.is_none());
        let s = apply_event(Some(s), &certified(1, 5, false, 2)).unwrap();
        assert_eq!(s.certified_permanent, 1);
        assert_eq!(s.certified_epoch, Some(Epoch(2)));
        // A second certification keeps the first epoch; end epoch is the max.
        let s = fold(&[
            registered(1, 5, false),
            certified(1, 5, false, 2),
            registered(2, 9, false),
            certified(2, 9, false, 4),
        ])
        .unwrap();
        assert_eq!(s.certified_epoch, Some(Epoch(2)));
        assert_eq!(s.end_epoch, Epoch(9));
        assert_eq!((s.registered_permanent, s.certified_permanent), (2, 2));
    }

    #[test]
    fn extension_moves_end_epoch() {
        let s = fold(&[
            registered(1, 5, true),
            certified(1, 5, true, 0),
            Event::BlobExtended {
                blob_id: BLOB,
                object_id: obj(1),
                end_epoch: Epoch(8),
                deletable: true,
            },
        ])
        .unwrap();
        assert_eq!(s.end_epoch, Epoch(8));
        assert_eq!(s.deletable.get(&obj(1)), Some(&Epoch(8)));
    }

    #[test]
    fn burns_forget_expired_objects() {
        let burned = |o: u8, end: u32, deletable: bool| Event::BlobBurned {
            blob_id: BLOB,
            object_id: obj(o),
            end_epoch: Epoch(end),
            deletable,
            was_certified: true,
            epoch: Epoch(6),
        };
        let s = fold(&[
            registered(1, 3, false),
            certified(1, 3, false, 0),
            registered(2, 5, true),
            certified(2, 5, true, 1),
        ])
        .unwrap();
        let s = apply_event(Some(s), &burned(1, 3, false)).unwrap();
        assert_eq!((s.registered_permanent, s.certified_permanent), (0, 0));
        assert_eq!((s.registered_deletable, s.certified_deletable), (1, 1));
        // The last object burned: nothing is left to remember.
        assert_eq!(apply_event(Some(s), &burned(2, 5, true)), None);
        // An invalidated blob id is remembered without objects.
        let s = fold(&[
            registered(1, 9, false),
            Event::BlobInvalidated {
                blob_id: BLOB,
                epoch: Epoch(1),
            },
        ]);
        let s = apply_event(s, &burned(1, 9, false)).unwrap();
        assert!(s.invalid && s.registered_permanent == 0);
    }

    #[test]
    fn deletion_recomputes_and_forgets() {
        let s = fold(&[
            registered(1, 9, true),
            certified(1, 9, true, 1),
            registered(2, 4, true),
        ])
        .unwrap();
        assert_eq!((s.registered_deletable, s.certified_deletable), (2, 1));
        assert_eq!(s.end_epoch, Epoch(9));
        let s = apply_event(Some(s), &deleted(1, 9, true)).unwrap();
        assert_eq!((s.registered_deletable, s.certified_deletable), (1, 0));
        assert_eq!(s.end_epoch, Epoch(4));
        assert_eq!(s.certified_epoch, None);
        assert!(s.deletable.contains_key(&obj(2)) && !s.deletable.contains_key(&obj(1)));
        // The last registration deleted: nothing is left.
        assert_eq!(apply_event(Some(s), &deleted(2, 4, false)), None);
        // Deleting an unknown blob is a no-op.
        assert_eq!(apply_event(None, &deleted(3, 4, false)), None);
    }

    #[test]
    fn invalidation_sticks() {
        let inv = Event::BlobInvalidated {
            blob_id: BLOB,
            epoch: Epoch(1),
        };
        let s = fold(&[registered(1, 5, true), inv.clone()]).unwrap();
        assert!(s.invalid);
        // Kept even when the last registration goes.
        let s = apply_event(Some(s), &deleted(1, 5, false)).unwrap();
        assert!(s.invalid && s.registered_deletable == 0);
        assert!(apply_event(None, &inv).unwrap().invalid);
    }

    #[test]
    fn other_events_leave_state_alone() {
        let s = fold(&[registered(1, 5, false)]);
        let ev = Event::Minted {
            to: floe_ledger_types::Address::of(&floe_common::KeyPair::from_seed([1; 32]).public()),
            amount: floe_common::Frost(5),
        };
        assert_eq!(apply_event(s.clone(), &ev), s);
        assert_eq!(event_blob_id(&ev), None);
        assert_eq!(event_blob_id(&registered(1, 5, false)), Some(BLOB));
    }
}
