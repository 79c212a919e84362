//! The lattice contract every CRDT in this crate fulfils.

use core::fmt::Debug;

use crate::error::CapacityError;

/// A join-semilattice with a bottom: the algebra of a state-based CRDT.
///
/// * [`Lattice::join`] is the least upper bound: commutative, associative and
///   idempotent, so replicas that have joined the same states are equal whatever the
///   order, grouping or repetition of the joins.
/// * [`Lattice::leq`] is the partial order: `a.leq(&b)` exactly when `a ⊔ b == b`.
/// * `Default::default()` is the bottom, the identity of join.
///
/// Every mutator of a CRDT has a *delta* form returning a small state `d` with
/// `m(x) == x ⊔ d`; deltas join with deltas and with full states, so they can be
/// batched, duplicated and reordered freely on their way to other replicas.
pub trait Lattice: Clone + PartialEq + Default + Debug {
    /// Joins `other` into `self`. Either the whole join applies, or it returns
    /// [`CapacityError`] and `self` is exactly as before (fixed storage only; growable
    /// storage never fails).
    fn join(&mut self, other: &Self) -> Result<(), CapacityError>;

    /// The partial order: `true` when `self ⊔ other == other`, i.e. `other` already
    /// includes everything `self` knows.
    fn leq(&self, other: &Self) -> bool;

    /// The bottom: the state of a fresh replica.
    fn bottom() -> Self {
        Self::default()
    }

    /// `true` when `self` is the bottom.
    fn is_bottom(&self) -> bool {
        *self == Self::default()
    }

    /// `self ⊔ other` as a new value.
    fn joined(&self, other: &Self) -> Result<Self, CapacityError> {
        let mut out = self.clone();
        out.join(other)?;
        Ok(out)
    }
}
