//! Private blobs end to end: a 3-of-4 key-server network, sealing, key requests over the
//! ElGamal transport, share verification, combination, and opening; thresholds, bad shares,
//! tampering, and hostile bytes into every decoder.

use std::sync::LazyLock;

use blstrs::{G1Affine, G2Affine};
use floe_common::codec;
use floe_common::privacy::header::{HeaderError, TAG_LEN};
use floe_common::privacy::{
    BlobNonce, DataKey, EncryptedShare, EphemeralPublic, EphemeralSecret, HEADER_LEN, IbeError,
    Identity, IdentityKey, KeyRequest, KeyServerPublic, KeyServerSecret, KeyShare,
    MIN_SEGMENT_SIZE, MasterPublicKey, Opener, SealError, SealedHeader, Sealer, combine, deal,
    decapsulate, open, seal, seal_with_segment_size,
};
use floe_common::{Epoch, KeyPair, ObjectId};
use group::prime::PrimeCurveAffine as _;
use proptest::prelude::*;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

const CHAIN: &str = "floe-test";
const EPOCH: Epoch = Epoch(3);
const THRESHOLD: u16 = 3;
const SEG: usize = MIN_SEGMENT_SIZE as usize;

struct Network {
    mpk: MasterPublicKey,
    secrets: Vec<KeyServerSecret>,
    publics: Vec<KeyServerPublic>,
}

/// One 3-of-4 network for every test (dealing costs a few pairings' worth of work).
static NET: LazyLock<Network> = LazyLock::new(|| {
    let (mpk, secrets, publics) = deal(&mut StdRng::seed_from_u64(42), 4, THRESHOLD).unwrap();
    Network {
        mpk,
        secrets,
        publics,
    }
});

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// What each key server does with a request's wire bytes: decode, verify the signature,
/// check chain and epoch, and answer with its encrypted share (as wire bytes).
fn serve(server: &KeyServerSecret, request: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let signed = KeyRequest::decode_signed(request).unwrap();
    let msg = KeyRequest::verify_signed(&signed).unwrap();
    msg.check(CHAIN, EPOCH).unwrap();
    let id = msg.body.identity(CHAIN);
    server.respond(rng, &id, &msg.body.ephemeral).to_bytes()
}

/// The reader's side: one signed request to the key servers `servers` (0-based), each
/// response opened and verified; returns the verified shares.
fn fetch_shares(header: &SealedHeader, servers: &[usize], rng: &mut StdRng) -> Vec<KeyShare> {
    let id = header.identity(CHAIN);
    let reader = KeyPair::generate(rng);
    let (eph, signed) = KeyRequest::new_signed(
        rng,
        &reader,
        CHAIN,
        EPOCH,
        header.policy,
        header.nonce,
        1_700_000_000_000,
    );
    let wire = codec::encode(&signed);
    servers
        .iter()
        .map(|&i| {
            let response = serve(&NET.secrets[i], &wire, rng);
            let enc = EncryptedShare::decode(&response).unwrap();
            assert_eq!(usize::from(enc.index()), i + 1);
            eph.open_verified(&enc, &id, &NET.publics[i]).unwrap()
        })
        .collect()
}

/// The data key of a sealed blob, from the key servers `servers`.
fn fetch_key(header: &SealedHeader, servers: &[usize], rng: &mut StdRng) -> DataKey {
    let id = header.identity(CHAIN);
    let shares = fetch_shares(header, servers, rng);
    let key = combine(&shares, THRESHOLD).unwrap();
    key.verify(&id, &NET.mpk).unwrap();
    decapsulate(&key, &header.encapsulation, &id)
}

const THREE_OF_FOUR: [[usize; 3]; 4] = [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]];

#[test]
fn round_trip_through_any_three_key_servers() {
    let mut rng = StdRng::seed_from_u64(1);
    let policy = ObjectId([0x70; 32]);
    for (k, len) in [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 17]
        .into_iter()
        .enumerate()
    {
        let plaintext = data(len);
        let (sealed, header) = seal_with_segment_size(
            &mut rng,
            &NET.mpk,
            CHAIN,
            policy,
            &plaintext,
            MIN_SEGMENT_SIZE,
        )
        .unwrap();
        assert_eq!(sealed.len() as u64, header.sealed_len());
        assert_eq!(SealedHeader::decode(&sealed).unwrap(), (header, HEADER_LEN));
        let servers = THREE_OF_FOUR[k % 4];
        let key = fetch_key(&header, &servers, &mut rng);
        assert_eq!(open(&key, &sealed).unwrap(), plaintext, "length {len}");
    }
    // Every choice of three servers gives the same key; the default segment size (1 MiB) too.
    let plaintext = data((1 << 20) + 5);
    let (sealed, header) = seal(&mut rng, &NET.mpk, CHAIN, policy, &plaintext);
    assert_eq!(header.segments(), 2);
    for servers in THREE_OF_FOUR {
        let key = fetch_key(&header, &servers, &mut rng);
        assert_eq!(open(&key, &sealed).unwrap(), plaintext);
    }
}

#[test]
fn streaming_and_whole_buffer_forms_are_the_same_format() {
    let mut rng = StdRng::seed_from_u64(2);
    let plaintext = data(5 * SEG + 3);
    let mut sealer = Sealer::new(
        &mut rng,
        &NET.mpk,
        CHAIN,
        ObjectId([1; 32]),
        plaintext.len() as u64,
        MIN_SEGMENT_SIZE,
    )
    .unwrap();
    let mut sealed = sealer.header_bytes().to_vec();
    let mut rest = &plaintext[..];
    while let Some(len) = sealer.next_segment_len() {
        let mut segment = rest[..len].to_vec();
        rest = &rest[len..];
        sealer.seal_segment(&mut segment).unwrap();
        sealed.extend_from_slice(&segment);
    }
    let header = *sealer.header();
    sealer.finish().unwrap();
    let key = fetch_key(&header, &[3, 0, 2], &mut rng);
    assert_eq!(open(&key, &sealed).unwrap(), plaintext);

    // And the other way: whole-buffer seal, streaming open.
    let (sealed, header) = seal_with_segment_size(
        &mut rng,
        &NET.mpk,
        CHAIN,
        ObjectId([1; 32]),
        &plaintext,
        MIN_SEGMENT_SIZE,
    )
    .unwrap();
    let key = fetch_key(&header, &[0, 1, 2], &mut rng);
    let (h, mut pos) = SealedHeader::decode(&sealed[..HEADER_LEN]).unwrap();
    let mut opener = Opener::new(&key, &h).unwrap();
    let mut out = Vec::new();
    while let Some(len) = opener.next_segment_len() {
        let mut segment = sealed[pos..pos + len].to_vec();
        pos += len;
        opener.open_segment(&mut segment).unwrap();
        out.extend_from_slice(&segment);
    }
    opener.finish().unwrap();
    assert_eq!(pos, sealed.len());
    assert_eq!(out, plaintext);
}

#[test]
fn fewer_than_threshold_shares_give_no_key() {
    let mut rng = StdRng::seed_from_u64(3);
    let plaintext = data(1000);
    let (sealed, header) = seal(&mut rng, &NET.mpk, CHAIN, ObjectId([2; 32]), &plaintext);
    let id = header.identity(CHAIN);
    for servers in [[0usize, 1], [1, 3], [2, 3]] {
        let shares = fetch_shares(&header, &servers, &mut rng);
        assert!(matches!(
            combine(&shares, THRESHOLD),
            Err(IbeError::TooFewShares {
                got: 2,
                threshold: THRESHOLD
            })
        ));
        // Interpolating as if the threshold were 2 gives a point, but not the key.
        let wrong = combine(&shares, THRESHOLD - 1).unwrap();
        assert_eq!(wrong.verify(&id, &NET.mpk), Err(IbeError::InvalidKey));
        let data_key = decapsulate(&wrong, &header.encapsulation, &id);
        assert_eq!(
            open(&data_key, &sealed),
            Err(SealError::Authentication { segment: 0 })
        );
        // A single share is not the key either.
        let one = combine(&shares[..1], 1).unwrap();
        assert_eq!(one.verify(&id, &NET.mpk), Err(IbeError::InvalidKey));
    }
}

#[test]
fn combine_refuses_bad_share_sets() {
    let id = Identity::new(CHAIN, ObjectId([3; 32]), BlobNonce([4; 32]));
    let shares: Vec<KeyShare> = NET.secrets.iter().map(|s| s.derive_share(&id)).collect();
    assert_eq!(
        combine(&[shares[0], shares[1], shares[0]], 3).map(|_| ()),
        Err(IbeError::DuplicateIndex(1))
    );
    // A duplicate beyond the first `threshold` shares is refused too.
    assert_eq!(
        combine(&[shares[0], shares[1], shares[2], shares[1]], 3).map(|_| ()),
        Err(IbeError::DuplicateIndex(2))
    );
    assert!(matches!(
        combine(&shares, 0),
        Err(IbeError::InvalidThreshold { threshold: 0, .. })
    ));
    // More shares than needed: the first three are used.
    let key = combine(&shares, 3).unwrap();
    key.verify(&id, &NET.mpk).unwrap();
    // Index 0 cannot even be decoded.
    let mut zero = shares[0].to_bytes();
    zero[..2].copy_from_slice(&[0, 0]);
    assert!(matches!(KeyShare::decode(&zero), Err(IbeError::Codec(_))));
    assert_eq!(KeyShare::decode(&shares[2].to_bytes()).unwrap(), shares[2]);
    // A verified key round-trips through its bytes.
    let back = IdentityKey::from_bytes(&key.to_bytes()).unwrap();
    back.verify(&id, &NET.mpk).unwrap();
}

#[test]
fn bad_shares_are_detected() {
    let mut rng = StdRng::seed_from_u64(5);
    let id = Identity::new(CHAIN, ObjectId([5; 32]), BlobNonce([6; 32]));
    let other = Identity::new(CHAIN, ObjectId([5; 32]), BlobNonce([7; 32]));
    let other_chain = Identity::new("floe-other", ObjectId([5; 32]), BlobNonce([6; 32]));
    let s1 = &NET.secrets[1];
    let p1 = &NET.publics[1];
    s1.derive_share(&id).verify(&id, p1).unwrap();
    // A share of another identity (same policy, other nonce; or other chain).
    for wrong in [&other, &other_chain] {
        assert_eq!(
            s1.derive_share(wrong).verify(&id, p1),
            Err(IbeError::InvalidShare { index: 2 })
        );
    }
    // A share checked against another server's key.
    assert_eq!(
        s1.derive_share(&id).verify(&id, &NET.publics[2]),
        Err(IbeError::WrongServer {
            share: 2,
            server: 3
        })
    );
    // Server 2's point relabelled as server 3's.
    let mut relabelled = s1.derive_share(&id).to_bytes();
    relabelled[..2].copy_from_slice(&3u16.to_le_bytes());
    let relabelled = KeyShare::decode(&relabelled).unwrap();
    assert_eq!(
        relabelled.verify(&id, &NET.publics[2]),
        Err(IbeError::InvalidShare { index: 3 })
    );
    // A forged share: a random point with server 2's index.
    let forged = {
        let mut b = 2u16.to_le_bytes().to_vec();
        let p = G1Affine::generator() * blstrs::Scalar::from(123_456_789u64);
        b.extend_from_slice(&G1Affine::from(p).to_compressed());
        KeyShare::decode(&b).unwrap()
    };
    assert_eq!(
        forged.verify(&id, p1),
        Err(IbeError::InvalidShare { index: 2 })
    );
    // A share encrypted to another ephemeral key opens to garbage.
    let eph = EphemeralSecret::generate(&mut rng);
    let stranger = EphemeralSecret::generate(&mut rng);
    let enc = s1.respond(&mut rng, &id, &stranger.public());
    assert_eq!(
        eph.open_verified(&enc, &id, p1),
        Err(IbeError::InvalidShare { index: 2 })
    );
    stranger.open_verified(&enc, &id, p1).unwrap();
    // Responses are randomised: two encryptions of one share differ.
    let again = s1.respond(&mut rng, &id, &stranger.public());
    assert_ne!(enc.to_bytes(), again.to_bytes());
    assert_eq!(stranger.open(&enc), stranger.open(&again));
}

#[test]
fn key_requests_verify_only_as_signed() {
    let mut rng = StdRng::seed_from_u64(6);
    let reader = KeyPair::generate(&mut rng);
    let (_, signed) = KeyRequest::new_signed(
        &mut rng,
        &reader,
        CHAIN,
        EPOCH,
        ObjectId([8; 32]),
        BlobNonce([9; 32]),
        5,
    );
    let msg = KeyRequest::verify_signed(&signed).unwrap();
    assert_eq!(msg.body.requester, reader.public());
    assert!(msg.check(CHAIN, Epoch(4)).is_err());
    assert!(msg.check("floe-other", EPOCH).is_err());
    // Another signer's signature over the same bytes.
    let mallory = KeyPair::generate(&mut rng);
    let forged = floe_common::SignedMessage::<KeyRequest>::from_parts(
        signed.serialized.clone(),
        mallory.sign_raw(&signed.serialized),
    );
    assert!(KeyRequest::verify_signed(&forged).is_err());
    // A body naming a requester that did not sign it.
    let mut body = msg.body.clone();
    body.requester = mallory.public();
    assert!(KeyRequest::verify_signed(&body.sign(&reader, CHAIN, EPOCH)).is_err());
    // Any changed byte of the signed message fails.
    for i in 0..signed.serialized.len() {
        let mut bytes = signed.serialized.clone();
        bytes[i] ^= 0x01;
        let s = floe_common::SignedMessage::<KeyRequest>::from_parts(bytes, signed.signature);
        assert!(KeyRequest::verify_signed(&s).is_err(), "byte {i}");
    }
    // The digest tells requests apart and is stable.
    let (_, again) = KeyRequest::new_signed(
        &mut rng,
        &reader,
        CHAIN,
        EPOCH,
        ObjectId([8; 32]),
        BlobNonce([9; 32]),
        5,
    );
    let again = KeyRequest::verify_signed(&again).unwrap();
    assert_ne!(again.body.digest(), msg.body.digest());
    assert_eq!(msg.body.clone().digest(), msg.body.digest());
    assert_eq!(
        msg.body.identity(CHAIN),
        Identity::new(CHAIN, ObjectId([8; 32]), BlobNonce([9; 32]))
    );
}

/// A blob sealed under the network, with its data key.
fn sealed_blob(rng: &mut StdRng, len: usize) -> (Vec<u8>, SealedHeader, DataKey) {
    let (sealed, header) = seal_with_segment_size(
        rng,
        &NET.mpk,
        CHAIN,
        ObjectId([0x10; 32]),
        &data(len),
        MIN_SEGMENT_SIZE,
    )
    .unwrap();
    let key = fetch_key(&header, &[0, 1, 2], rng);
    (sealed, header, key)
}

/// The byte range of segment `i` in a sealed blob with `SEG`-byte segments.
fn segment_range(i: usize, total: usize) -> std::ops::Range<usize> {
    let start = HEADER_LEN + i * (SEG + TAG_LEN);
    start..(start + SEG + TAG_LEN).min(total)
}

#[test]
fn tampering_fails_with_typed_errors() {
    let mut rng = StdRng::seed_from_u64(7);
    let (sealed, header, key) = sealed_blob(&mut rng, 3 * SEG + 100);
    assert_eq!(header.segments(), 4);
    let expected = header.sealed_len();

    // Any bit of the header.
    for i in 0..HEADER_LEN {
        for bit in [0x01u8, 0x80] {
            let mut t = sealed.clone();
            t[i] ^= bit;
            let err = open(&key, &t).expect_err("a flipped header bit is caught");
            match i {
                // The magic.
                0..16 => assert_eq!(err, SealError::NotSealed),
                // Policy and nonce: only the segments' additional data notices.
                16..80 => assert_eq!(err, SealError::Authentication { segment: 0 }),
                // The encapsulation: an invalid point, or a valid one the segments refuse.
                80..176 => assert!(
                    matches!(
                        err,
                        SealError::Authentication { segment: 0 } | SealError::Malformed(_)
                    ),
                    "byte {i}: {err:?}"
                ),
                // Segment size and length: out of bounds, another length, or refused.
                _ => assert!(
                    matches!(
                        err,
                        SealError::Length { .. }
                            | SealError::Malformed(_)
                            | SealError::Authentication { segment: 0 }
                    ),
                    "byte {i}: {err:?}"
                ),
            }
        }
    }
    // A byte of each segment's ciphertext or tag.
    for seg in 0..4 {
        let r = segment_range(seg, sealed.len());
        for i in [r.start, r.start + 50, r.end - 1] {
            let mut t = sealed.clone();
            t[i] ^= 0x20;
            assert_eq!(
                open(&key, &t),
                Err(SealError::Authentication {
                    segment: seg as u64
                })
            );
        }
    }
    // Dropping the last segment, or one byte; appending bytes.
    let last = segment_range(3, sealed.len());
    for t in [
        sealed[..last.start].to_vec(),
        sealed[..sealed.len() - 1].to_vec(),
        [&sealed[..], &[0u8; 1]].concat(),
        [&sealed[..], &sealed[last]].concat(),
    ] {
        assert_eq!(
            open(&key, &t),
            Err(SealError::Length {
                expected,
                actual: t.len() as u64
            })
        );
    }
    // Only a header, or part of one.
    assert!(matches!(
        open(&key, &sealed[..HEADER_LEN - 1]),
        Err(SealError::Malformed(HeaderError::Truncated { .. }))
    ));
    // Swapping two full segments.
    let (r0, r1) = (
        segment_range(0, sealed.len()),
        segment_range(1, sealed.len()),
    );
    let mut t = sealed.clone();
    t[r0.clone()].copy_from_slice(&sealed[r1.clone()]);
    t[r1].copy_from_slice(&sealed[r0]);
    assert_eq!(
        open(&key, &t),
        Err(SealError::Authentication { segment: 0 })
    );
    // A wrong key.
    assert_eq!(
        open(&DataKey::from_bytes([0; 32]), &sealed),
        Err(SealError::Authentication { segment: 0 })
    );
}

#[test]
fn segments_of_another_blob_do_not_splice() {
    let mut rng = StdRng::seed_from_u64(8);
    let (sealed, header, key) = sealed_blob(&mut rng, 2 * SEG + 10);
    // Another blob of the same length under another key: its segments are refused.
    let (other, other_header, _) = sealed_blob(&mut rng, 2 * SEG + 10);
    assert_eq!(other.len(), sealed.len());
    assert_ne!(other_header.nonce, header.nonce);
    let r = segment_range(1, sealed.len());
    let mut t = sealed.clone();
    t[r.clone()].copy_from_slice(&other[r]);
    assert_eq!(
        open(&key, &t),
        Err(SealError::Authentication { segment: 1 })
    );
    // Another blob under the *same* key (same identity and encapsulation), with another
    // header: its segments are bound to its own header and refused here.
    let same_key_header = SealedHeader {
        plaintext_len: 3 * SEG as u64,
        ..header
    };
    let mut sealer = Sealer::with_key(&key, same_key_header).unwrap();
    let mut twin = sealer.header_bytes().to_vec();
    let plaintext = data(3 * SEG);
    for chunk in plaintext.chunks(SEG) {
        let mut s = chunk.to_vec();
        sealer.seal_segment(&mut s).unwrap();
        twin.extend_from_slice(&s);
    }
    sealer.finish().unwrap();
    assert_eq!(open(&key, &twin).unwrap(), plaintext);
    for seg in 0..2 {
        let r = segment_range(seg, sealed.len());
        let mut t = sealed.clone();
        t[r.clone()].copy_from_slice(&twin[r.clone()]);
        assert_eq!(
            open(&key, &t),
            Err(SealError::Authentication {
                segment: seg as u64
            })
        );
    }
    // Its header on our segments (same key, same segment size) is refused too.
    let mut t = twin[..HEADER_LEN].to_vec();
    t.extend_from_slice(&sealed[HEADER_LEN..]);
    t.extend_from_slice(&twin[sealed.len()..]);
    assert_eq!(t.len(), twin.len());
    assert_eq!(
        open(&key, &t),
        Err(SealError::Authentication { segment: 0 })
    );
}

/// A compressed point on the curve but outside the prime-order subgroup, found by trying
/// small `x`.
fn g1_outside_subgroup() -> [u8; 48] {
    (1u64..)
        .find_map(|x| {
            let mut b = [0u8; 48];
            b[40..].copy_from_slice(&x.to_be_bytes());
            b[0] |= 0x80;
            let p = Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(&b))?;
            (!bool::from(p.is_torsion_free())).then_some(b)
        })
        .unwrap()
}

fn g2_outside_subgroup() -> [u8; 96] {
    (1u64..)
        .find_map(|x| {
            let mut b = [0u8; 96];
            b[88..].copy_from_slice(&x.to_be_bytes());
            b[0] |= 0x80;
            let p = Option::<G2Affine>::from(G2Affine::from_compressed_unchecked(&b))?;
            (!bool::from(p.is_torsion_free())).then_some(b)
        })
        .unwrap()
}

#[test]
fn points_outside_the_subgroup_or_at_infinity_are_refused() {
    let g1 = g1_outside_subgroup();
    let g2 = g2_outside_subgroup();
    let mut g1_inf = [0u8; 48];
    g1_inf[0] = 0xc0;
    let mut g2_inf = [0u8; 96];
    g2_inf[0] = 0xc0;
    assert!(matches!(
        EphemeralPublic::from_bytes(&g1),
        Err(IbeError::InvalidPoint { .. })
    ));
    assert!(matches!(
        IdentityKey::from_bytes(&g1),
        Err(IbeError::InvalidPoint { .. })
    ));
    assert!(matches!(
        MasterPublicKey::from_bytes(&g2),
        Err(IbeError::InvalidPoint { .. })
    ));
    assert!(matches!(
        KeyServerPublic::from_bytes(1, &g2),
        Err(IbeError::InvalidPoint { .. })
    ));
    assert!(matches!(
        EphemeralPublic::from_bytes(&g1_inf),
        Err(IbeError::IdentityPoint { .. })
    ));
    assert!(matches!(
        MasterPublicKey::from_bytes(&g2_inf),
        Err(IbeError::IdentityPoint { .. })
    ));
    assert_eq!(
        KeyServerPublic::from_bytes(0, &NET.mpk.to_bytes()),
        Err(IbeError::ZeroIndex)
    );
    // Inside messages: an encapsulation in a header, a share in a response, an ephemeral key
    // in a request.
    let mut rng = StdRng::seed_from_u64(9);
    let (mut t, _, _) = sealed_blob(&mut rng, 10);
    t[80..176].copy_from_slice(&g2);
    assert!(matches!(
        SealedHeader::decode(&t),
        Err(SealError::Malformed(HeaderError::Codec(_)))
    ));
    let id = Identity::new(CHAIN, ObjectId([1; 32]), BlobNonce([1; 32]));
    let eph = EphemeralSecret::generate(&mut rng);
    let enc = NET.secrets[0]
        .respond(&mut rng, &id, &eph.public())
        .to_bytes();
    for at in [2, 50] {
        let mut t = enc.clone();
        t[at..at + 48].copy_from_slice(&g1);
        assert!(matches!(
            EncryptedShare::decode(&t),
            Err(IbeError::Codec(_))
        ));
    }
    let mut share = NET.secrets[0].derive_share(&id).to_bytes();
    share[2..].copy_from_slice(&g1);
    assert!(matches!(KeyShare::decode(&share), Err(IbeError::Codec(_))));
    let reader = KeyPair::generate(&mut rng);
    let (_, signed) = KeyRequest::new_signed(
        &mut rng,
        &reader,
        CHAIN,
        EPOCH,
        ObjectId([1; 32]),
        BlobNonce([1; 32]),
        0,
    );
    let mut msg = signed.serialized.clone();
    // intent (3) ‖ chain (1 + 9) ‖ epoch (4) ‖ policy (32) ‖ nonce (32) ‖ ephemeral.
    let at = 3 + 1 + CHAIN.len() + 4 + 64;
    assert_eq!(msg[at..at + 48], msg_ephemeral(&signed));
    msg[at..at + 48].copy_from_slice(&g1);
    let resigned =
        floe_common::SignedMessage::<KeyRequest>::from_parts(msg.clone(), reader.sign_raw(&msg));
    assert!(KeyRequest::verify_signed(&resigned).is_err());
}

fn msg_ephemeral(signed: &floe_common::SignedMessage<KeyRequest>) -> [u8; 48] {
    KeyRequest::verify_signed(signed)
        .unwrap()
        .body
        .ephemeral
        .to_bytes()
}

#[test]
fn secret_types_do_not_print_secrets() {
    let s = &NET.secrets[0];
    let text = format!("{s:?}");
    assert!(!text.contains(&hex::encode(s.to_bytes())));
    let id = Identity::new(CHAIN, ObjectId([1; 32]), BlobNonce([1; 32]));
    let key = combine(
        &NET.secrets[..3]
            .iter()
            .map(|s| s.derive_share(&id))
            .collect::<Vec<_>>(),
        3,
    )
    .unwrap();
    assert_eq!(format!("{key:?}"), "IdentityKey(<secret>)");
    let (enc, _) = floe_common::privacy::encapsulate(&mut StdRng::seed_from_u64(0), &NET.mpk, &id);
    let dk = decapsulate(&key, &enc, &id);
    assert_eq!(format!("{dk:?}"), "DataKey(<secret>)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = SealedHeader::decode(&bytes);
        let mut with_magic = floe_common::privacy::MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = SealedHeader::decode(&with_magic);
        let _ = open(&DataKey::from_bytes([1; 32]), &with_magic);
        if let Ok(signed) = KeyRequest::decode_signed(&bytes) {
            let _ = KeyRequest::verify_signed(&signed);
        }
        let _ = EncryptedShare::decode(&bytes);
        let _ = KeyShare::decode(&bytes);
        if let Ok(b) = <[u8; 48]>::try_from(&bytes[..bytes.len().min(48)]) {
            let _ = EphemeralPublic::from_bytes(&b);
            let _ = IdentityKey::from_bytes(&b);
        }
        if let Ok(b) = <[u8; 96]>::try_from(&bytes[..bytes.len().min(96)]) {
            let _ = MasterPublicKey::from_bytes(&b);
            let _ = floe_common::privacy::Encapsulation::from_bytes(&b);
            let _ = KeyServerPublic::from_bytes(1, &b);
        }
        if let Ok(b) = <[u8; 32]>::try_from(&bytes[..bytes.len().min(32)]) {
            let _ = KeyServerSecret::from_bytes(1, &b);
        }
    }

    /// Points with the compression flag set, so that decoding goes past the flag check.
    #[test]
    fn point_decoders_never_panic(
        g1 in proptest::collection::vec(any::<u8>(), 48),
        g2 in proptest::collection::vec(any::<u8>(), 96),
        flags in 0u8..8,
    ) {
        let mut a: [u8; 48] = g1.try_into().unwrap();
        let mut b: [u8; 96] = g2.try_into().unwrap();
        a[0] = (a[0] & 0x1f) | (flags << 5);
        b[0] = (b[0] & 0x1f) | (flags << 5);
        let _ = EphemeralPublic::from_bytes(&a);
        let _ = MasterPublicKey::from_bytes(&b);
        let mut share = 1u16.to_le_bytes().to_vec();
        share.extend_from_slice(&a);
        let _ = KeyShare::decode(&share);
    }

    /// A valid header followed by arbitrary bytes: typed errors, never a panic.
    #[test]
    fn open_of_arbitrary_segments_never_panics(
        tail in proptest::collection::vec(any::<u8>(), 0..9000),
        plaintext_len in 0u64..9000,
    ) {
        let header = SealedHeader {
            plaintext_len,
            segment_size: MIN_SEGMENT_SIZE,
            ..*HEADER
        };
        let mut bytes = header.encode().to_vec();
        bytes.extend_from_slice(&tail);
        prop_assert!(open(&DataKey::from_bytes([1; 32]), &bytes).is_err());
    }
}

/// A valid header for the proptests.
static HEADER: LazyLock<SealedHeader> = LazyLock::new(|| {
    let mut rng = StdRng::seed_from_u64(10);
    seal(&mut rng, &NET.mpk, CHAIN, ObjectId([1; 32]), b"x").1
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn seal_open_round_trip(
        plaintext in proptest::collection::vec(any::<u8>(), 0..20_000),
        segment_size in MIN_SEGMENT_SIZE..12_000,
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (sealed, header) = seal_with_segment_size(
            &mut rng, &NET.mpk, CHAIN, ObjectId([2; 32]), &plaintext, segment_size,
        ).unwrap();
        prop_assert_eq!(sealed.len() as u64, header.sealed_len());
        let id = header.identity(CHAIN);
        let shares: Vec<KeyShare> =
            NET.secrets[1..].iter().map(|s| s.derive_share(&id)).collect();
        let key = combine(&shares, THRESHOLD).unwrap();
        let data_key = decapsulate(&key, &header.encapsulation, &id);
        prop_assert_eq!(open(&data_key, &sealed).unwrap(), plaintext);
    }
}
