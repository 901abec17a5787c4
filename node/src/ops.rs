//! What the operator commands of `floe-node` do, as a library (the binary parses arguments and
//! prints; tests call the same functions):
//!
//! * [`keygen`]: a fresh protocol key file (mode 0600, never overwritten unless forced), with
//!   the public key, node id, peer id and account it gives.
//! * [`config_file`]: a complete, commented `node.toml`, written from the text of
//!   `node.example.toml` with the operator's values put in, and parsed back before it is kept.
//! * [`register`]: registers the node on the ledger from its owner's wallet and stakes with it.
//! * [`backup`]: a checkpoint of a running node's store, written by the node through its
//!   loopback admin route.
//! * [`restore`]: a checkpoint copied back as a stopped node's store.
//!
//! Each has its own error type; [`ErrorKind`] sorts their variants for exit codes.

pub mod backup;
pub mod config_file;
pub mod keygen;
pub mod register;
pub mod restore;

/// What kind of failure an operator command had (the binary's exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A local problem: bad arguments, a file that exists or cannot be read, a running node.
    Local,
    /// The ledger (or the node) said no: funds, an existing registration, a refused request.
    Rejected,
    /// The ledger or the node could not be reached or answered unexpectedly; retrying later
    /// may help.
    Network,
}

/// Refuses to write `path` if something is there, unless `force`.
fn check_free(path: &std::path::Path, force: bool) -> Result<(), std::path::PathBuf> {
    if !force && path.symlink_metadata().is_ok() {
        return Err(path.to_owned());
    }
    Ok(())
}
