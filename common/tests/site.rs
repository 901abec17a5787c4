//! Sites: conformance vectors for the record's bytes and the hostname forms, and property tests
//! of the record decoder (round trip, hostile bytes) and of path normalization.

use std::collections::BTreeMap;

use floe_common::codec;
use floe_common::quilt::QuiltPatchId;
use floe_common::site::{
    Redirect, SiteChanges, SiteRecord, SiteResource, normalize_path, parse_site_label, site_label,
    validate_name,
};
use floe_common::{BlobId, Digest, ObjectId};
use proptest::prelude::*;

/// Largest record a decoder accepts here (the ledger bounds it by the transaction size).
const LIMIT: usize = 1 << 20;

fn fixture() -> SiteRecord {
    let mut r = SiteRecord::default();
    r.resources.insert(
        "/index.html".into(),
        SiteResource {
            patch: QuiltPatchId {
                quilt_id: BlobId([7; 32]),
                start_symbol: 1,
                end_symbol: 3,
            },
            content_type: "text/html; charset=utf-8".into(),
            size: 1234,
            hash: Digest([9; 32]),
            headers: BTreeMap::from([("Cache-Control".into(), "no-cache".into())]),
        },
    );
    r.routes.insert("/*".into(), "/index.html".into());
    r.redirects.insert(
        "/old".into(),
        Redirect {
            to: "/index.html".into(),
            status: 308,
        },
    );
    r.not_found = Some("/index.html".into());
    r.headers.insert("X-Site".into(), "floe".into());
    r
}

#[test]
fn conformance_site_record_bytes() {
    let r = fixture();
    r.validate().unwrap();
    let bytes = codec::encode(&r);
    assert_eq!(
        hex::encode(&bytes),
        PINNED_RECORD,
        "the site record's BCS changed"
    );
    assert_eq!(codec::decode::<SiteRecord>(&bytes, LIMIT).unwrap(), r);
    let changes = SiteChanges {
        remove: ["/gone.html".to_owned()].into(),
        not_found: Some(None),
        ..SiteChanges::default()
    };
    assert_eq!(hex::encode(codec::encode(&changes)), PINNED_CHANGES);
}

const PINNED_RECORD: &str = "010b2f696e6465782e68746d6c3742776348427763484277634842776348427763484277634842776348427763484277634842776348427763424151414141414d4141414118746578742f68746d6c3b20636861727365743d7574662d38d2040000000000000909090909090909090909090909090909090909090909090909090909090909010d43616368652d436f6e74726f6c086e6f2d636163686501022f2a0b2f696e6465782e68746d6c01042f6f6c640b2f696e6465782e68746d6c3401010b2f696e6465782e68746d6c0106582d5369746504666c6f65";
const PINNED_CHANGES: &str = "00010a2f676f6e652e68746d6c0000010000";

#[test]
fn conformance_site_labels_and_names() {
    assert_eq!(site_label(&ObjectId([0; 32])), "0".repeat(50));
    assert_eq!(
        site_label(&ObjectId([0xff; 32])),
        "6dp5qcb22im238nr3wvp0ic7q99w035jmy2iw7i6n43d37jtof"
    );
    let mut one = [0u8; 32];
    one[31] = 35;
    assert_eq!(site_label(&ObjectId(one)), format!("{}z", "0".repeat(49)));
    // Over 2^256 or not base36: not a site label.
    assert_eq!(parse_site_label(&"z".repeat(50)), None);
    assert_eq!(parse_site_label(&format!("{}A", "0".repeat(49))), None);
    assert_eq!(parse_site_label("abc"), None);
    for ok in ["a", "my-site", "x1", &"a".repeat(40)] {
        validate_name(ok).unwrap();
    }
    for bad in ["", "-a", "a-", "A", "a_b", "a.b", "é", &"a".repeat(41)] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
}

fn resource() -> impl Strategy<Value = SiteResource> {
    (
        any::<[u8; 32]>(),
        any::<u32>(),
        "[a-z]{1,8}/[a-z]{1,8}",
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::collection::btree_map("[A-Za-z-]{1,12}", "[ -~]{0,16}", 0..3),
    )
        .prop_map(|(q, s, ct, size, h, headers)| SiteResource {
            patch: QuiltPatchId {
                quilt_id: BlobId(q),
                start_symbol: s,
                end_symbol: s.saturating_add(1),
            },
            content_type: ct,
            size,
            hash: Digest(h),
            headers,
        })
}

fn record() -> impl Strategy<Value = SiteRecord> {
    (
        prop::collection::btree_map("/[a-z0-9/._-]{0,20}", resource(), 0..8),
        prop::collection::btree_map("/[a-z]{0,8}\\*?", "/[a-z]{1,8}", 0..3),
        prop::collection::btree_map("/[a-z]{1,8}", ("/[a-z]{1,8}", 301u16..309), 0..3),
        prop::option::of("/[a-z]{1,8}"),
    )
        .prop_map(|(resources, routes, redirects, not_found)| SiteRecord {
            resources,
            routes,
            redirects: redirects
                .into_iter()
                .map(|(k, (to, status))| (k, Redirect { to, status }))
                .collect(),
            not_found,
            headers: BTreeMap::new(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(r in record()) {
        let bytes = codec::encode(&r);
        prop_assert_eq!(&codec::decode::<SiteRecord>(&bytes, LIMIT).unwrap(), &r);
        // Validation never panics, whatever the record holds.
        let _ = r.validate();
        // Every path the record accepts resolves without panicking.
        for p in r.resources.keys() {
            let _ = r.resolve(p);
        }
    }

    #[test]
    fn hostile_record_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        // Malformed input is an error, never a panic; a decoded record validates or is refused.
        if let Ok(r) = codec::decode::<SiteRecord>(&bytes, LIMIT) {
            let _ = r.validate();
        }
        let _ = codec::decode::<SiteChanges>(&bytes, LIMIT);
    }

    #[test]
    fn normalized_paths_are_fixed_points(raw in "/[a-z%2e./]{0,24}") {
        if let Ok(p) = normalize_path(&raw) {
            prop_assert_eq!(&normalize_path(&p).unwrap(), &p);
            prop_assert!(!p.split('/').any(|s| s == ".." || s == "."));
        }
    }

    #[test]
    fn site_labels_round_trip(id in any::<[u8; 32]>()) {
        let label = site_label(&ObjectId(id));
        prop_assert_eq!(label.len(), 50);
        prop_assert!(validate_name(&label).is_err(), "a site label is never a name");
        prop_assert_eq!(parse_site_label(&label), Some(ObjectId(id)));
    }
}
