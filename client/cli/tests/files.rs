//! The library functions behind `floe store`, `floe read` and `floe bench` against a real
//! cluster: files of 0 B, 1 B and 1 MiB stored and read back byte-exact (into a file and into a
//! writer), a dry run that prices exactly what the store then pays, `--epochs max`, reuse of a
//! certified blob, a file stored in chunks with a manifest and read back (a forged manifest
//! refused), typed failures, and the benchmark documents.

use floe_cli::bench;
use floe_client::Floe;
use floe_client::blobs::{Persistence, ReadError, StoreOptions, StoreOutcome};
use floe_client::files::{self, Chunking, Epochs, FilesError};
use floe_common::{BlobId, ConsistencyCheck};
use floe_tests::{ClusterOptions, TestCluster, data};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_cli_store_read_round_trip() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    let ledger = cluster.ledger();
    let dir = tempfile::tempdir().unwrap();
    let system = ledger.system().await.unwrap();

    // --epochs: numbers are checked against the network's maximum; `max` is that maximum.
    assert_eq!(
        Epochs::Max.resolve(&system).unwrap(),
        system.max_epochs_ahead
    );
    assert!(matches!(
        Epochs::Count(system.max_epochs_ahead + 1).resolve(&system),
        Err(FilesError::TooManyEpochs { .. })
    ));

    for (len, seed) in [(0usize, 1u64), (1, 2), (1 << 20, 3)] {
        let bytes = data(len, seed);
        let path = dir.path().join(format!("in-{len}"));
        std::fs::write(&path, &bytes).unwrap();

        // A dry run prices the store without paying.
        let balance = Floe::connect(vec![cluster.rpc_url.clone()])
            .await
            .unwrap()
            .balance_of(&client.address())
            .await
            .unwrap();
        let dry = files::dry_run_file(&ledger, &path, Epochs::Count(3))
            .await
            .unwrap();
        assert_eq!(dry.size, len as u64);
        assert_eq!(
            dry.blob_id,
            floe_client::blob_id_of(&bytes, system.n_shards)
                .unwrap()
                .blob_id
        );
        assert!(!dry.already_certified);
        assert_eq!(
            ledger.account(&client.address()).await.unwrap().balance,
            balance,
            "a dry run pays nothing"
        );

        let opts = StoreOptions {
            epochs: 3,
            persistence: Persistence::Deletable,
            ..StoreOptions::default()
        };
        let stored = files::store_file(&client, &path, &opts).await.unwrap();
        assert_eq!(stored.path, path);
        let StoreOutcome::NewlyCreated {
            blob_id,
            size,
            encoded_size,
            cost,
            end_epoch,
            ..
        } = stored.outcome
        else {
            panic!("expected a new blob: {stored:?}");
        };
        assert_eq!(blob_id, dry.blob_id);
        assert_eq!(size, len as u64);
        assert_eq!(encoded_size, dry.encoded_size);
        assert_eq!(
            cost, dry.price.total,
            "the dry run's price is what was paid"
        );
        assert_eq!(end_epoch, dry.end_epoch);

        // Read into a file and into a writer: byte-exact, with each consistency check.
        let out = dir.path().join(format!("out-{len}"));
        let summary = files::read_to_file(&client, blob_id, ConsistencyCheck::Default, &out, None)
            .await
            .unwrap();
        assert_eq!(summary.size, len as u64);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            bytes,
            "{len} bytes via a file"
        );
        for check in [ConsistencyCheck::Strict, ConsistencyCheck::Skip] {
            let mut sink = Vec::new();
            files::read_to_writer(&client, blob_id, check, &mut sink, None)
                .await
                .unwrap();
            assert_eq!(sink, bytes, "{len} bytes via a writer ({check:?})");
        }

        // Storing the file again reuses the certified blob; the dry run says so.
        let again = files::store_file(&client, &path, &opts).await.unwrap();
        assert!(matches!(
            again.outcome,
            StoreOutcome::AlreadyCertified { .. }
        ));
        let dry = files::dry_run_file(&ledger, &path, Epochs::Count(3))
            .await
            .unwrap();
        assert!(dry.already_certified);
        assert_eq!(dry.certified_until, Some(end_epoch));
    }

    // Typed failures: a missing file, an unknown blob; a failed read leaves no file behind.
    let missing = dir.path().join("missing");
    assert!(matches!(
        files::store_file(&client, &missing, &StoreOptions::default()).await,
        Err(FilesError::ReadFile { .. })
    ));
    let unknown = BlobId([3; 32]);
    let out = dir.path().join("never");
    assert!(matches!(
        files::read_to_file(&client, unknown, ConsistencyCheck::Default, &out, None).await,
        Err(FilesError::Read(ReadError::NotFound(_)))
    ));
    assert!(!out.exists());

    // A file above the chunking threshold: chunks, then a manifest whose blob id names the
    // file; read back byte-exact into a file and into a writer, one chunk at a time.
    let chunking = Chunking {
        threshold: 300_000,
        chunk_size: 200_000,
    };
    let big = data(1_000_003, 9);
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &big).unwrap();
    let stored = files::store_file_with(&client, &path, &StoreOptions::default(), chunking)
        .await
        .unwrap();
    let summary = stored.chunked.clone().expect("stored in chunks");
    assert_eq!((summary.size, summary.chunks.len()), (1_000_003, 6));
    let manifest_id = stored.outcome.blob_id();
    let out = dir.path().join("big.out");
    let read = files::read_to_file(&client, manifest_id, ConsistencyCheck::Default, &out, None)
        .await
        .unwrap();
    assert_eq!((read.size, read.chunks), (1_000_003, Some(6)));
    assert!(std::fs::read(&out).unwrap() == big, "byte-exact");
    let mut sink = Vec::new();
    files::read_to_writer(
        &client,
        manifest_id,
        ConsistencyCheck::Default,
        &mut sink,
        None,
    )
    .await
    .unwrap();
    assert!(sink == big);
    // Each chunk is an ordinary blob.
    let first = client
        .read(summary.chunks[0], ConsistencyCheck::Default)
        .await
        .unwrap();
    assert!(first.data[..] == big[..200_000]);
    // A manifest whose chunks are not the file it claims is refused, and no file is left.
    let mut forged = floe_common::manifest::ChunkedManifest::decode(
        &client
            .read(manifest_id, ConsistencyCheck::Default)
            .await
            .unwrap()
            .data,
    )
    .unwrap()
    .unwrap();
    forged.chunks.swap(0, 1);
    let forged_id = client
        .store(&forged.encode(), &StoreOptions::default())
        .await
        .unwrap()
        .blob_id();
    let out = dir.path().join("forged.out");
    assert!(matches!(
        files::read_to_file(&client, forged_id, ConsistencyCheck::Default, &out, None).await,
        Err(FilesError::ChunkMismatch(_))
    ));
    assert!(!out.exists(), "no partial file");

    // The benchmark documents.
    let stored = bench::bench_store(&client, 200_000, 1).await.unwrap();
    assert_eq!(stored.size, 200_000);
    assert!(stored.mib_s > 0.0);
    assert!(stored.peak_rss_bytes.unwrap() > 0);
    let read = bench::bench_read(&client, stored.blob_id).await.unwrap();
    assert_eq!((read.size, read.blob_id), (200_000, stored.blob_id));
    let line = serde_json::to_value(&read).unwrap();
    for key in ["size", "blob_id", "mib_s", "phases_ms", "peak_rss_bytes"] {
        assert!(line.get(key).is_some(), "{key} in {line}");
    }
    for key in ["metadata", "slivers", "decode"] {
        assert!(line["phases_ms"].get(key).is_some(), "{key} in {line}");
    }

    cluster.shutdown().await;
}

/// `floe bench quilt`'s document: a quilt of 100 files of 10 KiB against 4 separate blobs at 40
/// shards, then a patch read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_bench_quilt_document() {
    let cluster = TestCluster::start(ClusterOptions {
        shards: 40,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.client().await;
    let b = bench::bench_quilt(&client, 100, 10_240, 4, 1, 3)
        .await
        .unwrap();
    let line = serde_json::to_string(&b).unwrap();
    println!("{line}");
    assert_eq!(b.quilt.files, 100);
    // Three transactions for the quilt (reserve, register, certify), three per separate blob.
    assert!((b.quilt.ledger_txs - 0.03).abs() < 1e-9, "{line}");
    assert!((b.individual.ledger_txs - 3.0).abs() < 1e-9, "{line}");
    assert!(b.ratios.ledger_txs >= 100.0, "{line}");
    assert!(
        b.quilt.frost > 0.0 && b.individual.frost > b.quilt.frost,
        "{line}"
    );
    assert_eq!(b.patch_read.patch_bytes, 10_240);
    // The patch's symbols (10 KiB, a header and at most a symbol of padding), not the quilt.
    let s = u64::from(b.symbol_size);
    assert!(b.patch_read.fetched_bytes <= 10_240 + 200 + s, "{line}");
    let est = b.at_1000_shards.expect("estimate");
    assert!(est.frost_ratio > 50.0, "{line}");
    cluster.shutdown().await;
}
