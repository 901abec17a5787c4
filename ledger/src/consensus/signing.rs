//! The signer and verifier the engine calls: ed25519 over [`crate::cert`]'s sign bytes.
//!
//! Vote extensions are disabled on Floe: the signer refuses to sign one and the verifier rejects
//! every one, so a peer cannot smuggle data into precommits.

use async_trait::async_trait;
use malachitebft_app_channel::app::types::core::{
    SignedExtension, SignedMessage, SigningScheme as _, ValidatorProof, VoteExtensionScope,
};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};

use super::context::{Ed25519Scheme, FloeContext, Proposal, Vote};
use crate::cert::ValidatorAddress;
use floe_common::{KeyPair, PublicKey, Signature};

/// Vote extensions are not part of Floe's protocol.
#[derive(Debug, thiserror::Error)]
#[error("vote extensions are disabled")]
struct ExtensionsDisabled;

/// Signs votes, proposals and the validator proof with the validator's consensus key.
pub struct FloeSigner {
    key: KeyPair,
    chain_id: String,
}

impl FloeSigner {
    /// A signer for `chain_id`.
    pub fn new(key: KeyPair, chain_id: &str) -> Self {
        FloeSigner {
            key,
            chain_id: chain_id.to_owned(),
        }
    }

    /// This validator's address.
    pub fn address(&self) -> ValidatorAddress {
        ValidatorAddress::of(&self.key.public())
    }
}

#[async_trait]
impl Signer<FloeContext> for FloeSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<FloeContext, Vote>, Error> {
        let signature = self.key.sign_raw(&vote.sign_bytes(&self.chain_id));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<FloeContext, Proposal>, Error> {
        let signature = self.key.sign_raw(&proposal.sign_bytes(&self.chain_id));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<FloeContext>,
        _extension: (),
    ) -> Result<SignedExtension<FloeContext>, Error> {
        Err(Error::from_source(ExtensionsDisabled))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<FloeContext>, Error> {
        let bytes = ValidatorProof::<FloeContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.key.sign_raw(&bytes);
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Verifies signatures strictly (the same rule clients use on commit certificates).
pub struct FloeVerifier {
    chain_id: String,
}

impl FloeVerifier {
    /// A verifier for `chain_id`.
    pub fn new(chain_id: &str) -> Self {
        FloeVerifier {
            chain_id: chain_id.to_owned(),
        }
    }
}

fn check(key: &PublicKey, msg: &[u8], sig: &Signature) -> VerificationResult {
    VerificationResult::from_bool(key.verify(msg, sig).is_ok())
}

#[async_trait]
impl Verifier<FloeContext> for FloeVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(check(
            public_key,
            &vote.sign_bytes(&self.chain_id),
            signature,
        ))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(check(
            public_key,
            &proposal.sign_bytes(&self.chain_id),
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<FloeContext>,
        _extension: &(),
        _signature: &Signature,
        _public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<FloeContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = Ed25519Scheme::decode_public_key(&proof.public_key) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(check(&key, &proof.preimage(), &proof.signature))
    }
}
