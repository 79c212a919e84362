//! Registers: multi-value and last-writer-wins.

use core::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::dot_store::{Causal, DotFun, Embed, causal_delta};
use crate::error::CapacityError;
use crate::lattice::Lattice;
use crate::macros::newtype_dot_store;
use crate::storage::Storage;
use crate::{CausalContext, HlcTimestamp, ReplicaId};

/// A multi-value register: a write replaces every value it has seen; concurrent writes
/// are all kept, and a reader sees each of them, until a later write replaces them.
///
/// In fixed storage it holds up to `R` concurrent values of
/// `size_of::<(ReplicaId, (u64, V))>()` bytes each.
///
/// ```
/// use starling_core::{Fixed, Lattice, MvRegister, ReplicaId};
/// type Reg = MvRegister<&'static str, Fixed<4, 4>>;
/// let (a, b) = (ReplicaId(1), ReplicaId(2));
/// let mut x = Reg::default();
/// let mut y = Reg::default();
/// x.write(a, "red")?;
/// y.write(b, "blue")?;
/// x.join(&y)?;
/// assert_eq!(x.values().count(), 2); // both concurrent writes kept
/// x.write(a, "green")?;               // a later write replaces both
/// assert_eq!(x.values().collect::<Vec<_>>(), [&"green"]);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
pub type MvRegister<V, S> = Causal<MvRegisterStore<V, S>, S>;

/// The dot store of an [`MvRegister`]: one value per live write.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(
    transparent,
    bound(serialize = "V: Serialize", deserialize = "V: Deserialize<'de>")
)]
pub struct MvRegisterStore<V: Clone + PartialEq + Debug, S: Storage>(DotFun<V, S>);

newtype_dot_store!(impl[V: Clone + PartialEq + Debug, S: Storage] MvRegisterStore<V, S>);

impl<V: Clone + PartialEq + Debug, S: Storage> MvRegisterStore<V, S> {
    /// The current values: one per concurrent write (none before the first write).
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.0.iter().map(|(_, v)| v)
    }
    /// The current values with the replica that wrote each.
    pub fn values_by_replica(&self) -> impl DoubleEndedIterator<Item = (ReplicaId, &V)> + '_ {
        self.0.iter().map(|(d, v)| (d.replica, v))
    }
    /// `true` when there are concurrent values.
    pub fn is_conflicted(&self) -> bool {
        self.0.len() > 1
    }
    /// Delta that writes `value` as `replica`, replacing every value seen.
    pub fn write_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        value: V,
    ) -> Result<Causal<Self, C>, CapacityError> {
        let dot = cx.next_dot(replica)?;
        let store = MvRegisterStore(DotFun::single(dot, value)?);
        causal_delta(store, Some(dot), Some(&self.0))
    }
    /// Delta that clears the register (removes every value seen).
    pub fn clear_delta<C: Storage>(&self) -> Result<Causal<Self, C>, CapacityError> {
        causal_delta(Self::default(), None, Some(&self.0))
    }
}

impl<V: Clone + PartialEq + Debug, S: Storage> MvRegister<V, S> {
    /// Writes `value` as `replica`; returns the delta.
    pub fn write(&mut self, replica: ReplicaId, value: V) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.write_delta(cx, replica, value))
    }
    /// Clears the register; returns the delta.
    pub fn clear(&mut self) -> Result<Self, CapacityError> {
        self.apply(|s, _| s.clear_delta())
    }
}

/// A last-writer-wins register: the write with the greatest stamp wins, where a stamp is
/// a timestamp `T` (by default a [`HlcTimestamp`]; a Lamport time `u64` works too) with
/// the writer's [`ReplicaId`] breaking ties.
///
/// Stamps must be unique per write: take them from a [`crate::HybridClock`] (or
/// [`crate::LamportClock`]) owned by the writing replica, which never hands out the
/// same timestamp twice. Two different values under the same stamp would break
/// convergence; the join then keeps the value it already has.
///
/// No storage parameter: the register holds one `(T, ReplicaId, V)` entry. Inside an
/// [`crate::OrMap`] it is held as an [`LwwStore`], whose concurrent writes are resolved
/// by the same rule.
///
/// ```
/// use starling_core::{HybridClock, Lattice, LwwRegister, ReplicaId};
/// let (a, b) = (ReplicaId(1), ReplicaId(2));
/// let (mut clock_a, mut clock_b) = (HybridClock::new(), HybridClock::new());
/// let mut x: LwwRegister<f32> = LwwRegister::default();
/// let mut y = x.clone();
/// x.set(a, clock_a.now(1_000), 20.5);
/// y.set(b, clock_b.now(1_007), 21.0); // later wall time wins
/// x.join(&y)?;
/// assert_eq!(x.value(), Some(&21.0));
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "V: Serialize, T: Serialize",
    deserialize = "V: Deserialize<'de>, T: Deserialize<'de>"
))]
pub struct LwwRegister<V, T = HlcTimestamp> {
    entry: Option<(T, ReplicaId, V)>,
}

impl<V, T> Default for LwwRegister<V, T> {
    fn default() -> Self {
        LwwRegister { entry: None }
    }
}

impl<V: Clone + PartialEq + Debug, T: Ord + Copy + Debug> LwwRegister<V, T> {
    /// The winning value, if any write happened.
    pub fn value(&self) -> Option<&V> {
        self.entry.as_ref().map(|(_, _, v)| v)
    }
    /// The stamp of the winning write.
    pub fn stamp(&self) -> Option<(T, ReplicaId)> {
        self.entry.as_ref().map(|(t, r, _)| (*t, *r))
    }
    /// Delta that writes `value` as `replica` at `timestamp`.
    pub fn set_delta(&self, replica: ReplicaId, timestamp: T, value: V) -> Self {
        LwwRegister {
            entry: Some((timestamp, replica, value)),
        }
    }
    /// Writes `value` as `replica` at `timestamp` (it loses to a write with a greater
    /// stamp already present); returns the delta.
    pub fn set(&mut self, replica: ReplicaId, timestamp: T, value: V) -> Self {
        let delta = self.set_delta(replica, timestamp, value);
        self.join_entry(&delta);
        delta
    }
    fn join_entry(&mut self, other: &Self) {
        if let Some((t, r, v)) = &other.entry
            && self.stamp().is_none_or(|mine| (*t, *r) > mine)
        {
            self.entry = Some((*t, *r, v.clone()));
        }
    }
}

impl<V: Clone + PartialEq + Debug, T: Ord + Copy + Debug> Lattice for LwwRegister<V, T> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        self.join_entry(other);
        Ok(())
    }
    fn leq(&self, other: &Self) -> bool {
        match (&self.entry, &other.entry) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((t1, r1, v1)), Some((t2, r2, v2))) => {
                (t1, r1) < (t2, r2) || ((t1, r1) == (t2, r2) && v1 == v2)
            }
        }
    }
}

/// The form of an [`LwwRegister`] inside an [`crate::OrMap`]: each live write carries
/// its stamp, and the value read is the one with the greatest `(timestamp, replica)`.
/// A write replaces every write it has seen, so normally one entry is live.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(
    transparent,
    bound(
        serialize = "V: Serialize, T: Serialize",
        deserialize = "V: Deserialize<'de>, T: Deserialize<'de>"
    )
)]
pub struct LwwStore<V: Clone + PartialEq + Debug, T: Ord + Copy + Debug, S: Storage>(
    DotFun<(T, V), S>,
);

newtype_dot_store!(impl[V: Clone + PartialEq + Debug, T: Ord + Copy + Debug, S: Storage] LwwStore<V, T, S>);

impl<V: Clone + PartialEq + Debug, T: Ord + Copy + Debug, S: Storage> LwwStore<V, T, S> {
    fn winner(&self) -> Option<(T, ReplicaId, &V)> {
        self.0
            .iter()
            .map(|(d, (t, v))| (*t, d.replica, v))
            .max_by_key(|(t, r, _)| (*t, *r))
    }
    /// The winning value.
    pub fn value(&self) -> Option<&V> {
        self.winner().map(|(_, _, v)| v)
    }
    /// The stamp of the winning value.
    pub fn stamp(&self) -> Option<(T, ReplicaId)> {
        self.winner().map(|(t, r, _)| (t, r))
    }
    /// Delta that writes `value` as `replica` at `timestamp`, replacing what it has seen.
    pub fn set_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        timestamp: T,
        value: V,
    ) -> Result<Causal<Self, C>, CapacityError> {
        let dot = cx.next_dot(replica)?;
        let store = LwwStore(DotFun::single(dot, (timestamp, value))?);
        causal_delta(store, Some(dot), Some(&self.0))
    }
}

impl<V: Clone + PartialEq + Debug, T: Ord + Copy + Debug, S: Storage> Embed<S>
    for LwwRegister<V, T>
{
    type Store = LwwStore<V, T, S>;
}

#[cfg(feature = "defmt")]
impl<V: defmt::Format, T: defmt::Format> defmt::Format for LwwRegister<V, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match &self.entry {
            Some((t, r, v)) => defmt::write!(f, "LwwRegister({} @ {} by {})", v, t, r),
            None => defmt::write!(f, "LwwRegister(empty)"),
        }
    }
}
