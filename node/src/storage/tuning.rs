//! RocksDB settings for a store of large, incompressible values.

use std::path::Path;

use rocksdb::{ColumnFamilyDescriptor, Options};

use super::schema::{CF_PRIMARY, CF_SECONDARY, FAMILIES};

/// Database options for a store at `path`.
pub(super) fn db_options(path: &Path) -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    // Slivers are incompressible; the build has no compression libraries anyway.
    o.set_compression_type(rocksdb::DBCompressionType::None);
    // Flushes and compactions write the slivers (blob files) with direct I/O: they go to the
    // disk once, without being copied into freshly allocated page-cache pages, which cost more
    // CPU than everything else a node does with a sliver.
    let direct = supports_direct_io(path);
    if !direct {
        tracing::info!(path = %path.display(), "file system refuses direct i/o; flushing through the page cache");
    }
    o.set_use_direct_io_for_flush_and_compaction(direct);
    // Reuse finished write-ahead log files instead of creating new ones: rewriting pages already
    // in the page cache is a plain copy; new files need new pages. A log is reusable once every
    // column family flushed past it; without a cap the small families (metadata, blob states)
    // would keep old logs alive for gigabytes of slivers.
    o.set_recycle_log_file_num(4);
    o.set_max_total_wal_size(128 << 20);
    o
}

/// Every column family with its options.
pub(super) fn families() -> impl Iterator<Item = ColumnFamilyDescriptor> {
    FAMILIES.iter().map(|name| {
        let mut o = Options::default();
        o.set_compression_type(rocksdb::DBCompressionType::None);
        if *name == CF_PRIMARY || *name == CF_SECONDARY {
            // Large values: keep them in bigger files and write buffers.
            o.set_write_buffer_size(64 << 20);
            o.set_target_file_size_base(256 << 20);
            // Slivers are large values: keep them in blob files (BlobDB), so compaction rewrites
            // only keys and pointers and reads skip the block cache.
            o.set_enable_blob_files(true);
            o.set_min_blob_size(4096);
            o.set_blob_file_size(256 << 20);
        }
        ColumnFamilyDescriptor::new(*name, o)
    })
}

/// Whether files under `dir` can be opened with `O_DIRECT` (tmpfs and some others refuse it,
/// and RocksDB would then fail its first flush instead of its open).
#[cfg(target_os = "linux")]
fn supports_direct_io(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt as _;
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(".direct-io-probe");
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Direct I/O is only probed on Linux (`O_DIRECT`); elsewhere flushes use the page cache.
#[cfg(not(target_os = "linux"))]
fn supports_direct_io(_dir: &Path) -> bool {
    false
}
