//! Floe's metadata ledger: a BFT-replicated state machine (accounts and WAL, storage resources,
//! blobs, storage nodes, stake, committee) run by validators over an existing consensus engine.
//!
//! Not implemented yet (issue "Ledger"); see `ARCHITECTURE.md` and `docs/ledger-consensus-notes.md`.
