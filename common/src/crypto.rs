//! ed25519 keys and signatures (accounts, validators, storage nodes).
//!
//! One verification rule everywhere: a public key must be a point of the prime-order subgroup
//! (it decompresses, is not of small order, and has no torsion component), `R` must
//! decompress, `s` must be canonical, and `[8]([s]B − R − [H(R‖A‖M)]A) = 0` must hold (the
//! cofactored equation). Honest keys and signatures always pass. Single verification
//! ([`PublicKey::verify`]) and batch verification ([`verify_batch`]) apply the same equation,
//! so no signature is judged differently by the two paths (a cofactorless single check next to
//! a randomized batch would differ on an `R` with a torsion component, by chance). Without the
//! key check a small-order key such as the identity would let anyone "sign" any message for its
//! address (`R = B`, `s = 1` satisfies the equation). Keys that passed the check are
//! remembered (keys repeat, and the subgroup check costs as much as a verification); a
//! signature's `R` needs no such check: only the key's owner can make a signature whose `R`
//! carries torsion, and both paths accept it alike.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha512};

use crate::ids::TextForm;

crate::fixed_bytes!(
    /// An ed25519 public key (32 bytes, hex text form).
    PublicKey,
    32,
    TextForm::Hex
);

crate::fixed_bytes!(
    /// An ed25519 signature (64 bytes, hex text form).
    Signature,
    64,
    TextForm::Hex
);

/// A signature check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key is not a valid curve point.
    #[error("invalid public key {0}")]
    BadKey(PublicKey),
    /// The public key is of small order or has a torsion component: refused everywhere.
    #[error("weak public key {0}")]
    WeakKey(PublicKey),
    /// The signature does not verify.
    #[error("signature does not verify under {0}")]
    Invalid(PublicKey),
    /// A batch contained at least one invalid signature.
    #[error("at least one of {0} signatures does not verify")]
    BatchInvalid(usize),
}

/// Most public keys whose check is remembered ([`key_point`]); the cache is emptied when full.
const KEY_CACHE: usize = 1 << 16;

/// Keys already checked, with their points: keys repeat (accounts, validators, storage nodes),
/// and the subgroup check costs as much as a signature verification.
static CHECKED_KEYS: LazyLock<RwLock<HashMap<[u8; 32], EdwardsPoint>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// The point of `key`, if it is a point of the prime-order subgroup other than the identity.
fn key_point(key: &PublicKey) -> Result<EdwardsPoint, SignatureError> {
    if let Some(p) = CHECKED_KEYS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key.0)
    {
        return Ok(*p);
    }
    let point = CompressedEdwardsY(key.0)
        .decompress()
        .ok_or(SignatureError::BadKey(*key))?;
    if point.is_small_order() || !point.is_torsion_free() {
        return Err(SignatureError::WeakKey(*key));
    }
    let mut cache = CHECKED_KEYS.write().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= KEY_CACHE {
        cache.clear();
    }
    cache.insert(key.0, point);
    Ok(point)
}

/// A signature taken apart: `R`, canonical `s`, and the challenge `k = SHA-512(R ‖ A ‖ M)`.
struct Parts {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

fn parts(key: &PublicKey, msg: &[u8], sig: &Signature) -> Result<Parts, SignatureError> {
    let a = key_point(key)?;
    let invalid = SignatureError::Invalid(*key);
    let r_bytes: [u8; 32] = sig.0[..32].try_into().expect("64-byte signature");
    let s_bytes: [u8; 32] = sig.0[32..].try_into().expect("64-byte signature");
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(invalid.clone())?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(invalid)?;
    let hash: [u8; 64] = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(key.0)
        .chain_update(msg)
        .finalize()
        .into();
    Ok(Parts {
        a,
        r,
        s,
        k: Scalar::from_bytes_mod_order_wide(&hash),
    })
}

impl PublicKey {
    /// Verifies `sig` over `msg` under the module's rule.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), SignatureError> {
        let p = parts(self, msg, sig)?;
        // [s]B − [k]A − R, times the cofactor.
        let residual = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &(-p.a), &p.s) - p.r;
        if residual.mul_by_cofactor().is_identity() {
            Ok(())
        } else {
            Err(SignatureError::Invalid(*self))
        }
    }

    /// Whether the bytes are a public key this module accepts (a valid point of the
    /// prime-order subgroup).
    pub fn is_valid(&self) -> bool {
        key_point(self).is_ok()
    }
}

/// Verifies many signatures at once (several times faster than one by one for large
/// batches). `items` are (key, message, signature). Fails if any one fails, exactly when
/// [`PublicKey::verify`] would fail for one of them (but for a chance of about 2⁻¹²⁸).
///
/// The check is `[8](Σ zᵢ([sᵢ]B − Rᵢ − [kᵢ]Aᵢ)) = 0` in one multi-scalar multiplication, with
/// 128-bit weights `zᵢ` derived from a hash of the whole batch (so a signer cannot choose them).
pub fn verify_batch(items: &[(PublicKey, &[u8], Signature)]) -> Result<(), SignatureError> {
    match items {
        [] => Ok(()),
        [(k, m, s)] => k.verify(m, s),
        _ => {
            let parts = items
                .iter()
                .map(|(k, m, s)| parts(k, m, s))
                .collect::<Result<Vec<_>, _>>()?;
            let mut weights = blake3::Hasher::new_derive_key("floe ed25519 batch weights 1");
            for ((key, _, sig), p) in items.iter().zip(&parts) {
                weights.update(&key.0);
                weights.update(&sig.0);
                weights.update(p.k.as_bytes());
            }
            let mut weights = weights.finalize_xof();
            let mut scalars = Vec::with_capacity(2 * parts.len() + 1);
            let mut points = Vec::with_capacity(2 * parts.len() + 1);
            let mut b = Scalar::ZERO;
            for p in &parts {
                let mut z = [0u8; 16];
                weights.fill(&mut z);
                let z = Scalar::from(u128::from_le_bytes(z));
                b += z * p.s;
                scalars.push(-z);
                points.push(p.r);
                scalars.push(-(z * p.k));
                points.push(p.a);
            }
            scalars.push(b);
            points.push(ED25519_BASEPOINT_POINT);
            let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
            if sum.mul_by_cofactor().is_identity() {
                Ok(())
            } else {
                Err(SignatureError::BatchInvalid(items.len()))
            }
        }
    }
}

/// An ed25519 signing key. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct KeyPair(ed25519_dalek::SigningKey);

impl KeyPair {
    /// A fresh random key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self(ed25519_dalek::SigningKey::generate(rng))
    }

    /// From the 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The 32-byte secret seed (for key files).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs raw bytes. Protocol code signs [`crate::messages`] types, never raw bytes.
    pub fn sign_raw(&self, msg: &[u8]) -> Signature {
        use ed25519_dalek::Signer as _;
        Signature(self.0.sign(msg).to_bytes())
    }
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.public())
    }
}

/// A key file: the secret seed in hex. `Serialize` is deliberately explicit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Hex of the 32-byte secret seed.
    pub secret: String,
}

impl KeyFile {
    /// The key file of a key pair.
    pub fn of(key: &KeyPair) -> Self {
        Self {
            secret: hex::encode(key.seed()),
        }
    }

    /// The key pair in the file.
    pub fn key(&self) -> Result<KeyPair, crate::ids::IdParseError> {
        let bytes: [u8; 32] = TextForm::Hex.decode("secret key", &self.secret)?;
        Ok(KeyPair::from_seed(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature only the key's owner can make: `R` carries a point of order 8, so the
    /// cofactorless equation fails and the cofactored one holds. Single and batch verification
    /// must give it the same verdict (both accept), every time.
    #[test]
    fn owner_made_torsion_in_r_is_judged_alike_by_both_paths() {
        let seed = [9u8; 32];
        let key = KeyPair::from_seed(seed);
        let expanded: [u8; 64] = Sha512::digest(seed).into();
        let mut a_bytes: [u8; 32] = expanded[..32].try_into().unwrap();
        a_bytes[0] &= 248;
        a_bytes[31] &= 127;
        a_bytes[31] |= 64;
        let a = Scalar::from_bytes_mod_order(a_bytes);
        let msg = b"torsion in R";
        let r = Scalar::from(123_456_789u64);
        let big_r = (ED25519_BASEPOINT_POINT * r + curve25519_dalek::constants::EIGHT_TORSION[1])
            .compress()
            .to_bytes();
        let hash: [u8; 64] = Sha512::new()
            .chain_update(big_r)
            .chain_update(key.public().0)
            .chain_update(msg)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&hash);
        let s = r + k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&big_r);
        sig[32..].copy_from_slice(s.as_bytes());
        let sig = Signature(sig);
        // Cofactorless (strict) verification refuses it; this module's rule accepts it.
        let strict = ed25519_dalek::VerifyingKey::from_bytes(&key.public().0)
            .unwrap()
            .verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig.0));
        assert!(strict.is_err());
        key.public().verify(msg, &sig).unwrap();
        let other = KeyPair::from_seed([10; 32]);
        let other_sig = other.sign_raw(msg);
        for _ in 0..16 {
            verify_batch(&[(key.public(), msg, sig), (other.public(), msg, other_sig)]).unwrap();
        }
        // The same R with any other message is refused by both.
        assert!(key.public().verify(b"another", &sig).is_err());
        assert!(
            verify_batch(&[
                (key.public(), b"another", sig),
                (other.public(), msg, other_sig)
            ])
            .is_err()
        );
    }

    #[test]
    fn sign_verify_and_batch() {
        let mut rng = rand::thread_rng();
        let keys: Vec<KeyPair> = (0..5).map(|_| KeyPair::generate(&mut rng)).collect();
        let msgs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign_raw(m)).collect();
        for ((k, m), s) in keys.iter().zip(&msgs).zip(&sigs) {
            k.public().verify(m, s).unwrap();
            assert!(k.public().verify(b"other", s).is_err());
        }
        let items: Vec<(PublicKey, &[u8], Signature)> = keys
            .iter()
            .zip(&msgs)
            .zip(&sigs)
            .map(|((k, m), s)| (k.public(), m.as_slice(), *s))
            .collect();
        verify_batch(&items).unwrap();
        let mut bad = items.clone();
        bad[3].2 = sigs[2];
        assert!(verify_batch(&bad).is_err());
        let kf = KeyFile::of(&keys[0]);
        assert_eq!(kf.key().unwrap().public(), keys[0].public());
        assert!(!format!("{:?}", keys[0]).contains(&kf.secret));
    }
}
