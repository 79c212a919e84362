//! Causal contexts: the set of dots a state has seen, kept compact.

use core::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::CapacityError;
use crate::storage::{SortedMap, Storage, map_serde};
use crate::{Dot, ReplicaId, VersionVector};

/// The set of dots (events) a causal CRDT state has seen: a [`VersionVector`] for the
/// contiguous prefix of each replica's events, plus a *dot cloud* of events seen out of
/// order, held as ranges of consecutive counters. Whenever a cloud range becomes
/// contiguous with the vector it moves into it, so under causal delivery the cloud stays
/// empty, and a run of dots seen out of order costs one range, not one entry per dot.
///
/// In fixed storage the vector holds `R` replicas and the cloud `N` ranges (24 bytes
/// each on a 64-bit host).
///
/// ```
/// use starling_core::{CausalContext, Dot, Fixed, ReplicaId};
/// let r = ReplicaId(7);
/// let mut cx: CausalContext<Fixed<8, 4>> = CausalContext::new();
/// cx.insert(Dot::new(r, 3))?; // out of order: goes to the cloud
/// cx.insert(Dot::new(r, 4))?; // extends the same cloud range
/// assert_eq!(cx.cloud_len(), 1);
/// assert!(!cx.contains(Dot::new(r, 2)));
/// cx.insert(Dot::new(r, 1))?;
/// cx.insert(Dot::new(r, 2))?; // fills the gap: the range compacts into the vector
/// assert_eq!(cx.cloud_len(), 0);
/// assert_eq!(cx.version_vector().get(r), 4);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct CausalContext<S: Storage> {
    vv: VersionVector<S>,
    /// `(replica, first) -> last`: the dots `first..=last` of `replica`, disjoint,
    /// non-adjacent, all above `vv[replica] + 1`.
    #[serde(with = "map_serde")]
    cloud: S::Map<Dot, u64>,
}

impl<'de, S: Storage> Deserialize<'de> for CausalContext<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "")]
        struct Raw<S: Storage> {
            vv: VersionVector<S>,
            #[serde(with = "map_serde")]
            cloud: S::Map<Dot, u64>,
        }
        let raw = Raw::<S>::deserialize(deserializer)?;
        let cx = CausalContext {
            vv: raw.vv,
            cloud: raw.cloud,
        };
        if !cx.is_canonical() {
            return Err(D::Error::custom("causal context not compact"));
        }
        Ok(cx)
    }
}

impl<S: Storage> fmt::Debug for CausalContext<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Ranges<'a, M>(&'a M);
        impl<M: SortedMap<Key = Dot, Value = u64>> fmt::Debug for Ranges<'_, M> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(
                        self.0
                            .iter()
                            .map(|(d, last)| (d.replica, d.counter..=*last)),
                    )
                    .finish()
            }
        }
        f.debug_struct("CausalContext")
            .field("vv", &self.vv)
            .field("cloud", &Ranges(&self.cloud))
            .finish()
    }
}

impl<S: Storage> CausalContext<S> {
    /// The empty context: nothing seen.
    pub fn new() -> Self {
        Self::default()
    }
    /// The context that has seen exactly the events counted by `vv`.
    pub fn from_version_vector(vv: VersionVector<S>) -> Self {
        CausalContext {
            vv,
            cloud: Default::default(),
        }
    }
    /// The compact part: per replica, the events seen without gaps.
    pub fn version_vector(&self) -> &VersionVector<S> {
        &self.vv
    }
    /// Number of ranges of dots held outside the version vector (seen out of order).
    pub fn cloud_len(&self) -> usize {
        self.cloud.len()
    }
    /// The dots seen out of order, as `(replica, first..=last)` ranges in order.
    pub fn cloud(&self) -> impl Iterator<Item = (ReplicaId, core::ops::RangeInclusive<u64>)> + '_ {
        self.cloud
            .iter()
            .map(|(d, last)| (d.replica, d.counter..=*last))
    }
    /// `true` when nothing has been seen.
    pub fn is_empty(&self) -> bool {
        self.vv.is_empty() && self.cloud.is_empty()
    }
    /// The cloud range holding `dot`, as `(first, last)`.
    fn cloud_range_of(&self, dot: Dot) -> Option<(u64, u64)> {
        let (start, last) = self.cloud.floor(&dot)?;
        (start.replica == dot.replica && dot.counter <= *last).then_some((start.counter, *last))
    }
    /// `true` when `dot` has been seen.
    pub fn contains(&self, dot: Dot) -> bool {
        self.vv.contains(dot) || self.cloud_range_of(dot).is_some()
    }
    /// The highest event counter of `replica` seen, gaps or not.
    pub fn max_counter(&self, replica: ReplicaId) -> u64 {
        let cloud_max = match self.cloud.floor(&Dot::new(replica, u64::MAX)) {
            Some((start, last)) if start.replica == replica => *last,
            _ => 0,
        };
        self.vv.get(replica).max(cloud_max)
    }
    /// The dot `replica` should use for its next event: one past the highest seen.
    /// It is not recorded; join a delta carrying it (or call [`Self::insert`]).
    /// Fails when `replica` has used every counter up to `u64::MAX` (only a corrupt or
    /// hostile peer gets there): a write must never reuse a dot.
    pub fn next_dot(&self, replica: ReplicaId) -> Result<Dot, CapacityError> {
        let counter = self
            .max_counter(replica)
            .checked_add(1)
            .ok_or(CapacityError)?;
        Ok(Dot::new(replica, counter))
    }
    /// Total number of dots seen (saturating).
    pub fn dot_count(&self) -> u64 {
        self.ranges().fold(0u64, |acc, (_, first, last)| {
            acc.saturating_add((last - first).saturating_add(1))
        })
    }
    /// Every range of dots seen, `(replica, first, last)`: the version vector's prefixes,
    /// then the cloud.
    pub fn ranges(&self) -> impl Iterator<Item = (ReplicaId, u64, u64)> + '_ {
        self.vv.iter().map(|(r, n)| (r, 1, n)).chain(
            self.cloud
                .iter()
                .map(|(d, last)| (d.replica, d.counter, *last)),
        )
    }
    /// Every dot seen, replica by replica. Can be long: see [`Self::dot_count`].
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.ranges()
            .flat_map(|(r, first, last)| (first..=last).map(move |c| Dot::new(r, c)))
    }
    /// Records `dot` as seen, compacting. Fails, changing nothing, when out of room.
    pub fn insert(&mut self, dot: Dot) -> Result<(), CapacityError> {
        self.insert_range(dot.replica, dot.counter, dot.counter)
    }
    /// Records the dots `first..=last` of `replica` as seen, compacting. Fails, changing
    /// nothing, when out of room.
    pub fn insert_range(
        &mut self,
        replica: ReplicaId,
        first: u64,
        last: u64,
    ) -> Result<(), CapacityError> {
        let known = self.vv.get(replica);
        let Some(unseen) = known.checked_add(1) else {
            return Ok(()); // the vector holds every event of `replica`
        };
        let first = first.max(unseen);
        if last < first {
            return Ok(());
        }
        // Merge with every cloud range of `replica` that overlaps or touches first..=last.
        // Ranges are disjoint and do not touch each other, so those are consecutive in
        // key order: walk down from the last one starting at most `last + 1` (a few
        // lookups, not a pass over the cloud).
        let (mut lo, mut hi) = (first, last);
        let mut merged = 0usize;
        let mut probe = hi.saturating_add(1);
        while let Some((d, end)) = self.cloud.floor(&Dot::new(replica, probe)) {
            if d.replica != replica || *end < lo.saturating_sub(1) {
                break;
            }
            lo = lo.min(d.counter);
            hi = hi.max(*end);
            merged += 1;
            // Cloud ranges start above `unseen >= 1`.
            probe = d.counter - 1;
        }
        if lo == unseen {
            // Contiguous with the vector: the whole run moves into it.
            self.vv.set(replica, hi)?;
        } else if merged == 0 {
            self.cloud.insert(Dot::new(replica, lo), hi)?;
            return Ok(());
        }
        self.remove_cloud_ranges(replica, lo, hi);
        if lo != unseen {
            // The merged ranges were removed just above, so this insert has room.
            self.cloud.insert(Dot::new(replica, lo), hi)?;
        }
        Ok(())
    }
    /// Removes the cloud ranges of `replica` starting in `lo..=hi`.
    fn remove_cloud_ranges(&mut self, replica: ReplicaId, lo: u64, hi: u64) {
        while let Some((d, _)) = self.cloud.floor(&Dot::new(replica, hi)) {
            if d.replica != replica || d.counter < lo {
                break;
            }
            let start = *d;
            self.cloud.remove(&start);
        }
    }
    /// Union of the seen sets. Fails whole, changing nothing, when the result does not fit.
    pub fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        crate::storage::join_atomically::<_, S>(self, |cx| cx.join_in_place(other))
    }
    pub(crate) fn join_in_place(&mut self, other: &Self) -> Result<(), CapacityError> {
        self.vv.join(&other.vv)?;
        // The vector may have overtaken, or now touch, ranges of our cloud.
        for (r, _) in other.vv.iter() {
            self.absorb_cloud_into_vector(r)?;
        }
        for (d, last) in other.cloud.iter() {
            self.insert_range(d.replica, d.counter, *last)?;
        }
        Ok(())
    }
    /// Drops cloud ranges of `replica` covered by its vector entry and moves a range
    /// that now touches the entry into it.
    fn absorb_cloud_into_vector(&mut self, replica: ReplicaId) -> Result<(), CapacityError> {
        let known = self.vv.get(replica);
        // The ranges starting at most `known + 1` are covered by the vector or touch it;
        // the last of them ends highest (ranges are disjoint and do not touch).
        let reach = known.saturating_add(1);
        let top = match self.cloud.floor(&Dot::new(replica, reach)) {
            Some((d, last)) if d.replica == replica => known.max(*last),
            _ => return Ok(()),
        };
        if top > known {
            self.vv.set(replica, top)?;
        }
        self.remove_cloud_ranges(replica, 0, reach);
        Ok(())
    }
    /// `true` when the dots `first..=last` of `replica` have all been seen.
    pub fn contains_range(&self, replica: ReplicaId, first: u64, last: u64) -> bool {
        let Some(unseen) = self.vv.get(replica).checked_add(1) else {
            return true; // the vector holds every event of `replica`
        };
        let first = first.max(unseen);
        first > last
            || self
                .cloud_range_of(Dot::new(replica, first))
                .is_some_and(|(_, end)| end >= last)
    }
    /// `true` when every dot seen here was seen by `other`.
    pub fn leq(&self, other: &Self) -> bool {
        self.ranges()
            .all(|(r, first, last)| other.contains_range(r, first, last))
    }
    /// The dots seen here and not in `other`, as a context.
    pub fn difference(&self, other: &Self) -> Result<Self, CapacityError> {
        let mut out = Self::new();
        for (r, first, last) in self.ranges() {
            let mut c = first;
            while c <= last {
                // Skip what `other` has seen, then take the run it has not.
                if other.vv.contains(Dot::new(r, c)) {
                    let known = other.vv.get(r);
                    if known >= last {
                        break;
                    }
                    c = known + 1;
                    continue;
                }
                if let Some((_, end)) = other.cloud_range_of(Dot::new(r, c)) {
                    c = end.saturating_add(1);
                    if end == u64::MAX {
                        break;
                    }
                    continue;
                }
                let next_seen = other
                    .cloud
                    .iter()
                    .filter(|(d, _)| d.replica == r && d.counter > c)
                    .map(|(d, _)| d.counter)
                    .next()
                    .unwrap_or(u64::MAX);
                let run_end = last.min(next_seen.saturating_sub(1));
                out.insert_range(r, c, run_end)?;
                if run_end == u64::MAX {
                    break;
                }
                c = run_end + 1;
            }
        }
        Ok(out)
    }
    /// The part of this context about `replica` only.
    pub fn only_replica(&self, replica: ReplicaId) -> Result<Self, CapacityError> {
        let mut out = Self::new();
        for (r, first, last) in self.ranges().filter(|(r, _, _)| *r == replica) {
            out.insert_range(r, first, last)?;
        }
        Ok(out)
    }
    /// Compact form: vector counts above zero; cloud ranges non-empty, above the vector
    /// and not touching it, disjoint and not touching each other.
    fn is_canonical(&self) -> bool {
        if !self.vv.validate() {
            return false;
        }
        let mut prev: Option<(ReplicaId, u64)> = None;
        self.cloud.iter().all(|(d, last)| {
            let ok = *last >= d.counter
                && d.counter > self.vv.get(d.replica).saturating_add(1)
                && prev.is_none_or(|(r, end)| r != d.replica || d.counter > end.saturating_add(1));
            prev = Some((d.replica, *last));
            ok
        })
    }
}

impl<S: Storage> Eq for CausalContext<S> {}

impl<S: Storage> crate::Lattice for CausalContext<S> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        CausalContext::join(self, other)
    }
    fn leq(&self, other: &Self) -> bool {
        CausalContext::leq(self, other)
    }
}

#[cfg(feature = "defmt")]
impl<S: Storage> defmt::Format for CausalContext<S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "CausalContext({}, cloud {=usize})",
            self.vv,
            self.cloud.len()
        );
    }
}
