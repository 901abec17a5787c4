//! Ledger state-machine tests with real keys and certificates.

mod blob;
mod challenges;
mod coin;
mod economics;
mod genesis;
mod keyserver;
mod lifecycle;
mod policies;
mod props;
mod shared;
mod sites;
mod staking;
mod storage;
mod support;
