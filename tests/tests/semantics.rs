//! Semantic tests: what each CRDT does when concurrent or sequential events meet, in
//! every storage mode (`Fixed<16, 8>`, `Growable`, `Compact`), the capacity errors of
//! fixed storage, and golden bytes pinning the wire format.
//!
//! Test names read as `<type>_<state/event>_<outcome>`; a test generic over the storage
//! mode runs once per mode as `<name>::fixed`, `<name>::growable` and `<name>::compact`.

use std::fmt::Debug;

use starling_core::{
    AwSet, CapacityError, CausalContext, CausalCounter, CausalOrder, Dot, Dots, DwFlag, EwFlag,
    Fixed, GCounter, GSet, Growable, HlcTimestamp, HybridClock, LamportClock, Lattice, LwwRegister,
    MvRegister, OrMap, PNCounter, Reconcile, ReplicaId, RwSet, Storage, TwoPSet, VersionVector,
    WireFormat,
};

const A: ReplicaId = ReplicaId(1);
const B: ReplicaId = ReplicaId(2);
const C: ReplicaId = ReplicaId(3);

/// The fixed storage used by the semantic tests.
type F = Fixed<16, 8>;

/// Runs each generic test `fn name<S: Storage>()` once per storage mode (fixed, growable,
/// compact).
macro_rules! both_modes {
    ($($(#[$attr:meta])* $name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            $(#[$attr])*
            fn fixed() {
                super::$name::<super::F>();
            }
            #[test]
            $(#[$attr])*
            fn growable() {
                super::$name::<starling_core::Growable>();
            }
            #[test]
            $(#[$attr])*
            fn compact() {
                super::$name::<starling_core::Compact>();
            }
        }
    )+};
}

/// Exchanges whole states both ways and checks that the two replicas converged.
fn sync<T: Lattice>(x: &mut T, y: &mut T) {
    let (x0, y0) = (x.clone(), y.clone());
    x.join(&y0).expect("join fits");
    y.join(&x0).expect("join fits");
    assert_eq!(x, y, "replicas did not converge");
}

/// Joins `deltas` into a fresh state in the given order.
fn fold<T: Lattice>(deltas: &[&T]) -> T {
    let mut out = T::default();
    for d in deltas {
        out.join(d).expect("join fits");
    }
    out
}

fn sorted<T: Clone + Ord>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = it.collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// AwSet: add wins
// ---------------------------------------------------------------------------------------

both_modes!(
    aw_set_concurrent_add_remove_keeps_add,
    aw_set_remove_of_seen_add_removes_everywhere,
    aw_set_readd_after_remove_is_present,
    aw_set_clear_removes_seen_elements_keeps_concurrent_add,
    aw_set_remove_keeps_unseen_concurrent_add_of_same_element,
);

fn aw_set_concurrent_add_remove_keeps_add<S: Storage>() {
    let mut x = AwSet::<u64, S>::default();
    let add1 = x.add(A, 7).unwrap();
    let mut y = x.clone();
    let rm = x.remove(&7).unwrap();
    assert!(!x.contains(&7));
    let add2 = y.add(B, 7).unwrap();

    // Deltas exchanged.
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.join(&add2).unwrap();
    y2.join(&rm).unwrap();
    assert_eq!(x2, y2);
    assert!(x2.contains(&7), "the concurrent add must win");
    assert_eq!(x2.len(), 1);

    // Whole states exchanged.
    sync(&mut x, &mut y);
    assert!(x.contains(&7));
    assert_eq!(x, x2);

    // A third replica receiving only the deltas, in either order.
    let z1 = fold(&[&add1, &rm, &add2]);
    let z2 = fold(&[&add2, &rm, &add1]);
    assert!(z1.contains(&7) && z2.contains(&7));
    assert_eq!(z1, z2);
    assert_eq!(z1, x);
}

fn aw_set_remove_of_seen_add_removes_everywhere<S: Storage>() {
    let mut x = AwSet::<u64, S>::default();
    let add = x.add(A, 7).unwrap();
    x.add(A, 8).unwrap();
    let mut y = x.clone();
    let rm = y.remove(&7).unwrap();
    assert!(!y.contains(&7) && y.contains(&8));
    x.join(&rm).unwrap();
    assert!(!x.contains(&7), "a remove deletes the adds it has seen");
    assert_eq!(x, y);
    // Receiving the remove before the add it removed: the add stays removed.
    let z = fold(&[&rm, &add]);
    assert!(!z.contains(&7));
    // Removing an absent element is the bottom delta.
    assert!(x.remove(&99).unwrap().is_bottom());
}

fn aw_set_readd_after_remove_is_present<S: Storage>() {
    let mut x = AwSet::<u64, S>::default();
    let add1 = x.add(A, 7).unwrap();
    let rm = x.remove(&7).unwrap();
    assert!(!x.contains(&7));
    let add2 = x.add(A, 7).unwrap();
    assert!(x.contains(&7));
    for order in [
        [&add1, &rm, &add2],
        [&add2, &rm, &add1],
        [&rm, &add2, &add1],
    ] {
        let z = fold(&order);
        assert!(z.contains(&7), "re-add lost in order {order:?}");
        assert_eq!(z, x);
    }
    // Re-added at another replica after it saw the remove.
    let mut y = fold(&[&add1, &rm]);
    assert!(!y.contains(&7));
    y.add(B, 7).unwrap();
    assert!(y.contains(&7));
    sync(&mut x, &mut y);
    assert!(x.contains(&7));
}

fn aw_set_clear_removes_seen_elements_keeps_concurrent_add<S: Storage>() {
    let mut x = AwSet::<u64, S>::default();
    for e in [1, 2, 3] {
        x.add(A, e).unwrap();
    }
    let mut y = x.clone();
    let clear = x.clear().unwrap();
    assert!(x.is_empty());
    assert_eq!(x.len(), 0);
    let add = y.add(B, 4).unwrap();
    y.join(&clear).unwrap();
    x.join(&add).unwrap();
    assert_eq!(x, y);
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [4]);
}

fn aw_set_remove_keeps_unseen_concurrent_add_of_same_element<S: Storage>() {
    // A and B add 7 concurrently; A removes it having seen only its own add.
    let mut x = AwSet::<u64, S>::default();
    let mut y = AwSet::<u64, S>::default();
    x.add(A, 7).unwrap();
    y.add(B, 7).unwrap();
    let rm = x.remove(&7).unwrap();
    assert!(!x.contains(&7));
    y.join(&rm).unwrap();
    assert!(y.contains(&7), "B's add was not seen by the remove");
    sync(&mut x, &mut y);
    assert!(x.contains(&7));
    // Once both adds are seen, one remove deletes the element everywhere.
    let rm = x.remove(&7).unwrap();
    y.join(&rm).unwrap();
    assert!(!x.contains(&7) && !y.contains(&7));
    assert_eq!(x, y);
}

// ---------------------------------------------------------------------------------------
// RwSet: remove wins
// ---------------------------------------------------------------------------------------

both_modes!(
    rw_set_concurrent_add_remove_removes,
    rw_set_readd_after_remove_is_present,
    rw_set_concurrent_adds_present,
);

fn rw_set_concurrent_add_remove_removes<S: Storage>() {
    let mut x = RwSet::<u64, S>::default();
    let add1 = x.add(A, 7).unwrap();
    let mut y = x.clone();
    let rm = x.remove(A, 7).unwrap();
    let add2 = y.add(B, 7).unwrap();
    assert!(!x.contains(&7) && y.contains(&7));
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.join(&add2).unwrap();
    y2.join(&rm).unwrap();
    assert_eq!(x2, y2);
    assert!(!x2.contains(&7), "the concurrent remove must win");
    assert!(x2.is_empty());
    assert_eq!(x2.len(), 0);
    sync(&mut x, &mut y);
    assert_eq!(x, x2);
    let z = fold(&[&add2, &rm, &add1]);
    assert_eq!(z, x);
    // A later add (having seen the remove) brings it back.
    x.add(A, 7).unwrap();
    assert!(x.contains(&7));
}

fn rw_set_readd_after_remove_is_present<S: Storage>() {
    let mut x = RwSet::<u64, S>::default();
    let add1 = x.add(A, 7).unwrap();
    let rm = x.remove(A, 7).unwrap();
    assert!(!x.contains(&7));
    let add2 = x.add(A, 7).unwrap();
    assert!(x.contains(&7));
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [7]);
    for order in [
        [&add1, &rm, &add2],
        [&add2, &rm, &add1],
        [&rm, &add1, &add2],
    ] {
        let z = fold(&order);
        assert!(z.contains(&7), "re-add lost in order {order:?}");
        assert_eq!(z, x);
    }
}

fn rw_set_concurrent_adds_present<S: Storage>() {
    let mut x = RwSet::<u64, S>::default();
    let mut y = RwSet::<u64, S>::default();
    x.add(A, 1).unwrap();
    y.add(B, 1).unwrap();
    y.add(B, 2).unwrap();
    sync(&mut x, &mut y);
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(x.len(), 2);
}

// ---------------------------------------------------------------------------------------
// MvRegister
// ---------------------------------------------------------------------------------------

both_modes!(
    mv_register_concurrent_writes_kept_until_later_write,
    mv_register_clear_removes_seen_values,
);

fn mv_register_concurrent_writes_kept_until_later_write<S: Storage>() {
    let mut x = MvRegister::<u64, S>::default();
    let mut y = MvRegister::<u64, S>::default();
    let mut z = MvRegister::<u64, S>::default();
    assert_eq!(x.values().count(), 0);
    assert!(!x.is_conflicted());
    x.write(A, 10).unwrap();
    x.write(A, 11).unwrap(); // overwrites A's own 10
    y.write(B, 20).unwrap();
    z.write(C, 30).unwrap();
    sync(&mut x, &mut y);
    sync(&mut y, &mut z);
    sync(&mut x, &mut z);
    assert_eq!(sorted(x.values().copied()), [11, 20, 30]);
    assert!(x.is_conflicted());
    assert_eq!(
        x.values_by_replica()
            .map(|(r, v)| (r, *v))
            .collect::<Vec<_>>(),
        [(A, 11), (B, 20), (C, 30)]
    );

    // A later write (having seen all three) replaces them all, everywhere.
    let w = y.write(B, 40).unwrap();
    assert_eq!(y.values().copied().collect::<Vec<_>>(), [40]);
    assert!(!y.is_conflicted());
    x.join(&w).unwrap();
    z.join(&w).unwrap();
    assert_eq!(x, y);
    assert_eq!(z, y);
    assert_eq!(x.values().copied().collect::<Vec<_>>(), [40]);

    // Two writes concurrent with each other after that: both kept again.
    let wa = x.write(A, 50).unwrap();
    let wc = z.write(C, 60).unwrap();
    y.join(&wc).unwrap();
    y.join(&wa).unwrap();
    assert_eq!(sorted(y.values().copied()), [50, 60]);
}

fn mv_register_clear_removes_seen_values<S: Storage>() {
    let mut x = MvRegister::<u64, S>::default();
    let mut y = MvRegister::<u64, S>::default();
    x.write(A, 1).unwrap();
    sync(&mut x, &mut y);
    let clear = x.clear().unwrap();
    assert_eq!(x.values().count(), 0);
    let w = y.write(B, 2).unwrap(); // concurrent with the clear
    x.join(&w).unwrap();
    y.join(&clear).unwrap();
    assert_eq!(x, y);
    assert_eq!(x.values().copied().collect::<Vec<_>>(), [2]);
}

// ---------------------------------------------------------------------------------------
// LwwRegister and its OrMap form (LwwStore)
// ---------------------------------------------------------------------------------------

#[test]
fn lww_register_later_hlc_timestamp_wins() {
    let (mut clock_a, mut clock_b) = (HybridClock::new(), HybridClock::new());
    let mut x: LwwRegister<u64> = LwwRegister::default();
    let mut y = x.clone();
    assert_eq!(x.value(), None);
    let ta = clock_a.now(2_000);
    let tb = clock_b.now(1_000); // B's write is earlier in wall time
    let da = x.set(A, ta, 1);
    let db = y.set(B, tb, 2);
    sync(&mut x, &mut y);
    assert_eq!(
        x.value(),
        Some(&1),
        "the greater timestamp wins, not the greater id"
    );
    assert_eq!(x.stamp(), Some((ta, A)));
    // Delta order does not matter.
    assert_eq!(fold(&[&da, &db]), x);
    assert_eq!(fold(&[&db, &da]), x);
    // B writes again later (its HLC observed A's stamp): B wins.
    let tb2 = clock_b.observe(ta, 1_001);
    assert!(tb2 > ta);
    let db2 = y.set(B, tb2, 3);
    x.join(&db2).unwrap();
    assert_eq!(x.value(), Some(&3));
    assert_eq!(x, y);
}

#[test]
fn lww_register_equal_timestamps_broken_by_replica_id() {
    let t = HlcTimestamp::new(5_000, 3);
    let mut x: LwwRegister<u64> = LwwRegister::default();
    let mut y = x.clone();
    let da = x.set(A, t, 1);
    let dc = y.set(C, t, 3);
    sync(&mut x, &mut y);
    assert_eq!(
        x.value(),
        Some(&3),
        "same timestamp: greater replica id wins"
    );
    assert_eq!(x.stamp(), Some((t, C)));
    assert_eq!(fold(&[&da, &dc]), fold(&[&dc, &da]));
    // The same with Lamport times as the timestamp type.
    let mut p: LwwRegister<&str, u64> = LwwRegister::default();
    p.set(C, 9, "c");
    p.set(B, 9, "b");
    assert_eq!(p.value(), Some(&"c"));
    p.set(B, 10, "b2");
    assert_eq!(p.value(), Some(&"b2"));
}

#[test]
fn lww_register_stale_set_loses_but_returns_its_delta() {
    let mut x: LwwRegister<u64> = LwwRegister::default();
    x.set(A, HlcTimestamp::new(2_000, 0), 1);
    let stale = x.set(B, HlcTimestamp::new(1_000, 0), 2);
    assert_eq!(x.value(), Some(&1));
    assert_eq!(stale.value(), Some(&2));
    assert!(stale.leq(&x));
    assert!(!x.leq(&stale));
}

both_modes!(
    lww_store_causally_later_write_replaces,
    lww_store_concurrent_writes_resolved_by_stamp,
);

fn lww_store_causally_later_write_replaces<S: Storage>() {
    type M<S> = OrMap<u16, LwwRegister<u64>, S>;
    let (mut clock_a, mut clock_b) = (HybridClock::new(), HybridClock::new());
    let mut x = M::<S>::default();
    let ta = clock_a.now(10_000);
    let d1 = x
        .update(&1, |reg, cx| reg.set_delta(cx, A, ta, 100))
        .unwrap();
    let mut y = M::<S>::default();
    y.join(&d1).unwrap();
    let tb = clock_b.observe(ta, 9_000); // B's wall clock lags, the HLC does not
    assert!(tb > ta);
    let d2 = y
        .update(&1, |reg, cx| reg.set_delta(cx, B, tb, 200))
        .unwrap();
    x.join(&d2).unwrap();
    assert_eq!(x, y);
    let reg = x.get(&1).unwrap();
    assert_eq!(reg.value(), Some(&200));
    assert_eq!(reg.stamp(), Some((tb, B)));
    // The write replaced what it had seen: no stale entry lingers in the store.
    assert_eq!(fold(&[&d1, &d2]), x);
    assert_eq!(fold(&[&d2, &d1]), x);
    assert!(d1.leq(&x) && d2.leq(&x));

    // Documented semantics of the map form: a write replaces every write it has seen,
    // even one carrying a greater stamp (here B's clock did not observe A's stamp).
    let mut p = M::<S>::default();
    let big = HlcTimestamp::new(50_000, 0);
    let small = HlcTimestamp::new(1, 0);
    let e1 = p
        .update(&2, |reg, cx| reg.set_delta(cx, A, big, 1))
        .unwrap();
    let mut q = M::<S>::default();
    q.join(&e1).unwrap();
    let e2 = q
        .update(&2, |reg, cx| reg.set_delta(cx, B, small, 2))
        .unwrap();
    p.join(&e2).unwrap();
    assert_eq!(p.get(&2).and_then(|r| r.value()), Some(&2));
    assert_eq!(p, q);
}

fn lww_store_concurrent_writes_resolved_by_stamp<S: Storage>() {
    type M<S> = OrMap<u16, LwwRegister<u64>, S>;
    let mut x = M::<S>::default();
    let mut y = M::<S>::default();
    let (t_early, t_late) = (HlcTimestamp::new(100, 0), HlcTimestamp::new(200, 0));
    // B (greater id) writes the earlier stamp; A writes the later one: A wins.
    x.update(&7, |reg, cx| reg.set_delta(cx, A, t_late, 1))
        .unwrap();
    y.update(&7, |reg, cx| reg.set_delta(cx, B, t_early, 2))
        .unwrap();
    sync(&mut x, &mut y);
    assert_eq!(x.get(&7).and_then(|r| r.value()), Some(&1));
    assert_eq!(x.get(&7).and_then(|r| r.stamp()), Some((t_late, A)));
    // Equal stamps: the greater replica id wins.
    let mut u = M::<S>::default();
    let mut v = M::<S>::default();
    u.update(&7, |reg, cx| reg.set_delta(cx, A, t_early, 1))
        .unwrap();
    v.update(&7, |reg, cx| reg.set_delta(cx, C, t_early, 3))
        .unwrap();
    sync(&mut u, &mut v);
    assert_eq!(u.get(&7).and_then(|r| r.value()), Some(&3));
    // A write after seeing both leaves one live entry.
    let w = u
        .update(&7, |reg, cx| reg.set_delta(cx, B, t_late, 9))
        .unwrap();
    v.join(&w).unwrap();
    assert_eq!(v.get(&7).and_then(|r| r.value()), Some(&9));
    assert_eq!(u, v);
}

// ---------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------

both_modes!(
    ew_flag_concurrent_enable_disable_is_enabled,
    ew_flag_disable_after_enable_is_disabled,
    dw_flag_concurrent_enable_disable_is_disabled,
    dw_flag_enable_after_disable_is_enabled,
);

fn ew_flag_concurrent_enable_disable_is_enabled<S: Storage>() {
    let mut x = EwFlag::<S>::default();
    assert!(!x.value());
    x.enable(A).unwrap();
    let mut y = x.clone();
    let off = x.disable().unwrap();
    assert!(!x.value());
    let on = y.enable(B).unwrap();
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.join(&on).unwrap();
    y2.join(&off).unwrap();
    assert_eq!(x2, y2);
    assert!(x2.value(), "the concurrent enable must win");
    sync(&mut x, &mut y);
    assert!(x.value());
}

fn ew_flag_disable_after_enable_is_disabled<S: Storage>() {
    let mut x = EwFlag::<S>::default();
    let mut y = EwFlag::<S>::default();
    x.enable(A).unwrap();
    y.enable(B).unwrap();
    sync(&mut x, &mut y);
    let off = x.disable().unwrap();
    y.join(&off).unwrap();
    assert!(!x.value() && !y.value());
    assert_eq!(x, y);
}

fn dw_flag_concurrent_enable_disable_is_disabled<S: Storage>() {
    let mut x = DwFlag::<S>::default();
    assert!(!x.value());
    x.enable(A).unwrap();
    assert!(x.value());
    let mut y = x.clone();
    let off = x.disable(A).unwrap();
    let on = y.enable(B).unwrap();
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.join(&on).unwrap();
    y2.join(&off).unwrap();
    assert_eq!(x2, y2);
    assert!(!x2.value(), "the concurrent disable must win");
    sync(&mut x, &mut y);
    assert!(!x.value());
}

fn dw_flag_enable_after_disable_is_enabled<S: Storage>() {
    let mut x = DwFlag::<S>::default();
    let mut y = DwFlag::<S>::default();
    x.disable(A).unwrap();
    y.disable(B).unwrap();
    sync(&mut x, &mut y);
    assert!(!x.value());
    let on = y.enable(B).unwrap();
    x.join(&on).unwrap();
    assert!(x.value() && y.value());
    assert_eq!(x, y);
}

// ---------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------

both_modes!(
    g_counter_sums_replicas_and_join_is_idempotent,
    g_counter_saturates_at_u64_max,
    pn_counter_sums_increments_and_decrements,
    pn_counter_saturates_to_i64_range,
    causal_counter_reset_with_concurrent_increment_keeps_increment,
    causal_counter_reset_concurrent_increment_keeps_the_incrementers_total,
);

fn g_counter_sums_replicas_and_join_is_idempotent<S: Storage>() {
    let mut x = GCounter::<S>::default();
    let mut y = GCounter::<S>::default();
    assert_eq!(x.value(), 0);
    x.increment(A, 2).unwrap();
    let d = x.increment(A, 3).unwrap();
    assert_eq!(d.get(A), 5, "a delta carries the replica's running total");
    y.increment(B, 10).unwrap();
    sync(&mut x, &mut y);
    assert_eq!(x.value(), 15);
    assert_eq!(x.get(A), 5);
    assert_eq!(x.get(B), 10);
    assert_eq!(x.get(C), 0);
    assert_eq!(x.iter().collect::<Vec<_>>(), [(A, 5), (B, 10)]);
    // Duplicated and stale deltas change nothing.
    x.join(&d).unwrap();
    x.join(&d).unwrap();
    assert_eq!(x.value(), 15);
    // Incrementing by zero is the bottom.
    assert!(x.increment(C, 0).unwrap().is_bottom());
    assert_eq!(x.value(), 15);
}

fn g_counter_saturates_at_u64_max<S: Storage>() {
    let mut x = GCounter::<S>::default();
    x.increment(A, u64::MAX - 1).unwrap();
    x.increment(A, 5).unwrap();
    assert_eq!(x.get(A), u64::MAX);
    x.increment(B, 7).unwrap();
    assert_eq!(x.value(), u64::MAX, "the sum saturates");
}

fn pn_counter_sums_increments_and_decrements<S: Storage>() {
    let mut x = PNCounter::<S>::default();
    let mut y = PNCounter::<S>::default();
    x.increment(A, 5).unwrap();
    x.decrement(A, 2).unwrap();
    y.decrement(B, 10).unwrap();
    y.increment(B, 1).unwrap();
    sync(&mut x, &mut y);
    assert_eq!(x.value(), 5 - 2 - 10 + 1);
    assert_eq!(x.increments().value(), 6);
    assert_eq!(x.decrements().value(), 12);
}

fn pn_counter_saturates_to_i64_range<S: Storage>() {
    let mut x = PNCounter::<S>::default();
    x.increment(A, u64::MAX).unwrap();
    assert_eq!(x.value(), i64::MAX);
    x.decrement(B, 1).unwrap();
    assert_eq!(x.value(), i64::MAX);
    let mut y = PNCounter::<S>::default();
    y.decrement(A, u64::MAX).unwrap();
    y.decrement(B, u64::MAX).unwrap();
    assert_eq!(y.value(), i64::MIN);
    // u64::MAX up and u64::MAX down: exactly zero, no wrap-around.
    y.increment(C, u64::MAX).unwrap();
    y.decrement(C, 0).unwrap();
    let mut z = PNCounter::<S>::default();
    z.increment(A, u64::MAX).unwrap();
    z.decrement(B, u64::MAX).unwrap();
    assert_eq!(z.value(), 0);
}

fn causal_counter_reset_with_concurrent_increment_keeps_increment<S: Storage>() {
    let mut x = CausalCounter::<S>::default();
    x.increment(A, 3).unwrap();
    x.decrement(A, 1).unwrap();
    assert_eq!(x.value(), 2);
    let mut y = x.clone();
    let reset = x.reset().unwrap();
    assert_eq!(x.value(), 0);
    let inc = y.increment(B, 5).unwrap(); // concurrent with the reset
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.join(&inc).unwrap();
    y2.join(&reset).unwrap();
    assert_eq!(x2, y2);
    assert_eq!(x2.value(), 5, "the concurrent increment survives the reset");
    sync(&mut x, &mut y);
    assert_eq!(x.value(), 5);
    // A reset that has seen everything zeroes it everywhere.
    let reset = x.reset().unwrap();
    y.join(&reset).unwrap();
    assert_eq!(y.value(), 0);
    assert!(y.store().is_bottom());
}

/// Documented semantics (`OrMap` and the catalogue in lib.rs): a reset removes the
/// increments it has seen; a concurrent increment keeps "just what the remover had not
/// seen". Here the concurrent increment comes from a replica whose earlier increments the
/// reset did see.
/// The documented semantics: a reset removes the per-replica totals it has seen; a replica
/// that increments concurrently carries its whole running total (5 + 1) in its new dot,
/// so that total survives the reset.
fn causal_counter_reset_concurrent_increment_keeps_the_incrementers_total<S: Storage>() {
    let mut x = CausalCounter::<S>::default();
    let mut y = CausalCounter::<S>::default();
    y.increment(B, 5).unwrap();
    sync(&mut x, &mut y);
    assert_eq!(x.value(), 5);
    let reset = x.reset().unwrap(); // has seen B's 5
    let inc = y.increment(B, 1).unwrap(); // concurrent with the reset
    x.join(&inc).unwrap();
    y.join(&reset).unwrap();
    assert_eq!(x, y);
    assert_eq!(
        x.value(),
        6,
        "the concurrent incrementer's running total survives the reset"
    );
    // Once the incrementer has seen the reset, its next increment starts from zero.
    let mut z = y.clone();
    z.reset().unwrap();
    z.increment(B, 2).unwrap();
    assert_eq!(z.value(), 2);
}

// ---------------------------------------------------------------------------------------
// GSet and TwoPSet
// ---------------------------------------------------------------------------------------

both_modes!(
    g_set_join_is_union,
    two_p_set_removed_element_never_comes_back
);

fn g_set_join_is_union<S: Storage>() {
    let mut x = GSet::<u64, S>::default();
    let mut y = GSet::<u64, S>::default();
    x.insert(3).unwrap();
    x.insert(1).unwrap();
    let d = y.insert(2).unwrap();
    y.insert(3).unwrap();
    sync(&mut x, &mut y);
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(x.len(), 3);
    assert!(x.contains(&2) && !x.contains(&4));
    x.join(&d).unwrap();
    assert_eq!(x.len(), 3);
}

fn two_p_set_removed_element_never_comes_back<S: Storage>() {
    let mut x = TwoPSet::<u64, S>::default();
    let add = x.insert(1).unwrap();
    x.insert(2).unwrap();
    let rm = x.remove(1).unwrap();
    assert!(!x.contains(&1) && x.contains(&2));
    // Re-adding locally does not bring it back.
    x.insert(1).unwrap();
    assert!(!x.contains(&1));
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [2]);
    assert_eq!(x.removed().copied().collect::<Vec<_>>(), [1]);
    // Nor at a replica that re-adds it after or concurrently with the remove.
    let mut y = TwoPSet::<u64, S>::default();
    y.join(&add).unwrap();
    y.insert(1).unwrap();
    assert!(y.contains(&1));
    y.join(&rm).unwrap();
    assert!(!y.contains(&1));
    // Removing before ever adding forbids the element for good, too.
    let mut z = TwoPSet::<u64, S>::default();
    z.remove(5).unwrap();
    z.insert(5).unwrap();
    assert!(!z.contains(&5));
    assert!(z.is_empty());
    assert_eq!(z.len(), 0);
    sync(&mut x, &mut z);
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [2]);
}

// ---------------------------------------------------------------------------------------
// OrMap
// ---------------------------------------------------------------------------------------

both_modes!(
    or_map_concurrent_update_and_remove_keeps_update,
    or_map_remove_then_readd_key,
    or_map_clear_keeps_concurrent_update,
    or_map_sensor_to_last_reading,
    or_map_name_to_set,
    or_map_name_to_counter,
    or_map_nested_two_levels,
);

fn or_map_concurrent_update_and_remove_keeps_update<S: Storage>() {
    type M<S> = OrMap<u16, AwSet<u64, S>, S>;
    let mut x = M::<S>::default();
    x.update(&1, |set, cx| set.add_delta(cx, A, 10)).unwrap();
    let mut y = x.clone();
    let rm = x.remove(&1).unwrap();
    assert!(!x.contains_key(&1));
    let up = y.update(&1, |set, cx| set.add_delta(cx, B, 20)).unwrap();
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.join(&up).unwrap();
    y2.join(&rm).unwrap();
    assert_eq!(x2, y2);
    assert!(
        x2.contains_key(&1),
        "the concurrent update survives the remove"
    );
    // The key holds just what the remover had not seen.
    let set = x2.get(&1).unwrap();
    assert_eq!(set.iter().copied().collect::<Vec<_>>(), [20]);
    sync(&mut x, &mut y);
    assert_eq!(x, x2);

    // A remove that has seen the update removes the key everywhere.
    let rm = x.remove(&1).unwrap();
    y.join(&rm).unwrap();
    assert!(x.is_empty() && y.is_empty());
    assert_eq!(x, y);
}

fn or_map_remove_then_readd_key<S: Storage>() {
    type M<S> = OrMap<u16, MvRegister<u64, S>, S>;
    let mut x = M::<S>::default();
    let d1 = x.update(&5, |r, cx| r.write_delta(cx, A, 1)).unwrap();
    let rm = x.remove(&5).unwrap();
    assert!(!x.contains_key(&5));
    assert_eq!(x.len(), 0);
    let d2 = x.update(&5, |r, cx| r.write_delta(cx, A, 2)).unwrap();
    assert!(x.contains_key(&5));
    let values = |m: &M<S>| m.get(&5).map(|r| r.values().copied().collect::<Vec<_>>());
    assert_eq!(values(&x), Some(vec![2]));
    for order in [[&d1, &rm, &d2], [&d2, &rm, &d1], [&rm, &d2, &d1]] {
        let z = fold(&order);
        assert_eq!(z, x, "order {order:?}");
    }
    // Re-added by another replica after it saw the remove.
    let rm2 = x.remove(&5).unwrap();
    let mut y = fold(&[&d2, &rm2, &d1, &rm]);
    assert!(!y.contains_key(&5));
    let d3 = y.update(&5, |r, cx| r.write_delta(cx, B, 3)).unwrap();
    x.join(&d3).unwrap();
    assert_eq!(values(&x), Some(vec![3]));
    assert_eq!(x, y);
}

fn or_map_clear_keeps_concurrent_update<S: Storage>() {
    type M<S> = OrMap<u16, EwFlag<S>, S>;
    let mut x = M::<S>::default();
    for k in 0..4 {
        x.update(&k, |f, cx| f.enable_delta(cx, A)).unwrap();
    }
    let mut y = x.clone();
    let clear = x.clear().unwrap();
    assert!(x.is_empty());
    let up = y.update(&2, |f, cx| f.enable_delta(cx, B)).unwrap();
    x.join(&up).unwrap();
    y.join(&clear).unwrap();
    assert_eq!(x, y);
    assert_eq!(x.keys().copied().collect::<Vec<_>>(), [2]);
    assert!(x.get(&2).unwrap().value());
}

/// User scenario: sensor name -> last reading, with `f32` readings.
fn or_map_sensor_to_last_reading<S: Storage>() {
    type Readings<S> = OrMap<&'static str, LwwRegister<f32>, S>;
    let (mut clock_a, mut clock_b) = (HybridClock::new(), HybridClock::new());
    let mut gw = Readings::<S>::default();
    let mut phone = Readings::<S>::default();
    let t1 = clock_a.now(1_000);
    let d1 = gw
        .update(&"temp", |r, cx| r.set_delta(cx, A, t1, 21.5))
        .unwrap();
    gw.update(&"humidity", |r, cx| {
        r.set_delta(cx, A, clock_a.now(1_001), 40.0)
    })
    .unwrap();
    phone.join(&d1).unwrap();
    // Both write a new temperature concurrently: the later HLC stamp wins.
    let ta = clock_a.now(2_000);
    let tb = clock_b.observe(t1, 2_500);
    gw.update(&"temp", |r, cx| r.set_delta(cx, A, ta, 22.0))
        .unwrap();
    phone
        .update(&"temp", |r, cx| r.set_delta(cx, B, tb, 23.5))
        .unwrap();
    sync(&mut gw, &mut phone);
    assert_eq!(gw.get(&"temp").and_then(|r| r.value()), Some(&23.5));
    assert_eq!(gw.get(&"humidity").and_then(|r| r.value()), Some(&40.0));
    assert_eq!(gw.keys().copied().collect::<Vec<_>>(), ["humidity", "temp"]);
    // Decommission a sensor.
    let rm = phone.remove(&"humidity").unwrap();
    gw.join(&rm).unwrap();
    assert!(!gw.contains_key(&"humidity"));
    assert_eq!(gw, phone);
}

/// User scenario: name -> set of tags.
fn or_map_name_to_set<S: Storage>() {
    type Tags<S> = OrMap<String, AwSet<String, S>, S>;
    let mut x = Tags::<S>::default();
    let mut y = Tags::<S>::default();
    let alice = "alice".to_string();
    let bob = "bob".to_string();
    x.update(&alice, |s, cx| s.add_delta(cx, A, "admin".into()))
        .unwrap();
    y.update(&alice, |s, cx| s.add_delta(cx, B, "ops".into()))
        .unwrap();
    y.update(&bob, |s, cx| s.add_delta(cx, B, "dev".into()))
        .unwrap();
    sync(&mut x, &mut y);
    let tags = |m: &Tags<S>, k: &String| {
        m.get(k)
            .map(|s| s.iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(tags(&x, &alice), ["admin", "ops"]);
    assert_eq!(tags(&x, &bob), ["dev"]);
    // Removing the last element of a value removes the key.
    x.update(&bob, |s, _| s.remove_delta(&"dev".to_string()))
        .unwrap();
    assert!(!x.contains_key(&bob));
    // Concurrent: x removes "ops" from alice, y adds "ops" again (add wins inside).
    let rm = x
        .update(&alice, |s, _| s.remove_delta(&"ops".to_string()))
        .unwrap();
    let add = y
        .update(&alice, |s, cx| s.add_delta(cx, B, "ops".into()))
        .unwrap();
    x.join(&add).unwrap();
    y.join(&rm).unwrap();
    sync(&mut x, &mut y);
    assert_eq!(tags(&x, &alice), ["admin", "ops"]);
    assert_eq!(x.keys().cloned().collect::<Vec<_>>(), [alice]);
}

/// User scenario: name -> counter (PNCounter values), with a reset by key removal.
fn or_map_name_to_counter<S: Storage>() {
    type Counts<S> = OrMap<&'static str, PNCounter<S>, S>;
    let mut x = Counts::<S>::default();
    let mut y = Counts::<S>::default();
    x.update(&"boot", |c, cx| c.increment_delta(cx, A, 1))
        .unwrap();
    x.update(&"boot", |c, cx| c.increment_delta(cx, A, 1))
        .unwrap();
    y.update(&"boot", |c, cx| c.increment_delta(cx, B, 5))
        .unwrap();
    y.update(&"error", |c, cx| c.decrement_delta(cx, B, 3))
        .unwrap();
    sync(&mut x, &mut y);
    assert_eq!(x.get(&"boot").map(|c| c.value()), Some(7));
    assert_eq!(x.get(&"error").map(|c| c.value()), Some(-3));
    // Reset "boot" at x while y, concurrently, counts one more boot.
    let rm = x.remove(&"boot").unwrap();
    let inc = y
        .update(&"boot", |c, cx| c.increment_delta(cx, C, 1))
        .unwrap();
    x.join(&inc).unwrap();
    y.join(&rm).unwrap();
    assert_eq!(x, y);
    assert_eq!(x.get(&"boot").map(|c| c.value()), Some(1));
    // GCounter values work the same way.
    let mut g = OrMap::<u16, GCounter<S>, S>::default();
    g.update(&1, |c, cx| c.increment_delta(cx, A, 4)).unwrap();
    assert_eq!(g.get(&1).map(|c| c.value()), Some(4));
}

/// User scenario: two levels of nesting (device -> field -> multi-value register).
fn or_map_nested_two_levels<S: Storage>() {
    type Inner<S> = OrMap<&'static str, MvRegister<u32, S>, S>;
    type Outer<S> = OrMap<&'static str, Inner<S>, S>;
    let mut x = Outer::<S>::default();
    let mut y = Outer::<S>::default();
    let write = |m: &mut Outer<S>, dev: &'static str, field: &'static str, r, v| {
        m.update(&dev, |inner, cx| {
            inner.update_delta(cx, &field, |reg, cx| reg.write_delta(cx, r, v))
        })
        .unwrap()
    };
    let read = |m: &Outer<S>, dev: &'static str, field: &'static str| {
        m.get(&dev)
            .and_then(|inner| inner.get(&field))
            .map(|reg| sorted(reg.values().copied()))
    };
    write(&mut x, "lamp", "color", A, 1);
    write(&mut x, "lamp", "level", A, 50);
    sync(&mut x, &mut y);
    // Concurrent writes to one field are both kept; another field merges.
    write(&mut x, "lamp", "color", A, 2);
    write(&mut y, "lamp", "color", B, 3);
    write(&mut y, "fan", "speed", B, 4);
    sync(&mut x, &mut y);
    assert_eq!(read(&x, "lamp", "color"), Some(vec![2, 3]));
    assert_eq!(read(&x, "lamp", "level"), Some(vec![50]));
    assert_eq!(read(&x, "fan", "speed"), Some(vec![4]));
    // Removing an inner key.
    let rm_inner = x
        .update(&"lamp", |inner, _| inner.remove_delta(&"level"))
        .unwrap();
    y.join(&rm_inner).unwrap();
    assert_eq!(read(&y, "lamp", "level"), None);
    assert!(y.contains_key(&"lamp"));
    // Removing an outer key concurrently with an inner update: only the update survives.
    let rm = x.remove(&"lamp").unwrap();
    assert!(!x.contains_key(&"lamp"));
    let up = write(&mut y, "lamp", "level", B, 70);
    x.join(&up).unwrap();
    y.join(&rm).unwrap();
    assert_eq!(x, y);
    assert_eq!(read(&x, "lamp", "level"), Some(vec![70]));
    assert_eq!(read(&x, "lamp", "color"), None);
    assert_eq!(x.get(&"lamp").map(|inner| inner.len()), Some(1));
    assert_eq!(x.keys().copied().collect::<Vec<_>>(), ["fan", "lamp"]);
}

// ---------------------------------------------------------------------------------------
// Version vectors and causal contexts
// ---------------------------------------------------------------------------------------

both_modes!(
    version_vector_causal_order_and_partial_ord,
    causal_context_out_of_order_dots_compact_when_gaps_fill,
    causal_context_next_dot_is_one_past_highest_seen,
    causal_context_join_compacts_clouds,
);

fn version_vector_causal_order_and_partial_ord<S: Storage>() {
    use std::cmp::Ordering;
    let mut x = VersionVector::<S>::new();
    let y = VersionVector::<S>::new();
    assert_eq!(x.causal_order(&y), CausalOrder::Equal);
    assert_eq!(x.partial_cmp(&y), Some(Ordering::Equal));
    assert_eq!(x.increment(A).unwrap(), Dot::new(A, 1));
    assert_eq!(x.increment(A).unwrap(), Dot::new(A, 2));
    assert_eq!(x.get(A), 2);
    assert_eq!(x.get(B), 0);
    assert!(x.contains(Dot::new(A, 2)) && !x.contains(Dot::new(A, 3)));
    // x after y
    assert_eq!(x.causal_order(&y), CausalOrder::After);
    assert_eq!(y.causal_order(&x), CausalOrder::Before);
    assert!(x > y);
    assert!(y < x);
    assert!(y <= x && !x.le(&y));
    // concurrent
    let mut z = VersionVector::<S>::new();
    z.increment(B).unwrap();
    assert_eq!(x.causal_order(&z), CausalOrder::Concurrent);
    assert_eq!(z.causal_order(&x), CausalOrder::Concurrent);
    assert_eq!(x.partial_cmp(&z), None);
    assert!(!x.lt(&z) && !x.gt(&z) && !x.le(&z) && !x.ge(&z));
    // same replicas, counts crossing: concurrent too
    let mut u = VersionVector::<S>::new();
    u.set(A, 1).unwrap();
    u.set(B, 5).unwrap();
    let mut v = VersionVector::<S>::new();
    v.set(A, 3).unwrap();
    v.set(B, 1).unwrap();
    assert_eq!(u.causal_order(&v), CausalOrder::Concurrent);
    // join is the pointwise max and is after both
    let mut j = x.clone();
    j.join(&z).unwrap();
    assert_eq!(j.iter().collect::<Vec<_>>(), [(A, 2), (B, 1)]);
    assert_eq!(j.causal_order(&x), CausalOrder::After);
    assert_eq!(z.causal_order(&j), CausalOrder::Before);
    assert_eq!(j.total(), 3);
    // equal contents, built differently
    let mut e = VersionVector::<S>::new();
    e.set(B, 1).unwrap();
    e.set(A, 2).unwrap();
    assert_eq!(e.causal_order(&j), CausalOrder::Equal);
    assert_eq!(e, j);
    // set to zero removes the entry
    e.set(B, 0).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e, x);
}

fn causal_context_out_of_order_dots_compact_when_gaps_fill<S: Storage>() {
    let mut cx = CausalContext::<S>::new();
    assert!(cx.is_empty());
    cx.insert(Dot::new(A, 3)).unwrap();
    cx.insert(Dot::new(A, 5)).unwrap();
    cx.insert(Dot::new(B, 2)).unwrap();
    assert_eq!(cx.cloud_len(), 3);
    assert_eq!(cx.version_vector().get(A), 0);
    assert!(cx.contains(Dot::new(A, 3)) && !cx.contains(Dot::new(A, 4)));
    assert_eq!(cx.dot_count(), 3);
    cx.insert(Dot::new(A, 1)).unwrap();
    assert_eq!(
        cx.version_vector().get(A),
        1,
        "the gap at 2 keeps 3 in the cloud"
    );
    assert_eq!(cx.cloud_len(), 3);
    cx.insert(Dot::new(A, 2)).unwrap();
    assert_eq!(cx.version_vector().get(A), 3, "2 fills the gap: 3 compacts");
    assert_eq!(cx.cloud().collect::<Vec<_>>(), [(A, 5..=5), (B, 2..=2)]);
    cx.insert(Dot::new(A, 7)).unwrap();
    cx.insert(Dot::new(A, 6)).unwrap(); // 5, 6, 7: one run in the cloud
    assert_eq!(cx.cloud().collect::<Vec<_>>(), [(A, 5..=7), (B, 2..=2)]);
    assert!(cx.contains(Dot::new(A, 6)) && !cx.contains(Dot::new(A, 8)));
    assert_eq!(cx.max_counter(A), 7);
    cx.insert(Dot::new(A, 4)).unwrap();
    assert_eq!(
        cx.version_vector().get(A),
        7,
        "4 fills the gap: 5..=7 compact"
    );
    cx.insert(Dot::new(B, 1)).unwrap();
    assert_eq!(cx.version_vector().get(B), 2);
    assert_eq!(cx.cloud_len(), 0);
    assert_eq!(cx.dot_count(), 9);
    // Inserting a seen dot, or the invalid counter 0, changes nothing.
    let before = cx.clone();
    cx.insert(Dot::new(A, 2)).unwrap();
    cx.insert(Dot::new(C, 0)).unwrap();
    assert_eq!(cx, before);
}

fn causal_context_next_dot_is_one_past_highest_seen<S: Storage>() {
    let mut cx = CausalContext::<S>::new();
    assert_eq!(cx.next_dot(A).unwrap(), Dot::new(A, 1));
    cx.insert(Dot::new(A, 1)).unwrap();
    assert_eq!(cx.next_dot(A).unwrap(), Dot::new(A, 2));
    cx.insert(Dot::new(A, 7)).unwrap(); // in the cloud
    assert_eq!(
        cx.next_dot(A).unwrap(),
        Dot::new(A, 8),
        "cloud dots count too"
    );
    assert_eq!(cx.max_counter(A), 7);
    cx.insert(Dot::new(B, 4)).unwrap();
    assert_eq!(cx.next_dot(A).unwrap(), Dot::new(A, 8));
    assert_eq!(cx.next_dot(B).unwrap(), Dot::new(B, 5));
    assert_eq!(cx.next_dot(C).unwrap(), Dot::new(C, 1));
    // next_dot does not record anything.
    assert!(!cx.contains(cx.next_dot(A).unwrap()));
}

fn causal_context_join_compacts_clouds<S: Storage>() {
    let mut x = CausalContext::<S>::new();
    let mut y = CausalContext::<S>::new();
    x.insert(Dot::new(A, 1)).unwrap();
    x.insert(Dot::new(A, 3)).unwrap();
    y.insert(Dot::new(A, 2)).unwrap(); // y: cloud {A2}
    y.insert(Dot::new(A, 4)).unwrap();
    assert_eq!((x.cloud_len(), y.cloud_len()), (1, 2));
    assert!(!x.leq(&y) && !y.leq(&x));
    let mut j = x.clone();
    j.join(&y).unwrap();
    assert_eq!(j.version_vector().get(A), 4);
    assert_eq!(j.cloud_len(), 0);
    assert!(x.leq(&j) && y.leq(&j));
    let mut k = y.clone();
    k.join(&x).unwrap();
    assert_eq!(j, k);
    // A cloud dot covered by the other side's vector disappears.
    let mut p = CausalContext::<S>::new();
    p.insert(Dot::new(B, 3)).unwrap();
    let mut q = CausalContext::<S>::new();
    for c in 1..=4 {
        q.insert(Dot::new(B, c)).unwrap();
    }
    p.join(&q).unwrap();
    assert_eq!(p, q);
    assert_eq!(p.cloud_len(), 0);
}

// ---------------------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------------------

#[test]
fn hybrid_clock_monotonic_when_wall_clock_goes_backwards() {
    let mut clock = HybridClock::new();
    let t1 = clock.now(10_000);
    assert_eq!((t1.wall_ms(), t1.logical()), (10_000, 0));
    let t2 = clock.now(10_000);
    assert!(t2 > t1);
    assert_eq!((t2.wall_ms(), t2.logical()), (10_000, 1));
    let t3 = clock.now(5_000); // NTP step backwards
    assert!(t3 > t2);
    assert_eq!(t3.wall_ms(), 10_000, "stays at the last wall time");
    let t4 = clock.now(0);
    assert!(t4 > t3);
    assert_eq!(clock.last(), t4);
    // Wall time catching up resets the logical part.
    let t5 = clock.now(10_001);
    assert_eq!((t5.wall_ms(), t5.logical()), (10_001, 0));
    // Many events in one millisecond stay strictly increasing, across logical overflow.
    let mut last = t5;
    for _ in 0..70_000 {
        let t = clock.now(10_001);
        assert!(t > last);
        last = t;
    }
    assert!(last.wall_ms() > 10_001);
    // Packing round trip.
    assert_eq!(HlcTimestamp::from_u64(last.to_u64()), last);
    assert_eq!(
        HlcTimestamp::new(u64::MAX, 0).wall_ms(),
        HlcTimestamp::MAX_WALL_MS
    );
}

#[test]
fn hybrid_clock_observe_remote_ahead_moves_past_it() {
    let mut local = HybridClock::new();
    let mut remote = HybridClock::new();
    local.now(1_000);
    let r = remote.now(60_000); // a peer whose clock runs a minute ahead
    let t = local.observe(r, 1_001);
    assert!(t > r, "a receive event is after the send event");
    assert_eq!(t.wall_ms(), 60_000);
    assert_eq!(t.logical(), 1);
    let t2 = local.now(1_002);
    assert!(t2 > t);
    // Observing a remote timestamp behind changes nothing but still ticks.
    let t3 = local.observe(HlcTimestamp::new(5, 0), 1_003);
    assert!(t3 > t2);
    // Observing with the local wall clock ahead of everything: wall time wins.
    let t4 = local.observe(r, 70_000);
    assert_eq!((t4.wall_ms(), t4.logical()), (70_000, 0));
}

#[test]
fn lamport_clock_tick_and_observe() {
    let mut a = LamportClock::new();
    assert_eq!(a.time(), 0);
    assert_eq!(a.tick(), 1);
    assert_eq!(a.tick(), 2);
    let mut b = LamportClock::new();
    b.observe(a.time());
    assert_eq!(b.time(), 2);
    assert_eq!(b.tick(), 3);
    b.observe(1); // older: no change
    assert_eq!(b.time(), 3);
    a.observe(b.time());
    assert!(a.tick() > 3);
    let mut m = LamportClock::new();
    m.observe(u64::MAX);
    assert_eq!(m.tick(), u64::MAX, "saturates");
}

// ---------------------------------------------------------------------------------------
// Capacity errors: Fixed storage refuses, atomically
// ---------------------------------------------------------------------------------------

/// Runs `op` on `state`; it must fail with `CapacityError` and leave `state` as it was.
fn assert_refused<T: Clone + PartialEq + Debug, D: Debug>(
    state: &mut T,
    what: &str,
    op: impl FnOnce(&mut T) -> Result<D, CapacityError>,
) {
    let before = state.clone();
    let result = op(state);
    assert!(
        result.is_err(),
        "{what}: expected CapacityError, got {result:?}"
    );
    assert_eq!(
        *state, before,
        "{what}: a refused operation changed the state"
    );
}

/// Replica ids `1..=n`.
fn replicas(n: u64) -> impl Iterator<Item = ReplicaId> {
    (1..=n).map(ReplicaId)
}

const EXTRA: ReplicaId = ReplicaId(1_000);

#[test]
fn capacity_g_counter_and_pn_counter_full_refuse() {
    let mut g = GCounter::<F>::default();
    for r in replicas(8) {
        g.increment(r, 1).unwrap();
    }
    let mut other = GCounter::<F>::default();
    other.increment(EXTRA, 1).unwrap();
    assert_refused(&mut g, "GCounter increment", |g| g.increment(EXTRA, 1));
    assert_refused(&mut g, "GCounter join", |g| g.join(&other));
    g.increment(A, 1).unwrap(); // an existing replica still counts

    let mut p = PNCounter::<F>::default();
    for r in replicas(8) {
        p.increment(r, 1).unwrap();
        p.decrement(r, 1).unwrap();
    }
    assert_refused(&mut p, "PNCounter increment", |p| p.increment(EXTRA, 1));
    assert_refused(&mut p, "PNCounter decrement", |p| p.decrement(EXTRA, 1));
    // The increments half fits (and would change); the decrements half does not.
    let mut q = PNCounter::<F>::default();
    q.increment(A, 100).unwrap();
    q.decrement(EXTRA, 1).unwrap();
    assert_refused(&mut p, "PNCounter join (second half full)", |p| p.join(&q));
    let mut q = PNCounter::<F>::default();
    q.increment(EXTRA, 1).unwrap();
    q.decrement(A, 100).unwrap();
    assert_refused(&mut p, "PNCounter join (first half full)", |p| p.join(&q));
}

#[test]
fn capacity_g_set_and_two_p_set_full_refuse() {
    let mut g = GSet::<u64, F>::default();
    for e in 0..16 {
        g.insert(e).unwrap();
    }
    let mut other = GSet::<u64, F>::default();
    other.insert(3).unwrap();
    other.insert(100).unwrap();
    assert_refused(&mut g, "GSet insert", |g| g.insert(100));
    assert_refused(&mut g, "GSet join", |g| g.join(&other));
    g.insert(3).unwrap(); // present already: fine

    let mut t = TwoPSet::<u64, F>::default();
    for e in 0..16 {
        t.insert(e).unwrap();
    }
    assert_refused(&mut t, "TwoPSet insert", |t| t.insert(100));
    let mut tomb = TwoPSet::<u64, F>::default();
    tomb.insert(1).unwrap();
    for e in 100..116 {
        tomb.remove(e).unwrap();
    }
    assert_refused(&mut tomb, "TwoPSet remove", |t| t.remove(1));
    // Added half fits, removed half does not.
    let mut both = TwoPSet::<u64, F>::default();
    both.insert(2).unwrap();
    both.remove(1).unwrap();
    assert_refused(&mut tomb, "TwoPSet join", |t| t.join(&both));
}

#[test]
fn capacity_aw_set_and_rw_set_full_refuse() {
    let mut s = AwSet::<u64, F>::default();
    for e in 0..16 {
        s.add(A, e).unwrap();
    }
    let mut other = AwSet::<u64, F>::default();
    other.add(B, 100).unwrap();
    assert_refused(&mut s, "AwSet add (elements full)", |s| s.add(A, 100));
    assert_refused(&mut s, "AwSet add by another replica", |s| s.add(B, 100));
    assert_refused(&mut s, "AwSet join", |s| s.join(&other));
    let delta = s.store().add_delta(s.context(), B, 100).unwrap();
    assert_refused(&mut s, "AwSet join of a delta", |s| s.join(&delta));
    // Removing still works and frees room.
    s.remove(&0).unwrap();
    s.add(A, 100).unwrap();

    // Replica tables full: eight replicas have written, a ninth cannot.
    let mut r = AwSet::<u64, F>::default();
    for id in replicas(8) {
        r.add(id, id.0).unwrap();
    }
    assert_refused(&mut r, "AwSet add by a ninth replica", |s| s.add(EXTRA, 1));
    // Dot cloud full: sixteen out-of-order dots, then a seventeenth.
    // (remove deltas of A's dots 1, 3, 5, ... arrive; the even dots, which would join
    // them into one run, never do).
    let mut src = AwSet::<u64, F>::default();
    let mut removes = Vec::new();
    for e in 0..18 {
        src.add(A, e).unwrap();
        removes.push(src.remove(&e).unwrap());
        src.add(A, 999).unwrap();
        src.remove(&999).unwrap();
    }
    let mut c = AwSet::<u64, F>::default();
    for rm in &removes[1..17] {
        c.join(rm).unwrap();
    }
    assert_eq!(c.context().cloud_len(), 16);
    assert_refused(&mut c, "AwSet join (cloud full)", |c| c.join(&removes[17]));

    let mut w = RwSet::<u64, F>::default();
    for e in 0..16 {
        w.add(A, e).unwrap();
    }
    assert_refused(&mut w, "RwSet add", |w| w.add(A, 100));
    assert_refused(&mut w, "RwSet remove of an unknown element", |w| {
        w.remove(A, 100)
    });
    let mut other = RwSet::<u64, F>::default();
    other.add(B, 100).unwrap();
    assert_refused(&mut w, "RwSet join", |w| w.join(&other));
    w.remove(A, 3).unwrap(); // an existing element: fine
}

#[test]
fn capacity_registers_flags_and_causal_counter_full_refuse() {
    let mut m = MvRegister::<u64, F>::default();
    for r in replicas(8) {
        let mut own = MvRegister::<u64, F>::default();
        own.write(r, r.0).unwrap();
        m.join(&own).unwrap();
    }
    assert_eq!(m.values().count(), 8);
    let mut ninth = MvRegister::<u64, F>::default();
    ninth.write(EXTRA, 9).unwrap();
    assert_refused(&mut m, "MvRegister write", |m| m.write(EXTRA, 9));
    assert_refused(&mut m, "MvRegister join", |m| m.join(&ninth));
    m.write(A, 10).unwrap(); // a known replica overwrites all

    let mut e = EwFlag::<F>::default();
    let mut d = DwFlag::<F>::default();
    let mut c = CausalCounter::<F>::default();
    for r in replicas(8) {
        e.enable(r).unwrap();
        d.enable(r).unwrap();
        c.increment(r, 1).unwrap();
    }
    let mut e9 = EwFlag::<F>::default();
    e9.enable(EXTRA).unwrap();
    assert_refused(&mut e, "EwFlag enable", |f| f.enable(EXTRA));
    assert_refused(&mut e, "EwFlag join", |f| f.join(&e9));
    let mut d9 = DwFlag::<F>::default();
    d9.disable(EXTRA).unwrap();
    assert_refused(&mut d, "DwFlag enable", |f| f.enable(EXTRA));
    assert_refused(&mut d, "DwFlag disable", |f| f.disable(EXTRA));
    assert_refused(&mut d, "DwFlag join", |f| f.join(&d9));
    let mut c9 = CausalCounter::<F>::default();
    c9.increment(EXTRA, 1).unwrap();
    assert_refused(&mut c, "CausalCounter increment", |c| c.increment(EXTRA, 1));
    assert_refused(&mut c, "CausalCounter decrement", |c| c.decrement(EXTRA, 1));
    assert_refused(&mut c, "CausalCounter join", |c| c.join(&c9));
    c.reset().unwrap();
    e.disable().unwrap();
}

#[test]
fn capacity_or_map_full_refuses() {
    type M = OrMap<u16, AwSet<u64, F>, F>;
    let mut m = M::default();
    for k in 0..16 {
        m.update(&k, |s, cx| s.add_delta(cx, A, 1)).unwrap();
    }
    assert_refused(&mut m, "OrMap update of a new key", |m| {
        m.update(&100, |s, cx| s.add_delta(cx, A, 1))
    });
    let mut other = M::default();
    other.update(&100, |s, cx| s.add_delta(cx, B, 1)).unwrap();
    assert_refused(&mut m, "OrMap join", |m| m.join(&other));
    // A full inner set refuses too.
    let mut n = M::default();
    for e in 0..16 {
        n.update(&1, |s, cx| s.add_delta(cx, A, e)).unwrap();
    }
    assert_refused(&mut n, "OrMap update (inner set full)", |m| {
        m.update(&1, |s, cx| s.add_delta(cx, A, 100))
    });
    // Nested map, inner map full.
    type Nested = OrMap<u8, OrMap<u8, MvRegister<u32, F>, F>, F>;
    let mut x = Nested::default();
    for k in 0..16u8 {
        x.update(&0, |inner, cx| {
            inner.update_delta(cx, &k, |r, cx| r.write_delta(cx, A, 1))
        })
        .unwrap();
    }
    assert_refused(&mut x, "nested OrMap update (inner map full)", |x| {
        x.update(&0, |inner, cx| {
            inner.update_delta(cx, &100, |r, cx| r.write_delta(cx, A, 1))
        })
    });
    m.remove(&0).unwrap();
    m.update(&100, |s, cx| s.add_delta(cx, A, 1)).unwrap();
}

#[test]
fn capacity_version_vector_and_causal_context_full_refuse() {
    let mut v = VersionVector::<F>::new();
    for r in replicas(8) {
        v.increment(r).unwrap();
    }
    let mut other = VersionVector::<F>::new();
    other.increment(EXTRA).unwrap();
    assert_refused(&mut v, "VersionVector increment", |v| v.increment(EXTRA));
    assert_refused(&mut v, "VersionVector set", |v| v.set(EXTRA, 3));
    assert_refused(&mut v, "VersionVector join", |v| v.join(&other));

    let mut cx = CausalContext::<F>::new();
    for r in replicas(8) {
        cx.insert(Dot::new(r, 1)).unwrap();
    }
    assert_refused(&mut cx, "CausalContext insert (vector full)", |cx| {
        cx.insert(Dot::new(EXTRA, 1))
    });
    let mut cloud = CausalContext::<F>::new();
    for c in 0..16 {
        cloud.insert(Dot::new(A, 2 + 2 * c)).unwrap();
    }
    assert_eq!(cloud.cloud_len(), 16);
    assert_refused(&mut cloud, "CausalContext insert (cloud full)", |cx| {
        cx.insert(Dot::new(A, 100))
    });
    let mut more = CausalContext::<F>::new();
    more.insert(Dot::new(B, 5)).unwrap();
    assert_refused(&mut cloud, "CausalContext join (cloud full)", |cx| {
        cx.join(&more)
    });
    let mut other = CausalContext::<F>::new();
    other.insert(Dot::new(EXTRA, 1)).unwrap();
    assert_refused(&mut cx, "CausalContext join (vector full)", |cx| {
        cx.join(&other)
    });
    // Filling a gap compacts and makes room.
    cloud.insert(Dot::new(A, 1)).unwrap();
    assert_eq!(cloud.cloud_len(), 15);
}

// ---------------------------------------------------------------------------------------
// Golden bytes: the wire format, pinned
// ---------------------------------------------------------------------------------------

/// Checks `value` encodes to exactly `expected` through every encoder, and decodes back.
fn assert_golden<T: WireFormat + Lattice>(value: &T, expected: &[u8]) {
    let bytes = value.to_vec();
    assert_eq!(bytes, expected, "to_vec of {value:?}");
    assert_eq!(bytes[0], 0x01, "version byte");
    assert_eq!(value.encoded_len(), expected.len());
    let mut buf = [0u8; 128];
    assert_eq!(value.to_slice(&mut buf).unwrap(), expected);
    let mut short = vec![0u8; expected.len() - 1];
    assert!(value.to_slice(&mut short).is_err());
    assert_eq!(&T::from_bytes(expected, expected.len()).unwrap(), value);
}

both_modes!(
    golden_bytes_counters,
    golden_bytes_sets,
    golden_bytes_registers_and_flags,
    golden_bytes_or_maps,
    golden_bytes_version_vector_and_causal_context,
    golden_bytes_wire_format_doc_examples,
);

/// The examples table of `docs/wire-format.md`.
fn golden_bytes_wire_format_doc_examples<S: Storage>() {
    let mut g = GCounter::<S>::default();
    g.increment(ReplicaId(1), 5).unwrap();
    g.increment(ReplicaId(300), 2).unwrap();
    assert_golden(&g, &[0x01, 0x02, 0x01, 0x05, 0xac, 0x02, 0x02]);

    let mut set = AwSet::<u64, S>::default();
    let d = set.add(A, 42).unwrap();
    let adds_42 = [0x01, 0x01, 0x2a, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00];
    assert_golden(&set, &adds_42);
    assert_golden(&d, &adds_42);
    set.add(B, 7).unwrap();
    assert_golden(
        &set,
        &[
            0x01, 0x02, 0x07, 0x01, 0x02, 0x01, 0x2a, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02,
            0x01, 0x00,
        ],
    );
    let rm: AwSet<u64, S> = set.store().remove_delta(&42).unwrap();
    assert_golden(&rm, &[0x01, 0x00, 0x01, 0x01, 0x01, 0x00]);

    let stamp = HlcTimestamp::new(1_000, 0);
    let mut l = LwwRegister::<u32>::default();
    l.set(A, stamp, 21);
    assert_golden(&l, &[0x01, 0x01, 0x80, 0x80, 0xa0, 0x1f, 0x01, 0x15]);
    let mut m = OrMap::<u8, LwwRegister<u32>, S>::default();
    m.update(&3, |r, cx| r.set_delta(cx, A, stamp, 21)).unwrap();
    assert_golden(
        &m,
        &[
            0x01, 0x01, 0x03, 0x01, 0x01, 0x01, 0x80, 0x80, 0xa0, 0x1f, 0x15, 0x01, 0x01, 0x01,
            0x00,
        ],
    );
}

fn golden_bytes_counters<S: Storage>() {
    assert_golden(&GCounter::<S>::default(), &[0x01, 0x00]);
    let mut g = GCounter::<S>::default();
    g.increment(A, 5).unwrap();
    // version | 1 entry | (replica 1, count 5)
    assert_golden(&g, &[0x01, 0x01, 0x01, 0x05]);
    // 300 = varint ac 02; replica 1000 = e8 07
    let mut g = GCounter::<S>::default();
    g.increment(ReplicaId(1_000), 300).unwrap();
    assert_golden(&g, &[0x01, 0x01, 0xe8, 0x07, 0xac, 0x02]);

    let mut p = PNCounter::<S>::default();
    p.increment(A, 3).unwrap();
    p.decrement(B, 2).unwrap();
    // increments [(1, 3)] | decrements [(2, 2)]
    assert_golden(&p, &[0x01, 0x01, 0x01, 0x03, 0x01, 0x02, 0x02]);

    let mut c = CausalCounter::<S>::default();
    c.increment(A, 3).unwrap();
    c.decrement(A, 1).unwrap();
    // store [(replica 1, (dot 2, (up 3, down 1)))] | context vv [(1, 2)] | cloud []
    assert_golden(
        &c,
        &[0x01, 0x01, 0x01, 0x02, 0x03, 0x01, 0x01, 0x01, 0x02, 0x00],
    );
}

fn golden_bytes_sets<S: Storage>() {
    let mut g = GSet::<u64, S>::default();
    g.insert(42).unwrap();
    g.insert(7).unwrap();
    assert_golden(&g, &[0x01, 0x02, 0x07, 0x2a]);

    let mut t = TwoPSet::<u64, S>::default();
    t.insert(1).unwrap();
    t.remove(2).unwrap();
    // added [1] | removed [2]
    assert_golden(&t, &[0x01, 0x01, 0x01, 0x01, 0x02]);

    assert_golden(&AwSet::<u64, S>::default(), &[0x01, 0x00, 0x00, 0x00]);
    let mut a = AwSet::<u64, S>::default();
    a.add(A, 42).unwrap();
    // store [(42, [(replica 1, (dot 1, ()))])] | vv [(1, 1)] | cloud []
    assert_golden(
        &a,
        &[0x01, 0x01, 0x2a, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00],
    );

    let mut r = RwSet::<u64, S>::default();
    r.remove(A, 9).unwrap();
    // store [(9, [(replica 1, (dot 1, false))])] | vv [(1, 1)] | cloud []
    assert_golden(
        &r,
        &[
            0x01, 0x01, 0x09, 0x01, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00,
        ],
    );
}

fn golden_bytes_registers_and_flags<S: Storage>() {
    assert_golden(&LwwRegister::<u64>::default(), &[0x01, 0x00]);
    let mut l = LwwRegister::<u64>::default();
    l.set(B, HlcTimestamp::new(1, 2), 7);
    // Some | timestamp 0x1_0002 = varint 82 80 04 | replica 2 | value 7
    assert_golden(&l, &[0x01, 0x01, 0x82, 0x80, 0x04, 0x02, 0x07]);

    let mut m = MvRegister::<u64, S>::default();
    m.write(A, 300).unwrap();
    // store [(replica 1, (dot 1, 300))] | vv [(1, 1)] | cloud []
    assert_golden(
        &m,
        &[0x01, 0x01, 0x01, 0x01, 0xac, 0x02, 0x01, 0x01, 0x01, 0x00],
    );

    let mut e = EwFlag::<S>::default();
    e.enable(C).unwrap();
    // store [(replica 3, (dot 1, ()))] | vv [(3, 1)] | cloud []
    assert_golden(&e, &[0x01, 0x01, 0x03, 0x01, 0x01, 0x03, 0x01, 0x00]);
    e.disable().unwrap();
    // store [] | vv [(3, 1)] | cloud []
    assert_golden(&e, &[0x01, 0x00, 0x01, 0x03, 0x01, 0x00]);

    let mut d = DwFlag::<S>::default();
    d.disable(A).unwrap();
    // store [(replica 1, (dot 1, false))] | vv [(1, 1)] | cloud []
    assert_golden(&d, &[0x01, 0x01, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00]);
}

fn golden_bytes_or_maps<S: Storage>() {
    let mut m = OrMap::<u16, LwwRegister<u64>, S>::default();
    m.update(&3, |r, cx| r.set_delta(cx, A, HlcTimestamp::new(1, 0), 7))
        .unwrap();
    // store [(key 3, [(replica 1, (dot 1, (ts 0x1_0000 = 80 80 04, value 7)))])]
    // | vv [(1, 1)] | cloud []
    assert_golden(
        &m,
        &[
            0x01, 0x01, 0x03, 0x01, 0x01, 0x01, 0x80, 0x80, 0x04, 0x07, 0x01, 0x01, 0x01, 0x00,
        ],
    );

    let mut s = OrMap::<String, LwwRegister<u64>, S>::default();
    s.update(&"t".to_string(), |r, cx| {
        r.set_delta(cx, A, HlcTimestamp::new(0, 1), 0)
    })
    .unwrap();
    // key "t" = length 1, 0x74
    assert_golden(
        &s,
        &[
            0x01, 0x01, 0x01, 0x74, 0x01, 0x01, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00,
        ],
    );

    let mut n = OrMap::<u8, OrMap<u8, MvRegister<u32, S>, S>, S>::default();
    n.update(&1, |inner, cx| {
        inner.update_delta(cx, &2, |r, cx| r.write_delta(cx, A, 3))
    })
    .unwrap();
    // store [(1, [(2, [(replica 1, (dot 1, 3))])])] | vv [(1, 1)] | cloud []
    assert_golden(
        &n,
        &[
            0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x03, 0x01, 0x01, 0x01, 0x00,
        ],
    );
}

fn golden_bytes_version_vector_and_causal_context<S: Storage>() {
    let mut v = VersionVector::<S>::new();
    v.increment(B).unwrap();
    v.increment(B).unwrap();
    v.increment(A).unwrap();
    // entries [(1, 1), (2, 2)]
    assert_golden(&v, &[0x01, 0x02, 0x01, 0x01, 0x02, 0x02]);

    let mut cx = CausalContext::<S>::new();
    cx.insert(Dot::new(A, 1)).unwrap();
    cx.insert(Dot::new(A, 3)).unwrap();
    // vv [(1, 1)] | cloud: 1 group: replica 1, 1 range: gap 3 - (1 + 2) = 0, extra 0
    assert_golden(&cx, &[0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00]);
    cx.insert(Dot::new(A, 5)).unwrap();
    cx.insert(Dot::new(A, 4)).unwrap();
    cx.insert(Dot::new(B, 300)).unwrap();
    // vv [(1, 1)] | cloud r1 3..=5, r2 300..=300: 2 groups: (1, [(gap 0, extra 2)]),
    // (2, [(gap 300 - (0 + 2) = 298, extra 0)])
    assert_golden(
        &cx,
        &[
            0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x02, 0x02, 0x01, 0xaa, 0x02, 0x00,
        ],
    );
}

/// Fixed and growable storage share one wire format: a state encoded in one mode
/// decodes in the other to the same value.
#[test]
fn golden_bytes_identical_across_storage_modes() {
    let mut f = OrMap::<u16, AwSet<u64, F>, F>::default();
    let mut g = OrMap::<u16, AwSet<u64, Growable>, Growable>::default();
    for (k, e, r) in [(1u16, 10u64, A), (1, 11, B), (2, 20, C)] {
        f.update(&k, |s, cx| s.add_delta(cx, r, e)).unwrap();
        g.update(&k, |s, cx| s.add_delta(cx, r, e)).unwrap();
    }
    f.remove(&2).unwrap();
    g.remove(&2).unwrap();
    assert_eq!(f.to_vec(), g.to_vec());
    let back = OrMap::<u16, AwSet<u64, Growable>, Growable>::from_bytes(&f.to_vec(), 1024);
    assert_eq!(back.unwrap(), g);
}

// ---------------------------------------------------------------------------------------
// Reconciliation: redundancy removal and catch-ups
// ---------------------------------------------------------------------------------------

both_modes!(
    novel_part_of_a_known_removal_is_bottom,
    catch_up_finds_removals_whose_dots_xor_alike,
);

/// A removal the receiver has already applied carries no news: redundancy removal
/// drops it (it used to keep every context dot that was not live in the delta, so
/// removals circulated through a mesh forever).
fn novel_part_of_a_known_removal_is_bottom<S: Storage>() {
    let mut x = AwSet::<u8, S>::default();
    x.add(A, 1).unwrap();
    let removal = x.remove(&1).unwrap();
    assert!(removal.leq(&x));
    let novel = x.novel_part(&removal).unwrap();
    assert!(
        novel.is_bottom(),
        "novel part of a known removal: {novel:?}"
    );
    // A replica that still holds the element gets the whole removal.
    let mut y = AwSet::<u8, S>::default();
    y.add(A, 1).unwrap();
    let novel = y.novel_part(&removal).unwrap();
    let mut joined = y.clone();
    joined.join(&novel).unwrap();
    assert!(!joined.contains(&1));
}

/// Replica `x` overwrote the values written with dots 2 and 4 of replica A, replica `y`
/// those with dots 3 and 5: the live dots differ, but 2 ^ 4 == 3 ^ 5. With a linear
/// per-dot hash (a CRC), the digests' XORs matched and the catch-up missed the
/// removals; the digest's hash is SipHash now.
fn catch_up_finds_removals_whose_dots_xor_alike<S: Storage>() {
    // Dots A:1..=5 write elements 0, 6, 4, 3, 6 (dot 5 replaces dot 2 at element 6).
    let mut a = RwSet::<u8, S>::default();
    for e in [0u8, 6, 4, 3] {
        a.add(A, e).unwrap();
    }
    let mut x = a.clone(); // has A:1..=4: 0@1, 6@2, 4@3, 3@4
    a.add(A, 6).unwrap(); // 6@5 replaces 6@2
    let mut y = a.clone(); // has A:1..=5: 0@1, 4@3, 3@4, 6@5
    x.add(B, 4).unwrap(); // 4@B1 replaces 4@3 at x
    y.add(C, 3).unwrap(); // 3@C1 replaces 3@4 at y
    // x's live A dots within y's context: {1, 2, 4}; y's: {1, 3, 5}.
    let missing = x.missing_for(&y.digest().unwrap()).unwrap();
    let mut caught_up = y.clone();
    caught_up.join(&missing).unwrap();
    let mut all = x.clone();
    all.join(&y).unwrap();
    assert_eq!(caught_up, all);
}
