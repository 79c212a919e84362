//! Sync efficiency goals, asserted on byte counts and rounds of the deterministic
//! simulator (`starling_tests::efficiency`; `cargo xtask bench-sync` prints the full
//! tables into docs/benchmarks.md).
//!
//! Goals that are met are asserted as goals. One is not met (see docs/benchmarks.md for
//! why): partition recovery bytes (goal 1.5 x the raw floor + 64 bytes), short, long or
//! by symmetric digest exchange; the tests pin today's figures, so a regression fails.
//!
//! The default run takes about 15 s (opt-level 1).
//!
//! Environment: `STARLING_LONG=1` runs the gossip-spread goal over 200 seeds (the
//! default run checks 40).

use starling_core::{GCounter, GSet, Growable};
use starling_tests::efficiency::{
    EnesTopology, EnesWorkload, GMap, PartitionLength, Protocol, Transmission, enes_experiment,
    gossip_spread, partition_recovery, quantile,
};

const SEED: u64 = 1;

fn gset(topology: EnesTopology, protocol: Protocol) -> Transmission {
    enes_experiment::<GSet<u64, Growable>>(EnesWorkload::GSet, topology, protocol, SEED)
}

fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole as f64
}

/// Goal: Starling at or below BP+RR, i.e. GSet in the mesh under 1.8% of state-based.
#[test]
fn gset_mesh_under_1_8_percent_of_state_based() {
    let state = gset(EnesTopology::Mesh, Protocol::StateBased);
    let ours = gset(EnesTopology::Mesh, Protocol::Starling);
    let p = percent(ours.bytes, state.bytes);
    assert!(
        p < 1.8,
        "GSet mesh: Starling {} B = {p:.2}% of state-based {} B (goal < 1.8%)",
        ours.bytes,
        state.bytes
    );
}

/// Classic delta sync (no BP, no RR) in a mesh is no better than state-based (Enes et al.:
/// 57x BP+RR for GSet); Starling's node with both on is far below it.
#[test]
fn classic_delta_in_a_mesh_costs_as_much_as_state_based() {
    let state = gset(EnesTopology::Mesh, Protocol::StateBased);
    let classic = gset(EnesTopology::Mesh, Protocol::ClassicDelta);
    let ours = gset(EnesTopology::Mesh, Protocol::Starling);
    assert!(
        classic.bytes * 10 > state.bytes * 9,
        "classic delta {} B vs state-based {} B",
        classic.bytes,
        state.bytes
    );
    assert!(
        classic.bytes > 40 * ours.bytes,
        "classic delta {} B vs Starling {} B",
        classic.bytes,
        ours.bytes
    );
}

/// In a tree, BP alone removes the redundancy: GSet well under 1.8% too.
#[test]
fn gset_tree_under_1_8_percent_of_state_based() {
    let state = gset(EnesTopology::Tree, Protocol::StateBased);
    let ours = gset(EnesTopology::Tree, Protocol::Starling);
    let p = percent(ours.bytes, state.bytes);
    assert!(p < 1.8, "GSet tree: {p:.2}% of state-based (goal < 1.8%)");
}

/// Goal: GMap 10% in the mesh under 9.5% of state-based bytes.
#[test]
fn gmap_10_percent_mesh_under_9_5_percent_of_state_based() {
    let run = |protocol| {
        enes_experiment::<GMap>(EnesWorkload::GMap(10), EnesTopology::Mesh, protocol, SEED)
    };
    let state = run(Protocol::StateBased);
    let ours = run(Protocol::Starling);
    let p = percent(ours.bytes, state.bytes);
    assert!(
        p < 9.5,
        "GMap 10% mesh: Starling {} B = {p:.2}% of state-based {} B (goal < 9.5%)",
        ours.bytes,
        state.bytes
    );
}

/// Counters are tiny states: state-based sync is hard to beat (Enes et al.: 1.12x BP+RR).
/// Starling stays within 1.1x of state-based in the mesh and below it in the tree.
#[test]
fn gcounter_close_to_state_based() {
    for (topology, budget) in [(EnesTopology::Mesh, 110.0), (EnesTopology::Tree, 100.0)] {
        let run = |protocol| {
            enes_experiment::<GCounter<Growable>>(EnesWorkload::GCounter, topology, protocol, SEED)
        };
        let p = percent(
            run(Protocol::Starling).bytes,
            run(Protocol::StateBased).bytes,
        );
        assert!(p < budget, "GCounter {topology:?}: {p:.1}% of state-based");
    }
}

/// Partition recovery: one round trip at most, always. Bytes: goal 1.5x the raw floor
/// (8 bytes per new element each way) + 64, not met: a random u64 is a 9.6-byte varint on
/// average and its dot adds 3-4 bytes, about 13.5 bytes per element each way. Budget
/// pinned at 14 bytes per element each way + 64 (+ 320 for the digests of the long
/// partition, + 1% for the chunk headers and acknowledgements of transfers).
#[test]
fn partition_recovery_in_one_round_trip() {
    for length in [PartitionLength::Short, PartitionLength::Long] {
        for d in [10, 100, 1000] {
            let r = partition_recovery(d, length, SEED);
            assert!(
                r.round_trips <= 1.0,
                "{length:?} d={d}: {} round trips",
                r.round_trips
            );
            let digests = if length == PartitionLength::Long {
                320
            } else {
                0
            };
            // Plus 1% for transfer framing: chunk headers and acknowledgements.
            let budget = 28 * d as u64 + 64 + digests + 28 * d as u64 / 100;
            assert!(
                r.total() <= budget,
                "{length:?} d={d}: {} bytes (budget {budget}, goal {})",
                r.total(),
                r.floor() * 3 / 2 + 64
            );
        }
    }
}

/// Goal: N = 1000, fanout 1 push-pull: p99 of the rounds until every replica has an
/// update at most 10 (theory, Karp et al. 2000: log3 N + O(ln ln N), about 8).
#[test]
fn gossip_spread_p99_at_most_10_rounds() {
    let seeds = if std::env::var_os("STARLING_LONG").is_some() {
        200
    } else {
        40
    };
    let rounds: Vec<u32> = (0..seeds).map(|s| gossip_spread(1000, s)).collect();
    let (p50, p99) = (quantile(&rounds, 0.5), quantile(&rounds, 0.99));
    assert!(p99 <= 10, "p50 {p50}, p99 {p99} rounds over {seeds} seeds");
}

/// The symmetric digest exchange after a partition (`starling_tests::exchange`): each side
/// sends its digest and answers the other's, whichever order they cross in. Each catch-up
/// is exactly what the sender added while apart (the bytes of an oracle's), and the byte
/// counts are pinned, digests and frames included. On main at 35210d0 the catch-up to the
/// replica that wrote the shared elements was its whole state: 225,440 B for d = 10, and
/// at the node level it did not fit `MSG`, so the replicas never converged.
///
/// The goal (1.5 x floor + 64 = 304 / 2,464 / 24,064 B) is not met, with small ids or
/// random ones, and no reconciliation can meet it: the oracle's catch-ups alone are 274 /
/// 2,619 / 26,874 B with ids 1 and 2 (a random u64 is a 9.6-byte varint, its dot 3-4
/// bytes more) and 449 / 4,233 / 42,889 B with random 64-bit ids (a dot's replica id is a
/// 10-byte varint: issue 18's actor table is the remedy). See docs/benchmarks.md.
#[test]
fn symmetric_exchange_sends_only_what_is_missing() {
    use starling_tests::exchange::{Crossing, Ids, exchange, node_exchange};
    // (ids, d, digests + catch-ups, node bytes when the digests cross at once, node
    // bytes when one side answers first)
    let pinned = [
        (Ids::Small, 10, 326, 462, 525),
        (Ids::Small, 100, 2670, 2922, 2984),
        (Ids::Small, 1000, 26927, 28179, 28243),
        (Ids::Random, 10, 548, 732, 834),
        (Ids::Random, 100, 4333, 4665, 4768),
        (Ids::Random, 1000, 42989, 45603, 45706),
    ];
    let mut measured = Vec::new();
    for (ids, d, _, _, _) in pinned {
        let mut node_bytes = [0; 3];
        let mut total = 0;
        for (k, crossing) in [Crossing::Simultaneous, Crossing::AFirst, Crossing::BFirst]
            .into_iter()
            .enumerate()
        {
            let e = exchange(d, 0, ids, crossing, SEED);
            assert_eq!(e.catch_ups, e.news, "{ids:?} {crossing:?} d={d}: {e:?}");
            total = e.total();
            let r = node_exchange(d, ids, crossing, SEED);
            node_bytes[k] = r.total();
            let rounds = if crossing == Crossing::Simultaneous {
                1.0
            } else {
                1.5
            };
            assert!(r.round_trips <= rounds, "{ids:?} {crossing:?} d={d}: {r:?}");
        }
        assert_eq!(node_bytes[1], node_bytes[2], "{ids:?} d={d}: symmetric");
        measured.push((ids, d, total, node_bytes[0], node_bytes[1]));
    }
    assert_eq!(measured, pinned);
}

/// Removals before the partition do not make the exchange send more than what is new:
/// 3,000 of the 10,000 shared elements removed, the catch-ups are still the oracle's.
#[test]
fn symmetric_exchange_after_removals_sends_only_what_is_missing() {
    use starling_tests::exchange::{Crossing, Ids, exchange};
    for d in [10, 1000] {
        let e = exchange(d, 3000, Ids::Random, Crossing::Simultaneous, SEED);
        assert_eq!(e.catch_ups, e.news, "d={d}: {e:?}");
    }
}

/// A brand-new replica catching up to an `AwSet<u64>` of random elements over a link with
/// 5 ms latency (`starling_tests::catch_up`, the table of `cargo xtask bench-sync`): wire
/// bytes at most 1.10x the encoded state at 0% loss and 1.25x at 10% (issue 12's goals).
/// Byte counts pinned. On main at 35210d0 no document over 2,443 B ever arrived.
#[test]
fn new_replica_catch_up_costs_little_more_than_the_state() {
    use starling_tests::catch_up::new_replica_catch_up;
    let mut measured = Vec::new();
    for n in [1_000, 10_000] {
        for (loss, goal) in [(0.0, 1.10), (0.10, 1.25)] {
            let (c, _) = new_replica_catch_up(n, loss, 60_000, SEED);
            assert!(c.took_ms.is_some(), "{c:?}");
            assert!(c.ratio() <= goal, "{c:?}: {:.3}x", c.ratio());
            measured.push((n, c.state_bytes, c.wire_bytes));
        }
    }
    assert_eq!(
        measured,
        [
            (1_000, 21_357, 22_220),
            (1_000, 21_357, 26_358),
            (10_000, 214_886, 221_778),
            (10_000, 214_886, 249_537),
        ]
    );
}
