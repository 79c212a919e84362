//! The sans-IO node: one replica of one CRDT value, synchronising with its neighbours.
//!
//! Split by concern, as quinn-proto splits its `Connection`: this file holds [`Node`],
//! its construction, getters, membership and local changes; its siblings hold the rest
//! of its `impl`:
//!
//! * `receive.rs`: [`Node::handle_datagram`], one `Result<_, DropReason>` path from frame
//!   to joined state, and the handlers of each message kind;
//! * `transmit.rs`: [`Node::poll_transmit`], choosing and writing the most urgent frame
//!   owed to a neighbour;
//! * `transfers.rs`: messages larger than a frame, sent and received as transfers;
//! * `timers.rs`: [`Node::handle_timeout`] and [`Node::poll_timeout`], both reading one
//!   table of deadlines.
//!
//! Per-neighbour state lives in `crate::peer`, frame and message encoding in
//! `crate::wire`.

use core::num::NonZeroU32;

use rand_core::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::{CapacityError, Reconcile, ReplicaId};

use crate::buffer::DeltaBuffer;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::peer::{DigestDue, Liveness, Peer, PeerInfo, Stall};
use crate::transfer::{Buffer, Refusal};

mod receive;
mod timers;
mod transfers;
mod transmit;

use transfers::Transfers;

/// Catch-ups computed and waiting to be sent.
const CATCH_UP_QUEUE: usize = 2;
/// Events waiting for [`Node::poll_event`].
const EVENT_QUEUE: usize = 16;

/// A frame to hand to the transport: `len` bytes at the start of the buffer passed to
/// [`Node::poll_transmit`], for `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transmit<A> {
    /// Destination address.
    pub to: A,
    /// Frame length.
    pub len: usize,
}

/// Something the application may want to react to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// The state changed by joining something a neighbour sent.
    StateChanged,
    /// A neighbour became reachable (first contact or back from suspect/dead).
    PeerUp(ReplicaId),
    /// A neighbour went silent for `suspect_after_ms`.
    PeerSuspect(ReplicaId),
    /// A neighbour went silent for `dead_after_ms`.
    PeerDown(ReplicaId),
    /// A message owed to `peer` (a catch-up, a digest or a delta-interval) could not
    /// go: too large for this node to send (its `MSG` capacity, `max_message_bytes`, or
    /// one frame when it has no transfer buffers), or refused by the neighbour, which
    /// says why. Sync with that neighbour stalls until the state, the configuration or
    /// the neighbour's limits change.
    OutgoingRefused {
        /// The neighbour.
        peer: ReplicaId,
        /// Why.
        refusal: Refusal,
    },
    /// This node refused a transfer from `peer` (longer than it takes, or every staging
    /// slot busy); the refusal is sent back.
    IncomingRefused {
        /// The neighbour.
        peer: ReplicaId,
        /// Why.
        refusal: Refusal,
    },
    /// A live neighbour has been out of sync with us for `out_of_sync_after_rounds` sync
    /// intervals, for the reason given (raised once per stall; a refusal event may say
    /// more).
    OutOfSync {
        /// The neighbour.
        peer: ReplicaId,
        /// Why.
        stall: Stall,
    },
    /// A neighbour reported [`Event::OutOfSync`] is in sync again: we hold its past and
    /// it holds everything we had.
    InSync(ReplicaId),
}

/// Adding a peer failed: the peers table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeersFull;

impl core::fmt::Display for PeersFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("peers table full")
    }
}

impl core::error::Error for PeersFull {}

/// A catch-up asked for by a neighbour's digest, computed when it is sent.
struct PendingCatchUp<D> {
    to: ReplicaId,
    nonce: u32,
    digest: D,
}

/// One replica of a CRDT value of type `T`, speaking the Starling sync protocol with its
/// neighbours over any datagram transport whose addresses are `A`.
///
/// Capacities: `PEERS` neighbours, `DELTAS` buffered delta groups, and `TRANSFERS`
/// transfers each way (by default one per neighbour). A message (a delta-interval, a
/// digest or a catch-up) that fits one frame is sent as one; a larger one travels as a
/// transfer of chunks, acknowledged selectively, staged by the receiver and handled
/// whole. Transfer buffers are sized by `MSG` without `alloc` (`2 x TRANSFERS` buffers of
/// `MSG` bytes inline; a sender's buffer also holds 4 bytes per chunk), and allocated to
/// each message's length, up to [`Config::max_message_bytes`], with it (`MSG` is then
/// unused). With `TRANSFERS = 0` the node holds no buffers and sends and takes only
/// messages of one frame (`config.mtu` at least the largest message plus 64 bytes);
/// anything larger is refused, counted, and reported as an [`Event`].
///
/// The node owns no socket, clock, thread, allocator or random source. Drive it with
/// four families of calls (see the crate docs for a complete loop):
///
/// * inputs: [`Node::handle_datagram`] for each received frame, [`Node::handle_timeout`]
///   when [`Node::poll_timeout`] says;
/// * local changes: [`Node::update`];
/// * outputs, drained after every input: [`Node::poll_transmit`] until `None`, then
///   [`Node::poll_event`] until `None`, then [`Node::poll_timeout`];
/// * getters: [`Node::state`], [`Node::metrics`], [`Node::peers`].
pub struct Node<
    T,
    A,
    const PEERS: usize = 8,
    const DELTAS: usize = 16,
    const MSG: usize = 2048,
    const TRANSFERS: usize = PEERS,
> where
    T: Reconcile + Serialize + DeserializeOwned,
{
    id: ReplicaId,
    incarnation: u32,
    config: Config,
    state: T,
    /// The sequence number the next buffered delta gets (`c` in the paper).
    seq: u64,
    buffer: DeltaBuffer<T, DELTAS>,
    peers: heapless::Vec<Peer<A>, PEERS>,
    metrics: Metrics,
    next_round_ms: u64,
    now_ms: u64,
    /// Transfers both ways: by default one per neighbour, since every neighbour may be
    /// sending us a large message at once (after a partition or a restart, or fan-in to
    /// a hub).
    transfers: Transfers<Buffer<MSG>, TRANSFERS>,
    catch_ups: heapless::Vec<PendingCatchUp<T::Digest>, CATCH_UP_QUEUE>,
    events: heapless::Deque<Event, EVENT_QUEUE>,
    next_nonce: u32,
    cursor: usize,
}

// The protocol steps below are `#[inline(never)]`: each is large and runs once per frame
// or timeout, so a call costs nothing measurable, while inlining them into their callers
// (an application's async state machine calls several of them from more than one place)
// duplicated code: 1,036 bytes of flash on the firmware example's sensor node.
impl<T, A, const PEERS: usize, const DELTAS: usize, const MSG: usize, const TRANSFERS: usize>
    Node<T, A, PEERS, DELTAS, MSG, TRANSFERS>
where
    T: Reconcile + Serialize + DeserializeOwned,
    A: Copy + PartialEq,
{
    /// A node for replica `id` holding `state` (bottom for a new replica, or the state
    /// restored from durable storage after a restart). Draws its incarnation number
    /// from `rng`; a restarted node is a new incarnation and its neighbours catch it up.
    ///
    /// # Panics
    ///
    /// If `config.mtu` is below 48 bytes or `MSG` below 64: configuration errors.
    pub fn new<R: RngCore>(
        id: ReplicaId,
        state: T,
        config: Config,
        now_ms: u64,
        rng: &mut R,
    ) -> Self {
        assert!(config.mtu >= 48, "the MTU must be at least 48 bytes");
        assert!(MSG >= 64, "messages must hold at least 64 bytes");
        let incarnation = loop {
            let n = rng.next_u32();
            if n != 0 {
                break n;
            }
        };
        Node {
            id,
            incarnation,
            config,
            state,
            seq: 1,
            buffer: DeltaBuffer::new(),
            peers: heapless::Vec::new(),
            metrics: Metrics::default(),
            next_round_ms: now_ms,
            now_ms,
            transfers: Transfers::new(),
            catch_ups: heapless::Vec::new(),
            events: heapless::Deque::new(),
            next_nonce: rng.next_u32(),
            cursor: 0,
        }
    }

    // ---- getters ------------------------------------------------------------------

    /// This replica's id.
    pub fn id(&self) -> ReplicaId {
        self.id
    }
    /// The replicated state. Persist it (it is the durable state) whenever it changes.
    pub fn state(&self) -> &T {
        &self.state
    }
    /// Counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The neighbours.
    pub fn peers(&self) -> impl Iterator<Item = PeerInfo<A>> + '_ {
        self.peers.iter().map(|p| PeerInfo {
            addr: p.addr,
            id: p.id,
            liveness: p.liveness,
            configured: p.configured,
            acked: p.outbound.ack(),
        })
    }
    /// Neighbours currently alive.
    pub fn peers_alive(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.liveness == Liveness::Alive)
            .count()
    }
    /// Neighbours currently suspected.
    pub fn peers_suspect(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.liveness == Liveness::Suspect)
            .count()
    }
    /// Delta groups buffered for neighbours that have not acknowledged them.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    // ---- membership ---------------------------------------------------------------

    /// Adds a configured neighbour at `addr`. It is probed at once and kept when it dies.
    pub fn add_peer(&mut self, addr: A) -> Result<(), PeersFull> {
        if self.peers.iter().any(|p| p.addr == addr) {
            return Ok(());
        }
        let mut peer = Peer::new(addr, None, true, &self.config, self.now_ms);
        Self::want_digest(&mut peer, true, &mut self.next_nonce);
        self.peers.push(peer).map_err(|_| PeersFull)
    }

    // ---- local changes ------------------------------------------------------------

    /// Applies a local mutation: `mutate` changes the state and returns the delta it made
    /// (the mutators of `starling-core` do both: `|s| s.add(id, x)`). The delta is
    /// buffered for the neighbours. A mutation that fails changes nothing.
    #[inline(never)]
    pub fn update(
        &mut self,
        mutate: impl FnOnce(&mut T) -> Result<T, CapacityError>,
    ) -> Result<(), CapacityError> {
        let delta = mutate(&mut self.state)?;
        self.metrics.updates += 1;
        if !delta.is_bottom() {
            self.buffer_delta(None, delta);
        }
        Ok(())
    }

    #[inline(never)]
    fn buffer_delta(&mut self, origin: Option<ReplicaId>, delta: T) {
        match self.buffer.push(self.seq, origin, delta) {
            Ok(coalesced) => self.metrics.coalesced += u64::from(coalesced),
            Err(_) => {
                // The oldest deltas do not join within the state's capacity: give up on
                // the buffer and let every neighbour catch up from a digest instead. The
                // information is not lost: it is all in the state.
                self.metrics.buffer_resets += 1;
                self.buffer.clear();
                for p in self.peers.iter_mut() {
                    p.outbound = p.outbound.with_ack(None);
                }
            }
        }
        self.seq += 1;
    }

    /// Owes `peer` our digest asking for a catch-up (and, if `reply`, for its digest),
    /// under a fresh nonce unless a request is outstanding: a catch-up answering an
    /// earlier try of the same request is as welcome.
    #[inline(never)]
    fn want_digest(peer: &mut Peer<A>, reply: bool, next_nonce: &mut u32) {
        if peer.inbound.nonce().is_none() {
            let nonce = NonZeroU32::new(next_nonce.wrapping_add(1)).unwrap_or(NonZeroU32::MIN);
            *next_nonce = nonce.get();
            peer.inbound = peer.inbound.requested(nonce);
        }
        let reply = reply || peer.owed.digest == Some(DigestDue::Request);
        peer.owed.digest = Some(if reply {
            DigestDue::Request
        } else {
            DigestDue::Answer
        });
    }

    #[inline(never)]
    fn push_event(&mut self, event: Event) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    /// The next event, if any.
    #[inline(never)]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
