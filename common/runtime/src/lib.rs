//! Runtime helpers shared by Floe's services, clients and binaries. No protocol logic lives
//! here.
//!
//! * [`retry`]: the one retry policy ([`Backoff`]): capped, jittered exponential backoff.
//! * [`secret`]: secret files and key files, written atomically with mode `0600` and refused
//!   when group or others can read them ([`write_key_file`], [`read_key_file`]).
//! * [`process`] (feature `process`, for binaries): logging to stderr with `tracing` and a
//!   cancellation token tied to SIGINT, SIGTERM and SIGHUP ([`init_tracing`],
//!   [`cancel_on_signal`]).

#[cfg(feature = "process")]
pub mod process;
pub mod retry;
pub mod secret;

#[cfg(feature = "process")]
pub use process::{cancel_on_signal, init_tracing};
pub use retry::{Backoff, Delays};
pub use secret::{SecretFileError, read_key_file, write_key_file};
