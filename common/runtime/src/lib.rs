//! Async helpers shared by Floe's services, clients and binaries. No protocol logic lives here.
//!
//! * [`process`]: logging to stderr with `tracing` and a cancellation token tied to SIGINT,
//!   SIGTERM and SIGHUP ([`init_tracing`], [`cancel_on_signal`]).

pub mod process;

pub use process::{cancel_on_signal, init_tracing};
