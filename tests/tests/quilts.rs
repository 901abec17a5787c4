//! Quilts against a real cluster: many files of varied sizes in one blob, every patch read
//! back byte-exact by patch id and by identifier at about its own cost, and bad input refused
//! before anything is paid (the `adv_…` tests).

use floe_client::BlobClient;
use floe_client::blobs::{
    QuiltFile, QuiltPatchId, QuiltReadError, QuiltStoreError, StoreOptions, patch_id_of,
};
use floe_common::quilt::QuiltError;
use floe_common::{EncodingConfig, Frost};
use floe_tests::{ClusterOptions, TestCluster, data};

/// 40 shards: 14 rows of 27 symbols, room for a few hundred patches.
fn options() -> ClusterOptions {
    ClusterOptions {
        shards: 40,
        ..ClusterOptions::default()
    }
}

fn opts() -> StoreOptions {
    StoreOptions {
        epochs: 2,
        ..StoreOptions::default()
    }
}

fn file(identifier: &str, data: Vec<u8>) -> QuiltFile {
    QuiltFile {
        identifier: identifier.to_owned(),
        data,
        ..QuiltFile::default()
    }
}

async fn balance(client: &BlobClient) -> Frost {
    client
        .ledger()
        .account(&client.address())
        .await
        .unwrap()
        .balance
}

/// 60 files from 0 bytes to more than a row, tagged; each read by id and by identifier is
/// byte-exact and fetches about its own symbols; the index lists them; reads by tag work.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_quilt_store_and_read_patches() {
    let cluster = TestCluster::start(options()).await;
    let client = cluster.client().await;
    let mut files = Vec::new();
    for i in 0..60usize {
        let len = match i {
            0 => 0,
            1 => 1,
            2 => 200_000, // more than a row
            _ => (i * 977) % 6000,
        };
        let mut f = file(&format!("dir/file-{i:02}.txt"), data(len, i as u64));
        f.tags.insert("parity".into(), (i % 2).to_string());
        if i == 3 {
            f.content_type = Some("application/x-custom".into());
        }
        files.push(f);
    }
    let out = client.store_quilt(files.clone(), &opts()).await.unwrap();
    let quilt_id = out.store.blob_id();
    assert_eq!(out.patches.len(), files.len());

    let index = client.read_quilt_index(quilt_id).await.unwrap();
    assert_eq!(index.patches.len(), files.len());
    assert_eq!(
        index.get("dir/file-05.txt").unwrap().content_type,
        "text/plain"
    );
    assert_eq!(
        index.get("dir/file-03.txt").unwrap().content_type,
        "application/x-custom"
    );

    let blob = client.open(quilt_id, u64::MAX).await.unwrap();
    let config = EncodingConfig::new(cluster.genesis.n_shards).unwrap();
    let s = u64::from(blob.symbol_size());
    let row = s * config.cols() as u64;
    for f in &files {
        let (_, patch_id) = out
            .patches
            .iter()
            .find(|(id, _)| *id == f.identifier)
            .unwrap();
        assert_eq!(
            patch_id_of(&index, quilt_id, &f.identifier).unwrap(),
            *patch_id
        );
        let p = client.read_patch(*patch_id).await.unwrap();
        assert!(p.data == f.data, "{} by id", f.identifier);
        assert_eq!(p.identifier, f.identifier);
        assert_eq!(p.tags, f.tags);
        let span = u64::from(patch_id.end_symbol - patch_id.start_symbol) * s;
        // Symbols only: a patch of less than half a row costs exactly its symbols; a larger
        // one at most a whole row more than its span (rows more than half covered are
        // fetched whole).
        let bound = if span * 2 < row {
            span + 2 * s
        } else {
            2 * span + 2 * s
        };
        assert!(
            p.fetched_bytes <= bound,
            "{}: fetched {} for a span of {span} (symbol {s}, row {row}, quilt {})",
            f.identifier,
            p.fetched_bytes,
            blob.len()
        );
        let by_name = client
            .read_patch_by_identifier(quilt_id, &f.identifier)
            .await
            .unwrap();
        assert!(by_name.data == f.data, "{} by identifier", f.identifier);
        assert_eq!(by_name.patch_id, *patch_id);
    }
    // A small patch costs a sliver of the quilt.
    let small = out
        .patches
        .iter()
        .find(|(id, _)| id == "dir/file-10.txt")
        .unwrap()
        .1;
    let p = client.read_patch(small).await.unwrap();
    assert!(
        p.fetched_bytes * 20 < blob.len(),
        "{} of {}",
        p.fetched_bytes,
        blob.len()
    );

    // By tag: the index's entries with parity=1.
    let odd: Vec<_> = index
        .patches
        .iter()
        .filter(|e| e.tags.get("parity").map(String::as_str) == Some("1"))
        .collect();
    assert_eq!(odd.len(), 30);
    for e in odd {
        let p = client
            .read_patch_by_identifier(quilt_id, &e.identifier)
            .await
            .unwrap();
        assert_eq!(p.tags["parity"], "1");
    }
    cluster.shutdown().await;
}

/// Duplicate identifiers, an empty identifier, too many patches and oversized tags are each a
/// typed error before anything is signed: the balance does not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_quilt_bad_files_charge_nothing() {
    let cluster = TestCluster::start(options()).await;
    let client = cluster.client().await;
    let before = balance(&client).await;

    let dup = vec![file("a", vec![1]), file("b", vec![2]), file("a", vec![3])];
    match client.store_quilt(dup, &opts()).await {
        Err(QuiltStoreError::Format(QuiltError::DuplicateIdentifier(id))) => assert_eq!(id, "a"),
        other => panic!("duplicate identifiers: {other:?}"),
    }
    let empty = vec![file("a", vec![1]), file("", vec![2])];
    assert!(matches!(
        client.store_quilt(empty, &opts()).await,
        Err(QuiltStoreError::Format(
            QuiltError::InvalidIdentifier { .. }
        ))
    ));
    let source = EncodingConfig::new(40).unwrap().source_symbols() as usize;
    let many: Vec<_> = (0..source)
        .map(|i| file(&format!("f{i}"), vec![]))
        .collect();
    assert!(matches!(
        client.store_quilt(many, &opts()).await,
        Err(QuiltStoreError::Format(QuiltError::TooManyPatches { .. }))
    ));
    let mut tagged = file("t", vec![1]);
    tagged
        .tags
        .insert("big".into(), "x".repeat(floe_common::quilt::MAX_TAG_BYTES));
    assert!(matches!(
        client.store_quilt(vec![tagged], &opts()).await,
        Err(QuiltStoreError::Format(QuiltError::InvalidTags { .. }))
    ));
    assert!(matches!(
        client.store_quilt(Vec::new(), &opts()).await,
        Err(QuiltStoreError::Format(QuiltError::Empty))
    ));
    assert_eq!(balance(&client).await, before, "nothing may be charged");
    cluster.shutdown().await;
}

/// A patch id of another quilt, one outside its quilt, and a plain blob read as a quilt are
/// typed errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_quilt_bad_patch_ids() {
    let cluster = TestCluster::start(options()).await;
    let client = cluster.client().await;
    let a = client
        .store_quilt(
            vec![file("x", data(3000, 1)), file("y", data(5000, 2))],
            &opts(),
        )
        .await
        .unwrap();
    let b = client
        .store_quilt(
            (0..5)
                .map(|i| file(&format!("z{i}"), data(100, i)))
                .collect(),
            &opts(),
        )
        .await
        .unwrap();
    let (qa, qb) = (a.store.blob_id(), b.store.blob_id());
    let pa = a.patches[1].1;

    // Quilt b's blob asked for quilt a's patch.
    let blob_b = client.open(qb, u64::MAX).await.unwrap();
    assert!(matches!(
        client.read_patch_of(&blob_b, pa).await,
        Err(QuiltReadError::WrongQuilt { .. })
    ));
    // Quilt a's symbols under quilt b's id: no patch there.
    let forged = QuiltPatchId { quilt_id: qb, ..pa };
    assert!(
        matches!(
            client.read_patch(forged).await,
            Err(QuiltReadError::BadPatch { .. } | QuiltReadError::OutOfRange { .. })
        ),
        "{forged}"
    );
    // Beyond the end, and an empty span.
    for (start, end) in [(pa.start_symbol, u32::MAX), (pa.end_symbol, pa.end_symbol)] {
        let id = QuiltPatchId {
            quilt_id: qa,
            start_symbol: start,
            end_symbol: end,
        };
        assert!(
            matches!(
                client.read_patch(id).await,
                Err(QuiltReadError::OutOfRange { .. })
            ),
            "{start}..{end}"
        );
    }
    // One symbol short of the patch: refused, not truncated.
    let short = QuiltPatchId {
        end_symbol: pa.end_symbol - 1,
        ..pa
    };
    assert!(matches!(
        client.read_patch(short).await,
        Err(QuiltReadError::BadPatch { .. })
    ));
    // Unknown identifier; a plain blob is not a quilt.
    assert!(matches!(
        client.read_patch_by_identifier(qa, "nope").await,
        Err(QuiltReadError::UnknownIdentifier { .. })
    ));
    let plain = client
        .store(&data(5000, 9), &opts())
        .await
        .unwrap()
        .blob_id();
    assert!(matches!(
        client.read_quilt_index(plain).await,
        Err(QuiltReadError::NotAQuilt { .. })
    ));
    cluster.shutdown().await;
}
