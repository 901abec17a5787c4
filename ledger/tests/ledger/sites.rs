//! Sites and names: creation, updates and deletion by the owner only, typed refusals for
//! invalid records, names claimed first come first served, paid into the reward escrow,
//! renewed, transferred, pointed, and free again once expired.

use std::collections::BTreeMap;

use floe_common::quilt::QuiltPatchId;
use floe_common::site::{Redirect, SiteChanges, SiteRecord, SiteResource};
use floe_common::{BlobId, Digest, Epoch, Frost, ObjectId};
use floe_ledger::{Event, Object, TxKind, name_object_id};

use crate::support::*;

fn resource(i: u8) -> SiteResource {
    SiteResource {
        patch: QuiltPatchId {
            quilt_id: BlobId([i; 32]),
            start_symbol: 1,
            end_symbol: 2,
        },
        content_type: "text/html".into(),
        size: 100,
        hash: Digest([i; 32]),
        headers: BTreeMap::new(),
    }
}

fn record() -> SiteRecord {
    let mut r = SiteRecord::default();
    r.resources.insert("/index.html".into(), resource(1));
    r.resources.insert("/404.html".into(), resource(2));
    r.routes.insert("/*".into(), "/index.html".into());
    r.not_found = Some("/404.html".into());
    r
}

fn site_of(net: &Net, id: &ObjectId) -> floe_ledger::SiteObject {
    match net.state.object(id) {
        Some(Object::Site(s)) => s.clone(),
        other => panic!("not a site: {other:?}"),
    }
}

fn name_of(net: &Net, name: &str) -> floe_ledger::NameObject {
    match net.state.object(&name_object_id(name)) {
        Some(Object::Name(n)) => n.clone(),
        other => panic!("not a name: {other:?}"),
    }
}

fn create(net: &mut Net, user: usize) -> ObjectId {
    let fx = net
        .exec(user, TxKind::CreateSite { record: record() })
        .unwrap();
    fx.created[0]
}

#[test]
fn sites_are_created_updated_and_deleted_by_their_owner() {
    let mut net = Net::new();
    let site = create(&mut net, 0);
    let s = site_of(&net, &site);
    assert_eq!(
        (s.owner, s.version, s.record),
        (addr(&user_key(0)), 0, record())
    );
    // One transaction carries only the change.
    let changes = SiteChanges {
        put: BTreeMap::from([("/about.html".into(), resource(3))]),
        remove: ["/404.html".to_owned()].into(),
        not_found: Some(None),
        ..SiteChanges::default()
    };
    let fx = net
        .exec(
            0,
            TxKind::UpdateSite {
                site,
                changes: changes.clone(),
            },
        )
        .unwrap();
    assert_eq!(fx.events, vec![Event::SiteUpdated { site, version: 1 }]);
    let s = site_of(&net, &site);
    assert!(s.record.resources.contains_key("/about.html"));
    assert!(!s.record.resources.contains_key("/404.html"));
    // Someone else can neither change nor delete it.
    net.reject(1, TxKind::UpdateSite { site, changes }, "not_owner");
    net.reject(1, TxKind::DeleteSite { site }, "not_owner");
    let fx = net.exec(0, TxKind::DeleteSite { site }).unwrap();
    assert_eq!(fx.deleted, vec![site]);
    assert!(net.state.object(&site).is_none());
    net.reject(0, TxKind::DeleteSite { site }, "unknown_object");
}

#[test]
fn adv_invalid_sites_are_refused() {
    let mut net = Net::new();
    let mut looping = record();
    for (from, to) in [("/a", "/b"), ("/b", "/a")] {
        looping.redirects.insert(
            from.into(),
            Redirect {
                to: to.into(),
                status: 301,
            },
        );
    }
    let e = net.reject(0, TxKind::CreateSite { record: looping }, "invalid_site");
    assert!(e.to_string().contains("loop"), "{e}");
    let mut traversal = record();
    traversal
        .resources
        .insert("/../etc/passwd".into(), resource(4));
    net.reject(0, TxKind::CreateSite { record: traversal }, "invalid_site");
    // An update that would break the site (a route to a removed file) changes nothing.
    let site = create(&mut net, 0);
    let breaking = SiteChanges {
        remove: ["/index.html".to_owned()].into(),
        ..SiteChanges::default()
    };
    net.reject(
        0,
        TxKind::UpdateSite {
            site,
            changes: breaking,
        },
        "invalid_site",
    );
    assert_eq!(site_of(&net, &site).record, record());
    assert_eq!(site_of(&net, &site).version, 0);
    // A site id that is another object.
    let storage = net.reserve(0, MIB, 2);
    net.reject(0, TxKind::DeleteSite { site: storage }, "wrong_object_type");
}

#[test]
fn names_are_claimed_first_come_and_paid_into_the_escrow() {
    let mut net = Net::new();
    let site = create(&mut net, 0);
    let price = net.state.system().params.name_price_per_epoch;
    let a = addr(&user_key(0));
    let (before, escrow) = (net.balance(&a), net.state.system().escrow_total());
    let fx = net
        .exec(
            0,
            TxKind::ClaimName {
                name: "my-site".into(),
                epochs: 3,
                site: Some(site),
            },
        )
        .unwrap();
    let cost = Frost(price.0 * 3);
    assert_eq!(
        fx.events,
        vec![Event::NameClaimed {
            name: "my-site".into(),
            owner: a,
            site: Some(site),
            expires: Epoch(3),
            cost,
        }]
    );
    assert_eq!(fx.created, vec![name_object_id("my-site")]);
    assert_eq!(net.balance(&a), Frost(before.0 - cost.0 - MIN_FEE.0));
    assert_eq!(net.state.system().escrow_total(), Frost(escrow.0 + cost.0));
    // Taken: nobody else gets it, not even its owner a second time.
    let e = net.reject(
        1,
        TxKind::ClaimName {
            name: "my-site".into(),
            epochs: 1,
            site: None,
        },
        "name_taken",
    );
    assert!(e.to_string().contains("epoch 3"), "{e}");
    // Not hostname labels.
    for bad in ["My-Site", "a.b", "-x", "", "x_y", &"n".repeat(41)] {
        net.reject(
            1,
            TxKind::ClaimName {
                name: bad.into(),
                epochs: 1,
                site: None,
            },
            "invalid_name",
        );
    }
    // Epochs out of range, and a site that does not exist.
    for epochs in [0, MAX_AHEAD + 1] {
        net.reject(
            1,
            TxKind::ClaimName {
                name: "other".into(),
                epochs,
                site: None,
            },
            "epochs_out_of_range",
        );
    }
    net.reject(
        1,
        TxKind::ClaimName {
            name: "other".into(),
            epochs: 1,
            site: Some(ObjectId([9; 32])),
        },
        "unknown_object",
    );
}

#[test]
fn names_are_renewed_transferred_pointed_and_freed_when_expired() {
    let mut net = Net::new();
    let site = create(&mut net, 0);
    let claim = |epochs| TxKind::ClaimName {
        name: "blog".into(),
        epochs,
        site: None,
    };
    net.exec(0, claim(2)).unwrap();
    // Only the owner renews, transfers or points it.
    let renew = |epochs| TxKind::RenewName {
        name: "blog".into(),
        epochs,
    };
    net.reject(1, renew(1), "not_owner");
    net.exec(0, renew(3)).unwrap();
    assert_eq!(name_of(&net, "blog").expires, Epoch(5));
    net.reject(0, renew(MAX_AHEAD), "epochs_out_of_range");
    let point = |site| TxKind::SetNameSite {
        name: "blog".into(),
        site,
    };
    net.reject(1, point(Some(site)), "not_owner");
    net.exec(0, point(Some(site))).unwrap();
    assert_eq!(name_of(&net, "blog").site, Some(site));
    let to = addr(&user_key(1));
    net.exec(
        0,
        TxKind::TransferName {
            name: "blog".into(),
            to,
        },
    )
    .unwrap();
    assert_eq!(name_of(&net, "blog").owner, to);
    net.reject(0, point(None), "not_owner");
    net.exec(1, point(None)).unwrap();
    // Expired: its owner can no longer renew it, and anyone may claim it.
    for e in 1..=5 {
        net.block_at(GENESIS_MS + e * EPOCH_MS);
    }
    assert_eq!(net.state.epoch(), Epoch(5));
    net.reject(1, renew(1), "name_not_held");
    net.reject(
        1,
        TxKind::TransferName {
            name: "blog".into(),
            to,
        },
        "name_not_held",
    );
    net.reject(0, renew(1), "name_not_held");
    let fx = net.exec(2, claim(1)).unwrap();
    assert!(fx.created.is_empty(), "the expired name object is reused");
    assert_eq!(fx.mutated, vec![name_object_id("blog")]);
    let n = name_of(&net, "blog");
    assert_eq!(
        (n.owner, n.expires, n.site),
        (addr(&user_key(2)), Epoch(6), None)
    );
}
