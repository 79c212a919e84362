//! Node configuration.

/// A per-peer byte budget: a token bucket refilled at `bytes_per_second`, holding at most
/// `burst_bytes`. A frame goes out only when the bucket holds its length; otherwise the
/// node waits (see [`crate::Node::poll_timeout`]). For duty-cycled radios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ByteBudget {
    /// Refill rate.
    pub bytes_per_second: u32,
    /// Bucket size; also the largest frame that can ever pass (keep it ≥ the MTU).
    pub burst_bytes: u32,
}

/// How a [`crate::Node`] behaves. Build with [`Config::new`], then adjust fields.
///
/// ```
/// use starling_sync::Config;
/// let mut config = Config::new(244); // BLE-sized frames
/// config.sync_interval_ms = 500;
/// assert_eq!(config.mtu, 244);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Largest frame the transport carries, in bytes (at least 48). A message larger
    /// than one frame travels as a transfer of chunks (see [`Config::max_message_bytes`]).
    pub mtu: usize,
    /// Longest message (a catch-up, a digest or a delta-interval) this node sends or
    /// takes, in bytes. With `alloc`, transfer buffers are allocated to each message's
    /// length up to this, so it bounds the memory a neighbour can make this node stage:
    /// at most `max_transfers` messages of this length at once. Without `alloc` the
    /// node's `MSG` capacity bounds it too.
    pub max_message_bytes: usize,
    /// Transfers received at once, at most (the node's `TRANSFERS` capacity bounds it
    /// too); a transfer arriving while all are taken is refused as busy and the sync
    /// protocol tries again later.
    pub max_transfers: usize,
    /// Chunks of a transfer in flight (sent, not acknowledged) at most: with
    /// `mtu`-byte frames, about `transfer_window x mtu` bytes per round trip.
    pub transfer_window: u32,
    /// A live neighbour out of sync with us (we lack its past, or it has not acknowledged
    /// our updates) for this many sync intervals raises [`crate::Event::OutOfSync`]
    /// (and [`crate::Event::InSync`] once it is back); 0 never does.
    pub out_of_sync_after_rounds: u32,
    /// How often deltas go out to neighbours, in milliseconds.
    pub sync_interval_ms: u64,
    /// A neighbour that has heard nothing from us for this long gets a heartbeat.
    pub heartbeat_interval_ms: u64,
    /// Silence after which a neighbour is suspected.
    pub suspect_after_ms: u64,
    /// Silence after which a neighbour is declared dead: it stops holding back the delta
    /// buffer's garbage collection and will catch up by digest when it returns. A peer that
    /// introduced itself (not configured) is forgotten.
    pub dead_after_ms: u64,
    /// First retry delay towards a silent peer; doubles up to `retry_max_ms`, with full
    /// jitter.
    pub retry_base_ms: u64,
    /// Largest retry delay.
    pub retry_max_ms: u64,
    /// Neighbours sent to per sync round: 0 for all, else this many at random.
    pub fanout: usize,
    /// Ask the neighbours we push to for their deltas back at once (push-pull gossip).
    pub push_pull: bool,
    /// Optional per-peer byte budget.
    pub budget: Option<ByteBudget>,
    /// How long the acknowledgement of a delta-interval may wait to ride on a frame sent
    /// anyway; it goes out at this node's next sync round at the latest. With neighbours
    /// on the same sync interval, acknowledgements then almost never need frames of their
    /// own. Keep it below the neighbours' sync interval: a neighbour that syncs before our
    /// acknowledgement arrives sends the unacknowledged deltas again. 0 acknowledges at once.
    pub ack_delay_ms: u64,
    /// Back-propagation avoidance (BP, Enes et al. 2019): never send a delta back to the
    /// neighbour it came from. On by default; off only to measure classic delta sync.
    pub avoid_back_propagation: bool,
    /// Redundancy removal (RR, Enes et al. 2019): buffer only the part of a received delta
    /// that was news, not the whole delta. On by default; off only to measure classic
    /// delta sync.
    pub remove_redundancy: bool,
}

impl Config {
    /// Defaults for a transport with the given MTU: sync every second, heartbeat every
    /// 2 s, suspect after 5 s, dead after 15 s, retries from 500 ms to 30 s, acks wait up
    /// to a second (until the next sync round) to ride on other frames; messages up to
    /// 16 MiB, 4 transfers received at once, 32 chunks in flight; a neighbour out of sync
    /// for 30 rounds is reported.
    pub const fn new(mtu: usize) -> Self {
        Config {
            mtu,
            max_message_bytes: 16 << 20,
            max_transfers: 4,
            transfer_window: 32,
            out_of_sync_after_rounds: 30,
            sync_interval_ms: 1_000,
            heartbeat_interval_ms: 2_000,
            suspect_after_ms: 5_000,
            dead_after_ms: 15_000,
            retry_base_ms: 500,
            retry_max_ms: 30_000,
            fanout: 0,
            push_pull: false,
            budget: None,
            ack_delay_ms: 1_000,
            avoid_back_propagation: true,
            remove_redundancy: true,
        }
    }
}
