//! `floe-devnet`: generates keys and a genesis and runs a whole local Floe network (validators
//! and storage nodes, each its own process) in one command.
//!
//! Not implemented yet (issue "Devnet").
