//! Causal contexts: the set of dots a state has seen, kept compact.

use core::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::CapacityError;
use crate::storage::{SortedMap, Storage, set_serde};
use crate::{Dot, ReplicaId, VersionVector};

/// The set of dots (events) a causal CRDT state has seen: a [`VersionVector`] for the
/// contiguous prefix of each replica's events plus a *dot cloud* of events seen out of
/// order. Whenever a cloud dot becomes contiguous with the vector it moves into it, so
/// under causal delivery the cloud stays empty.
///
/// In fixed storage the vector holds `R` replicas and the cloud `N` dots (16 bytes each).
///
/// ```
/// use starling_core::{CausalContext, Dot, Fixed, ReplicaId};
/// let r = ReplicaId(7);
/// let mut cx: CausalContext<Fixed<8, 4>> = CausalContext::new();
/// cx.insert(Dot::new(r, 2))?; // out of order: goes to the cloud
/// assert_eq!(cx.cloud_len(), 1);
/// cx.insert(Dot::new(r, 1))?; // fills the gap: compacts into the vector
/// assert_eq!(cx.cloud_len(), 0);
/// assert_eq!(cx.version_vector().get(r), 2);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct CausalContext<S: Storage> {
    vv: VersionVector<S>,
    #[serde(with = "set_serde")]
    cloud: S::Map<Dot, ()>,
}

impl<'de, S: Storage> Deserialize<'de> for CausalContext<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "")]
        struct Raw<S: Storage> {
            vv: VersionVector<S>,
            #[serde(with = "set_serde")]
            cloud: S::Map<Dot, ()>,
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
        f.debug_struct("CausalContext")
            .field("vv", &self.vv)
            .field("cloud", &DotList(&self.cloud))
            .finish()
    }
}

struct DotList<'a, M>(&'a M);
impl<M: SortedMap<Key = Dot, Value = ()>> fmt::Debug for DotList<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(d, ())| d))
            .finish()
    }
}

impl<S: Storage> CausalContext<S> {
    /// The empty context: nothing seen.
    pub fn new() -> Self {
        Self::default()
    }
    /// The compact part: per replica, the events seen without gaps.
    pub fn version_vector(&self) -> &VersionVector<S> {
        &self.vv
    }
    /// Number of dots held outside the version vector (seen out of order).
    pub fn cloud_len(&self) -> usize {
        self.cloud.len()
    }
    /// Dots seen out of order, in order.
    pub fn cloud(&self) -> impl Iterator<Item = Dot> + '_ {
        self.cloud.iter().map(|(d, ())| *d)
    }
    /// `true` when nothing has been seen.
    pub fn is_empty(&self) -> bool {
        self.vv.is_empty() && self.cloud.is_empty()
    }
    /// `true` when `dot` has been seen.
    pub fn contains(&self, dot: Dot) -> bool {
        self.vv.contains(dot) || self.cloud.contains_key(&dot)
    }
    /// The highest event counter of `replica` seen, gaps or not.
    pub fn max_counter(&self, replica: ReplicaId) -> u64 {
        let cloud_max = self
            .cloud
            .iter()
            .rev()
            .find(|(d, ())| d.replica <= replica)
            .filter(|(d, ())| d.replica == replica)
            .map_or(0, |(d, ())| d.counter);
        self.vv.get(replica).max(cloud_max)
    }
    /// The dot `replica` should use for its next event: one past the highest seen.
    /// It is not recorded; join a delta carrying it (or call [`Self::insert`]).
    pub fn next_dot(&self, replica: ReplicaId) -> Dot {
        Dot::new(replica, self.max_counter(replica).saturating_add(1))
    }
    /// Total number of dots seen (saturating).
    pub fn dot_count(&self) -> u64 {
        self.vv.total().saturating_add(self.cloud.len() as u64)
    }
    /// Every dot seen, replica by replica. Can be long: see [`Self::dot_count`].
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.vv
            .iter()
            .flat_map(|(r, n)| (1..=n).map(move |c| Dot::new(r, c)))
            .chain(self.cloud())
    }
    /// Records `dot` as seen, compacting. Fails, changing nothing, when out of room.
    pub fn insert(&mut self, dot: Dot) -> Result<(), CapacityError> {
        if self.contains(dot) || dot.counter == 0 {
            return Ok(());
        }
        if Some(dot.counter) == self.vv.get(dot.replica).checked_add(1) {
            self.vv.set(dot.replica, dot.counter)?;
            self.compact_replica(dot.replica)
        } else {
            self.cloud.insert(dot, ()).map(drop)
        }
    }
    /// Union of the seen sets. Fails whole, changing nothing, when the result does not fit.
    pub fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        crate::storage::join_atomically::<_, S>(self, |cx| cx.join_in_place(other))
    }
    pub(crate) fn join_in_place(&mut self, other: &Self) -> Result<(), CapacityError> {
        self.vv.join(&other.vv)?;
        for d in other.cloud() {
            if !self.vv.contains(d) {
                self.cloud.insert(d, ())?;
            }
        }
        // Our own cloud may now be covered by, or contiguous with, the joined vector.
        let vv = &self.vv;
        self.cloud.retain(|d, ()| !vv.contains(*d));
        for (r, _) in other.vv.iter() {
            self.compact_replica(r)?;
        }
        for d in other.cloud() {
            self.compact_replica(d.replica)?;
        }
        Ok(())
    }
    /// Moves the cloud dots of `replica` that extend its vector entry into the vector.
    /// Fails, changing nothing, only if the entry is new and the vector is full.
    fn compact_replica(&mut self, replica: ReplicaId) -> Result<(), CapacityError> {
        let start = self.vv.get(replica);
        let mut n = start;
        while let Some(next) = n.checked_add(1)
            && self.cloud.contains_key(&Dot::new(replica, next))
        {
            n = next;
        }
        if n > start {
            self.vv.set(replica, n)?;
            self.cloud
                .retain(|d, ()| d.replica != replica || d.counter > n);
        }
        Ok(())
    }
    /// `true` when every dot seen here was seen by `other`.
    pub fn leq(&self, other: &Self) -> bool {
        self.vv.iter().all(|(r, n)| {
            let m = other.vv.get(r);
            n <= m || ((m + 1)..=n).all(|c| other.cloud.contains_key(&Dot::new(r, c)))
        }) && self.cloud().all(|d| other.contains(d))
    }
    /// Compact form: no cloud dot is covered by, or next to, the vector.
    fn is_canonical(&self) -> bool {
        self.vv.validate()
            && self
                .cloud()
                .all(|d| d.counter > self.vv.get(d.replica) + 1 && d.counter > 0)
    }
}

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
        defmt::write!(f, "CausalContext({}, cloud {})", self.vv, self.cloud.len());
    }
}

impl<S: Storage> Eq for CausalContext<S> {}
