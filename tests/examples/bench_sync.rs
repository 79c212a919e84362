//! `cargo xtask bench-sync`: sync efficiency in the deterministic simulator, printed as
//! Markdown tables (the experiment of Enes et al. ICDE 2019, partition recovery, a new
//! replica catching up vs document size, gossip spread). See `starling_tests::efficiency` and docs/benchmarks.md.
//!
//! Options: `--seeds N` (gossip spread runs, default 200), `--replicas N` (default 1000).

use std::time::Instant;

use starling_core::{GCounter, GSet, Growable};
use starling_tests::catch_up::new_replica_catch_up;
use starling_tests::efficiency::{
    EnesTopology, EnesWorkload, GMap, PartitionLength, Protocol, Transmission, enes_experiment,
    gossip_spread, partition_recovery, quantile,
};
use starling_tests::exchange::{Crossing, Ids, exchange, node_exchange};

const SEED: u64 = 1;

fn run(workload: EnesWorkload, topology: EnesTopology, protocol: Protocol) -> Transmission {
    match workload {
        EnesWorkload::GSet => {
            enes_experiment::<GSet<u64, Growable>>(workload, topology, protocol, SEED)
        }
        EnesWorkload::GCounter => {
            enes_experiment::<GCounter<Growable>>(workload, topology, protocol, SEED)
        }
        EnesWorkload::GMap(_) => enes_experiment::<GMap>(workload, topology, protocol, SEED),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let seeds = option("--seeds", 200);
    let replicas = option("--replicas", 1000);
    let started = Instant::now();

    println!("## Sync efficiency: the experiment of Enes et al. (ICDE 2019)\n");
    println!(
        "15 replicas, 100 updates each (one per second), sync every second, 10 ms links, MTU 1200;\n\
         bytes from the start until every replica holds every update. Ratios: bytes over Starling's.\n"
    );
    println!(
        "| workload | topology | state-based bytes | classic delta bytes | Starling bytes | Starling / state-based | state-based / Starling | classic / Starling |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let workloads = [
        EnesWorkload::GSet,
        EnesWorkload::GCounter,
        EnesWorkload::GMap(10),
        EnesWorkload::GMap(30),
        EnesWorkload::GMap(60),
        EnesWorkload::GMap(100),
    ];
    for topology in [EnesTopology::Mesh, EnesTopology::Tree] {
        for workload in workloads {
            let state = run(workload, topology, Protocol::StateBased);
            let classic = run(workload, topology, Protocol::ClassicDelta);
            let ours = run(workload, topology, Protocol::Starling);
            println!(
                "| {} | {} | {} | {} | {} | {:.2}% | {:.2}x | {:.2}x |",
                workload.label(),
                match topology {
                    EnesTopology::Mesh => "mesh (4-regular)",
                    EnesTopology::Tree => "tree",
                },
                state.bytes,
                classic.bytes,
                ours.bytes,
                100.0 * ours.bytes as f64 / state.bytes as f64,
                state.bytes as f64 / ours.bytes as f64,
                classic.bytes as f64 / ours.bytes as f64,
            );
        }
    }

    println!("\n## Partition recovery\n");
    println!(
        "Two replicas share a 10,000-element AwSet<u64> of random values; each adds d while\n\
         partitioned. Bytes from the heal until both hold the union; goal <= 1.5 x floor + 64.\n"
    );
    println!(
        "| partition | d | A -> B bytes | B -> A bytes | total | floor (8 B/elem each way) | goal | round trips |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for length in [PartitionLength::Short, PartitionLength::Long] {
        for d in [10, 100, 1000] {
            let r = partition_recovery(d, length, SEED);
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                match length {
                    PartitionLength::Short => "short (deltas buffered)",
                    PartitionLength::Long => "long (digest + catch-up)",
                },
                d,
                r.bytes_a_to_b,
                r.bytes_b_to_a,
                r.total(),
                r.floor(),
                r.floor() * 3 / 2 + 64,
                r.round_trips
            );
        }
    }

    println!("\n### Partition recovery by symmetric digest exchange\n");
    println!(
        "The same sets (10,000 shared elements written by A), each side adding d while apart;\n\
         then both send their digest at once and answer the other's (one round trip).\n\
         Digests and catch-ups as postcard payloads (no frames); oracle: the encoded news of\n\
         both sides. Goal <= 1.5 x floor + 64. Node: two `Node`s started with these states,\n\
         every wire byte (frames, chunks, acknowledgements) until both hold the union.\n"
    );
    println!(
        "| ids | d | digests | catch-ups | total | oracle catch-ups | floor | goal | node, at once | node, one first |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ids in [Ids::Small, Ids::Random] {
        for d in [10, 100, 1_000, 10_000, 100_000] {
            let e = exchange(d, 0, ids, Crossing::Simultaneous, SEED);
            let node = |c| node_exchange(d, ids, c, SEED).total().to_string();
            println!(
                "| {} | {d} | {} | {} | {} | {} | {} | {} | {} | {} |",
                match ids {
                    Ids::Small => "1, 2",
                    Ids::Random => "random 64-bit",
                },
                e.digests[0] + e.digests[1],
                e.catch_ups[0] + e.catch_ups[1],
                e.total(),
                e.news[0] + e.news[1],
                e.floor(),
                e.goal(),
                node(Crossing::Simultaneous),
                node(Crossing::AFirst),
            );
        }
    }

    println!("\n## New replica catching up vs document size\n");
    println!(
        "A brand-new replica meets one holding an `AwSet<u64>` of random elements written by it, over a link\n\
         with 5 ms latency each way that drops the given share of frames (each way). Default `Node` and\n\
         `Config::new(1200)`, random 64-bit replica ids; `max_message_bytes` raised to 64 MiB for the\n\
         1M-element document (21 MB). Wire bytes: both directions, every frame (digests, chunks,\n\
         acknowledgements). Goals: at most 1.10x the encoded state at 0% loss, 1.25x at 10%.\n"
    );
    println!(
        "| elements | encoded state | loss | wire bytes | wire / state | frames | round trips | simulated time |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        for loss in [0.0, 0.10, 0.30] {
            let (c, _) = new_replica_catch_up(n, loss, 600_000, SEED);
            println!(
                "| {n} | {} | {:.0}% | {} | {:.3}x | {} | {} | {} |",
                c.state_bytes,
                loss * 100.0,
                c.wire_bytes,
                c.ratio(),
                c.frames,
                c.round_trips()
                    .map_or("did not finish".into(), |r| format!("{r:.1}")),
                c.took_ms.map_or("-".into(), |t| format!("{t} ms")),
            );
        }
    }

    println!("\n## Gossip spread\n");
    let rounds: Vec<u32> = (0..seeds as u64)
        .map(|s| gossip_spread(replicas, s))
        .collect();
    println!(
        "{replicas} replicas, each with a random view of 16 neighbours, fanout 1 push-pull, one update\n\
         at one replica; sync intervals until all have it, over {seeds} seeds. Theory (complete graph,\n\
         synchronous rounds): log3 N + O(ln ln N), about 8.\n"
    );
    println!("| replicas | seeds | p50 rounds | p99 rounds | max |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {replicas} | {seeds} | {} | {} | {} |",
        quantile(&rounds, 0.5),
        quantile(&rounds, 0.99),
        quantile(&rounds, 1.0)
    );
    eprintln!(
        "\n(bench-sync took {:.1} s)",
        started.elapsed().as_secs_f64()
    );
}
