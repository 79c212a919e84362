//! Grow-only counter: 16 replicas, 200,000 increments by random replicas, then every
//! replica's state merged into replica 0.

use std::hint::black_box;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc, ScalarValue, Value};
use starling_core::{GCounter, Growable, Lattice, ReplicaId, WireFormat};

use crate::{Acc, Rng, check, two_mut};

/// Number of replicas.
pub const REPLICAS: usize = 16;
/// Number of increments (each by one, at a random replica).
pub const INCREMENTS: usize = 200_000;
/// Automerge runs only the first this many increments: its increment costs time in
/// proportion to the increments already applied to the counter (about 18 µs per
/// increment at 1,000 of them in a document, 97 µs at 12,500), so the full workload
/// alone would take two minutes per repetition.
pub const AUTOMERGE_INCREMENTS: usize = 20_000;

/// The increments: the replica making each.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Replica of each increment.
    pub replicas: Vec<u8>,
}

impl Workload {
    /// The workload of `seed`.
    pub fn generate(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let replicas = (0..INCREMENTS).map(|_| rng.index(REPLICAS) as u8).collect();
        Workload { replicas }
    }
}

/// One library's figures for one repetition.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Nanoseconds per increment.
    pub increment_ns: f64,
    /// Nanoseconds per merge of one replica's state into replica 0.
    pub merge_ns: f64,
    /// Encoded bytes of the merged state.
    pub encoded: usize,
}

/// A counter implementation under test: `REPLICAS` replicas.
pub trait Counter {
    /// Fresh replicas.
    fn new(replicas: usize) -> Self;
    /// Increments by one at replica `r`.
    fn increment(&mut self, r: usize);
    /// Untimed preparation of a merge (crdts consumes the merged state: clone it here).
    fn prepare_merge(&mut self, _into: usize, _from: usize) {}
    /// Merges replica `from` into replica `into`.
    fn merge(&mut self, into: usize, from: usize);
    /// The value at replica `r`.
    fn value(&self, r: usize) -> u64;
    /// Encoded size of replica `r`'s state.
    fn encoded_len(&mut self, r: usize) -> usize;
}

/// Runs the first `increments` increments of `w` on `C`, checks the merged value,
/// returns the figures.
pub fn run<C: Counter>(w: &Workload, increments: usize, timer_ns: f64) -> Figures {
    let mut c = C::new(REPLICAS);
    let mut inc = Acc::default();
    let replicas = &w.replicas[..increments];
    inc.time_n(replicas.len() as u64, || {
        for &r in replicas {
            c.increment(usize::from(r));
        }
    });
    let mut merge = Acc::default();
    for from in 1..REPLICAS {
        c.prepare_merge(0, from);
        merge.time(|| c.merge(0, from));
    }
    check("counter value", c.value(0), increments as u64);
    Figures {
        increment_ns: inc.ns_per_op(timer_ns),
        merge_ns: merge.ns_per_op(timer_ns),
        encoded: c.encoded_len(0),
    }
}

fn rid(r: usize) -> ReplicaId {
    ReplicaId(r as u64 + 1)
}

/// Starling `GCounter<Growable>`.
pub struct Starling(Vec<GCounter<Growable>>);

impl Counter for Starling {
    fn new(replicas: usize) -> Self {
        Starling(vec![GCounter::default(); replicas])
    }
    fn increment(&mut self, r: usize) {
        let delta = self.0[r].increment(rid(r), 1).expect("growable");
        black_box(delta);
    }
    fn merge(&mut self, into: usize, from: usize) {
        let (a, b) = two_mut(&mut self.0, into, from);
        a.join(b).expect("growable");
    }
    fn value(&self, r: usize) -> u64 {
        self.0[r].value()
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        self.0[r].to_vec().len()
    }
}

/// crdts `GCounter<u64>`.
pub struct Crdts {
    replicas: Vec<crdts::GCounter<u64>>,
    staged: Option<crdts::GCounter<u64>>,
}

impl Counter for Crdts {
    fn new(replicas: usize) -> Self {
        Crdts {
            replicas: vec![crdts::GCounter::new(); replicas],
            staged: None,
        }
    }
    fn increment(&mut self, r: usize) {
        use crdts::CmRDT;
        let c = &mut self.replicas[r];
        let op = c.inc(r as u64 + 1);
        c.apply(op);
    }
    fn prepare_merge(&mut self, _into: usize, from: usize) {
        self.staged = Some(self.replicas[from].clone());
    }
    fn merge(&mut self, into: usize, _from: usize) {
        use crdts::CvRDT;
        let other = self.staged.take().expect("prepared");
        self.replicas[into].merge(other);
    }
    fn value(&self, r: usize) -> u64 {
        self.replicas[r]
            .read()
            .to_string()
            .parse()
            .expect("a number")
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        postcard::to_allocvec(&self.replicas[r])
            .expect("encodes")
            .len()
    }
}

/// Automerge: a `Counter` value under one key of the root map; every increment is
/// committed as its own change.
pub struct Automerge(Vec<AutoCommit>);

impl Counter for Automerge {
    fn new(replicas: usize) -> Self {
        let mut base = AutoCommit::new().with_actor(crate::am::actor(replicas));
        base.put(ROOT, "n", ScalarValue::counter(0))
            .expect("put counter");
        Automerge(crate::am::forks(&mut base, replicas))
    }
    fn increment(&mut self, r: usize) {
        let doc = &mut self.0[r];
        doc.increment(ROOT, "n", 1).expect("increment");
        doc.commit();
    }
    fn merge(&mut self, into: usize, from: usize) {
        let (a, b) = crate::pair_mut(&mut self.0, into, from);
        a.merge(b).expect("merge");
    }
    fn value(&self, r: usize) -> u64 {
        match self.0[r].get(ROOT, "n").expect("get") {
            Some((Value::Scalar(v), _)) => match v.as_ref() {
                ScalarValue::Counter(c) => i64::from(c) as u64,
                other => panic!("not a counter: {other:?}"),
            },
            other => panic!("not a scalar: {other:?}"),
        }
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        self.0[r].save().len()
    }
}
