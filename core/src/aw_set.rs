//! Add-wins and remove-wins observed-remove sets.

use core::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::dot_store::{Causal, DotFun, DotMap, DotSet, causal_delta};
use crate::error::CapacityError;
use crate::macros::newtype_dot_store;
use crate::storage::Storage;
use crate::{CausalContext, ReplicaId};

/// An add-wins observed-remove set: a remove deletes the additions it has seen, so an
/// add concurrent with a remove of the same element wins and the element stays.
///
/// Removes leave no tombstone. In fixed storage (`Fixed<N, R>`) the set holds `N`
/// elements, each costing `size_of::<(E, DotSet)>()` bytes: for `u64` elements and
/// `R = 4`, 8 + 4 × 16 + 8 = 80 bytes on a 64-bit host (the per-element dot table has
/// room for `R` concurrent adders, 16 bytes each). The causal context adds 24 bytes per
/// element (a dot-cloud range) and 16 per replica (version vector): 104 bytes per element
/// in all.
///
/// ```
/// use starling_core::{AwSet, Fixed, Lattice, ReplicaId};
/// type Set = AwSet<u32, Fixed<16, 4>>;
/// let (a, b) = (ReplicaId(1), ReplicaId(2));
/// let mut x = Set::default();
/// x.add(a, 7)?;
/// let mut y = x.clone();
/// // Concurrently: a removes 7, b adds 7 again.
/// let rm = x.remove(&7)?;
/// let add = y.add(b, 7)?;
/// x.join(&add)?;
/// y.join(&rm)?;
/// assert_eq!(x, y);
/// assert!(x.contains(&7)); // the add wins
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
pub type AwSet<E, S> = Causal<AwSetStore<E, S>, S>;

/// The dot store of an [`AwSet`]: element to the dots of the adds that keep it present.
/// Use it as an [`crate::OrMap`] value through `AwSet<E, S>`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(
    transparent,
    bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>")
)]
pub struct AwSetStore<E: Ord + Clone + Debug, S: Storage>(DotMap<E, DotSet<S>, S>);

newtype_dot_store!(impl[E: Ord + Clone + Debug, S: Storage] AwSetStore<E, S>);

impl<E: Ord + Clone + Debug, S: Storage> AwSetStore<E, S> {
    /// `true` when `element` is in the set.
    pub fn contains(&self, element: &E) -> bool {
        self.0.contains_key(element)
    }
    /// The elements, in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &E> + '_ {
        self.0.iter().map(|(e, _)| e)
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// `true` when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Delta that adds `element`, made by `replica` under context `cx`.
    pub fn add_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        element: E,
    ) -> Result<Causal<Self, C>, CapacityError> {
        let dot = cx.next_dot(replica)?;
        let old = self.0.get(&element);
        let store = AwSetStore(DotMap::single(element, DotSet::single(dot, ())?)?);
        causal_delta(store, Some(dot), old)
    }
    /// Delta that removes `element` (the adds seen so far). Bottom if absent.
    pub fn remove_delta<C: Storage>(&self, element: &E) -> Result<Causal<Self, C>, CapacityError> {
        causal_delta(Self::default(), None, self.0.get(element))
    }
    /// Delta that removes every element seen so far.
    pub fn clear_delta<C: Storage>(&self) -> Result<Causal<Self, C>, CapacityError> {
        causal_delta(Self::default(), None, Some(&self.0))
    }
}

impl<E: Ord + Clone + Debug, S: Storage> AwSet<E, S> {
    /// Adds `element` as `replica`; returns the delta to send to other replicas.
    pub fn add(&mut self, replica: ReplicaId, element: E) -> Result<Self, CapacityError> {
        // Joining the delta ({element: {dot}}, context: the element's live dots and
        // `dot`) replaces the element's dots with `dot` (a dot is live under one element
        // only, so no other element changes) and records `dot`. Done directly, that is
        // one table update, where the join would look the element up again and merge
        // contexts; on failure everything is put back.
        let dot = self.context().next_dot(replica)?;
        let single = DotSet::single(dot, ())?;
        let (store, cx) = self.parts_mut();
        let old = store.0.replace_entry(element.clone(), single.clone())?;
        let applied = DotMap::single(element.clone(), single)
            .and_then(|map| causal_delta(AwSetStore(map), Some(dot), old.as_ref()))
            .and_then(|delta| cx.insert(dot).map(|()| delta));
        if applied.is_err() {
            match old {
                // The key is present (just written): replacing it cannot fail.
                Some(v) => drop(store.0.replace_entry(element, v)),
                None => drop(store.0.remove_entry(&element)),
            }
        }
        applied
    }
    /// Removes `element`; returns the delta.
    pub fn remove(&mut self, element: &E) -> Result<Self, CapacityError> {
        // Joining the delta drops exactly the live dots of `element` (a dot is live under
        // one element only) and adds nothing to the context, which has seen them all:
        // it removes the entry. Done directly, the removal costs a lookup, where the join
        // would scan every element to find the dots.
        let (store, _) = self.parts_mut();
        let old = store.0.remove_entry(element);
        let delta = causal_delta(AwSetStore::default(), None, old.as_ref());
        if let (Err(_), Some(v)) = (&delta, old) {
            // Back into the slot it just left: cannot fail.
            drop(store.0.replace_entry(element.clone(), v));
        }
        delta
    }
    /// Removes every element; returns the delta.
    pub fn clear(&mut self) -> Result<Self, CapacityError> {
        self.apply(|s, _| s.clear_delta())
    }
}

/// A remove-wins observed-remove set: an add concurrent with a remove of the same
/// element loses, and the element is absent.
///
/// Each add or remove writes a dot tagged add or remove, replacing the dots it has seen;
/// an element is present while all its live dots are adds. A remove therefore leaves a
/// small entry (one dot per concurrent remover) until a later add replaces it. In fixed
/// storage each element costs `size_of::<(E, DotFun<bool>)>()` bytes: for `u64` and
/// `R = 4`, 8 + 4 × 24 + 8 = 112 bytes on a 64-bit host, plus 24 bytes of dot cloud.
///
/// ```
/// use starling_core::{Fixed, Lattice, ReplicaId, RwSet};
/// type Set = RwSet<u32, Fixed<16, 4>>;
/// let (a, b) = (ReplicaId(1), ReplicaId(2));
/// let mut x = Set::default();
/// x.add(a, 7)?;
/// let mut y = x.clone();
/// let rm = x.remove(a, 7)?;
/// let add = y.add(b, 7)?;
/// x.join(&add)?;
/// y.join(&rm)?;
/// assert_eq!(x, y);
/// assert!(!x.contains(&7)); // the remove wins
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
pub type RwSet<E, S> = Causal<RwSetStore<E, S>, S>;

/// The dot store of an [`RwSet`]: element to its add (`true`) and remove (`false`) dots.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(
    transparent,
    bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>")
)]
pub struct RwSetStore<E: Ord + Clone + Debug, S: Storage>(DotMap<E, DotFun<bool, S>, S>);

newtype_dot_store!(impl[E: Ord + Clone + Debug, S: Storage] RwSetStore<E, S>);

impl<E: Ord + Clone + Debug, S: Storage> RwSetStore<E, S> {
    /// `true` when `element` is in the set.
    pub fn contains(&self, element: &E) -> bool {
        self.0.get(element).is_some_and(Self::present)
    }
    fn present(dots: &DotFun<bool, S>) -> bool {
        dots.iter().all(|(_, add)| *add)
    }
    /// The elements, in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &E> + '_ {
        self.0
            .iter()
            .filter(|(_, dots)| Self::present(dots))
            .map(|(e, _)| e)
    }
    /// Number of elements (counts entries: `O(entries)`).
    pub fn len(&self) -> usize {
        self.iter().count()
    }
    /// `true` when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
    fn write_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        element: E,
        add: bool,
    ) -> Result<Causal<Self, C>, CapacityError> {
        let dot = cx.next_dot(replica)?;
        let old = self.0.get(&element);
        let store = RwSetStore(DotMap::single(element, DotFun::single(dot, add)?)?);
        causal_delta(store, Some(dot), old)
    }
    /// Delta that adds `element`, made by `replica`.
    pub fn add_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        element: E,
    ) -> Result<Causal<Self, C>, CapacityError> {
        self.write_delta(cx, replica, element, true)
    }
    /// Delta that removes `element`, made by `replica`; it wins over concurrent adds.
    pub fn remove_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        element: E,
    ) -> Result<Causal<Self, C>, CapacityError> {
        self.write_delta(cx, replica, element, false)
    }
}

impl<E: Ord + Clone + Debug, S: Storage> RwSet<E, S> {
    /// Adds `element` as `replica`; returns the delta.
    pub fn add(&mut self, replica: ReplicaId, element: E) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.add_delta(cx, replica, element))
    }
    /// Removes `element` as `replica`; returns the delta.
    pub fn remove(&mut self, replica: ReplicaId, element: E) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.remove_delta(cx, replica, element))
    }
}
