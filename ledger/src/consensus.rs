//! Consensus: Floe's ledger on the Malachite BFT engine (`app-channel` API).
//!
//! - [`context`]: heights, votes, proposals, validator sets and the ed25519 scheme;
//! - [`signing`]: the signer and verifier the engine calls;
//! - [`app`]: the loop answering the engine (propose, validate, commit, sync);
//! - [`parts`]: which received proposal parts are stored, kept in memory or dropped;
//! - [`codec`]: BCS encodings of every message the engine puts on the wire or in its WAL.

pub mod app;
pub mod codec;
pub mod context;
pub mod parts;
pub mod signing;

pub use context::{FloeContext, Height, Proposal, ProposalPart, Vote};
