//! The sans-IO node: one replica of one CRDT value, synchronising with its neighbours.

use rand_core::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use starling_core::{CapacityError, Reconcile, ReplicaId};

use crate::buffer::DeltaBuffer;
use crate::config::Config;
use crate::frame::{self, CRC_LEN, FrameError, FrameKind, Header};
use crate::metrics::Metrics;
use crate::peer::{Liveness, Peer, PeerInfo};
use crate::reassembly::{Fragment, Reassembly};

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
pub enum Event {
    /// The state changed by joining something a neighbour sent.
    StateChanged,
    /// A neighbour became reachable (first contact or back from suspect/dead).
    PeerUp(ReplicaId),
    /// A neighbour went silent for `suspect_after_ms`.
    PeerSuspect(ReplicaId),
    /// A neighbour went silent for `dead_after_ms`.
    PeerDown(ReplicaId),
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

#[derive(Serialize, Deserialize)]
struct DigestMsg<D> {
    nonce: u32,
    reply: bool,
    digest: D,
}

#[derive(Serialize, Deserialize)]
struct CatchUpMsg<T> {
    nonce: u32,
    seq: u64,
    delta: T,
}

#[derive(Serialize, Deserialize)]
struct DeltasMsg<T> {
    from: u64,
    to: u64,
    delta: T,
}

struct PendingCatchUp<D> {
    to: ReplicaId,
    nonce: u32,
    digest: D,
}

/// The message being sent, fragment by fragment.
struct Outgoing<A> {
    to: A,
    /// Index of the peer in the table when the message was prepared.
    peer: usize,
    header: Header,
    len: usize,
    chunk: usize,
    next: u8,
}

/// One replica of a CRDT value of type `T`, speaking the Starling sync protocol with its
/// neighbours over any datagram transport whose addresses are `A`.
///
/// Capacities: `PEERS` neighbours, `DELTAS` buffered delta groups, messages of up to `MSG`
/// bytes (a delta-interval, a digest or a catch-up must encode within it). The node
/// holds `REASSEMBLY + 1` message buffers of `MSG` bytes: one to send, and `REASSEMBLY`
/// (by default one per neighbour) to reassemble fragmented messages in. When every
/// frame can carry a whole message (`config.mtu` at least `MSG` plus 64 bytes of frame
/// header), messages are never fragmented and `REASSEMBLY = 0` saves the buffers; a
/// fragmented message is then dropped and counted in [`crate::Drops::oversized`].
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
    const REASSEMBLY: usize = PEERS,
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
    /// One message being reassembled per neighbour: every neighbour may be sending us a
    /// fragmented message at once (after a partition or a restart, or fan-in to a hub),
    /// and with fewer slots than senders, least-recently-used eviction of interleaved
    /// fragments starves them all.
    reassembly: Reassembly<REASSEMBLY, MSG>,
    catch_ups: heapless::Vec<PendingCatchUp<T::Digest>, CATCH_UP_QUEUE>,
    events: heapless::Deque<Event, EVENT_QUEUE>,
    outgoing: Option<Outgoing<A>>,
    message_bytes: [u8; MSG],
    message_id: u16,
    next_nonce: u32,
    cursor: usize,
}

// The protocol steps below are `#[inline(never)]`: each is large and runs once per frame
// or timeout, so a call costs nothing measurable, while inlining them into their callers
// (an application's async state machine calls several of them from more than one place)
// duplicated code: 1,036 bytes of flash on the firmware example's sensor node.
impl<T, A, const PEERS: usize, const DELTAS: usize, const MSG: usize, const REASSEMBLY: usize>
    Node<T, A, PEERS, DELTAS, MSG, REASSEMBLY>
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
            reassembly: Reassembly::new(),
            catch_ups: heapless::Vec::new(),
            events: heapless::Deque::new(),
            outgoing: None,
            message_bytes: [0; MSG],
            message_id: 0,
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
            acked: p.ack,
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
                    p.ack = None;
                }
            }
        }
        self.seq += 1;
    }

    // ---- inputs -------------------------------------------------------------------

    /// Handles a frame received from `from` at time `now_ms`. Bad frames are counted in
    /// [`Metrics::drops`] and change nothing else.
    #[inline(never)]
    pub fn handle_datagram(&mut self, now_ms: u64, from: A, bytes: &[u8]) {
        self.now_ms = self.now_ms.max(now_ms);
        self.metrics.frames_received += 1;
        self.metrics.bytes_received += bytes.len() as u64;
        let (header, fragment) = match frame::decode(bytes) {
            Ok(x) => x,
            Err(e) => {
                let drops = &mut self.metrics.drops;
                match e {
                    FrameError::Truncated => drops.truncated += 1,
                    FrameError::UnknownVersion => drops.unknown_version += 1,
                    FrameError::Corrupt => drops.corrupt += 1,
                    FrameError::Malformed => drops.malformed += 1,
                }
                return;
            }
        };
        if header.from == self.id {
            self.metrics.drops.malformed += 1;
            return;
        }
        let Some(p) = self.peer_for(header.from, from) else {
            self.metrics.drops.peers_full += 1;
            return;
        };
        if self.peers[p].retired.contains(&header.incarnation) {
            self.metrics.drops.replayed += 1;
            return;
        }
        // An ack beyond what we have sent is impossible, but only for this incarnation of
        // us: a peer that has not yet heard of our restart still acks the previous one.
        if header.to_incarnation == self.incarnation && header.ack > self.seq {
            self.metrics.drops.malformed += 1;
            return;
        }
        self.accept_header(p, &header, from);
        if header.kind == FrameKind::Heartbeat {
            return;
        }
        let parsed = if header.count == 1 {
            if fragment.len() > MSG || header.offset != 0 {
                self.metrics.drops.oversized += 1;
                return;
            }
            Self::parse(header.kind, fragment)
        } else {
            match self.reassembly.insert(
                header.from,
                header.incarnation,
                header.message,
                header.index,
                header.count,
                header.offset,
                fragment,
            ) {
                Fragment::Complete(slot, len) => {
                    let parsed = Self::parse(header.kind, self.reassembly.bytes(slot, len));
                    self.reassembly.release(slot);
                    parsed
                }
                Fragment::Pending => return,
                Fragment::Duplicate => {
                    self.metrics.drops.duplicate += 1;
                    return;
                }
                Fragment::Oversized => {
                    self.metrics.drops.oversized += 1;
                    return;
                }
                Fragment::Busy => {
                    self.metrics.drops.busy += 1;
                    return;
                }
            }
        };
        match parsed {
            Ok(Parsed::Digest(m)) => self.on_digest(p, m),
            Ok(Parsed::CatchUp(m)) => self.on_catch_up(p, m),
            Ok(Parsed::Deltas(m)) => self.on_deltas(p, m),
            Ok(Parsed::Nothing) => {}
            Err(postcard::Error::DeserializeUnexpectedEnd) => self.metrics.drops.truncated += 1,
            Err(_) => self.metrics.drops.malformed += 1,
        }
    }

    /// Decodes a complete message. The decoders of `starling-core` validate states, so
    /// an `Ok` is a well-formed message of a reachable state.
    #[inline(never)]
    fn parse(kind: FrameKind, bytes: &[u8]) -> Result<Parsed<T>, postcard::Error> {
        match kind {
            FrameKind::Digest => {
                postcard::from_bytes::<DigestMsg<T::Digest>>(bytes).map(Parsed::Digest)
            }
            FrameKind::CatchUp => postcard::from_bytes::<CatchUpMsg<T>>(bytes).map(Parsed::CatchUp),
            FrameKind::Deltas => postcard::from_bytes::<DeltasMsg<T>>(bytes).map(Parsed::Deltas),
            FrameKind::Heartbeat => Ok(Parsed::Nothing),
        }
    }

    #[inline(never)]
    fn accept_header(&mut self, p: usize, header: &Header, from: A) {
        let now = self.now_ms;
        let config = self.config;
        let peer = &mut self.peers[p];
        peer.addr = from;
        if peer.incarnation != header.incarnation {
            if peer.incarnation != 0 {
                // It restarted: what we knew of its progress is void.
                peer.retired = [peer.incarnation, peer.retired[0]];
                peer.reset_marks();
            }
            peer.incarnation = header.incarnation;
        }
        if peer.heard(now, &config) {
            self.push_event(Event::PeerUp(header.from));
        }
        let peer = &mut self.peers[p];
        if header.to_incarnation == self.incarnation && header.ack > 0 {
            peer.ack = Some(peer.ack.map_or(header.ack, |a| a.max(header.ack)));
        } else if header.to_incarnation != self.incarnation && peer.ack.is_some() {
            // It does not know this incarnation of us: it lost track of our progress.
            peer.ack = None;
        }
        // We lack its past: ask for a catch-up. (Lacking its ack needs no digest of ours:
        // it acks the catch-up it asked for, or any of our frames with its `recv`.)
        if peer.recv.is_none() && peer.digest_nonce == 0 {
            Self::want_digest(peer, true, &mut self.next_nonce);
        }
        if header.pull {
            peer.owed.deltas = true;
        }
        self.collect_garbage();
    }

    #[inline(never)]
    fn want_digest(peer: &mut Peer<A>, reply: bool, next_nonce: &mut u32) {
        if peer.digest_nonce == 0 {
            *next_nonce = next_nonce.wrapping_add(1).max(1);
            peer.digest_nonce = *next_nonce;
        }
        let reply = reply || peer.owed.digest == Some(true);
        peer.owed.digest = Some(reply);
    }

    #[inline(never)]
    fn on_digest(&mut self, p: usize, m: DigestMsg<T::Digest>) {
        let Some(peer_id) = self.peers[p].id else {
            return;
        };
        // The catch-up is computed when it is sent, so it covers every update until then.
        self.catch_ups.retain(|c| c.to != peer_id);
        if self.catch_ups.is_full() {
            self.catch_ups.remove(0);
        }
        let _ = self.catch_ups.push(PendingCatchUp {
            to: peer_id,
            nonce: m.nonce,
            digest: m.digest,
        });
        // It asks for a catch-up: what we knew of its progress is void. It acknowledges
        // the catch-up's sequence number once it has joined it.
        let peer = &mut self.peers[p];
        peer.ack = None;
        peer.resync = false;
        // It wants our digest, so it can catch us up: it may no longer reach back to
        // our `recv` mark (its buffer was collected). Unless we lack its past ourselves:
        // then our own digest is out and retried.
        if m.reply && (peer.recv.is_some() || peer.digest_nonce == 0) {
            Self::want_digest(peer, false, &mut self.next_nonce);
        }
    }

    #[inline(never)]
    fn on_catch_up(&mut self, p: usize, m: CatchUpMsg<T>) {
        let peer = &self.peers[p];
        if m.nonce == 0 || m.nonce != peer.digest_nonce {
            self.metrics.drops.replayed += 1;
            return;
        }
        if self.join_from(p, &m.delta).is_err() {
            return;
        }
        let peer = &mut self.peers[p];
        peer.recv = Some(peer.recv.map_or(m.seq, |r| r.max(m.seq)));
        peer.digest_nonce = 0;
        peer.backoff_ms = self.config.retry_base_ms;
        if peer.owed.digest == Some(false) {
            peer.owed.digest = None;
        }
        peer.owed.ack = true;
        self.metrics.catchups_received += 1;
    }

    #[inline(never)]
    fn on_deltas(&mut self, p: usize, m: DeltasMsg<T>) {
        if m.from >= m.to {
            self.metrics.drops.malformed += 1;
            return;
        }
        let Some(recv) = self.peers[p].recv else {
            // We lack its past: a catch-up must come first.
            self.metrics.drops.gap += 1;
            if self.peers[p].digest_nonce == 0 {
                Self::want_digest(&mut self.peers[p], true, &mut self.next_nonce);
            }
            return;
        };
        if m.to <= recv {
            self.metrics.drops.duplicate += 1;
            self.peers[p].owed.ack = true;
            return;
        }
        if m.from > recv {
            // An earlier interval was lost; joining this one could break causality.
            self.metrics.drops.gap += 1;
            self.peers[p].owed.ack = true;
            return;
        }
        if self.join_from(p, &m.delta).is_err() {
            return;
        }
        let ack_by = self.now_ms + self.config.ack_delay_ms;
        let peer = &mut self.peers[p];
        peer.recv = Some(m.to);
        if self.config.ack_delay_ms == 0 {
            peer.owed.ack = true;
        } else {
            peer.owed.ack_by = Some(peer.owed.ack_by.map_or(ack_by, |t| t.min(ack_by)));
        }
    }

    /// Joins a delta received from peer `p`: buffers the part that is news (RR), tagged
    /// with its origin (for BP).
    #[inline(never)]
    fn join_from(&mut self, p: usize, delta: &T) -> Result<(), CapacityError> {
        let origin = self.peers[p].id;
        if self.config.avoid_back_propagation {
            // It holds what it sent: buffered deltas within it need not go back to it.
            self.buffer.mark_known(p, delta);
        }
        if delta.leq(&self.state) {
            return Ok(());
        }
        // RR is an optimisation: when the novel part does not fit fixed tables (it lists
        // the delta's live dots), buffering the whole delta is correct, just larger.
        let novel = if self.config.remove_redundancy {
            self.state
                .novel_part(delta)
                .unwrap_or_else(|_| delta.clone())
        } else {
            delta.clone()
        };
        if let Err(e) = self.state.join(delta) {
            self.metrics.drops.capacity += 1;
            return Err(e);
        }
        self.metrics.deltas_joined += 1;
        self.push_event(Event::StateChanged);
        if !novel.is_bottom() {
            self.buffer_delta(origin, novel);
        }
        Ok(())
    }

    #[inline(never)]
    fn push_event(&mut self, event: Event) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    /// The peer with replica id `id`, or the configured peer at `addr` not yet heard
    /// from, or a new peer that introduced itself (if there is room).
    #[inline(never)]
    fn peer_for(&mut self, id: ReplicaId, addr: A) -> Option<usize> {
        if let Some(i) = self.peers.iter().position(|p| p.id == Some(id)) {
            return Some(i);
        }
        if let Some(i) = self
            .peers
            .iter()
            .position(|p| p.id.is_none() && p.addr == addr)
        {
            self.peers[i].id = Some(id);
            return Some(i);
        }
        let peer = Peer::new(addr, Some(id), false, &self.config, self.now_ms);
        self.peers.push(peer).ok()?;
        Some(self.peers.len() - 1)
    }

    /// Handles the passage of time: sync rounds, heartbeats, failure detection, retries.
    #[inline(never)]
    pub fn handle_timeout<R: RngCore>(&mut self, now_ms: u64, rng: &mut R) {
        self.now_ms = self.now_ms.max(now_ms);
        let now = self.now_ms;
        let config = self.config;
        // Failure detection.
        let mut i = 0;
        while i < self.peers.len() {
            let peer = &mut self.peers[i];
            let silent = peer.last_heard_ms.map(|t| now.saturating_sub(t));
            let mut forget = false;
            match silent {
                Some(s) if s >= config.dead_after_ms && peer.liveness != Liveness::Dead => {
                    peer.liveness = Liveness::Dead;
                    peer.reset_marks();
                    // Incarnations are random, so their order is unknown: a delayed frame
                    // from an older one, arriving after a newer one's, retires the newer
                    // one and its frames are dropped as replays. Silence for so long
                    // means it may have happened: forget the incarnation history and let
                    // the next frame heard name the current incarnation.
                    peer.retired = [0; 2];
                    if let Some(id) = peer.id {
                        let _ = self.events.push_back(Event::PeerDown(id));
                    }
                    forget = !peer.configured;
                }
                Some(s) if s >= config.suspect_after_ms && peer.liveness == Liveness::Alive => {
                    peer.liveness = Liveness::Suspect;
                    if let Some(id) = peer.id {
                        let _ = self.events.push_back(Event::PeerSuspect(id));
                    }
                }
                _ => {}
            }
            if forget {
                self.buffer.move_slot(self.peers.len() - 1, i);
                self.peers.swap_remove(i);
                continue;
            }
            i += 1;
        }
        // Retries towards peers whose past we lack, that must ask us for a catch-up
        // (`resync`), or dead. (A missing ack alone is not retried: probing for it made
        // two peers each reset the other's ack with their digests, for ever.)
        for peer in self.peers.iter_mut() {
            let stuck = peer.recv.is_none() || peer.resync || peer.liveness == Liveness::Dead;
            if stuck && now >= peer.next_probe_ms {
                // Same nonce as an outstanding request: a catch-up answering either
                // the first try or this one is welcome.
                Self::want_digest(peer, true, &mut self.next_nonce);
                peer.schedule_probe(now, &config, rng);
            }
        }
        // Sync round: delayed acknowledgements go out with it (or alone) at the latest.
        let round = now >= self.next_round_ms;
        if round {
            self.next_round_ms = now + config.sync_interval_ms.max(1);
            self.start_round(rng);
        }
        for peer in self.peers.iter_mut() {
            if peer.owed.ack_by.is_some_and(|t| round || t <= now) {
                peer.owed.ack_by = None;
                peer.owed.ack = true;
            }
        }
        // Heartbeats.
        for peer in self.peers.iter_mut() {
            if peer.liveness != Liveness::Dead
                && peer
                    .last_sent_ms
                    .is_none_or(|t| now.saturating_sub(t) >= config.heartbeat_interval_ms)
            {
                peer.owed.ack = true;
            }
        }
        self.collect_garbage();
    }

    #[inline(never)]
    fn start_round<R: RngCore>(&mut self, rng: &mut R) {
        let seq = self.seq;
        let mut eligible: heapless::Vec<usize, PEERS> = heapless::Vec::new();
        for (i, p) in self.peers.iter().enumerate() {
            if p.liveness != Liveness::Dead && p.ack.is_some_and(|a| a < seq) {
                let _ = eligible.push(i);
            }
        }
        if self.config.push_pull {
            // Pull from everyone we push to, even with nothing new to push.
            eligible.clear();
            for (i, p) in self.peers.iter().enumerate() {
                if p.liveness != Liveness::Dead && p.ack.is_some() {
                    let _ = eligible.push(i);
                }
            }
        }
        let fanout = if self.config.fanout == 0 {
            eligible.len()
        } else {
            self.config.fanout.min(eligible.len())
        };
        // Partial Fisher-Yates: the first `fanout` entries are a uniform random choice.
        for k in 0..fanout {
            let j = k + (rng.next_u64() % (eligible.len() - k) as u64) as usize;
            eligible.swap(k, j);
            let peer = &mut self.peers[eligible[k]];
            peer.owed.deltas = true;
            peer.owed.round = true;
        }
    }

    #[inline(never)]
    fn collect_garbage(&mut self) {
        let min_ack = self
            .peers
            .iter()
            .filter(|p| p.liveness != Liveness::Dead)
            .filter_map(|p| p.ack)
            .min();
        match min_ack {
            Some(a) => self.buffer.collect_garbage(a),
            // Nobody is following the buffer: every neighbour will catch up by digest.
            None => self.buffer.clear(),
        }
    }

    // ---- outputs ------------------------------------------------------------------

    /// The next frame to send, written into `buf` (at least `config.mtu` bytes). Call
    /// until it returns `None` after every input.
    #[inline(never)]
    pub fn poll_transmit(&mut self, now_ms: u64, buf: &mut [u8]) -> Option<Transmit<A>> {
        self.now_ms = self.now_ms.max(now_ms);
        if buf.len() < self.config.mtu {
            return None;
        }
        let buf = &mut buf[..self.config.mtu];
        if self.outgoing.is_some() {
            return self.emit_fragment(buf);
        }
        let n = self.peers.len();
        for step in 0..n {
            let p = (self.cursor + step) % n;
            if !self.peers[p].spend(self.now_ms, 0, &self.config) {
                continue;
            }
            if self.prepare_for(p) {
                self.cursor = (p + 1) % n;
                return self.emit_fragment(buf);
            }
        }
        None
    }

    /// Encodes the most urgent message owed to peer `p` into the message buffer and
    /// makes it the outgoing message. `false` if nothing is owed (or can be sent).
    #[inline(never)]
    fn prepare_for(&mut self, p: usize) -> bool {
        let config = self.config;
        let peer_id = self.peers[p].id;
        let queued = peer_id.and_then(|id| self.catch_ups.iter().position(|c| c.to == id));
        let mut pull = false;
        let (kind, len) = if let Some(q) = queued {
            let c = self.catch_ups.remove(q);
            let delta = match self.state.missing_for(&c.digest) {
                Ok(d) => d,
                Err(_) => {
                    self.metrics.drops.capacity += 1;
                    return false;
                }
            };
            let msg = CatchUpMsg {
                nonce: c.nonce,
                seq: self.seq,
                delta,
            };
            let Some(len) = self.encode_message(&msg) else {
                return false;
            };
            self.metrics.catchups_sent += 1;
            (FrameKind::CatchUp, len)
        } else if let Some(reply) = self.peers[p].owed.digest {
            let Ok(digest) = self.state.digest() else {
                self.metrics.drops.capacity += 1;
                self.peers[p].owed.digest = None;
                return false;
            };
            let msg = DigestMsg {
                nonce: self.peers[p].digest_nonce,
                reply,
                digest,
            };
            self.peers[p].owed.digest = None;
            let Some(len) = self.encode_message(&msg) else {
                return false;
            };
            self.metrics.digests_sent += 1;
            (FrameKind::Digest, len)
        } else if self.peers[p].owed.deltas && self.peers[p].ack.is_some_and(|a| a < self.seq) {
            pull = config.push_pull && self.peers[p].owed.round;
            self.peers[p].owed.deltas = false;
            self.peers[p].owed.round = false;
            match self.encode_interval(p) {
                Some(len) => {
                    self.metrics.intervals_sent += 1;
                    (FrameKind::Deltas, len)
                }
                None => {
                    // No interval can go (its start was collected, or it does not fit a
                    // message): catch the peer up from its digest instead.
                    // Our digest, asking for its own, goes out at the next timeout and
                    // is retried like a probe until it asks: not every round (its stale
                    // acks bring us back here each round, and a digest per round per
                    // peer flooded a node that could not keep up).
                    let peer = &mut self.peers[p];
                    peer.ack = None;
                    if !peer.resync {
                        peer.resync = true;
                        peer.next_probe_ms = self.now_ms;
                    }
                    return false;
                }
            }
        } else if self.peers[p].owed.ack || self.peers[p].owed.round {
            pull = config.push_pull && self.peers[p].owed.round;
            (FrameKind::Heartbeat, 0)
        } else {
            // Deltas asked for (a pull) with none to send: nothing is owed.
            self.peers[p].owed.deltas = false;
            return false;
        };
        let now = self.now_ms;
        let peer = &mut self.peers[p];
        // Every frame acknowledges (its header carries `recv`).
        peer.owed.ack = false;
        peer.owed.ack_by = None;
        peer.owed.round = false;
        if kind == FrameKind::Heartbeat {
            peer.owed.deltas = false;
        }
        peer.last_sent_ms = Some(now);
        self.message_id = self.message_id.wrapping_add(1);
        let header = Header {
            kind,
            from: self.id,
            incarnation: self.incarnation,
            to_incarnation: peer.incarnation,
            ack: peer.recv.unwrap_or(0),
            pull,
            message: self.message_id,
            index: 0,
            count: 1,
            offset: 0,
        };
        // Fragment size: what the MTU leaves once the widest header of this message and
        // the CRC are in.
        let widest = Header {
            index: u8::MAX,
            count: u8::MAX,
            offset: MSG as u32,
            ..header
        };
        let Some(header_len) = frame::header_len(&widest) else {
            return false;
        };
        let Some(chunk) = config
            .mtu
            .checked_sub(1 + header_len + CRC_LEN)
            .filter(|c| *c > 0)
        else {
            return false;
        };
        let count = len.div_ceil(chunk).max(1);
        let Ok(count) = u8::try_from(count) else {
            self.metrics.drops.oversized += 1;
            return false;
        };
        self.outgoing = Some(Outgoing {
            to: peer.addr,
            peer: p,
            header: Header { count, ..header },
            len,
            chunk,
            next: 0,
        });
        true
    }

    #[inline(never)]
    fn emit_fragment(&mut self, buf: &mut [u8]) -> Option<Transmit<A>> {
        let out = self.outgoing.as_ref()?;
        let start = usize::from(out.next) * out.chunk;
        let end = (start + out.chunk).min(out.len);
        let header = Header {
            index: out.next,
            offset: start as u32,
            ..out.header
        };
        let (to, p) = (out.to, out.peer);
        let len = frame::encode(&header, &self.message_bytes[start..end], buf)?;
        let (now, config) = (self.now_ms, self.config);
        if let Some(peer) = self.peers.get_mut(p)
            && peer.addr == to
            && !peer.spend(now, len, &config)
        {
            // Out of budget: the rest of the message waits (see `poll_timeout`).
            return None;
        }
        let out = self.outgoing.as_mut()?;
        out.next += 1;
        if out.next >= out.header.count {
            self.outgoing = None;
        }
        self.metrics.frames_sent += 1;
        self.metrics.bytes_sent += len as u64;
        Some(Transmit { to, len })
    }

    #[inline(never)]
    fn encode_message<M: Serialize>(&mut self, msg: &M) -> Option<usize> {
        match postcard::to_slice(msg, &mut self.message_bytes) {
            Ok(used) => Some(used.len()),
            Err(_) => {
                self.metrics.drops.oversized += 1;
                None
            }
        }
    }

    /// Encodes the delta-interval owed to peer `p`: the buffered deltas from its ack mark
    /// on, without those that came from it (BP), as many as fit one message. `None` when
    /// the buffer no longer reaches back to the mark or not even one group fits.
    #[inline(never)]
    fn encode_interval(&mut self, p: usize) -> Option<usize> {
        let from = self.peers[p].ack?;
        let origin = self.peers[p].id;
        let first = self.buffer.iter().find(|e| e.end > from)?;
        if first.start > from {
            return None;
        }
        let bp = self.config.avoid_back_propagation;
        let sent_back = |e: &crate::buffer::Entry<T>| {
            bp && ((e.origin.is_some() && e.origin == origin) || e.known_by(p))
        };
        // Grow the interval group by group while it fits.
        let mut delta = T::default();
        let mut fitted: Option<(usize, u64)> = None;
        let mut complete = true;
        for entry in self.buffer.iter().filter(|e| e.end > from) {
            if !sent_back(entry) && delta.join(&entry.delta).is_err() {
                complete = false;
                break;
            }
            match postcard::to_slice(
                &DeltasMsg {
                    from,
                    to: entry.end,
                    delta: &delta,
                },
                &mut self.message_bytes,
            ) {
                Ok(used) => fitted = Some((used.len(), entry.end)),
                Err(_) => {
                    complete = false;
                    break;
                }
            }
        }
        let (len, to) = fitted.or_else(|| {
            self.metrics.drops.oversized += 1;
            None
        })?;
        if complete {
            return Some(len);
        }
        // The last attempt overwrote the message buffer: encode the part that fitted.
        let mut delta = T::default();
        for entry in self.buffer.iter().filter(|e| e.end > from && e.end <= to) {
            if !sent_back(entry) {
                delta.join(&entry.delta).ok()?;
            }
        }
        postcard::to_slice(
            &DeltasMsg {
                from,
                to,
                delta: &delta,
            },
            &mut self.message_bytes,
        )
        .ok()
        .map(|u| u.len())
    }

    /// When [`Node::handle_timeout`] should be called next, or `None` if never (no
    /// peers). A time in the past means "now".
    #[inline(never)]
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.peers.is_empty() {
            return None;
        }
        let mut next = self.next_round_ms;
        for p in self.peers.iter() {
            if let Some(heard) = p.last_heard_ms {
                let deadline = match p.liveness {
                    Liveness::Alive => heard + self.config.suspect_after_ms,
                    Liveness::Suspect => heard + self.config.dead_after_ms,
                    Liveness::Dead => u64::MAX,
                };
                next = next.min(deadline);
            }
            if p.recv.is_none() || p.resync || p.liveness == Liveness::Dead {
                next = next.min(p.next_probe_ms);
            }
            if let Some(t) = p.owed.ack_by {
                next = next.min(t);
            }
            // A heartbeat already owed waits for the transmitter, not for a timer.
            if p.liveness != Liveness::Dead && !p.owed.ack {
                let beat = p
                    .last_sent_ms
                    .map_or(self.now_ms, |t| t + self.config.heartbeat_interval_ms);
                next = next.min(beat);
            }
        }
        // Out of budget: nothing goes out before the message being sent can go on (the
        // others queue behind it), or, if none, before a peer owed something can be sent to.
        if self.config.budget.is_some() {
            let blocked = self.outgoing.as_ref().and_then(|o| self.peers.get(o.peer));
            let ready = match blocked {
                Some(p) => Some(p.budget_ready_ms(self.config.mtu, &self.config)),
                None => self
                    .peers
                    .iter()
                    .filter(|p| p.owes_anything())
                    .map(|p| p.budget_ready_ms(self.config.mtu, &self.config))
                    .min(),
            };
            if let Some(ready) = ready {
                next = next.min(ready);
            }
        }
        Some(next)
    }

    /// The next event, if any.
    #[inline(never)]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

enum Parsed<T: Reconcile> {
    Digest(DigestMsg<T::Digest>),
    CatchUp(CatchUpMsg<T>),
    Deltas(DeltasMsg<T>),
    Nothing,
}
