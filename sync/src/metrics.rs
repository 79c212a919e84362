//! Counters a user can read to see what the node is doing, and why it refused what it
//! refused.

/// Why the node refused a frame it received, or a message it owed a neighbour.
///
/// Every refusal is counted once, in the [`Drops`] field named in its variant's doc
/// ([`Drops::count`] is the one place that does it). Receiving is one path that returns
/// `Err(DropReason)` at the first check a frame fails; what a refused frame has changed by
/// then is said in each variant's doc, under two rules:
///
/// * a frame refused before its header is accepted (a bad frame or header, a full peers
///   table, a previous incarnation) changes nothing but the `frames_received` and
///   `bytes_received` counters;
/// * a frame refused after its header is accepted (its sender is known and current) has
///   had the header's effects, as a heartbeat would: the sender is heard from (liveness,
///   address, perhaps [`crate::Event::PeerUp`]), its acknowledgement, incarnation and
///   `pull` flag are taken, and, if we lack its past, our digest asking for it is owed.
///   Only the message it carried is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DropReason {
    /// A frame shorter than a version byte and a CRC (changes nothing), or, after the
    /// header, a message that ends before its encoding does (only the message is
    /// refused). Counted in [`Drops::truncated`].
    Truncated,
    /// A version byte this build does not speak. Changes nothing. Counted in
    /// [`Drops::unknown_version`].
    UnknownVersion,
    /// The CRC does not match. Changes nothing. Counted in [`Drops::corrupt`].
    Corrupt,
    /// A header that does not parse or says something impossible (a chunk outside its
    /// transfer or of another length than its header implies, a transfer of one chunk,
    /// incarnation 0, a heartbeat with a body, a chunked heartbeat or transfer
    /// acknowledgement, a frame "from" this node's own id, an acknowledgement of a
    /// sequence number this incarnation has not sent): changes nothing. Or, after the
    /// header, a message or transfer acknowledgement that does not parse, a chunk that
    /// contradicts the transfer staged under its id, or a delta-interval with
    /// `from >= to`: only the message is refused. Counted in [`Drops::malformed`].
    Malformed,
    /// A frame from a replica not in the peers table while the table is full. Changes
    /// nothing: the sender is not added. Counted in [`Drops::peers_full`].
    PeersFull,
    /// A frame from a previous incarnation of its sender (changes nothing), or, after the
    /// header, a catch-up that answers no digest of ours outstanding or a transfer
    /// acknowledgement addressed to a previous incarnation of this node (only the message
    /// is refused). Counted in [`Drops::replayed`].
    Replayed,
    /// A received message longer than this node takes: a one-frame message longer than
    /// `max_message_bytes`, or a chunk of a transfer announcing more than
    /// `max_message_bytes` (or, without `alloc`, than the `MSG` buffer holds), or any
    /// transfer when the node has no transfer buffers (`TRANSFERS = 0`), or whose
    /// staging could not be allocated. Only the message is refused; a refused transfer
    /// is answered with its [`crate::Refusal`] and raises
    /// [`crate::Event::IncomingRefused`] once. Counted in [`Drops::oversized`].
    Oversized,
    /// A chunk held already (its acknowledgement is owed again) or of a transfer its
    /// sender has since replaced, or a delta-interval ending at or before what we have
    /// from its sender. Only the message is refused; a duplicate interval is
    /// acknowledged again at once. Counted in [`Drops::duplicate`].
    Duplicate,
    /// A chunk of a new transfer while every staging slot is busy (`max_transfers`, or
    /// the node's `TRANSFERS`): refused with [`crate::Refusal::Busy`], raising
    /// [`crate::Event::IncomingRefused`]; the sync protocol sends again later. Only the
    /// chunk is refused. Counted in [`Drops::busy`].
    Busy,
    /// A delta-interval that starts past what we have from its sender (an earlier one was
    /// lost: joining it could break causality), or any delta-interval while we lack the
    /// sender's past. Only the interval is refused; the first is acknowledged again at
    /// once (the sender resends from the mark), the second makes our digest owed if it
    /// was not already. Counted in [`Drops::gap`].
    Gap,
    /// A received delta (catch-up or interval) that does not join within the state's
    /// fixed capacity. The state is unchanged, but with `avoid_back_propagation` the
    /// buffered deltas within it are marked as held by its sender (it does hold them).
    /// Counted in [`Drops::capacity`].
    Capacity,
    /// Not a received frame: a message this node owed a neighbour is longer than it can
    /// send (`max_message_bytes`, the `MSG` buffer without `alloc`, or one frame with
    /// `TRANSFERS = 0`), and is not sent; [`crate::Event::OutgoingRefused`] says so. A
    /// catch-up is discarded
    /// (the neighbour's digest retry asks again), an owed digest is cleared (our retry
    /// schedule sends it again while we lack the neighbour's past), a delta-interval of
    /// which not even one buffered group fits makes the neighbour catch up from a digest
    /// instead. Counted in [`Drops::oversized`].
    TooLargeToSend,
    /// Not a received frame: a catch-up or digest this node owed a neighbour cannot be
    /// computed within the state's fixed capacity, and is not sent (the catch-up is
    /// discarded, the owed digest cleared, as for [`DropReason::TooLargeToSend`]).
    /// Counted in [`Drops::capacity`].
    CapacityToSend,
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DropReason::Truncated => "truncated frame or message",
            DropReason::UnknownVersion => "unknown frame version",
            DropReason::Corrupt => "CRC mismatch",
            DropReason::Malformed => "malformed header or message",
            DropReason::PeersFull => "peers table full",
            DropReason::Replayed => "previous incarnation or unrequested catch-up",
            DropReason::Oversized => "message longer than this node takes",
            DropReason::Duplicate => "duplicate chunk or delta-interval",
            DropReason::Busy => "every transfer staging slot busy",
            DropReason::Gap => "delta-interval past what we hold",
            DropReason::Capacity => "received delta beyond the state's capacity",
            DropReason::TooLargeToSend => "owed message too large to send",
            DropReason::CapacityToSend => "owed message beyond the state's capacity",
        })
    }
}

/// Refusals, by reason: each field counts the [`DropReason`]s that name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Drops {
    /// [`DropReason::Truncated`].
    pub truncated: u64,
    /// [`DropReason::UnknownVersion`].
    pub unknown_version: u64,
    /// [`DropReason::Corrupt`].
    pub corrupt: u64,
    /// [`DropReason::Malformed`].
    pub malformed: u64,
    /// Received messages longer than this node takes
    /// ([`DropReason::Oversized`], on the receiver) and owed messages too large to send
    /// ([`DropReason::TooLargeToSend`], on the sender: the receiver counts nothing).
    pub oversized: u64,
    /// [`DropReason::Duplicate`].
    pub duplicate: u64,
    /// [`DropReason::Replayed`].
    pub replayed: u64,
    /// [`DropReason::Gap`].
    pub gap: u64,
    /// Received deltas beyond the state's fixed capacity ([`DropReason::Capacity`]) and
    /// owed catch-ups or digests that cannot be computed within it
    /// ([`DropReason::CapacityToSend`]).
    pub capacity: u64,
    /// [`DropReason::PeersFull`].
    pub peers_full: u64,
    /// [`DropReason::Busy`].
    pub busy: u64,
}

impl Drops {
    /// Counts one refusal for `reason`.
    pub fn count(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Truncated => &mut self.truncated,
            DropReason::UnknownVersion => &mut self.unknown_version,
            DropReason::Corrupt => &mut self.corrupt,
            DropReason::Malformed => &mut self.malformed,
            DropReason::PeersFull => &mut self.peers_full,
            DropReason::Replayed => &mut self.replayed,
            DropReason::Oversized | DropReason::TooLargeToSend => &mut self.oversized,
            DropReason::Duplicate => &mut self.duplicate,
            DropReason::Busy => &mut self.busy,
            DropReason::Gap => &mut self.gap,
            DropReason::Capacity | DropReason::CapacityToSend => &mut self.capacity,
        };
        *counter += 1;
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.truncated
            + self.unknown_version
            + self.corrupt
            + self.malformed
            + self.oversized
            + self.duplicate
            + self.replayed
            + self.gap
            + self.capacity
            + self.peers_full
            + self.busy
    }
}

/// What a node has done since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metrics {
    /// Frames handed to the transport.
    pub frames_sent: u64,
    /// Bytes handed to the transport.
    pub bytes_sent: u64,
    /// Frames received (dropped or not).
    pub frames_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Delta-intervals and catch-ups joined into the state.
    pub deltas_joined: u64,
    /// Local updates.
    pub updates: u64,
    /// Digests sent (catch-up requests).
    pub digests_sent: u64,
    /// Catch-ups sent.
    pub catchups_sent: u64,
    /// Catch-ups received and joined.
    pub catchups_received: u64,
    /// Delta-intervals sent.
    pub intervals_sent: u64,
    /// Times the delta buffer was full and coalesced its two oldest entries.
    pub coalesced: u64,
    /// Times the delta buffer could not coalesce (capacity) and was cleared, sending
    /// every neighbour through a digest catch-up instead.
    pub buffer_resets: u64,
    /// Transfers (messages larger than one frame) started towards neighbours.
    pub transfers_started: u64,
    /// Transfers the receiver acknowledged whole.
    pub transfers_delivered: u64,
    /// Transfers received whole (then handled like any message).
    pub transfers_received: u64,
    /// Transfers refused, either way: by this node (each also an
    /// [`crate::Event::IncomingRefused`]) or by the receiver (an
    /// [`crate::Event::OutgoingRefused`]).
    pub transfers_refused: u64,
    /// Transfers given up: sent without progress, or staged without a new chunk, for
    /// `dead_after_ms` (the sync protocol asks again).
    pub transfers_abandoned: u64,
    /// Chunk frames sent (first sends and resends).
    pub chunks_sent: u64,
    /// Stalls reported as [`crate::Event::OutOfSync`].
    pub out_of_sync: u64,
    /// Refused frames and unsendable messages, by reason.
    pub drops: Drops,
}
