//! Causal contexts: the set of dots a state has seen, kept compact.

use core::fmt;

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::CapacityError;
use crate::storage::{PushError, SortedMap, Storage};
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
#[derive(Clone, Default, PartialEq)]
pub struct CausalContext<S: Storage> {
    vv: VersionVector<S>,
    /// `(replica, first) -> last`: the dots `first..=last` of `replica`, disjoint,
    /// non-adjacent, all above `vv[replica] + 1`.
    cloud: S::Map<Dot, u64>,
}

// Wire format: the version vector, then the cloud grouped by replica, each range as two
// small numbers relative to what precedes it (see docs/wire-format.md):
//   seq of (replica, seq of (gap, extra)), replicas ascending, no empty group;
//   first = base + gap, last = first + extra, where base is vv[replica] + 2 for a
//   replica's first range and the previous range's last + 2 after it.
// Every such encoding is compact by construction; deltas of overwrites carry many
// scattered dots, and this takes about 2 bytes per range instead of 5 or more.

/// The base a replica's next cloud range is encoded against.
fn range_base(after: u64) -> Option<u64> {
    after.checked_add(2)
}

impl<S: Storage> Serialize for CausalContext<S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut t = serializer.serialize_tuple(2)?;
        t.serialize_element(&self.vv)?;
        t.serialize_element(&CloudGroups(self))?;
        t.end()
    }
}

/// The cloud as a sequence of per-replica groups.
struct CloudGroups<'a, S: Storage>(&'a CausalContext<S>);

/// One replica's cloud ranges, relative encoding.
struct CloudGroup<'a, S: Storage> {
    cx: &'a CausalContext<S>,
    replica: ReplicaId,
}

impl<S: Storage> CausalContext<S> {
    /// The replicas with cloud ranges, ascending (each once).
    fn cloud_replicas(&self) -> impl Iterator<Item = ReplicaId> + '_ {
        let mut prev = None;
        self.cloud.iter().filter_map(move |(d, _)| {
            let new = prev != Some(d.replica);
            prev = Some(d.replica);
            new.then_some(d.replica)
        })
    }
}

impl<S: Storage> Serialize for CloudGroups<'_, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let cx = self.0;
        let mut seq = serializer.serialize_seq(Some(cx.cloud_replicas().count()))?;
        for replica in cx.cloud_replicas() {
            seq.serialize_element(&CloudGroup { cx, replica })?;
        }
        seq.end()
    }
}

impl<S: Storage> Serialize for CloudGroup<'_, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        struct Ranges<'a, S: Storage>(&'a CloudGroup<'a, S>);
        impl<S: Storage> Serialize for Ranges<'_, S> {
            fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
                let CloudGroup { cx, replica } = *self.0;
                let ranges = || cx.cloud.iter().filter(move |(d, _)| d.replica == replica);
                let mut seq = serializer.serialize_seq(Some(ranges().count()))?;
                let mut after = cx.vv.get(replica);
                for (d, last) in ranges() {
                    // Compact contexts keep first >= base: no underflow.
                    let base = range_base(after).unwrap_or(u64::MAX);
                    seq.serialize_element(&(d.counter - base, *last - d.counter))?;
                    after = *last;
                }
                seq.end()
            }
        }
        let mut t = serializer.serialize_tuple(2)?;
        t.serialize_element(&self.replica)?;
        t.serialize_element(&Ranges(self))?;
        t.end()
    }
}

impl<'de, S: Storage> Deserialize<'de> for CausalContext<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContextVisitor<S>(core::marker::PhantomData<S>);
        impl<'de, S: Storage> Visitor<'de> for ContextVisitor<S> {
            type Value = CausalContext<S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a causal context: a version vector, then cloud ranges")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let vv: VersionVector<S> = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let mut cloud = S::Map::<Dot, u64>::default();
                seq.next_element_seed(GroupsSeed {
                    vv: &vv,
                    cloud: &mut cloud,
                })?
                .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                cloud.finish_ordered();
                let cx = CausalContext { vv, cloud };
                if !cx.is_canonical() {
                    return Err(A::Error::custom("causal context not compact"));
                }
                Ok(cx)
            }
        }
        deserializer.deserialize_tuple(2, ContextVisitor(core::marker::PhantomData))
    }
}

/// Decodes the cloud groups into `cloud`.
struct GroupsSeed<'a, S: Storage> {
    vv: &'a VersionVector<S>,
    cloud: &'a mut S::Map<Dot, u64>,
}

impl<'de, S: Storage> DeserializeSeed<'de> for GroupsSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S: Storage> Visitor<'de> for GroupsSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cloud ranges grouped by replica")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut prev: Option<ReplicaId> = None;
        while let Some(replica) = seq.next_element_seed(GroupSeed {
            vv: self.vv,
            cloud: &mut *self.cloud,
        })? {
            // One group per replica, ascending: the encoding stays canonical.
            if prev.is_some_and(|p| p >= replica) {
                return Err(A::Error::custom("cloud groups out of canonical order"));
            }
            prev = Some(replica);
        }
        Ok(())
    }
}

/// Decodes one replica's group: `(replica, ranges)`.
struct GroupSeed<'a, S: Storage> {
    vv: &'a VersionVector<S>,
    cloud: &'a mut S::Map<Dot, u64>,
}

impl<'de, S: Storage> DeserializeSeed<'de> for GroupSeed<'_, S> {
    type Value = ReplicaId;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ReplicaId, D::Error> {
        deserializer.deserialize_tuple(2, self)
    }
}

impl<'de, S: Storage> Visitor<'de> for GroupSeed<'_, S> {
    type Value = ReplicaId;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a replica and its cloud ranges")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReplicaId, A::Error> {
        let replica: ReplicaId = seq
            .next_element()?
            .ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let after = self.vv.get(replica);
        seq.next_element_seed(RangesSeed {
            replica,
            after,
            cloud: self.cloud,
        })?
        .ok_or_else(|| A::Error::invalid_length(1, &self))?;
        Ok(replica)
    }
}

/// Decodes one replica's ranges, `(gap, extra)` each.
struct RangesSeed<'a, M> {
    replica: ReplicaId,
    after: u64,
    cloud: &'a mut M,
}

impl<'de, M: SortedMap<Key = Dot, Value = u64>> DeserializeSeed<'de> for RangesSeed<'_, M> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, M: SortedMap<Key = Dot, Value = u64>> Visitor<'de> for RangesSeed<'_, M> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-empty sequence of (gap, extra) ranges")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut ranges = 0usize;
        while let Some((gap, extra)) = seq.next_element::<(u64, u64)>()? {
            let first = range_base(self.after).and_then(|base| base.checked_add(gap));
            let last = first.and_then(|first| first.checked_add(extra));
            let (Some(first), Some(last)) = (first, last) else {
                return Err(A::Error::custom("cloud range beyond the counter range"));
            };
            self.cloud
                .push_ordered(Dot::new(self.replica, first), last)
                .map_err(|e| match e {
                    PushError::OutOfOrder => A::Error::custom("replicas out of canonical order"),
                    PushError::Full => A::Error::custom("more cloud ranges than the capacity"),
                })?;
            self.after = last;
            ranges += 1;
        }
        if ranges == 0 {
            return Err(A::Error::custom("empty cloud group"));
        }
        Ok(())
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
    ///
    /// Takes `O((n + m) log m)` lookups for `n` ranges here and `m` ranges of `other`
    /// overlapping them. Fails, with nothing returned, when the result does not fit.
    pub fn difference(&self, other: &Self) -> Result<Self, CapacityError> {
        let mut out = Self::new();
        for (r, first, last) in self.ranges() {
            // What `other`'s vector covers is seen; the rest, `lo..=hi`, is cut by
            // `other`'s cloud ranges, walked from the top down (each step lowers `hi`,
            // so the walk ends, whatever the counters, `u64::MAX` included).
            let Some(unseen) = other.vv.get(r).checked_add(1) else {
                continue; // `other` has seen every event of `r`
            };
            let lo = first.max(unseen);
            let mut hi = last;
            if lo > hi {
                continue;
            }
            loop {
                match other.cloud.floor(&Dot::new(r, hi)) {
                    Some((start, end)) if start.replica == r && *end >= lo => {
                        if *end < hi {
                            // `end < hi <= u64::MAX`: no overflow.
                            out.insert_range(r, *end + 1, hi)?;
                        }
                        if start.counter <= lo {
                            break;
                        }
                        // `start.counter > lo >= 1`: no underflow.
                        hi = start.counter - 1;
                    }
                    _ => {
                        out.insert_range(r, lo, hi)?;
                        break;
                    }
                }
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
