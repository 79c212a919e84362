//! Counters: grow-only, positive-negative, and the causal counter used inside maps.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::dot_store::{Causal, DotFun, Embed, causal_delta};
use crate::error::CapacityError;
use crate::lattice::Lattice;
use crate::macros::newtype_dot_store;
use crate::storage::{SortedMap, Storage, map_serde};
use crate::{CausalContext, ReplicaId};

/// A grow-only counter: each replica counts its own increments; the value is the sum.
///
/// Fixed storage holds `R` replicas at 16 bytes each.
///
/// ```
/// use starling_core::{Fixed, GCounter, Lattice, ReplicaId};
/// let mut x: GCounter<Fixed<0, 4>> = GCounter::default();
/// let mut y = x.clone();
/// x.increment(ReplicaId(1), 2)?;
/// let delta = y.increment(ReplicaId(2), 3)?;
/// x.join(&delta)?;
/// assert_eq!(x.value(), 5);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct GCounter<S: Storage> {
    #[serde(with = "map_serde")]
    counts: S::Replicas<u64>,
}

impl<'de, S: Storage> Deserialize<'de> for GCounter<S> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "")]
        struct Raw<S: Storage> {
            #[serde(with = "map_serde")]
            counts: S::Replicas<u64>,
        }
        let raw = Raw::<S>::deserialize(deserializer)?;
        let counter = GCounter { counts: raw.counts };
        if !counter.validate() {
            return Err(serde::de::Error::custom("zero count stored"));
        }
        Ok(counter)
    }
}

impl<S: Storage> fmt::Debug for GCounter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.counts.iter()).finish()
    }
}

impl<S: Storage> GCounter<S> {
    /// The sum over all replicas (saturating at `u64::MAX`).
    pub fn value(&self) -> u64 {
        self.counts
            .iter()
            .fold(0u64, |acc, (_, n)| acc.saturating_add(*n))
    }
    /// The increments made by `replica`.
    pub fn get(&self, replica: ReplicaId) -> u64 {
        self.counts.get(&replica).copied().unwrap_or(0)
    }
    /// Per-replica counts, in replica order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (ReplicaId, u64)> + '_ {
        self.counts.iter().map(|(r, n)| (*r, *n))
    }
    /// Delta that adds `amount` as `replica` (saturating; 0 gives the bottom).
    pub fn increment_delta(&self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        let mut delta = Self::default();
        if amount > 0 {
            delta
                .counts
                .insert(replica, self.get(replica).saturating_add(amount))?;
        }
        Ok(delta)
    }
    /// Adds `amount` as `replica`; returns the delta.
    pub fn increment(&mut self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        let delta = self.increment_delta(replica, amount)?;
        self.join(&delta)?;
        Ok(delta)
    }
    fn validate(&self) -> bool {
        self.counts.iter().all(|(_, n)| *n > 0)
    }
    /// A counter holding just `count` for `replica` (bottom for 0).
    pub(crate) fn increment_delta_to(
        &self,
        replica: ReplicaId,
        count: u64,
    ) -> Result<Self, CapacityError> {
        let mut delta = Self::default();
        if count > 0 {
            delta.counts.insert(replica, count)?;
        }
        Ok(delta)
    }
}

impl<S: Storage> Lattice for GCounter<S> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        let new = other
            .counts
            .iter()
            .filter(|(r, _)| !self.counts.contains_key(r))
            .count();
        if let Some(cap) = self.counts.capacity()
            && self.counts.len() + new > cap
        {
            return Err(CapacityError);
        }
        for (r, n) in other.counts.iter() {
            if *n > self.get(*r) {
                self.counts.insert(*r, *n)?;
            }
        }
        Ok(())
    }
    fn leq(&self, other: &Self) -> bool {
        self.counts.iter().all(|(r, n)| *n <= other.get(*r))
    }
}

/// A counter that goes up and down: a pair of grow-only counters.
///
/// ```
/// use starling_core::{Fixed, Lattice, PNCounter, ReplicaId};
/// let mut x: PNCounter<Fixed<0, 4>> = PNCounter::default();
/// x.increment(ReplicaId(1), 5)?;
/// x.decrement(ReplicaId(2), 7)?;
/// assert_eq!(x.value(), -2);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct PNCounter<S: Storage> {
    increments: GCounter<S>,
    decrements: GCounter<S>,
}

impl<S: Storage> PNCounter<S> {
    /// Increments minus decrements, saturating to the `i64` range.
    pub fn value(&self) -> i64 {
        saturate(i128::from(self.increments.value()) - i128::from(self.decrements.value()))
    }
    /// A counter from its increments and decrements.
    pub fn from_parts(increments: GCounter<S>, decrements: GCounter<S>) -> Self {
        PNCounter {
            increments,
            decrements,
        }
    }
    /// The grow-only counter of increments.
    pub fn increments(&self) -> &GCounter<S> {
        &self.increments
    }
    /// The grow-only counter of decrements.
    pub fn decrements(&self) -> &GCounter<S> {
        &self.decrements
    }
    /// Delta that adds `amount` as `replica`.
    pub fn increment_delta(&self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        Ok(PNCounter {
            increments: self.increments.increment_delta(replica, amount)?,
            decrements: GCounter::default(),
        })
    }
    /// Delta that subtracts `amount` as `replica`.
    pub fn decrement_delta(&self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        Ok(PNCounter {
            increments: GCounter::default(),
            decrements: self.decrements.increment_delta(replica, amount)?,
        })
    }
    /// Adds `amount` as `replica`; returns the delta.
    pub fn increment(&mut self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        let delta = self.increment_delta(replica, amount)?;
        self.join(&delta)?;
        Ok(delta)
    }
    /// Subtracts `amount` as `replica`; returns the delta.
    pub fn decrement(&mut self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        let delta = self.decrement_delta(replica, amount)?;
        self.join(&delta)?;
        Ok(delta)
    }
}

impl<S: Storage> Lattice for PNCounter<S> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        // Both halves must fit before either changes.
        let mut increments = self.increments.clone();
        increments.join(&other.increments)?;
        self.decrements.join(&other.decrements)?;
        self.increments = increments;
        Ok(())
    }
    fn leq(&self, other: &Self) -> bool {
        self.increments.leq(&other.increments) && self.decrements.leq(&other.decrements)
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// A counter whose per-replica totals are dots, so it can live in an [`crate::OrMap`]
/// and be reset by removing its key (the form of [`GCounter`] and [`PNCounter`] values
/// there).
///
/// Each replica's dot carries its running total since it last saw a reset of its own
/// entry. A reset removes the totals it has seen; a replica that increments concurrently
/// with a reset carries its whole running total in its new dot, so that total survives
/// the reset (reset wins over what it saw, an increment it did not see restores the
/// incrementer's count). Replicas that saw the reset count from zero again.
///
/// Standalone, it behaves as a [`PNCounter`] that can also be [`reset`](CausalCounter::reset).
///
/// ```
/// use starling_core::{CausalCounter, Fixed, ReplicaId};
/// let mut c: CausalCounter<Fixed<4, 4>> = CausalCounter::default();
/// c.increment(ReplicaId(1), 3)?;
/// c.decrement(ReplicaId(1), 1)?;
/// assert_eq!(c.value(), 2);
/// c.reset()?;
/// assert_eq!(c.value(), 0);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
pub type CausalCounter<S> = Causal<CounterStore<S>, S>;

/// The dot store of a [`CausalCounter`]: per replica, one dot carrying its running
/// `(increments, decrements)`. Fixed storage holds `R` entries of 32 bytes.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(transparent, bound = "")]
pub struct CounterStore<S: Storage>(DotFun<(u64, u64), S>);

newtype_dot_store!(impl[S: Storage] CounterStore<S>);

impl<S: Storage> CounterStore<S> {
    /// Increments minus decrements, saturating to the `i64` range.
    pub fn value(&self) -> i64 {
        let (p, n) = self.0.iter().fold((0i128, 0i128), |(p, n), (_, (a, b))| {
            (p + i128::from(*a), n + i128::from(*b))
        });
        saturate(p - n)
    }
    fn add_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        up: u64,
        down: u64,
    ) -> Result<Causal<Self, C>, CapacityError> {
        let (p, n) = self.0.get(replica).map_or((0, 0), |(_, v)| *v);
        let dot = cx.next_dot(replica)?;
        let value = (p.saturating_add(up), n.saturating_add(down));
        let old = DotFun::<(u64, u64), S>::default();
        let own = match self.0.get(replica) {
            Some((d, v)) => DotFun::single(d, *v)?,
            None => old,
        };
        causal_delta(
            CounterStore(DotFun::single(dot, value)?),
            Some(dot),
            Some(&own),
        )
    }
    /// Delta that adds `amount` as `replica`.
    pub fn increment_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        amount: u64,
    ) -> Result<Causal<Self, C>, CapacityError> {
        self.add_delta(cx, replica, amount, 0)
    }
    /// Delta that subtracts `amount` as `replica`.
    pub fn decrement_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        amount: u64,
    ) -> Result<Causal<Self, C>, CapacityError> {
        self.add_delta(cx, replica, 0, amount)
    }
    /// Delta that resets the counter to 0 (removes the totals seen).
    pub fn reset_delta<C: Storage>(&self) -> Result<Causal<Self, C>, CapacityError> {
        causal_delta(Self::default(), None, Some(&self.0))
    }
}

impl<S: Storage> CausalCounter<S> {
    /// Adds `amount` as `replica`; returns the delta.
    pub fn increment(&mut self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.increment_delta(cx, replica, amount))
    }
    /// Subtracts `amount` as `replica`; returns the delta.
    pub fn decrement(&mut self, replica: ReplicaId, amount: u64) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.decrement_delta(cx, replica, amount))
    }
    /// Resets to 0; returns the delta.
    pub fn reset(&mut self) -> Result<Self, CapacityError> {
        self.apply(|s, _| s.reset_delta())
    }
}

impl<S: Storage> Embed<S> for GCounter<S> {
    type Store = CounterStore<S>;
}

impl<S: Storage> Embed<S> for PNCounter<S> {
    type Store = CounterStore<S>;
}

impl<S: Storage> Eq for GCounter<S> {}
impl<S: Storage> Eq for PNCounter<S> {}

#[cfg(feature = "defmt")]
impl<S: Storage> defmt::Format for GCounter<S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "GCounter({=u64}, {=usize} replicas)",
            self.value(),
            self.counts.len()
        );
    }
}

#[cfg(feature = "defmt")]
impl<S: Storage> defmt::Format for PNCounter<S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "PNCounter({=i64})", self.value());
    }
}
