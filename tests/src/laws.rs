//! The generic law checks: each is a quickcheck property over a [`History`], for any
//! [`LawSubject`].
//!
//! A property replays the history, collects a labelled *pool* of values (the bottom,
//! every replica state after every step, every delta) and checks its law on values of
//! the pool, picked with the history's seed. A failure returns a
//! [`TestResult::error`] naming the law, the values involved (with where in the
//! history they come from) and what came out, so quickcheck prints it after shrinking
//! the history.
//!
//! With the capacities the law tests use, no history may hit a [`CapacityError`]
//! (the fixed tables are larger than the dots, elements and replicas a history can
//! create), so one is reported as a failure too, except in [`capacity_error_is_atomic`].

use core::fmt::Debug;

use quickcheck::TestResult;
use starling_core::{CapacityError, EncodeError, Lattice, Reconcile, StateChecksum, WireFormat};

use crate::LawSubject;
use crate::history::{History, Sim, SplitMix, Step, Writer};

/// Returns `Err(message)` from the enclosing check unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// How many random pairs or triples of pool values a pairwise law checks per history,
/// on top of the systematic ones.
pub const SAMPLES: usize = 24;

/// A value of the pool with a label saying where in the history it comes from.
pub type Labelled<T> = (String, T);

/// A replayed history: the simulator at the end and the pool of values it went through.
pub struct Recorded<L: LawSubject> {
    /// The simulator after the last step.
    pub sim: Sim<L>,
    /// Labelled values: index 0 is the bottom, then after each step the changed
    /// replica's state, and after an operation its delta.
    pub pool: Vec<Labelled<L::State>>,
    /// Per replica, the pool indexes of its successive states (starting with 0, the
    /// bottom).
    pub timelines: Vec<Vec<usize>>,
    /// Pool indexes of the deltas, in the order they were made.
    pub delta_indexes: Vec<usize>,
}

impl<L: LawSubject> Recorded<L> {
    /// Pool indexes of the final replica states.
    pub fn finals(&self) -> Vec<usize> {
        self.timelines
            .iter()
            .map(|t| *t.last().unwrap_or(&0))
            .collect()
    }
}

/// The message for a [`CapacityError`] where none may occur.
fn unexpected(what: &str) -> String {
    format!(
        "unexpected CapacityError {what}: the law tests' capacities exceed what one \
         history can create (more table entries than dots, elements or replicas), so \
         a capacity check is wrong"
    )
}

/// `a ⊔ b`, with an unexpected capacity error as a failure message.
pub fn join<T: Lattice>(a: &T, b: &T) -> Result<T, String> {
    a.joined(b)
        .map_err(|CapacityError { .. }| unexpected("in a join"))
}

/// Replays `h`, recording the pool. Fails on any capacity error.
pub fn record<L: LawSubject>(h: &History<L::Op>) -> Result<Recorded<L>, String> {
    let n = usize::from(h.replicas);
    let mut sim = Sim::<L>::new(n);
    let mut pool = vec![("bottom".to_string(), L::State::bottom())];
    let mut timelines = vec![vec![0]; n];
    let mut delta_indexes = Vec::new();
    for (k, step) in h.steps.iter().enumerate() {
        let to = sim.target(step);
        let deltas_before = sim.deltas.len();
        sim.step(step)
            .map_err(|_| unexpected(&format!("at step {k} ({step:?})")))?;
        timelines[to].push(pool.len());
        pool.push((format!("r{to} after step {k}"), sim.replicas[to].clone()));
        if sim.deltas.len() > deltas_before {
            let j = sim.deltas.len() - 1;
            delta_indexes.push(pool.len());
            pool.push((format!("d{j} (step {k})"), sim.deltas[j].clone()));
        }
    }
    Ok(Recorded {
        sim,
        pool,
        timelines,
        delta_indexes,
    })
}

/// Turns a check into a quickcheck verdict.
pub fn verdict(check: impl FnOnce() -> Result<(), String>) -> TestResult {
    match check() {
        Ok(()) => TestResult::passed(),
        Err(msg) => TestResult::error(msg),
    }
}

fn show<T: Debug>(name: &str, (label, value): &Labelled<T>) -> String {
    format!("\n  {name} = {label}: {value:?}")
}

/// FNV-1a over `bytes`, then mixed: a content hash of a pool value.
fn content_hash<T: WireFormat>(x: &T) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in x.to_vec() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    SplitMix::new(h).next_u64()
}

/// A number in `[0, 1)` derived from the seed and some content hashes.
fn unit(seed: u64, hashes: &[u64]) -> f64 {
    let mut x = seed;
    for h in hashes {
        x = SplitMix::new(x ^ h).next_u64();
    }
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The pool indexes of distinct values (by encoding), with their content hashes.
fn distinct<L: LawSubject>(rec: &Recorded<L>) -> Vec<(usize, u64)> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (i, (_, x)) in rec.pool.iter().enumerate() {
        let bytes = x.to_vec();
        if !seen.contains(&bytes) {
            seen.push(bytes);
            out.push((i, content_hash(x)));
        }
    }
    out
}

/// Pairs of pool indexes: every pair of final replica states, consecutive deltas, and
/// about [`SAMPLES`] pairs of distinct values chosen by their *content* (and the seed),
/// so a chosen pair stays chosen while quickcheck shrinks away unrelated steps.
fn pairs<L: LawSubject>(rec: &Recorded<L>, seed: u64) -> Vec<(usize, usize)> {
    let finals = rec.finals();
    let mut out = Vec::new();
    for &a in &finals {
        for &b in &finals {
            out.push((a, b));
        }
    }
    for w in rec.delta_indexes.windows(2) {
        out.push((w[0], w[1]));
    }
    let values = distinct(rec);
    let m = values.len() as f64;
    let p = SAMPLES as f64 / (m * m);
    for &(i, hi) in &values {
        for &(j, hj) in &values {
            if unit(seed, &[hi, hj]) < p {
                out.push((i, j));
            }
        }
    }
    out
}

/// Triples of pool indexes: rotations of the final replica states and about
/// [`SAMPLES`] triples of distinct values chosen by content, as in [`pairs`].
fn triples<L: LawSubject>(rec: &Recorded<L>, seed: u64) -> Vec<[usize; 3]> {
    let finals = rec.finals();
    let mut out = Vec::new();
    for i in 0..finals.len() {
        let f = |k: usize| finals[(i + k) % finals.len()];
        out.push([f(0), f(1), f(2)]);
    }
    let values = distinct(rec);
    let m = values.len() as f64;
    // Choose a pair with probability q, then each third value with probability q:
    // about SAMPLES triples in all, and still more as the pool shrinks.
    let q = (SAMPLES as f64).sqrt() / m;
    for &(i, hi) in &values {
        for &(j, hj) in &values {
            if unit(seed, &[hi, hj]) >= q {
                continue;
            }
            for &(k, hk) in &values {
                if unit(seed ^ 1, &[hi, hj, hk]) < q {
                    out.push([i, j, k]);
                }
            }
        }
    }
    out
}

/// Law: `a ⊔ b == b ⊔ a`.
pub fn join_commutative<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        for (i, j) in pairs(&rec, h.seed) {
            let (a, b) = (&rec.pool[i].1, &rec.pool[j].1);
            let (ab, ba) = (join(a, b)?, join(b, a)?);
            ensure!(
                ab == ba,
                "join not commutative: a ⊔ b != b ⊔ a{}{}\n  a ⊔ b = {ab:?}\n  b ⊔ a = {ba:?}",
                show("a", &rec.pool[i]),
                show("b", &rec.pool[j]),
            );
        }
        Ok(())
    })
}

/// Law: `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`.
pub fn join_associative<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        for [i, j, k] in triples(&rec, h.seed) {
            let (a, b, c) = (&rec.pool[i].1, &rec.pool[j].1, &rec.pool[k].1);
            let left = join(&join(a, b)?, c)?;
            let right = join(a, &join(b, c)?)?;
            ensure!(
                left == right,
                "join not associative: (a ⊔ b) ⊔ c != a ⊔ (b ⊔ c){}{}{}\n  (a ⊔ b) ⊔ c = {left:?}\n  a ⊔ (b ⊔ c) = {right:?}",
                show("a", &rec.pool[i]),
                show("b", &rec.pool[j]),
                show("c", &rec.pool[k]),
            );
        }
        Ok(())
    })
}

/// Law: `a ⊔ a == a` for every value, and `(a ⊔ b) ⊔ b == a ⊔ b`.
pub fn join_idempotent<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        for entry in &rec.pool {
            let aa = join(&entry.1, &entry.1)?;
            ensure!(
                aa == entry.1,
                "join not idempotent: a ⊔ a != a{}\n  a ⊔ a = {aa:?}",
                show("a", entry),
            );
        }
        for (i, j) in pairs(&rec, h.seed) {
            let ab = join(&rec.pool[i].1, &rec.pool[j].1)?;
            let abb = join(&ab, &rec.pool[j].1)?;
            ensure!(
                abb == ab,
                "joining b twice differs from once: (a ⊔ b) ⊔ b != a ⊔ b{}{}\n  a ⊔ b = {ab:?}\n  (a ⊔ b) ⊔ b = {abb:?}",
                show("a", &rec.pool[i]),
                show("b", &rec.pool[j]),
            );
        }
        Ok(())
    })
}

/// Law: the bottom (`Default`) is the identity of join on both sides, is the least
/// element, and `is_bottom` recognises exactly it.
pub fn bottom_is_identity<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        let bottom = L::State::bottom();
        ensure!(
            bottom == L::State::default() && bottom.is_bottom(),
            "bottom() is not the default, or not is_bottom(): {bottom:?}"
        );
        for entry in &rec.pool {
            let a = &entry.1;
            let left = join(&bottom, a)?;
            let right = join(a, &bottom)?;
            ensure!(
                left == *a,
                "⊥ ⊔ a != a{}\n  ⊥ ⊔ a = {left:?}",
                show("a", entry)
            );
            ensure!(
                right == *a,
                "a ⊔ ⊥ != a{}\n  a ⊔ ⊥ = {right:?}",
                show("a", entry)
            );
            let mut in_place = a.clone();
            in_place
                .join(&bottom)
                .map_err(|_| unexpected("joining ⊥"))?;
            ensure!(
                in_place == *a,
                "a.join(⊥) changed a{}\n  after = {in_place:?}",
                show("a", entry)
            );
            ensure!(bottom.leq(a), "not ⊥ ≤ a{}", show("a", entry));
            ensure!(
                a.is_bottom() == (*a == bottom),
                "is_bottom() = {} but a == ⊥ is {}{}",
                a.is_bottom(),
                *a == bottom,
                show("a", entry)
            );
        }
        Ok(())
    })
}

/// Law: `a ≤ b ⇔ a ⊔ b == b`; `a ≤ a ⊔ b` and `b ≤ a ⊔ b`; `≤` is reflexive and
/// antisymmetric; and every replica's successive states only grow.
pub fn leq_matches_join<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        for timeline in &rec.timelines {
            for w in timeline.windows(2) {
                let (before, after) = (&rec.pool[w[0]], &rec.pool[w[1]]);
                ensure!(
                    before.1.leq(&after.1),
                    "a replica state shrank: not before ≤ after{}{}",
                    show("before", before),
                    show("after", after),
                );
            }
        }
        let mut rng = SplitMix::new(h.seed);
        // Pairs of one replica's timeline are ordered, so both answers of `leq` occur.
        let mut ps = pairs(&rec, h.seed);
        for t in &rec.timelines {
            let (i, j) = (t[rng.below(t.len())], t[rng.below(t.len())]);
            ps.push((i, j));
        }
        for (i, j) in ps {
            let (ea, eb) = (&rec.pool[i], &rec.pool[j]);
            let (a, b) = (&ea.1, &eb.1);
            let ab = join(a, b)?;
            ensure!(
                a.leq(b) == (ab == *b),
                "a ≤ b is {} but a ⊔ b == b is {}{}{}\n  a ⊔ b = {ab:?}",
                a.leq(b),
                ab == *b,
                show("a", ea),
                show("b", eb),
            );
            ensure!(
                a.leq(&ab) && b.leq(&ab),
                "a ⊔ b is not above both: a ≤ a ⊔ b is {}, b ≤ a ⊔ b is {}{}{}\n  a ⊔ b = {ab:?}",
                a.leq(&ab),
                b.leq(&ab),
                show("a", ea),
                show("b", eb),
            );
            ensure!(
                ab.leq(a) == (ab == *a),
                "(a ⊔ b) ≤ a is {} but a ⊔ b == a is {}{}{}\n  a ⊔ b = {ab:?}",
                ab.leq(a),
                ab == *a,
                show("a", ea),
                show("b", eb),
            );
            ensure!(a.leq(a), "not a ≤ a{}", show("a", ea));
            ensure!(
                !(a.leq(b) && b.leq(a)) || a == b,
                "a ≤ b and b ≤ a but a != b{}{}",
                show("a", ea),
                show("b", eb),
            );
        }
        Ok(())
    })
}

/// Checks `m(x) == x ⊔ mδ(x)` for one operation, and that the mutator returns the
/// delta the delta-mutator makes.
fn check_mutator<L: LawSubject>(
    x: &Labelled<L::State>,
    w: Writer,
    op: &L::Op,
) -> Result<(), String> {
    let d = L::delta(&x.1, w, op).map_err(|_| unexpected("in a delta-mutator"))?;
    let mut m = x.1.clone();
    let returned = L::apply(&mut m, w, op).map_err(|_| unexpected("in a mutator"))?;
    let xd = join(&x.1, &d)?;
    ensure!(
        m == xd,
        "delta-mutator law broken: m(x) != x ⊔ mδ(x) for {op:?} by {w:?}{}\n  mδ(x) = {d:?}\n  m(x) = {m:?}\n  x ⊔ mδ(x) = {xd:?}",
        show("x", x),
    );
    ensure!(
        returned == d,
        "the mutator returned another delta than the delta-mutator for {op:?} by {w:?}{}\n  mδ(x) = {d:?}\n  returned = {returned:?}",
        show("x", x),
    );
    ensure!(
        x.1.leq(&m),
        "a mutation shrank the state: not x ≤ m(x) for {op:?} by {w:?}{}\n  m(x) = {m:?}",
        show("x", x),
    );
    Ok(())
}

/// Law: `m(x) == x ⊔ mδ(x)` (and the mutator returns `mδ(x)`), for the operation of
/// every step of the history at the state it runs on, and for one operation of every
/// kind ([`LawSubject::every_kind`]) at every replica's final state and at some
/// deltas and intermediate states.
pub fn delta_mutator<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let n = usize::from(h.replicas);
        let mut sim = Sim::<L>::new(n);
        for (k, step) in h.steps.iter().enumerate() {
            if let Step::Op { op, jump, .. } = step {
                let at = sim.target(step);
                let w = sim.peek_writer(at, *jump);
                let x = (format!("r{at} before step {k}"), sim.replicas[at].clone());
                check_mutator::<L>(&x, w, op)?;
            }
            sim.step(step)
                .map_err(|_| unexpected(&format!("at step {k} ({step:?})")))?;
        }
        let mut rng = SplitMix::new(h.seed);
        let (a, b) = (rng.next_u64() as u8, rng.next_u64() as u8);
        let kinds = L::every_kind(a, b);
        for at in 0..n {
            let x = (format!("r{at} at the end"), sim.replicas[at].clone());
            for op in &kinds {
                check_mutator::<L>(&x, sim.peek_writer(at, 0), op)?;
            }
        }
        let rec = record::<L>(&h)?;
        for _ in 0..4 {
            let x = &rec.pool[rng.below(rec.pool.len())];
            let at = rng.below(n);
            for op in &kinds {
                check_mutator::<L>(x, rec.sim.peek_writer(at, 0), op)?;
            }
        }
        Ok(())
    })
}

/// Law: joining all deltas of the history, in a random order with random duplicates
/// (and again in random batches), gives the join of all replica states; so does a
/// full sync (each replica joining every other), and each replica joining all deltas.
/// Equal results also encode to equal bytes.
pub fn deltas_converge<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        let deltas = &rec.sim.deltas;
        let replicas = &rec.sim.replicas;
        let mut all = L::State::bottom();
        for r in replicas {
            all = join(&all, r)?;
        }
        let mut rng = SplitMix::new(h.seed);
        let mut order: Vec<usize> = (0..deltas.len()).collect();
        for i in 0..deltas.len() {
            if rng.below(3) == 0 {
                order.push(i);
            }
        }
        rng.shuffle(&mut order);

        let mut acc = L::State::bottom();
        for &i in &order {
            acc.join(&deltas[i])
                .map_err(|_| unexpected(&format!("joining delta d{i}")))?;
        }
        ensure!(
            acc == all,
            "the deltas joined in order {order:?} differ from the join of the replica states\n  deltas joined = {acc:?}\n  states joined = {all:?}\n  states = {replicas:?}\n  deltas = {deltas:?}"
        );
        ensure!(
            acc.to_vec() == all.to_vec(),
            "equal states encode differently:\n  {acc:?}\n  {:?}\n  {:?}",
            acc.to_vec(),
            all.to_vec()
        );

        // Batches: join runs of the order into batch deltas, then the batches backwards.
        let mut batches = Vec::new();
        let mut batch = L::State::bottom();
        for &i in &order {
            batch = join(&batch, &deltas[i])?;
            if rng.below(3) == 0 {
                batches.push(core::mem::take(&mut batch));
            }
        }
        batches.push(batch);
        let mut batched = L::State::bottom();
        for b in batches.iter().rev() {
            batched = join(&batched, b)?;
        }
        ensure!(
            batched == all,
            "the deltas joined in batches differ from the join of the replica states\n  batches = {batches:?}\n  batches joined = {batched:?}\n  states joined = {all:?}"
        );

        for i in 0..replicas.len() {
            let mut x = replicas[i].clone();
            for k in 1..replicas.len() {
                let j = (i + k) % replicas.len();
                x = join(&x, &replicas[j])?;
            }
            ensure!(
                x == all,
                "after a full sync, replica r{i} differs from the join of all states\n  r{i} = {x:?}\n  all = {all:?}\n  states = {replicas:?}"
            );
            let mut y = replicas[i].clone();
            for &d in order.iter().rev() {
                y = join(&y, &deltas[d])?;
            }
            ensure!(
                y == all,
                "replica r{i} joined with every delta differs from the join of all states\n  state = {:?}\n  after = {y:?}\n  all = {all:?}",
                replicas[i]
            );
        }
        Ok(())
    })
}

/// Law (what the sync engine relies on): for a replica state `x` and any value `d` of the
/// history, the novel part `n = x.novel_part(d)` has the effect of `d` (`x ⊔ n == x ⊔ d`),
/// is at most `d`, and is bottom when `d ≤ x` (redundancy removal leaves nothing of a
/// delta that brings nothing); and for replica states `x`, `y`, what `x` finds `y`
/// missing from `y`'s digest completes it (`y ⊔ x.missing_for(y.digest()) == x ⊔ y`).
pub fn reconcile_sound<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        let replica_states: Vec<usize> = rec.timelines.iter().flatten().copied().collect();
        for (i, j) in pairs(&rec, h.seed) {
            // `x` a replica state: pairs whose first value is not one are skipped.
            if !replica_states.contains(&i) {
                continue;
            }
            let (x, d) = (&rec.pool[i].1, &rec.pool[j].1);
            let n = x
                .novel_part(d)
                .map_err(|_| unexpected("computing a novel part"))?;
            let (with_n, with_d) = (join(x, &n)?, join(x, d)?);
            ensure!(
                with_n == with_d,
                "x ⊔ x.novel_part(d) != x ⊔ d{}{}\n  novel part = {n:?}\n  x ⊔ novel = {with_n:?}\n  x ⊔ d = {with_d:?}",
                show("x", &rec.pool[i]),
                show("d", &rec.pool[j]),
            );
            ensure!(
                n.leq(d),
                "the novel part is not at most d{}{}\n  novel part = {n:?}",
                show("x", &rec.pool[i]),
                show("d", &rec.pool[j]),
            );
            ensure!(
                !d.leq(x) || n.is_bottom(),
                "d ≤ x but its novel part is not bottom{}{}\n  novel part = {n:?}",
                show("x", &rec.pool[i]),
                show("d", &rec.pool[j]),
            );
        }
        let finals = rec.finals();
        for &i in &finals {
            for &j in &finals {
                let (x, y) = (&rec.pool[i].1, &rec.pool[j].1);
                let digest = y.digest().map_err(|_| unexpected("computing a digest"))?;
                let missing = x
                    .missing_for(&digest)
                    .map_err(|_| unexpected("computing a catch-up"))?;
                let (caught_up, all) = (join(y, &missing)?, join(x, y)?);
                ensure!(
                    caught_up == all,
                    "y ⊔ x.missing_for(y.digest()) != x ⊔ y{}{}\n  missing = {missing:?}\n  y ⊔ missing = {caught_up:?}\n  x ⊔ y = {all:?}",
                    show("x", &rec.pool[i]),
                    show("y", &rec.pool[j]),
                );
            }
        }
        Ok(())
    })
}

/// Law: `from_bytes(to_vec(x)) == x` for every state and delta of the history; the
/// encoding is as long as `encoded_len` says, `to_slice` writes the same bytes and
/// refuses a buffer one byte short.
pub fn codec_roundtrip<L: LawSubject>(h: History<L::Op>) -> TestResult {
    verdict(|| {
        let rec = record::<L>(&h)?;
        for entry in &rec.pool {
            let x = &entry.1;
            let bytes = x.to_vec();
            ensure!(
                bytes.len() == x.encoded_len(),
                "encoded_len() = {} but to_vec() is {} bytes{}",
                x.encoded_len(),
                bytes.len(),
                show("x", entry)
            );
            let decoded = L::State::from_bytes(&bytes, bytes.len());
            ensure!(
                decoded.as_ref() == Ok(x),
                "from_bytes(to_vec(x)) != x{}\n  bytes = {bytes:?}\n  decoded = {decoded:?}",
                show("x", entry)
            );
            let mut buf = vec![0u8; bytes.len()];
            let written = x.to_slice(&mut buf).map(|b| b.to_vec());
            ensure!(
                written.as_deref() == Ok(&bytes[..]),
                "to_slice differs from to_vec{}\n  to_vec = {bytes:?}\n  to_slice = {written:?}",
                show("x", entry)
            );
            let checksum = StateChecksum::of_encoded(&bytes);
            ensure!(
                checksum == Ok(StateChecksum::of(x)),
                "StateChecksum::of_encoded(to_vec(x)) = {checksum:?}, of(x) = {:?}{}",
                StateChecksum::of(x),
                show("x", entry)
            );
            let mut short = vec![0u8; bytes.len() - 1];
            let refused = x.to_slice(&mut short).map(|b| b.len());
            ensure!(
                refused == Err(EncodeError::BufferTooSmall),
                "to_slice into a buffer one byte short gave {refused:?}{}",
                show("x", entry)
            );
        }
        Ok(())
    })
}

/// Law: the same history run in two storage modes (`F` fixed, `G` growable) gives
/// byte-identical encodings of every replica state and every delta after every step.
/// A step on which `F` returns a capacity error is skipped in both modes (none should
/// occur at the law tests' capacities); `G` must never fail.
pub fn fixed_growable_agree<F, G>(h: History<F::Op>) -> TestResult
where
    F: LawSubject,
    G: LawSubject<Op = F::Op>,
{
    verdict(|| {
        let n = usize::from(h.replicas);
        let (mut fixed, mut growable) = (Sim::<F>::new(n), Sim::<G>::new(n));
        for (k, step) in h.steps.iter().enumerate() {
            let to = fixed.target(step);
            let before = fixed.replicas[to].clone();
            if fixed.step(step).is_err() {
                ensure!(
                    fixed.replicas[to] == before,
                    "a failed step {k} ({step:?}) changed the fixed state"
                );
                // Keep the clocks in step: the failed operation consumed a tick.
                growable.clocks = fixed.clocks.clone();
                continue;
            }
            growable
                .step(step)
                .map_err(|_| format!("growable storage returned CapacityError at step {k}"))?;
            let (fb, gb) = (fixed.replicas[to].to_vec(), growable.replicas[to].to_vec());
            ensure!(
                fb == gb,
                "after step {k} ({step:?}) r{to} encodes differently\n  fixed    = {:?}\n  growable = {:?}\n  fixed bytes    = {fb:?}\n  growable bytes = {gb:?}",
                fixed.replicas[to],
                growable.replicas[to]
            );
            ensure!(
                fixed.deltas.len() == growable.deltas.len(),
                "step {k} made a delta in one mode only"
            );
            if let (Some(fd), Some(gd)) = (fixed.deltas.last(), growable.deltas.last()) {
                let (fb, gb) = (fd.to_vec(), gd.to_vec());
                ensure!(
                    fb == gb,
                    "the delta of step {k} ({step:?}) encodes differently\n  fixed    = {fd:?}\n  growable = {gd:?}\n  fixed bytes    = {fb:?}\n  growable bytes = {gb:?}"
                );
            }
        }
        Ok(())
    })
}

/// Law (fixed storage, tiny capacity): an operation or join that returns
/// [`CapacityError`] leaves the state exactly as before (`==` and byte for byte).
/// Runs the whole history, checking every failing step; discards histories in which
/// no step failed (the runner requires enough non-discarded ones).
pub fn capacity_error_is_atomic<L: LawSubject>(h: History<L::Op>) -> TestResult {
    let mut failures = 0usize;
    let result = verdict(|| {
        let mut sim = Sim::<L>::new(usize::from(h.replicas));
        for (k, step) in h.steps.iter().enumerate() {
            let to = sim.target(step);
            let before = sim.replicas[to].clone();
            let before_bytes = before.to_vec();
            let deltas_before = sim.deltas.len();
            if sim.step(step).is_err() {
                failures += 1;
                let after = &sim.replicas[to];
                ensure!(
                    *after == before,
                    "step {k} ({step:?}) returned CapacityError but changed r{to}\n  before = {before:?}\n  after  = {after:?}"
                );
                let after_bytes = after.to_vec();
                ensure!(
                    after_bytes == before_bytes,
                    "step {k} ({step:?}) returned CapacityError and r{to} is == but encodes differently\n  before = {before_bytes:?}\n  after  = {after_bytes:?}"
                );
                ensure!(
                    sim.deltas.len() == deltas_before,
                    "a failed operation returned a delta"
                );
            }
        }
        Ok(())
    });
    if result.is_failure() || failures > 0 {
        result
    } else {
        TestResult::discard()
    }
}
