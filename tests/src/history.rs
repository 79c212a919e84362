//! Random multi-replica histories and the simulator that replays them.
//!
//! A [`History`] is a list of [`Step`]s over 3 or 4 replicas: an operation at one
//! replica (its delta-mutator runs and the delta is recorded), a full-state join of one
//! replica into another, or the delivery of an earlier delta to some replica (in any
//! order, duplicates allowed). Every state and delta a law looks at comes from one such
//! history, so dots are never reused: the causal-CRDT laws only hold for states of one
//! consistent history.

use core::fmt;

use quickcheck::{Arbitrary, Gen};
use starling_core::{CapacityError, Lattice, ReplicaId};

use crate::LawSubject;

/// The replica ids of replica indexes 0 to 3: deliberately not in index order, so
/// per-replica tables are not filled in the order the history touches them.
pub const REPLICA_IDS: [ReplicaId; 4] = [ReplicaId(3), ReplicaId(1), ReplicaId(4), ReplicaId(2)];

/// Who performs an operation: the replica and its clock reading for this write.
///
/// `tick` comes from a per-replica clock that strictly increases with every operation
/// of that replica (by 1 to 4), so `(tick, replica)` never repeats: last-writer-wins
/// stamps are unique, as the registers require.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Writer {
    /// The replica performing the operation.
    pub replica: ReplicaId,
    /// Its clock reading for this operation (a Lamport-style timestamp).
    pub tick: u64,
}

/// One step of a [`History`]. Replica and delta indexes are taken modulo the number of
/// replicas or deltas when the step runs, so any value is valid.
#[derive(Clone, PartialEq, Eq)]
pub enum Step<Op> {
    /// Replica `at` performs `op`; its clock advances by `1 + jump % 4` first.
    Op {
        /// Replica index.
        at: u8,
        /// The operation.
        op: Op,
        /// Extra clock advance, so timestamps of different replicas interleave.
        jump: u8,
    },
    /// Replica `to` joins the whole state of replica `from`.
    Sync {
        /// Replica index of the sender.
        from: u8,
        /// Replica index of the receiver.
        to: u8,
    },
    /// Replica `to` joins the delta of an earlier operation (index `delta`).
    Deliver {
        /// Index into the deltas recorded so far.
        delta: u16,
        /// Replica index of the receiver.
        to: u8,
    },
}

impl<Op: fmt::Debug> fmt::Debug for Step<Op> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Op { at, op, jump } => write!(f, "r{at} {op:?} (+{})", 1 + jump % 4),
            Step::Sync { from, to } => write!(f, "sync r{from} -> r{to}"),
            Step::Deliver { delta, to } => write!(f, "deliver d{delta} -> r{to}"),
        }
    }
}

/// A random multi-replica history, the input of every law.
///
/// Generation respects the quickcheck size: at most `size` operations (joins are
/// extra), so a fixed capacity `N` above the size is never exhausted by the dots of
/// one history. Shrinking removes steps and a replica.
#[derive(Clone, PartialEq, Eq)]
pub struct History<Op> {
    /// Number of replicas: 3 or 4.
    pub replicas: u8,
    /// The steps, in order.
    pub steps: Vec<Step<Op>>,
    /// Seeds the choices the laws make from the history (which states to combine,
    /// delta orders, duplicates), so a failing input replays exactly.
    pub seed: u64,
}

impl<Op: fmt::Debug> fmt::Debug for History<Op> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "History {{ replicas: {}, seed: {:#x}, steps: ",
            self.replicas, self.seed
        )?;
        f.debug_list().entries(self.steps.iter()).finish()?;
        write!(f, " }}")
    }
}

/// A uniform-enough choice in `0..n` (`n > 0`) from quickcheck's generator.
pub fn pick(g: &mut Gen, n: u8) -> u8 {
    (u32::arbitrary(g) % u32::from(n)) as u8
}

impl<Op: Arbitrary> Arbitrary for History<Op> {
    fn arbitrary(g: &mut Gen) -> Self {
        let replicas = 3 + pick(g, 2);
        let max_ops = g.size().max(1);
        // Mostly long histories (conflicts need them), some short ones.
        let ops = if pick(g, 4) == 0 {
            usize::arbitrary(g) % (max_ops + 1)
        } else {
            max_ops / 2 + usize::arbitrary(g) % (max_ops - max_ops / 2 + 1)
        };
        let mut steps = Vec::new();
        let mut done = 0;
        while done < ops {
            let step = match pick(g, 20) {
                0..=12 => {
                    done += 1;
                    Step::Op {
                        at: pick(g, replicas),
                        op: Op::arbitrary(g),
                        jump: pick(g, 4),
                    }
                }
                13..=16 => Step::Sync {
                    from: pick(g, replicas),
                    to: pick(g, replicas),
                },
                _ => Step::Deliver {
                    delta: u16::arbitrary(g),
                    to: pick(g, replicas),
                },
            };
            steps.push(step);
        }
        History {
            replicas,
            steps,
            seed: u64::arbitrary(g),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut out = Vec::new();
        let n = self.steps.len();
        // Remove chunks of steps: everything, halves, quarters, ..., single steps.
        let mut chunk = n;
        while chunk >= 1 {
            let mut start = 0;
            while start < n {
                let mut steps = self.steps.clone();
                steps.drain(start..(start + chunk).min(n));
                out.push(History {
                    steps,
                    ..self.clone()
                });
                start += chunk;
            }
            chunk /= 2;
        }
        // Drop the fourth replica when no step names it.
        if self.replicas == 4
            && self.steps.iter().all(|s| match s {
                Step::Op { at, .. } => at % 4 != 3,
                Step::Sync { from, to } => from % 4 != 3 && to % 4 != 3,
                Step::Deliver { to, .. } => to % 4 != 3,
            })
        {
            out.push(History {
                replicas: 3,
                ..self.clone()
            });
        }
        // Simplify operations in place.
        for (i, step) in self.steps.iter().enumerate() {
            if let Step::Op { at, op, jump } = step {
                for smaller in op.shrink() {
                    let mut steps = self.steps.clone();
                    steps[i] = Step::Op {
                        at: *at,
                        op: smaller,
                        jump: *jump,
                    };
                    out.push(History {
                        steps,
                        ..self.clone()
                    });
                }
            }
        }
        Box::new(out.into_iter())
    }
}

/// The replicas of a history being replayed, with their clocks and every delta made.
pub struct Sim<L: LawSubject> {
    /// The state of each replica.
    pub replicas: Vec<L::State>,
    /// The clock of each replica (the tick of its last operation).
    pub clocks: Vec<u64>,
    /// Every delta returned by an operation, in order.
    pub deltas: Vec<L::State>,
}

impl<L: LawSubject> Sim<L> {
    /// `replicas` fresh replicas (bottom states).
    pub fn new(replicas: usize) -> Self {
        Sim {
            replicas: vec![L::State::bottom(); replicas],
            clocks: vec![0; replicas],
            deltas: Vec::new(),
        }
    }

    /// The index of the replica whose state `step` changes.
    pub fn target(&self, step: &Step<L::Op>) -> usize {
        let n = self.replicas.len();
        match step {
            Step::Op { at, .. } => usize::from(*at) % n,
            Step::Sync { to, .. } | Step::Deliver { to, .. } => usize::from(*to) % n,
        }
    }

    /// The writer for the next operation of replica `at`, without advancing its clock.
    pub fn peek_writer(&self, at: usize, jump: u8) -> Writer {
        Writer {
            replica: REPLICA_IDS[at],
            tick: self.clocks[at] + 1 + u64::from(jump % 4),
        }
    }

    /// Runs one operation at replica `at` as `writer` with the subject's mutator,
    /// records the delta it returns and advances the replica's clock. On error the
    /// replica state is untouched (the library's contract) and nothing is recorded.
    pub fn operate(&mut self, at: usize, writer: Writer, op: &L::Op) -> Result<(), CapacityError> {
        self.clocks[at] = writer.tick;
        let delta = L::apply(&mut self.replicas[at], writer, op)?;
        self.deltas.push(delta);
        Ok(())
    }

    /// Runs one step. Returns what the state's own operation returned.
    pub fn step(&mut self, step: &Step<L::Op>) -> Result<(), CapacityError> {
        let to = self.target(step);
        match step {
            Step::Op { op, jump, .. } => {
                let writer = self.peek_writer(to, *jump);
                self.operate(to, writer, op)
            }
            Step::Sync { from, .. } => {
                let from = usize::from(*from) % self.replicas.len();
                let sent = self.replicas[from].clone();
                self.replicas[to].join(&sent)
            }
            Step::Deliver { delta, .. } => {
                if self.deltas.is_empty() {
                    return Ok(());
                }
                let d = &self.deltas[usize::from(*delta) % self.deltas.len()];
                self.replicas[to].join(d)
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) for the choices laws make from
/// [`History::seed`].
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}
