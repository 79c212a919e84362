//! `CausalContext` against a model: a plain set of dots.
//!
//! The context keeps a version vector plus ranges of dots seen out of order; every
//! operation must agree with the same operation on a `BTreeSet<Dot>`, stay canonical
//! (it round-trips through the decoder, which rejects non-compact forms), and keep the
//! cloud empty whenever the dots are contiguous.

use std::collections::BTreeSet;

use quickcheck::{QuickCheck, TestResult};
use starling_core::{CausalContext, Dot, Fixed, Growable, ReplicaId, Storage, WireFormat};

fn dots_of(ops: &[(u8, u8)]) -> Vec<Dot> {
    ops.iter()
        .map(|(r, c)| Dot::new(ReplicaId(u64::from(r % 3)), u64::from(c % 24) + 1))
        .collect()
}

fn build<S: Storage>(dots: &[Dot]) -> (CausalContext<S>, BTreeSet<Dot>) {
    let mut cx = CausalContext::<S>::new();
    let mut model = BTreeSet::new();
    for d in dots {
        cx.insert(*d).unwrap();
        model.insert(*d);
    }
    (cx, model)
}

fn agrees<S: Storage>(cx: &CausalContext<S>, model: &BTreeSet<Dot>) -> bool {
    let all_dots: BTreeSet<Dot> = cx.dots().collect();
    let probe_ok = (0..3u64).all(|r| {
        (1..=30u64).all(|c| {
            cx.contains(Dot::new(ReplicaId(r), c)) == model.contains(&Dot::new(ReplicaId(r), c))
        })
    });
    let round_trip = CausalContext::<S>::from_bytes(&cx.to_vec(), 1 << 16).as_ref() == Ok(cx);
    all_dots == *model && probe_ok && round_trip && cx.dot_count() == model.len() as u64
}

fn check_insert_join_leq_difference<S: Storage>(a: Vec<(u8, u8)>, b: Vec<(u8, u8)>) -> TestResult {
    let (da, db) = (dots_of(&a), dots_of(&b));
    let (x, mx) = build::<S>(&da);
    let (y, my) = build::<S>(&db);
    if !agrees(&x, &mx) || !agrees(&y, &my) {
        return TestResult::error(format!("insert disagrees with the model: {x:?}"));
    }
    let mut j = x.clone();
    j.join(&y).unwrap();
    let mj: BTreeSet<Dot> = mx.union(&my).copied().collect();
    if !agrees(&j, &mj) {
        return TestResult::error(format!("join disagrees: {x:?} ⊔ {y:?} = {j:?}"));
    }
    if x.leq(&y) != mx.is_subset(&my) {
        return TestResult::error(format!("leq disagrees: {x:?} ≤ {y:?}"));
    }
    let diff = x.difference(&y).unwrap();
    let md: BTreeSet<Dot> = mx.difference(&my).copied().collect();
    if diff.dots().collect::<BTreeSet<_>>() != md {
        return TestResult::error(format!("difference disagrees: {x:?} - {y:?} = {diff:?}"));
    }
    TestResult::passed()
}

fn tests() -> u64 {
    if std::env::var_os("STARLING_LONG").is_some() {
        20_000
    } else {
        500
    }
}

#[test]
fn causal_context_fixed_agrees_with_a_dot_set_model() {
    QuickCheck::new().tests(tests()).quickcheck(
        check_insert_join_leq_difference::<Fixed<64, 4>>
            as fn(Vec<(u8, u8)>, Vec<(u8, u8)>) -> TestResult,
    );
}

#[test]
fn causal_context_growable_agrees_with_a_dot_set_model() {
    QuickCheck::new().tests(tests()).quickcheck(
        check_insert_join_leq_difference::<Growable>
            as fn(Vec<(u8, u8)>, Vec<(u8, u8)>) -> TestResult,
    );
}

#[test]
fn causal_context_contiguous_inserts_leave_no_cloud() {
    let r = ReplicaId(9);
    let mut cx = CausalContext::<Fixed<4, 2>>::new();
    for c in (1..=40).rev() {
        cx.insert(Dot::new(r, c)).unwrap();
        assert!(cx.cloud_len() <= 1, "a run seen backwards is one range");
    }
    assert_eq!(cx.cloud_len(), 0);
    assert_eq!(cx.version_vector().get(r), 40);
}

#[test]
fn causal_context_full_cloud_rejects_a_new_range_and_stays_unchanged() {
    let r = ReplicaId(1);
    let mut cx = CausalContext::<Fixed<2, 2>>::new();
    cx.insert(Dot::new(r, 3)).unwrap();
    cx.insert(Dot::new(r, 5)).unwrap();
    let before = cx.clone();
    assert!(cx.insert(Dot::new(r, 7)).is_err());
    assert_eq!(cx, before);
    // Extending or bridging an existing range needs no room.
    cx.insert(Dot::new(r, 4)).unwrap();
    assert_eq!(cx.cloud_len(), 1);
}
