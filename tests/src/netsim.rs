//! A deterministic network simulator for `starling-sync` nodes, with a causal checker.
//!
//! `N` replicas, each a [`Node`] over an in-memory network addressed by replica index.
//! Links lose, duplicate, delay (and so reorder) frames; partitions form and heal;
//! replicas crash (losing everything but their durable state, the CRDT value) and
//! restart as a new incarnation. Everything random comes from one seed, so a run is
//! replayed exactly by its seed.
//!
//! The replicated value is a pair `(document, updates)`: `updates` is a grow-only set of
//! update ids made alongside each document change, so the checker can tell which updates
//! a replica's state includes. Causal consistency: whenever a replica includes an update,
//! it includes every update its author had seen when making it.

use std::collections::BinaryHeap;
use std::fmt::Debug;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::{CapacityError, GSet, Growable, Lattice, Reconcile, ReplicaId};
use starling_sync::{Config, Node};

/// The update tracker replicated beside the document.
pub type Updates = GSet<u32, Growable>;

/// Node capacities used in simulations.
pub type SimNode<T> = Node<(T, Updates), usize, 32, 32, 16384>;

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
    /// Probability per update step that a partition forms (if none) or heals (if one).
    pub partition: f64,
    /// Probability per update step that a random replica crashes and restarts.
    pub crash: f64,
}

impl Faults {
    /// No faults, 5–20 ms latency.
    pub const NONE: Faults = Faults {
        loss: 0.0,
        duplicate: 0.0,
        latency_ms: (5, 20),
        partition: 0.0,
        crash: 0.0,
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

#[derive(PartialEq, Eq)]
struct InFlight {
    at: u64,
    order: u64,
    from: usize,
    to: usize,
    bytes: Vec<u8>,
}
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
    /// Simulated milliseconds until all replicas were identical after the heal.
    pub converge_ms: u64,
    /// Bytes sent by all nodes.
    pub bytes_sent: u64,
    /// Frames sent by all nodes.
    pub frames_sent: u64,
    /// Updates made.
    pub updates: u32,
    /// Crashes injected.
    pub crashes: u32,
    /// Partitions formed.
    pub partitions: u32,
}

/// One simulation.
pub struct Simulation<W: Workload> {
    /// The seed everything derives from.
    pub seed: u64,
    rng: ChaCha8Rng,
    config: Config,
    nodes: Vec<SimNode<W::Doc>>,
    links: Vec<Vec<usize>>,
    in_flight: BinaryHeap<InFlight>,
    order: u64,
    now: u64,
    faults: Faults,
    /// Partition: the group of each replica (all 0 when healed).
    group: Vec<u8>,
    /// For each update id, the updates its author had seen (bitmask, ids < 128).
    preds: Vec<u128>,
    /// The join of every delta ever made.
    everything: (W::Doc, Updates),
    report: RunReport,
    buf: Vec<u8>,
}

impl<W: Workload> Simulation<W> {
    /// A simulation of `n` replicas.
    pub fn new(seed: u64, n: usize, topology: Topology, faults: Faults, config: Config) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let links = links(n, topology, &mut rng);
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let mut node = SimNode::<W::Doc>::new(
                ReplicaId(i as u64 + 1),
                Default::default(),
                config,
                0,
                &mut rng,
            );
            for &j in &links[i] {
                node.add_peer(j).expect("peer table holds the topology");
            }
            nodes.push(node);
        }
        Simulation {
            seed,
            rng,
            config,
            nodes,
            links,
            in_flight: BinaryHeap::new(),
            order: 0,
            now: 0,
            faults,
            group: vec![0; n],
            preds: Vec::new(),
            everything: Default::default(),
            report: RunReport::default(),
            buf: vec![0; config.mtu],
        }
    }

    /// The nodes.
    pub fn nodes(&self) -> &[SimNode<W::Doc>] {
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

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    fn flush(&mut self, i: usize) {
        loop {
            let now = self.now;
            let Some(t) = self.nodes[i].poll_transmit(now, &mut self.buf) else {
                break;
            };
            let bytes = self.buf[..t.len].to_vec();
            self.report.frames_sent += 1;
            self.report.bytes_sent += t.len as u64;
            if self.group[i] != self.group[t.to] || self.chance(self.faults.loss) {
                continue;
            }
            let copies = if self.chance(self.faults.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let (lo, hi) = self.faults.latency_ms;
                let at = now + lo + self.rng.next_u64() % (hi - lo + 1);
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
        while self.nodes[i].poll_event().is_some() {}
    }

    /// Advances simulated time to `until`, delivering frames and firing timers, and
    /// checking causal consistency after every delivery.
    pub fn run_until(&mut self, until: u64) -> Result<(), String> {
        loop {
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|n| n.poll_timeout())
                .min()
                .unwrap_or(u64::MAX);
            let next_frame = self.in_flight.peek().map_or(u64::MAX, |f| f.at);
            let next = next_timer.min(next_frame).max(self.now);
            if next > until {
                self.now = until;
                return Ok(());
            }
            self.now = next;
            if next_frame <= next {
                let f = self.in_flight.pop().expect("peeked");
                self.nodes[f.to].handle_datagram(self.now, f.from, &f.bytes);
                self.check_causal(f.to)?;
                self.flush(f.to);
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    let mut rng = ChaCha8Rng::seed_from_u64(self.rng.next_u64());
                    self.nodes[i].handle_timeout(self.now, &mut rng);
                    self.flush(i);
                }
            }
        }
    }

    /// Makes a random update at replica `i` (if under 128 updates so far).
    pub fn update(&mut self, i: usize) -> Result<(), String> {
        let id = self.preds.len() as u32;
        if id >= 128 {
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
                self.preds.push(seen);
                self.everything
                    .join(&delta)
                    .map_err(|e| format!("join of all deltas: {e}"))?;
                self.report.updates += 1;
            }
            (Err(CapacityError), _) => {}
            (Ok(()), None) => return Err("update returned no delta".into()),
        }
        self.flush(i);
        Ok(())
    }

    /// Crashes replica `i` and restarts it from its durable state (the CRDT value).
    pub fn crash_restart(&mut self, i: usize) {
        let durable = self.nodes[i].state().clone();
        let id = self.nodes[i].id();
        let mut node = SimNode::<W::Doc>::new(id, durable, self.config, self.now, &mut self.rng);
        for &j in &self.links[i] {
            node.add_peer(j).expect("peer table holds the topology");
        }
        self.nodes[i] = node;
        self.report.crashes += 1;
        self.flush(i);
    }

    /// Splits the replicas into two random groups.
    pub fn partition(&mut self) {
        for g in self.group.iter_mut() {
            *g = (self.rng.next_u32() % 2) as u8;
        }
        self.report.partitions += 1;
    }

    /// Heals any partition.
    pub fn heal(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
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

    /// Runs the standard scenario: `updates` random updates spread over time with
    /// faults (partitions, crashes), then heals everything, stops faults and requires
    /// convergence within `settle_ms` to the join of all updates.
    pub fn run_scenario(
        &mut self,
        updates: u32,
        step_ms: u64,
        settle_ms: u64,
    ) -> Result<RunReport, String> {
        for _ in 0..updates {
            let i = (self.rng.next_u64() % self.nodes.len() as u64) as usize;
            self.update(i)?;
            if self.chance(self.faults.partition) {
                if self.group.iter().any(|g| *g != 0) {
                    self.heal()
                } else {
                    self.partition()
                }
            }
            if self.chance(self.faults.crash) {
                let i = (self.rng.next_u64() % self.nodes.len() as u64) as usize;
                self.crash_restart(i);
            }
            let until = self.now + step_ms;
            self.run_until(until)?;
        }
        // Liveness phase: heal, stop losing frames, and wait for convergence.
        self.heal();
        self.faults.loss = 0.0;
        self.faults.duplicate = 0.0;
        let healed_at = self.now;
        let deadline = self.now + settle_ms;
        while self.now < deadline {
            let until = self.now + 100;
            self.run_until(until)?;
            if self.converged() {
                self.report.converge_ms = self.now - healed_at;
                return Ok(self.report.clone());
            }
        }
        let states: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{:?}", n.state().1))
            .collect();
        Err(format!(
            "no convergence {settle_ms} ms after healing; update sets: {states:?}"
        ))
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

fn mask(updates: &Updates) -> u128 {
    updates.iter().fold(0u128, |m, u| m | (1u128 << u))
}

fn links(n: usize, topology: Topology, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
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
