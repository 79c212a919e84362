//! Focused tests of the `starling-sync` protocol: two to a handful of [`Node`]s on a tiny,
//! fully controlled network ([`Net`]), each test checking one property of the protocol.
//!
//! Frames are read (and forged) with `starling_tests::netsim::wire`, the test-side mirror
//! of the frame format in `docs/sync-protocol.md`, so assertions can name what a node
//! sent: which message kinds, which deltas, to whom.
//!
//! * back-propagation and redundancy stripping: [`bp_delta_is_never_sent_back_to_its_origin`],
//!   [`rr_fully_known_delta_is_not_rebuffered`], [`rr_known_part_is_stripped_before_forwarding`];
//! * catch-up: [`late_joiner_from_scratch_catches_up`],
//!   [`late_joiner_with_most_of_the_state_receives_only_what_it_lacks`],
//!   [`restart_from_durable_state_loses_and_duplicates_nothing`];
//! * backpressure: [`full_delta_buffer_coalesces_and_converges_when_the_neighbour_returns`];
//! * fragmentation: `fragmented_delta_*` at MTUs 64, 244 and 1200;
//! * bad frames: `bad_frame_*`, and [`fuzzed_frames_never_panic_nor_change_state`];
//! * byte budget: [`byte_budget_bounds_bytes_per_peer_per_second`];
//! * failure detection and retries: [`silent_peer_becomes_suspect_then_dead_and_catches_up_on_return`],
//!   [`retries_to_a_dead_peer_back_off_exponentially_with_jitter`],
//!   [`retries_to_a_talking_peer_that_never_answers_back_off`];
//! * regressions of bugs the simulations found: [`fan_in_of_fragmented_messages_from_every_neighbour`],
//!   [`no_digest_ping_pong_once_in_sync`], [`stale_frame_from_an_older_incarnation_does_not_cut_off_the_current_one`].

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::{
    AwSet, CapacityError, GCounter, Growable, Lattice, Reconcile, ReplicaId, WireFormat,
};
use starling_sync::{ByteBudget, Config, Drops, Event, Liveness, Metrics, Node};
use starling_tests::netsim::InFlight;
use starling_tests::netsim::wire::{
    self, CatchUpMsg, ChunkHeader, DeltasMsg, FrameKind, Header, Reassembler,
};

// ---- the test network -----------------------------------------------------------------

/// A frame a node handed to the transport.
#[derive(Clone, Debug)]
struct Sent {
    at: u64,
    from: usize,
    to: usize,
    bytes: Vec<u8>,
    /// Lost on the way (a silent endpoint, or the test's filter).
    dropped: bool,
}

impl Sent {
    fn header(&self) -> Header {
        wire::decode(&self.bytes)
            .expect("nodes send well-formed frames")
            .0
    }
}

/// Decides, for each frame sent, whether the network loses it.
type Filter = Box<dyn FnMut(&Sent) -> bool>;

/// Nodes on a network addressed by index, with a fixed or jittered latency. A node can be
/// silenced (frames to and from it are lost and its timers stop) and brought back, and a
/// filter can lose chosen frames. Every frame sent is kept in `sent` for inspection.
struct Net<T, const P: usize, const D: usize, const M: usize>
where
    T: Reconcile + Serialize + DeserializeOwned,
{
    nodes: Vec<Node<T, usize, P, D, M>>,
    up: Vec<bool>,
    config: Config,
    now: u64,
    order: u64,
    latency: (u64, u64),
    rng: ChaCha8Rng,
    in_flight: Vec<InFlight>,
    sent: Vec<Sent>,
    events: Vec<(u64, usize, Event)>,
    filter: Option<Filter>,
    buf: Vec<u8>,
    steps_at_now: u32,
}

impl<T, const P: usize, const D: usize, const M: usize> Net<T, P, D, M>
where
    T: Reconcile + Serialize + DeserializeOwned,
{
    /// `n` nodes with replica ids 1..=n, bottom states, no links.
    fn new(n: usize, config: Config, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let nodes = (0..n)
            .map(|i| Node::new(ReplicaId(i as u64 + 1), T::default(), config, 0, &mut rng))
            .collect();
        Net {
            nodes,
            up: vec![true; n],
            config,
            now: 0,
            order: 0,
            latency: (5, 5),
            rng,
            in_flight: Vec::new(),
            sent: Vec::new(),
            events: Vec::new(),
            filter: None,
            buf: vec![0; config.mtu],
            steps_at_now: 0,
        }
    }

    /// Adds a node with replica id `id` holding `state`; returns its address.
    fn add_node(&mut self, id: u64, state: T) -> usize {
        let node = Node::new(ReplicaId(id), state, self.config, self.now, &mut self.rng);
        self.nodes.push(node);
        self.up.push(true);
        self.nodes.len() - 1
    }

    /// Links `a` and `b` (each a configured peer of the other).
    fn link(&mut self, a: usize, b: usize) {
        self.nodes[a].add_peer(b).expect("room for the peer");
        self.nodes[b].add_peer(a).expect("room for the peer");
    }

    fn full_mesh(&mut self) {
        for a in 0..self.nodes.len() {
            for b in a + 1..self.nodes.len() {
                self.link(a, b);
            }
        }
    }

    /// Replaces node `i` by a new incarnation restarted from `state` (its durable state),
    /// with the same replica id and configured peers.
    fn restart(&mut self, i: usize, state: T) {
        let id = self.nodes[i].id();
        let peers: Vec<usize> = self.nodes[i]
            .peers()
            .filter(|p| p.configured)
            .map(|p| p.addr)
            .collect();
        let mut node = Node::new(id, state, self.config, self.now, &mut self.rng);
        for p in peers {
            node.add_peer(p).expect("room for the peer");
        }
        self.nodes[i] = node;
        self.flush(i);
    }

    fn update(&mut self, i: usize, f: impl FnOnce(&mut T) -> Result<T, CapacityError>) {
        self.nodes[i].update(f).expect("update fits");
        self.flush(i);
    }

    fn flush(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].poll_transmit(self.now, &mut self.buf) {
            assert!(t.len <= self.config.mtu, "frame over the MTU");
            let mut sent = Sent {
                at: self.now,
                from: i,
                to: t.to,
                bytes: self.buf[..t.len].to_vec(),
                dropped: false,
            };
            sent.dropped =
                !self.up[i] || !self.up[t.to] || self.filter.as_mut().is_some_and(|f| f(&sent));
            if !sent.dropped {
                let (lo, hi) = self.latency;
                let at = self.now + lo + self.rng.next_u64() % (hi - lo + 1);
                self.order += 1;
                self.in_flight.push(InFlight {
                    at,
                    order: self.order,
                    from: i,
                    to: t.to,
                    bytes: sent.bytes.clone(),
                });
            }
            self.sent.push(sent);
        }
        while let Some(e) = self.nodes[i].poll_event() {
            self.events.push((self.now, i, e));
        }
    }

    /// Delivers `bytes` to node `to` as if from address `from`, now.
    fn deliver(&mut self, to: usize, from: usize, bytes: &[u8]) {
        self.nodes[to].handle_datagram(self.now, from, bytes);
        self.flush(to);
    }

    fn next_event(&self) -> u64 {
        let frames = self
            .in_flight
            .iter()
            .map(|f| f.at)
            .min()
            .unwrap_or(u64::MAX);
        let timers = (0..self.nodes.len())
            .filter(|&i| self.up[i])
            .filter_map(|i| self.nodes[i].poll_timeout())
            .min()
            .unwrap_or(u64::MAX);
        frames.min(timers).max(self.now)
    }

    /// Handles the next event due by `until`: one frame delivery (returned), or the timers
    /// due. `None` once nothing is due by `until` (time then stands at `until`).
    fn step(&mut self, until: u64) -> Option<Option<Sent>> {
        let next = self.next_event();
        if next > until {
            self.now = until;
            return None;
        }
        assert!(
            next > self.now || self.steps_at_now < 100_000,
            "livelock at {} ms: timers keep firing in the past",
            self.now
        );
        self.steps_at_now = if next == self.now {
            self.steps_at_now + 1
        } else {
            0
        };
        self.now = next;
        if let Some(k) = (0..self.in_flight.len())
            .filter(|&k| self.in_flight[k].at <= next)
            .min_by_key(|&k| (self.in_flight[k].at, self.in_flight[k].order))
        {
            let f = self.in_flight.swap_remove(k);
            if self.up[f.to] {
                self.deliver(f.to, f.from, &f.bytes);
                return Some(Some(Sent {
                    at: next,
                    from: f.from,
                    to: f.to,
                    bytes: f.bytes,
                    dropped: false,
                }));
            }
            return Some(None);
        }
        for i in 0..self.nodes.len() {
            if self.up[i] && self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                let mut rng = ChaCha8Rng::seed_from_u64(self.rng.next_u64());
                self.nodes[i].handle_timeout(self.now, &mut rng);
                self.flush(i);
            }
        }
        Some(None)
    }

    /// Runs until simulated time `until`.
    fn run_until(&mut self, until: u64) {
        while self.step(until).is_some() {}
    }

    fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    /// `true` when every node that is up holds the same state.
    fn converged(&self) -> bool {
        let mut states = (0..self.nodes.len())
            .filter(|&i| self.up[i])
            .map(|i| self.nodes[i].state());
        let first = states.next();
        states.all(|s| Some(s) == first)
    }

    /// Runs until every node that is up holds the same state; panics after `max_ms`.
    fn converge(&mut self, max_ms: u64) -> u64 {
        let start = self.now;
        while !self.converged() {
            assert!(
                self.now - start < max_ms,
                "no convergence within {max_ms} ms"
            );
            self.run_for(10);
        }
        self.now - start
    }

    /// The messages `from` sent `to` (reassembled from their frames, lost ones included)
    /// since time `since`.
    fn messages(&self, from: usize, to: usize, since: u64) -> Vec<(Header, Vec<u8>)> {
        let mut r = Reassembler::default();
        self.sent
            .iter()
            .filter(|s| s.from == from && s.to == to && s.at >= since)
            .filter_map(|s| r.push(&s.bytes))
            .collect()
    }

    /// The delta-intervals `from` sent `to` since `since`, decoded.
    fn intervals(&self, from: usize, to: usize, since: u64) -> Vec<DeltasMsg<T>> {
        self.messages(from, to, since)
            .into_iter()
            .filter(|(h, _)| h.kind == FrameKind::Deltas)
            .map(|(_, b)| postcard::from_bytes(&b).expect("a delta-interval decodes"))
            .collect()
    }

    /// Bytes `from` sent `to` since `since`.
    fn bytes(&self, from: usize, to: usize, since: u64) -> usize {
        self.sent
            .iter()
            .filter(|s| s.from == from && s.to == to && s.at >= since)
            .map(|s| s.bytes.len())
            .sum()
    }

    fn events_of(&self, i: usize) -> Vec<(u64, Event)> {
        self.events
            .iter()
            .filter(|(_, n, _)| *n == i)
            .map(|(t, _, e)| (*t, *e))
            .collect()
    }
}

// ---- documents ------------------------------------------------------------------------

type Set = AwSet<u32, Growable>;
/// A counter and a set, replicated together.
type Doc = (GCounter<Growable>, Set);

fn rid(i: usize) -> ReplicaId {
    ReplicaId(i as u64 + 1)
}

/// The update adding `elements` to the set of a [`Doc`] as replica `r`, as one delta.
fn add_all(
    r: ReplicaId,
    elements: impl IntoIterator<Item = u32>,
) -> impl FnOnce(&mut Doc) -> Result<Doc, CapacityError> {
    move |doc| {
        let mut delta = Doc::default();
        for e in elements {
            delta.1.join(&doc.1.add(r, e)?)?;
        }
        Ok(delta)
    }
}

fn increment(r: ReplicaId, n: u64) -> impl FnOnce(&mut Doc) -> Result<Doc, CapacityError> {
    move |doc| Ok((doc.0.increment(r, n)?, Set::default()))
}

fn config(mtu: usize) -> Config {
    let mut c = Config::new(mtu);
    c.sync_interval_ms = 100;
    c.heartbeat_interval_ms = 200;
    c.suspect_after_ms = 1_000;
    c.dead_after_ms = 3_000;
    c.retry_base_ms = 50;
    c.retry_max_ms = 2_000;
    c
}

type DocNet = Net<Doc, 8, 16, 8192>;

fn elements(doc: &Doc) -> BTreeSet<u32> {
    doc.1.iter().copied().collect()
}

// ---- (a) back-propagation ---------------------------------------------------------------

/// A line C - A - B: B's delta goes to A, A forwards it to C, and never back to B.
#[test]
fn bp_delta_is_never_sent_back_to_its_origin() {
    let (a, b, c) = (0, 1, 2);
    let mut net = DocNet::new(3, config(1200), 1);
    net.link(a, b);
    net.link(a, c);
    net.converge(5_000);
    net.run_for(1_000);
    let t0 = net.now;
    let from_b: Vec<u32> = (1_000..1_100).collect();
    net.update(b, add_all(rid(b), from_b.clone()));
    let delta_len = net.nodes[b].state().to_vec().len();
    net.converge(5_000);
    net.run_for(2_000);

    // A forwarded B's elements to C...
    let to_c: BTreeSet<u32> = net
        .intervals(a, c, t0)
        .iter()
        .flat_map(|m| elements(&m.delta))
        .collect();
    assert!(
        from_b.iter().all(|e| to_c.contains(e)),
        "A forwards B's delta to C"
    );
    // ...and sent B none of them: its intervals to B are empty (an ack mark only), and
    // all it sent B since, heartbeats included, is less than the delta once.
    let to_b = net.messages(a, b, t0);
    assert!(
        to_b.iter().any(|(h, _)| h.kind == FrameKind::Deltas),
        "A kept sending B intervals"
    );
    for (h, body) in &to_b {
        assert_ne!(h.kind, FrameKind::CatchUp, "no catch-up needed");
        if h.kind == FrameKind::Deltas {
            let m: DeltasMsg<Doc> = postcard::from_bytes(body).expect("interval decodes");
            assert!(
                m.delta.is_bottom(),
                "A echoed B's delta back: {:?}",
                m.delta
            );
            assert!(
                body.len() <= 16,
                "an empty interval is a few bytes, not {}",
                body.len()
            );
        }
    }
    let echoed = net.bytes(a, b, t0);
    assert!(
        echoed < delta_len,
        "A sent B {echoed} bytes since B's {delta_len}-byte delta: headers and acks only"
    );
    assert!(net.bytes(a, c, t0) > delta_len, "A sent C the delta");
}

// ---- (b) redundancy stripping -----------------------------------------------------------

/// A triangle: A's delta reaches C directly, then again through B. The second copy
/// changes nothing at C and is not buffered again.
#[test]
fn rr_fully_known_delta_is_not_rebuffered() {
    let (a, b, c) = (0, 1, 2);
    let mut net = DocNet::new(3, config(1200), 2);
    net.full_mesh();
    net.converge(5_000);
    net.run_for(1_000);
    // A's interval reaches B and C at once; B forwards it to C at its next round.
    net.update(a, add_all(rid(a), [7, 8, 9]));
    let t0 = net.now;
    let mut checked = 0;
    // Frame by frame: at each delivery to C of an interval from B holding only what C
    // already has, C must not join or buffer anything.
    loop {
        let before = (
            net.nodes[c].buffered(),
            *net.nodes[c].metrics(),
            net.nodes[c].state().clone(),
        );
        let Some(delivered) = net.step(t0 + 3_000) else {
            break;
        };
        let Some(f) = delivered.filter(|f| f.from == b && f.to == c) else {
            continue;
        };
        let Some((h, fragment)) = wire::decode(&f.bytes) else {
            continue;
        };
        if h.kind != FrameKind::Deltas || h.chunk.is_some() {
            continue;
        }
        let m: DeltasMsg<Doc> = postcard::from_bytes(fragment).expect("interval decodes");
        if elements(&m.delta).is_empty() || !m.delta.leq(&before.2) {
            continue;
        }
        let (buffered, metrics, state) = before;
        assert!(
            net.nodes[c].buffered() <= buffered,
            "a known delta is not buffered again"
        );
        assert_eq!(
            net.nodes[c].metrics().deltas_joined,
            metrics.deltas_joined,
            "nor joined"
        );
        assert_eq!(*net.nodes[c].state(), state);
        checked += 1;
    }
    assert!(checked > 0, "B forwarded A's delta to C after C had it");
    // And nothing of A's came back to A from anyone.
    for from in [b, c] {
        for m in net.intervals(from, a, t0) {
            assert!(
                elements(&m.delta).is_empty(),
                "A's delta echoed back to A by {from}"
            );
        }
    }
}

/// A line A - B - C, plus A - C: A's element x reaches C first; then B sends C an
/// interval with x and its own y. C strips x (known) before buffering, so what C
/// forwards to A holds y only: x never returns to A, though B (not A) sent it to C.
#[test]
fn rr_known_part_is_stripped_before_forwarding() {
    let (a, b, c) = (0, 1, 2);
    let mut net = DocNet::new(3, config(1200), 3);
    net.full_mesh();
    net.converge(5_000);
    net.run_for(1_000);
    // Hold B's frames to C back while A's update spreads, then let B's interval (A's x,
    // forwarded, plus B's own y) through.
    net.filter = Some(Box::new(move |s| s.from == b && s.to == c));
    net.update(a, add_all(rid(a), [1]));
    net.run_for(500); // C and B have x
    assert!(elements(net.nodes[c].state()).contains(&1));
    net.update(b, add_all(rid(b), [2]));
    net.run_for(50);
    net.filter = None;
    let t0 = net.now;
    let c_buffered_before = net.nodes[c].buffered();
    net.converge(5_000);
    net.run_for(2_000);
    let forwarded: Vec<DeltasMsg<Doc>> = net.intervals(c, a, t0);
    let forwarded_elements: BTreeSet<u32> =
        forwarded.iter().flat_map(|m| elements(&m.delta)).collect();
    assert!(
        !forwarded_elements.contains(&1),
        "C stripped A's x before forwarding it back to A"
    );
    // B's intervals to C (sent before t0 and held back) carried x and y; C took y only.
    let from_b: BTreeSet<u32> = net
        .intervals(b, c, 0)
        .iter()
        .flat_map(|m| elements(&m.delta))
        .collect();
    assert!(
        from_b.contains(&1) && from_b.contains(&2),
        "B sent C both x and y: {from_b:?}"
    );
    assert!(net.nodes[c].buffered() <= c_buffered_before + 1);
    assert_eq!(elements(net.nodes[a].state()), BTreeSet::from([1, 2]));
}

// ---- (c) late joiners ------------------------------------------------------------------

/// A and B hold a large shared state (600 elements, counters); returns the net.
fn large_shared_state(seed: u64) -> DocNet {
    let mut net = DocNet::new(2, config(1200), seed);
    net.link(0, 1);
    for k in 0..30u32 {
        let i = (k % 2) as usize;
        net.update(
            i,
            add_all(rid(i), (k * 20..k * 20 + 20).map(|e| e * 7919 % 100_000)),
        );
        net.update(i, increment(rid(i), 3));
        net.run_for(50);
    }
    net.converge(10_000);
    net.run_for(1_000);
    net
}

#[test]
fn late_joiner_from_scratch_catches_up() {
    let mut net = large_shared_state(4);
    let full = net.nodes[0].state().to_vec().len();
    let c = net.add_node(3, Doc::default());
    net.link(0, c);
    net.converge(10_000);
    assert_eq!(net.nodes[c].state(), net.nodes[0].state());
    assert_eq!(net.nodes[c].state().1.len(), 600);
    let received = net.nodes[c].metrics().bytes_received as usize;
    assert!(
        received >= full,
        "a new replica receives at least the state ({received} < {full})"
    );
    assert!(
        net.nodes[c].metrics().catchups_received >= 1,
        "by digest-driven catch-up"
    );
}

/// C starts from a snapshot of A's state (a backup restored onto a new device); A and B
/// then make a few updates. C's digest shows what it has: it receives only the rest.
#[test]
fn late_joiner_with_most_of_the_state_receives_only_what_it_lacks() {
    let mut net = large_shared_state(5);
    let snapshot = net.nodes[0].state().clone();
    for k in 0..3u32 {
        net.update(0, add_all(rid(0), [200_000 + k]));
        net.update(1, increment(rid(1), 1));
    }
    net.converge(5_000);
    let full = net.nodes[0].state().to_vec().len();
    let c = net.add_node(3, snapshot);
    net.link(0, c);
    net.link(1, c);
    net.converge(10_000);
    let received = net.nodes[c].metrics().bytes_received as usize;
    assert!(
        received * 8 < full,
        "C received {received} bytes, the state is {full}: it got only what it lacked"
    );
    assert_eq!(net.nodes[c].state(), net.nodes[0].state());
}

// ---- (d) restart from durable state -----------------------------------------------------

#[test]
fn restart_from_durable_state_loses_and_duplicates_nothing() {
    let (a, b) = (0, 1);
    let mut net = DocNet::new(2, config(244), 6);
    net.latency = (5, 40);
    net.link(a, b);
    let mut made = [0u64; 2];
    let bump = |net: &mut DocNet, i: usize, n: u64, made: &mut [u64; 2]| {
        net.update(i, increment(rid(i), n));
        made[i] += n;
    };
    for k in 0..20 {
        bump(&mut net, k % 2, 1 + k as u64 % 3, &mut made);
        net.run_for(30);
    }
    // B crashes with frames in flight, loses everything but its state, and restarts as
    // a new incarnation; A keeps counting meanwhile.
    let durable = net.nodes[b].state().clone();
    let delayed = net
        .sent
        .iter()
        .rev()
        .find(|s| s.from == a && s.to == b && s.header().ack > 1)
        .expect("A acknowledged B's deltas")
        .bytes
        .clone();
    net.up[b] = false;
    for _ in 0..5 {
        bump(&mut net, a, 2, &mut made);
        net.run_for(100);
    }
    net.up[b] = true;
    net.restart(b, durable);
    // A frame A sent the previous incarnation, delayed: its ack is beyond anything the
    // new incarnation sent, but it is about the old one, not malformed.
    net.deliver(b, a, &delayed);
    assert_eq!(
        net.nodes[b].metrics().drops.malformed,
        0,
        "a frame for the previous incarnation"
    );
    for k in 0..10 {
        bump(&mut net, k % 2, 1, &mut made);
        net.run_for(20);
    }
    net.converge(10_000);
    net.run_for(2_000);
    for i in [a, b] {
        let counter = &net.nodes[i].state().0;
        assert_eq!(
            counter.value(),
            made[0] + made[1],
            "nothing lost, nothing counted twice"
        );
        assert_eq!(counter.get(rid(a)), made[0]);
        assert_eq!(counter.get(rid(b)), made[1]);
    }
    // Honest frames from before the restart were not taken for malformed ones.
    for i in [a, b] {
        let d = net.nodes[i].metrics().drops;
        assert_eq!(
            (d.malformed, d.corrupt, d.truncated, d.oversized),
            (0, 0, 0, 0),
            "node {i}: {d:?}"
        );
    }
}

// ---- (e) coalescing under a full buffer -------------------------------------------------

fn coalescing<const D: usize>() {
    let (a, b, c) = (0, 1, 2);
    let mut net: Net<Doc, 4, D, 4096> = Net::new(3, config(244), 7);
    net.link(a, b);
    net.link(a, c);
    net.converge(5_000);
    net.run_for(1_000);
    // B goes silent (not yet suspected, so it still holds back A's buffer).
    net.up[b] = false;
    let catchups = net.nodes[b].metrics().catchups_received;
    for k in 0..40u32 {
        net.update(a, add_all(rid(a), [k]));
        net.update(a, increment(rid(a), 1));
        assert!(
            net.nodes[a].buffered() <= D,
            "the buffer never grows past its capacity"
        );
        net.run_for(10);
    }
    assert!(
        net.nodes[a].buffered() > 0,
        "B's missing acks hold the buffer"
    );
    assert!(
        net.nodes[a].metrics().coalesced > 0,
        "the full buffer coalesced"
    );
    assert_eq!(net.nodes[a].metrics().buffer_resets, 0);
    net.run_for(300);
    assert_eq!(
        net.nodes[c].state(),
        net.nodes[a].state(),
        "C kept up throughout"
    );
    assert_eq!(
        net.nodes[a]
            .peers()
            .find(|p| p.addr == b)
            .map(|p| p.liveness),
        Some(Liveness::Alive),
        "B not suspected yet"
    );
    // B returns: it gets everything from its ack mark on, coalesced.
    net.up[b] = true;
    net.converge(5_000);
    assert_eq!(net.nodes[b].state().1.len(), 40);
    assert_eq!(net.nodes[b].state().0.value(), 40);
    assert_eq!(
        net.nodes[b].metrics().catchups_received,
        catchups,
        "no catch-up needed: the coalesced intervals did it"
    );
    net.run_for(2_000);
    assert_eq!(net.nodes[a].buffered(), 0, "acknowledged and collected");
}

#[test]
fn full_delta_buffer_coalesces_and_converges_when_the_neighbour_returns() {
    coalescing::<2>();
    coalescing::<4>();
}

// ---- (f) transfers ---------------------------------------------------------------------

/// A delta of `n` elements sent at `mtu`: arrives intact in many chunks; then again with
/// one chunk of its first interval lost, which alone is sent again, and converges.
fn fragmented_delta(mtu: usize, n: u32, min_chunks: u32) {
    for lose_one in [false, true] {
        let (a, b) = (0, 1);
        let mut net = DocNet::new(2, config(mtu), 8);
        net.latency = (5, 15); // fragments reorder a little
        net.link(a, b);
        net.converge(5_000);
        net.run_for(1_000);
        let t0 = net.now;
        if lose_one {
            let mut lost = false;
            net.filter = Some(Box::new(move |s| {
                let h = s.header();
                let hit = !lost
                    && s.from == 0
                    && h.kind == FrameKind::Deltas
                    && h.chunk.is_some_and(|c| c.count() > 2 && c.index == 1);
                lost |= hit;
                hit
            }));
        }
        net.update(a, add_all(rid(a), (0..n).map(|e| e * 104_729)));
        let took = net.converge(10_000);
        assert_eq!(net.nodes[b].state().1.len(), n as usize);
        let first = net
            .sent
            .iter()
            .filter(|s| s.from == a && s.at >= t0)
            .map(Sent::header)
            .find(|h| h.kind == FrameKind::Deltas)
            .expect("an interval went out");
        let count = first.chunk.map_or(1, |c| c.count());
        assert!(
            count >= min_chunks,
            "MTU {mtu}: {count} chunks, expected at least {min_chunks}"
        );
        let chunks_of_first = |net: &DocNet| {
            net.sent
                .iter()
                .filter(|s| s.from == a && s.at >= t0)
                .filter(|s| {
                    s.header()
                        .chunk
                        .is_some_and(|c| c.transfer == first.chunk.map_or(u32::MAX, |f| f.transfer))
                })
                .count() as u32
        };
        if lose_one {
            assert!(net.sent.iter().any(|s| s.dropped), "one chunk was lost");
            // The lost chunk is sent again, and a few that the link's random delays
            // reordered past the loss threshold; never the whole message.
            let sent = chunks_of_first(&net);
            assert!(
                sent > count && sent < 2 * count,
                "{sent} chunk sends for {count} chunks"
            );
            assert!(
                took < 2_000,
                "resent within a few sync rounds, took {took} ms"
            );
        }
    }
}

#[test]
fn fragmented_delta_at_mtu_64() {
    fragmented_delta(64, 60, 10);
}

#[test]
fn fragmented_delta_at_mtu_244() {
    fragmented_delta(244, 150, 3);
}

#[test]
fn fragmented_delta_at_mtu_1200() {
    fragmented_delta(1200, 600, 3);
}

// ---- (g) bad frames --------------------------------------------------------------------

/// Two synced nodes at MTU 64 (so messages travel as transfers), with the frames they
/// exchanged.
fn synced_pair(seed: u64) -> DocNet {
    let mut net = DocNet::new(2, config(64), seed);
    net.link(0, 1);
    for k in 0..6 {
        net.update(k % 2, add_all(rid(k % 2), [k as u32 * 3, k as u32 * 3 + 1]));
        net.run_for(150);
    }
    net.converge(5_000);
    net.run_for(1_000);
    net
}

/// What a bad frame must leave alone at node 0.
#[derive(Debug, PartialEq)]
struct Observable {
    state: Doc,
    buffered: usize,
    peers: Vec<(usize, Option<ReplicaId>, Liveness, Option<u64>)>,
}

fn observe(net: &DocNet, i: usize) -> Observable {
    Observable {
        state: net.nodes[i].state().clone(),
        buffered: net.nodes[i].buffered(),
        peers: net.nodes[i]
            .peers()
            .map(|p| (p.addr, p.id, p.liveness, p.acked))
            .collect(),
    }
}

/// Delivers `frame` to node 0 from node 1's address; asserts it is dropped, counted under
/// exactly the drop counter `which` picks, and changes nothing observable.
fn assert_dropped(net: &mut DocNet, frame: &[u8], what: &str, which: fn(&Drops) -> u64) {
    let before = observe(net, 0);
    let drops = net.nodes[0].metrics().drops;
    net.nodes[0].handle_datagram(net.now, 1, frame);
    let after = net.nodes[0].metrics().drops;
    assert_eq!(
        which(&after),
        which(&drops) + 1,
        "{what}: counted under its reason ({after:?})"
    );
    assert_eq!(
        after.total(),
        drops.total() + 1,
        "{what}: counted once ({after:?})"
    );
    assert_eq!(observe(net, 0), before, "{what}: nothing changed");
}

/// A frame 1 sent 0 of `kind`, a whole message or a chunk of a transfer.
fn captured(net: &DocNet, kind: FrameKind, chunk: bool) -> Vec<u8> {
    net.sent
        .iter()
        .filter(|s| s.from == 1 && s.to == 0)
        .find(|s| {
            let h = s.header();
            h.kind == kind && h.chunk.is_some() == chunk
        })
        .unwrap_or_else(|| panic!("no {kind:?} frame (chunk: {chunk}) captured"))
        .bytes
        .clone()
}

/// The current header node 1 would send node 0, for forging frames.
fn current_header(net: &DocNet, kind: FrameKind) -> Header {
    let last = net
        .sent
        .iter()
        .rev()
        .find(|s| s.from == 1 && s.to == 0)
        .expect("a frame");
    Header {
        kind,
        chunk: None,
        ..last.header()
    }
}

/// Chunk `index` of a transfer `transfer` of `len` bytes in chunks of `chunk`.
fn chunk(transfer: u32, len: u32, chunk: u32, index: u32) -> Option<ChunkHeader> {
    Some(ChunkHeader {
        transfer,
        len,
        chunk,
        index,
    })
}

#[test]
fn bad_frame_truncated() {
    let mut net = synced_pair(10);
    assert_dropped(&mut net, &[], "empty", |d| d.truncated);
    assert_dropped(
        &mut net,
        &[wire::FRAME_VERSION, 0, 0],
        "shorter than a CRC",
        |d| d.truncated,
    );
    // A message cut short, in a frame with a good CRC.
    let h = current_header(&net, FrameKind::Deltas);
    let msg = postcard::to_allocvec(&DeltasMsg {
        from: 1,
        to: 2,
        delta: net.nodes[1].state().clone(),
    })
    .unwrap();
    let frame = wire::encode(&h, &msg[..msg.len() / 2]);
    assert_dropped(&mut net, &frame, "message cut short", |d| d.truncated);
}

#[test]
fn bad_frame_unknown_version() {
    let mut net = synced_pair(11);
    let mut frame = captured(&net, FrameKind::Heartbeat, false);
    frame[0] = wire::FRAME_VERSION + 1;
    wire::fix_crc(&mut frame);
    assert_dropped(&mut net, &frame, "version 2", |d| d.unknown_version);
    frame[0] = 0;
    assert_dropped(&mut net, &frame, "version 0", |d| d.unknown_version);
}

#[test]
fn bad_frame_corrupt_crc() {
    let mut net = synced_pair(12);
    let good = captured(&net, FrameKind::Deltas, false);
    for bit in [8, 30, good.len() * 8 - 1] {
        let mut frame = good.clone();
        frame[bit / 8] ^= 1 << (bit % 8);
        assert_dropped(&mut net, &frame, "a flipped bit", |d| d.corrupt);
    }
}

#[test]
fn bad_frame_malformed_header() {
    let mut net = synced_pair(13);
    let h = current_header(&net, FrameKind::Deltas);
    let cases = [
        (
            "chunk past the end of its transfer",
            Header {
                chunk: chunk(1, 2, 1, 3),
                ..h
            },
        ),
        (
            "chunk of a transfer of one chunk",
            Header {
                chunk: chunk(1, 1, 1, 0),
                ..h
            },
        ),
        (
            "chunk of size 0",
            Header {
                chunk: chunk(1, 2, 0, 0),
                ..h
            },
        ),
        (
            "chunk body shorter than its header says",
            Header {
                chunk: chunk(1, 3, 2, 0),
                ..h
            },
        ),
        (
            "incarnation 0",
            Header {
                incarnation: 0,
                ..h
            },
        ),
        ("from the receiver itself", Header { from: rid(0), ..h }),
        (
            "heartbeat as a chunk",
            Header {
                kind: FrameKind::Heartbeat,
                chunk: chunk(1, 2, 1, 0),
                ..h
            },
        ),
        (
            "transfer acknowledgement as a chunk",
            Header {
                kind: FrameKind::TransferAck,
                chunk: chunk(1, 2, 1, 0),
                ..h
            },
        ),
        (
            "ack beyond what was sent",
            Header {
                ack: 1_000_000,
                ..h
            },
        ),
        // Refused before the peers table is touched: an unknown sender is not added.
        (
            "ack beyond what was sent, from a replica not yet known",
            Header {
                from: rid(7),
                ack: 1_000_000,
                ..h
            },
        ),
    ];
    for (what, header) in cases {
        let frame = wire::encode(
            &header,
            if header.kind == FrameKind::Heartbeat {
                &[]
            } else {
                &[0]
            },
        );
        assert_dropped(&mut net, &frame, what, |d| d.malformed);
    }
    // Bytes that are no header at all, with a good CRC.
    let mut frame = vec![
        wire::FRAME_VERSION,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0,
        0,
        0,
        0,
    ];
    wire::fix_crc(&mut frame);
    assert_dropped(&mut net, &frame, "garbage header", |d| d.malformed);
    // A good header with a message that does not decode.
    let frame = wire::encode(&h, &[0xff; 12]);
    assert_dropped(&mut net, &frame, "garbage message", |d| d.malformed);
}

#[test]
fn bad_frame_oversized_message() {
    let mut net = synced_pair(14);
    let h = current_header(&net, FrameKind::Deltas);
    let limit = net.nodes[0].config().max_message_bytes as u32;
    // A transfer announcing more than the node takes: refused before any staging.
    let frame = wire::encode(
        &Header {
            chunk: chunk(1, limit + 1, 30, 3),
            ..h
        },
        &[0u8; 30],
    );
    assert_dropped(&mut net, &frame, "transfer over max_message_bytes", |d| {
        d.oversized
    });
    // The refusal goes back to the sender.
    let ack = transfer_acks(&mut net, 0).pop().expect("a refusal is owed");
    assert!(
        matches!(
            ack.status,
            wire::AckStatus::Refused(starling_sync::Refusal::TooLarge { .. })
        ),
        "{ack:?}"
    );
}

/// The transfer acknowledgements node `i` sends now.
fn transfer_acks(net: &mut DocNet, i: usize) -> Vec<wire::TransferAck> {
    let mut buf = vec![0u8; net.nodes[i].config().mtu];
    let mut acks = Vec::new();
    while let Some(t) = net.nodes[i].poll_transmit(net.now, &mut buf) {
        if let Some((h, body)) = wire::decode(&buf[..t.len])
            && h.kind == FrameKind::TransferAck
        {
            acks.push(postcard::from_bytes(body).expect("an ack decodes"));
        }
    }
    acks
}

#[test]
fn bad_frame_duplicated_chunk_and_interval() {
    let mut net = synced_pair(15);
    // A chunk of a transfer being staged, twice.
    let h = current_header(&net, FrameKind::Deltas);
    let first = wire::encode(
        &Header {
            chunk: chunk(60_001, 60, 20, 0),
            ..h
        },
        &[0u8; 20],
    );
    net.nodes[0].handle_datagram(net.now, 1, &first);
    assert_dropped(&mut net, &first, "chunk again", |d| d.duplicate);
    // An interval already joined, again.
    let interval = net
        .sent
        .iter()
        .filter(|s| s.from == 1 && s.to == 0 && !s.dropped)
        .rfind(|s| {
            let h = s.header();
            h.kind == FrameKind::Deltas && h.chunk.is_none()
        })
        .expect("a one-frame interval")
        .bytes
        .clone();
    assert_dropped(&mut net, &interval, "interval again", |d| d.duplicate);
}

#[test]
fn bad_frame_replayed_from_a_previous_incarnation() {
    let mut net = synced_pair(16);
    let old = captured(&net, FrameKind::Deltas, false);
    let old_heartbeat = captured(&net, FrameKind::Heartbeat, false);
    let durable = net.nodes[1].state().clone();
    net.restart(1, durable);
    net.converge(5_000);
    net.run_for(1_000);
    assert_dropped(
        &mut net,
        &old,
        "interval of the previous incarnation",
        |d| d.replayed,
    );
    assert_dropped(
        &mut net,
        &old_heartbeat,
        "heartbeat of the previous incarnation",
        |d| d.replayed,
    );
}

#[test]
fn bad_frame_unsolicited_catch_up() {
    let mut net = synced_pair(17);
    // A catch-up nobody asked for: no digest of node 0 is outstanding.
    let h = current_header(&net, FrameKind::CatchUp);
    let mut evil = net.nodes[1].state().clone();
    evil.1.add(rid(1), 666).unwrap();
    let msg = postcard::to_allocvec(&CatchUpMsg {
        nonce: 12_345,
        seq: 1,
        delta: evil,
    })
    .unwrap();
    let frame = wire::encode(&h, &msg);
    assert_dropped(&mut net, &frame, "unsolicited catch-up", |d| d.replayed);
    // A real catch-up, replayed after it was consumed.
    let real = net.sent.iter().find(|s| {
        s.from == 1
            && s.to == 0
            && s.header().kind == FrameKind::CatchUp
            && s.header().chunk.is_none()
    });
    if let Some(real) = real {
        let bytes = real.bytes.clone();
        assert_dropped(&mut net, &bytes, "consumed catch-up again", |d| d.replayed);
    }
}

/// Random and mutated frames, 50,000 of them, into a node that never synced with their
/// senders: it must not panic, and its state must not change.
#[test]
fn fuzzed_frames_never_panic_nor_change_state() {
    // A corpus of real frames of every kind from a 3-node exchange at MTU 64.
    let mut src = DocNet::new(3, config(64), 20);
    src.full_mesh();
    for k in 0..12 {
        let i = k % 3;
        // Enough elements that some messages travel as transfers.
        src.update(i, add_all(rid(i), (0..8).map(|e| e * 100_003 + k as u32)));
        src.update(i, increment(rid(i), 1));
        src.run_for(120);
    }
    src.converge(5_000);
    let corpus: Vec<Vec<u8>> = src.sent.iter().map(|s| s.bytes.clone()).collect();
    let kinds: BTreeSet<u8> = src.sent.iter().map(|s| s.header().kind as u8).collect();
    assert_eq!(kinds.len(), 5, "the corpus has every frame kind");
    assert!(
        src.sent.iter().any(|s| s.header().chunk.is_some()),
        "and chunks of transfers"
    );

    // The target: replica 1 again (frames "from itself" included), a new incarnation
    // with some state of its own, never synced with anyone.
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    // A small limit, so mutated transfer lengths reach the oversized check.
    let mut small = config(64);
    small.max_message_bytes = 100;
    let mut target: Node<Doc, usize, 8, 16, 8192> =
        Node::new(rid(0), Doc::default(), small, 0, &mut rng);
    target.add_peer(1).unwrap();
    target.update(add_all(rid(0), [5, 6, 7])).unwrap();
    let state = target.state().clone();
    let mut buf = vec![0u8; 64];
    let mut now = 0;
    let mut last = Vec::new();
    for k in 0..50_000u32 {
        let mut frame = match rng.next_u32() % 8 {
            0 => {
                let n = (rng.next_u32() % 80) as usize;
                (0..n).map(|_| rng.next_u32() as u8).collect()
            }
            1 | 2 => {
                // Flipped bits.
                let mut f = corpus[rng.next_u32() as usize % corpus.len()].clone();
                for _ in 0..1 + rng.next_u32() % 4 {
                    let bit = rng.next_u32() as usize % (f.len() * 8);
                    f[bit / 8] ^= 1 << (bit % 8);
                }
                f
            }
            3 => {
                // Cut or extended.
                let mut f = corpus[rng.next_u32() as usize % corpus.len()].clone();
                let n = rng.next_u32() as usize % (f.len() + 8);
                f.resize(n, rng.next_u32() as u8);
                f
            }
            4 => {
                // Spliced from two frames.
                let x = &corpus[rng.next_u32() as usize % corpus.len()];
                let y = &corpus[rng.next_u32() as usize % corpus.len()];
                let (i, j) = (
                    rng.next_u32() as usize % x.len(),
                    rng.next_u32() as usize % y.len(),
                );
                [&x[..i], &y[j..]].concat()
            }
            5 | 6 => {
                // Mutated bytes behind a good CRC: reaches the header and message parsers.
                let mut f = corpus[rng.next_u32() as usize % corpus.len()].clone();
                for _ in 0..1 + rng.next_u32() % 3 {
                    let i = rng.next_u32() as usize % f.len();
                    f[i] = rng.next_u32() as u8;
                }
                if rng.next_u32().is_multiple_of(2) {
                    f[0] = wire::FRAME_VERSION;
                }
                wire::fix_crc(&mut f);
                f
            }
            7 if k > 0 && rng.next_u32().is_multiple_of(2) => last.clone(), // the same frame again
            _ => corpus[rng.next_u32() as usize % corpus.len()].clone(),    // verbatim
        };
        if frame.len() > 200 {
            frame.truncate(200);
        }
        let from = rng.next_u32() as usize % 4;
        target.handle_datagram(now, from, &frame);
        last = frame.clone();
        if k.is_multiple_of(64) {
            now += 50;
            target.handle_timeout(now, &mut rng);
            while target.poll_transmit(now, &mut buf).is_some() {}
            while target.poll_event().is_some() {}
        }
        assert_eq!(
            *target.state(),
            state,
            "frame {k} changed the state: {frame:02x?}"
        );
    }
    let d = target.metrics().drops;
    println!("fuzz drops: {d:?}");
    for (what, n) in [
        ("truncated", d.truncated),
        ("unknown_version", d.unknown_version),
        ("corrupt", d.corrupt),
        ("malformed", d.malformed),
        ("oversized", d.oversized),
        ("duplicate", d.duplicate),
        ("replayed", d.replayed),
        ("gap", d.gap),
        ("peers_full", d.peers_full),
    ] {
        assert!(n > 0, "the fuzz never reached the {what} check: {d:?}");
    }
}

// ---- (h) byte budget ----------------------------------------------------------------------

/// `nodes` in a full mesh at `mtu`, each under `budget` per peer, updating for 10 s.
fn budget_case(mtu: usize, budget: ByteBudget, nodes: usize, elements_per_update: u32) {
    let mut c = config(mtu);
    c.budget = Some(budget);
    c.push_pull = true; // pulls with nothing to send must not spin the timers either
    c.suspect_after_ms = 20_000;
    c.dead_after_ms = 60_000;
    c.retry_base_ms = 2_000;
    c.retry_max_ms = 8_000;
    let mut net: Net<Doc, 8, 16, 8192> = Net::new(nodes, c, 30 + mtu as u64);
    net.full_mesh();
    net.latency = (5, 30);
    for k in 0..100u32 {
        let i = k as usize % nodes;
        let n = elements_per_update;
        net.update(i, add_all(rid(i), (k * n..k * n + n).map(|e| e * 31)));
        net.run_for(100);
    }
    net.converge(300_000);
    // Every window, per sender and receiver: at most burst + rate x time.
    let mut busiest = 0f64;
    for from in 0..nodes {
        for to in 0..nodes {
            let frames: Vec<(u64, usize)> = net
                .sent
                .iter()
                .filter(|s| s.from == from && s.to == to)
                .map(|s| (s.at, s.bytes.len()))
                .collect();
            for (k, &(start, _)) in frames.iter().enumerate() {
                let mut sum = 0u64;
                for &(at, len) in frames[k..].iter().take_while(|(at, _)| at - start <= 5_000) {
                    sum += len as u64;
                    let allowed = u64::from(budget.burst_bytes)
                        + (at - start) * u64::from(budget.bytes_per_second) / 1000;
                    assert!(
                        sum <= allowed,
                        "{from} -> {to}: {sum} bytes in [{start}, {at}] ms, budget {allowed}"
                    );
                    if at - start >= 1_000 {
                        busiest = busiest.max(sum as f64 * 1000.0 / (at - start) as f64);
                    }
                }
            }
        }
    }
    assert!(
        busiest > f64::from(budget.bytes_per_second) * 0.5,
        "the budget was the bottleneck ({busiest:.0} B/s)"
    );
}

#[test]
fn byte_budget_bounds_bytes_per_peer_per_second() {
    let budget = |bytes_per_second, burst_bytes| ByteBudget {
        bytes_per_second,
        burst_bytes,
    };
    budget_case(244, budget(2_000, 600), 4, 10);
    // A LoRa-like link: one 64-byte frame of burst, ten frames a second, five peers.
    budget_case(64, budget(640, 64), 5, 3);
}

// ---- (i) failure detection and retries ------------------------------------------------------

#[test]
fn silent_peer_becomes_suspect_then_dead_and_catches_up_on_return() {
    let (a, b) = (0, 1);
    let mut net = DocNet::new(2, config(244), 40);
    net.link(a, b);
    net.converge(5_000);
    net.run_for(1_000);
    let silent_from = net.now;
    net.up[b] = false;
    for k in 0..5 {
        net.update(a, add_all(rid(a), [k]));
        net.run_for(1_000);
    }
    let events = net.events_of(a);
    let at = |want: Event| {
        events
            .iter()
            .find(|(t, e)| *e == want && *t >= silent_from)
            .map(|(t, _)| *t)
    };
    let suspect = at(Event::PeerSuspect(rid(b))).expect("B suspected");
    let down = at(Event::PeerDown(rid(b))).expect("B declared dead");
    let c = net.config;
    assert!(
        suspect >= silent_from + c.suspect_after_ms - c.heartbeat_interval_ms && suspect < down
    );
    assert!(down >= silent_from + c.dead_after_ms - c.heartbeat_interval_ms);
    assert_eq!(
        net.nodes[a].peers().next().map(|p| p.liveness),
        Some(Liveness::Dead)
    );
    // B returns (same incarnation: a network outage, not a crash).
    let back = net.now;
    net.up[b] = true;
    net.converge(10_000);
    let events = net.events_of(a);
    assert!(
        events
            .iter()
            .any(|(t, e)| *e == Event::PeerUp(rid(b)) && *t >= back),
        "PeerUp on return"
    );
    assert_eq!(elements(net.nodes[b].state()).len(), 5, "B caught up");
    assert!(
        net.nodes[b].metrics().catchups_received >= 2,
        "by a catch-up, A had forgotten B's progress"
    );
}

/// Digests A sent during a silence of B, with their times.
fn probes(net: &DocNet, a: usize, b: usize, since: u64) -> Vec<u64> {
    let mut r = Reassembler::default();
    net.sent
        .iter()
        .filter(|s| s.from == a && s.to == b && s.at >= since)
        .filter_map(|s| r.push(&s.bytes).map(|(h, _)| (s.at, h)))
        .filter(|(_, h)| h.kind == FrameKind::Digest)
        .map(|(t, _)| t)
        .collect()
}

#[test]
fn retries_to_a_dead_peer_back_off_exponentially_with_jitter() {
    let silence = 600_000; // ten minutes
    let mut gaps_by_seed = Vec::new();
    for seed in [41, 42] {
        let (a, b) = (0, 1);
        let mut c = Config::new(244); // defaults: sync every second, retries 0.5 s to 30 s
        c.suspect_after_ms = 5_000;
        let mut net: DocNet = Net::new(2, c, seed);
        net.link(a, b);
        net.converge(5_000);
        net.run_for(2_000);
        net.up[b] = false;
        let t0 = net.now;
        net.run_for(silence);
        let times = probes(&net, a, b, t0);
        let rounds = silence / c.sync_interval_ms;
        assert!(
            times.len() as u64 * 10 < rounds,
            "{} digests in {rounds} sync intervals: retries must back off",
            times.len()
        );
        assert!(
            times.len() >= 15,
            "but keep probing: {} digests",
            times.len()
        );
        let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter()
                .all(|g| *g <= c.retry_max_ms + c.sync_interval_ms),
            "capped at retry_max_ms"
        );
        let early: f64 = gaps[..3].iter().sum::<u64>() as f64 / 3.0;
        let late: f64 = gaps[gaps.len() - 10..].iter().sum::<u64>() as f64 / 10.0;
        assert!(
            late > 4.0 * early,
            "delays grow: first {early:.0} ms, last {late:.0} ms on average"
        );
        let distinct: BTreeSet<u64> = gaps.iter().copied().collect();
        assert!(
            distinct.len() * 4 > gaps.len() * 3,
            "jittered, not a fixed schedule: {gaps:?}"
        );
        // B returns and catches up.
        net.up[b] = true;
        net.update(a, add_all(rid(a), [1]));
        net.converge(c.retry_max_ms + 10_000);
        gaps_by_seed.push(gaps);
    }
    assert_ne!(
        gaps_by_seed[0], gaps_by_seed[1],
        "different random sources, different schedules"
    );
}

/// B talks (its frames reach A) but A's digests never reach B: A must still back off,
/// not retry at the base delay on every frame it hears.
#[test]
fn retries_to_a_talking_peer_that_never_answers_back_off() {
    let (a, b) = (0, 1);
    let mut c = config(244);
    c.retry_base_ms = 100;
    c.retry_max_ms = 5_000;
    let mut net = DocNet::new(2, c, 43);
    net.link(a, b);
    net.filter = Some(Box::new(move |s| {
        s.from == a && s.header().kind == FrameKind::Digest
    }));
    net.run_for(60_000);
    let digests = probes(&net, a, b, 0).len();
    let heard = net.nodes[a].metrics().frames_received;
    assert!(heard > 100, "B kept talking ({heard} frames)");
    assert!(
        digests < 40,
        "A sent {digests} digests in 60 s: retries must back off"
    );
}

// ---- regressions of bugs found by the simulations ------------------------------------------

/// A hub with six neighbours at MTU 64 under byte budgets: all of them send it
/// multi-fragment messages at once, fragments interleaved. With fewer reassembly slots
/// than senders, least-recently-used eviction starved them all, round after round.
#[test]
fn fan_in_of_fragmented_messages_from_every_neighbour() {
    // Byte budgets make every neighbour's fragments trickle in side by side.
    let mut c = config(64);
    c.budget = Some(ByteBudget {
        bytes_per_second: 1_280,
        burst_bytes: 64,
    });
    c.suspect_after_ms = 30_000;
    c.dead_after_ms = 90_000;
    c.retry_base_ms = 1_000;
    c.retry_max_ms = 8_000;
    let mut net: Net<Doc, 8, 16, 4096> = Net::new(7, c, 50);
    net.latency = (5, 25);
    for i in 1..7 {
        net.link(0, i);
    }
    for i in 0..7 {
        net.update(i, add_all(rid(i), (0..8).map(|e| i as u32 * 100 + e)));
        net.update(i, increment(rid(i), 1));
    }
    net.converge(60_000);
    net.run_for(1_000);
    // The hub is cut off for a moment (not long enough to be suspected) while every
    // neighbour updates; then all their intervals (several fragments each) reach it at
    // once, fragments interleaved, every sync round.
    net.filter = Some(Box::new(|s| s.to == 0));
    for i in 1..7 {
        net.update(i, add_all(rid(i), (0..20).map(|e| 1_000 * i as u32 + e)));
    }
    net.run_for(1_000);
    net.filter = None;
    net.converge(120_000);
    net.run_for(5_000);
    assert_eq!(net.nodes[0].state().1.len(), 7 * 8 + 6 * 20);
    assert_eq!(net.nodes[0].buffered(), 0);
}

/// Once in sync, nothing but heartbeats: no digest exchange going on for ever (each
/// peer's digest used to reset the other's ack, which made it send a digest back).
#[test]
fn no_digest_ping_pong_once_in_sync() {
    let mut c = config(244);
    c.retry_base_ms = 20; // retries much faster than the round trip
    c.retry_max_ms = 80;
    c.suspect_after_ms = 5_000;
    c.dead_after_ms = 15_000;
    let mut net = DocNet::new(3, c, 51);
    net.latency = (200, 300);
    net.full_mesh();
    for k in 0..10 {
        net.update(k % 3, add_all(rid(k % 3), [k as u32]));
        net.run_for(50);
    }
    net.converge(10_000);
    net.run_for(10_000);
    let before: Vec<Metrics> = net.nodes.iter().map(|n| *n.metrics()).collect();
    net.run_for(10_000);
    for (i, n) in net.nodes.iter().enumerate() {
        let m = n.metrics();
        assert_eq!(
            m.digests_sent, before[i].digests_sent,
            "node {i} still sends digests"
        );
        assert_eq!(
            m.catchups_sent, before[i].catchups_sent,
            "node {i} still sends catch-ups"
        );
        assert_eq!(
            m.intervals_sent, before[i].intervals_sent,
            "node {i} still sends intervals"
        );
    }
}

/// B restarts twice; A hears the newest incarnation first, then a delayed frame of the
/// middle one. Incarnations are unordered, so A takes the middle one for current and
/// drops the newest one's frames as replays, but only until it declares B dead: then
/// it forgets the history and B's current incarnation is heard again.
#[test]
fn stale_frame_from_an_older_incarnation_does_not_cut_off_the_current_one() {
    let (a, b) = (0, 1);
    let mut net = DocNet::new(2, config(244), 52);
    net.link(a, b);
    net.converge(5_000);
    net.run_for(1_000);
    // The middle incarnation: its frames to A are held back.
    net.filter = Some(Box::new(move |s| s.from == b));
    net.restart(b, net.nodes[b].state().clone());
    net.run_for(500);
    let middle: Vec<u8> = net
        .sent
        .iter()
        .rev()
        .find(|s| s.from == b)
        .expect("a frame")
        .bytes
        .clone();
    // The newest incarnation talks to A, then the stale frame arrives.
    net.restart(b, net.nodes[b].state().clone());
    net.filter = None;
    net.run_for(1_000);
    net.deliver(a, b, &middle);
    net.update(b, add_all(rid(b), [42]));
    net.update(a, add_all(rid(a), [43]));
    let took = net.converge(20_000);
    assert!(
        took <= net.config.dead_after_ms + 5_000,
        "back within dead_after_ms, took {took} ms"
    );
}
