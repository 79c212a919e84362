//! Frames: the unit a transport carries. A versioned header, a body, and a CRC-32 trailer.
//!
//! ```text
//! +---------+--------------------------------------------------+-----------+---------+
//! | version | header (postcard): kind, from, incarnation,     | body      | CRC-32  |
//! |  0x02   | to_incarnation, ack, pull, chunk (optional)      | bytes     | (LE, 4) |
//! +---------+--------------------------------------------------+-----------+---------+
//! ```
//!
//! A message (a digest, a catch-up or a delta-interval) that fits one frame is its body,
//! with no `chunk`. A larger one travels as a *transfer* (`crate::transfer`): every frame
//! carries one chunk of it, named by the `chunk` header, and the receiver acknowledges
//! chunks in [`FrameKind::TransferAck`] frames. The CRC covers everything before it, so a
//! corrupted frame is dropped whole.

use serde::{Deserialize, Serialize};
use starling_core::ReplicaId;

use crate::metrics::DropReason;
use crate::transfer::{ChunkHeader, MAX_CHUNK_HEADER_LEN};

/// The version byte of the frame format this build speaks (2: transfers replaced
/// fragments).
pub const FRAME_VERSION: u8 = 2;

/// Bytes of the CRC-32 trailer.
pub(crate) const CRC_LEN: usize = 4;

/// CRC-32/ISCSI (Castagnoli) over the frame.
const CRC32: crc::Crc<u32, CrcTable> = crc::Crc::<u32, CrcTable>::new(&crc::CRC_32_ISCSI);

/// How the CRC is computed: with a 256-entry table under the `crc-tables` feature (on with
/// `std`), else bitwise: on a microcontroller or in a WebAssembly download the table's 1 KB
/// weighs more than the loop costs in time. Same checksums either way.
#[cfg(feature = "crc-tables")]
type CrcTable = crc::Table<1>;
#[cfg(not(feature = "crc-tables"))]
type CrcTable = crc::NoTable;

/// What a frame's message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum FrameKind {
    /// No message: the header's acknowledgement and liveness only.
    Heartbeat = 0,
    /// A digest of the sender's state, asking for a catch-up.
    Digest = 1,
    /// What the receiver lacked, computed from its digest.
    CatchUp = 2,
    /// A delta-interval: the buffered deltas of a range of sequence numbers.
    Deltas = 3,
    /// The receiver of a transfer says which of its chunks it holds, that it has them
    /// all, or that it refuses the transfer. Never chunked.
    TransferAck = 4,
}

/// The frame header, after the version byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) kind: FrameKind,
    /// The sender's replica id.
    pub(crate) from: ReplicaId,
    /// The sender's incarnation: a random number drawn at start-up, so a restart is seen.
    pub(crate) incarnation: u32,
    /// The receiver's incarnation as the sender knows it (0: unknown).
    pub(crate) to_incarnation: u32,
    /// The next sequence number the sender expects from the receiver (0: none yet).
    pub(crate) ack: u64,
    /// Asks the receiver to send its pending deltas back at once (push-pull gossip).
    pub(crate) pull: bool,
    /// The chunk of a transfer the body is; `None` when the body is a whole message.
    pub(crate) chunk: Option<ChunkHeader>,
}

/// Why a received frame was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum FrameError {
    /// Shorter than a version byte plus CRC.
    Truncated,
    /// Unknown version byte.
    UnknownVersion,
    /// The CRC does not match.
    Corrupt,
    /// The header does not parse, or says something impossible.
    Malformed,
}

impl From<FrameError> for DropReason {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Truncated => DropReason::Truncated,
            FrameError::UnknownVersion => DropReason::UnknownVersion,
            FrameError::Corrupt => DropReason::Corrupt,
            FrameError::Malformed => DropReason::Malformed,
        }
    }
}

/// The most bytes a header's encoding takes: every varint at its widest (`from` 10,
/// `ack` 10, the incarnations 5 each), the 3 one-byte fields (kind, pull, the chunk's
/// option tag) and the widest chunk header.
pub(crate) const MAX_HEADER_LEN: usize = 33 + MAX_CHUNK_HEADER_LEN;

/// The length of `header`'s encoding. Encodes into a scratch buffer with the serializer
/// frames use anyway: a size-counting serializer would be a second copy of its code.
pub(crate) fn header_len(header: &Header) -> Option<usize> {
    let mut scratch = [0u8; MAX_HEADER_LEN];
    postcard::to_slice(header, &mut scratch)
        .ok()
        .map(|b| b.len())
}

/// Writes one frame into `out`; returns its length. `out` must hold the header, the
/// body and the CRC.
pub(crate) fn encode(header: &Header, body: &[u8], out: &mut [u8]) -> Option<usize> {
    encode_with(header, out, &mut |room| {
        room.get_mut(..body.len())?.copy_from_slice(body);
        Some(body.len())
    })
}

/// Writes one frame into `out` whose body `write_body` writes into the room it is given
/// (what `out` leaves after the header and the CRC), returning the body's length. Not
/// generic: one copy of the code for every kind of body.
pub(crate) fn encode_with(
    header: &Header,
    out: &mut [u8],
    write_body: &mut dyn FnMut(&mut [u8]) -> Option<usize>,
) -> Option<usize> {
    let (first, rest) = out.split_first_mut()?;
    *first = FRAME_VERSION;
    let header_len = postcard::to_slice(header, rest).ok()?.len();
    let room_end = out.len().checked_sub(CRC_LEN)?;
    let body_len = write_body(out.get_mut(1 + header_len..room_end)?)?;
    let body_end = 1 + header_len + body_len;
    let crc = CRC32.checksum(out.get(..body_end)?);
    out.get_mut(body_end..body_end + CRC_LEN)?
        .copy_from_slice(&crc.to_le_bytes());
    Some(body_end + CRC_LEN)
}

/// Parses a frame: its header and its body.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), FrameError> {
    let (&version, _) = bytes.split_first().ok_or(FrameError::Truncated)?;
    if version != FRAME_VERSION {
        return Err(FrameError::UnknownVersion);
    }
    if bytes.len() < 1 + CRC_LEN {
        return Err(FrameError::Truncated);
    }
    let (body, trailer) = bytes.split_at(bytes.len() - CRC_LEN);
    let mut crc = [0u8; CRC_LEN];
    crc.copy_from_slice(trailer);
    if CRC32.checksum(body) != u32::from_le_bytes(crc) {
        return Err(FrameError::Corrupt);
    }
    let (header, message) =
        postcard::take_from_bytes::<Header>(&body[1..]).map_err(|_| FrameError::Malformed)?;
    if header.incarnation == 0 {
        return Err(FrameError::Malformed);
    }
    let possible = match (header.kind, header.chunk) {
        (FrameKind::Heartbeat, chunk) => chunk.is_none() && message.is_empty(),
        (FrameKind::TransferAck, chunk) => chunk.is_none(),
        (_, None) => true,
        // A chunk lies within its transfer, has the length its header implies, and a
        // transfer of one chunk is a whole message, sent without one.
        (_, Some(chunk)) => !chunk.is_single() && chunk.range(message.len()).is_some(),
    };
    if !possible {
        return Err(FrameError::Malformed);
    }
    Ok((header, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widest_header_fits_max_header_len() {
        let widest = Header {
            kind: FrameKind::Deltas,
            from: ReplicaId(u64::MAX),
            incarnation: u32::MAX,
            to_incarnation: u32::MAX,
            ack: u64::MAX,
            pull: true,
            chunk: Some(ChunkHeader {
                transfer: u32::MAX,
                len: u32::MAX,
                chunk: u32::MAX,
                index: u32::MAX,
            }),
        };
        assert_eq!(header_len(&widest), Some(MAX_HEADER_LEN));
        let narrow = Header {
            from: ReplicaId(1),
            incarnation: 1,
            to_incarnation: 0,
            ack: 0,
            chunk: None,
            ..widest
        };
        assert_eq!(header_len(&narrow), Some(7));
    }
}
