//! The wire format: a version byte, then the value in postcard.
//!
//! Every CRDT state and delta encodes the same way (see `docs/wire-format.md`):
//!
//! ```text
//! +---------+---------------------------+
//! | version | postcard encoding of T    |
//! |  0x01   |                           |
//! +---------+---------------------------+
//! ```
//!
//! Decoding is defensive: input longer than the caller's limit is refused before it is
//! parsed; the decoder never pre-allocates from a length prefix, and every collection
//! entry consumes at least one input byte, so a decode allocates `O(limit)` at most;
//! states that no replica can reach (keys out of order, dots missing from the causal
//! context, more entries than a fixed capacity) are refused with
//! [`DecodeError::Invalid`].

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, EncodeError};
use crate::lattice::Lattice;

/// The version byte this build writes and reads.
pub const WIRE_VERSION: u8 = 1;

/// Encoding and decoding of CRDT states and deltas, with the version byte.
///
/// Implemented for every type of this crate that is a [`Lattice`].
///
/// ```
/// use starling_core::{AwSet, Fixed, ReplicaId, WireFormat};
/// type Set = AwSet<u64, Fixed<8, 4>>;
/// let mut set = Set::default();
/// let delta = set.add(ReplicaId(1), 42)?;
/// let mut buf = [0u8; 64];
/// let bytes = delta.to_slice(&mut buf)?;
/// let decoded = Set::from_bytes(bytes, 64)?;
/// assert_eq!(decoded, delta);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait WireFormat: Serialize + DeserializeOwned + Sized {
    /// Writes version byte and value into `buf`; returns the used prefix of `buf`.
    fn to_slice<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], EncodeError> {
        let (first, rest) = buf.split_first_mut().ok_or(EncodeError::BufferTooSmall)?;
        *first = WIRE_VERSION;
        let used = postcard::to_slice(self, rest)
            .map_err(|_| EncodeError::BufferTooSmall)?
            .len();
        Ok(&mut buf[..=used])
    }

    /// The encoded value in a new vector (feature `alloc`).
    #[cfg(feature = "alloc")]
    fn to_vec(&self) -> alloc::vec::Vec<u8> {
        let out = alloc::vec![WIRE_VERSION];
        // Serializing into a growable vector only fails if the allocator does, which aborts.
        if let Ok(bytes) = postcard::to_extend(self, out) {
            return bytes;
        }
        alloc::vec::Vec::new()
    }

    /// Number of bytes [`WireFormat::to_slice`] writes.
    fn encoded_len(&self) -> usize {
        1 + postcard::serialize_with_flavor(self, postcard::ser_flavors::Size::default())
            .unwrap_or(0)
    }

    /// Decodes a value from untrusted `bytes`, refusing input longer than `max_len`.
    fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Self, DecodeError> {
        if bytes.len() > max_len {
            return Err(DecodeError::TooLong);
        }
        let (version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if *version != WIRE_VERSION {
            return Err(DecodeError::UnsupportedVersion(*version));
        }
        let (value, rest) = postcard::take_from_bytes::<Self>(body).map_err(map_postcard_error)?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok(value)
    }
}

impl<T: Lattice + Serialize + DeserializeOwned> WireFormat for T {}

fn map_postcard_error(e: postcard::Error) -> DecodeError {
    use postcard::Error as P;
    match e {
        P::DeserializeUnexpectedEnd => DecodeError::Truncated,
        P::SerdeDeCustom => DecodeError::Invalid,
        _ => DecodeError::Malformed,
    }
}
