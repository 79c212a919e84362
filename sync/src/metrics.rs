//! Counters a user can read to see what the node is doing.

/// Frames dropped, by reason. Every dropped frame changes nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Drops {
    /// Too short to hold a version byte and a CRC, or a message cut short.
    pub truncated: u64,
    /// Version byte this build does not speak.
    pub unknown_version: u64,
    /// CRC mismatch.
    pub corrupt: u64,
    /// Header or message that does not parse or says something impossible.
    pub malformed: u64,
    /// Message larger than the reassembly buffer.
    pub oversized: u64,
    /// A fragment or delta-interval received before.
    pub duplicate: u64,
    /// A frame from a previous incarnation of its sender, or a catch-up nobody asked for.
    pub replayed: u64,
    /// A delta-interval that starts past what we have from its sender (an earlier one was
    /// lost): joining it could break causality, so it waits for a resend.
    pub gap: u64,
    /// A delta that does not fit the state's fixed capacity.
    pub capacity: u64,
    /// A frame from an unknown peer while the peers table is full.
    pub peers_full: u64,
    /// A late fragment of a message older than the one its sender has under reassembly,
    /// with every reassembly buffer taken: its content comes again in a later message.
    pub busy: u64,
}

impl Drops {
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
    /// Dropped frames by reason.
    pub drops: Drops,
}
