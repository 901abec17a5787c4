//! Observing a store or a read while it runs (the CLI's progress bars).

use std::sync::Arc;

/// Told what a store or a read is doing. Every method has a no-op default; calls come from
/// several tasks at once, so implementations must be cheap and thread-safe.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// A step began: `encode`, `register`, `upload`, `certify` (store) or `metadata`,
    /// `slivers`, `decode` (read).
    fn phase(&self, _phase: &'static str) {}
    /// About `total` bytes of slivers are about to cross the network (all the slivers to
    /// upload, or the primary slivers a read needs).
    fn transfer(&self, _total: u64) {}
    /// `bytes` more sliver bytes were sent, or received and verified.
    fn advance(&self, _bytes: u64) {}
}

/// A shared progress observer, as [`super::StoreOptions::progress`] holds it.
pub type ProgressHook = Arc<dyn Progress>;

/// Calls `f` on the observer, if there is one.
pub(crate) fn report(p: Option<&ProgressHook>, f: impl FnOnce(&dyn Progress)) {
    if let Some(p) = p {
        f(p.as_ref());
    }
}
