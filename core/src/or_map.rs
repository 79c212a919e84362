//! The observed-remove map: keys mapped to nested causal CRDTs.

use core::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::CausalContext;
use crate::dot_store::{Causal, DotMap, DotStore, Dots, Embed, causal_delta};
use crate::error::CapacityError;
use crate::macros::newtype_dot_store;
use crate::storage::Storage;

/// An observed-remove map from keys to CRDT values that share the map's causal context.
///
/// `V` names the value type as you would use it alone: [`crate::AwSet`],
/// [`crate::RwSet`], [`crate::MvRegister`], [`crate::EwFlag`], [`crate::DwFlag`],
/// [`crate::CausalCounter`], [`crate::GCounter`] / [`crate::PNCounter`] (held as a
/// [`crate::CounterStore`]), [`crate::LwwRegister`] (held as an [`crate::LwwStore`]), or
/// another `OrMap` for nesting.
///
/// **Remove semantics.** Removing a key removes the updates to its value that the
/// remover has seen. An update concurrent with the remove survives it: the key stays,
/// holding what the remover had not seen (a set keeps the concurrently added elements; a
/// counter keeps the running total of each replica that incremented concurrently, see
/// [`crate::CausalCounter`]). A key is present while its
/// value holds anything; emptying the value (clearing a set, resetting a counter)
/// removes the key.
///
/// In fixed storage the map holds `N` keys of `size_of::<(K, V::Store)>()` bytes each
/// (for `u16` keys and `LwwRegister<f32>` values with `R = 4`: 144 bytes on a 64-bit
/// host), plus 16 bytes per key for the dot cloud. A nested value's own tables use its
/// own storage parameter, so inner maps and sets can be smaller than the outer map.
///
/// Create one with `Default::default()` (the alias names the value type through a
/// projection, so `OrMap::default()` cannot infer it).
///
/// ```
/// use starling_core::{Fixed, HybridClock, Lattice, LwwRegister, OrMap, PNCounter, ReplicaId};
/// type S = Fixed<8, 4>;
/// // sensor name -> last reading
/// let mut readings: OrMap<&str, LwwRegister<f32>, S> = Default::default();
/// let a = ReplicaId(1);
/// let mut clock = HybridClock::new();
/// let stamp = clock.now(1_000);
/// let delta = readings.update(&"temp", |reg, cx| reg.set_delta(cx, a, stamp, 21.5))?;
/// assert_eq!(readings.get(&"temp").and_then(|r| r.value()), Some(&21.5));
///
/// // name -> counter
/// let mut events: OrMap<&str, PNCounter<S>, S> = Default::default();
/// events.update(&"boot", |c, cx| c.increment_delta(cx, a, 1))?;
/// assert_eq!(events.get(&"boot").map(|c| c.value()), Some(1));
///
/// // another replica receives the delta
/// let mut other: OrMap<&str, LwwRegister<f32>, S> = Default::default();
/// other.join(&delta)?;
/// assert_eq!(other, readings);
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
pub type OrMap<K, V, S> = Causal<OrMapStore<K, <V as Embed<S>>::Store, S>, S>;

/// The dot store of an [`OrMap`]: keys to nested dot stores.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(
    transparent,
    bound(
        serialize = "K: Serialize, V: Serialize",
        deserialize = "K: Deserialize<'de>, V: Deserialize<'de>"
    )
)]
pub struct OrMapStore<K: Ord + Clone + Debug, V: Dots, S: Storage>(DotMap<K, V, S>);

newtype_dot_store!(impl[K: Ord + Clone + Debug, V: Dots, S: Storage] OrMapStore<K, V, S> where V: DotStore<C>);

impl<K: Ord + Clone + Debug, V: Dots, S: Storage> OrMapStore<K, V, S> {
    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.get(key)
    }
    /// `true` when `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.0.contains_key(key)
    }
    /// Keys and values, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_ {
        self.0.iter()
    }
    /// Keys, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + '_ {
        self.0.iter().map(|(k, _)| k)
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// `true` when the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Delta that updates the value under `key` with a delta-mutator of the value type.
    ///
    /// `mutator` receives the current value (empty if the key is absent) and the map's
    /// causal context, and returns the value's delta, e.g.
    /// `|set, cx| set.add_delta(cx, replica, x)`.
    pub fn update_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        key: &K,
        mutator: impl FnOnce(&V, &CausalContext<C>) -> Result<Causal<V, C>, CapacityError>,
    ) -> Result<Causal<Self, C>, CapacityError>
    where
        V: DotStore<C>,
    {
        let empty = V::default();
        let current = self.0.get(key).unwrap_or(&empty);
        let (value_delta, context) = mutator(current, cx)?.into_parts();
        let store = OrMapStore(DotMap::single(key.clone(), value_delta)?);
        // The value delta was valid under `context`; nesting it under a key keeps its dots.
        Ok(Causal::from_parts_unchecked(store, context))
    }
    /// Delta that removes `key` (the updates to it seen so far). Bottom if absent.
    pub fn remove_delta<C: Storage>(&self, key: &K) -> Result<Causal<Self, C>, CapacityError>
    where
        V: DotStore<C>,
    {
        causal_delta(Self::default(), None, self.0.get(key))
    }
    /// Delta that removes every key seen so far.
    pub fn clear_delta<C: Storage>(&self) -> Result<Causal<Self, C>, CapacityError>
    where
        V: DotStore<C>,
    {
        causal_delta(Self::default(), None, Some(&self.0))
    }
}

impl<K: Ord + Clone + Debug, V: DotStore<S>, S: Storage> Causal<OrMapStore<K, V, S>, S> {
    /// Updates the value under `key` with a delta-mutator of the value type (see
    /// [`OrMapStore::update_delta`]); returns the map delta.
    pub fn update(
        &mut self,
        key: &K,
        mutator: impl FnOnce(&V, &CausalContext<S>) -> Result<Causal<V, S>, CapacityError>,
    ) -> Result<Self, CapacityError> {
        self.apply(|m, cx| m.update_delta(cx, key, mutator))
    }
    /// Removes `key`; returns the delta.
    pub fn remove(&mut self, key: &K) -> Result<Self, CapacityError> {
        self.apply(|m, _| m.remove_delta(key))
    }
    /// Removes every key; returns the delta.
    pub fn clear(&mut self) -> Result<Self, CapacityError> {
        self.apply(|m, _| m.clear_delta())
    }
}
