//! The symmetric digest exchange after a partition: two replicas share an
//! [`EXCHANGE_SHARED`]-element `AwSet<u64>` of random values written by the first, each
//! adds `d` more while apart, then each sends its digest and answers the other's with a
//! catch-up, whichever order the digests cross in (issue 12, item 3).
//!
//! * [`exchange`]: the exchange as [`Reconcile`] computes it (the digests and the
//!   catch-ups, postcard-encoded as the sync messages carry them, no frames), for any `d`.
//! * [`node_exchange`]: the same between two real [`starling_sync::Node`]s on a lossless
//!   network, fresh from a restart with the partitioned states: every byte on the wire,
//!   frame headers and acknowledgements included, until both hold the union.
//!
//! Goal: both ways together at most 1.5 x the raw floor (8 bytes per new element each
//! way) + 64 bytes. `cargo xtask bench-sync` prints the table; `tests/sync_efficiency.rs`
//! asserts the byte counts.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use starling_core::{AwSet, Growable, Lattice, Reconcile, ReplicaId};
use starling_sync::Config;

use crate::efficiency::{Cluster, ClusterNode, Recovery};

/// Elements both replicas hold before they part.
pub const EXCHANGE_SHARED: usize = 10_000;

/// The set of the exchange.
pub type Set = AwSet<u64, Growable>;

/// The replica ids of the two replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ids {
    /// 1 and 2: one-byte varints on the wire.
    Small,
    /// Random 64-bit ids (what users are told to pick): ten-byte varints, mostly.
    Random,
}

/// In which order the digests cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// Both digests are in flight at once: each side answers the other's from its own
    /// state (one round trip, as y-sync does).
    Simultaneous,
    /// A's digest reaches B before B sent its own: B answers with a catch-up and its
    /// digest; A joins the catch-up, then answers from the union.
    AFirst,
    /// As [`Crossing::AFirst`], B's digest first.
    BFirst,
}

/// The two replicas after the partition.
pub struct Partitioned {
    /// Replica A (wrote the shared elements) and replica B.
    pub states: [Set; 2],
    /// What each added while apart: the join of its `d` add deltas.
    pub news: [Set; 2],
    /// Their replica ids.
    pub ids: [ReplicaId; 2],
}

/// Two replicas share [`EXCHANGE_SHARED`] random elements (written by A, which then
/// removed `removed` of them, at random, before they parted), then each adds `d` new
/// random elements.
pub fn partitioned(d: usize, removed: usize, ids: Ids, seed: u64) -> Partitioned {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ids = match ids {
        Ids::Small => [ReplicaId(1), ReplicaId(2)],
        Ids::Random => [ReplicaId(rng.next_u64()), ReplicaId(rng.next_u64())],
    };
    let mut shared = Set::default();
    for _ in 0..EXCHANGE_SHARED {
        shared.add(ids[0], rng.next_u64()).expect("growable");
    }
    let mut elements: Vec<u64> = shared.iter().copied().collect();
    for _ in 0..removed.min(EXCHANGE_SHARED) {
        let e = elements.swap_remove((rng.next_u64() % elements.len() as u64) as usize);
        shared.remove(&e).expect("growable");
    }
    let mut states = [shared.clone(), shared];
    let mut news = [Set::default(), Set::default()];
    for _ in 0..d {
        for i in 0..2 {
            let delta = states[i].add(ids[i], rng.next_u64()).expect("growable");
            news[i].join(&delta).expect("growable");
        }
    }
    Partitioned { states, news, ids }
}

/// Bytes of the postcard encoding of `value`.
fn encoded<T: Serialize>(value: &T) -> u64 {
    postcard::to_allocvec(value).expect("encodes").len() as u64
}

/// The outcome of one [`exchange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Elements each replica added while apart.
    pub d: usize,
    /// Bytes of A's and B's digests.
    pub digests: [u64; 2],
    /// Bytes of the catch-up A sent B, and of the one B sent A.
    pub catch_ups: [u64; 2],
    /// Bytes of what A and B added while apart (the join of each one's add deltas): the
    /// catch-ups of an oracle that knew what the other lacks.
    pub news: [u64; 2],
}

impl Exchange {
    /// Digests and catch-ups, both ways.
    pub fn total(&self) -> u64 {
        self.digests.iter().chain(&self.catch_ups).sum()
    }
    /// The raw floor: 8 bytes per new element, each way.
    pub fn floor(&self) -> u64 {
        16 * self.d as u64
    }
    /// The goal: 1.5 x the floor + 64 bytes.
    pub fn goal(&self) -> u64 {
        self.floor() * 3 / 2 + 64
    }
}

/// The exchange computed with [`Reconcile`] alone: digests, then catch-ups in the order
/// `crossing` says; checks that both end with the union. `removed`: see [`partitioned`].
pub fn exchange(d: usize, removed: usize, ids: Ids, crossing: Crossing, seed: u64) -> Exchange {
    let Partitioned { states, news, .. } = partitioned(d, removed, ids, seed);
    let [a, b] = states;
    let union = a.joined(&b).expect("growable");
    let (da, db) = (a.digest().expect("growable"), b.digest().expect("growable"));
    let answer = |x: &Set, digest| x.missing_for(digest).expect("growable");
    let (to_b, to_a) = match crossing {
        Crossing::Simultaneous => (answer(&a, &db), answer(&b, &da)),
        Crossing::AFirst => {
            let to_a = answer(&b, &da);
            let a_now = a.joined(&to_a).expect("growable");
            (answer(&a_now, &db), to_a)
        }
        Crossing::BFirst => {
            let to_b = answer(&a, &db);
            let b_now = b.joined(&to_b).expect("growable");
            (to_b, answer(&b_now, &da))
        }
    };
    assert_eq!(a.joined(&to_a).expect("growable"), union, "A caught up");
    assert_eq!(b.joined(&to_b).expect("growable"), union, "B caught up");
    Exchange {
        d,
        digests: [encoded(&da), encoded(&db)],
        catch_ups: [encoded(&to_b), encoded(&to_a)],
        news: [encoded(&news[0]), encoded(&news[1])],
    }
}

/// The exchange between two [`starling_sync::Node`]s (`Config::new(1200)`, 10 ms one-way
/// latency, no loss) started with the partitioned states: bytes on the wire from the
/// first digest until both hold the union.
pub fn node_exchange(d: usize, ids: Ids, crossing: Crossing, seed: u64) -> Recovery {
    node_exchange_metrics(d, ids, crossing, seed).0
}

/// [`node_exchange`], and each node's metrics at the end.
pub fn node_exchange_metrics(
    d: usize,
    ids: Ids,
    crossing: Crossing,
    seed: u64,
) -> (Recovery, Vec<starling_sync::Metrics>) {
    let p = partitioned(d, 0, ids, seed);
    let union = p.states[0].joined(&p.states[1]).expect("growable");
    let links = vec![vec![1], vec![0]];
    let mut cluster: Cluster<Set, 2, 32, 32768> =
        Cluster::started_together(&links, &p.ids, Config::new(1200), 10, seed, |i| {
            p.states[i].clone()
        });
    match crossing {
        Crossing::Simultaneous => {
            cluster.kick(0);
            cluster.kick(1);
        }
        Crossing::AFirst => cluster.kick(0),
        Crossing::BFirst => cluster.kick(1),
    }
    let done =
        |nodes: &[ClusterNode<Set, 2, 32, 32768>], _| nodes.iter().all(|n| *n.state() == union);
    cluster
        .run_until(120_000, done)
        .expect("the replicas reconcile within two minutes");
    let recovery = Recovery {
        d,
        bytes_a_to_b: cluster.bytes_sent[0],
        bytes_b_to_a: cluster.bytes_sent[1],
        frames: cluster.total_frames(),
        round_trips: f64::from(cluster.changed_depth(0).max(cluster.changed_depth(1))) / 2.0,
    };
    let metrics = cluster.nodes().iter().map(|n| *n.metrics()).collect();
    (recovery, metrics)
}
