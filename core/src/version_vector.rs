//! Version vectors: how many events of each replica a state includes.

use core::cmp::Ordering;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CapacityError;
use crate::storage::{SortedMap, Storage, map_serde};
use crate::{Dot, ReplicaId};

/// How two version vectors (or two causal histories) relate.
#[derive(Clone, Copy, Debug, PartialEq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CausalOrder {
    /// The left history is strictly included in the right one.
    Before,
    /// The left history strictly includes the right one.
    After,
    /// Both are the same history.
    Equal,
    /// Each has events the other lacks.
    Concurrent,
}

/// A version vector (vector clock): for each replica, the number of its events seen,
/// counting from 1 without gaps. Replicas absent from the table count as 0.
///
/// Entries cost `size_of::<(ReplicaId, u64)>()` = 16 bytes each; fixed storage holds
/// `R` of them.
///
/// ```
/// use starling_core::{CausalOrder, Fixed, ReplicaId, VersionVector};
/// let (a, b) = (ReplicaId(1), ReplicaId(2));
/// let mut x: VersionVector<Fixed<0, 4>> = VersionVector::new();
/// let mut y = x.clone();
/// x.increment(a)?;
/// y.increment(b)?;
/// assert_eq!(x.causal_order(&y), CausalOrder::Concurrent);
/// y.join(&x)?;
/// assert_eq!(x.causal_order(&y), CausalOrder::Before);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct VersionVector<S: Storage> {
    #[serde(with = "map_serde")]
    entries: S::Replicas<u64>,
}

impl<'de, S: Storage> Deserialize<'de> for VersionVector<S> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "")]
        struct Raw<S: Storage> {
            #[serde(with = "map_serde")]
            entries: S::Replicas<u64>,
        }
        let raw = Raw::<S>::deserialize(deserializer)?;
        let vv = VersionVector {
            entries: raw.entries,
        };
        if !vv.validate() {
            return Err(serde::de::Error::custom("zero count stored"));
        }
        Ok(vv)
    }
}

impl<S: Storage> fmt::Debug for VersionVector<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

impl<S: Storage> VersionVector<S> {
    /// The empty vector: no events seen.
    pub fn new() -> Self {
        VersionVector {
            entries: Default::default(),
        }
    }
    /// Events of `replica` seen (0 if none).
    pub fn get(&self, replica: ReplicaId) -> u64 {
        self.entries.get(&replica).copied().unwrap_or(0)
    }
    /// `true` when `dot` is among the events seen.
    pub fn contains(&self, dot: Dot) -> bool {
        dot.counter <= self.get(dot.replica)
    }
    /// Number of replicas with at least one event.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// `true` when no event has been seen.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// `(replica, events seen)` in replica order, zero entries omitted.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (ReplicaId, u64)> + '_ {
        self.entries.iter().map(|(r, n)| (*r, *n))
    }
    /// Records the next event of `replica` and returns its dot.
    pub fn increment(&mut self, replica: ReplicaId) -> Result<Dot, CapacityError> {
        let next = self.get(replica).checked_add(1).ok_or(CapacityError)?;
        self.set(replica, next)?;
        Ok(Dot::new(replica, next))
    }
    /// Sets the count of `replica` (0 removes the entry).
    pub fn set(&mut self, replica: ReplicaId, count: u64) -> Result<(), CapacityError> {
        if count == 0 {
            self.entries.remove(&replica);
        } else {
            self.entries.insert(replica, count)?;
        }
        Ok(())
    }
    /// Point-wise maximum. Fails whole, changing nothing, when the union of replicas
    /// does not fit.
    pub fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        let new = other
            .entries
            .iter()
            .filter(|(r, _)| !self.entries.contains_key(r))
            .count();
        if let Some(cap) = self.entries.capacity()
            && self.entries.len() + new > cap
        {
            return Err(CapacityError);
        }
        for (r, n) in other.iter() {
            if n > self.get(r) {
                self.entries.insert(r, n)?;
            }
        }
        Ok(())
    }
    /// `true` when every count here is at most the one in `other`.
    pub fn leq(&self, other: &Self) -> bool {
        self.iter().all(|(r, n)| n <= other.get(r))
    }
    /// Compares two causal histories.
    pub fn causal_order(&self, other: &Self) -> CausalOrder {
        match (self.leq(other), other.leq(self)) {
            (true, true) => CausalOrder::Equal,
            (true, false) => CausalOrder::Before,
            (false, true) => CausalOrder::After,
            (false, false) => CausalOrder::Concurrent,
        }
    }
    /// Total number of events seen, over all replicas (saturating).
    pub fn total(&self) -> u64 {
        self.iter().fold(0u64, |acc, (_, n)| acc.saturating_add(n))
    }
    pub(crate) fn validate(&self) -> bool {
        self.iter().all(|(_, n)| n > 0)
    }
}

impl<S: Storage> PartialOrd for VersionVector<S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.causal_order(other) {
            CausalOrder::Before => Some(Ordering::Less),
            CausalOrder::After => Some(Ordering::Greater),
            CausalOrder::Equal => Some(Ordering::Equal),
            CausalOrder::Concurrent => None,
        }
    }
}

impl<S: Storage> crate::Lattice for VersionVector<S> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        VersionVector::join(self, other)
    }
    fn leq(&self, other: &Self) -> bool {
        VersionVector::leq(self, other)
    }
}

#[cfg(feature = "defmt")]
impl<S: Storage> defmt::Format for VersionVector<S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "VersionVector({} replicas, {} events)",
            self.len(),
            self.total()
        );
    }
}

impl<S: Storage> Eq for VersionVector<S> {}
