//! Property and unit tests for the engine wire codec, [`FloeCodec`].
//!
//! - Round trips: `decode(encode(x)) == x`, and re-encoding is byte-identical, for every type the
//!   engine puts on the wire or in its WAL, over generated heights, rounds (nil, small,
//!   `u32::MAX`), nil and non-nil values, both vote types, empty and non-empty signature lists,
//!   `Data`/`Fin` stream messages and proposal parts carrying blocks of real signed transactions.
//! - `HasEncodedLen` agrees with `encode`.
//! - Hostile input is an error, never a panic: every proper prefix, trailing bytes, random bytes,
//!   byte flips, out-of-range rounds patched into valid encodings, unknown tags, over-long fields
//!   and inputs over [`MAX_WIRE_BYTES`].
//! - Signatures survive the codec: a decoded vote verifies over `Vote::sign_bytes`, a precommit's
//!   sign bytes are `cert::vote_sign_bytes`, and an engine commit certificate sent through sync
//!   verifies with the engine-free checks of [`floe_ledger_types::cert`] that clients run.

use std::fmt::Debug;

use bytes::Bytes;
use floe_common::{CodecError, Digest, Frost, KeyPair, Signature};
use floe_ledger::consensus::codec::{FloeCodec, MAX_WIRE_BYTES, WireError, to_floe_cert};
use floe_ledger::consensus::context::{FloeContext, Height, Proposal, ProposalPart, Vote};
use floe_ledger::consensus::signing::{FloeSigner, FloeVerifier};
use floe_ledger_types::block::{Block, BlockHash, BlockHeader, tx_root};
use floe_ledger_types::cert::{self, ValidatorAddress, ValidatorInfo, VoteKind};
use floe_ledger_types::tx::{Address, SignedTransaction, Transaction, TxKind};
use futures::executor::block_on;
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::engine::util::streaming::StreamContent;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    Context as _, ExtendedCommitCertificate as CommitCert, ExtendedCommitSignature, NilOrVal,
    PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::streaming::{StreamId, StreamMessage};
use malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg, sync};
use malachitebft_signing::{Signer, Verifier};
use malachitebft_sync::{ValueRequest, ValueResponse};
use proptest::collection::vec;
use proptest::prelude::*;

const CHAIN: &str = "floe-test-1";

type Ctx = FloeContext;
type Consensus = SignedConsensusMsg<Ctx>;
type Liveness = LivenessMsg<Ctx>;
type Stream = StreamMessage<ProposalPart>;
type Proof = ValidatorProof<Ctx>;
type Status = sync::Status<Ctx>;
type Request = sync::Request<Ctx>;
type Response = sync::Response<Ctx>;
type Proposed = ProposedValue<Ctx>;
type Polka = PolkaCertificate<Ctx>;
type Sigs = Vec<(ValidatorAddress, Signature)>;

// ---- constructors ----

fn vote(kind: VoteType, h: u64, r: Round, v: NilOrVal<BlockHash>, by: ValidatorAddress) -> Vote {
    let ctx = FloeContext::new(CHAIN);
    match kind {
        VoteType::Prevote => ctx.new_prevote(Height(h), r, v, by),
        VoteType::Precommit => ctx.new_precommit(Height(h), r, v, by),
    }
}

fn proposal(h: u64, r: Round, v: BlockHash, pol: Round, by: ValidatorAddress) -> Proposal {
    FloeContext::new(CHAIN).new_proposal(Height(h), r, v, pol, by)
}

fn polka_cert(h: u64, round: Round, value_id: BlockHash, sigs: Sigs) -> Polka {
    let polka_signatures = sigs
        .into_iter()
        .map(|(a, s)| PolkaSignature::new(a, s))
        .collect();
    PolkaCertificate {
        height: Height(h),
        round,
        value_id,
        polka_signatures,
    }
}

fn skip_cert(
    h: u64,
    round: Round,
    precommit: bool,
    round_signatures: Vec<RoundSignature<Ctx>>,
) -> Liveness {
    let cert_type = if precommit {
        RoundCertificateType::Precommit
    } else {
        RoundCertificateType::Skip
    };
    LivenessMsg::SkipRoundCertificate(RoundCertificate {
        height: Height(h),
        round,
        cert_type,
        round_signatures,
    })
}

fn commit_cert(h: u64, round: Round, value_id: BlockHash, sigs: Sigs) -> CommitCert<Ctx> {
    let commit_signatures = sigs
        .into_iter()
        .map(|(a, s)| ExtendedCommitSignature::new(a, s, None))
        .collect();
    CommitCert {
        height: Height(h),
        round,
        value_id,
        commit_signatures,
    }
}

fn response(start: u64, values: Vec<(Vec<u8>, CommitCert<Ctx>)>) -> Response {
    let values = values
        .into_iter()
        .map(|(b, c)| sync::RawDecidedValue::new(b.into(), c))
        .collect();
    sync::Response::ValueResponse(ValueResponse::new(Height(start), values))
}

fn proposed(
    h: u64,
    round: Round,
    valid_round: Round,
    proposer: ValidatorAddress,
    value: BlockHash,
    valid: bool,
) -> Proposed {
    let (height, validity) = (Height(h), Validity::from_bool(valid));
    ProposedValue {
        height,
        round,
        valid_round,
        proposer,
        value,
        validity,
    }
}

/// A proposal part whose block holds real signed transfers `(nonce, amount)`, signed by its
/// proposer (key seed `seed`).
fn make_part(
    seed: u8,
    height: u64,
    round: Round,
    pol_round: Round,
    txs: &[(u64, u64)],
) -> ProposalPart {
    let key = KeyPair::from_seed([seed; 32]);
    let proposer = ValidatorAddress::of(&key.public());
    let txs: Vec<SignedTransaction> = (txs.iter().enumerate())
        .map(|(i, &(nonce, amount))| {
            let sender_key = KeyPair::from_seed([i as u8 + 1; 32]);
            let (sender, fee) = (Address::of(&sender_key.public()), Frost(1_000));
            let kind = TxKind::Transfer {
                to: Address([7; 32]),
                amount: Frost(amount),
            };
            let tx = Transaction {
                sender,
                nonce,
                fee,
                kind,
            };
            SignedTransaction::sign(&sender_key, tx, CHAIN)
        })
        .collect();
    let header = BlockHeader {
        chain_id: CHAIN.into(),
        height,
        parent_hash: BlockHash([height as u8; 32]),
        timestamp_ms: 1_700_000_000_000 + height,
        proposer,
        tx_root: tx_root(&txs),
        app_hash: Digest([seed; 32]),
    };
    let (round, pol_round, block) = (round.as_i64(), pol_round.as_i64(), Block { header, txs });
    let mut part = ProposalPart {
        height,
        round,
        pol_round,
        proposer,
        block,
        signature: Signature([0; 64]),
    };
    part.signature = key.sign_raw(&part.sign_bytes(CHAIN));
    part
}

/// A SHA-256 multihash peer id.
fn peer(fill: u8) -> Vec<u8> {
    [[0x12, 0x20].as_slice(), &[fill; 32]].concat()
}

// ---- strategies ----

fn round() -> impl Strategy<Value = Round> {
    let any_round = any::<u32>().prop_map(Round::new);
    prop_oneof![
        Just(Round::Nil),
        (0u32..8).prop_map(Round::new),
        any_round,
        Just(Round::new(u32::MAX))
    ]
}

fn hash() -> impl Strategy<Value = BlockHash> {
    any::<[u8; 32]>().prop_map(BlockHash)
}

fn addr() -> impl Strategy<Value = ValidatorAddress> {
    any::<[u8; 32]>().prop_map(ValidatorAddress)
}

fn sig() -> impl Strategy<Value = Signature> {
    vec(any::<u8>(), 64).prop_map(|v| Signature(v.try_into().unwrap()))
}

fn sigs() -> impl Strategy<Value = Sigs> {
    vec((addr(), sig()), 0..5)
}

fn nil_or_val() -> impl Strategy<Value = NilOrVal<BlockHash>> {
    prop::option::of(hash()).prop_map(|h| h.map_or(NilOrVal::Nil, NilOrVal::Val))
}

fn vote_type() -> impl Strategy<Value = VoteType> {
    prop_oneof![Just(VoteType::Prevote), Just(VoteType::Precommit)]
}

fn signed_vote() -> impl Strategy<Value = SignedMessage<Ctx, Vote>> {
    (
        vote_type(),
        any::<u64>(),
        round(),
        nil_or_val(),
        addr(),
        sig(),
    )
        .prop_map(|(k, h, r, v, a, s)| SignedMessage::new(vote(k, h, r, v, a), s))
}

fn consensus_msg() -> impl Strategy<Value = Consensus> {
    let p = (any::<u64>(), round(), hash(), round(), addr(), sig())
        .prop_map(|(h, r, v, pol, a, s)| SignedMessage::new(proposal(h, r, v, pol, a), s));
    prop_oneof![
        signed_vote().prop_map(SignedConsensusMsg::Vote),
        p.prop_map(SignedConsensusMsg::Proposal)
    ]
}

fn polka() -> impl Strategy<Value = Polka> {
    (any::<u64>(), round(), hash(), sigs()).prop_map(|(h, r, v, s)| polka_cert(h, r, v, s))
}

fn liveness_msg() -> impl Strategy<Value = Liveness> {
    let rsig = (vote_type(), nil_or_val(), addr(), sig())
        .prop_map(|(t, v, a, s)| RoundSignature::new(t, v, a, s));
    let skip = (any::<u64>(), round(), any::<bool>(), vec(rsig, 0..5))
        .prop_map(|(h, r, p, s)| skip_cert(h, r, p, s));
    let polka = polka().prop_map(LivenessMsg::PolkaCertificate);
    prop_oneof![signed_vote().prop_map(LivenessMsg::Vote), polka, skip]
}

fn part() -> impl Strategy<Value = ProposalPart> {
    (
        any::<u8>(),
        any::<u64>(),
        round(),
        round(),
        vec(any::<(u64, u64)>(), 0..4),
    )
        .prop_map(|(seed, h, r, pol, txs)| make_part(seed, h, r, pol, &txs))
}

fn stream_msg() -> impl Strategy<Value = Stream> {
    let content = prop_oneof![
        part().prop_map(StreamContent::Data),
        Just(StreamContent::Fin)
    ];
    (vec(any::<u8>(), 0..=64), any::<u64>(), content)
        .prop_map(|(id, seq, content)| StreamMessage::new(StreamId::new(id.into()), seq, content))
}

fn proof() -> impl Strategy<Value = Proof> {
    (vec(any::<u8>(), 0..=64), vec(any::<u8>(), 0..=128), sig())
        .prop_map(|(k, p, s)| ValidatorProof::new(k, p, s))
}

/// SHA-256 multihashes and identity multihashes of up to 42 bytes.
fn status() -> impl Strategy<Value = Status> {
    let identity = vec(any::<u8>(), 0..=42).prop_map(|d| [&[0x00, d.len() as u8][..], &d].concat());
    let peer_id = prop_oneof![any::<u8>().prop_map(peer), identity]
        .prop_map(|b| PeerId::from_bytes(&b).unwrap());
    (peer_id, any::<u64>(), any::<u64>()).prop_map(|(peer_id, tip, min)| sync::Status {
        peer_id,
        tip_height: Height(tip),
        history_min_height: Height(min),
    })
}

fn request() -> impl Strategy<Value = Request> {
    (any::<u64>(), any::<u64>())
        .prop_map(|(a, b)| sync::Request::ValueRequest(ValueRequest::new(Height(a)..=Height(b))))
}

fn any_response() -> impl Strategy<Value = Response> {
    let cert =
        (any::<u64>(), round(), hash(), sigs()).prop_map(|(h, r, v, s)| commit_cert(h, r, v, s));
    (any::<u64>(), vec((vec(any::<u8>(), 0..300), cert), 0..5))
        .prop_map(|(start, vs)| response(start, vs))
}

fn any_proposed() -> impl Strategy<Value = Proposed> {
    (
        any::<u64>(),
        round(),
        round(),
        addr(),
        hash(),
        any::<bool>(),
    )
        .prop_map(|(h, r, vr, a, v, ok)| proposed(h, r, vr, a, v, ok))
}

// ---- helpers ----

/// Asserts `decode(encode(x)) == x` and that re-encoding is canonical; returns the encoding.
fn roundtrip<T: PartialEq + Debug>(x: &T) -> Bytes
where
    FloeCodec: Codec<T>,
{
    let bytes = FloeCodec.encode(x).expect("encode");
    let back: T = FloeCodec.decode(bytes.clone()).expect("decode");
    assert_eq!(&back, x);
    assert_eq!(FloeCodec.encode(&back).expect("re-encode"), bytes);
    bytes
}

fn decode<T>(bytes: &[u8]) -> Result<T, WireError>
where
    FloeCodec: Codec<T, Error = WireError>,
{
    FloeCodec.decode(Bytes::copy_from_slice(bytes))
}

/// Decodes as `T` and encodes again.
type Recode = fn(&[u8]) -> Result<Bytes, WireError>;

fn recode<T>(bytes: &[u8]) -> Result<Bytes, WireError>
where
    FloeCodec: Codec<T, Error = WireError>,
{
    FloeCodec.encode(&decode::<T>(bytes)?)
}

const RECODERS: [Recode; 10] = [
    recode::<ProposalPart>,
    recode::<Consensus>,
    recode::<Liveness>,
    recode::<Stream>,
    recode::<Proof>,
    recode::<Status>,
    recode::<Request>,
    recode::<Response>,
    recode::<Proposed>,
    recode::<Polka>,
];

fn case<T>(msg: &T) -> (Bytes, Recode)
where
    FloeCodec: Codec<T, Error = WireError>,
{
    (FloeCodec.encode(msg).unwrap(), recode::<T>)
}

fn a(i: u8) -> ValidatorAddress {
    ValidatorAddress([i; 32])
}

fn h(i: u8) -> BlockHash {
    BlockHash([i; 32])
}

fn fixed_sigs(n: usize) -> Sigs {
    (0..n).map(|i| (a(i as u8), Signature([9; 64]))).collect()
}

/// A small valid encoding of every type (and of a `Fin`), with its decoder.
fn small_cases() -> Vec<(Bytes, Recode)> {
    let part = make_part(3, 5, Round::new(1), Round::Nil, &[(0, 10)]);
    let id = StreamId::new(Bytes::from_static(b"id"));
    let peer_id = PeerId::from_bytes(&peer(9)).unwrap();
    let vote = SignedMessage::new(
        vote(VoteType::Prevote, 9, Round::new(2), NilOrVal::Nil, a(1)),
        Signature([5; 64]),
    );
    vec![
        case(&part),
        case::<Consensus>(&SignedConsensusMsg::Vote(vote)),
        case::<Liveness>(&LivenessMsg::PolkaCertificate(polka_cert(
            2,
            Round::ZERO,
            h(6),
            fixed_sigs(2),
        ))),
        case(&StreamMessage::new(
            id.clone(),
            0,
            StreamContent::Data(part),
        )),
        case::<Stream>(&StreamMessage::new(id, 1, StreamContent::Fin)),
        case::<Proof>(&ValidatorProof::new(
            vec![1; 32],
            peer(2),
            Signature([3; 64]),
        )),
        case::<Status>(&sync::Status {
            peer_id,
            tip_height: Height(10),
            history_min_height: Height(1),
        }),
        case::<Request>(&sync::Request::ValueRequest(ValueRequest::new(
            Height(1)..=Height(3),
        ))),
        case(&response(
            4,
            vec![(
                b"block".to_vec(),
                commit_cert(4, Round::new(1), h(8), fixed_sigs(2)),
            )],
        )),
        case(&proposed(3, Round::new(1), Round::Nil, a(2), h(1), true)),
        case(&polka_cert(2, Round::new(1), h(6), fixed_sigs(1))),
    ]
}

/// Marker round: its little-endian `i64` occurs once in the messages built with it.
const MARK: u32 = 0x5A3C_9E71;

/// `bytes` with the one `i64` encoding of [`MARK`] replaced by `round`.
fn patch_round(bytes: &[u8], round: i64) -> Vec<u8> {
    let mark = i64::from(MARK).to_le_bytes();
    let at: Vec<usize> = (0..=bytes.len() - 8)
        .filter(|&i| bytes[i..i + 8] == mark)
        .collect();
    assert_eq!(at.len(), 1, "marker must occur exactly once");
    let mut out = bytes.to_vec();
    out[at[0]..at[0] + 8].copy_from_slice(&round.to_le_bytes());
    out
}

// ---- properties ----

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn proposal_part_roundtrips_and_stays_signed(p in part()) {
        let back: ProposalPart = FloeCodec.decode(roundtrip(&p)).unwrap();
        prop_assert_eq!(back.block.header.tx_root, tx_root(&back.block.txs));
        let proposer = back.proposer.public_key();
        prop_assert!(proposer.verify(&back.sign_bytes(CHAIN), &back.signature).is_ok());
    }

    #[test]
    fn engine_messages_roundtrip(
        c in consensus_msg(),
        l in liveness_msg(),
        p in polka(),
        v in any_proposed(),
    ) {
        roundtrip(&c);
        roundtrip(&l);
        roundtrip(&p);
        roundtrip(&v);
    }

    #[test]
    fn network_messages_roundtrip(m in stream_msg(), p in proof(), s in status(), q in request()) {
        roundtrip(&m);
        roundtrip(&p);
        roundtrip(&s);
        roundtrip(&q);
    }

    #[test]
    fn response_roundtrips_with_encoded_len(r in any_response()) {
        let bytes = roundtrip(&r);
        prop_assert_eq!(FloeCodec.encoded_len(&r).unwrap(), bytes.len());
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        for recode in RECODERS {
            let _ = recode(&bytes);
        }
    }

    #[test]
    fn mutated_encodings_never_panic(
        which in any::<prop::sample::Index>(),
        flips in vec((any::<prop::sample::Index>(), 1..=u8::MAX), 1..4),
    ) {
        let cases = small_cases();
        let (bytes, recode) = &cases[which.index(cases.len())];
        let mut b = bytes.to_vec();
        for (i, x) in flips {
            b[i.index(bytes.len())] ^= x;
        }
        // Whatever still decodes is canonical.
        if let Ok(again) = recode(&b) {
            prop_assert_eq!(&again[..], &b[..]);
        }
    }

    #[test]
    fn signed_vote_survives_codec(
        kind in vote_type(),
        height in any::<u64>(),
        r in any::<u32>(),
        value in nil_or_val(),
        seed in any::<[u8; 32]>(),
    ) {
        let key = KeyPair::from_seed(seed);
        let signer = FloeSigner::new(KeyPair::from_seed(seed), CHAIN);
        let v = vote(kind, height, Round::new(r), value, signer.address());
        let signed = block_on(signer.sign_vote(v)).unwrap();
        let bytes = roundtrip(&SignedConsensusMsg::Vote(signed.clone()));
        let Ok(SignedConsensusMsg::Vote(back)) = decode::<Consensus>(&bytes) else {
            panic!("not a vote")
        };
        let (msg, s) = (&back.message, &back.signature);
        prop_assert!(key.public().verify(&msg.sign_bytes(CHAIN), s).is_ok());
        prop_assert!(key.public().verify(&msg.sign_bytes("other-chain"), s).is_err());
        let ok = block_on(FloeVerifier::new(CHAIN).verify_signed_vote(msg, s, &key.public()));
        prop_assert!(ok.unwrap().is_valid());
        if let (VoteType::Precommit, NilOrVal::Val(hash)) = (kind, value) {
            let (kind, r) = (VoteKind::Precommit, i64::from(r));
            let by = signer.address();
            let expect = cert::vote_sign_bytes(CHAIN, kind, height, r, Some(hash), by);
            prop_assert_eq!(msg.sign_bytes(CHAIN), expect);
        }
        // The same vote gossiped as a liveness message.
        let live = roundtrip(&LivenessMsg::Vote(signed));
        let Ok(LivenessMsg::Vote(back)) = decode::<Liveness>(&live) else { panic!("not a vote") };
        prop_assert!(key.public().verify(&back.message.sign_bytes(CHAIN), &back.signature).is_ok());
    }
}

// ---- unit tests ----

#[test]
fn every_prefix_and_trailing_bytes_are_rejected() {
    for (i, (bytes, recode)) in small_cases().into_iter().enumerate() {
        assert_eq!(recode(&bytes).unwrap(), bytes);
        for n in 0..bytes.len() {
            assert!(
                recode(&bytes[..n]).is_err(),
                "case {i}: prefix of {n} bytes decoded"
            );
        }
        for extra in [&[0u8][..], &[0xff], &[1, 2, 3]] {
            assert!(
                recode(&[&bytes[..], extra].concat()).is_err(),
                "case {i}: trailing {extra:?}"
            );
        }
    }
}

#[test]
fn out_of_range_rounds_are_rejected() {
    let (m, nil, zero, s) = (
        Round::new(MARK),
        Round::Nil,
        Round::ZERO,
        Signature([3; 64]),
    );
    let v = SignedMessage::new(
        vote(VoteType::Precommit, 9, m, NilOrVal::Val(h(3)), a(1)),
        s,
    );
    let round_cases = [
        case::<Consensus>(&SignedConsensusMsg::Vote(v.clone())),
        case::<Liveness>(&LivenessMsg::Vote(v)),
        case::<Consensus>(&SignedConsensusMsg::Proposal(SignedMessage::new(
            proposal(1, m, h(1), nil, a(2)),
            s,
        ))),
        case::<Consensus>(&SignedConsensusMsg::Proposal(SignedMessage::new(
            proposal(1, zero, h(1), m, a(2)),
            s,
        ))),
        case(&polka_cert(2, m, h(6), fixed_sigs(2))),
        case::<Liveness>(&LivenessMsg::PolkaCertificate(polka_cert(
            2,
            m,
            h(6),
            fixed_sigs(1),
        ))),
        case(&skip_cert(2, m, false, vec![])),
        case(&proposed(3, m, nil, a(2), h(1), true)),
        case(&proposed(3, zero, m, a(2), h(1), false)),
        case(&response(
            4,
            vec![(b"block".to_vec(), commit_cert(4, m, h(8), fixed_sigs(2)))],
        )),
    ];
    let max = i64::from(u32::MAX);
    for (i, (bytes, recode)) in round_cases.iter().enumerate() {
        // −1 (nil) and u32::MAX decode, to exactly that round (the re-encoding is identical).
        for ok in [-1, 0, max] {
            let patched = patch_round(bytes, ok);
            assert_eq!(recode(&patched).unwrap(), patched, "case {i}: round {ok}");
        }
        for bad in [-2, i64::MIN, max + 1, i64::MAX] {
            let err = recode(&patch_round(bytes, bad)).unwrap_err();
            assert!(
                matches!(err, WireError::Round(r) if r == bad),
                "case {i}: {bad}: {err:?}"
            );
        }
    }
}

#[test]
fn unknown_tags_are_rejected() {
    let cases = small_cases();
    let patched = |case: usize, at: usize, byte: u8| {
        let mut b = cases[case].0.to_vec();
        b[at] = byte;
        (cases[case].1)(&b)
    };
    // SignedConsensusMsg: [variant, vote kind, ...]; LivenessMsg: [variant, ...].
    for (at, byte) in [(0, 2), (0, 0x80), (1, 2), (1, 0xff)] {
        assert!(
            patched(1, at, byte).is_err(),
            "consensus byte {at} = {byte}"
        );
    }
    assert!(patched(2, 0, 3).is_err());
    // ProposedValue's `valid` (its last byte) is a bool: 2 is not one.
    let last = cases[9].0.len() - 1;
    assert!(patched(9, last, 2).is_err());
    // A status whose peer id is a multihash code libp2p does not accept (sha2-512).
    assert!(matches!(patched(6, 1, 0x13), Err(WireError::PeerId)));
    // A skip-round signature of vote kind 2. Layout: variant, height, round, precommit, len, kind.
    let rs = RoundSignature::new(VoteType::Prevote, NilOrVal::Nil, a(1), Signature([0; 64]));
    let mut b = roundtrip(&skip_cert(2, Round::ZERO, true, vec![rs])).to_vec();
    assert_eq!(b[19], 0);
    b[19] = 2;
    assert!(matches!(decode::<Liveness>(&b), Err(WireError::Invalid(_))));
}

#[test]
fn field_limits_are_enforced() {
    // Signature lists: 1024 decode, 1025 do not.
    roundtrip(&polka_cert(1, Round::ZERO, h(1), fixed_sigs(1024)));
    let b = FloeCodec
        .encode(&polka_cert(1, Round::ZERO, h(1), fixed_sigs(1025)))
        .unwrap();
    assert!(matches!(decode::<Polka>(&b), Err(WireError::Invalid(_))));
    let r = response(
        1,
        vec![(vec![], commit_cert(1, Round::ZERO, h(1), fixed_sigs(1025)))],
    );
    assert!(matches!(
        decode::<Response>(&FloeCodec.encode(&r).unwrap()),
        Err(WireError::Invalid(_))
    ));
    // Stream ids up to 64 bytes; validator-proof keys up to 64 and peer ids up to 128.
    let stream = |n: usize| Stream::new(StreamId::new(vec![1; n].into()), 0, StreamContent::Fin);
    roundtrip(&stream(64));
    assert!(decode::<Stream>(&FloeCodec.encode(&stream(65)).unwrap()).is_err());
    let proof = |k: usize, p: usize| Proof::new(vec![1; k], vec![2; p], Signature([0; 64]));
    roundtrip(&proof(64, 128));
    assert!(decode::<Proof>(&FloeCodec.encode(&proof(65, 0)).unwrap()).is_err());
    assert!(decode::<Proof>(&FloeCodec.encode(&proof(0, 129)).unwrap()).is_err());
}

#[test]
fn inputs_over_max_wire_bytes_are_rejected() {
    // A response of exactly MAX_WIRE_BYTES decodes; one byte more does not, nor does junk.
    let resp = |n: usize| {
        response(
            1,
            vec![(
                vec![0xab; n],
                commit_cert(1, Round::ZERO, h(1), fixed_sigs(1)),
            )],
        )
    };
    let probe = MAX_WIRE_BYTES - 1000;
    let overhead = FloeCodec.encoded_len(&resp(probe)).unwrap() - probe;
    let exact = resp(MAX_WIRE_BYTES - overhead);
    let bytes = FloeCodec.encode(&exact).unwrap();
    assert_eq!(bytes.len(), MAX_WIRE_BYTES);
    assert_eq!(decode::<Response>(&bytes).unwrap(), exact);
    let over = FloeCodec
        .encode(&resp(MAX_WIRE_BYTES - overhead + 1))
        .unwrap();
    assert_eq!(over.len(), MAX_WIRE_BYTES + 1);
    let too_large = |r: Result<Bytes, WireError>| {
        matches!(r, Err(WireError::Codec(CodecError::TooLarge { .. })))
    };
    assert!(too_large(recode::<Response>(&over)));
    let junk = vec![0u8; MAX_WIRE_BYTES + 1];
    for recode in RECODERS {
        assert!(too_large(recode(&junk)));
    }
}

#[test]
fn engine_commit_certificate_verifies_for_clients_after_sync() {
    // Four validators precommit through the engine signer; the certificate crosses the sync
    // codec and passes the engine-free checks clients run.
    let signers: Vec<FloeSigner> = (1..=4u8)
        .map(|i| FloeSigner::new(KeyPair::from_seed([i; 32]), CHAIN))
        .collect();
    let infos = (signers.iter().enumerate()).map(|(i, s)| ValidatorInfo {
        name: format!("validator-{i}"),
        public_key: s.address().public_key(),
        power: 1,
    });
    let set = cert::ValidatorSet::new(infos.collect()).unwrap();
    let part = make_part(1, 7, Round::new(3), Round::Nil, &[(0, 5), (1, 6)]);
    let hash = part.block.hash();
    let mut sigs: Sigs = (signers.iter())
        .map(|s| {
            let v = vote(
                VoteType::Precommit,
                7,
                Round::new(3),
                NilOrVal::Val(hash),
                s.address(),
            );
            let signed = block_on(s.sign_vote(v)).unwrap();
            (signed.message.validator, signed.signature)
        })
        .collect();
    sigs.sort_by_key(|s| s.0);
    let resp = response(
        7,
        vec![(
            part.block.to_bytes(),
            commit_cert(7, Round::new(3), hash, sigs),
        )],
    );
    let sync::Response::ValueResponse(back) = decode::<Response>(&roundtrip(&resp)).unwrap();
    let block = Block::from_bytes(&back.values[0].value_bytes).unwrap();
    let floe = to_floe_cert(&back.values[0].certificate.trim_vote_extensions()).unwrap();
    floe.verify(CHAIN, &block, &set).unwrap();
    assert!(floe.verify("other-chain", &block, &set).is_err());
}

#[test]
fn validator_proof_signature_survives_codec() {
    let signer = FloeSigner::new(KeyPair::from_seed([42; 32]), CHAIN);
    let key = signer.address().0.to_vec();
    let proof = block_on(signer.sign_validator_proof(key, peer(7))).unwrap();
    let back = decode::<Proof>(&roundtrip(&proof)).unwrap();
    let ok = block_on(FloeVerifier::new(CHAIN).verify_validator_proof(&back));
    assert!(ok.unwrap().is_valid());
}
