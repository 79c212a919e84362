//! `cargo xtask bench`, timing half: Starling, crdts 7.3 and Automerge on identical
//! seeded workloads, interleaved, printed as Markdown tables. Heap figures come from the
//! `heap` binary (a counting allocator would tax every allocation timed here).
//!
//! Options: `--reps N` (repetitions, default 7), `--only counter|set|registers|delta`.

use std::process::ExitCode;

use starling_bench::report::{
    Row, Samples, Table, Unit, cell, fmt_ratio, fmt_value, plain_table, thousands,
};
use starling_bench::{counter, delta_join, registers, set, timer_overhead_ns};

/// Seeds of the workloads (any fixed values do; these are arbitrary).
const COUNTER_SEED: u64 = 0xC0FF_EE01;
const SET_SEED: u64 = 0x5E7_5EED;
const REGISTER_SEED: u64 = 0x2E61_57E2;
const DELTA_SEED: u64 = 0xDE17A;

struct Options {
    reps: usize,
    only: Option<String>,
}

fn parse() -> Result<Options, String> {
    let mut opts = Options {
        reps: 7,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => {
                let n = args.next().ok_or("--reps needs a number")?;
                opts.reps = n.parse().map_err(|_| format!("bad --reps {n}"))?;
                if opts.reps == 0 {
                    return Err("--reps must be at least 1".into());
                }
            }
            "--only" => opts.only = Some(args.next().ok_or("--only needs a workload")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(opts)
}

/// One library's samples of one metric, for the three libraries.
type Three = [Samples; 3];

fn three() -> Three {
    [Samples::default(), Samples::default(), Samples::default()]
}

fn some(s: &Three) -> [Option<Samples>; 3] {
    [Some(s[0].clone()), Some(s[1].clone()), Some(s[2].clone())]
}

fn progress(what: &str, rep: usize, reps: usize) {
    eprintln!("  {what}: repetition {}/{reps}", rep + 1);
}

fn bench_counter(reps: usize, timer: f64) -> Table {
    let w = counter::Workload::generate(COUNTER_SEED);
    let (mut inc, mut merge, mut bytes) = (three(), three(), three());
    for rep in 0..reps {
        progress("counter", rep, reps);
        for k in 0..3 {
            let lib = (rep + k) % 3;
            let f = match lib {
                0 => counter::run::<counter::Starling>(&w, counter::INCREMENTS, timer),
                1 => counter::run::<counter::Crdts>(&w, counter::INCREMENTS, timer),
                _ => counter::run::<counter::Automerge>(&w, counter::AUTOMERGE_INCREMENTS, timer),
            };
            inc[lib].push(f.increment_ns);
            merge[lib].push(f.merge_ns);
            bytes[lib].push(f.encoded as f64);
        }
    }
    Table {
        title: format!(
            "Counter: {} replicas, {} increments at random replicas, then every state merged into one",
            counter::REPLICAS,
            thousands(counter::INCREMENTS as u64)
        ),
        rows: vec![
            Row::new("increment (Automerge†)", Unit::Nanos, some(&inc)),
            Row::new(
                format!("merge, one of {} (Automerge†)", counter::REPLICAS - 1),
                Unit::Nanos,
                some(&merge),
            ),
            Row::new(
                "encoded bytes, merged state (Automerge†)",
                Unit::Bytes,
                some(&bytes),
            ),
        ],
        notes: vec![format!(
            "Starling `GCounter<Growable>`; crdts `GCounter<u64>`; Automerge: a `Counter` under one root key, each increment its own change. Every library's merged value is checked against the number of increments it ran. † Automerge runs the first {} increments only: its increment and merge cost time in proportion to the increments the counter already holds (about 18 µs per increment with 1,000 in a document, 97 µs with 12,500), so the full workload would take about two minutes per repetition. Its figures are therefore lower bounds for the full workload, and the Starling / Automerge ratios upper bounds.",
            thousands(counter::AUTOMERGE_INCREMENTS as u64)
        )],
    }
}

struct SetResults {
    table: Table,
    delta_merge_ns: f64,
    crdts_merge_ns: f64,
}

fn bench_set(reps: usize, timer: f64) -> SetResults {
    let w = set::Workload::generate(SET_SEED);
    let (adds, removes, merges) = w.counts;
    let merge_lens: Vec<f64> = w
        .ops
        .iter()
        .filter_map(|op| match op {
            set::Op::Merge { len, .. } => Some(f64::from(*len)),
            _ => None,
        })
        .collect();
    let mean_len = merge_lens.iter().sum::<f64>() / merge_lens.len() as f64;
    let (mut add, mut remove, mut merge, mut bytes) = (three(), three(), three(), three());
    let mut delta_merge = Samples::default();
    let mut payload = (f64::NAN, f64::NAN);
    for rep in 0..reps {
        progress("observed-remove set", rep, reps);
        for k in 0..4 {
            match (rep + k) % 4 {
                0 => {
                    let f = set::run::<set::StarlingState>(&w, timer);
                    add[0].push(f.add_ns);
                    remove[0].push(f.remove_ns);
                    merge[0].push(f.merge_ns);
                    bytes[0].push(f.encoded as f64 / f.live as f64);
                }
                1 => {
                    let f = set::run::<set::StarlingDelta>(&w, timer);
                    delta_merge.push(f.merge_ns);
                    payload = f.merge_payload.unwrap_or(payload);
                }
                2 => {
                    let f = set::run::<set::Crdts>(&w, timer);
                    add[1].push(f.add_ns);
                    remove[1].push(f.remove_ns);
                    merge[1].push(f.merge_ns);
                    bytes[1].push(f.encoded as f64 / f.live as f64);
                }
                _ => {
                    let f = set::run::<set::Automerge>(&w, timer);
                    add[2].push(f.add_ns);
                    remove[2].push(f.remove_ns);
                    merge[2].push(f.merge_ns);
                    bytes[2].push(f.encoded as f64 / f.live as f64);
                }
            }
        }
    }
    let delta_row = Row::new(
        "merge: Starling delta-interval (others: their merge)",
        Unit::Nanos,
        [
            Some(delta_merge.clone()),
            Some(merge[1].clone()),
            Some(merge[2].clone()),
        ],
    );
    let (delta_merge_ns, crdts_merge_ns) = (delta_row.median(0), delta_row.median(1));
    let table = Table {
        title: format!(
            "Observed-remove set: {} replicas, {} operations on random u64 in 0..{} ({} adds, {} removes of present elements), {merges} merges (each replica merges a random other one every {} of its operations); {} elements at the end",
            set::REPLICAS,
            thousands(set::OPS as u64),
            thousands(set::UNIVERSE),
            thousands(adds as u64),
            thousands(removes as u64),
            set::MERGE_EVERY,
            thousands(w.expected.len() as u64)
        ),
        rows: vec![
            Row::new("add", Unit::Nanos, some(&add)),
            Row::new("remove", Unit::Nanos, some(&remove)),
            Row::new("merge: whole states", Unit::Nanos, some(&merge)),
            delta_row,
            Row::new(
                "encoded bytes per live element, merged state",
                Unit::Bytes,
                some(&bytes),
            ),
        ],
        notes: vec![
            "Starling `AwSet<u64, Growable>` (mutators `add`/`remove`, which return the delta); crdts `Orswot<u64, u64>` through read/add/remove contexts and `apply`; Automerge: the root map, one key per element, each add (`put`) and remove (`delete`) its own change; an add puts a value unique to it, since Automerge skips a put of the value a key already holds (a re-add would then lose to a concurrent remove). The element count is checked against the reference model after every merge, and the final set (every replica merged into one) element by element.".into(),
            format!(
                "*Delta-interval*: each Starling replica buffers the deltas of its operations and the new part of what it receives; a merge ships the join of the other replica's buffer since the previous merge between the two (without what came from the receiver: no back-propagation), and the receiver joins the part that is new to it (redundancy removal). The time covers building the interval, extracting its new part and joining it. These merges are rare for a pair of replicas (each replica merges one of 7 others every 100 of its operations), so an interval carries a large share of the state: {:.0} dots on average ({:.0} of them new to the receiver), while the receiver holds {:.0} elements on average. crdts merges consume the other state: its clone is made outside the timed section. Automerge merges exchange changes, i.e. are incremental already.",
                payload.0, payload.1, mean_len
            ),
        ],
    };
    SetResults {
        table,
        delta_merge_ns,
        crdts_merge_ns,
    }
}

fn bench_registers(reps: usize, timer: f64) -> Table {
    let w = registers::Workload::generate(REGISTER_SEED);
    let (writes, merges) = w.counts;
    let (mut mv_w, mut mv_m, mut mv_b) = (three(), three(), three());
    let (mut lww_w, mut lww_m, mut lww_b) = (three(), three(), three());
    let mv = &w.expected_mv;
    let lww = &[w.expected_lww][..];
    for rep in 0..reps {
        progress("registers", rep, reps);
        for k in 0..6 {
            let i = (rep + k) % 6;
            let f = match i {
                0 => registers::run::<registers::StarlingMv>(&w, mv, timer),
                1 => registers::run::<registers::CrdtsMv>(&w, mv, timer),
                2 => registers::run::<registers::Automerge<false>>(&w, mv, timer),
                3 => registers::run::<registers::StarlingLww>(&w, lww, timer),
                4 => registers::run::<registers::CrdtsLww>(&w, lww, timer),
                _ => registers::run::<registers::Automerge<true>>(&w, lww, timer),
            };
            let (wr, me, by) = if i < 3 {
                (&mut mv_w, &mut mv_m, &mut mv_b)
            } else {
                (&mut lww_w, &mut lww_m, &mut lww_b)
            };
            wr[i % 3].push(f.write_ns);
            me[i % 3].push(f.merge_ns);
            by[i % 3].push(f.encoded as f64);
        }
    }
    Table {
        title: format!(
            "Registers: {} replicas, {} writes at random replicas, {merges} merges (one every {} writes, random pair); {} concurrent values at the end",
            registers::REPLICAS,
            thousands(writes as u64),
            registers::MERGE_EVERY,
            w.expected_mv.len()
        ),
        rows: vec![
            Row::new("MvRegister: write", Unit::Nanos, some(&mv_w)),
            Row::new("MvRegister: merge", Unit::Nanos, some(&mv_m)),
            Row::new("MvRegister: encoded bytes, merged", Unit::Bytes, some(&mv_b)),
            Row::new("LwwRegister: write", Unit::Nanos, some(&lww_w)),
            Row::new("LwwRegister: merge", Unit::Nanos, some(&lww_m)),
            Row::new("LwwRegister: encoded bytes, merged", Unit::Bytes, some(&lww_b)),
        ],
        notes: vec![
            "Starling `MvRegister<u64, Growable>` and `LwwRegister<u64, u64>` stamped by a per-replica `LamportClock`; crdts `MVReg<u64, u64>` and `LWWReg<u64, (u64, u64)>` marked (Lamport time, replica); Automerge: one root key, each write its own change, read with `get_all` (multi-value) or `get` (winner). Final values are checked against a reference model (version vectors, Lamport stamps).".into(),
        ],
    }
}

struct DeltaResults {
    text: String,
    /// Median ns of a 1-element add-delta join into the 10k-element state.
    add_10k_ns: f64,
    /// Median ns of a 1-element remove-delta join into the 10k-element state.
    remove_10k_ns: f64,
}

fn bench_delta(reps: usize, timer: f64) -> DeltaResults {
    let mut rows = Vec::new();
    let (mut add_10k_ns, mut remove_10k_ns) = (f64::NAN, f64::NAN);
    for (i, &size) in delta_join::SIZES.iter().enumerate() {
        let fx = delta_join::Fixture::new(size, DELTA_SEED + i as u64);
        let (mut add, mut remove, mut full) =
            (Samples::default(), Samples::default(), Samples::default());
        for rep in 0..reps {
            progress(&format!("delta join, {size} elements"), rep, reps);
            let (a, r, f) = fx.run(timer);
            add.push(a);
            remove.push(r);
            full.push(f);
        }
        if size == 10_000 {
            add_10k_ns = add.median();
            remove_10k_ns = remove.median();
        }
        let (add_bytes, remove_bytes) = fx.delta_bytes();
        rows.push(vec![
            thousands(size as u64),
            cell(&add, Unit::Nanos),
            cell(&remove, Unit::Nanos),
            cell(&full, Unit::Nanos),
            format!("{add_bytes} / {remove_bytes}"),
        ]);
    }
    let text = plain_table(
        "Starling: joining a 1-element delta into a large state (`AwSet<u64, Growable>`)",
        &[
            "elements in the state",
            "join of an add delta",
            "join of a remove delta",
            "join of the whole other state (for scale)",
            "encoded bytes, add / remove delta",
        ],
        &rows,
        &[format!(
            "Per repetition {} add deltas and then {} remove deltas, made by a second replica holding the same state, are joined one by one; the result is checked against that replica's state. An add delta joins in time proportional to the delta. A remove delta carries no element, only the dots it removes (a dot-to-element index would double the memory per element), so the receiver finds them with one pass over its elements: proportional to the state.",
            thousands(delta_join::ADDS as u64),
            delta_join::REMOVES
        )],
    );
    DeltaResults {
        text,
        add_10k_ns,
        remove_10k_ns,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "rustc (unknown version)".into());
    format!("{cores} cores ({cpu}), {rustc}")
}

fn main() -> ExitCode {
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "error: {e}\nusage: starling-bench [--reps N] [--only counter|set|registers|delta]"
            );
            return ExitCode::from(2);
        }
    };
    let wants = |w: &str| opts.only.as_deref().is_none_or(|o| o == w);
    let timer = timer_overhead_ns();
    println!(
        "Machine: {}. {} repetitions, libraries interleaved; cells are median (min–max) over repetitions; per-operation times have the timer's own cost ({timer:.1} ns per timed section) subtracted.\n",
        machine(),
        opts.reps
    );
    let mut goals = Vec::new();
    if wants("counter") {
        println!("{}", bench_counter(opts.reps, timer).markdown());
    }
    let mut set_results = None;
    if wants("set") {
        let r = bench_set(opts.reps, timer);
        println!("{}", r.table.markdown());
        let row = |label: &str| r.table.rows.iter().find(|row| row.label == label).cloned();
        for (op, label) in [("add", "add"), ("remove", "remove")] {
            if let Some(row) = row(label) {
                let speedup = row.median(1) / row.median(0);
                goals.push(format!(
                    "- set {op} at least 4x faster than crdts: {speedup:.1}x — {}",
                    met(speedup >= 4.0)
                ));
            }
        }
        if let Some(row) = row("encoded bytes per live element, merged state") {
            let b = row.median(0);
            goals.push(format!(
                "- at most 12 encoded bytes per live element: {b:.2} — {}",
                met(b <= 12.0)
            ));
        }
        set_results = Some(r);
    }
    if wants("registers") {
        println!("{}", bench_registers(opts.reps, timer).markdown());
    }
    if wants("delta") {
        let d = bench_delta(opts.reps, timer);
        println!("{}", d.text);
        if let Some(s) = &set_results {
            let c = s.crdts_merge_ns;
            goals.push(format!(
                "- delta merge at least 100x faster than crdts' full merge ({}): delta-interval merge of the set workload {}x ({}) — {}; 1-element add delta into a 10k state {}x ({}) — {}; 1-element remove delta into a 10k state {}x ({}) — {}",
                fmt_value(c, Unit::Nanos),
                fmt_ratio(c, s.delta_merge_ns),
                fmt_value(s.delta_merge_ns, Unit::Nanos),
                met(c / s.delta_merge_ns >= 100.0),
                fmt_ratio(c, d.add_10k_ns),
                fmt_value(d.add_10k_ns, Unit::Nanos),
                met(c / d.add_10k_ns >= 100.0),
                fmt_ratio(c, d.remove_10k_ns),
                fmt_value(d.remove_10k_ns, Unit::Nanos),
                met(c / d.remove_10k_ns >= 100.0),
            ));
        }
    }
    if !goals.is_empty() {
        println!("#### Goals (timing and encoding; heap goals are checked by the `heap` binary)\n");
        for g in goals {
            println!("{g}");
        }
        println!();
    }
    ExitCode::SUCCESS
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}
