//! Storage modes: one CRDT implementation, three ways to hold its entries.
//!
//! Every CRDT in this crate takes a storage parameter `S: Storage`:
//!
//! * [`Fixed<N, R>`]: allocation-free. Element tables hold at most `N` entries and
//!   per-replica tables (version vectors, counters, concurrent values) at most `R`
//!   entries, inline, in sorted arrays (`heapless::Vec`). A mutation or join that would
//!   exceed a capacity returns [`CapacityError`] and leaves the state unchanged.
//! * [`Growable`] (feature `alloc`): element tables are `BTreeMap`s, per-replica tables
//!   `SmallVec`s that stay inline for the usual handful of replicas. Never returns
//!   [`CapacityError`].
//! * [`Compact`] (feature `alloc`): every table a sorted `Vec`. Never returns
//!   [`CapacityError`]; the smallest code (no B-tree, no `SmallVec`), for WebAssembly
//!   and other builds where the download or the flash counts more than insertions into
//!   large states (`O(n)` each).
//!
//! All keep entries sorted by key, so iteration order, equality and the encoded bytes
//! are canonical: two replicas in the same state encode to the same bytes.

use core::fmt::Debug;
use core::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::CapacityError;
use crate::{Dot, ReplicaId};

mod sealed {
    pub trait Sealed {}
}

/// A storage mode: how a CRDT holds its tables. Implemented by [`Fixed`], [`Growable`]
/// and [`Compact`] only (the trait is sealed).
pub trait Storage:
    sealed::Sealed + Copy + Clone + Debug + Default + PartialEq + Eq + Send + Sync + 'static
{
    /// `true` when tables have a fixed capacity and operations can fail with
    /// [`CapacityError`].
    const BOUNDED: bool;
    /// A table of elements or keys: set elements, map keys, the dot cloud.
    type Map<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug>: SortedMap<Key = K, Value = V>;
    /// A table with one entry per replica: version vectors and counters.
    type Replicas<V: Clone + PartialEq + Debug>: SortedMap<Key = ReplicaId, Value = V>;
    /// A table of the live dots of one element or value, keyed by dot: one entry per
    /// concurrent writer under causal delivery (a join of deltas received out of order
    /// may hold a few more until the missing ones arrive).
    type Concurrent<V: Clone + PartialEq + Debug>: SortedMap<Key = Dot, Value = V>;
}

/// Allocation-free storage: at most `N` entries per element table, `R` per replica
/// table, all inline.
///
/// Pick `N` for the number of elements (keys, set members) you need and `R` for the
/// number of replicas that will ever write. Use powers of two or not, as you like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fixed<const N: usize, const R: usize>;

impl<const N: usize, const R: usize> sealed::Sealed for Fixed<N, R> {}

impl<const N: usize, const R: usize> Storage for Fixed<N, R> {
    const BOUNDED: bool = true;
    type Map<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug> =
        SortedVecMap<K, V, heapless::Vec<(K, V), N>>;
    type Replicas<V: Clone + PartialEq + Debug> =
        SortedVecMap<ReplicaId, V, heapless::Vec<(ReplicaId, V), R>>;
    type Concurrent<V: Clone + PartialEq + Debug> =
        SortedVecMap<Dot, V, heapless::Vec<(Dot, V), R>>;
}

/// Growable storage on the heap (feature `alloc`): never runs out of capacity.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Growable;

#[cfg(feature = "alloc")]
impl sealed::Sealed for Growable {}

#[cfg(feature = "alloc")]
impl Storage for Growable {
    const BOUNDED: bool = false;
    type Map<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug> = TreeMap<K, V>;
    type Replicas<V: Clone + PartialEq + Debug> =
        SortedVecMap<ReplicaId, V, smallvec::SmallVec<[(ReplicaId, V); 4]>>;
    type Concurrent<V: Clone + PartialEq + Debug> =
        SortedVecMap<Dot, V, smallvec::SmallVec<[(Dot, V); 1]>>;
}

/// A map kept in ascending key order: the one table abstraction every CRDT uses.
pub trait SortedMap: Clone + Default + Debug + PartialEq {
    /// The key type.
    type Key: Ord + Clone + Debug;
    /// The value type.
    type Value: Clone + PartialEq + Debug;

    /// Number of entries.
    fn len(&self) -> usize;
    /// `true` when there are no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Maximum number of entries, or `None` when the table grows.
    fn capacity(&self) -> Option<usize>;
    /// The value under `key`.
    fn get(&self, key: &Self::Key) -> Option<&Self::Value>;
    /// The value under `key`, mutably.
    fn get_mut(&mut self, key: &Self::Key) -> Option<&mut Self::Value>;
    /// `true` when `key` has an entry.
    fn contains_key(&self, key: &Self::Key) -> bool {
        self.get(key).is_some()
    }
    /// Inserts or replaces; returns the replaced value. Fails, changing nothing,
    /// only when `key` is new and the table is full.
    fn insert(
        &mut self,
        key: Self::Key,
        value: Self::Value,
    ) -> Result<Option<Self::Value>, CapacityError>;
    /// Removes the entry under `key`.
    fn remove(&mut self, key: &Self::Key) -> Option<Self::Value>;
    /// The entry with the greatest key less than or equal to `key`.
    fn floor(&self, key: &Self::Key) -> Option<(&Self::Key, &Self::Value)>;
    /// Entries in ascending key order.
    fn iter(&self) -> impl DoubleEndedIterator<Item = (&Self::Key, &Self::Value)>;
    /// Keeps only the entries for which `keep` returns `true`, visiting them in
    /// ascending key order.
    fn retain(&mut self, keep: impl FnMut(&Self::Key, &mut Self::Value) -> bool);
    /// Removes every entry.
    fn clear(&mut self);
    /// Appends an entry whose key is greater than every key present (used by decoders,
    /// which require canonical order). Fails when the key is out of order or the
    /// table is full.
    fn push_ordered(&mut self, key: Self::Key, value: Self::Value) -> Result<(), PushError>;
    /// Called by decoders after the last [`SortedMap::push_ordered`], so the table can
    /// settle into its most compact layout. Changes no entry.
    fn finish_ordered(&mut self) {}
}

/// Why [`SortedMap::push_ordered`] refused an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The key is not greater than the last key present.
    OutOfOrder,
    /// The table is full.
    Full,
}

/// A contiguous backing for [`SortedVecMap`]: `heapless::Vec` or `smallvec::SmallVec`.
pub trait VecBacking: Clone + Default + Debug + PartialEq {
    /// The element type: a `(key, value)` pair.
    type Item;
    /// The entries.
    fn as_slice(&self) -> &[Self::Item];
    /// The entries, mutably.
    fn as_mut_slice(&mut self) -> &mut [Self::Item];
    /// Inserts at `index`, shifting later entries; fails when full.
    fn try_insert(&mut self, index: usize, item: Self::Item) -> Result<(), CapacityError>;
    /// Removes and returns the entry at `index` (which must be in bounds).
    fn remove_at(&mut self, index: usize) -> Self::Item;
    /// Keeps the entries for which `keep` returns true.
    fn retain_mut(&mut self, keep: impl FnMut(&mut Self::Item) -> bool);
    /// Maximum length, `None` when growable.
    fn max_len(&self) -> Option<usize>;
    /// Removes everything.
    fn clear(&mut self);
}

impl<T: Clone + Debug + PartialEq, const N: usize> VecBacking for heapless::Vec<T, N> {
    type Item = T;
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
    fn try_insert(&mut self, index: usize, item: T) -> Result<(), CapacityError> {
        self.insert(index, item).map_err(|_| CapacityError)
    }
    fn remove_at(&mut self, index: usize) -> T {
        self.remove(index)
    }
    fn retain_mut(&mut self, keep: impl FnMut(&mut T) -> bool) {
        heapless::Vec::retain_mut(self, keep)
    }
    fn max_len(&self) -> Option<usize> {
        Some(N)
    }
    fn clear(&mut self) {
        heapless::Vec::clear(self)
    }
}

/// Growable storage in sorted vectors (feature `alloc`): never runs out of capacity,
/// and carries the least code of the three modes.
///
/// Every table is a `Vec` of entries in key order: lookups are binary searches, an
/// insertion shifts the entries after it (`O(n)`), an empty table allocates nothing.
/// Same values, same bytes on the wire as the other modes. Pick it where code size
/// matters more than insertion speed into large states: the WebAssembly package
/// (`bindings/wasm`) is 15 KB smaller (gzip) with it than with [`Growable`]'s B-trees.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Compact;

#[cfg(feature = "alloc")]
impl sealed::Sealed for Compact {}

#[cfg(feature = "alloc")]
impl Storage for Compact {
    const BOUNDED: bool = false;
    type Map<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug> =
        SortedVecMap<K, V, alloc::vec::Vec<(K, V)>>;
    type Replicas<V: Clone + PartialEq + Debug> =
        SortedVecMap<ReplicaId, V, alloc::vec::Vec<(ReplicaId, V)>>;
    type Concurrent<V: Clone + PartialEq + Debug> = SortedVecMap<Dot, V, alloc::vec::Vec<(Dot, V)>>;
}

#[cfg(feature = "alloc")]
impl<T: Clone + Debug + PartialEq> VecBacking for alloc::vec::Vec<T> {
    type Item = T;
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
    fn try_insert(&mut self, index: usize, item: T) -> Result<(), CapacityError> {
        self.insert(index, item);
        Ok(())
    }
    fn remove_at(&mut self, index: usize) -> T {
        self.remove(index)
    }
    fn retain_mut(&mut self, keep: impl FnMut(&mut T) -> bool) {
        alloc::vec::Vec::retain_mut(self, keep)
    }
    fn max_len(&self) -> Option<usize> {
        None
    }
    fn clear(&mut self) {
        alloc::vec::Vec::clear(self)
    }
}

#[cfg(feature = "alloc")]
impl<T: Clone + Debug + PartialEq, const M: usize> VecBacking for smallvec::SmallVec<[T; M]> {
    type Item = T;
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
    fn try_insert(&mut self, index: usize, item: T) -> Result<(), CapacityError> {
        self.insert(index, item);
        Ok(())
    }
    fn remove_at(&mut self, index: usize) -> T {
        self.remove(index)
    }
    fn retain_mut(&mut self, keep: impl FnMut(&mut T) -> bool) {
        smallvec::SmallVec::retain_mut(self, keep)
    }
    fn max_len(&self) -> Option<usize> {
        None
    }
    fn clear(&mut self) {
        smallvec::SmallVec::clear(self)
    }
}

/// A map stored as a sorted array of `(key, value)` pairs: binary search for lookups,
/// no hashing, no allocation with a `heapless::Vec` backing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortedVecMap<K, V, B> {
    entries: B,
    _entry: PhantomData<(K, V)>,
}

impl<K, V, B: Default> Default for SortedVecMap<K, V, B> {
    fn default() -> Self {
        SortedVecMap {
            entries: B::default(),
            _entry: PhantomData,
        }
    }
}

impl<B, K, V> SortedVecMap<K, V, B>
where
    B: VecBacking<Item = (K, V)>,
    K: Ord,
{
    fn search(&self, key: &K) -> Result<usize, usize> {
        self.entries
            .as_slice()
            .binary_search_by(|(k, _)| k.cmp(key))
    }
}

impl<B, K, V> SortedMap for SortedVecMap<K, V, B>
where
    B: VecBacking<Item = (K, V)>,
    K: Ord + Clone + Debug,
    V: Clone + PartialEq + Debug,
{
    type Key = K;
    type Value = V;

    fn len(&self) -> usize {
        self.entries.as_slice().len()
    }
    fn capacity(&self) -> Option<usize> {
        self.entries.max_len()
    }
    fn get(&self, key: &K) -> Option<&V> {
        let i = self.search(key).ok()?;
        self.entries.as_slice().get(i).map(|(_, v)| v)
    }
    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.search(key).ok()?;
        self.entries.as_mut_slice().get_mut(i).map(|(_, v)| v)
    }
    fn insert(&mut self, key: K, value: V) -> Result<Option<V>, CapacityError> {
        match self.search(&key) {
            Ok(i) => {
                let slot = &mut self.entries.as_mut_slice()[i].1;
                Ok(Some(core::mem::replace(slot, value)))
            }
            Err(i) => self.entries.try_insert(i, (key, value)).map(|()| None),
        }
    }
    fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.search(key).ok()?;
        Some(self.entries.remove_at(i).1)
    }
    fn floor(&self, key: &K) -> Option<(&K, &V)> {
        let i = match self.search(key) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        self.entries.as_slice().get(i).map(|(k, v)| (k, v))
    }
    fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.entries.as_slice().iter().map(|(k, v)| (k, v))
    }
    fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }
    fn clear(&mut self) {
        self.entries.clear();
    }
    fn push_ordered(&mut self, key: K, value: V) -> Result<(), PushError> {
        let len = self.len();
        if let Some((last, _)) = self.entries.as_slice().last()
            && *last >= key
        {
            return Err(PushError::OutOfOrder);
        }
        self.entries
            .try_insert(len, (key, value))
            .map_err(|_| PushError::Full)
    }
}

/// Growable element table (feature `alloc`): a `BTreeMap`, except that a table of at
/// most one entry is held inline. The tables of a delta usually hold one entry (the
/// element added, the dot range of its context), so making one costs no allocation.
#[cfg(feature = "alloc")]
#[derive(Clone)]
pub struct TreeMap<K, V>(Tree<K, V>);

#[cfg(feature = "alloc")]
#[derive(Clone)]
enum Tree<K, V> {
    /// No entry or one entry.
    Inline(Option<(K, V)>),
    /// Any number of entries (a table goes back inline when cleared, or decoded with
    /// at most one entry).
    Tree(alloc::collections::BTreeMap<K, V>),
}

#[cfg(feature = "alloc")]
impl<K, V> Default for TreeMap<K, V> {
    fn default() -> Self {
        TreeMap(Tree::Inline(None))
    }
}

#[cfg(feature = "alloc")]
impl<K, V> TreeMap<K, V> {
    fn count(&self) -> usize {
        match &self.0 {
            Tree::Inline(slot) => usize::from(slot.is_some()),
            Tree::Tree(map) => map.len(),
        }
    }
    fn entries(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        let (inline, tree) = match &self.0 {
            Tree::Inline(slot) => (slot.as_ref(), None),
            Tree::Tree(map) => (None, Some(map.iter())),
        };
        inline
            .map(|(k, v)| (k, v))
            .into_iter()
            .chain(tree.into_iter().flatten())
    }
}

#[cfg(feature = "alloc")]
impl<K: PartialEq, V: PartialEq> PartialEq for TreeMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.count() == other.count() && self.entries().eq(other.entries())
    }
}

#[cfg(feature = "alloc")]
impl<K: Eq, V: Eq> Eq for TreeMap<K, V> {}

#[cfg(feature = "alloc")]
impl<K: Debug, V: Debug> Debug for TreeMap<K, V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        struct Entries<'a, K, V>(&'a TreeMap<K, V>);
        impl<K: Debug, V: Debug> Debug for Entries<'_, K, V> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_map().entries(self.0.entries()).finish()
            }
        }
        f.debug_tuple("TreeMap").field(&Entries(self)).finish()
    }
}

#[cfg(feature = "alloc")]
impl<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug> SortedMap for TreeMap<K, V> {
    type Key = K;
    type Value = V;

    fn len(&self) -> usize {
        self.count()
    }
    fn capacity(&self) -> Option<usize> {
        None
    }
    fn get(&self, key: &K) -> Option<&V> {
        match &self.0 {
            Tree::Inline(slot) => slot.as_ref().filter(|(k, _)| k == key).map(|(_, v)| v),
            Tree::Tree(map) => map.get(key),
        }
    }
    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match &mut self.0 {
            Tree::Inline(slot) => slot.as_mut().filter(|(k, _)| k == key).map(|(_, v)| v),
            Tree::Tree(map) => map.get_mut(key),
        }
    }
    fn insert(&mut self, key: K, value: V) -> Result<Option<V>, CapacityError> {
        let slot = match &mut self.0 {
            Tree::Tree(map) => return Ok(map.insert(key, value)),
            Tree::Inline(slot) => slot,
        };
        match slot {
            Some((k, v)) if *k == key => Ok(Some(core::mem::replace(v, value))),
            Some(_) => {
                // A second entry: move to the tree (inserting, not collecting: a
                // collect links a sort into every map type's code).
                let mut map = alloc::collections::BTreeMap::new();
                if let Some((k, v)) = slot.take() {
                    map.insert(k, v);
                }
                map.insert(key, value);
                self.0 = Tree::Tree(map);
                Ok(None)
            }
            None => {
                *slot = Some((key, value));
                Ok(None)
            }
        }
    }
    fn remove(&mut self, key: &K) -> Option<V> {
        match &mut self.0 {
            Tree::Inline(slot) => match slot {
                Some((k, _)) if k == key => slot.take().map(|(_, v)| v),
                _ => None,
            },
            Tree::Tree(map) => map.remove(key),
        }
    }
    fn floor(&self, key: &K) -> Option<(&K, &V)> {
        match &self.0 {
            Tree::Inline(slot) => slot.as_ref().filter(|(k, _)| k <= key).map(|(k, v)| (k, v)),
            Tree::Tree(map) => map.range(..=key).next_back(),
        }
    }
    fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.entries()
    }
    fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        match &mut self.0 {
            Tree::Inline(slot) => {
                if let Some((k, v)) = slot
                    && !keep(k, v)
                {
                    *slot = None;
                }
            }
            Tree::Tree(map) => map.retain(|k, v| keep(k, v)),
        }
    }
    fn clear(&mut self) {
        self.0 = Tree::Inline(None);
    }
    fn push_ordered(&mut self, key: K, value: V) -> Result<(), PushError> {
        let last = match &self.0 {
            Tree::Inline(slot) => slot.as_ref().map(|(k, _)| k),
            Tree::Tree(map) => map.last_key_value().map(|(k, _)| k),
        };
        if last.is_some_and(|last| *last >= key) {
            return Err(PushError::OutOfOrder);
        }
        // Growable: never fails.
        let _ = self.insert(key, value);
        Ok(())
    }
    fn finish_ordered(&mut self) {
        if let Tree::Tree(map) = &mut self.0 {
            // Appending in key order leaves the B-tree's nodes about half full (a full
            // node splits, and only the new right half is appended to); rebuilding the
            // tree from its sorted entries fills them: about 35% less memory for a
            // decoded table.
            let entries = core::mem::take(map);
            self.0 = if entries.len() <= 1 {
                Tree::Inline(entries.into_iter().next())
            } else {
                Tree::Tree(entries.into_iter().collect())
            };
        }
    }
}

/// Serde glue for [`SortedMap`] fields: a sequence of `(key, value)` pairs in
/// ascending key order. Decoding rejects out-of-order or duplicate keys and more
/// entries than a fixed table holds, and never pre-allocates from a length prefix.
pub(crate) mod map_serde {
    use super::*;

    pub(crate) fn serialize<M, Ser>(map: &M, serializer: Ser) -> Result<Ser::Ok, Ser::Error>
    where
        M: SortedMap,
        M::Key: Serialize,
        M::Value: Serialize,
        Ser: Serializer,
    {
        let mut seq = serializer.serialize_seq(Some(map.len()))?;
        for entry in map.iter() {
            seq.serialize_element(&entry)?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, M, D>(deserializer: D) -> Result<M, D::Error>
    where
        M: SortedMap,
        M::Key: Deserialize<'de>,
        M::Value: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        struct MapVisitor<M>(core::marker::PhantomData<M>);
        impl<'de, M> Visitor<'de> for MapVisitor<M>
        where
            M: SortedMap,
            M::Key: Deserialize<'de>,
            M::Value: Deserialize<'de>,
        {
            type Value = M;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a sequence of (key, value) pairs in ascending key order")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<M, A::Error> {
                let mut map = M::default();
                while let Some((k, v)) = seq.next_element::<(M::Key, M::Value)>()? {
                    map.push_ordered(k, v).map_err(|e| match e {
                        PushError::OutOfOrder => de::Error::custom("keys out of canonical order"),
                        PushError::Full => de::Error::custom("more entries than the capacity"),
                    })?;
                }
                map.finish_ordered();
                Ok(map)
            }
        }
        deserializer.deserialize_seq(MapVisitor(core::marker::PhantomData))
    }
}

/// Serde glue for key-only [`SortedMap`]s (sets, `Value = ()`): a sequence of keys.
pub(crate) mod set_serde {
    use super::*;

    pub(crate) fn serialize<M, Ser>(map: &M, serializer: Ser) -> Result<Ser::Ok, Ser::Error>
    where
        M: SortedMap<Value = ()>,
        M::Key: Serialize,
        Ser: Serializer,
    {
        let mut seq = serializer.serialize_seq(Some(map.len()))?;
        for (k, ()) in map.iter() {
            seq.serialize_element(k)?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, M, D>(deserializer: D) -> Result<M, D::Error>
    where
        M: SortedMap<Value = ()>,
        M::Key: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        struct SetVisitor<M>(core::marker::PhantomData<M>);
        impl<'de, M> Visitor<'de> for SetVisitor<M>
        where
            M: SortedMap<Value = ()>,
            M::Key: Deserialize<'de>,
        {
            type Value = M;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a sequence of keys in ascending order")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<M, A::Error> {
                let mut map = M::default();
                while let Some(k) = seq.next_element::<M::Key>()? {
                    map.push_ordered(k, ()).map_err(|e| match e {
                        PushError::OutOfOrder => de::Error::custom("keys out of canonical order"),
                        PushError::Full => de::Error::custom("more entries than the capacity"),
                    })?;
                }
                map.finish_ordered();
                Ok(map)
            }
        }
        deserializer.deserialize_seq(SetVisitor(core::marker::PhantomData))
    }
}

/// Joins `other` into `target` atomically: in bounded storage the join runs on a copy
/// that replaces `target` only on success (a fixed-capacity state is small and bounded,
/// so the copy costs `O(capacity)`); growable storage cannot fail, so the join runs in
/// place and costs what the join itself costs.
pub(crate) fn join_atomically<T: Clone, S: Storage>(
    target: &mut T,
    join: impl FnOnce(&mut T) -> Result<(), CapacityError>,
) -> Result<(), CapacityError> {
    if S::BOUNDED {
        let mut next = target.clone();
        join(&mut next)?;
        *target = next;
        Ok(())
    } else {
        join(target)
    }
}
