//! A deterministic network simulator for `starling-sync` nodes, with a causal checker.
//!
//! `N` replicas, each a [`Node`] over an in-memory network addressed by replica index.
//! Links lose, duplicate and delay (and so reorder) frames; partitions split the replicas
//! into groups and heal after a while; replicas crash (losing everything but their
//! durable state, the CRDT value), stay down for a while and restart as a new
//! incarnation. Everything random comes from one seed, so a run is replayed exactly by
//! its seed.
//!
//! The replicated value is a pair `(document, updates)`: `updates` is a grow-only set of
//! update ids made alongside each document change, so the checker can tell which updates
//! a replica's state includes. Causal consistency: whenever a replica includes an update,
//! it includes every update its author had seen when making it. The checker runs after
//! every delivered frame and every restart.
//!
//! [`Simulation::run_scenario`] then requires, once faults stop: convergence of every
//! replica to the join of every delta ever made (nothing lost, nothing invented), delta
//! buffers drained by acknowledgements, a quiet network (no digests, catch-ups or
//! intervals once everyone is in sync), and no frame of honest traffic dropped as
//! malformed, corrupt, truncated, oversized or over capacity.
//!
//! The [`wire`] module mirrors the documented frame format (`docs/sync-protocol.md`) so
//! tests can read and forge frames.

use std::collections::BinaryHeap;
use std::fmt::Debug;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::{CapacityError, GSet, Growable, Lattice, Reconcile, ReplicaId};
use starling_sync::{Config, Drops, Metrics, Node};

/// The update tracker replicated beside the document.
pub type Updates = GSet<u32, Growable>;

/// Node capacities used in simulations: 16 peers, `DELTAS` buffered delta groups,
/// 16 KiB messages.
pub type SimNode<T, const DELTAS: usize> = Node<(T, Updates), usize, 16, DELTAS, 16384>;

/// Most updates one simulation makes (the causal checker keeps a bitmask per update).
pub const MAX_UPDATES: u32 = 128;

/// How replicas are connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Everyone with everyone.
    FullMesh,
    /// Each replica links to `k` random others (links are symmetric), plus a ring so the
    /// graph is connected.
    PartialMesh(usize),
    /// A binary tree.
    Tree,
    /// A ring.
    Ring,
    /// A random `k`-regular graph (`k` even, below the replica count): every replica has
    /// exactly `k` neighbours. Drawn by random edge swaps from a circulant graph, and
    /// connected.
    Regular(usize),
}

/// Fault probabilities and timing of one run.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Link latency range, ms (random per frame, so frames reorder).
    pub latency_ms: (u64, u64),
    /// Link latency range once faults stop (see [`Simulation::run_scenario`]).
    pub settled_latency_ms: (u64, u64),
    /// Probability per update step that a partition forms (if none is in force).
    pub partition: f64,
    /// How long a partition lasts, ms (uniform in the range).
    pub partition_ms: (u64, u64),
    /// Probability per update step that a random replica crashes.
    pub crash: f64,
    /// How long a crashed replica stays down before restarting, ms (0: at once).
    pub downtime_ms: (u64, u64),
}

impl Faults {
    /// No faults, 5–20 ms latency.
    pub const NONE: Faults = Faults {
        loss: 0.0,
        duplicate: 0.0,
        latency_ms: (5, 20),
        settled_latency_ms: (5, 20),
        partition: 0.0,
        partition_ms: (0, 0),
        crash: 0.0,
        downtime_ms: (0, 0),
    };
}

/// A workload: how a replica makes a random update of the document.
pub trait Workload {
    /// The replicated document.
    type Doc: Reconcile + Serialize + DeserializeOwned + Debug;
    /// Performs a random update as `replica`; returns the delta (as the mutators do).
    fn update(
        doc: &mut Self::Doc,
        replica: ReplicaId,
        now_ms: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self::Doc, CapacityError>;
}

/// A frame on its way: sent by node `from` to node `to`, delivered at `at` ms; `order`
/// breaks ties between frames due at the same time (earlier sends first).
#[derive(Debug, PartialEq, Eq)]
pub struct InFlight {
    /// Delivery time, ms.
    pub at: u64,
    /// Send order, for ties.
    pub order: u64,
    /// Sender index.
    pub from: usize,
    /// Receiver index.
    pub to: usize,
    /// The frame.
    pub bytes: Vec<u8>,
}
/// Ordered so that a `BinaryHeap` pops the earliest frame first.
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Result of a run.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Simulated milliseconds from the end of the faults until all replicas held the
    /// join of all updates.
    pub converge_ms: u64,
    /// Simulated milliseconds from the end of the faults until every delta buffer was
    /// empty.
    pub drain_ms: u64,
    /// Simulated milliseconds from the end of the faults until a whole window without
    /// digests, catch-ups or intervals ended.
    pub quiet_ms: u64,
    /// Bytes sent by all nodes.
    pub bytes_sent: u64,
    /// Frames sent by all nodes.
    pub frames_sent: u64,
    /// Frames lost by the network (loss, partitions, crashed receivers).
    pub frames_lost: u64,
    /// Frames the network delivered twice.
    pub frames_duplicated: u64,
    /// Encoded size of the converged state, bytes.
    pub state_bytes: usize,
    /// Updates made.
    pub updates: u32,
    /// Crashes injected.
    pub crashes: u32,
    /// Partitions formed.
    pub partitions: u32,
    /// The metrics of every node and every retired incarnation, summed.
    pub metrics: Metrics,
}

/// One simulation.
pub struct Simulation<W: Workload, const DELTAS: usize> {
    /// The seed everything derives from.
    pub seed: u64,
    /// Print every frame, timer, crash and partition (for replaying a failing seed).
    pub trace: bool,
    rng: ChaCha8Rng,
    config: Config,
    nodes: Vec<SimNode<W::Doc, DELTAS>>,
    /// `Some(t)`: the replica is down and restarts at `t`.
    down_until: Vec<Option<u64>>,
    links: Vec<Vec<usize>>,
    in_flight: BinaryHeap<InFlight>,
    order: u64,
    now: u64,
    faults: Faults,
    /// Partition: the group of each replica (all 0 when healed).
    group: Vec<u8>,
    heal_at: Option<u64>,
    /// For each update id, the updates its author had seen (bitmask, ids < 128).
    preds: Vec<u128>,
    /// The join of every delta ever made.
    everything: (W::Doc, Updates),
    /// Metrics of crashed incarnations.
    retired: Vec<Metrics>,
    report: RunReport,
    buf: Vec<u8>,
}

impl<W: Workload, const DELTAS: usize> Simulation<W, DELTAS> {
    /// A simulation of `n` replicas (at most 17: a node holds 16 peers).
    pub fn new(seed: u64, n: usize, topology: Topology, faults: Faults, config: Config) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let links = links(n, topology, &mut rng);
        let mut nodes = Vec::with_capacity(n);
        for (i, peers) in links.iter().enumerate() {
            let mut node = SimNode::<W::Doc, DELTAS>::new(
                ReplicaId(i as u64 + 1),
                Default::default(),
                config,
                0,
                &mut rng,
            );
            for &j in peers {
                node.add_peer(j).expect("peer table holds the topology");
            }
            nodes.push(node);
        }
        Simulation {
            seed,
            trace: false,
            rng,
            config,
            nodes,
            down_until: vec![None; n],
            links,
            in_flight: BinaryHeap::new(),
            order: 0,
            now: 0,
            faults,
            group: vec![0; n],
            heal_at: None,
            preds: Vec::new(),
            everything: Default::default(),
            retired: Vec::new(),
            report: RunReport::default(),
            buf: vec![0; config.mtu],
        }
    }

    /// The nodes.
    pub fn nodes(&self) -> &[SimNode<W::Doc, DELTAS>] {
        &self.nodes
    }

    /// Simulated time, ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The links of replica `i`.
    pub fn links(&self, i: usize) -> &[usize] {
        &self.links[i]
    }

    /// `true` when replica `i` is up.
    pub fn is_up(&self, i: usize) -> bool {
        self.down_until[i].is_none()
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    fn between(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.rng.next_u64() % (hi.saturating_sub(lo) + 1)
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            println!("{:>8} ms  {}", self.now, what());
        }
    }

    fn flush(&mut self, i: usize) {
        loop {
            let now = self.now;
            let Some(t) = self.nodes[i].poll_transmit(now, &mut self.buf) else {
                break;
            };
            assert!(
                t.len <= self.config.mtu,
                "node {i} sent a frame of {} bytes over the MTU {}",
                t.len,
                self.config.mtu
            );
            let bytes = self.buf[..t.len].to_vec();
            self.report.frames_sent += 1;
            self.report.bytes_sent += t.len as u64;
            let cut = self.group[i] != self.group[t.to];
            let lost = cut || self.chance(self.faults.loss);
            let copies = if lost {
                0
            } else if self.chance(self.faults.duplicate) {
                2
            } else {
                1
            };
            self.log(|| {
                format!(
                    "{i} -> {}: {}{}",
                    t.to,
                    wire::describe(&bytes),
                    match (cut, copies) {
                        (true, _) => "  [partitioned]",
                        (_, 0) => "  [lost]",
                        (_, 2) => "  [duplicated]",
                        _ => "",
                    }
                )
            });
            if copies == 0 {
                self.report.frames_lost += 1;
            }
            if copies == 2 {
                self.report.frames_duplicated += 1;
            }
            for _ in 0..copies {
                let at = now + self.between(self.faults.latency_ms);
                self.order += 1;
                self.in_flight.push(InFlight {
                    at,
                    order: self.order,
                    from: i,
                    to: t.to,
                    bytes: bytes.clone(),
                });
            }
        }
        while let Some(e) = self.nodes[i].poll_event() {
            self.log(|| format!("{i}: event {e:?}"));
        }
    }

    fn next_timer(&self) -> u64 {
        let timers = self
            .nodes
            .iter()
            .zip(&self.down_until)
            .filter_map(|(n, down)| match down {
                None => n.poll_timeout(),
                Some(t) => Some(*t),
            })
            .min()
            .unwrap_or(u64::MAX);
        timers.min(self.heal_at.unwrap_or(u64::MAX))
    }

    /// Advances simulated time to `until`, delivering frames and firing timers, and
    /// checking causal consistency after every delivery.
    pub fn run_until(&mut self, until: u64) -> Result<(), String> {
        let mut stuck = 0u32;
        loop {
            let next_frame = self.in_flight.peek().map_or(u64::MAX, |f| f.at);
            let next = self.next_timer().min(next_frame).max(self.now);
            if next > until {
                self.now = until;
                return Ok(());
            }
            if next == self.now {
                stuck += 1;
                if stuck > 200_000 {
                    let due: Vec<String> = (0..self.nodes.len())
                        .filter(|&i| self.down_until[i].is_none())
                        .filter(|&i| self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now))
                        .map(|i| {
                            format!(
                                "replica {i}: poll_timeout {:?}, buffered {}, peers {:?}",
                                self.nodes[i].poll_timeout(),
                                self.nodes[i].buffered(),
                                self.nodes[i].peers().collect::<Vec<_>>()
                            )
                        })
                        .collect();
                    return Err(format!(
                        "livelock: simulated time stuck at {} ms (poll_timeout keeps returning the past)\n{}",
                        self.now,
                        due.join("\n")
                    ));
                }
            } else {
                stuck = 0;
            }
            self.now = next;
            if self.heal_at.is_some_and(|t| t <= next) {
                self.heal();
            }
            for i in 0..self.nodes.len() {
                if self.down_until[i].is_some_and(|t| t <= next) {
                    self.restart(i)?;
                }
            }
            if next_frame <= next {
                let f = self.in_flight.pop().expect("peeked");
                if self.down_until[f.to].is_some() {
                    self.report.frames_lost += 1;
                    self.log(|| format!("{} -> {}: dropped, receiver down", f.from, f.to));
                } else {
                    self.log(|| {
                        format!(
                            "{} -> {}: delivered {}",
                            f.from,
                            f.to,
                            wire::describe(&f.bytes)
                        )
                    });
                    let before = self.nodes[f.to].metrics().drops;
                    self.nodes[f.to].handle_datagram(self.now, f.from, &f.bytes);
                    let after = self.nodes[f.to].metrics().drops;
                    if after != before {
                        self.log(|| {
                            format!("{}: dropped it: {}", f.to, drop_reason(&before, &after))
                        });
                    }
                    self.check_causal(f.to)?;
                    self.flush(f.to);
                }
            }
            for i in 0..self.nodes.len() {
                if self.down_until[i].is_none()
                    && self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now)
                {
                    let mut rng = ChaCha8Rng::seed_from_u64(self.rng.next_u64());
                    self.nodes[i].handle_timeout(self.now, &mut rng);
                    self.flush(i);
                }
            }
        }
    }

    /// Makes a random update at replica `i` (if up, and under [`MAX_UPDATES`] so far).
    pub fn update(&mut self, i: usize) -> Result<(), String> {
        let id = self.preds.len() as u32;
        if id >= MAX_UPDATES || self.down_until[i].is_some() {
            return Ok(());
        }
        let seen = mask(&self.nodes[i].state().1);
        let replica = self.nodes[i].id();
        let now = self.now;
        let mut op_rng = ChaCha8Rng::seed_from_u64(self.rng.next_u64());
        let mut made = None;
        let result = self.nodes[i].update(|(doc, updates)| {
            let d = W::update(doc, replica, now, &mut op_rng)?;
            let u = updates.insert(id)?;
            made = Some((d.clone(), u.clone()));
            Ok((d, u))
        });
        match (result, made) {
            (Ok(()), Some(delta)) => {
                self.log(|| format!("{i}: update {id}"));
                self.preds.push(seen);
                self.everything
                    .join(&delta)
                    .map_err(|e| format!("join of all deltas: {e}"))?;
                self.report.updates += 1;
            }
            (Err(CapacityError), _) => self.log(|| format!("{i}: update refused (capacity)")),
            (Ok(()), None) => return Err("update returned no delta".into()),
        }
        self.flush(i);
        Ok(())
    }

    /// Crashes replica `i`: it stays down for `downtime_ms` (frames to it are lost, its
    /// timers stop), then restarts from its durable state (the CRDT value) as a new
    /// incarnation. A downtime of 0 restarts it at once.
    pub fn crash(&mut self, i: usize, downtime_ms: u64) -> Result<(), String> {
        if self.down_until[i].is_some() {
            return Ok(());
        }
        self.log(|| format!("{i}: crash, down for {downtime_ms} ms"));
        self.report.crashes += 1;
        self.down_until[i] = Some(self.now + downtime_ms);
        if downtime_ms == 0 {
            self.restart(i)?;
        }
        Ok(())
    }

    /// Crashes replica `i` and restarts it at once from its durable state.
    pub fn crash_restart(&mut self, i: usize) -> Result<(), String> {
        self.crash(i, 0)
    }

    fn restart(&mut self, i: usize) -> Result<(), String> {
        self.down_until[i] = None;
        let durable = self.nodes[i].state().clone();
        let id = self.nodes[i].id();
        let mut node =
            SimNode::<W::Doc, DELTAS>::new(id, durable, self.config, self.now, &mut self.rng);
        for &j in &self.links[i] {
            node.add_peer(j).expect("peer table holds the topology");
        }
        let old = std::mem::replace(&mut self.nodes[i], node);
        self.retired.push(*old.metrics());
        self.log(|| format!("{i}: restart"));
        self.check_causal(i)?;
        self.flush(i);
        Ok(())
    }

    /// Splits the replicas into 2 or 3 random groups (each non-empty) for `duration_ms`.
    pub fn partition(&mut self, duration_ms: u64) {
        let n = self.nodes.len();
        let groups = 2 + (self.rng.next_u32() % 2) as usize;
        let groups = groups.min(n);
        for g in self.group.iter_mut() {
            *g = (self.rng.next_u32() % groups as u32) as u8;
        }
        // Make sure every group has a member.
        let mut order: Vec<usize> = (0..n).collect();
        for k in 0..groups {
            let j = k + (self.rng.next_u64() % (n - k) as u64) as usize;
            order.swap(k, j);
            self.group[order[k]] = k as u8;
        }
        self.heal_at = Some(self.now + duration_ms);
        self.report.partitions += 1;
        self.log(|| format!("partition {:?} for {duration_ms} ms", self.group));
    }

    /// Heals any partition.
    pub fn heal(&mut self) {
        if self.group.iter().any(|g| *g != 0) {
            self.log(|| "partition healed".into());
        }
        self.group.iter_mut().for_each(|g| *g = 0);
        self.heal_at = None;
    }

    fn check_causal(&self, i: usize) -> Result<(), String> {
        let have = mask(&self.nodes[i].state().1);
        for (u, preds) in self.preds.iter().enumerate() {
            if have & (1 << u) != 0 && preds & !have != 0 {
                return Err(format!(
                    "causality violated at replica {i}, t={} ms: it includes update {u} but not all of {:#x} (has {have:#x})",
                    self.now, preds
                ));
            }
        }
        Ok(())
    }

    /// The metrics of every node and every crashed incarnation, summed.
    pub fn total_metrics(&self) -> Metrics {
        self.nodes
            .iter()
            .map(|n| *n.metrics())
            .chain(self.retired.iter().copied())
            .fold(Metrics::default(), add_metrics)
    }

    /// Runs the standard scenario: `updates` random updates, one every `step_ms`, with
    /// faults (loss, duplicates, reordering, partitions, crashes); then stops the faults
    /// (heals the partition, restarts crashed replicas, stops loss and duplication, and
    /// switches to [`Faults::settled_latency_ms`]) and requires, within `settle_ms`:
    /// convergence to the join of all updates, empty delta buffers, and then a quiet
    /// network.
    pub fn run_scenario(
        &mut self,
        updates: u32,
        step_ms: u64,
        settle_ms: u64,
    ) -> Result<RunReport, String> {
        for _ in 0..updates {
            let n = self.nodes.len() as u64;
            let i = (self.rng.next_u64() % n) as usize;
            self.update(i)?;
            if self.heal_at.is_none() && self.chance(self.faults.partition) {
                let d = self.between(self.faults.partition_ms);
                self.partition(d);
            }
            if self.chance(self.faults.crash) {
                let i = (self.rng.next_u64() % n) as usize;
                let d = self.between(self.faults.downtime_ms);
                self.crash(i, d)?;
            }
            let until = self.now + step_ms;
            self.run_until(until)?;
        }
        // Liveness phase: heal, stop losing frames, restart everyone, and wait.
        self.heal();
        self.faults.loss = 0.0;
        self.faults.duplicate = 0.0;
        self.faults.latency_ms = self.faults.settled_latency_ms;
        for i in 0..self.nodes.len() {
            if self.down_until[i].is_some() {
                self.restart(i)?;
            }
        }
        let healed_at = self.now;
        let deadline = self.now + settle_ms;
        while !self.converged() {
            if self.now >= deadline {
                return Err(format!(
                    "no convergence {settle_ms} ms after healing\n{}",
                    self.describe_nodes()
                ));
            }
            let until = self.now + 50;
            self.run_until(until)?;
        }
        self.report.converge_ms = self.now - healed_at;
        self.report.state_bytes = postcard::to_allocvec(&self.everything).map_or(0, |v| v.len());
        while self.nodes.iter().any(|n| n.buffered() > 0) {
            if self.now >= deadline {
                return Err(format!(
                    "converged, but delta buffers not drained {settle_ms} ms after healing\n{}",
                    self.describe_nodes()
                ));
            }
            let until = self.now + 50;
            self.run_until(until)?;
        }
        self.report.drain_ms = self.now - healed_at;
        // Quiet: once in sync, only heartbeats (and their acks) go out: no digest,
        // catch-up or interval for a whole window of 10 sync rounds (or heartbeats).
        let c = self.config;
        let window = 10 * c.sync_interval_ms.max(c.heartbeat_interval_ms);
        loop {
            let before = self.total_metrics();
            self.run_until(self.now + window)?;
            let after = self.total_metrics();
            let chatter = (
                after.digests_sent - before.digests_sent,
                after.catchups_sent - before.catchups_sent,
                after.intervals_sent - before.intervals_sent,
            );
            if chatter == (0, 0, 0) {
                break;
            }
            if self.now >= deadline {
                return Err(format!(
                    "in sync, but never quiet: (digests, catch-ups, intervals) = {chatter:?} sent in the last {window} ms\n{}",
                    self.describe_nodes()
                ));
            }
        }
        self.report.quiet_ms = self.now - healed_at;
        if !self.converged() {
            return Err("diverged after converging".into());
        }
        self.report.metrics = self.total_metrics();
        let honest = bad_drops(&self.report.metrics.drops);
        if honest != 0 {
            return Err(format!(
                "honest traffic dropped as bad frames: {:?}",
                self.report.metrics.drops
            ));
        }
        Ok(self.report.clone())
    }

    fn describe_nodes(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let has = mask(&n.state().1);
            let all = mask(&self.everything.1);
            out += &format!(
                "  replica {i} (links {:?}): {} of {} updates (missing {:#x}), equal to all: {}, buffered {}, peers {:?}\n",
                self.links[i],
                has.count_ones(),
                all.count_ones(),
                all & !has,
                *n.state() == self.everything,
                n.buffered(),
                n.peers()
                    .map(|p| (p.addr, p.liveness, p.acked))
                    .collect::<Vec<_>>(),
            );
        }
        out
    }

    /// `true` when every replica holds the join of all updates.
    pub fn converged(&self) -> bool {
        self.nodes.iter().all(|n| *n.state() == self.everything)
    }

    /// What this run measured so far.
    pub fn report(&self) -> &RunReport {
        &self.report
    }
}

/// The drop counters that grew from `before` to `after`.
pub fn drop_reason(before: &Drops, after: &Drops) -> String {
    let pairs = [
        ("truncated", before.truncated, after.truncated),
        (
            "unknown_version",
            before.unknown_version,
            after.unknown_version,
        ),
        ("corrupt", before.corrupt, after.corrupt),
        ("malformed", before.malformed, after.malformed),
        ("oversized", before.oversized, after.oversized),
        ("duplicate", before.duplicate, after.duplicate),
        ("replayed", before.replayed, after.replayed),
        ("gap", before.gap, after.gap),
        ("capacity", before.capacity, after.capacity),
        ("peers_full", before.peers_full, after.peers_full),
        ("busy", before.busy, after.busy),
    ];
    let grew: Vec<&str> = pairs
        .iter()
        .filter(|(_, b, a)| a > b)
        .map(|(name, _, _)| *name)
        .collect();
    grew.join(", ")
}

/// Drops that honest traffic must never cause.
fn bad_drops(d: &Drops) -> u64 {
    d.truncated
        + d.unknown_version
        + d.corrupt
        + d.malformed
        + d.oversized
        + d.capacity
        + d.peers_full
}

/// `a + b`, field by field.
pub fn add_metrics(a: Metrics, b: Metrics) -> Metrics {
    let (x, y) = (a.drops, b.drops);
    Metrics {
        frames_sent: a.frames_sent + b.frames_sent,
        bytes_sent: a.bytes_sent + b.bytes_sent,
        frames_received: a.frames_received + b.frames_received,
        bytes_received: a.bytes_received + b.bytes_received,
        deltas_joined: a.deltas_joined + b.deltas_joined,
        updates: a.updates + b.updates,
        digests_sent: a.digests_sent + b.digests_sent,
        catchups_sent: a.catchups_sent + b.catchups_sent,
        catchups_received: a.catchups_received + b.catchups_received,
        intervals_sent: a.intervals_sent + b.intervals_sent,
        coalesced: a.coalesced + b.coalesced,
        buffer_resets: a.buffer_resets + b.buffer_resets,
        transfers_started: a.transfers_started + b.transfers_started,
        transfers_delivered: a.transfers_delivered + b.transfers_delivered,
        transfers_received: a.transfers_received + b.transfers_received,
        transfers_refused: a.transfers_refused + b.transfers_refused,
        transfers_abandoned: a.transfers_abandoned + b.transfers_abandoned,
        chunks_sent: a.chunks_sent + b.chunks_sent,
        out_of_sync: a.out_of_sync + b.out_of_sync,
        drops: Drops {
            truncated: x.truncated + y.truncated,
            unknown_version: x.unknown_version + y.unknown_version,
            corrupt: x.corrupt + y.corrupt,
            malformed: x.malformed + y.malformed,
            oversized: x.oversized + y.oversized,
            duplicate: x.duplicate + y.duplicate,
            replayed: x.replayed + y.replayed,
            gap: x.gap + y.gap,
            capacity: x.capacity + y.capacity,
            peers_full: x.peers_full + y.peers_full,
            busy: x.busy + y.busy,
        },
    }
}

fn mask(updates: &Updates) -> u128 {
    updates.iter().fold(0u128, |m, u| m | (1u128 << u))
}

/// The neighbours of each of `n` replicas in `topology` (random choices from `rng`).
pub fn links(n: usize, topology: Topology, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); n];
    let link = |a: usize, b: usize, adj: &mut Vec<Vec<usize>>| {
        if a != b && !adj[a].contains(&b) {
            adj[a].push(b);
            adj[b].push(a);
        }
    };
    match topology {
        Topology::FullMesh => {
            for a in 0..n {
                for b in a + 1..n {
                    link(a, b, &mut adj);
                }
            }
        }
        Topology::Ring => {
            for a in 0..n {
                link(a, (a + 1) % n, &mut adj);
            }
        }
        Topology::Tree => {
            for a in 1..n {
                link(a, (a - 1) / 2, &mut adj);
            }
        }
        Topology::Regular(k) => return regular_graph(n, k, rng),
        Topology::PartialMesh(k) => {
            for a in 0..n {
                link(a, (a + 1) % n, &mut adj);
                while adj[a].len() < k.min(n - 1) {
                    let b = (rng.next_u64() % n as u64) as usize;
                    link(a, b, &mut adj);
                }
            }
        }
    }
    adj
}

/// A random connected `k`-regular graph on `n` vertices: the circulant graph (each vertex
/// linked to the `k/2` next and previous around a ring), randomised by `10 * n * k`
/// double-edge swaps (`a-b, c-d` becomes `a-d, c-b` when that keeps the graph simple),
/// which keep every degree; redrawn in the rare case the result is disconnected.
fn regular_graph(n: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    assert!(
        k.is_multiple_of(2) && k < n,
        "a {k}-regular graph on {n} vertices: k must be even and below n"
    );
    loop {
        let mut edges: Vec<(usize, usize)> = Vec::with_capacity(n * k / 2);
        for a in 0..n {
            for step in 1..=k / 2 {
                edges.push((a, (a + step) % n));
            }
        }
        let mut present: std::collections::HashSet<(usize, usize)> =
            edges.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        for _ in 0..10 * n * k {
            let i = (rng.next_u64() % edges.len() as u64) as usize;
            let j = (rng.next_u64() % edges.len() as u64) as usize;
            let ((a, b), (c, d)) = (edges[i], edges[j]);
            let (e1, e2) = ((a.min(d), a.max(d)), (c.min(b), c.max(b)));
            if a == d || c == b || e1 == e2 || present.contains(&e1) || present.contains(&e2) {
                continue;
            }
            present.remove(&(a.min(b), a.max(b)));
            present.remove(&(c.min(d), c.max(d)));
            present.insert(e1);
            present.insert(e2);
            edges[i] = (a, d);
            edges[j] = (c, b);
        }
        let mut adj = vec![Vec::new(); n];
        for &(a, b) in &edges {
            adj[a].push(b);
            adj[b].push(a);
        }
        // Connected? A search from vertex 0 must reach everyone.
        let mut seen = vec![false; n];
        let mut stack = vec![0];
        seen[0] = true;
        while let Some(v) = stack.pop() {
            for &w in &adj[v] {
                if !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        if seen.iter().all(|&s| s) {
            return adj;
        }
    }
}

/// The frame format of `docs/sync-protocol.md`, mirrored on the test side: tests read
/// frames to see what a node sent, and forge frames to see what it does with them.
pub mod wire {
    use std::collections::HashMap;

    use serde::{Deserialize, Serialize};
    use starling_core::ReplicaId;
    pub use starling_sync::frame::{FRAME_VERSION, FrameKind};

    /// CRC-32/ISCSI (Castagnoli), the frame trailer.
    pub const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

    /// The frame header, after the version byte.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Header {
        /// What the message is.
        pub kind: FrameKind,
        /// Sender's replica id.
        pub from: ReplicaId,
        /// Sender's incarnation.
        pub incarnation: u32,
        /// Receiver's incarnation as the sender knows it.
        pub to_incarnation: u32,
        /// Next sequence number the sender expects from the receiver.
        pub ack: u64,
        /// Push-pull request.
        pub pull: bool,
        /// The chunk of a transfer the body is; `None` for a whole message.
        pub chunk: Option<ChunkHeader>,
    }

    /// What precedes a chunk's bytes: transfer id, message length, chunk size, index.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ChunkHeader {
        /// Transfer id (per sender incarnation).
        pub transfer: u32,
        /// Length of the whole message.
        pub len: u32,
        /// Bytes of every chunk but the last.
        pub chunk: u32,
        /// This chunk's index.
        pub index: u32,
    }

    impl ChunkHeader {
        /// Chunks in the transfer.
        pub fn count(&self) -> u32 {
            self.len.div_ceil(self.chunk.max(1))
        }
    }

    /// What a transfer's receiver says (the body of a `TransferAck` frame).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub enum AckStatus {
        /// Chunks below `next` and those set in the bitmap after it are in.
        Progress {
            /// The lowest chunk missing.
            next: u32,
            /// Chunks held after `next`: bit `i` is chunk `next + 1 + i`.
            sacks: u128,
        },
        /// The whole message is in.
        Complete,
        /// Refused (`starling_sync::Refusal`).
        Refused(starling_sync::Refusal),
    }

    /// A transfer acknowledgement.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TransferAck {
        /// The transfer acknowledged.
        pub transfer: u32,
        /// What the receiver holds.
        pub status: AckStatus,
    }

    /// A digest message.
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct DigestMsg<D> {
        /// Nonce the catch-up must echo.
        pub nonce: u32,
        /// Asks for the receiver's digest too.
        pub reply: bool,
        /// The sender's digest.
        pub digest: D,
    }

    /// A catch-up message.
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct CatchUpMsg<T> {
        /// The nonce of the digest answered.
        pub nonce: u32,
        /// The sender's next sequence number.
        pub seq: u64,
        /// What the digest's sender lacked.
        pub delta: T,
    }

    /// A delta-interval message.
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct DeltasMsg<T> {
        /// First sequence number.
        pub from: u64,
        /// One past the last sequence number.
        pub to: u64,
        /// The joined deltas.
        pub delta: T,
    }

    /// Header and fragment of a well-formed frame (version, CRC and header checked), or
    /// `None`.
    pub fn decode(bytes: &[u8]) -> Option<(Header, &[u8])> {
        if bytes.len() < 5 || bytes[0] != FRAME_VERSION {
            return None;
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if CRC32C.checksum(body).to_le_bytes() != crc {
            return None;
        }
        postcard::take_from_bytes::<Header>(&body[1..]).ok()
    }

    /// A frame with `header` and `fragment`, and a correct CRC.
    pub fn encode(header: &Header, fragment: &[u8]) -> Vec<u8> {
        let mut out = vec![FRAME_VERSION];
        out.extend(postcard::to_allocvec(header).expect("header encodes"));
        out.extend_from_slice(fragment);
        let crc = CRC32C.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Rewrites the CRC trailer of `frame` to match its body (after tampering).
    pub fn fix_crc(frame: &mut [u8]) {
        if frame.len() < 4 {
            return;
        }
        let n = frame.len() - 4;
        let crc = CRC32C.checksum(&frame[..n]);
        frame[n..].copy_from_slice(&crc.to_le_bytes());
    }

    /// One line about a frame, for traces.
    pub fn describe(bytes: &[u8]) -> String {
        match decode(bytes) {
            Some((h, body)) => format!(
                "{:?} from r{} inc {:08x} to-inc {:08x} ack {}{}{} ({} bytes)",
                h.kind,
                h.from.0,
                h.incarnation,
                h.to_incarnation,
                h.ack,
                if h.pull { " pull" } else { "" },
                h.chunk.map_or(String::new(), |c| format!(
                    " transfer {} chunk {}/{} of {} bytes",
                    c.transfer,
                    c.index + 1,
                    c.count(),
                    c.len
                )),
                body.len()
            ),
            None => format!("undecodable frame of {} bytes", bytes.len()),
        }
    }

    /// A transfer being reassembled: sender, incarnation, transfer id.
    type TransferKey = (u64, u32, u32);

    /// Reassembles the messages of a stream of frames, as a receiver would.
    #[derive(Default)]
    pub struct Reassembler {
        partial: HashMap<TransferKey, Vec<Option<Vec<u8>>>>,
    }

    impl Reassembler {
        /// Feeds one frame; returns the header of its first chunk and the message bytes
        /// once complete (a heartbeat or transfer acknowledgement is complete at once,
        /// with its body).
        pub fn push(&mut self, frame: &[u8]) -> Option<(Header, Vec<u8>)> {
            let (h, body) = decode(frame)?;
            let Some(c) = h.chunk else {
                return Some((h, body.to_vec()));
            };
            let key = (h.from.0, h.incarnation, c.transfer);
            let parts = self
                .partial
                .entry(key)
                .or_insert_with(|| vec![None; c.count() as usize]);
            *parts.get_mut(c.index as usize)? = Some(body.to_vec());
            if parts.iter().all(Option::is_some) {
                let parts = self.partial.remove(&key)?;
                let bytes = parts.into_iter().flatten().flatten().collect();
                Some((Header { chunk: None, ..h }, bytes))
            } else {
                None
            }
        }
    }
}
