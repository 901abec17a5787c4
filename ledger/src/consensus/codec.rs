//! BCS encodings of everything the engine sends over the network or writes to its WAL.
//!
//! The engine's generic types carry no serde derives, so each has a private `Wire*` mirror that
//! is converted both ways. Rounds travel as `i64` (−1 = nil), peer ids as their multihash bytes,
//! a stream's `Fin` as `None`. Every decode is bounded by [`MAX_WIRE_BYTES`], rejects trailing
//! bytes, and validates what the mirror cannot express (round range, peer id, enum tags), so a
//! peer's malformed bytes become a typed error, never a panic. Vote extensions are disabled on
//! Floe and are neither encoded nor accepted.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::engine::util::streaming::StreamContent;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal,
    PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::streaming::{StreamId, StreamMessage};
use malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg, sync};
use serde::{Deserialize, Serialize};

use super::context::{FloeContext, Height, Proposal, ProposalPart, Vote};
use crate::block::BlockHash;
use crate::cert::ValidatorAddress;
use floe_common::Signature;

/// Largest message the codec decodes: a sync response (10 MiB of blocks) plus framing.
pub const MAX_WIRE_BYTES: usize = 12 << 20;
/// Most signatures in one certificate on the wire.
const MAX_CERT_SIGNATURES: usize = 1024;

/// A message could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Malformed or oversized BCS.
    #[error(transparent)]
    Codec(#[from] floe_common::CodecError),
    /// A round below −1 or above `u32::MAX`.
    #[error("invalid round {0}")]
    Round(i64),
    /// A peer id that is not a multihash.
    #[error("invalid peer id")]
    PeerId,
    /// An unknown enum tag or an impossible combination.
    #[error("invalid message: {0}")]
    Invalid(&'static str),
}

/// The codec for the engine's network, sync and WAL traffic.
#[derive(Debug, Clone, Copy, Default)]
pub struct FloeCodec;

fn round_to(r: Round) -> i64 {
    r.as_i64()
}

fn round_from(r: i64) -> Result<Round, WireError> {
    match r {
        -1 => Ok(Round::Nil),
        0.. if r <= i64::from(u32::MAX) => Ok(Round::new(r as u32)),
        _ => Err(WireError::Round(r)),
    }
}

fn value_to(v: &NilOrVal<BlockHash>) -> Option<BlockHash> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(h) => Some(*h),
    }
}

fn value_from(v: Option<BlockHash>) -> NilOrVal<BlockHash> {
    v.map_or(NilOrVal::Nil, NilOrVal::Val)
}

fn vote_type_to(t: VoteType) -> u8 {
    match t {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    }
}

fn vote_type_from(t: u8) -> Result<VoteType, WireError> {
    match t {
        0 => Ok(VoteType::Prevote),
        1 => Ok(VoteType::Precommit),
        _ => Err(WireError::Invalid("vote type")),
    }
}

#[derive(Serialize, Deserialize)]
struct WireVote {
    kind: u8,
    height: u64,
    round: i64,
    value: Option<BlockHash>,
    validator: ValidatorAddress,
    signature: Signature,
}

impl WireVote {
    fn of(v: &SignedMessage<FloeContext, Vote>) -> Self {
        WireVote {
            kind: vote_type_to(v.message.kind),
            height: v.message.height.0,
            round: round_to(v.message.round),
            value: value_to(&v.message.value),
            validator: v.message.validator,
            signature: v.signature,
        }
    }

    fn into_signed(self) -> Result<SignedMessage<FloeContext, Vote>, WireError> {
        let vote = Vote {
            kind: vote_type_from(self.kind)?,
            height: Height(self.height),
            round: round_from(self.round)?,
            value: value_from(self.value),
            validator: self.validator,
            extension: None,
        };
        Ok(SignedMessage::new(vote, self.signature))
    }
}

#[derive(Serialize, Deserialize)]
struct WireProposal {
    height: u64,
    round: i64,
    value: BlockHash,
    pol_round: i64,
    proposer: ValidatorAddress,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
enum WireConsensusMsg {
    Vote(WireVote),
    Proposal(WireProposal),
}

#[derive(Serialize, Deserialize)]
struct WireSig {
    validator: ValidatorAddress,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
struct WirePolka {
    height: u64,
    round: i64,
    value: BlockHash,
    signatures: Vec<WireSig>,
}

#[derive(Serialize, Deserialize)]
struct WireRoundSig {
    kind: u8,
    value: Option<BlockHash>,
    validator: ValidatorAddress,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
struct WireRoundCert {
    height: u64,
    round: i64,
    precommit: bool,
    signatures: Vec<WireRoundSig>,
}

#[derive(Serialize, Deserialize)]
enum WireLiveness {
    Vote(WireVote),
    Polka(WirePolka),
    SkipRound(WireRoundCert),
}

#[derive(Serialize, Deserialize)]
struct WireStream {
    stream_id: Vec<u8>,
    sequence: u64,
    /// `None` is the stream's `Fin`.
    part: Option<ProposalPart>,
}

#[derive(Serialize, Deserialize)]
struct WireProof {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Signature,
}

#[derive(Serialize, Deserialize)]
struct WireStatus {
    peer_id: Vec<u8>,
    tip_height: u64,
    history_min_height: u64,
}

#[derive(Serialize, Deserialize)]
enum WireRequest {
    Values { start: u64, end: u64 },
}

#[derive(Serialize, Deserialize)]
struct WireCommitCert {
    height: u64,
    round: i64,
    value: BlockHash,
    signatures: Vec<WireSig>,
}

#[derive(Serialize, Deserialize)]
struct WireDecided {
    value_bytes: Vec<u8>,
    certificate: WireCommitCert,
}

#[derive(Serialize, Deserialize)]
enum WireResponse {
    Values {
        start_height: u64,
        values: Vec<WireDecided>,
    },
}

#[derive(Serialize, Deserialize)]
struct WireProposedValue {
    height: u64,
    round: i64,
    valid_round: i64,
    proposer: ValidatorAddress,
    value: BlockHash,
    valid: bool,
}

fn peer_from(bytes: &[u8]) -> Result<PeerId, WireError> {
    PeerId::from_bytes(bytes).map_err(|_| WireError::PeerId)
}

fn bounded<T>(v: Vec<T>) -> Result<Vec<T>, WireError> {
    if v.len() > MAX_CERT_SIGNATURES {
        return Err(WireError::Invalid("too many signatures"));
    }
    Ok(v)
}

fn commit_cert_to(c: &ExtendedCommitCertificate<FloeContext>) -> WireCommitCert {
    WireCommitCert {
        height: c.height.0,
        round: round_to(c.round),
        value: c.value_id,
        signatures: c
            .commit_signatures
            .iter()
            .map(|s| WireSig {
                validator: s.address,
                signature: s.signature,
            })
            .collect(),
    }
}

fn commit_cert_from(
    c: WireCommitCert,
) -> Result<ExtendedCommitCertificate<FloeContext>, WireError> {
    Ok(ExtendedCommitCertificate {
        height: Height(c.height),
        round: round_from(c.round)?,
        value_id: c.value,
        commit_signatures: bounded(c.signatures)?
            .into_iter()
            .map(|s| ExtendedCommitSignature {
                address: s.validator,
                signature: s.signature,
                extension: None,
            })
            .collect(),
    })
}

/// The engine's (non-extended) commit certificate in Floe's engine-free form.
pub fn to_floe_cert(
    c: &malachitebft_app_channel::app::types::core::CommitCertificate<FloeContext>,
) -> Option<crate::cert::CommitCertificate> {
    Some(crate::cert::CommitCertificate {
        height: c.height.0,
        round: c.round.as_u32()?,
        block_hash: c.value_id,
        signatures: c
            .commit_signatures
            .iter()
            .map(
                |s: &CommitSignature<FloeContext>| crate::cert::CommitSignature {
                    validator: s.address,
                    signature: s.signature,
                },
            )
            .collect(),
    })
}

/// Floe's stored certificate as the engine's extended certificate (no extensions).
pub fn to_engine_cert(
    c: &crate::cert::CommitCertificate,
) -> ExtendedCommitCertificate<FloeContext> {
    ExtendedCommitCertificate {
        height: Height(c.height),
        round: Round::new(c.round),
        value_id: c.block_hash,
        commit_signatures: c
            .signatures
            .iter()
            .map(|s| ExtendedCommitSignature {
                address: s.validator,
                signature: s.signature,
                extension: None,
            })
            .collect(),
    }
}

fn enc<W: Serialize>(w: &W) -> Result<Bytes, WireError> {
    Ok(Bytes::from(floe_common::codec::encode(w)))
}

fn dec<W: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<W, WireError> {
    Ok(floe_common::codec::decode(bytes, MAX_WIRE_BYTES)?)
}

/// `impl Codec<$t> for FloeCodec` through a wire mirror: `$to: &$t -> Wire`, `$from: Wire ->
/// Result<$t>`.
macro_rules! wire_codec {
    ($t:ty, $w:ty, $to:expr, $from:expr) => {
        impl Codec<$t> for FloeCodec {
            type Error = WireError;
            fn decode(&self, bytes: Bytes) -> Result<$t, WireError> {
                let w: $w = dec(&bytes)?;
                $from(w)
            }
            fn encode(&self, msg: &$t) -> Result<Bytes, WireError> {
                let w: $w = $to(msg);
                enc(&w)
            }
        }
    };
}

wire_codec!(ProposalPart, ProposalPart, |p: &ProposalPart| p.clone(), Ok);

fn consensus_to(m: &SignedConsensusMsg<FloeContext>) -> WireConsensusMsg {
    match m {
        SignedConsensusMsg::Vote(v) => WireConsensusMsg::Vote(WireVote::of(v)),
        SignedConsensusMsg::Proposal(p) => WireConsensusMsg::Proposal(WireProposal {
            height: p.message.height.0,
            round: round_to(p.message.round),
            value: p.message.value,
            pol_round: round_to(p.message.pol_round),
            proposer: p.message.proposer,
            signature: p.signature,
        }),
    }
}

fn consensus_from(w: WireConsensusMsg) -> Result<SignedConsensusMsg<FloeContext>, WireError> {
    Ok(match w {
        WireConsensusMsg::Vote(v) => SignedConsensusMsg::Vote(v.into_signed()?),
        WireConsensusMsg::Proposal(p) => {
            let proposal = Proposal {
                height: Height(p.height),
                round: round_from(p.round)?,
                value: p.value,
                pol_round: round_from(p.pol_round)?,
                proposer: p.proposer,
            };
            SignedConsensusMsg::Proposal(SignedMessage::new(proposal, p.signature))
        }
    })
}

wire_codec!(
    SignedConsensusMsg<FloeContext>,
    WireConsensusMsg,
    consensus_to,
    consensus_from
);

fn polka_to(c: &PolkaCertificate<FloeContext>) -> WirePolka {
    WirePolka {
        height: c.height.0,
        round: round_to(c.round),
        value: c.value_id,
        signatures: c
            .polka_signatures
            .iter()
            .map(|s| WireSig {
                validator: s.address,
                signature: s.signature,
            })
            .collect(),
    }
}

fn polka_from(w: WirePolka) -> Result<PolkaCertificate<FloeContext>, WireError> {
    Ok(PolkaCertificate {
        height: Height(w.height),
        round: round_from(w.round)?,
        value_id: w.value,
        polka_signatures: bounded(w.signatures)?
            .into_iter()
            .map(|s| PolkaSignature {
                address: s.validator,
                signature: s.signature,
            })
            .collect(),
    })
}

wire_codec!(
    PolkaCertificate<FloeContext>,
    WirePolka,
    polka_to,
    polka_from
);

fn liveness_to(m: &LivenessMsg<FloeContext>) -> WireLiveness {
    match m {
        LivenessMsg::Vote(v) => WireLiveness::Vote(WireVote::of(v)),
        LivenessMsg::PolkaCertificate(c) => WireLiveness::Polka(polka_to(c)),
        LivenessMsg::SkipRoundCertificate(c) => WireLiveness::SkipRound(WireRoundCert {
            height: c.height.0,
            round: round_to(c.round),
            precommit: matches!(c.cert_type, RoundCertificateType::Precommit),
            signatures: c
                .round_signatures
                .iter()
                .map(|s| WireRoundSig {
                    kind: vote_type_to(s.vote_type),
                    value: value_to(&s.value_id),
                    validator: s.address,
                    signature: s.signature,
                })
                .collect(),
        }),
    }
}

fn liveness_from(w: WireLiveness) -> Result<LivenessMsg<FloeContext>, WireError> {
    Ok(match w {
        WireLiveness::Vote(v) => LivenessMsg::Vote(v.into_signed()?),
        WireLiveness::Polka(p) => LivenessMsg::PolkaCertificate(polka_from(p)?),
        WireLiveness::SkipRound(c) => {
            let mut round_signatures = Vec::new();
            for s in bounded(c.signatures)? {
                round_signatures.push(RoundSignature {
                    vote_type: vote_type_from(s.kind)?,
                    value_id: value_from(s.value),
                    address: s.validator,
                    signature: s.signature,
                });
            }
            LivenessMsg::SkipRoundCertificate(RoundCertificate {
                height: Height(c.height),
                round: round_from(c.round)?,
                cert_type: if c.precommit {
                    RoundCertificateType::Precommit
                } else {
                    RoundCertificateType::Skip
                },
                round_signatures,
            })
        }
    })
}

wire_codec!(
    LivenessMsg<FloeContext>,
    WireLiveness,
    liveness_to,
    liveness_from
);

fn stream_to(m: &StreamMessage<ProposalPart>) -> WireStream {
    WireStream {
        stream_id: m.stream_id.to_bytes().to_vec(),
        sequence: m.sequence,
        part: match &m.content {
            StreamContent::Data(p) => Some(p.clone()),
            StreamContent::Fin => None,
        },
    }
}

fn stream_from(w: WireStream) -> Result<StreamMessage<ProposalPart>, WireError> {
    if w.stream_id.len() > 64 {
        return Err(WireError::Invalid("stream id too long"));
    }
    Ok(StreamMessage::new(
        StreamId::new(Bytes::from(w.stream_id)),
        w.sequence,
        w.part.map_or(StreamContent::Fin, StreamContent::Data),
    ))
}

wire_codec!(
    StreamMessage<ProposalPart>,
    WireStream,
    stream_to,
    stream_from
);

wire_codec!(
    ValidatorProof<FloeContext>,
    WireProof,
    |p: &ValidatorProof<FloeContext>| WireProof {
        public_key: p.public_key.clone(),
        peer_id: p.peer_id.clone(),
        signature: p.signature,
    },
    |w: WireProof| {
        if w.public_key.len() > 64 || w.peer_id.len() > 128 {
            return Err(WireError::Invalid("validator proof field too long"));
        }
        Ok(ValidatorProof::new(w.public_key, w.peer_id, w.signature))
    }
);

wire_codec!(
    sync::Status<FloeContext>,
    WireStatus,
    |s: &sync::Status<FloeContext>| WireStatus {
        peer_id: s.peer_id.to_bytes(),
        tip_height: s.tip_height.0,
        history_min_height: s.history_min_height.0,
    },
    |w: WireStatus| Ok(sync::Status {
        peer_id: peer_from(&w.peer_id)?,
        tip_height: Height(w.tip_height),
        history_min_height: Height(w.history_min_height),
    })
);

wire_codec!(
    sync::Request<FloeContext>,
    WireRequest,
    |r: &sync::Request<FloeContext>| match r {
        sync::Request::ValueRequest(v) => WireRequest::Values {
            start: v.range.start().0,
            end: v.range.end().0,
        },
    },
    |w: WireRequest| match w {
        WireRequest::Values { start, end } => Ok(sync::Request::ValueRequest(
            malachitebft_sync::ValueRequest::new(Height(start)..=Height(end))
        )),
    }
);

fn response_to(r: &sync::Response<FloeContext>) -> WireResponse {
    match r {
        sync::Response::ValueResponse(v) => WireResponse::Values {
            start_height: v.start_height.0,
            values: v
                .values
                .iter()
                .map(|d| WireDecided {
                    value_bytes: d.value_bytes.to_vec(),
                    certificate: commit_cert_to(&d.certificate),
                })
                .collect(),
        },
    }
}

fn response_from(w: WireResponse) -> Result<sync::Response<FloeContext>, WireError> {
    match w {
        WireResponse::Values {
            start_height,
            values,
        } => {
            let mut out = Vec::with_capacity(values.len());
            for d in values {
                out.push(sync::RawDecidedValue::new(
                    Bytes::from(d.value_bytes),
                    commit_cert_from(d.certificate)?,
                ));
            }
            Ok(sync::Response::ValueResponse(
                malachitebft_sync::ValueResponse::new(Height(start_height), out),
            ))
        }
    }
}

wire_codec!(
    sync::Response<FloeContext>,
    WireResponse,
    response_to,
    response_from
);

impl HasEncodedLen<sync::Response<FloeContext>> for FloeCodec {
    fn encoded_len(&self, msg: &sync::Response<FloeContext>) -> Result<usize, WireError> {
        Ok(floe_common::codec::encode(&response_to(msg)).len())
    }
}

wire_codec!(
    ProposedValue<FloeContext>,
    WireProposedValue,
    |p: &ProposedValue<FloeContext>| WireProposedValue {
        height: p.height.0,
        round: round_to(p.round),
        valid_round: round_to(p.valid_round),
        proposer: p.proposer,
        value: p.value,
        valid: p.validity.is_valid(),
    },
    |w: WireProposedValue| Ok(ProposedValue {
        height: Height(w.height),
        round: round_from(w.round)?,
        valid_round: round_from(w.valid_round)?,
        proposer: w.proposer,
        value: w.value,
        validity: Validity::from_bool(w.valid),
    })
);
