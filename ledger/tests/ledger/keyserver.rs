//! The key server's checks, against a real ledger state: a share only for a reader the policy
//! allows, and typed refusals for forged, replayed, stale, foreign and malformed requests.

use floe_common::privacy::{BlobNonce, EncryptedShare, KeyRequest, KeyServerSecret, deal};
use floe_common::{Epoch, KeyPair, ObjectId, codec};
use floe_ledger::TxKind;
use floe_ledger::keyserver::{FRESHNESS, KeyRequestError, KeyServer};
use floe_ledger::policy::{Denial, PolicyRule};
use rand::SeedableRng as _;

use crate::support::*;

const NOW: u64 = 1_900_000_000_000;

fn servers() -> (
    floe_common::privacy::MasterPublicKey,
    Vec<KeyServerSecret>,
    Vec<floe_common::privacy::KeyServerPublic>,
) {
    deal(&mut rand::rngs::StdRng::seed_from_u64(5), 4, 3).unwrap()
}

fn request(
    key: &KeyPair,
    chain: &str,
    epoch: Epoch,
    policy: ObjectId,
    issued_at_ms: u64,
) -> (floe_common::privacy::EphemeralSecret, Vec<u8>) {
    let (e, signed) = KeyRequest::new_signed(
        &mut rand::rngs::OsRng,
        key,
        chain,
        epoch,
        policy,
        BlobNonce([9; 32]),
        issued_at_ms,
    );
    (e, codec::encode(&signed))
}

fn code(r: Result<EncryptedShare, KeyRequestError>) -> &'static str {
    r.expect_err("refused").code()
}

#[test]
fn a_share_only_for_allowed_readers_and_typed_refusals() {
    let mut net = Net::new();
    let fx = net
        .exec(
            0,
            TxKind::CreatePolicy {
                rule: PolicyRule::Allowlist {
                    members: [addr(&user_key(1))].into(),
                },
            },
        )
        .unwrap();
    let policy = fx.created[0];
    let (_, secrets, publics) = servers();
    let server = KeyServer::new(secrets[1].clone(), CHAIN);
    let epoch = net.state.epoch();
    let answer = |bytes: &[u8], now: u64| server.answer(bytes, &net.state, net.time_ms, now);

    // An allowed reader gets a share that opens and verifies against the server's key.
    let reader = user_key(1);
    let (eph, bytes) = request(&reader, CHAIN, epoch, policy, NOW);
    let share = answer(&bytes, NOW + 1_000).unwrap();
    let req = KeyRequest::verify_signed(&KeyRequest::decode_signed(&bytes).unwrap())
        .unwrap()
        .body;
    let id = req.identity(CHAIN);
    eph.open_verified(&share, &id, &publics[1]).unwrap();
    assert!(
        eph.open_verified(&share, &id, &publics[2]).is_err(),
        "another server's key"
    );

    // The same request again: replayed (even signed for another epoch: the body is the same).
    assert_eq!(code(answer(&bytes, NOW + 2_000)), "replayed");

    // Not on the list: access denied, with the policy named; a later request after the owner
    // adds the reader succeeds (refusals are not remembered).
    let stranger = user_key(2);
    let (_, bytes) = request(&stranger, CHAIN, epoch, policy, NOW);
    match answer(&bytes, NOW) {
        Err(KeyRequestError::AccessDenied(Denial::NotListed { policy: p, .. })) => {
            assert_eq!(p, policy)
        }
        other => panic!("{other:?}"),
    }
    net.exec(
        0,
        TxKind::UpdateAllowlist {
            policy,
            add: vec![addr(&stranger)],
            remove: vec![],
        },
    )
    .unwrap();
    assert!(server.answer(&bytes, &net.state, net.time_ms, NOW).is_ok());

    // A policy that does not exist; an object that is not a policy.
    let (_, bytes) = request(&reader, CHAIN, epoch, ObjectId([7; 32]), NOW);
    assert!(matches!(
        server.answer(&bytes, &net.state, net.time_ms, NOW),
        Err(KeyRequestError::AccessDenied(Denial::UnknownPolicy { .. }))
    ));

    // Forged: signed by another key than the requester's.
    let (_, signed) = KeyRequest::new_signed(
        &mut rand::rngs::OsRng,
        &reader,
        CHAIN,
        epoch,
        policy,
        BlobNonce([1; 32]),
        NOW,
    );
    let mut forged = signed.clone();
    forged.signature = stranger.sign_raw(&signed.serialized);
    let r = server.answer(&codec::encode(&forged), &net.state, net.time_ms, NOW);
    assert_eq!(code(r), "bad_signature");

    // Another chain, an old epoch, a stale or future request.
    let (_, bytes) = request(&reader, "other-chain", epoch, policy, NOW);
    assert_eq!(
        code(server.answer(&bytes, &net.state, net.time_ms, NOW)),
        "wrong_chain"
    );
    net.advance_epochs(3);
    let (_, bytes) = request(&reader, CHAIN, epoch, policy, NOW);
    assert_eq!(
        code(server.answer(&bytes, &net.state, net.time_ms, NOW)),
        "stale_epoch"
    );
    let now_epoch = net.state.epoch();
    let (_, bytes) = request(&reader, CHAIN, Epoch(now_epoch.0 - 1), policy, NOW);
    assert!(
        server.answer(&bytes, &net.state, net.time_ms, NOW).is_ok(),
        "the epoch before"
    );
    let window = FRESHNESS.as_millis() as u64;
    for issued in [NOW - window - 1, NOW + window + 1] {
        let (_, bytes) = request(&reader, CHAIN, now_epoch, policy, issued);
        assert_eq!(
            code(server.answer(&bytes, &net.state, net.time_ms, NOW)),
            "stale_request"
        );
    }

    // Malformed bytes never panic: empty, truncated, garbage, oversized.
    let (_, good) = request(&reader, CHAIN, now_epoch, policy, NOW);
    for bad in [
        vec![],
        good[..good.len() / 2].to_vec(),
        vec![0xff; 300],
        vec![0; 100_000],
    ] {
        assert_eq!(
            code(server.answer(&bad, &net.state, net.time_ms, NOW)),
            "malformed"
        );
    }
    let stats = server.stats();
    assert_eq!(stats.released, 3);
    assert_eq!(stats.denied, 2);
}

#[test]
fn a_genesis_refuses_key_servers_that_do_not_share_its_master_key() {
    let mut g = genesis();
    let (master, _, publics) = servers();
    let servers_of = |publics: &[floe_common::privacy::KeyServerPublic]| {
        g.validators
            .iter()
            .zip(publics)
            .map(|(v, p)| floe_ledger::KeyServerInfo {
                validator: v.name.clone(),
                public: *p,
                url: "http://127.0.0.1:1".into(),
            })
            .collect::<Vec<_>>()
    };
    let good = floe_ledger::KeyServers {
        master,
        threshold: 3,
        servers: servers_of(&publics),
    };
    let (_, _, other) = deal(&mut rand::rngs::StdRng::seed_from_u64(6), 4, 3).unwrap();
    let mut mixed = publics;
    mixed[2] = other[2];
    let bad = floe_ledger::KeyServers {
        servers: servers_of(&mixed),
        ..good
    };
    g.key_servers = Some(good);
    g.validate().unwrap();
    g.key_servers = Some(bad);
    let e = g.validate().unwrap_err();
    assert!(e.to_string().contains("key_servers"), "{e}");
}
