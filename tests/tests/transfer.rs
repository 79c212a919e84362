//! Regression tests of issue 12 ("documents larger than one message never sync"), each
//! with the defaults a user gets: `Node<T, A>` (so `MSG` = 2,048 and one transfer slot per
//! neighbour) and `Config::new(1200)`.
//!
//! Measured on main at 35210d0: a new replica caught up to 200 elements (1,957 B) in
//! 10 ms, but never to 250 (2,443 B) or more, with nothing but the sender's
//! `drops.oversized` growing; two halves partitioned for 5 s making 300 edits never
//! converged (10 of 310 elements arrived). Each case here failed there.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use starling_sync::{Config, Event};
use starling_tests::catch_up::{Link, Set, SetNode, new_replica_catch_up};

/// A brand-new replica catches up to a document of `n` random elements.
fn new_replica_catches_up(n: usize, loss: f64, limit_ms: u64) {
    let (c, link) = new_replica_catch_up(n, loss, limit_ms, 7);
    println!("{c:?}");
    assert!(
        c.took_ms.is_some(),
        "{n} elements ({} B) at {:.0}% loss: the new replica holds {} after {limit_ms} ms; \
         its metrics {:?}; events {:?}",
        c.state_bytes,
        loss * 100.0,
        link.nodes[1].state().len(),
        link.nodes[1].metrics(),
        link.events[1],
    );
    assert_eq!(link.nodes[1].state().len(), n);
    for events in &link.events {
        assert!(
            !events.iter().any(|e| matches!(
                e,
                Event::OutgoingRefused { .. } | Event::IncomingRefused { .. }
            )),
            "nothing is refused: {events:?}"
        );
    }
}

#[test]
fn a_new_replica_catches_up_to_250_elements() {
    new_replica_catches_up(250, 0.0, 10_000);
}

#[test]
fn a_new_replica_catches_up_to_10000_elements() {
    new_replica_catches_up(10_000, 0.0, 10_000);
}

#[test]
fn a_new_replica_catches_up_to_250_elements_at_10_percent_loss() {
    new_replica_catches_up(250, 0.10, 30_000);
}

#[test]
fn a_new_replica_catches_up_to_10000_elements_at_10_percent_loss() {
    new_replica_catches_up(10_000, 0.10, 60_000);
}

/// Two replicas apart for 5 s making 300 edits between them (more than one message of
/// deltas), then healed: they converge.
#[test]
fn a_partition_with_300_edits_converges() {
    let mut link = Link::new(Set::default(), Set::default(), Config::new(1200), 0.0, 11);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for k in 0..10 {
        let (i, id) = (k % 2, link.id(k % 2));
        let x = rng.next_u64();
        link.nodes[i].update(|s| s.add(id, x)).unwrap();
    }
    let synced = |nodes: &[SetNode; 2]| nodes[0].state() == nodes[1].state();
    assert!(link.run_until(5_000, synced).is_some(), "they meet first");
    link.cut = true;
    let start = link.now;
    for k in 0..300u64 {
        let at = start + k * 5_000 / 300;
        link.run_until(at, |_| false);
        let (i, id) = ((k % 2) as usize, link.id((k % 2) as usize));
        let x = rng.next_u64();
        link.nodes[i].update(|s| s.add(id, x)).unwrap();
    }
    link.run_until(start + 5_000, |_| false);
    link.cut = false;
    let heal = link.now;
    let took = link.run_until(heal + 30_000, synced);
    assert!(
        took.is_some(),
        "no convergence 30 s after the heal: {} and {} elements",
        link.nodes[0].state().len(),
        link.nodes[1].state().len()
    );
    assert_eq!(link.nodes[0].state().len(), 310);
}
