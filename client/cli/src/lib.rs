//! The `floe` command line and `floe daemon`, over the SDK (`floe-client`).
//!
//! * [`daemon`]: `floe daemon`, Walrus-compatible HTTP publisher and aggregator routes over a
//!   [`floe_client::BlobClient`] (axum router and server); contract in `openapi.yaml`.
//! * [`bench`]: `floe bench encode|store|read`, one JSON line each.
//!
//! The binary (`src/bin/floe`) holds the clap commands, text and `--json` output, progress bars
//! and exit codes; they are described in this crate's `README.md` and in `floe --help`.

pub mod bench;
pub mod daemon;
