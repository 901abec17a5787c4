use floe_common::Frost;
use floe_ledger::{Event, TxKind};

use crate::support::*;

#[test]
fn transfer_moves_balance_and_charges_fee() {
    let mut net = Net::new();
    let (a, b) = (addr(&user_key(0)), addr(&user_key(1)));
    let fx = net
        .exec(
            0,
            TxKind::Transfer {
                to: b,
                amount: Frost(1234),
            },
        )
        .unwrap();
    assert_eq!(fx.fee_charged, MIN_FEE);
    assert_eq!(
        fx.events,
        vec![Event::Transfer {
            from: a,
            to: b,
            amount: Frost(1234)
        }]
    );
    assert_eq!(net.balance(&a), Frost(USER_FUNDS.0 - 1234 - MIN_FEE.0));
    assert_eq!(net.balance(&b), Frost(USER_FUNDS.0 + 1234));
    assert_eq!(net.nonce(&a), 1);
    assert_eq!(net.state.system().fee_pool, MIN_FEE);
    net.state.check_supply().unwrap();
}

#[test]
fn adv_failed_tx_pays_and_consumes_nonce() {
    let mut net = Net::new();
    let sender = user_key(0);
    let a = addr(&sender);
    let b = addr(&user_key(1));
    let (nonce, balance, fees) = (net.nonce(&a), net.balance(&a), net.state.system().fee_pool);
    // Passes the fee, nonce and balance-for-fee checks, then fails in execution.
    let failure = net
        .exec_full(
            &sender,
            nonce,
            MIN_FEE,
            TxKind::Transfer {
                to: b,
                amount: USER_FUNDS,
            },
        )
        .unwrap_err();
    assert_eq!(failure.code(), "insufficient_balance");
    assert_eq!(failure.fee_charged, Some(MIN_FEE));
    assert_eq!(net.nonce(&a), nonce + 1, "the nonce is consumed");
    assert_eq!(
        net.balance(&a),
        Frost(balance.0 - MIN_FEE.0),
        "the fee is paid"
    );
    assert_eq!(net.state.system().fee_pool, Frost(fees.0 + MIN_FEE.0));
    assert_eq!(net.balance(&b), USER_FUNDS, "nothing else moved");
    net.state.check_supply().unwrap();
    // The same signed transaction again (a replay): its nonce is spent, it changes nothing.
    let before = net.state.clone();
    let replay = net
        .exec_full(
            &sender,
            nonce,
            MIN_FEE,
            TxKind::Transfer {
                to: b,
                amount: USER_FUNDS,
            },
        )
        .unwrap_err();
    assert_eq!(replay.code(), "nonce_too_low");
    assert_eq!(replay.fee_charged, None);
    assert!(net.state == before);

    // A fresh account cannot even pay the fee: refused, nothing charged, nonce kept.
    let poor = KeyPairExt::fresh(50);
    let before = net.state.clone();
    let failure = net
        .exec_full(
            &poor,
            0,
            MIN_FEE,
            TxKind::Transfer {
                to: b,
                amount: Frost(0),
            },
        )
        .unwrap_err();
    assert_eq!(failure.code(), "insufficient_balance");
    assert_eq!(failure.fee_charged, None);
    assert!(net.state == before);
}

struct KeyPairExt;
impl KeyPairExt {
    fn fresh(i: u8) -> floe_common::KeyPair {
        floe_common::KeyPair::from_seed([i; 32])
    }
}

#[test]
fn nonces_replay_and_gaps() {
    let mut net = Net::new();
    let k = user_key(0);
    let to = addr(&user_key(1));
    let kind = TxKind::Transfer {
        to,
        amount: Frost(1),
    };
    net.exec_raw(&k, 0, MIN_FEE, kind.clone()).unwrap();
    let before = net.state.clone();
    let e = net.exec_raw(&k, 0, MIN_FEE, kind.clone()).unwrap_err();
    assert_eq!(e.code(), "nonce_too_low");
    let e = net.exec_raw(&k, 5, MIN_FEE, kind.clone()).unwrap_err();
    assert_eq!(e.code(), "nonce_too_high");
    let e = net
        .exec_raw(&k, 1, Frost(MIN_FEE.0 - 1), kind.clone())
        .unwrap_err();
    assert_eq!(e.code(), "fee_too_low");
    assert!(net.state == before);
    net.exec_raw(&k, 1, Frost(100), kind).unwrap();
    assert_eq!(net.state.system().fee_pool, Frost(MIN_FEE.0 + 100));
}

#[test]
fn faucet_mints_within_cap() {
    let mut net = Net::new();
    let fresh = KeyPairExt::fresh(77);
    let a = addr(&fresh);
    let supply = net.state.system().total_supply;
    // A new account pays the fee out of what the faucet gives it.
    let fx = net
        .exec_key(&fresh, TxKind::Faucet { amount: FAUCET_MAX })
        .unwrap();
    assert_eq!(
        fx.events,
        vec![Event::Minted {
            to: a,
            amount: FAUCET_MAX
        }]
    );
    assert_eq!(net.balance(&a), Frost(FAUCET_MAX.0 - MIN_FEE.0));
    assert_eq!(
        net.state.system().total_supply,
        Frost(supply.0 + FAUCET_MAX.0)
    );
    net.state.check_supply().unwrap();
    net.reject(
        0,
        TxKind::Faucet {
            amount: Frost(FAUCET_MAX.0 + 1),
        },
        "faucet_limit",
    );
    let mut g = genesis();
    g.faucet = None;
    let mut net = Net::from_genesis(&g);
    net.reject(0, TxKind::Faucet { amount: Frost(1) }, "faucet_disabled");
}

#[test]
fn epoch_follows_block_time() {
    let mut net = Net::new();
    assert_eq!(net.state.epoch().0, 0);
    // apply advances the epoch from its context too (without begin_block).
    net.time_ms += 3 * EPOCH_MS + 1;
    net.exec(
        0,
        TxKind::Transfer {
            to: addr(&user_key(1)),
            amount: Frost(1),
        },
    )
    .unwrap();
    assert_eq!(net.state.epoch().0, 3);
    assert_eq!(net.state.committee().epoch().0, 3);
    // begin_block never goes backwards.
    net.time_ms = GENESIS_MS;
    assert!(!net.state.begin_block(&net.ctx()));
    assert_eq!(net.state.epoch().0, 3);
    net.time_ms = GENESIS_MS + 3 * EPOCH_MS;
    net.advance_epochs(2);
    assert_eq!(net.state.epoch().0, 5);
}

/// The faucet's caps: per account over the chain's life, per epoch and in all, each refused
/// with its typed error and leaving the state unchanged; the counters are state (persisted and
/// in the digest); a non-devnet genesis cannot have a faucet at all.
#[test]
fn adv_faucet_caps() {
    use floe_ledger::{FaucetMinted, GenesisError, State, TxError};
    let mut net = Net::new();
    let full = TxKind::Faucet { amount: FAUCET_MAX };
    let calls_per_account = FAUCET_ACCOUNT.0 / FAUCET_MAX.0;
    let drawn = |net: &Net, k| net.state.account(&addr(k)).unwrap().faucet_drawn;

    // One account draws its whole allowance, call by call; then not one FROST more.
    let first = KeyPairExt::fresh(80);
    for _ in 0..calls_per_account {
        net.exec_key(&first, full.clone()).unwrap();
    }
    assert_eq!(drawn(&net, &first), FAUCET_ACCOUNT);
    let err = net.reject_key(
        &first,
        TxKind::Faucet { amount: Frost(1) },
        "faucet_account_cap",
    );
    assert_eq!(
        err,
        TxError::FaucetAccountCap {
            asked: Frost(1),
            drawn: FAUCET_ACCOUNT,
            max: FAUCET_ACCOUNT
        }
    );
    // Even after it spends what it drew.
    net.exec_key(
        &first,
        TxKind::Transfer {
            to: addr(&user_key(0)),
            amount: Frost(FAUCET_ACCOUNT.0 / 2),
        },
    )
    .unwrap();
    net.reject_key(&first, full.clone(), "faucet_account_cap");

    // The epoch's allowance, all accounts together: a second account fills it, a third is
    // refused until the next epoch.
    let second = KeyPairExt::fresh(81);
    for _ in 0..(FAUCET_EPOCH.0 - FAUCET_ACCOUNT.0) / FAUCET_MAX.0 {
        net.exec_key(&second, full.clone()).unwrap();
    }
    let epoch = net.state.epoch();
    assert_eq!(
        net.state.system().faucet_minted,
        FaucetMinted {
            total: FAUCET_EPOCH,
            epoch,
            epoch_total: FAUCET_EPOCH
        }
    );
    let third = KeyPairExt::fresh(82);
    let err = net.reject_key(&third, full.clone(), "faucet_epoch_cap");
    assert_eq!(
        err,
        TxError::FaucetEpochCap {
            epoch,
            asked: FAUCET_MAX,
            minted: FAUCET_EPOCH,
            max: FAUCET_EPOCH
        }
    );
    net.advance_epochs(1);
    net.exec_key(&third, full.clone()).unwrap();
    assert_eq!(
        net.state.system().faucet_minted.in_epoch(net.state.epoch()),
        FAUCET_MAX
    );

    // The lifetime total: reached in the second epoch (8 + 8 + 8 calls), then the faucet is
    // dry for everyone, in every later epoch.
    for _ in 1..calls_per_account {
        net.exec_key(&third, full.clone()).unwrap();
    }
    assert_eq!(net.state.system().faucet_minted.total, FAUCET_TOTAL);
    net.advance_epochs(1);
    let fourth = KeyPairExt::fresh(83);
    let err = net.reject_key(&fourth, full, "faucet_total_cap");
    assert_eq!(
        err,
        TxError::FaucetTotalCap {
            asked: FAUCET_MAX,
            minted: FAUCET_TOTAL,
            max: FAUCET_TOTAL
        }
    );
    assert_eq!(
        net.state.system().total_supply,
        Frost(genesis().total_supply().unwrap().0 + FAUCET_TOTAL.0)
    );
    net.state.check_supply().unwrap();

    // The counters are state: they survive a rebuild from the entries...
    let rebuilt = State::from_entries(net.state.entries()).unwrap();
    assert!(rebuilt == net.state);
    assert_eq!(
        rebuilt.account(&addr(&first)).unwrap().faucet_drawn,
        FAUCET_ACCOUNT
    );
    // ...and are in the digest: forgetting one account's draws (its entry, table 0x01,
    // rewritten) gives another digest.
    let mut account = *net.state.account(&addr(&first)).unwrap();
    account.faucet_drawn = Frost::ZERO;
    let key = [&[1u8][..], &addr(&first).0].concat();
    let forgot = State::from_entries(
        net.state
            .entries()
            .into_iter()
            .chain([(key, floe_common::codec::encode(&account))]),
    )
    .unwrap();
    assert_ne!(forgot.digest(), net.state.digest());

    // Only a devnet may have a faucet.
    let mut g = genesis();
    g.devnet = false;
    assert_eq!(g.validate(), Err(GenesisError::FaucetNotDevnet));
    assert!(State::from_genesis(&g).is_err());
    g.faucet = None;
    g.validate().unwrap();
}
