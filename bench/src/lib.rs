//! Core CRDT benchmarks: Starling side by side with rust-crdt (`crdts` 7.3) and Automerge.
//!
//! Every workload is generated once from a fixed seed as a list of operations, together
//! with the result a reference model says it must produce. Each library then replays the
//! same list in the same process; repetitions interleave the libraries (in rotating order)
//! so that a noisy machine slows all of them alike. A run whose final state differs from
//! the reference model aborts: no figure comes from skipped work.
//!
//! The timing binary (`src/main.rs`) uses the system allocator untouched; heap figures
//! come from a separate binary (`src/bin/heap.rs`) with a counting allocator, so the
//! counting costs nothing in the timings.

pub mod am;
pub mod counter;
pub mod delta_join;
pub mod memory;
pub mod registers;
pub mod report;
pub mod set;

use std::time::{Duration, Instant};

/// SplitMix64: a small, seedable, portable generator (the workloads must be identical
/// on every machine and for every library).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform index in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    /// A uniform index in `0..n` other than `not`.
    pub fn other(&mut self, n: usize, not: usize) -> usize {
        let k = self.index(n - 1);
        if k >= not { k + 1 } else { k }
    }
    /// `true` with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Time spent on one kind of operation, and how many were timed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Acc {
    /// Total measured time.
    pub total: Duration,
    /// Number of timed sections.
    pub sections: u64,
    /// Number of operations in them.
    pub ops: u64,
}

impl Acc {
    /// Runs `f` as one timed section holding one operation.
    #[inline]
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        self.time_n(1, f)
    }
    /// Runs `f` as one timed section holding `ops` operations.
    #[inline]
    pub fn time_n<T>(&mut self, ops: u64, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.total += start.elapsed();
        self.sections += 1;
        self.ops += ops;
        out
    }
    /// Nanoseconds per operation, with the cost of the timer itself (`overhead_ns` per
    /// timed section) subtracted.
    pub fn ns_per_op(&self, overhead_ns: f64) -> f64 {
        if self.ops == 0 {
            return f64::NAN;
        }
        let ns = self.total.as_nanos() as f64 - overhead_ns * self.sections as f64;
        (ns / self.ops as f64).max(0.0)
    }
}

/// The cost of one empty timed section (`Instant::now` and `elapsed`), in nanoseconds:
/// the median of 201 batches of 1,000 sections.
pub fn timer_overhead_ns() -> f64 {
    let mut batches: Vec<f64> = (0..201)
        .map(|_| {
            let mut acc = Acc::default();
            for i in 0..1_000u32 {
                acc.time(|| std::hint::black_box(i));
            }
            acc.total.as_nanos() as f64 / 1_000.0
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[batches.len() / 2]
}

/// Mutable references to two distinct elements of a slice.
pub fn two_mut<T>(items: &mut [T], a: usize, b: usize) -> (&mut T, &T) {
    assert_ne!(a, b, "a replica never merges itself");
    if a < b {
        let (lo, hi) = items.split_at_mut(b);
        (&mut lo[a], &hi[0])
    } else {
        let (lo, hi) = items.split_at_mut(a);
        (&mut hi[0], &lo[b])
    }
}

/// Mutable references to two distinct elements of a slice, both mutable.
pub fn pair_mut<T>(items: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b, "a replica never merges itself");
    if a < b {
        let (lo, hi) = items.split_at_mut(b);
        (&mut lo[a], &mut hi[0])
    } else {
        let (lo, hi) = items.split_at_mut(a);
        (&mut hi[0], &mut lo[b])
    }
}

/// Aborts the benchmark when a library's result differs from the reference model.
#[track_caller]
pub fn check<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) {
    if got != want {
        let show = |v: &T| {
            let s = format!("{v:?}");
            if s.len() > 300 {
                format!("{}...", &s[..300])
            } else {
                s
            }
        };
        panic!(
            "{what}: result differs from the reference model\n  got:  {}\n  want: {}",
            show(&got),
            show(&want)
        );
    }
}
