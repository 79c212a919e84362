//! The 10,000-element set whose heap bytes `src/bin/heap.rs` counts: distinct random
//! `u64` in `0..50,000`, added by 8 replicas in turn into one state (the state every
//! replica holds once they have merged).

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use crdts::{CmRDT, Orswot};
use starling_core::{AwSet, Growable, ReplicaId};

use crate::Rng;

/// Number of elements.
pub const ELEMENTS: usize = 10_000;
/// Number of replicas adding them.
pub const REPLICAS: usize = 8;

/// The adds: `(replica, element)`, elements distinct.
pub fn adds(seed: u64) -> Vec<(usize, u64)> {
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(ELEMENTS);
    while out.len() < ELEMENTS {
        let e = rng.below(crate::set::UNIVERSE);
        if seen.insert(e) {
            out.push((out.len() % REPLICAS, e));
        }
    }
    out
}

/// Starling `AwSet<u64, Growable>` holding the adds.
pub fn starling(adds: &[(usize, u64)]) -> AwSet<u64, Growable> {
    let mut set = AwSet::default();
    for &(r, e) in adds {
        set.add(ReplicaId(r as u64 + 1), e).expect("growable");
    }
    set
}

/// crdts `Orswot<u64, u64>` holding the adds.
pub fn crdts(adds: &[(usize, u64)]) -> Orswot<u64, u64> {
    let mut set = Orswot::new();
    for &(r, e) in adds {
        let ctx = set.read_ctx().derive_add_ctx(r as u64 + 1);
        let op = set.add(e, ctx);
        set.apply(op);
    }
    set
}

/// Automerge document whose root map holds the adds (one change per add, made by the
/// actor of its replica; the value is unique to the add, as in the set workload).
pub fn automerge(adds: &[(usize, u64)]) -> AutoCommit {
    let mut doc = AutoCommit::new();
    for (i, &(r, e)) in adds.iter().enumerate() {
        doc.set_actor(crate::am::actor(r));
        doc.put(ROOT, e.to_string(), i as u64 + 1).expect("put");
        doc.commit();
    }
    assert_eq!(doc.length(ROOT), adds.len());
    doc
}
