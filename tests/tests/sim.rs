//! Seeded simulations of `starling-sync`: many replicas, every fault, every CRDT type.
//!
//! Each run is fully determined by its seed (see [`Scenario::from_seed`]):
//!
//! * **Topology** (`seed % 4`): full mesh, partial mesh (each replica with `k` random
//!   neighbours plus a ring), binary tree, ring.
//! * **MTU** (`seed / 4 % 3`): 64, 244 or 1200 bytes, so messages travel as transfers
//!   of many chunks, some, or hardly any.
//! * **Storage and delta buffer** (`seed / 12 % 4`): growable storage with 2, 8 or 32
//!   buffered delta groups (2 coalesces all the time) and 2 to 12 replicas, or fixed
//!   storage with 8 groups and 2 to 8 replicas.
//! * **Faults, swarm-tested**: each fault kind is switched on or off per seed and, when
//!   on, gets a random intensity: frame loss (up to 40 %), duplication (up to 30 %),
//!   reordering (a latency spread of up to 20 sync intervals), partitions into 2–3
//!   groups that heal after up to three dead-peer timeouts, crashes with a random
//!   downtime (0 = immediate restart) and restart from the durable state.
//! * **Configuration**: random sync, heartbeat, failure-detection and retry timings,
//!   fanout, push-pull, and sometimes a per-peer byte budget.
//! * **Workload**: 10 to 128 random updates at random replicas. In one in eight growable
//!   runs at MTU 244 or 1200, one update in sixteen is a bulk insert of 1 to 10,000
//!   random `u64`s into a large set (log-uniform, weighted to small): documents,
//!   catch-ups and delta-intervals from one frame to hundreds of kilobytes, so transfers
//!   of hundreds to thousands of chunks meet every fault (the catch-ups of replicas back
//!   from a partition or a crash included). Heavier bulk (a quarter of the runs, one
//!   update in eight, up to 20,000 elements) also passes 2,048 seeds, in 89 s instead of
//!   29 s.
//!
//! The document is one value mixing every CRDT type of `starling-core` ([`Doc`]): GCounter,
//! PNCounter, GSet, TwoPSet, AwSet, RwSet, LwwRegister, MvRegister, EwFlag, DwFlag,
//! CausalCounter, an OrMap nested two levels (counters in maps in a map) and an OrMap of
//! LWW registers. Every random update touches one of them.
//!
//! Every run must pass the causal checker after every delivered frame; then, once the
//! faults stop, converge to the join of every update, drain its delta buffers, go quiet
//! (no digest, catch-up or interval for ten rounds), and never have dropped honest
//! traffic as a bad frame (see `starling_tests::netsim`).
//!
//! Two configuration rules keep the runs inside what the protocol promises (each found
//! by a failing seed, see the `Scenario` code):
//!
//! * once faults stop, reordering calms down to at most two sync intervals and retries
//!   wait at least a round trip. (Found with frame format 1, whose multi-fragment
//!   messages interleaved beyond what reassembly held when frames were reordered by many
//!   sync intervals for ever: `STARLING_SIM_REORDER_FOREVER=1` runs without this rule.)
//! * under a byte budget, failure detection allows for a heartbeat waiting behind a
//!   message to every other neighbour (a node sends one message at a time), or
//!   neighbours flap between dead and alive and re-request catch-ups for ever.
//!
//! # Running
//!
//! * `cargo test -p starling-tests --test sim`: 2,048 seeds (0..2,048) in 8 parallel
//!   tests, about 30 s on 2 cores.
//! * `STARLING_LONG=1 cargo test -p starling-tests --test sim`: 100,000 seeds
//!   (0..100,000), 12,500 per test: 17 minutes on 2 cores (1,002 s on 2026-12-08, with
//!   bulk documents). Opt-in.
//! * `STARLING_SIM_RUNS=n`: `n` seeds per test instead (8 tests).
//! * A failing run panics with its seed, its scenario and the command replaying it:
//!   `STARLING_SEED=1234 cargo test -p starling-tests --test sim replay -- --nocapture`
//!   (add `STARLING_TRACE=1` to print every frame, timer, crash and partition).
//! * `regressions` replays seeds that failed before a fix, two per bug.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use starling_core::{
    AwSet, CapacityError, CausalCounter, DwFlag, EwFlag, Fixed, GCounter, GSet, Growable,
    LwwRegister, MvRegister, OrMap, PNCounter, ReplicaId, RwSet, Storage, TwoPSet,
};
use starling_sync::{ByteBudget, Config};
use starling_tests::netsim::{
    Faults, MAX_UPDATES, RunReport, Simulation, Topology, Workload, add_metrics,
};

// ---- the document ---------------------------------------------------------------------

/// Counters in maps in a map: the two-level `OrMap`.
type Nested<S, SI> = OrMap<u8, OrMap<u8, PNCounter<SI>, SI>, S>;
/// LWW registers (Lamport-style `u64` stamps) in a map.
type LwwMap<S> = OrMap<u8, LwwRegister<u8, u64>, S>;

/// Every CRDT type of `starling-core` in one value. `S` holds the flat types and the
/// outer maps, `SI` the values of the nested map.
type Doc<S, SI> = (
    ((GCounter<S>, PNCounter<S>), (GSet<u8, S>, TwoPSet<u8, S>)),
    (
        (
            (AwSet<u8, S>, RwSet<u8, S>),
            (LwwRegister<u8, u64>, MvRegister<u8, S>),
        ),
        (
            (EwFlag<S>, DwFlag<S>),
            (CausalCounter<S>, (Nested<S, SI>, LwwMap<S>)),
        ),
    ),
);

/// Storage of the fixed-capacity runs: 16 elements, keys or cloud ranges, 8 replicas
/// (fixed runs have at most 8). Element domains are 8 wide, map keys 4.
type Fx = Fixed<16, 8>;
/// The nested map's inner maps: 4 keys (3 used).
type FxInner = Fixed<4, 8>;

type GrowableDoc = Doc<Growable, Growable>;
type FixedDoc = Doc<Fx, FxInner>;

/// A stamp for a new LWW write by a replica that sees `winner` as the current stamp:
/// above every stamp it has seen (so above its own earlier writes), and at least the
/// simulated time. Unique per replica, as the register requires.
fn lww_stamp(winner: Option<(u64, ReplicaId)>, now_ms: u64) -> u64 {
    winner.map_or(0, |(t, _)| t + 1).max(now_ms)
}

/// One random update of a [`Doc`] as `r`: the delta of the component it touches, with
/// every other component at bottom.
fn doc_update<S: Storage, SI: Storage>(
    doc: &mut Doc<S, SI>,
    r: ReplicaId,
    now: u64,
    rng: &mut ChaCha8Rng,
) -> Result<Doc<S, SI>, CapacityError> {
    let mut d = Doc::<S, SI>::default();
    let e = (rng.next_u32() % 8) as u8;
    let v = (rng.next_u32() % 4) as u8;
    let n = 1 + u64::from(rng.next_u32() % 3);
    let (k1, k2) = ((rng.next_u32() % 4) as u8, (rng.next_u32() % 3) as u8);
    let (counters, gsets) = (&mut doc.0.0, &mut doc.0.1);
    let (sets, registers) = (&mut doc.1.0.0, &mut doc.1.0.1);
    let (flags, causal_counter) = (&mut doc.1.1.0, &mut doc.1.1.1.0);
    let (nested, lww_map) = (&mut doc.1.1.1.1.0, &mut doc.1.1.1.1.1);
    match rng.next_u32() % 30 {
        0 => d.0.0.0 = counters.0.increment(r, n)?,
        1 => d.0.0.1 = counters.1.increment(r, n)?,
        2 => d.0.0.1 = counters.1.decrement(r, n)?,
        3 => d.0.1.0 = gsets.0.insert(e)?,
        4 => d.0.1.1 = gsets.1.insert(e)?,
        5 => d.0.1.1 = gsets.1.remove(e)?,
        6 | 7 => d.1.0.0.0 = sets.0.add(r, e)?,
        8 => d.1.0.0.0 = sets.0.remove(&e)?,
        9 => d.1.0.0.0 = sets.0.clear()?,
        10 => d.1.0.0.1 = sets.1.add(r, e)?,
        11 => d.1.0.0.1 = sets.1.remove(r, e)?,
        12 => {
            let t = lww_stamp(registers.0.stamp(), now);
            d.1.0.1.0 = registers.0.set(r, t, v);
        }
        13 => d.1.0.1.1 = registers.1.write(r, v)?,
        14 => d.1.0.1.1 = registers.1.clear()?,
        15 => d.1.1.0.0 = flags.0.enable(r)?,
        16 => d.1.1.0.0 = flags.0.disable()?,
        17 => d.1.1.0.1 = flags.1.enable(r)?,
        18 => d.1.1.0.1 = flags.1.disable(r)?,
        19 => d.1.1.1.0 = causal_counter.increment(r, n)?,
        20 => d.1.1.1.0 = causal_counter.decrement(r, n)?,
        21 => d.1.1.1.0 = causal_counter.reset()?,
        22 | 23 => {
            d.1.1.1.1.0 = nested.update(&k1, |inner, cx| {
                inner.update_delta(cx, &k2, |c, cx| {
                    if v == 0 {
                        c.decrement_delta(cx, r, n)
                    } else {
                        c.increment_delta(cx, r, n)
                    }
                })
            })?
        }
        24 => d.1.1.1.1.0 = nested.update(&k1, |inner, _| inner.remove_delta(&k2))?,
        25 => d.1.1.1.1.0 = nested.remove(&k1)?,
        26 => d.1.1.1.1.0 = nested.update(&k1, |inner, _| inner.clear_delta())?,
        27 => {
            d.1.1.1.1.1 = lww_map.update(&k1, |reg, cx| {
                reg.set_delta(cx, r, lww_stamp(reg.stamp(), now), v)
            })?
        }
        28 => d.1.1.1.1.1 = lww_map.remove(&k1)?,
        _ => {
            if rng.next_u32().is_multiple_of(4) {
                d.1.1.1.1.0 = nested.clear()?;
            } else {
                d.1.1.1.1.1 = lww_map.clear()?;
            }
        }
    }
    Ok(d)
}

/// The every-type workload in growable storage.
struct GrowableWorkload;
impl Workload for GrowableWorkload {
    type Doc = GrowableDoc;
    fn update(
        doc: &mut Self::Doc,
        replica: ReplicaId,
        now_ms: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self::Doc, CapacityError> {
        doc_update(doc, replica, now_ms, rng)
    }
}

/// The every-type document and a grow-only set of random `u64`s that bulk updates fill:
/// messages from one frame to hundreds of kilobytes.
type BulkDoc = (GrowableDoc, GSet<u64, Growable>);

/// Elements of one bulk insert: mostly up to 1,000 (about 10 KB of deltas), one in ten
/// up to 10,000 (about 100 KB), log-uniform, so runs see transfers of a few chunks to
/// hundreds (thousands at MTU 244).
fn bulk_size(rng: &mut ChaCha8Rng) -> u32 {
    let max: f64 = if rng.next_u32().is_multiple_of(10) {
        10_000.0
    } else {
        1_000.0
    };
    let u = f64::from(rng.next_u32()) / f64::from(u32::MAX);
    max.powf(u).round().max(1.0) as u32
}

/// The every-type workload with bulk inserts (one update in sixteen) into a large set.
struct BulkWorkload;
impl Workload for BulkWorkload {
    type Doc = BulkDoc;
    fn update(
        doc: &mut Self::Doc,
        replica: ReplicaId,
        now_ms: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self::Doc, CapacityError> {
        if !rng.next_u32().is_multiple_of(16) {
            return Ok((
                doc_update(&mut doc.0, replica, now_ms, rng)?,
                GSet::default(),
            ));
        }
        let mut delta = GSet::default();
        for _ in 0..bulk_size(rng) {
            let x = rng.next_u64();
            doc.1.insert(x)?;
            delta.insert(x)?;
        }
        Ok((GrowableDoc::default(), delta))
    }
}

/// The every-type workload in fixed storage.
struct FixedWorkload;
impl Workload for FixedWorkload {
    type Doc = FixedDoc;
    fn update(
        doc: &mut Self::Doc,
        replica: ReplicaId,
        now_ms: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self::Doc, CapacityError> {
        doc_update(doc, replica, now_ms, rng)
    }
}

// ---- scenarios ------------------------------------------------------------------------

/// Storage mode and delta-buffer capacity of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Growable storage, this many delta groups.
    Growable(usize),
    /// Fixed storage ([`FixedDoc`]), 8 delta groups.
    Fixed,
}

/// Everything a seed decides.
#[derive(Clone, Debug)]
struct Scenario {
    seed: u64,
    replicas: usize,
    topology: Topology,
    mode: Mode,
    config: Config,
    faults: Faults,
    /// Bulk inserts into a large set ([`BulkWorkload`]): documents, catch-ups and
    /// delta-intervals of many frames.
    bulk: bool,
    updates: u32,
    step_ms: u64,
    settle_ms: u64,
}

impl Scenario {
    fn from_seed(seed: u64) -> Self {
        // Categorical choices cycle with the seed, so every range of 48 seeds covers
        // every topology x MTU x mode; the rest is swarm-random.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5157_4d5f_5354_524c);
        let mut between = |lo: u64, hi: u64| lo + rng.next_u64() % (hi - lo + 1);
        let mode = match seed / 12 % 4 {
            0 => Mode::Growable(8),
            1 => Mode::Growable(2),
            2 => Mode::Growable(32),
            _ => Mode::Fixed,
        };
        let replicas = match mode {
            Mode::Fixed => between(2, 8),
            Mode::Growable(_) => between(2, 12),
        } as usize;
        let topology = match seed % 4 {
            0 => Topology::FullMesh,
            1 => Topology::PartialMesh(between(2, 4) as usize),
            2 => Topology::Tree,
            _ => Topology::Ring,
        };
        let mtu = [64, 244, 1200][(seed / 4 % 3) as usize];

        let mut config = Config::new(mtu);
        let sync = between(20, 200);
        config.sync_interval_ms = sync;
        config.heartbeat_interval_ms = sync * between(1, 4);
        config.suspect_after_ms = config.heartbeat_interval_ms * between(2, 4);
        config.dead_after_ms = config.suspect_after_ms * between(2, 4);
        config.fanout = if between(0, 9) < 6 {
            0
        } else {
            between(1, 3) as usize
        };
        config.push_pull = between(0, 9) < 3;
        config.budget = (between(0, 19) < 3).then(|| ByteBudget {
            bytes_per_second: (mtu as u64 * between(20, 100)) as u32,
            burst_bytes: (mtu as u64 * between(1, 4)) as u32,
        });
        if let Some(budget) = config.budget {
            // A node sends one message at a time, so under a budget a heartbeat can wait
            // behind a message to every other neighbour: failure detection must allow
            // for that (a message here is at most ~600 bytes), or neighbours flap
            // between dead and alive and re-request catch-ups for ever.
            let worst = 2 * (replicas as u64 - 1) * 600 * 1000 / u64::from(budget.bytes_per_second);
            if config.suspect_after_ms < worst {
                let factor = config.dead_after_ms / config.suspect_after_ms;
                config.suspect_after_ms = worst;
                config.dead_after_ms = worst * factor;
            }
        }

        // Swarm testing: each fault kind on (with a random intensity) or off.
        let mut on = |p: u64| between(0, 99) < p;
        let (loss_on, dup_on, reorder_on, part_on, crash_on) =
            (on(65), on(50), on(65), on(50), on(50));
        let dead = config.dead_after_ms;
        let lo = between(1, 20);
        let spread = if reorder_on {
            between(sync / 2, sync * 20)
        } else {
            between(0, 5)
        };
        // Once faults stop, reordering calms down to at most two sync intervals, and
        // retries wait at least a round trip. (Persistent reordering over many sync
        // intervals at MTU 64 interleaves one sender's successive messages beyond what
        // reassembly holds: see the module docs and `STARLING_SIM_REORDER_FOREVER`.)
        let settled_spread = spread.min(between(0, 2 * sync));
        let forever = reorder_forever();
        let settled_latency_ms = if forever {
            (lo, lo + spread)
        } else {
            (lo, lo + settled_spread)
        };
        let rtt = 2 * settled_latency_ms.1;
        config.retry_base_ms = if forever {
            between(10, 200)
        } else {
            between(10, 200).max(rtt)
        };
        config.retry_max_ms = config.retry_base_ms << between(2, 6);
        let faults = Faults {
            loss: if loss_on {
                between(1, 40) as f64 / 100.0
            } else {
                0.0
            },
            duplicate: if dup_on {
                between(1, 30) as f64 / 100.0
            } else {
                0.0
            },
            latency_ms: (lo, lo + spread),
            settled_latency_ms,
            partition: if part_on {
                between(2, 15) as f64 / 100.0
            } else {
                0.0
            },
            partition_ms: (sync, dead * 3),
            crash: if crash_on {
                between(1, 8) as f64 / 100.0
            } else {
                0.0
            },
            downtime_ms: if between(0, 2) == 0 {
                (0, 0)
            } else {
                (0, dead * 2)
            },
        };
        // Large documents in one in eight growable runs whose frames are not tiny (at
        // MTU 64 a 100 KB transfer is 4,000 chunks: too slow for the default run).
        let bulk = matches!(mode, Mode::Growable(_)) && mtu >= 244 && between(0, 7) == 0;
        let updates = between(10, u64::from(MAX_UPDATES)) as u32;
        let step_ms = between(5, 100);
        // Enough for the slowest legitimate recovery: a dead peer's probes backing off to
        // `retry_max_ms`, a budget draining a full catch-up, a long chain of catch-ups.
        let settle_ms = 120_000 + 20 * (config.retry_max_ms + dead);
        Scenario {
            seed,
            replicas,
            topology,
            mode,
            config,
            faults,
            bulk,
            updates,
            step_ms,
            settle_ms,
        }
    }

    fn run(&self, trace: bool) -> Result<RunReport, String> {
        match self.mode {
            Mode::Growable(2) if self.bulk => self.run_with::<BulkWorkload, 2>(trace),
            Mode::Growable(8) if self.bulk => self.run_with::<BulkWorkload, 8>(trace),
            Mode::Growable(_) if self.bulk => self.run_with::<BulkWorkload, 32>(trace),
            Mode::Growable(2) => self.run_with::<GrowableWorkload, 2>(trace),
            Mode::Growable(8) => self.run_with::<GrowableWorkload, 8>(trace),
            Mode::Growable(_) => self.run_with::<GrowableWorkload, 32>(trace),
            Mode::Fixed => self.run_with::<FixedWorkload, 8>(trace),
        }
    }

    fn run_with<W: Workload, const D: usize>(&self, trace: bool) -> Result<RunReport, String> {
        let mut sim = Simulation::<W, D>::new(
            self.seed,
            self.replicas,
            self.topology,
            self.faults,
            self.config,
        );
        sim.trace = trace;
        sim.run_scenario(self.updates, self.step_ms, self.settle_ms)
    }
}

/// The command that replays `seed`.
fn replay_command(seed: u64) -> String {
    let forever = if reorder_forever() {
        "STARLING_SIM_REORDER_FOREVER=1 "
    } else {
        ""
    };
    format!(
        "{forever}STARLING_SEED={seed} cargo test -p starling-tests --test sim replay -- --nocapture"
    )
}

fn reorder_forever() -> bool {
    std::env::var("STARLING_SIM_REORDER_FOREVER").is_ok_and(|v| v.trim() == "1")
}

/// Runs `seed` on a thread with a big stack (fixed-capacity nodes are large), turning a
/// panic into an error.
fn run_seed(seed: u64, trace: bool) -> Result<RunReport, String> {
    let handle = std::thread::Builder::new()
        .name(format!("sim-{seed}"))
        .stack_size(64 << 20)
        .spawn(move || {
            let scenario = Scenario::from_seed(seed);
            match catch_unwind(AssertUnwindSafe(|| scenario.run(trace))) {
                Ok(result) => result,
                Err(panic) => Err(format!(
                    "panicked: {}",
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                )),
            }
        })
        .expect("spawning a simulation thread");
    handle
        .join()
        .unwrap_or_else(|_| Err("simulation thread died".into()))
}

/// Panics with every failing seed, its scenario, its error and its replay command.
fn check_seeds(seeds: impl Iterator<Item = u64>) -> RunReport {
    let mut failures = Vec::new();
    let mut total = RunReport::default();
    let mut runs = 0u64;
    for seed in seeds {
        runs += 1;
        match run_seed(seed, false) {
            Ok(r) => {
                total.converge_ms = total.converge_ms.max(r.converge_ms);
                total.state_bytes = total.state_bytes.max(r.state_bytes);
                total.drain_ms = total.drain_ms.max(r.drain_ms);
                total.bytes_sent += r.bytes_sent;
                total.frames_sent += r.frames_sent;
                total.frames_lost += r.frames_lost;
                total.frames_duplicated += r.frames_duplicated;
                total.updates += r.updates;
                total.crashes += r.crashes;
                total.partitions += r.partitions;
                total.metrics = add_metrics(total.metrics, r.metrics);
            }
            Err(e) => failures.push((seed, e)),
        }
    }
    if let Some((seed, error)) = failures.first() {
        let list: Vec<String> = failures.iter().map(|(s, _)| s.to_string()).collect();
        panic!(
            "{} of {runs} simulation runs failed (seeds {}).\n\
             First failure: seed {seed}, {:?}\n{error}\n\
             Replay it with:\n    {}\n",
            failures.len(),
            list.join(", "),
            Scenario::from_seed(*seed),
            replay_command(*seed),
        );
    }
    total
}

fn long() -> bool {
    std::env::var("STARLING_LONG").is_ok_and(|v| v.trim() == "1")
}

/// Seeds per test: 256 by default (2,048 in all), 12,500 with `STARLING_LONG=1` (100,000).
fn seeds_per_test() -> u64 {
    if let Some(n) = std::env::var("STARLING_SIM_RUNS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return n;
    }
    if long() { 12_500 } else { 256 }
}

/// Runs test `k`'s share of seeds and checks that the swarm exercised every fault and
/// every protocol path that faults provoke.
fn sim_share(k: u64) {
    let n = seeds_per_test();
    let total = check_seeds(k * n..(k + 1) * n);
    println!("seeds {}..{}: {total:?}", k * n, (k + 1) * n);
    if n >= 48 {
        let m = total.metrics;
        let covered = [
            ("frames lost", total.frames_lost),
            ("frames duplicated", total.frames_duplicated),
            ("crashes", u64::from(total.crashes)),
            ("partitions", u64::from(total.partitions)),
            ("catch-ups", m.catchups_received),
            ("coalesced delta groups", m.coalesced),
            ("duplicate drops", m.drops.duplicate),
            ("gap drops", m.drops.gap),
            ("replayed drops", m.drops.replayed),
        ];
        for (what, count) in covered {
            assert!(count > 0, "no {what} in seeds {}..{}", k * n, (k + 1) * n);
        }
    }
}

#[test]
fn sim_seeds_0() {
    sim_share(0);
}
#[test]
fn sim_seeds_1() {
    sim_share(1);
}
#[test]
fn sim_seeds_2() {
    sim_share(2);
}
#[test]
fn sim_seeds_3() {
    sim_share(3);
}
#[test]
fn sim_seeds_4() {
    sim_share(4);
}
#[test]
fn sim_seeds_5() {
    sim_share(5);
}
#[test]
fn sim_seeds_6() {
    sim_share(6);
}
#[test]
fn sim_seeds_7() {
    sim_share(7);
}

/// Replays `STARLING_SEED` (printing its scenario and report; with `STARLING_TRACE=1`
/// every frame too). Does nothing without `STARLING_SEED`.
#[test]
fn replay() {
    let Some(seed) = std::env::var("STARLING_SEED")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        println!("set STARLING_SEED=<seed> to replay a simulation run");
        return;
    };
    let trace = std::env::var("STARLING_TRACE").is_ok_and(|v| v.trim() == "1");
    let scenario = Scenario::from_seed(seed);
    println!("seed {seed}: {scenario:#?}");
    match run_seed(seed, trace) {
        Ok(report) => println!("seed {seed} passed: {report:#?}"),
        Err(e) => panic!("seed {seed} failed: {e}\nreplay: {}", replay_command(seed)),
    }
}

/// Seeds that failed before a fix in `starling-sync`, two per bug (with the scenario
/// generator above: seeds are only meaningful with it).
#[test]
fn regressions() {
    let seeds: &[u64] = &[
        // A peer's frame acking our previous incarnation (it had not yet heard of our
        // restart) was dropped as malformed: an ack beyond our sequence numbers.
        2, 10,
        // A delayed frame of an older incarnation, arriving after a newer one's, retired
        // the newer one for good (incarnations are unordered): its frames were dropped as
        // replays for ever.
        8, 21,
        // `poll_timeout` kept returning the past under a byte budget: a heartbeat already
        // owed, or a peer's budget, while the message being sent waited for another's.
        24, 27,
        // A pull with nothing to send left "deltas owed" set for ever: the budget timer
        // for it was always in the past.
        47, 70,
        // Two peers each reset the other's ack with their digests and probed for it with
        // digests: a digest ping-pong that never ended.
        98, 147,
        // When our buffer no longer reached back to a peer's ack mark, we sent it a digest
        // with a new nonce (refusing the catch-ups already on their way), and did so
        // every sync round, as its stale acks kept coming: a digest storm that kept a
        // node which could not keep up from ever reassembling anything.
        926, 1562, 16464, 80256,
        // Two reassembly slots for more concurrent senders: least-recently-used eviction
        // starved them all.
        135, 288,
        // More fragmented messages in flight than reassembly slots (MTU 64, full mesh of
        // 10, every neighbour sending a digest and a delta-interval each round, fragments
        // interleaved): each new message evicted another's partial, none completed, the
        // buffers never drained. Found by the 100,000-seed run (one seed).
        84732,
        // Frame format v2, bulk documents: a transfer's loss was inferred from send order,
        // so chunks sent together and reordered by the link (6 to 71 ms) were presumed
        // lost: 254,685 chunks sent for 87,813 B of state, 70% duplicates, 5 minutes of
        // CPU for one run. By send time (RACK): 9,233 chunks, 1.5 s.
        1972,
        // A configured neighbour not heard from yet has no id to address a transfer to:
        // a digest larger than a frame deadlocked first contact (MTU 64).
        264, 516,
    ];
    check_seeds(seeds.iter().copied());
}

/// The smoke scenario of the first simulator: 6 replicas, no faults, then loss,
/// duplicates, crashes and partitions on a partial mesh.
#[test]
fn smoke() {
    let mut config = Config::new(1200);
    config.sync_interval_ms = 100;
    let mut sim =
        Simulation::<GrowableWorkload, 16>::new(1, 6, Topology::FullMesh, Faults::NONE, config);
    let report = sim.run_scenario(40, 50, 60_000).expect("no faults");
    assert_eq!(report.updates, 40);
    let faults = Faults {
        loss: 0.2,
        duplicate: 0.1,
        latency_ms: (5, 80),
        settled_latency_ms: (5, 20),
        partition: 0.05,
        partition_ms: (100, 2_000),
        crash: 0.05,
        downtime_ms: (0, 1_000),
    };
    for seed in 0..10 {
        let mut sim = Simulation::<GrowableWorkload, 16>::new(
            seed,
            6,
            Topology::PartialMesh(3),
            faults,
            config,
        );
        if let Err(e) = sim.run_scenario(40, 50, 120_000) {
            panic!("smoke seed {seed}: {e}");
        }
    }
}
