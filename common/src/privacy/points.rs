//! Checked encodings of BLS12-381 points and scalars, shared by every type of the module.
//!
//! * G1: 48 bytes, G2: 96 bytes, both compressed in the ZCash / IETF BLS serialization
//!   (big-endian `x`, the top three bits of the first byte are the compression, infinity and
//!   sign flags). A decoded point must be canonical, on the curve, in the prime-order subgroup
//!   ([`G1Affine::from_compressed`] / [`G2Affine::from_compressed`] check all three: blst's
//!   decompression refuses a non-canonical `x`, a bad flag combination and a point off the
//!   curve, and `blstrs` then checks subgroup membership), and not the identity (no point of
//!   this module is the identity but with negligible probability). The `_unchecked` decoders,
//!   which skip the subgroup check, are never used on received bytes.
//! * Scalars: 32 bytes little-endian ([`Scalar::to_bytes_le`]), canonical (below the group
//!   order) and not zero.
//!
//! In BCS a point or scalar is its raw bytes (a fixed-size tuple, no length prefix); in
//! human-readable formats (JSON, TOML) it is `0x`-prefixed lowercase hex.
//!
//! `blstrs` types do not implement `Zeroize`: secrets are held in [`Secret`], which the
//! `zeroize` crate overwrites with a volatile write.

use blstrs::{G1Affine, G2Affine, Scalar};
use group::prime::PrimeCurveAffine as _;

use crate::ids::TextForm;
use crate::privacy::ibe::IbeError;

/// Length of a compressed G1 point.
pub const G1_LEN: usize = 48;
/// Length of a compressed G2 point.
pub const G2_LEN: usize = 96;
/// Length of an encoded scalar.
pub const SCALAR_LEN: usize = 32;

/// A secret scalar, point or pairing value. Zeroizing it overwrites it with its default (the
/// zero scalar, the identity point, the zero `Fp12`: all-zero bytes in `blstrs`) by a volatile
/// write that the compiler cannot elide, as `zeroize` does for primitive types.
#[derive(Clone, Copy, Default)]
pub(crate) struct Secret<T>(pub(crate) T);

impl<T: Copy + Default> zeroize::DefaultIsZeroes for Secret<T> {}

/// The G1 point in `bytes`, checked (see the module docs). `what` names it in the error.
pub(crate) fn g1_from_bytes(
    bytes: &[u8; G1_LEN],
    what: &'static str,
) -> Result<G1Affine, IbeError> {
    let p = Option::<G1Affine>::from(G1Affine::from_compressed(bytes))
        .ok_or(IbeError::InvalidPoint { what })?;
    if bool::from(p.is_identity()) {
        return Err(IbeError::IdentityPoint { what });
    }
    Ok(p)
}

/// The G2 point in `bytes`, checked (see the module docs). `what` names it in the error.
pub(crate) fn g2_from_bytes(
    bytes: &[u8; G2_LEN],
    what: &'static str,
) -> Result<G2Affine, IbeError> {
    let p = Option::<G2Affine>::from(G2Affine::from_compressed(bytes))
        .ok_or(IbeError::InvalidPoint { what })?;
    if bool::from(p.is_identity()) {
        return Err(IbeError::IdentityPoint { what });
    }
    Ok(p)
}

/// The scalar in `bytes`: canonical and not zero.
pub(crate) fn scalar_from_bytes(bytes: &[u8; SCALAR_LEN]) -> Result<Scalar, IbeError> {
    let s = Option::<Scalar>::from(Scalar::from_bytes_le(bytes)).ok_or(IbeError::InvalidScalar)?;
    if bool::from(ff::Field::is_zero(&s)) {
        return Err(IbeError::InvalidScalar);
    }
    Ok(s)
}

/// Serialises `N` bytes as a tuple (binary formats) or hex text (human-readable formats).
fn serialize_bytes<S: serde::Serializer, const N: usize>(
    bytes: &[u8; N],
    s: S,
) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&TextForm::Hex.encode(bytes))
    } else {
        use serde::ser::SerializeTuple as _;
        let mut t = s.serialize_tuple(N)?;
        for b in bytes {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

/// The inverse of [`serialize_bytes`].
fn deserialize_bytes<'de, D: serde::Deserializer<'de>, const N: usize>(
    d: D,
    kind: &'static str,
) -> Result<[u8; N], D::Error> {
    if d.is_human_readable() {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        TextForm::Hex
            .decode::<N>(kind, &s)
            .map_err(serde::de::Error::custom)
    } else {
        crate::ids::deserialize_array::<D, N>(d)
    }
}

/// `#[serde(with = "…")]` for a checked G1 point.
pub(crate) mod g1 {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(p: &G1Affine, s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(&p.to_compressed(), s)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<G1Affine, D::Error> {
        let bytes = deserialize_bytes::<D, G1_LEN>(d, "G1 point")?;
        g1_from_bytes(&bytes, "G1 point").map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "…")]` for a checked G2 point.
pub(crate) mod g2 {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(p: &G2Affine, s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(&p.to_compressed(), s)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<G2Affine, D::Error> {
        let bytes = deserialize_bytes::<D, G2_LEN>(d, "G2 point")?;
        g2_from_bytes(&bytes, "G2 point").map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "…")]` for a checked non-zero secret scalar.
pub(crate) mod secret_scalar {
    use super::*;

    pub(crate) fn serialize<S: serde::Serializer>(
        v: &Secret<Scalar>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut bytes = v.0.to_bytes_le();
        let out = serialize_bytes(&bytes, s);
        zeroize::Zeroize::zeroize(&mut bytes);
        out
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Secret<Scalar>, D::Error> {
        let mut bytes = deserialize_bytes::<D, SCALAR_LEN>(d, "scalar")?;
        let out = scalar_from_bytes(&bytes)
            .map(Secret)
            .map_err(serde::de::Error::custom);
        zeroize::Zeroize::zeroize(&mut bytes);
        out
    }
}

/// `#[serde(deserialize_with = "…")]` for a key server index: 1-based, so 0 is refused.
pub(crate) fn server_index<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let i = <u16 as serde::Deserialize>::deserialize(d)?;
    if i == 0 {
        return Err(serde::de::Error::custom(IbeError::ZeroIndex));
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroize as _;

    #[test]
    fn secrets_zeroize_to_zero_and_the_identity() {
        let mut s = Secret(Scalar::from(7u64));
        s.zeroize();
        assert!(bool::from(ff::Field::is_zero(&s.0)));
        let mut p = Secret(G1Affine::generator());
        p.zeroize();
        assert!(bool::from(p.0.is_identity()));
    }
}
