//! Dot stores and the causal wrapper: the machinery under every causal CRDT.
//!
//! A causal CRDT state is a *dot store* (which events are live, and what they carry)
//! plus a [`CausalContext`] (which events have been seen). Joining two states keeps a
//! live dot when both sides have it, or when the other side has never seen it; a dot
//! the other side has seen but no longer holds was removed there, so it goes. Removes
//! therefore need no tombstones: forgetting a dot while remembering it was seen is
//! enough.
//!
//! Three dot stores compose every causal type here:
//!
//! * [`DotFun<V, S>`]: at most one live dot per replica, each carrying a value `V`
//!   (`DotFun<(), S>` is a plain dot set, [`DotSet`]).
//! * [`DotMap<K, V, S>`]: keys mapped to nested dot stores; a key is present while its
//!   store holds a dot.
//! * [`Causal<T, S>`]: a dot store `T` with its causal context: the CRDT state.

use core::fmt::{self, Debug};
use core::ops::Deref;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::CapacityError;
use crate::lattice::Lattice;
use crate::storage::{SortedMap, Storage, join_atomically, map_serde};
use crate::{CausalContext, Dot, ReplicaId};

/// Contexts with at most this many dots are inspected dot by dot to decide whether a
/// join can remove entries absent from the other store; larger ones (full states)
/// trigger a scan of the local store.
const REMOVAL_PROBE_LIMIT: u64 = 64;

/// A store of live dots, joined under two causal contexts.
///
/// Implemented by [`DotFun`], [`DotMap`] and the named stores of the causal CRDTs
/// ([`crate::AwSetStore`], [`crate::MvRegisterStore`], ...). Users rarely call these
/// methods: they are the building blocks of [`Causal`].
pub trait DotStore<S: Storage>: Dots {
    /// Joins `other` (whose context is `other_cx`) into `self` (whose context is `cx`).
    /// The caller restores `self` when this fails (see [`Causal::join`]).
    fn join_with(
        &mut self,
        cx: &CausalContext<S>,
        other: &Self,
        other_cx: &CausalContext<S>,
    ) -> Result<(), CapacityError>;
    /// With `cx ⊆ other_cx` already checked: `true` when joining leaves `other` as is.
    fn leq_with(&self, cx: &CausalContext<S>, other: &Self, other_cx: &CausalContext<S>) -> bool;
    /// `true` when every live dot is in `cx` and no nested store is empty.
    fn is_valid_under(&self, cx: &CausalContext<S>) -> bool;
}

/// Anything holding live dots: the storage-independent half of a [`DotStore`].
pub trait Dots: Clone + Default + PartialEq + Debug {
    /// `true` when no dot is live.
    fn is_bottom(&self) -> bool;
    /// Calls `f` on every live dot.
    fn for_each_dot(&self, f: &mut dyn FnMut(Dot));
    /// Keeps only the live dots for which `keep` returns `true`, dropping entries and
    /// keys left empty. Dropping the dots another context has seen is the join with an
    /// empty store.
    fn retain_dots(&mut self, keep: &mut dyn FnMut(Dot) -> bool);
    /// `true` when `dot` is live in this store.
    fn contains_dot(&self, dot: Dot) -> bool {
        let mut found = false;
        self.for_each_dot(&mut |d| found |= d == dot);
        found
    }
    /// A context holding exactly the live dots of this store.
    fn dots_context<C: Storage>(&self) -> Result<CausalContext<C>, CapacityError> {
        let mut cx = CausalContext::new();
        let mut result = Ok(());
        self.for_each_dot(&mut |d| {
            if result.is_ok() {
                result = cx.insert(d);
            }
        });
        result.map(|()| cx)
    }
}

/// Live dots, each carrying a value: the store of registers, flags and counters, and of
/// the elements of the sets. Fixed storage holds `R` entries of
/// `size_of::<(Dot, V)>()` bytes.
///
/// Under causal delivery a store holds at most one live dot per replica: each write
/// overwrites the writer's own earlier dot. A join of deltas received out of order can
/// hold two dots of one replica (an old state's `r:1` and the delta of `r:3`, whose
/// context has `r:2` but not `r:1`), and must keep both for join to stay associative:
/// `r:1` goes when the delta of `r:2` arrives. Readers ([`DotFun::iter`], [`DotFun::len`],
/// [`DotFun::get`]) see only each replica's latest live dot, which supersedes its
/// earlier ones (a replica's write follows all its own earlier writes).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "V: Serialize", deserialize = "V: Deserialize<'de>"))]
pub struct DotFun<V: Clone + PartialEq + Debug, S: Storage> {
    #[serde(with = "map_serde")]
    entries: S::Concurrent<V>,
}

impl<V: Clone + PartialEq + Debug, S: Storage> Default for DotFun<V, S> {
    fn default() -> Self {
        DotFun {
            entries: Default::default(),
        }
    }
}

/// A set of live dots.
pub type DotSet<S> = DotFun<(), S>;

impl<V: Clone + PartialEq + Debug, S: Storage> Debug for DotFun<V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

impl<V: Clone + PartialEq + Debug, S: Storage> DotFun<V, S> {
    /// Number of replicas with a live dot.
    pub fn len(&self) -> usize {
        self.iter().count()
    }
    /// `true` when no dot is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// The latest live dot of each replica with its value, in replica order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Dot, &V)> + '_ {
        self.entries
            .iter()
            .filter(|(d, _)| self.latest(d.replica).is_some_and(|(l, _)| l == **d))
            .map(|(d, v)| (*d, v))
    }
    /// The latest live dot of `replica`, with its value.
    pub fn get(&self, replica: ReplicaId) -> Option<(Dot, &V)> {
        self.latest(replica)
    }
    fn latest(&self, replica: ReplicaId) -> Option<(Dot, &V)> {
        self.entries
            .floor(&Dot::new(replica, u64::MAX))
            .filter(|(d, _)| d.replica == replica)
            .map(|(d, v)| (*d, v))
    }
    /// A store holding just `dot` with `value`.
    pub fn single(dot: Dot, value: V) -> Result<Self, CapacityError> {
        let mut out = Self::default();
        out.entries.insert(dot, value)?;
        Ok(out)
    }
}

impl<V: Clone + PartialEq + Debug, S: Storage> Dots for DotFun<V, S> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }
    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        for (d, _) in self.entries.iter() {
            f(*d);
        }
    }
    fn retain_dots(&mut self, keep: &mut dyn FnMut(Dot) -> bool) {
        self.entries.retain(|d, _| keep(*d));
    }
}

impl<V: Clone + PartialEq + Debug, S: Storage, C: Storage> DotStore<C> for DotFun<V, S> {
    fn join_with(
        &mut self,
        cx: &CausalContext<C>,
        other: &Self,
        other_cx: &CausalContext<C>,
    ) -> Result<(), CapacityError> {
        // Dots only we hold survive unless the other side saw and dropped them; dots
        // only they hold arrive unless we saw and dropped them.
        self.entries
            .retain(|d, _| other.entries.contains_key(d) || !other_cx.contains(*d));
        for (d, v) in other.entries.iter() {
            if !cx.contains(*d) && !self.entries.contains_key(d) {
                self.entries.insert(*d, v.clone())?;
            }
        }
        Ok(())
    }
    fn leq_with(&self, cx: &CausalContext<C>, other: &Self, _other_cx: &CausalContext<C>) -> bool {
        other
            .entries
            .iter()
            .all(|(d, _)| !cx.contains(*d) || self.entries.contains_key(d))
    }
    fn is_valid_under(&self, cx: &CausalContext<C>) -> bool {
        self.entries
            .iter()
            .all(|(d, _)| d.counter > 0 && cx.contains(*d))
    }
}

/// Keys mapped to nested dot stores; a key is present while its store holds a live dot.
/// Fixed storage holds `N` entries of `size_of::<(K, V)>()` bytes.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, V: Serialize",
    deserialize = "K: Deserialize<'de>, V: Deserialize<'de>"
))]
pub struct DotMap<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug, S: Storage> {
    #[serde(with = "map_serde")]
    entries: S::Map<K, V>,
}

impl<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug, S: Storage> Default for DotMap<K, V, S> {
    fn default() -> Self {
        DotMap {
            entries: Default::default(),
        }
    }
}

impl<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug, S: Storage> Debug for DotMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

impl<K: Ord + Clone + Debug, V: Clone + PartialEq + Debug, S: Storage> DotMap<K, V, S> {
    /// Number of present keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// `true` when no key is present.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// The store under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }
    /// `true` when `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }
    /// Present keys and their stores, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_ {
        self.entries.iter()
    }
    /// A map holding `value` under `key` (nothing when `value` is empty).
    pub fn single(key: K, value: V) -> Result<Self, CapacityError>
    where
        V: Dots,
    {
        let mut out = Self::default();
        if !value.is_bottom() {
            out.entries.insert(key, value)?;
        }
        Ok(out)
    }
    /// `true` when `other_cx` may remove live dots of keys that `other` does not hold.
    ///
    /// A small context is probed dot by dot: a dot seen here and dropped by `other`
    /// removes something only if it is live here, and when it is live under a key that
    /// `other` holds, joining that key's stores removes it (a dot is live under one key
    /// only). So a re-add or an overwrite, whose delta names its key, never needs the
    /// scan; a remove, whose delta holds no key, does.
    fn join_may_remove_absent<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        other: &Self,
        other_cx: &CausalContext<C>,
    ) -> bool
    where
        V: DotStore<C>,
    {
        if self.entries.is_empty() {
            return false;
        }
        let mut dots = 0u64;
        let large = other_cx.ranges().any(|(_, first, last)| {
            dots = dots.saturating_add(last - first).saturating_add(1);
            dots > REMOVAL_PROBE_LIMIT
        });
        if large {
            return true;
        }
        other_cx.dots().any(|d| {
            cx.contains(d)
                && !other.contains_dot(d)
                && !other
                    .entries
                    .iter()
                    .any(|(k, _)| self.entries.get(k).is_some_and(|mine| mine.contains_dot(d)))
        })
    }
    /// Removes the entry under `key`, for mutators that know this is what joining their
    /// delta does.
    pub(crate) fn remove_entry(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key)
    }
    /// Puts `value` under `key`, returning the replaced store, for mutators that know
    /// this is what joining their delta does. Fails, changing nothing, only when `key`
    /// is new and the table is full. `value` must not be empty.
    pub(crate) fn replace_entry(&mut self, key: K, value: V) -> Result<Option<V>, CapacityError> {
        self.entries.insert(key, value)
    }
}

impl<K: Ord + Clone + Debug, V: Dots, S: Storage> Dots for DotMap<K, V, S> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }
    fn for_each_dot(&self, f: &mut dyn FnMut(Dot)) {
        for (_, v) in self.entries.iter() {
            v.for_each_dot(f);
        }
    }
    fn retain_dots(&mut self, keep: &mut dyn FnMut(Dot) -> bool) {
        self.entries.retain(|_, v| {
            v.retain_dots(keep);
            !v.is_bottom()
        });
    }
}

impl<K: Ord + Clone + Debug, V: DotStore<C>, S: Storage, C: Storage> DotStore<C>
    for DotMap<K, V, S>
{
    fn join_with(
        &mut self,
        cx: &CausalContext<C>,
        other: &Self,
        other_cx: &CausalContext<C>,
    ) -> Result<(), CapacityError> {
        if self.join_may_remove_absent(cx, other, other_cx) {
            // Both tables are in key order: walk `other`'s keys alongside instead of
            // looking each of ours up.
            let mut theirs = other.entries.iter().map(|(k, _)| k).peekable();
            self.entries.retain(|k, v| {
                while theirs.next_if(|t| *t < k).is_some() {}
                if theirs.peek() == Some(&k) {
                    return true;
                }
                v.retain_dots(&mut |d| !other_cx.contains(d));
                !v.is_bottom()
            });
        }
        for (k, v2) in other.entries.iter() {
            if let Some(v1) = self.entries.get_mut(k) {
                v1.join_with(cx, v2, other_cx)?;
                if v1.is_bottom() {
                    self.entries.remove(k);
                }
            } else {
                let mut v = V::default();
                v.join_with(cx, v2, other_cx)?;
                if !v.is_bottom() {
                    self.entries.insert(k.clone(), v)?;
                }
            }
        }
        Ok(())
    }
    fn leq_with(&self, cx: &CausalContext<C>, other: &Self, other_cx: &CausalContext<C>) -> bool {
        let empty = V::default();
        other.entries.iter().all(|(k, v2)| {
            let v1 = self.entries.get(k).unwrap_or(&empty);
            v1.leq_with(cx, v2, other_cx)
        })
    }
    fn is_valid_under(&self, cx: &CausalContext<C>) -> bool {
        self.entries
            .iter()
            .all(|(_, v)| !v.is_bottom() && v.is_valid_under(cx))
    }
}

/// `true` when no dot is live twice in `store`. Every dot names one event, and an event
/// writes one element, key or value, so mutators and joins never produce a dot live
/// under two elements or keys; joins assume as much ([`DotMap`] probes a removal's dots
/// key by key) and would depend on their order if it were not so. Decoders and
/// [`Causal::from_parts`] refuse such states.
fn live_dots_are_unique<T: Dots>(store: &T) -> bool {
    #[cfg(feature = "alloc")]
    {
        // Sized up front: one allocation, freed before returning.
        let mut count = 0usize;
        store.for_each_dot(&mut |_| count += 1);
        let mut dots = alloc::vec::Vec::with_capacity(count);
        store.for_each_dot(&mut |d| dots.push(d));
        dots.sort_unstable();
        dots.windows(2).all(|w| w[0] != w[1])
    }
    #[cfg(not(feature = "alloc"))]
    {
        // Without an allocator the store is in fixed storage, so it holds a bounded
        // number of dots: compare each with those visited before it.
        let mut unique = true;
        let mut i = 0usize;
        store.for_each_dot(&mut |d| {
            if unique {
                let mut j = 0usize;
                store.for_each_dot(&mut |e| {
                    unique &= j >= i || e != d;
                    j += 1;
                });
            }
            i += 1;
        });
        unique
    }
}

/// A causal CRDT state: a dot store `T` and the [`CausalContext`] of everything seen.
///
/// The named causal types are aliases of this: [`crate::AwSet`], [`crate::RwSet`],
/// [`crate::MvRegister`], [`crate::EwFlag`], [`crate::DwFlag`], [`crate::OrMap`] and
/// [`crate::CausalCounter`]. It dereferences to the store, so the read methods of
/// the store (`contains`, `value`, `get`, ...) work directly on the state.
#[derive(Clone, PartialEq, Serialize)]
#[serde(bound(serialize = "T: Serialize"))]
pub struct Causal<T: DotStore<S>, S: Storage> {
    store: T,
    context: CausalContext<S>,
}

impl<'de, T: DotStore<S> + Deserialize<'de>, S: Storage> Deserialize<'de> for Causal<T, S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound(deserialize = "T: Deserialize<'de>"))]
        struct Raw<T: DotStore<S>, S: Storage> {
            store: T,
            context: CausalContext<S>,
        }
        let raw = Raw::<T, S>::deserialize(deserializer)?;
        if !raw.store.is_valid_under(&raw.context) {
            return Err(D::Error::custom("live dot missing from the causal context"));
        }
        if !live_dots_are_unique(&raw.store) {
            return Err(D::Error::custom("one dot live under two elements or keys"));
        }
        Ok(Causal {
            store: raw.store,
            context: raw.context,
        })
    }
}

impl<T: DotStore<S>, S: Storage> Debug for Causal<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Causal")
            .field("store", &self.store)
            .field("context", &self.context)
            .finish()
    }
}

impl<T: DotStore<S>, S: Storage> Default for Causal<T, S> {
    fn default() -> Self {
        Causal {
            store: T::default(),
            context: CausalContext::default(),
        }
    }
}

impl<T: DotStore<S>, S: Storage> Deref for Causal<T, S> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.store
    }
}

impl<T: DotStore<S>, S: Storage> Causal<T, S> {
    /// A state from its parts, when it is one that mutators and joins can produce:
    /// `store`'s live dots are all in `context`, and no dot is live twice.
    pub fn from_parts(store: T, context: CausalContext<S>) -> Option<Self> {
        (store.is_valid_under(&context) && live_dots_are_unique(&store))
            .then_some(Causal { store, context })
    }
    /// A state from parts known to be valid (every live dot of `store` is in `context`).
    pub(crate) fn from_parts_unchecked(store: T, context: CausalContext<S>) -> Self {
        debug_assert!(store.is_valid_under(&context));
        Causal { store, context }
    }
    /// The dot store.
    pub fn store(&self) -> &T {
        &self.store
    }
    /// Store and context, mutably: for mutators that apply their own delta directly,
    /// which must leave the state exactly as joining the delta would.
    pub(crate) fn parts_mut(&mut self) -> (&mut T, &mut CausalContext<S>) {
        (&mut self.store, &mut self.context)
    }
    /// The causal context: every event this state has seen.
    pub fn context(&self) -> &CausalContext<S> {
        &self.context
    }
    /// Splits into store and context.
    pub fn into_parts(self) -> (T, CausalContext<S>) {
        (self.store, self.context)
    }
    /// Runs a delta-mutator on the store under this state's context, joins the delta
    /// it returns and hands the delta back for shipping to other replicas. Either the
    /// delta applies whole or nothing changes.
    ///
    /// This is what every mutation of a causal type does: `set.add(r, x)` has the effect
    /// of `set.apply(|s, cx| s.add_delta(cx, r, x))` (the set's add and remove apply their
    /// delta directly, which is faster and gives the same state and delta).
    pub fn apply(
        &mut self,
        delta_mutator: impl FnOnce(&T, &CausalContext<S>) -> Result<Self, CapacityError>,
    ) -> Result<Self, CapacityError> {
        let delta = delta_mutator(&self.store, &self.context)?;
        self.join(&delta)?;
        Ok(delta)
    }
}

impl<T: DotStore<S>, S: Storage> Lattice for Causal<T, S> {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        join_atomically::<_, S>(self, |x| {
            x.store
                .join_with(&x.context, &other.store, &other.context)?;
            x.context.join_in_place(&other.context)
        })
    }
    fn leq(&self, other: &Self) -> bool {
        self.context.leq(&other.context)
            && self
                .store
                .leq_with(&self.context, &other.store, &other.context)
    }
}

/// Builds the delta of a causal mutation: `store` with `new_dot` (if any) and the live
/// dots of `overwritten` in its context, so joining it replaces what it overwrote.
pub(crate) fn causal_delta<T: DotStore<S>, O: Dots, S: Storage>(
    store: T,
    new_dot: Option<Dot>,
    overwritten: Option<&O>,
) -> Result<Causal<T, S>, CapacityError> {
    let mut context = match overwritten {
        Some(o) => o.dots_context()?,
        None => CausalContext::new(),
    };
    if let Some(d) = new_dot {
        context.insert(d)?;
    }
    Ok(Causal { store, context })
}

/// A CRDT type that can live as a value inside an [`crate::OrMap`], naming the dot
/// store that represents it there (all values of one map share the map's causal
/// context). Implemented by every causal type, and by [`crate::LwwRegister`],
/// [`crate::GCounter`] and [`crate::PNCounter`], whose map forms are causal
/// (a key removal resets them).
pub trait Embed<S: Storage> {
    /// The dot store held under a map key.
    type Store: DotStore<S>;
}

impl<T: DotStore<S> + DotStore<M>, S: Storage, M: Storage> Embed<M> for Causal<T, S> {
    type Store = T;
}

#[cfg(feature = "defmt")]
impl<T: DotStore<S>, S: Storage> defmt::Format for Causal<T, S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let mut live = 0usize;
        self.store.for_each_dot(&mut |_| live += 1);
        defmt::write!(f, "Causal({=usize} live dots, {})", live, self.context);
    }
}
