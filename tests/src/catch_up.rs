//! Two nodes over a lossy link, stepped millisecond by millisecond: the harness of the
//! transfer regression tests (`tests/transfer.rs`) and of the "new replica catching up
//! vs document size" table of `cargo xtask bench-sync`.
//!
//! Every figure uses what users are told to use: random 64-bit replica ids, the default
//! `Node<T, A>` and `Config::new(1200)` (only `max_message_bytes` raised where a
//! document is larger than its 16 MiB default, said where it is).

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use starling_core::{AwSet, Growable, ReplicaId, WireFormat};
use starling_sync::{Config, Event, Node};

/// The document of these experiments: a set of random `u64`s.
pub type Set = AwSet<u64, Growable>;
/// A node with the default capacities.
pub type SetNode = Node<Set, usize>;

/// One-way latency of the link, ms.
pub const LATENCY_MS: u64 = 5;

/// Two nodes (addresses 0 and 1) over a link that drops `loss` of the frames (each way,
/// independently) and delays the rest by [`LATENCY_MS`].
pub struct Link {
    /// The two nodes.
    pub nodes: [SetNode; 2],
    rng: ChaCha8Rng,
    loss: f64,
    /// Simulated time, ms.
    pub now: u64,
    /// Frames on the way: (arrival, to, bytes).
    in_flight: Vec<(u64, usize, Vec<u8>)>,
    /// The events each node raised.
    pub events: [Vec<Event>; 2],
    /// While set, every frame is cut (a partition).
    pub cut: bool,
}

impl Link {
    /// Two nodes holding `a` and `b`, with `config`, random ids drawn from `seed`.
    pub fn new(a: Set, b: Set, config: Config, loss: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ids = [rng.next_u64(), rng.next_u64()];
        let mut nodes = [
            SetNode::new(ReplicaId(ids[0]), a, config, 0, &mut rng),
            SetNode::new(ReplicaId(ids[1]), b, config, 0, &mut rng),
        ];
        for (i, node) in nodes.iter_mut().enumerate() {
            node.add_peer(1 - i).expect("room for one peer");
        }
        Link {
            nodes,
            rng,
            loss,
            now: 0,
            in_flight: Vec::new(),
            events: [Vec::new(), Vec::new()],
            cut: false,
        }
    }

    /// Node `i`'s replica id.
    pub fn id(&self, i: usize) -> ReplicaId {
        self.nodes[i].id()
    }

    /// Runs until `done` holds (checked every millisecond) or `until_ms`; the time it
    /// took from now, if `done` came.
    pub fn run_until(
        &mut self,
        until_ms: u64,
        done: impl Fn(&[SetNode; 2]) -> bool,
    ) -> Option<u64> {
        let start = self.now;
        let mtu = self.nodes[0].config().mtu;
        let mut buf = vec![0u8; mtu];
        while self.now < until_ms {
            self.now += 1;
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|(at, _, _)| *at <= now);
            self.in_flight = later;
            for (_, to, bytes) in due {
                self.nodes[to].handle_datagram(now, 1 - to, &bytes);
            }
            for i in 0..2 {
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= now) {
                    self.nodes[i].handle_timeout(now, &mut self.rng);
                }
                while let Some(t) = self.nodes[i].poll_transmit(now, &mut buf) {
                    let lost = (self.rng.next_u64() as f64 / u64::MAX as f64) < self.loss;
                    if !lost && !self.cut {
                        self.in_flight
                            .push((now + LATENCY_MS, t.to, buf[..t.len].to_vec()));
                    }
                }
                while let Some(e) = self.nodes[i].poll_event() {
                    self.events[i].push(e);
                }
            }
            if done(&self.nodes) {
                return Some(self.now - start);
            }
        }
        None
    }
}

/// `n` random elements added by `id`.
pub fn random_set(n: usize, id: ReplicaId, seed: u64) -> Set {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut s = Set::default();
    for _ in 0..n {
        s.add(id, rng.next_u64()).expect("growable");
    }
    s
}

/// How a brand-new replica caught up to a document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CatchUp {
    /// Elements of the document.
    pub elements: usize,
    /// Its encoded length.
    pub state_bytes: usize,
    /// Share of frames lost.
    pub loss: f64,
    /// Bytes both nodes sent until the new replica held the document.
    pub wire_bytes: u64,
    /// Frames both sent.
    pub frames: u64,
    /// Simulated time until then, ms (`None`: not within the limit).
    pub took_ms: Option<u64>,
}

impl CatchUp {
    /// Wire bytes per byte of encoded state.
    pub fn ratio(&self) -> f64 {
        self.wire_bytes as f64 / self.state_bytes.max(1) as f64
    }
    /// Round trips of the link the catch-up took.
    pub fn round_trips(&self) -> Option<f64> {
        self.took_ms.map(|t| t as f64 / (2 * LATENCY_MS) as f64)
    }
}

/// A brand-new replica, introduced to a replica holding `n` random elements (written by
/// that replica), catches up over a link with `loss`. Gives up after `limit_ms`.
pub fn new_replica_catch_up(n: usize, loss: f64, limit_ms: u64, seed: u64) -> (CatchUp, Link) {
    let mut config = Config::new(1200);
    // The largest documents here pass the 16 MiB default (a random 64-bit replica id
    // costs about 21 bytes per element: see docs/benchmarks.md).
    config.max_message_bytes = config.max_message_bytes.max(64 << 20);
    let mut link = Link::new(Set::default(), Set::default(), config, loss, seed);
    let doc = random_set(n, link.id(0), seed ^ 0x5e7);
    let state_bytes = doc.encoded_len();
    link.nodes[0]
        .update(|s| {
            *s = doc.clone();
            Ok(doc.clone())
        })
        .expect("growable");
    let took_ms = link.run_until(limit_ms, |nodes| nodes[1].state() == nodes[0].state());
    let (a, b) = (link.nodes[0].metrics(), link.nodes[1].metrics());
    let catch_up = CatchUp {
        elements: n,
        state_bytes,
        loss,
        wire_bytes: a.bytes_sent + b.bytes_sent,
        frames: a.frames_sent + b.frames_sent,
        took_ms,
    };
    (catch_up, link)
}
