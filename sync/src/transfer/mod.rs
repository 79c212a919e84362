//! Transfers: messages of any size, sent as chunks, acknowledged selectively, staged by the
//! receiver and handed over whole.
//!
//! A *transfer* is one encoded message (a digest, a catch-up or a delta-interval) cut into
//! chunks of `chunk` bytes (the last one shorter) that each fit one frame. Every chunk frame
//! carries a [`ChunkHeader`]: the transfer id, the message length, the chunk size and the
//! chunk's index, so any chunk, in any order, tells the receiver everything it needs to
//! stage the transfer. A transfer is identified by *(sender incarnation, transfer id)*: the
//! incarnation is in the frame header, the id grows by one per transfer within an
//! incarnation, so a restart of either side can never splice the chunks of two transfers.
//!
//! ```text
//!  sender (Sender)                                   receiver (Inbound)
//!  snapshot the encoded message
//!  chunks 0..w ─────────────────────────────────────► stage; bitmap of chunks held
//!            ◄──── Ack { next, sacks: bitmap after next }
//!  mark acked; a chunk sent a reordering window
//!  before the newest acked one is lost: resend
//!  no ack for an RTO: send the lowest unacked chunk
//!  again as a probe (its ack tells what is missing)
//!  ...                                                all chunks in: hand the message over
//!            ◄──── Ack { Complete }                   remember the id: later chunks of it
//!  done: free the snapshot                            are answered Complete again
//! ```
//!
//! * **Selective repeat.** The receiver's [`Ack`] says "all chunks below `next` and those
//!   set in `sacks`" (like TCP SACK or QUIC ACK ranges); only chunks it lacks are sent
//!   again. The sender keeps a send time per chunk: a chunk still unacknowledged when one
//!   sent more than a reordering window later is acknowledged is presumed lost (TCP RACK,
//!   RFC 8985); a lost acknowledgement or tail is recovered by a retransmission timeout
//!   (RFC 6298 estimator) that resends one chunk only.
//! * **Whole or nothing.** The receiver stages the bytes and exposes nothing until every
//!   chunk is in: a partly received catch-up is never joined (see `docs/decisions.md`).
//! * **Bounded.** A transfer longer than the receiver's limit, or arriving while every
//!   staging slot is taken, is refused with a typed [`Refusal`] that travels back in the
//!   [`Ack`], so both sides can report it. Staging is allocated only after the announced
//!   length passed the limit, and never more than that length plus a bit per chunk.
//! * **Snapshots.** The sender encodes the message once, when the transfer starts, and
//!   sends those bytes until it ends: a state that moves on meanwhile cannot make the
//!   chunks disagree.
//!
//! The module is sans-IO like the node: time is a number of milliseconds passed in, and
//! it never writes a frame itself, only the parts of one ([`ChunkHeader`], [`Ack`]).

use serde::{Deserialize, Serialize};

mod receive;
mod send;
mod storage;
#[cfg(test)]
mod tests;

pub(crate) use receive::{ChunkOutcome, Inbound, Key, Limits};
pub(crate) use send::{AckOutcome, Pacing, Sender};
pub(crate) use storage::{Buffer, Storage, WriteMessage, too_large, writer};

/// Chunks an acknowledgement reports after its `next` chunk (the bits of its `u128`
/// bitmap): the sender keeps its chunks in flight within `SACK_BITS + 1` indices of its
/// lowest unacknowledged one, so every chunk it may be waiting for can be reported.
pub(crate) const SACK_BITS: u32 = 128;

/// Chunks in flight span at most this many indices from the lowest unacknowledged one.
pub(crate) const SPAN: u32 = SACK_BITS + 1;

/// What precedes a chunk's bytes in a frame (after the frame header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChunkHeader {
    /// The transfer id: grows by one per transfer within a sender incarnation (wrapping).
    pub(crate) transfer: u32,
    /// Length of the whole message, in bytes (at least 1).
    pub(crate) len: u32,
    /// Chunk size: every chunk but the last holds exactly this many bytes (at least 1).
    pub(crate) chunk: u32,
    /// This chunk's index, from 0; its bytes start at `index x chunk`.
    pub(crate) index: u32,
}

/// The widest encoding of a [`ChunkHeader`]: four `u32` varints of 5 bytes.
pub(crate) const MAX_CHUNK_HEADER_LEN: usize = 20;

impl ChunkHeader {
    /// Number of chunks of the transfer.
    pub(crate) fn count(&self) -> u32 {
        self.len.div_ceil(self.chunk.max(1))
    }

    /// Where this chunk's bytes go in the message, if the header is possible and `data`
    /// has the length it implies.
    pub(crate) fn range(&self, data_len: usize) -> Option<core::ops::Range<usize>> {
        self.bytes_range().filter(|r| r.len() == data_len)
    }

    /// Where this chunk's bytes are in the message, if the header is possible.
    pub(crate) fn bytes_range(&self) -> Option<core::ops::Range<usize>> {
        if self.len == 0 || self.chunk == 0 || self.index >= self.count() {
            return None;
        }
        let start = (self.index as usize).checked_mul(self.chunk as usize)?;
        let end = start
            .checked_add(self.chunk as usize)?
            .min(self.len as usize);
        Some(start..end)
    }

    /// Whether the transfer fits one frame: such a message is delivered at once and never
    /// acknowledged (the sync protocol above resends what it still needs).
    pub(crate) fn is_single(&self) -> bool {
        self.count() == 1
    }
}

/// Why a receiver refused a transfer. Travels back to the sender in its acknowledgement, so both
/// sides can report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Refusal {
    /// The message is longer than the receiver takes: its configured maximum, or its fixed
    /// buffer. Sending it again cannot help; raise the receiver's limit (`Config`, or the
    /// node's `MSG` capacity without `alloc`) or make the state smaller.
    TooLarge {
        /// The message's length (0 when the node that refused to send it could not
        /// measure it: a message is measured by encoding it into a buffer that holds it,
        /// so one longer than the limit is not measured).
        len: u32,
        /// The most the receiver takes.
        limit: u32,
    },
    /// Every staging slot of the receiver is busy with other neighbours' transfers. The
    /// sync protocol retries later.
    Busy,
    /// The receiver could not allocate the staging (an allocator failure, `alloc` only).
    OutOfMemory,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::TooLarge { len, limit } => {
                write!(f, "transfer of {len} bytes exceeds the receiver's {limit}")
            }
            Refusal::Busy => f.write_str("every staging slot of the receiver is busy"),
            Refusal::OutOfMemory => f.write_str("the receiver could not allocate the staging"),
        }
    }
}

impl core::error::Error for Refusal {}

/// What the receiver says about a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AckStatus {
    /// Chunks `0..next` are in, and chunk `next + 1 + i` for every bit `i` (low bit
    /// first) set in `sacks`.
    Progress {
        /// The lowest chunk missing.
        next: u32,
        /// The chunks held after `next`, as a bitmap (a varint on the wire: high zero
        /// bits cost nothing).
        sacks: u128,
    },
    /// Every chunk is in and the message was handed over.
    Complete,
    /// The transfer is refused; nothing of it is staged.
    Refused(Refusal),
}

/// An acknowledgement of a transfer's chunks: the body of a transfer-ack frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ack {
    /// The transfer acknowledged (of the incarnation the frame header's `to_incarnation`
    /// names).
    pub(crate) transfer: u32,
    /// What the receiver holds.
    pub(crate) status: AckStatus,
}

impl Ack {
    /// Encodes into `out`; returns the length. A `Progress` bitmap is cut to what fits,
    /// its highest bytes first (losing only information about later chunks).
    pub(crate) fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut ack = *self;
        loop {
            if let Ok(used) = postcard::to_slice(&ack, &mut *out) {
                return Some(used.len());
            }
            match &mut ack.status {
                AckStatus::Progress { sacks, .. } if *sacks != 0 => {
                    // Drop the highest byte that has a bit set.
                    let top = (127 - sacks.leading_zeros()) / 8 * 8;
                    *sacks &= (1u128 << top) - 1;
                }
                _ => return None,
            }
        }
    }

    /// Decodes an acknowledgement (the whole of `bytes`).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        postcard::from_bytes(bytes).ok()
    }
}

/// A running estimate of the round-trip time and the retransmission timeout (RFC 6298,
/// in milliseconds).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rtt {
    srtt: Option<u64>,
    rttvar: u64,
    /// Retransmission timeout before any sample.
    initial_ms: u64,
}

/// The shortest retransmission timeout, in milliseconds: below it, scheduling noise on a
/// fast link would resend chunks that are not lost.
pub(crate) const MIN_RTO_MS: u64 = 10;

impl Rtt {
    pub(crate) const fn new(initial_ms: u64) -> Self {
        Rtt {
            srtt: None,
            rttvar: 0,
            initial_ms,
        }
    }

    pub(crate) fn sample(&mut self, rtt_ms: u64) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt_ms);
                self.rttvar = rtt_ms / 2;
            }
            Some(srtt) => {
                self.rttvar = (3 * self.rttvar + srtt.abs_diff(rtt_ms)) / 4;
                self.srtt = Some((7 * srtt + rtt_ms) / 8);
            }
        }
    }

    /// How much later than a chunk another may have been sent and acknowledged before
    /// the chunk is presumed lost (RACK's reordering window): a quarter of the smoothed
    /// round trip (RFC 8985's default) or four times the round trip's mean deviation
    /// (the allowance RFC 6298 gives a timeout), whichever is larger, since a link that
    /// delays frames by varying amounts reorders them by as much; 1 ms before any sample
    /// (only chunks sent at once are spared then). With `min_rtt / 4` alone, a link with
    /// 5 to 70 ms of latency had half of all chunks sent twice.
    pub(crate) fn reordering_window_ms(&self) -> u64 {
        self.srtt
            .map_or(1, |srtt| (srtt / 4).max(4 * self.rttvar).max(1))
    }

    pub(crate) fn rto_ms(&self) -> u64 {
        match self.srtt {
            None => self.initial_ms.max(MIN_RTO_MS),
            Some(srtt) => (srtt + (4 * self.rttvar).max(1)).max(MIN_RTO_MS),
        }
    }
}
