//! Sync efficiency experiments, in a lossless deterministic network: bytes on the wire,
//! round trips and gossip rounds, measured on real [`Node`]s.
//!
//! * [`enes_experiment`]: the experiment of Enes et al. (ICDE 2019): 15 replicas, a
//!   random 4-regular mesh or a tree, 100 updates per replica (one per second), sync every
//!   second; total bytes for state-based sync, classic delta sync (no back-propagation
//!   avoidance, no redundancy removal) and Starling's sync.
//! * [`partition_recovery`]: two replicas share a 10,000-element `AwSet`, each adds `d`
//!   elements while partitioned; bytes each way and round trips until both hold the union.
//! * [`gossip_spread`]: one update at one of `n` replicas, fanout 1 push-pull; rounds
//!   until every replica has it.
//!
//! `cargo xtask bench-sync` prints the tables (`examples/bench_sync.rs`);
//! `tests/sync_efficiency.rs` asserts the goals. Byte counts are deterministic: every
//! random choice derives from a seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::{
    AwSet, CapacityError, GCounter, GSet, Growable, Lattice, LwwRegister, OrMap, Reconcile,
    ReplicaId, WireFormat,
};
use starling_sync::{Config, Metrics, Node};

use crate::netsim::{InFlight, Topology, add_metrics, links, wire};

/// Replicas of [`Cluster`] talk to each other by index.
pub type ClusterNode<T, const PEERS: usize, const DELTAS: usize, const MSG: usize> =
    Node<T, usize, PEERS, DELTAS, MSG>;

/// Replicas on a lossless network with a fixed one-way latency, driven by an event loop
/// (frames and timers in time order; ties in the order they were scheduled).
///
/// Every frame carries a hop depth: 1 if a timer or a local update made its sender send
/// it, one more than the frame that made it send otherwise (a catch-up answering a digest
/// has depth 2). The depth of the last frame that changed a replica's state (since
/// [`Cluster::reset_depths`]) counts the one-way message delays it waited for, so half of
/// it is the round trips.
pub struct Cluster<T, const PEERS: usize, const DELTAS: usize, const MSG: usize>
where
    T: Reconcile + Serialize + DeserializeOwned,
{
    nodes: Vec<ClusterNode<T, PEERS, DELTAS, MSG>>,
    in_flight: BinaryHeap<InFlight>,
    /// `(deadline, replica)`, possibly stale: checked against `poll_timeout` when popped.
    timers: BinaryHeap<Reverse<(u64, usize)>>,
    changed_depth: Vec<u32>,
    frame_depth: std::collections::HashMap<u64, u32>,
    /// Partition group of each replica: frames between groups are lost.
    group: Vec<u8>,
    latency_ms: u64,
    now: u64,
    order: u64,
    rng: ChaCha8Rng,
    buf: Vec<u8>,
    /// When each replica started (its clock's first reading): frames reach it no earlier,
    /// so no replica is handed input from before its own present (which, with its clock
    /// ahead, timed round trips at 0 ms).
    started: Vec<u64>,
    /// Bytes sent by each replica.
    pub bytes_sent: Vec<u64>,
    /// Frames sent by each replica.
    pub frames_sent: Vec<u64>,
}

impl<T, const PEERS: usize, const DELTAS: usize, const MSG: usize> Cluster<T, PEERS, DELTAS, MSG>
where
    T: Reconcile + Serialize + DeserializeOwned,
{
    /// Replicas `0..links.len()` with replica ids `1..=n`, linked as `links` says, holding
    /// `initial(i)`, each starting its sync rounds at a random phase within the first
    /// sync interval.
    pub fn new(
        links: &[Vec<usize>],
        config: Config,
        latency_ms: u64,
        seed: u64,
        initial: impl FnMut(usize) -> T,
    ) -> Self {
        let ids: Vec<ReplicaId> = (1..=links.len() as u64).map(ReplicaId).collect();
        Self::with_ids(links, &ids, config, latency_ms, seed, initial)
    }

    /// As [`Cluster::new`], with replica ids `ids[i]`.
    pub fn with_ids(
        links: &[Vec<usize>],
        ids: &[ReplicaId],
        config: Config,
        latency_ms: u64,
        seed: u64,
        initial: impl FnMut(usize) -> T,
    ) -> Self {
        Self::build(links, ids, config, latency_ms, seed, true, initial)
    }

    /// As [`Cluster::with_ids`], every replica's clock starting at time 0 (its first timer
    /// still at a random phase): for experiments that kick replicas at time 0, which a
    /// replica whose clock starts later would see from its future.
    pub fn started_together(
        links: &[Vec<usize>],
        ids: &[ReplicaId],
        config: Config,
        latency_ms: u64,
        seed: u64,
        initial: impl FnMut(usize) -> T,
    ) -> Self {
        Self::build(links, ids, config, latency_ms, seed, false, initial)
    }

    fn build(
        links: &[Vec<usize>],
        ids: &[ReplicaId],
        config: Config,
        latency_ms: u64,
        seed: u64,
        phased: bool,
        mut initial: impl FnMut(usize) -> T,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = links.len();
        let mut nodes = Vec::with_capacity(n);
        let mut timers = BinaryHeap::new();
        let mut started = Vec::with_capacity(n);
        for (i, peers) in links.iter().enumerate() {
            let phase = rng.next_u64() % config.sync_interval_ms.max(1);
            let start = if phased { phase } else { 0 };
            started.push(start);
            let mut node = Node::new(ids[i], initial(i), config, start, &mut rng);
            for &j in peers {
                node.add_peer(j).expect("PEERS holds the topology's degree");
            }
            if let Some(t) = node.poll_timeout() {
                timers.push(Reverse((t.max(phase), i)));
            }
            nodes.push(node);
        }
        Cluster {
            nodes,
            started,
            in_flight: BinaryHeap::new(),
            timers,
            changed_depth: vec![0; n],
            frame_depth: std::collections::HashMap::new(),
            group: vec![0; n],
            latency_ms,
            now: 0,
            order: 0,
            rng,
            buf: vec![0; config.mtu],
            bytes_sent: vec![0; n],
            frames_sent: vec![0; n],
        }
    }

    /// The replicas.
    pub fn nodes(&self) -> &[ClusterNode<T, PEERS, DELTAS, MSG>] {
        &self.nodes
    }

    /// Simulated time, ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Bytes sent by all replicas.
    pub fn total_bytes(&self) -> u64 {
        self.bytes_sent.iter().sum()
    }

    /// Frames sent by all replicas.
    pub fn total_frames(&self) -> u64 {
        self.frames_sent.iter().sum()
    }

    /// The replicas' metrics, summed.
    pub fn total_metrics(&self) -> Metrics {
        self.nodes
            .iter()
            .fold(Metrics::default(), |a, n| add_metrics(a, *n.metrics()))
    }

    /// Splits the replicas into groups (`group[i]` for replica `i`); frames between groups
    /// are lost until [`Cluster::heal`].
    pub fn partition(&mut self, group: Vec<u8>) {
        assert_eq!(group.len(), self.nodes.len());
        self.group = group;
    }

    /// Ends the partition.
    pub fn heal(&mut self) {
        self.group.fill(0);
    }

    /// Forgets the depths of the frames that changed the replicas' states.
    pub fn reset_depths(&mut self) {
        self.changed_depth.fill(0);
    }

    /// The depth of the last frame that changed replica `i`'s state since the last
    /// [`Cluster::reset_depths`] (0 if none did).
    pub fn changed_depth(&self, i: usize) -> u32 {
        self.changed_depth[i]
    }

    /// A local update at replica `i` (see [`Node::update`]).
    pub fn update(
        &mut self,
        i: usize,
        mutate: impl FnOnce(&mut T) -> Result<T, CapacityError>,
    ) -> Result<(), CapacityError> {
        self.nodes[i].update(mutate)?;
        self.flush(i, 1);
        Ok(())
    }

    /// Sends now what replica `i` has to send (as a timer would make it), without
    /// waiting for its first timer.
    pub fn kick(&mut self, i: usize) {
        self.flush(i, 1);
    }

    /// Sends what replica `i` has to send, as frames of hop depth `depth`.
    fn flush(&mut self, i: usize, depth: u32) {
        let now = self.now;
        while let Some(t) = self.nodes[i].poll_transmit(now, &mut self.buf) {
            self.bytes_sent[i] += t.len as u64;
            self.frames_sent[i] += 1;
            let cut = self.group[i] != self.group[t.to];
            if std::env::var_os("STARLING_TRACE").is_some() {
                eprintln!(
                    "{now:>8} ms {i} -> {}: {}{}",
                    t.to,
                    crate::netsim::wire::describe(&self.buf[..t.len]),
                    if cut { "  [partitioned]" } else { "" }
                );
            }
            if cut {
                continue;
            }
            self.order += 1;
            self.frame_depth.insert(self.order, depth);
            self.in_flight.push(InFlight {
                at: now + self.latency_ms,
                order: self.order,
                from: i,
                to: t.to,
                bytes: self.buf[..t.len].to_vec(),
            });
        }
        while self.nodes[i].poll_event().is_some() {}
        if let Some(t) = self.nodes[i].poll_timeout() {
            self.timers.push(Reverse((t.max(now), i)));
        }
    }

    /// Runs the network until `until` ms, or until `done` holds after a delivery (checked
    /// on the replica that received it). Returns the time `done` first held.
    pub fn run_until(
        &mut self,
        until: u64,
        mut done: impl FnMut(&[ClusterNode<T, PEERS, DELTAS, MSG>], usize) -> bool,
    ) -> Option<u64> {
        loop {
            let frame_at = self.in_flight.peek().map_or(u64::MAX, |f| f.at);
            let timer_at = self.timers.peek().map_or(u64::MAX, |t| t.0.0);
            let next = frame_at.min(timer_at);
            if next > until {
                self.now = self.now.max(until);
                return None;
            }
            self.now = self.now.max(next);
            if frame_at <= timer_at {
                let mut f = self.in_flight.pop().expect("peeked");
                if f.at < self.started[f.to] {
                    // Sent before the receiver started: it arrives when it starts.
                    f.at = self.started[f.to];
                    self.in_flight.push(f);
                    continue;
                }
                let d = self.frame_depth.remove(&f.order).unwrap_or(1);
                let joined = self.nodes[f.to].metrics().deltas_joined;
                self.nodes[f.to].handle_datagram(self.now, f.from, &f.bytes);
                if self.nodes[f.to].metrics().deltas_joined > joined {
                    self.changed_depth[f.to] = d;
                }
                self.flush(f.to, d + 1);
                if done(&self.nodes, f.to) {
                    return Some(self.now);
                }
            } else {
                let Reverse((_, i)) = self.timers.pop().expect("peeked");
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    self.nodes[i].handle_timeout(self.now, &mut self.rng);
                    self.flush(i, 1);
                }
            }
        }
    }
}

// ---- the experiment of Enes et al. ---------------------------------------------------

/// Replicas in [`enes_experiment`].
pub const ENES_REPLICAS: usize = 15;
/// Updates per replica in [`enes_experiment`], one per sync interval.
pub const ENES_UPDATES: u64 = 100;
/// Keys of the `GMap` workloads.
pub const GMAP_KEYS: u64 = 1_000;

/// The grow-only map of the `GMap` workloads: keys to last-writer-wins values.
pub type GMap = OrMap<u16, LwwRegister<u64, u64>, Growable>;

/// A workload of [`enes_experiment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnesWorkload {
    /// A grow-only set of random `u64` ids: every update adds one.
    GSet,
    /// A grow-only counter: every update increments the replica's entry.
    GCounter,
    /// A map of [`GMAP_KEYS`] keys to LWW values: every second, the replicas together
    /// update this percentage of the keys (each replica `ceil(pct% * keys / 15)` random
    /// keys).
    GMap(u32),
}

impl EnesWorkload {
    /// The row label.
    pub fn label(self) -> String {
        match self {
            EnesWorkload::GSet => "GSet".into(),
            EnesWorkload::GCounter => "GCounter".into(),
            EnesWorkload::GMap(p) => format!("GMap {p}%"),
        }
    }
}

/// A topology of [`enes_experiment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnesTopology {
    /// A random 4-regular graph (every replica has exactly 4 neighbours).
    Mesh,
    /// A binary tree (15 replicas: 4 levels).
    Tree,
}

/// How replicas synchronise in [`enes_experiment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Every sync interval, each replica sends its whole state to every neighbour, in
    /// Starling's frame format cut down to what state-based sync needs (sender, message
    /// id and fragment fields, CRC; no incarnations, acks or sequence numbers).
    StateBased,
    /// Delta sync as in Almeida et al. (JPDC 2018), Algorithm 2: Starling's node with
    /// back-propagation avoidance and redundancy removal off.
    ClassicDelta,
    /// Starling's node as configured by default.
    Starling,
}

/// Bytes sent from the start until every replica holds every update, and when that was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmission {
    /// Bytes on the wire (frames, headers included; state-based: encoded states).
    pub bytes: u64,
    /// Frames (state-based: states sent).
    pub frames: u64,
    /// Simulated ms from the start until every replica held every update.
    pub converged_ms: u64,
    /// The replicas' metrics, summed (state-based: none).
    pub metrics: Metrics,
}

/// The update replica `i` makes in second `round` of `workload` (the same for every
/// protocol: the random choices derive from `(seed, i, round)`).
fn enes_update<D: EnesDoc>(
    workload: EnesWorkload,
    doc: &mut D,
    i: usize,
    round: u64,
    seed: u64,
) -> Result<D, CapacityError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((i as u64) << 32) ^ round.wrapping_mul(0x9E37));
    doc.update(workload, ReplicaId(i as u64 + 1), round, &mut rng)
}

/// A document of [`enes_experiment`]: the state of one workload.
pub trait EnesDoc: Reconcile + Serialize + DeserializeOwned + PartialEq + Sized {
    /// Makes `workload`'s update for `round` as `replica`; returns the delta.
    fn update(
        &mut self,
        workload: EnesWorkload,
        replica: ReplicaId,
        round: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self, CapacityError>;
}

impl EnesDoc for GSet<u64, Growable> {
    fn update(
        &mut self,
        _: EnesWorkload,
        _: ReplicaId,
        _: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self, CapacityError> {
        self.insert(rng.next_u64())
    }
}

impl EnesDoc for GCounter<Growable> {
    fn update(
        &mut self,
        _: EnesWorkload,
        replica: ReplicaId,
        _: u64,
        _: &mut ChaCha8Rng,
    ) -> Result<Self, CapacityError> {
        self.increment(replica, 1)
    }
}

impl EnesDoc for GMap {
    fn update(
        &mut self,
        workload: EnesWorkload,
        replica: ReplicaId,
        round: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self, CapacityError> {
        let EnesWorkload::GMap(pct) = workload else {
            return Ok(Self::default());
        };
        let per_replica = (u64::from(pct) * GMAP_KEYS).div_ceil(100 * ENES_REPLICAS as u64);
        // Distinct keys, so one replica never writes one key twice with one stamp.
        let mut keys: Vec<u16> = Vec::new();
        while (keys.len() as u64) < per_replica {
            let k = (rng.next_u64() % GMAP_KEYS) as u16;
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let mut delta = Self::default();
        for k in keys {
            let value = rng.next_u64() >> 32;
            let d = self.update(&k, |r, cx| r.set_delta(cx, replica, round, value))?;
            delta.join(&d)?;
        }
        Ok(delta)
    }
}

/// Runs `workload` on `topology` under `protocol` (seeded): total transmission until every
/// replica holds every update.
pub fn enes_experiment<D: EnesDoc>(
    workload: EnesWorkload,
    topology: EnesTopology,
    protocol: Protocol,
    seed: u64,
) -> Transmission {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let links = links(
        ENES_REPLICAS,
        match topology {
            EnesTopology::Mesh => Topology::Regular(4),
            EnesTopology::Tree => Topology::Tree,
        },
        &mut rng,
    );
    // Each replica updates at its own offset within each second.
    let offsets: Vec<u64> = (0..ENES_REPLICAS).map(|_| rng.next_u64() % 1_000).collect();
    let mut everything = D::default();
    match protocol {
        Protocol::StateBased => state_based::<D>(workload, &links, &offsets, seed, &mut rng),
        Protocol::ClassicDelta | Protocol::Starling => {
            let mut config = Config::new(1200);
            config.sync_interval_ms = 1_000;
            if protocol == Protocol::ClassicDelta {
                config.avoid_back_propagation = false;
                config.remove_redundancy = false;
            }
            let mut cluster: Cluster<D, 8, 32, 32768> =
                Cluster::new(&links, config, 10, rng.next_u64(), |_| D::default());
            let mut schedule: Vec<(u64, usize, u64)> = (0..ENES_UPDATES)
                .flat_map(|round| {
                    let offsets = &offsets;
                    (0..ENES_REPLICAS).map(move |i| (round * 1_000 + offsets[i], i, round))
                })
                .collect();
            schedule.sort_unstable();
            for (at, i, round) in schedule {
                cluster.run_until(at, |_, _| false);
                cluster
                    .update(i, |doc| {
                        let d = enes_update(workload, doc, i, round, seed)?;
                        everything.join(&d)?;
                        Ok(d)
                    })
                    .expect("growable states have no capacity limit");
            }
            let all_done = |nodes: &[ClusterNode<D, 8, 32, 32768>], _| {
                nodes.iter().all(|n| *n.state() == everything)
            };
            let converged_ms = if all_done(cluster.nodes(), 0) {
                cluster.now()
            } else {
                cluster
                    .run_until(cluster.now() + 600_000, all_done)
                    .expect("the replicas converge within 10 minutes of the last update")
            };
            Transmission {
                bytes: cluster.total_bytes(),
                frames: cluster.total_frames(),
                converged_ms,
                metrics: cluster.total_metrics(),
            }
        }
    }
}

/// State-based sync on the same schedule: at its sync time each second, a replica sends
/// its state to every neighbour, which joins it on arrival (no latency).
fn state_based<D: EnesDoc>(
    workload: EnesWorkload,
    links: &[Vec<usize>],
    offsets: &[u64],
    seed: u64,
    rng: &mut ChaCha8Rng,
) -> Transmission {
    let n = links.len();
    let phases: Vec<u64> = (0..n).map(|_| rng.next_u64() % 1_000).collect();
    // Events in time order: (time, 0 = update / 1 = sync, replica, round).
    let mut events: Vec<(u64, u8, usize, u64)> = Vec::new();
    let mut states: Vec<D> = (0..n).map(|_| D::default()).collect();
    let mut everything = D::default();
    let (mut bytes, mut frames) = (0u64, 0u64);
    let mut round = 0u64;
    loop {
        events.clear();
        for i in 0..n {
            if round < ENES_UPDATES {
                events.push((round * 1_000 + offsets[i], 0, i, round));
            }
            events.push((round * 1_000 + phases[i], 1, i, round));
        }
        events.sort_unstable();
        for &(at, kind, i, r) in &events {
            if kind == 0 {
                let d = enes_update(workload, &mut states[i], i, r, seed).expect("growable");
                everything.join(&d).expect("growable");
                continue;
            }
            let sent = states[i].clone();
            let (len, count) = state_frames(ReplicaId(i as u64 + 1), sent.encoded_len());
            for &j in &links[i] {
                bytes += len;
                frames += count;
                states[j].join(&sent).expect("growable");
            }
            if round + 1 >= ENES_UPDATES && states.iter().all(|s| *s == everything) {
                return Transmission {
                    bytes,
                    frames,
                    converged_ms: at,
                    metrics: Metrics::default(),
                };
            }
        }
        round += 1;
    }
}

/// Bytes and frames of a state-based message of `len` bytes from `from`: one frame of at
/// most 1200 bytes if it fits, else a transfer of chunks of that size (frame format v2;
/// the transfer's acknowledgements are not counted).
fn state_frames(from: ReplicaId, len: usize) -> (u64, u64) {
    const MTU: usize = 1200;
    let header = |chunk: Option<wire::ChunkHeader>| wire::Header {
        kind: wire::FrameKind::Deltas,
        from,
        incarnation: 1,
        to_incarnation: 1,
        ack: 0,
        pull: false,
        chunk,
    };
    let encoded = |h: &wire::Header| postcard::to_allocvec(h).expect("encodes").len();
    let single = 1 + encoded(&header(None)) + len + 4;
    if single <= MTU {
        return (single as u64, 1);
    }
    let len32 = len as u32;
    let widest = wire::ChunkHeader {
        transfer: 0,
        len: len32,
        chunk: len32,
        index: len32,
    };
    let chunk = MTU - 1 - encoded(&header(Some(widest))) - 4;
    let count = len.div_ceil(chunk);
    let mut bytes = 0;
    for index in 0..count {
        let body = chunk.min(len - index * chunk);
        let h = header(Some(wire::ChunkHeader {
            transfer: 0,
            len: len32,
            chunk: chunk as u32,
            index: index as u32,
        }));
        bytes += 1 + encoded(&h) + body + 4;
    }
    (bytes as u64, count as u64)
}

// ---- partition recovery --------------------------------------------------------------

/// Elements both replicas share before the partition in [`partition_recovery`].
pub const RECOVERY_SHARED: usize = 10_000;

/// The outcome of one [`partition_recovery`] run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recovery {
    /// Elements each replica added while partitioned.
    pub d: usize,
    /// Bytes replica 1 sent from the heal until both held the union.
    pub bytes_a_to_b: u64,
    /// Bytes replica 2 sent in that time.
    pub bytes_b_to_a: u64,
    /// Frames both sent in that time.
    pub frames: u64,
    /// One-way message delays on the longest chain of messages the replicas waited for,
    /// halved (½: each side's news went out unasked; 1: a request, then its answer).
    pub round_trips: f64,
}

impl Recovery {
    /// Bytes both ways.
    pub fn total(&self) -> u64 {
        self.bytes_a_to_b + self.bytes_b_to_a
    }
    /// The raw floor: 8 bytes per new element, each way.
    pub fn floor(&self) -> u64 {
        16 * self.d as u64
    }
}

/// How long the partition lasts in [`partition_recovery`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionLength {
    /// Shorter than the failure detector's `dead_after_ms`: each side keeps the other's
    /// deltas buffered and sends them as one delta-interval after the heal.
    Short,
    /// Longer: each side declared the other dead and dropped its buffer; after the heal
    /// they exchange digests and catch each other up.
    Long,
}

/// Two replicas share a [`RECOVERY_SHARED`]-element `AwSet` of random `u64`s, then each
/// adds `d` new elements while partitioned (one update each, spread over the partition);
/// measured from the heal until both hold the union.
pub fn partition_recovery(d: usize, length: PartitionLength, seed: u64) -> Recovery {
    type Set = AwSet<u64, Growable>;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut shared = Set::default();
    for _ in 0..RECOVERY_SHARED {
        shared.add(ReplicaId(1), rng.next_u64()).expect("growable");
    }
    let config = Config::new(1200);
    let links = vec![vec![1], vec![0]];
    let mut cluster: Cluster<Set, 2, 32, 32768> =
        Cluster::new(&links, config, 10, rng.next_u64(), |_| shared.clone());
    // Meet (digests of equal states), then part.
    cluster.run_until(5_000, |_, _| false);
    cluster.partition(vec![0, 1]);
    let partition_ms = match length {
        PartitionLength::Short => config.dead_after_ms / 2,
        PartitionLength::Long => config.dead_after_ms * 3,
    };
    let start = cluster.now();
    for k in 0..d {
        for i in 0..2 {
            let at = start + (k as u64 * (partition_ms - 1_000)) / d as u64;
            cluster.run_until(at, |_, _| false);
            let e = rng.next_u64();
            cluster
                .update(i, |s| s.add(ReplicaId(i as u64 + 1), e))
                .expect("growable");
        }
    }
    cluster.run_until(start + partition_ms, |_, _| false);
    let union = cluster.nodes()[0]
        .state()
        .joined(cluster.nodes()[1].state())
        .expect("growable");
    cluster.heal();
    cluster.reset_depths();
    let before: Vec<u64> = cluster.bytes_sent.clone();
    let frames_before = cluster.total_frames();
    let done =
        |nodes: &[ClusterNode<Set, 2, 32, 32768>], _| nodes.iter().all(|n| *n.state() == union);
    cluster
        .run_until(cluster.now() + 120_000, done)
        .expect("the replicas reconcile within two minutes of the heal");
    Recovery {
        d,
        bytes_a_to_b: cluster.bytes_sent[0] - before[0],
        bytes_b_to_a: cluster.bytes_sent[1] - before[1],
        frames: cluster.total_frames() - frames_before,
        round_trips: f64::from(cluster.changed_depth(0).max(cluster.changed_depth(1))) / 2.0,
    }
}

// ---- gossip spread ---------------------------------------------------------------------

/// Neighbours per replica in [`gossip_spread`]: each replica knows a random partial view
/// of this many others (a random regular graph), as a peer-sampling service would give it.
pub const SPREAD_VIEW: usize = 16;

/// One update at one of `n` replicas, gossiped with fanout 1 push-pull (every sync
/// interval a replica sends its news to one random neighbour and asks for the
/// neighbour's): sync intervals until every replica has it (rounds are not aligned: each
/// replica starts its rounds at a random phase).
pub fn gossip_spread(n: usize, seed: u64) -> u32 {
    type Set = GSet<u32, Growable>;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let links = links(n, Topology::Regular(SPREAD_VIEW), &mut rng);
    let mut config = Config::new(1200);
    config.sync_interval_ms = 1_000;
    config.fanout = 1;
    config.push_pull = true;
    // Every neighbour is contacted every 16 rounds on average: heartbeats and failure
    // detection on a slower clock than the default's.
    config.heartbeat_interval_ms = 30_000;
    config.suspect_after_ms = 60_000;
    config.dead_after_ms = 120_000;
    let mut cluster: Cluster<Set, SPREAD_VIEW, 4, 256> =
        Cluster::new(&links, config, 10, rng.next_u64(), |_| Set::default());
    // Let every link meet (digest handshakes), then quiet down.
    cluster.run_until(5_000, |_, _| false);
    let origin = (rng.next_u64() % n as u64) as usize;
    cluster.update(origin, |s| s.insert(1)).expect("growable");
    let start = cluster.now();
    let mut have = vec![false; n];
    have[origin] = true;
    let mut count = 1;
    let done = |nodes: &[ClusterNode<Set, SPREAD_VIEW, 4, 256>], i: usize| {
        if !have[i] && nodes[i].state().contains(&1) {
            have[i] = true;
            count += 1;
        }
        count == n
    };
    let at = cluster
        .run_until(start + 100_000, done)
        .expect("the update reaches every replica within 100 rounds");
    (at - start).div_ceil(1_000) as u32
}

/// The `q`-quantile (0..=1) of `values` (nearest rank); 0 for no values.
pub fn quantile(values: &[u32], q: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
