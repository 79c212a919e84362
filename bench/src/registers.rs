//! Registers: 8 replicas, 10,000 writes of random values at random replicas (concurrent:
//! replicas learn of each other only by merges); after every 50 writes a random replica
//! merges a random other one. Multi-value and last-writer-wins.

use std::hint::black_box;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc, ScalarValue, Value};
use crdts::{CmRDT, CvRDT, LWWReg, MVReg};
use starling_core::{
    Growable, LamportClock, Lattice, LwwRegister, MvRegister, ReplicaId, WireFormat,
};

use crate::{Acc, Rng, check, pair_mut, two_mut};

/// Number of replicas.
pub const REPLICAS: usize = 8;
/// Number of writes.
pub const WRITES: usize = 10_000;
/// A merge after every this many writes.
pub const MERGE_EVERY: usize = 50;

/// One step of the workload.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Replica `r` writes `v`.
    Write {
        /// Replica.
        r: u8,
        /// Value.
        v: u64,
    },
    /// Replica `into` merges replica `from`.
    Merge {
        /// Receiving replica.
        into: u8,
        /// Merged replica.
        from: u8,
    },
}

/// The operations and the reference results.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The operations, in order.
    pub ops: Vec<Op>,
    /// Multi-value register after merging every replica into replica 0: the values of
    /// the writes no other write has seen (ascending).
    pub expected_mv: Vec<u64>,
    /// Last-writer-wins register after the same merges: the value of the write with the
    /// greatest Lamport stamp `(time, replica)`.
    pub expected_lww: u64,
    /// Number of writes and merges.
    pub counts: (usize, usize),
}

impl Workload {
    /// The workload of `seed`, with its reference results: each replica tracks the
    /// writes it has seen as a version vector and a Lamport clock.
    pub fn generate(seed: u64) -> Self {
        struct Write {
            seq: u32,
            past: [u32; REPLICAS],
            value: u64,
        }
        let mut rng = Rng::new(seed);
        let mut seen = [[0u32; REPLICAS]; REPLICAS];
        let mut clock = [0u64; REPLICAS];
        let mut last: Vec<Option<Write>> = (0..REPLICAS).map(|_| None).collect();
        let mut best: Option<((u64, usize), u64)> = None;
        let mut ops = Vec::new();
        let mut merges = 0;
        for i in 1..=WRITES {
            let r = rng.index(REPLICAS);
            let v = rng.next_u64();
            seen[r][r] += 1;
            clock[r] += 1;
            let stamp = (clock[r], r);
            if best.is_none_or(|(s, _)| stamp > s) {
                best = Some((stamp, v));
            }
            last[r] = Some(Write {
                seq: seen[r][r],
                past: seen[r],
                value: v,
            });
            ops.push(Op::Write { r: r as u8, v });
            if i % MERGE_EVERY == 0 {
                let into = rng.index(REPLICAS);
                let from = rng.other(REPLICAS, into);
                let theirs = seen[from];
                for (mine, theirs) in seen[into].iter_mut().zip(theirs) {
                    *mine = (*mine).max(theirs);
                }
                clock[into] = clock[into].max(clock[from]);
                ops.push(Op::Merge {
                    into: into as u8,
                    from: from as u8,
                });
                merges += 1;
            }
        }
        // A replica's last write is live unless another replica's last write saw it;
        // its earlier writes were all seen by its last one.
        let mut expected_mv: Vec<u64> = (0..REPLICAS)
            .filter_map(|r| {
                let w = last[r].as_ref()?;
                let overwritten = (0..REPLICAS)
                    .any(|s| s != r && last[s].as_ref().is_some_and(|o| o.past[r] >= w.seq));
                (!overwritten).then_some(w.value)
            })
            .collect();
        expected_mv.sort_unstable();
        Workload {
            ops,
            expected_mv,
            expected_lww: best.expect("writes").1,
            counts: (WRITES, merges),
        }
    }
}

/// One library's figures for one repetition.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Nanoseconds per write.
    pub write_ns: f64,
    /// Nanoseconds per merge.
    pub merge_ns: f64,
    /// Encoded bytes of the final merged register.
    pub encoded: usize,
}

/// A register implementation under test.
pub trait Register {
    /// Fresh replicas.
    fn new(replicas: usize) -> Self;
    /// Replica `r` writes `v`.
    fn write(&mut self, r: usize, v: u64);
    /// Untimed preparation of a merge (crdts consumes the merged state: clone it here).
    fn prepare_merge(&mut self, _into: usize, _from: usize) {}
    /// Replica `into` merges replica `from`.
    fn merge(&mut self, into: usize, from: usize);
    /// The value(s) read at replica `r`, ascending.
    fn read(&mut self, r: usize) -> Vec<u64>;
    /// Encoded size of replica `r`'s state.
    fn encoded_len(&mut self, r: usize) -> usize;
}

/// Runs `w` on `R`, checks the merged value(s) against `expected`.
pub fn run<R: Register>(w: &Workload, expected: &[u64], timer_ns: f64) -> Figures {
    let mut reg = R::new(REPLICAS);
    let (mut write, mut merge) = (Acc::default(), Acc::default());
    // The writes between two merges are timed as one section: a register write can
    // cost less than reading the clock.
    for segment in w.ops.split_inclusive(|op| matches!(op, Op::Merge { .. })) {
        let (writes, last) = match segment.split_last() {
            Some((Op::Merge { into, from }, writes)) => (writes, Some((*into, *from))),
            _ => (segment, None),
        };
        write.time_n(writes.len() as u64, || {
            for op in writes {
                if let Op::Write { r, v } = *op {
                    reg.write(usize::from(r), v);
                }
            }
        });
        if let Some((into, from)) = last {
            let (into, from) = (usize::from(into), usize::from(from));
            reg.prepare_merge(into, from);
            merge.time(|| reg.merge(into, from));
        }
    }
    for from in 1..REPLICAS {
        reg.prepare_merge(0, from);
        reg.merge(0, from);
    }
    check("register value", reg.read(0), expected.to_vec());
    Figures {
        write_ns: write.ns_per_op(timer_ns),
        merge_ns: merge.ns_per_op(timer_ns),
        encoded: reg.encoded_len(0),
    }
}

fn rid(r: usize) -> ReplicaId {
    ReplicaId(r as u64 + 1)
}

/// Starling `MvRegister<u64, Growable>`.
pub struct StarlingMv(Vec<MvRegister<u64, Growable>>);

impl Register for StarlingMv {
    fn new(replicas: usize) -> Self {
        StarlingMv(vec![MvRegister::default(); replicas])
    }
    fn write(&mut self, r: usize, v: u64) {
        black_box(self.0[r].write(rid(r), v).expect("growable"));
    }
    fn merge(&mut self, into: usize, from: usize) {
        let (a, b) = two_mut(&mut self.0, into, from);
        a.join(b).expect("growable");
    }
    fn read(&mut self, r: usize) -> Vec<u64> {
        let mut v: Vec<u64> = self.0[r].values().copied().collect();
        v.sort_unstable();
        v
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        self.0[r].to_vec().len()
    }
}

/// Starling `LwwRegister<u64, u64>` stamped by a per-replica Lamport clock.
pub struct StarlingLww(Vec<(LwwRegister<u64, u64>, LamportClock)>);

impl Register for StarlingLww {
    fn new(replicas: usize) -> Self {
        StarlingLww(vec![
            (LwwRegister::default(), LamportClock::new());
            replicas
        ])
    }
    fn write(&mut self, r: usize, v: u64) {
        let (reg, clock) = &mut self.0[r];
        black_box(reg.set(rid(r), clock.tick(), v));
    }
    fn merge(&mut self, into: usize, from: usize) {
        let (a, b) = two_mut(&mut self.0, into, from);
        a.0.join(&b.0).expect("infallible");
        if let Some((t, _)) = b.0.stamp() {
            a.1.observe(t);
        }
    }
    fn read(&mut self, r: usize) -> Vec<u64> {
        self.0[r].0.value().copied().into_iter().collect()
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        self.0[r].0.to_vec().len()
    }
}

/// crdts `MVReg<u64, u64>`, written through a derived add context.
pub struct CrdtsMv {
    replicas: Vec<MVReg<u64, u64>>,
    staged: Option<MVReg<u64, u64>>,
}

impl Register for CrdtsMv {
    fn new(replicas: usize) -> Self {
        CrdtsMv {
            replicas: vec![MVReg::new(); replicas],
            staged: None,
        }
    }
    fn write(&mut self, r: usize, v: u64) {
        let reg = &mut self.replicas[r];
        let ctx = reg.read_ctx().derive_add_ctx(r as u64 + 1);
        let op = reg.write(v, ctx);
        reg.apply(op);
    }
    fn prepare_merge(&mut self, _into: usize, from: usize) {
        self.staged = Some(self.replicas[from].clone());
    }
    fn merge(&mut self, into: usize, _from: usize) {
        let other = self.staged.take().expect("prepared");
        self.replicas[into].merge(other);
    }
    fn read(&mut self, r: usize) -> Vec<u64> {
        let mut v = self.replicas[r].read().val;
        v.sort_unstable();
        v
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        postcard::to_allocvec(&self.replicas[r])
            .expect("encodes")
            .len()
    }
}

/// A crdts last-writer-wins register marked `(Lamport time, replica)`.
type Lww = LWWReg<u64, (u64, u64)>;

/// crdts `LWWReg<u64, (u64, u64)>`, marked `(Lamport time, replica)`; each replica keeps
/// its Lamport clock beside its register.
pub struct CrdtsLww {
    replicas: Vec<(Lww, u64)>,
    staged: Option<Lww>,
}

impl Register for CrdtsLww {
    fn new(replicas: usize) -> Self {
        CrdtsLww {
            replicas: vec![(LWWReg::default(), 0); replicas],
            staged: None,
        }
    }
    fn write(&mut self, r: usize, v: u64) {
        let (reg, clock) = &mut self.replicas[r];
        *clock += 1;
        reg.update(v, (*clock, r as u64 + 1));
    }
    fn prepare_merge(&mut self, _into: usize, from: usize) {
        self.staged = Some(self.replicas[from].0.clone());
    }
    fn merge(&mut self, into: usize, _from: usize) {
        let other = self.staged.take().expect("prepared");
        let (reg, clock) = &mut self.replicas[into];
        *clock = (*clock).max(other.marker.0);
        reg.merge(other);
    }
    fn read(&mut self, r: usize) -> Vec<u64> {
        vec![self.replicas[r].0.val]
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        postcard::to_allocvec(&self.replicas[r].0)
            .expect("encodes")
            .len()
    }
}

/// Automerge: one key of the root map, each write committed as its own change. Its
/// conflicting values (`get_all`) are the multi-value register; its winner (`get`,
/// greatest `(Lamport counter, actor)`) the last-writer-wins register.
pub struct Automerge<const LWW: bool>(Vec<AutoCommit>);

fn uint(v: &Value<'_>) -> u64 {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Uint(n) => *n,
            other => panic!("not a u64: {other:?}"),
        },
        other => panic!("not a scalar: {other:?}"),
    }
}

impl<const LWW: bool> Register for Automerge<LWW> {
    fn new(replicas: usize) -> Self {
        Automerge(crate::am::fresh(replicas))
    }
    fn write(&mut self, r: usize, v: u64) {
        let doc = &mut self.0[r];
        doc.put(ROOT, "reg", v).expect("put");
        doc.commit();
    }
    fn merge(&mut self, into: usize, from: usize) {
        let (a, b) = pair_mut(&mut self.0, into, from);
        a.merge(b).expect("merge");
    }
    fn read(&mut self, r: usize) -> Vec<u64> {
        let doc = &self.0[r];
        if LWW {
            doc.get(ROOT, "reg")
                .expect("get")
                .map(|(v, _)| uint(&v))
                .into_iter()
                .collect()
        } else {
            let mut v: Vec<u64> = doc
                .get_all(ROOT, "reg")
                .expect("get_all")
                .iter()
                .map(|(v, _)| uint(v))
                .collect();
            v.sort_unstable();
            v
        }
    }
    fn encoded_len(&mut self, r: usize) -> usize {
        self.0[r].save().len()
    }
}
