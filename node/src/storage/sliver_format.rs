//! The stored form of a sliver: its symbol bytes followed by a 6-byte trailer (format version 1,
//! axis, index u16 LE, symbol size u16 LE). The value read from RocksDB becomes the sliver's
//! buffer by truncation, without another copy of megabytes of data.

use floe_common::{Sliver, SliverAxis, SliverIndex};

/// Bytes after a stored sliver's data.
pub(super) const SLIVER_TRAILER: usize = 6;
/// Version byte of the stored sliver format.
const SLIVER_FORMAT: u8 = 1;

/// A stored sliver value that is not a sliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliverFormatError {
    /// Too short to hold the trailer.
    #[error("{0} bytes is shorter than the trailer")]
    Short(usize),
    /// A format version this node does not know.
    #[error("unknown sliver format {0}")]
    Version(u8),
    /// An axis byte that is neither primary nor secondary.
    #[error("bad axis {0}")]
    Axis(u8),
    /// The data is not a whole number of symbols.
    #[error("{len} bytes is not a whole number of {symbol_size}-byte symbols")]
    Ragged {
        /// Data bytes.
        len: usize,
        /// Symbol size in the trailer.
        symbol_size: u16,
    },
}

/// The stored form of a sliver: data ‖ version ‖ axis ‖ index (u16 LE) ‖ symbol size (u16 LE).
pub fn encode_stored_sliver(sliver: &Sliver) -> Vec<u8> {
    let mut v = Vec::with_capacity(sliver.data.len() + SLIVER_TRAILER);
    v.extend_from_slice(&sliver.data);
    v.push(SLIVER_FORMAT);
    v.push(match sliver.axis {
        SliverAxis::Primary => 0,
        SliverAxis::Secondary => 1,
    });
    v.extend_from_slice(&sliver.index.0.to_le_bytes());
    v.extend_from_slice(&sliver.symbol_size.to_le_bytes());
    v
}

/// Parses a stored sliver, reusing the buffer for its data.
pub fn decode_stored_sliver(mut v: Vec<u8>) -> Result<Sliver, SliverFormatError> {
    if v.len() < SLIVER_TRAILER {
        return Err(SliverFormatError::Short(v.len()));
    }
    let t = v.len() - SLIVER_TRAILER;
    let trailer: [u8; SLIVER_TRAILER] = v[t..].try_into().expect("length checked");
    if trailer[0] != SLIVER_FORMAT {
        return Err(SliverFormatError::Version(trailer[0]));
    }
    let axis = match trailer[1] {
        0 => SliverAxis::Primary,
        1 => SliverAxis::Secondary,
        a => return Err(SliverFormatError::Axis(a)),
    };
    let index = u16::from_le_bytes([trailer[2], trailer[3]]);
    let symbol_size = u16::from_le_bytes([trailer[4], trailer[5]]);
    if symbol_size == 0 || !t.is_multiple_of(usize::from(symbol_size)) {
        return Err(SliverFormatError::Ragged {
            len: t,
            symbol_size,
        });
    }
    v.truncate(t);
    Ok(Sliver {
        axis,
        index: SliverIndex(index),
        symbol_size,
        data: v,
    })
}
