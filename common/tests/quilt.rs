//! Quilts: property tests of the layout (encode → decode of the index and of every patch) and
//! of the decoders on hostile bytes.

use std::collections::BTreeMap;

use floe_common::EncodingConfig;
use floe_common::quilt::{
    MAX_INDEX_BYTES, QuiltError, QuiltFile, decode_index, decode_patch, encode_quilt, index_prefix,
};
use proptest::prelude::*;

fn files() -> impl Strategy<Value = Vec<QuiltFile>> {
    prop::collection::btree_map(
        "[a-z0-9_./-]{1,12}",
        (
            prop::collection::vec(any::<u8>(), 0..3000),
            prop::collection::btree_map("[a-z]{1,4}", "[ -~]{0,8}", 0..3),
            prop::option::of("[a-z]{1,8}/[a-z]{1,8}"),
        ),
        1..12,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(identifier, (data, tags, content_type))| QuiltFile {
                identifier,
                tags,
                content_type,
                data,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode(files in files(), shards in prop::sample::select(vec![10u16, 13, 40])) {
        let config = EncodingConfig::new(shards).unwrap();
        let q = match encode_quilt(&config, &files) {
            Ok(q) => q,
            Err(QuiltError::TooManyPatches { .. }) => return Ok(()),
            Err(e) => panic!("{e}"),
        };
        let s = config.symbol_size(q.data.len() as u64).unwrap();
        prop_assert_eq!(s, q.symbol_size);
        let total = (q.data.len() as u64).div_ceil(u64::from(s));
        prop_assert!(total <= config.source_symbols());
        let index = decode_index(&q.data, s, total, MAX_INDEX_BYTES).unwrap();
        prop_assert_eq!(&index, &q.index);
        let mut by_id: BTreeMap<&str, &QuiltFile> = BTreeMap::new();
        for f in &files {
            by_id.insert(&f.identifier, f);
        }
        for e in &index.patches {
            let f = by_id[e.identifier.as_str()];
            let a = e.start_symbol as usize * usize::from(s);
            let b = e.end_symbol as usize * usize::from(s);
            let h = decode_patch(&q.data[a..b], (b - a) as u64, s).unwrap();
            prop_assert_eq!(&h.meta.identifier, &f.identifier);
            prop_assert_eq!(&h.meta.tags, &f.tags);
            prop_assert_eq!(&h.meta.content_type, &e.content_type);
            if let Some(ct) = &f.content_type {
                prop_assert_eq!(ct, &e.content_type);
            }
            prop_assert_eq!(&q.data[a + h.data.start as usize..a + h.data.end as usize], &f.data[..]);
        }
    }

    #[test]
    fn hostile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), s in 1u16..64, total in 0u64..100) {
        let _ = index_prefix(&bytes, 1000);
        let _ = decode_index(&bytes, s, total, 1000);
        let _ = decode_patch(&bytes, bytes.len() as u64, s);
        // With valid version bytes, so the decoders get past the first check.
        let mut v = bytes;
        if !v.is_empty() {
            v[0] = 1;
        }
        let _ = decode_index(&v, s, total, 1000);
        let _ = decode_patch(&v, v.len() as u64, s);
        let _ = decode_patch(&v, u64::MAX, s);
    }
}

/// Lengths that claim more than is there are refused without allocating them.
#[test]
fn lying_lengths() {
    let mut b = vec![1u8, 0xff, 0xff, 0xff, 0x7f];
    assert!(matches!(
        index_prefix(&b, MAX_INDEX_BYTES),
        Err(QuiltError::IndexTooLarge { .. })
    ));
    b = vec![
        1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 4, 0, 0, 0, 1, b'a', 0, 1,
    ];
    assert!(decode_patch(&b, 1 << 40, 2).is_err());
}
