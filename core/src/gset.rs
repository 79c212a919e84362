//! Grow-only and two-phase sets.

use core::fmt::{self, Debug};

use serde::{Deserialize, Serialize};

use crate::error::CapacityError;
use crate::lattice::Lattice;
use crate::storage::{SortedMap, Storage, set_serde};

/// A grow-only set: elements can be added, never removed.
///
/// Fixed storage holds `N` elements of `size_of::<E>()` bytes (plus padding to the
/// alignment of `E`).
///
/// ```
/// use starling_core::{Fixed, GSet, Lattice};
/// let mut x: GSet<u32, Fixed<8, 0>> = GSet::default();
/// let mut y = x.clone();
/// x.insert(1)?;
/// y.insert(2)?;
/// x.join(&y)?;
/// assert_eq!(x.iter().copied().collect::<Vec<_>>(), [1, 2]);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
pub struct GSet<E: Ord + Clone + Debug, S: Storage> {
    #[serde(with = "set_serde")]
    elements: S::Map<E, ()>,
}

impl<E: Ord + Clone + Debug, S: Storage> Default for GSet<E, S> {
    fn default() -> Self {
        GSet {
            elements: Default::default(),
        }
    }
}

impl<E: Ord + Clone + Debug, S: Storage> Debug for GSet<E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<E: Ord + Clone + Debug, S: Storage> GSet<E, S> {
    /// `true` when `element` is in the set.
    pub fn contains(&self, element: &E) -> bool {
        self.elements.contains_key(element)
    }
    /// The elements, in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &E> + '_ {
        self.elements.iter().map(|(e, ())| e)
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }
    /// `true` when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
    /// Delta that adds `element`.
    pub fn insert_delta(&self, element: E) -> Result<Self, CapacityError> {
        let mut delta = Self::default();
        delta.elements.insert(element, ())?;
        Ok(delta)
    }
    /// Adds `element`; returns the delta.
    pub fn insert(&mut self, element: E) -> Result<Self, CapacityError> {
        let delta = self.insert_delta(element)?;
        self.join(&delta)?;
        Ok(delta)
    }
    /// Number of elements of `other` missing here.
    fn missing_from(&self, other: &Self) -> usize {
        other.iter().filter(|e| !self.contains(e)).count()
    }
    fn fits(&self, new: usize) -> bool {
        self.elements
            .capacity()
            .is_none_or(|cap| self.len() + new <= cap)
    }
    fn union_unchecked(&mut self, other: &Self) -> Result<(), CapacityError> {
        for e in other.iter() {
            if !self.contains(e) {
                self.elements.insert(e.clone(), ())?;
            }
        }
        Ok(())
    }
}

impl<E: Ord + Clone + Debug, S: Storage> Lattice for GSet<E, S> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        if !self.fits(self.missing_from(other)) {
            return Err(CapacityError);
        }
        self.union_unchecked(other)
    }
    fn leq(&self, other: &Self) -> bool {
        self.iter().all(|e| other.contains(e))
    }
}

/// A two-phase set: an element can be added and then removed for good; once removed it
/// can never come back (the remove leaves a tombstone).
///
/// Fixed storage holds `N` added and `N` removed elements.
///
/// ```
/// use starling_core::{Fixed, Lattice, TwoPSet};
/// let mut x: TwoPSet<u32, Fixed<8, 0>> = TwoPSet::default();
/// x.insert(1)?;
/// x.remove(1)?;
/// x.insert(1)?; // too late: 1 is gone for good
/// assert!(!x.contains(&1));
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
pub struct TwoPSet<E: Ord + Clone + Debug, S: Storage> {
    added: GSet<E, S>,
    removed: GSet<E, S>,
}

impl<E: Ord + Clone + Debug, S: Storage> Default for TwoPSet<E, S> {
    fn default() -> Self {
        TwoPSet {
            added: GSet::default(),
            removed: GSet::default(),
        }
    }
}

impl<E: Ord + Clone + Debug, S: Storage> TwoPSet<E, S> {
    /// `true` when `element` was added and not removed.
    pub fn contains(&self, element: &E) -> bool {
        self.added.contains(element) && !self.removed.contains(element)
    }
    /// The elements present, in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &E> + '_ {
        self.added.iter().filter(|e| !self.removed.contains(e))
    }
    /// Number of elements present (`O(n)`).
    pub fn len(&self) -> usize {
        self.iter().count()
    }
    /// `true` when no element is present.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
    /// A two-phase set from its added and removed sets.
    pub fn from_parts(added: GSet<E, S>, removed: GSet<E, S>) -> Self {
        TwoPSet { added, removed }
    }
    /// Every element ever added (present or removed).
    pub fn added_set(&self) -> &GSet<E, S> {
        &self.added
    }
    /// Every element removed for good.
    pub fn removed_set(&self) -> &GSet<E, S> {
        &self.removed
    }
    /// The tombstones: elements removed for good.
    pub fn removed(&self) -> impl DoubleEndedIterator<Item = &E> + '_ {
        self.removed.iter()
    }
    /// Delta that adds `element`.
    pub fn insert_delta(&self, element: E) -> Result<Self, CapacityError> {
        Ok(TwoPSet {
            added: self.added.insert_delta(element)?,
            removed: GSet::default(),
        })
    }
    /// Delta that removes `element` for good (also when it was never added here: a
    /// later add, local or remote, cannot bring it back).
    pub fn remove_delta(&self, element: E) -> Result<Self, CapacityError> {
        Ok(TwoPSet {
            added: GSet::default(),
            removed: self.removed.insert_delta(element)?,
        })
    }
    /// Adds `element`; returns the delta.
    pub fn insert(&mut self, element: E) -> Result<Self, CapacityError> {
        let delta = self.insert_delta(element)?;
        self.join(&delta)?;
        Ok(delta)
    }
    /// Removes `element` for good; returns the delta.
    pub fn remove(&mut self, element: E) -> Result<Self, CapacityError> {
        let delta = self.remove_delta(element)?;
        self.join(&delta)?;
        Ok(delta)
    }
}

impl<E: Ord + Clone + Debug, S: Storage> Lattice for TwoPSet<E, S> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        if !self.added.fits(self.added.missing_from(&other.added))
            || !self.removed.fits(self.removed.missing_from(&other.removed))
        {
            return Err(CapacityError);
        }
        self.added.union_unchecked(&other.added)?;
        self.removed.union_unchecked(&other.removed)
    }
    fn leq(&self, other: &Self) -> bool {
        self.added.leq(&other.added) && self.removed.leq(&other.removed)
    }
}

impl<E: Ord + Clone + Debug, S: Storage> Eq for GSet<E, S> {}
impl<E: Ord + Clone + Debug, S: Storage> Eq for TwoPSet<E, S> {}

#[cfg(feature = "defmt")]
impl<E: Ord + Clone + Debug, S: Storage> defmt::Format for GSet<E, S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "GSet({=usize} elements)", self.len());
    }
}

#[cfg(feature = "defmt")]
impl<E: Ord + Clone + Debug, S: Storage> defmt::Format for TwoPSet<E, S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "TwoPSet({=usize} added, {=usize} removed)",
            self.added.len(),
            self.removed.len()
        );
    }
}
