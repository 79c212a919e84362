//! A small delta joined into a large state: the cost must follow the delta, not the
//! state. States of 1k, 10k and 100k elements (`AwSet<u64, Growable>`, added by 8
//! replicas); a second replica holding the same state makes 1-element deltas, which the
//! first joins.

use starling_core::{AwSet, Growable, Lattice, ReplicaId, WireFormat};

use crate::{Acc, Rng, check};

/// State sizes.
pub const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Add deltas joined per repetition.
pub const ADDS: usize = 1_000;
/// Remove deltas joined per repetition.
pub const REMOVES: usize = 100;

type StarSet = AwSet<u64, Growable>;

/// A state, the deltas another replica made from it, and the state they lead to.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Elements in the base state.
    pub size: usize,
    base: StarSet,
    adds: Vec<StarSet>,
    removes: Vec<StarSet>,
    after: StarSet,
}

impl Fixture {
    /// The fixture for a state of `size` elements.
    pub fn new(size: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut base = StarSet::default();
        while base.len() < size {
            let r = ReplicaId(1 + base.len() as u64 % 8);
            base.add(r, rng.next_u64() >> 1).expect("growable");
        }
        let mut other = base.clone();
        let adds = (0..ADDS)
            .map(|i| {
                // Fresh elements (the base holds values below 2^63 only).
                let e = (1 << 63) + i as u64;
                other.add(ReplicaId(9), e).expect("growable")
            })
            .collect();
        let victims: Vec<u64> = base
            .iter()
            .copied()
            .step_by(size / REMOVES)
            .take(REMOVES)
            .collect();
        let removes = victims
            .iter()
            .map(|e| other.remove(e).expect("growable"))
            .collect();
        Fixture {
            size,
            base,
            adds,
            removes,
            after: other,
        }
    }

    /// Encoded bytes of one add delta and of one remove delta.
    pub fn delta_bytes(&self) -> (usize, usize) {
        (self.adds[0].encoded_len(), self.removes[0].encoded_len())
    }

    /// One repetition: ns per add-delta join, per remove-delta join, and for one join
    /// of the other replica's whole state.
    pub fn run(&self, timer_ns: f64) -> (f64, f64, f64) {
        let mut x = self.base.clone();
        let (mut add, mut remove, mut full) = (Acc::default(), Acc::default(), Acc::default());
        add.time_n(self.adds.len() as u64, || {
            for d in &self.adds {
                x.join(d).expect("growable");
            }
        });
        remove.time_n(self.removes.len() as u64, || {
            for d in &self.removes {
                x.join(d).expect("growable");
            }
        });
        check("state after joining the deltas", x == self.after, true);
        let mut y = self.base.clone();
        full.time(|| y.join(&self.after).expect("growable"));
        check("state after the full join", y == self.after, true);
        (
            add.ns_per_op(timer_ns),
            remove.ns_per_op(timer_ns),
            full.ns_per_op(timer_ns),
        )
    }
}
