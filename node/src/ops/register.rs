//! `floe-node register`: registers the node on the ledger and stakes with it, paid by the
//! owner's wallet.
//!
//! Two transactions from the owner's account, through the configuration's ledger RPC URLs
//! and signed for the configuration's genesis chain ([`NodeAccount`], the same path the node
//! uses for its own transactions, with its fee cap): `RegisterNode` with the public key of the
//! configuration's key file, then `Stake` with the new node. The owner's key is a wallet file
//! (the JSON key file `floe wallet new` writes), refused if group or others can read it.
//!
//! Before anything is signed the command checks what would make the ledger refuse: the
//! ledger's chain is the genesis' chain, the key and the name are not registered yet, and the
//! owner's balance covers the stake and both fees. Each of these is its own error. If the
//! registration commits and the stake then fails, the error says the node is registered
//! ([`RegisterError::StakeFailed`]); stake with `floe stake` then.
//!
//! Defaults: the addresses the node registers are its `p2p_listen` and `http_listen` (refused
//! when they are unspecified addresses such as `0.0.0.0`: peers cannot dial those), price
//! votes are the ledger's current prices, and the capacity vote is 1 TiB.

use std::path::Path;

use floe_common::{Frost, KeyPair, NodeId, PublicKey};
use floe_ledger_types::tx::{MAX_ADDRESS_LEN, MAX_COMMISSION_BPS};
use floe_ledger_types::{Address, ClientError, LedgerClient, TxError, TxKind, node_id_of};
use serde::Serialize;

use super::ErrorKind;
use crate::config::NodeConfig;
use crate::ledger_tx::{LedgerTxError, NodeAccount};
use crate::server::NodeRunError;

/// The default capacity vote: 1 TiB.
pub const DEFAULT_CAPACITY_VOTE: u64 = 1 << 40;
/// The default commission: 10 %.
pub const DEFAULT_COMMISSION_BPS: u16 = 1_000;

/// What to register, beyond the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOptions {
    /// WAL the owner stakes with the node (more than zero).
    pub stake: Frost,
    /// Commission on rewards, in basis points.
    pub commission_bps: u16,
    /// libp2p address peers dial (default: `p2p_listen`).
    pub network_address: Option<String>,
    /// HTTP address (default: `http_listen`).
    pub http_address: Option<String>,
    /// Storage price vote (default: the ledger's current storage price).
    pub storage_price_vote: Option<Frost>,
    /// Write price vote (default: the ledger's current write price).
    pub write_price_vote: Option<Frost>,
    /// Capacity vote, in bytes.
    pub capacity_vote: u64,
}

impl RegisterOptions {
    /// Staking `stake`, with the defaults.
    pub fn staking(stake: Frost) -> Self {
        RegisterOptions {
            stake,
            commission_bps: DEFAULT_COMMISSION_BPS,
            network_address: None,
            http_address: None,
            storage_price_vote: None,
            write_price_vote: None,
            capacity_vote: DEFAULT_CAPACITY_VOTE,
        }
    }
}

/// A registered and staked node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// The node id.
    pub node_id: NodeId,
    /// Its registered name.
    pub name: String,
    /// Its protocol key.
    pub public_key: PublicKey,
    /// The owner's account.
    pub owner: Address,
    /// The registered libp2p address.
    pub network_address: String,
    /// The registered HTTP address.
    pub http_address: String,
    /// The block the registration committed in.
    pub registered_height: u64,
    /// The stake.
    pub stake: Frost,
    /// The block the stake committed in.
    pub height: u64,
    /// The node key's own account, which pays its storage proofs and sync reports.
    pub node_account: Address,
    /// That account's balance (fund it if zero).
    pub node_account_balance: Frost,
}

/// Registering failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The configuration's genesis or key file could not be loaded.
    #[error(transparent)]
    Load(#[from] NodeRunError),
    /// The owner's wallet file could not be read.
    #[error("owner wallet: {0}")]
    OwnerKey(#[source] floe_runtime::SecretFileError),
    /// An argument is not valid.
    #[error("{field} {value:?}: {reason}")]
    Invalid {
        /// The argument.
        field: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The ledger serves another chain than the configuration's genesis.
    #[error("the ledger serves chain {served:?}, the genesis is {expected:?}")]
    WrongChain {
        /// The genesis' chain id.
        expected: String,
        /// The ledger's.
        served: String,
    },
    /// A node with this key is registered already.
    #[error("node {node_id} is already registered (owner {owner})")]
    AlreadyRegistered {
        /// The node id.
        node_id: NodeId,
        /// Its owner.
        owner: Address,
    },
    /// Another node has this name.
    #[error("the name {name:?} is taken by node {holder}; set another `name` in the configuration")]
    NameTaken {
        /// The name.
        name: String,
        /// The node that has it.
        holder: NodeId,
    },
    /// The owner cannot pay the stake and the fees.
    #[error(
        "insufficient funds: the owner {owner} has {available}, registering and staking need {needed}"
    )]
    InsufficientFunds {
        /// The owner's account.
        owner: Address,
        /// Stake plus fees.
        needed: Frost,
        /// The balance.
        available: Frost,
    },
    /// The ledger asks a fee above the cap; nothing was signed.
    #[error("the ledger asks a fee of {asked}, above the cap of {cap}; nothing was signed")]
    FeeAboveCap {
        /// The fee asked.
        asked: Frost,
        /// The cap.
        cap: Frost,
    },
    /// The ledger rejected a transaction (it paid its fee and did nothing else).
    #[error("{step}: rejected by the ledger: {error} [{}]", error.code())]
    Rejected {
        /// `register` or `stake`.
        step: &'static str,
        /// The ledger's error.
        error: TxError,
    },
    /// The ledger refused a request (nothing happened).
    #[error("{step}: refused by the ledger: {source}")]
    Refused {
        /// The operation.
        step: &'static str,
        /// The ledger's answer.
        source: Box<ClientError>,
    },
    /// No ledger RPC URL answered.
    #[error("{step}: cannot reach the ledger at {}: {source}", urls.join(", "))]
    Unreachable {
        /// The operation.
        step: &'static str,
        /// The URLs tried.
        urls: Vec<String>,
        /// The last error.
        source: Box<ClientError>,
    },
    /// A wait ran out; a submitted transaction may still commit.
    #[error("{step}: timed out; a submitted transaction may still commit")]
    Timeout {
        /// The operation.
        step: &'static str,
    },
    /// The ledger answered unexpectedly.
    #[error("{step}: unexpected answer from the ledger: {source}")]
    Ledger {
        /// The operation.
        step: &'static str,
        /// The error.
        source: Box<ClientError>,
    },
    /// The node is registered, but staking with it failed.
    #[error(
        "node {node_id} is registered (block {registered_height}) but staking failed: {source}; stake with `floe stake --node {node_id}`"
    )]
    StakeFailed {
        /// The node id.
        node_id: NodeId,
        /// The block of the registration.
        registered_height: u64,
        /// Why the stake failed.
        source: Box<RegisterError>,
    },
}

impl RegisterError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegisterError::Load(_) | RegisterError::OwnerKey(_) | RegisterError::Invalid { .. } => {
                ErrorKind::Local
            }
            RegisterError::WrongChain { .. }
            | RegisterError::AlreadyRegistered { .. }
            | RegisterError::NameTaken { .. }
            | RegisterError::InsufficientFunds { .. }
            | RegisterError::FeeAboveCap { .. }
            | RegisterError::Rejected { .. }
            | RegisterError::Refused { .. } => ErrorKind::Rejected,
            RegisterError::Unreachable { .. }
            | RegisterError::Timeout { .. }
            | RegisterError::Ledger { .. } => ErrorKind::Network,
            RegisterError::StakeFailed { source, .. } => source.kind(),
        }
    }

    /// A stable snake-case code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            RegisterError::Load(_) => "config",
            RegisterError::OwnerKey(_) => "owner_key",
            RegisterError::Invalid { .. } => "invalid_argument",
            RegisterError::WrongChain { .. } => "wrong_chain",
            RegisterError::AlreadyRegistered { .. } => "already_registered",
            RegisterError::NameTaken { .. } => "name_taken",
            RegisterError::InsufficientFunds { .. } => "insufficient_funds",
            RegisterError::FeeAboveCap { .. } => "fee_above_cap",
            RegisterError::Rejected { .. } | RegisterError::Refused { .. } => "rejected",
            RegisterError::Unreachable { .. } => "ledger_unreachable",
            RegisterError::Timeout { .. } => "timeout",
            RegisterError::Ledger { .. } => "ledger_error",
            RegisterError::StakeFailed { .. } => "stake_failed",
        }
    }

    fn client(step: &'static str, urls: &[String], e: ClientError) -> Self {
        match e {
            ClientError::Transport(_) => RegisterError::Unreachable {
                step,
                urls: urls.to_vec(),
                source: Box::new(e),
            },
            ClientError::Timeout => RegisterError::Timeout { step },
            ClientError::Http { status, .. } if (400..500).contains(&status) => {
                RegisterError::Refused {
                    step,
                    source: Box::new(e),
                }
            }
            source => RegisterError::Ledger {
                step,
                source: Box::new(source),
            },
        }
    }

    fn tx(step: &'static str, urls: &[String], e: LedgerTxError) -> Self {
        match e {
            LedgerTxError::Rpc(e) => Self::client(step, urls, e),
            LedgerTxError::FeeAboveCap { asked, cap } => RegisterError::FeeAboveCap { asked, cap },
            LedgerTxError::Rejected(error) => RegisterError::Rejected { step, error },
        }
    }
}

fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> RegisterError {
    RegisterError::Invalid {
        field,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Whether a multiaddr names an unspecified IP address (`0.0.0.0`, `::`), which peers cannot
/// dial.
fn unspecified(addr: &libp2p::Multiaddr) -> bool {
    use libp2p::multiaddr::Protocol;
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

/// The addresses to register: the options', else the configuration's listen addresses.
fn addresses(
    config: &NodeConfig,
    opts: &RegisterOptions,
) -> Result<(String, String), RegisterError> {
    let network = opts
        .network_address
        .clone()
        .unwrap_or_else(|| config.p2p_listen.clone());
    let parsed: libp2p::Multiaddr = network.parse().map_err(|e: libp2p::multiaddr::Error| {
        invalid("network_address", &network, e.to_string())
    })?;
    if unspecified(&parsed) {
        return Err(invalid(
            "network_address",
            &network,
            "an unspecified address peers cannot dial; pass --network-address",
        ));
    }
    let http = match &opts.http_address {
        Some(h) => h.clone(),
        None if config.http_listen.ip().is_unspecified() => {
            return Err(invalid(
                "http_address",
                &config.http_listen.to_string(),
                "an unspecified address; pass --http-address",
            ));
        }
        None => config.http_listen.to_string(),
    };
    for (field, value) in [("network_address", &network), ("http_address", &http)] {
        if value.is_empty() || value.len() > MAX_ADDRESS_LEN {
            return Err(invalid(
                field,
                value,
                format!("must be 1 to {MAX_ADDRESS_LEN} bytes"),
            ));
        }
    }
    Ok((network, http))
}

/// Registers the node of `config` owned by the wallet at `owner_wallet`, and stakes
/// `opts.stake` with it; returns the node id and the blocks.
pub async fn register(
    config: &NodeConfig,
    owner_wallet: &Path,
    opts: &RegisterOptions,
) -> Result<Registered, RegisterError> {
    let (genesis, key) = crate::server::load(config)?;
    let owner = floe_runtime::read_key_file(owner_wallet).map_err(RegisterError::OwnerKey)?;
    let (network_address, http_address) = addresses(config, opts)?;
    if opts.commission_bps > MAX_COMMISSION_BPS {
        return Err(invalid(
            "commission_bps",
            &opts.commission_bps.to_string(),
            format!("at most {MAX_COMMISSION_BPS}"),
        ));
    }
    if opts.stake == Frost::ZERO {
        return Err(invalid("stake", "0", "must be more than zero"));
    }
    let ledger = LedgerClient::new(config.ledger_rpc.clone());
    let urls = config.ledger_rpc.clone();
    let client = |step| {
        let urls = urls.clone();
        move |e| RegisterError::client(step, &urls, e)
    };
    let system = ledger.system().await.map_err(client("system"))?;
    if system.chain_id != genesis.chain_id {
        return Err(RegisterError::WrongChain {
            expected: genesis.chain_id,
            served: system.chain_id,
        });
    }
    let public_key = key.public();
    let node_id = node_id_of(&public_key);
    let nodes = ledger.nodes().await.map_err(client("nodes"))?;
    if let Some(n) = nodes.iter().find(|n| n.node.node_id == node_id) {
        return Err(RegisterError::AlreadyRegistered {
            node_id,
            owner: n.node.owner,
        });
    }
    if let Some(n) = nodes.iter().find(|n| n.node.name == config.name) {
        return Err(RegisterError::NameTaken {
            name: config.name.clone(),
            holder: n.node.node_id,
        });
    }
    let owner_address = Address::of(&owner.public());
    let available = ledger
        .account(&owner_address)
        .await
        .map_err(client("balance"))?
        .balance;
    let needed = Frost(
        opts.stake
            .0
            .saturating_add(system.min_fee.0.saturating_mul(2)),
    );
    if available < needed {
        return Err(RegisterError::InsufficientFunds {
            owner: owner_address,
            needed,
            available,
        });
    }

    let account = NodeAccount::new(
        ledger.clone(),
        genesis.chain_id.clone(),
        genesis.params.min_fee,
    );
    let registration = TxKind::RegisterNode {
        name: config.name.clone(),
        public_key,
        network_address: network_address.clone(),
        http_address: http_address.clone(),
        commission_bps: opts.commission_bps,
        storage_price_vote: opts.storage_price_vote.unwrap_or(system.storage_price),
        write_price_vote: opts.write_price_vote.unwrap_or(system.write_price),
        capacity_vote: opts.capacity_vote,
    };
    let registered_height = submit(&account, &owner, registration, "register", &urls).await?;
    tracing::info!(%node_id, name = %config.name, height = registered_height, "node registered");
    let stake = TxKind::Stake {
        node: node_id,
        amount: opts.stake,
    };
    let height = submit(&account, &owner, stake, "stake", &urls)
        .await
        .map_err(|e| RegisterError::StakeFailed {
            node_id,
            registered_height,
            source: Box::new(e),
        })?;
    tracing::info!(%node_id, stake = %opts.stake, height, "stake committed");
    let node_account = Address::of(&public_key);
    let node_account_balance = ledger
        .account(&node_account)
        .await
        .map(|a| a.balance)
        .unwrap_or(Frost::ZERO);
    Ok(Registered {
        node_id,
        name: config.name.clone(),
        public_key,
        owner: owner_address,
        network_address,
        http_address,
        registered_height,
        stake: opts.stake,
        height,
        node_account,
        node_account_balance,
    })
}

/// Submits `kind` from `owner`, mapping a balance rejection to
/// [`RegisterError::InsufficientFunds`] and a duplicate to [`RegisterError::Rejected`].
async fn submit(
    account: &NodeAccount,
    owner: &KeyPair,
    kind: TxKind,
    step: &'static str,
    urls: &[String],
) -> Result<u64, RegisterError> {
    match account.submit(owner, kind).await {
        Ok(height) => Ok(height),
        Err(LedgerTxError::Rejected(TxError::InsufficientBalance { needed, available })) => {
            Err(RegisterError::InsufficientFunds {
                owner: Address::of(&owner.public()),
                needed,
                available,
            })
        }
        Err(e) => Err(RegisterError::tx(step, urls, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NodeConfig {
        toml::from_str(super::super::config_file::EXAMPLE).unwrap()
    }

    #[test]
    fn addresses_default_to_the_listen_addresses_and_refuse_unspecified_ones() {
        let mut c = config();
        let opts = RegisterOptions::staking(Frost(1));
        assert_eq!(
            addresses(&c, &opts).unwrap(),
            (c.p2p_listen.clone(), c.http_listen.to_string())
        );
        c.p2p_listen = "/ip4/0.0.0.0/tcp/28001".into();
        assert!(matches!(
            addresses(&c, &opts),
            Err(RegisterError::Invalid {
                field: "network_address",
                ..
            })
        ));
        let given = RegisterOptions {
            network_address: Some("/dns4/node.example.org/tcp/28001".into()),
            ..opts.clone()
        };
        assert_eq!(
            addresses(&c, &given).unwrap().0,
            "/dns4/node.example.org/tcp/28001"
        );
        c.http_listen = "0.0.0.0:29001".parse().unwrap();
        assert!(matches!(
            addresses(&c, &given),
            Err(RegisterError::Invalid {
                field: "http_address",
                ..
            })
        ));
        let bad = RegisterOptions {
            network_address: Some("not a multiaddr".into()),
            ..opts
        };
        assert!(matches!(
            addresses(&c, &bad),
            Err(RegisterError::Invalid {
                field: "network_address",
                ..
            })
        ));
    }

    /// Nothing answers at the configured URL: a typed, network-kind error before anything is
    /// signed.
    #[tokio::test]
    async fn unreachable_ledger_is_a_network_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config();
        c.genesis = dir.path().join("genesis.json");
        c.key_file = dir.path().join("key.json");
        let genesis = floe_ledger_types::Genesis::builder("floe-register-test", 4).build();
        std::fs::write(&c.genesis, serde_json::to_vec(&genesis).unwrap()).unwrap();
        floe_runtime::write_key_file(&c.key_file, &KeyPair::from_seed([5; 32])).unwrap();
        let wallet = dir.path().join("wallet.json");
        floe_runtime::write_key_file(&wallet, &KeyPair::from_seed([6; 32])).unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        c.ledger_rpc = vec![format!("http://127.0.0.1:{port}")];
        let err = register(&c, &wallet, &RegisterOptions::staking(Frost(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RegisterError::Unreachable { .. }), "{err:?}");
        assert_eq!(
            (err.kind(), err.code()),
            (ErrorKind::Network, "ledger_unreachable")
        );

        // A missing wallet is a local error, found before the ledger is asked.
        let err = register(
            &c,
            &dir.path().join("none.json"),
            &RegisterOptions::staking(Frost(1)),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, RegisterError::OwnerKey(_)), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Local);
    }
}
