//! The law subjects: one [`LawSubject`] per CRDT type, generic over the storage mode,
//! and one [`ValueSubject`] per type that can be an [`OrMap`](starling_core::OrMap) value.
//!
//! Domains are deliberately tiny so that replicas conflict: elements `0..8`, map keys
//! `0..4`, register values `0..4`, counter amounts `0..4` (0 makes a bottom delta).
//!
//! For the causal types, [`LawSubject::delta`] calls the store's pure delta-mutator
//! (`state.store().add_delta(state.context(), ..)`) and [`LawSubject::apply`] the
//! state's own mutator (`state.add(..)`), so the delta-mutator law compares the two
//! code paths a user can take.

use core::marker::PhantomData;

use quickcheck::{Arbitrary, Gen};
use starling_core::{
    AwSet, AwSetStore, CapacityError, Causal, CausalContext, CausalCounter, CounterStore, DwFlag,
    DwFlagStore, EwFlag, EwFlagStore, GCounter, GSet, LwwRegister, LwwStore, MvRegister,
    MvRegisterStore, OrMapStore, PNCounter, Reconcile, RwSet, RwSetStore, Storage, TwoPSet,
    WireFormat,
};

use crate::history::{Writer, pick};
use crate::{LawSubject, ValueSubject};

/// Number of distinct set elements generated (`0..ELEMENTS`).
pub const ELEMENTS: u8 = 8;
/// Number of distinct map keys generated (`0..KEYS`).
pub const KEYS: u8 = 4;
/// Number of distinct register values generated (`0..VALUES`).
pub const VALUES: u8 = 4;
/// Counter amounts are generated in `0..AMOUNTS`.
pub const AMOUNTS: u8 = 4;

/// Shrinks a small number towards 0.
fn shrink_u8(x: u8) -> impl Iterator<Item = u8> {
    [0, x / 2].into_iter().filter(move |&y| y < x)
}

// ---------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------

/// An operation on a [`GCounter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GCounterOp {
    /// Increment by the amount (0 gives a bottom delta).
    Increment(u8),
}

impl Arbitrary for GCounterOp {
    fn arbitrary(g: &mut Gen) -> Self {
        GCounterOp::Increment(pick(g, AMOUNTS))
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let GCounterOp::Increment(n) = *self;
        Box::new(shrink_u8(n).map(GCounterOp::Increment))
    }
}

/// An operation on a counter that goes up and down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PnOp {
    /// Add the amount.
    Increment(u8),
    /// Subtract the amount.
    Decrement(u8),
}

impl Arbitrary for PnOp {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = pick(g, AMOUNTS);
        if bool::arbitrary(g) {
            PnOp::Increment(n)
        } else {
            PnOp::Decrement(n)
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match *self {
            PnOp::Increment(n) => Box::new(shrink_u8(n).map(PnOp::Increment)),
            PnOp::Decrement(n) => Box::new(
                [PnOp::Increment(n)]
                    .into_iter()
                    .chain(shrink_u8(n).map(PnOp::Decrement)),
            ),
        }
    }
}

/// An operation on a [`CausalCounter`] (or a counter inside a map).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CausalCounterOp {
    /// Add the amount.
    Increment(u8),
    /// Subtract the amount.
    Decrement(u8),
    /// Reset to 0 (removes the totals seen).
    Reset,
}

impl Arbitrary for CausalCounterOp {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = pick(g, AMOUNTS);
        match pick(g, 5) {
            0 | 1 => CausalCounterOp::Increment(n),
            2 | 3 => CausalCounterOp::Decrement(n),
            _ => CausalCounterOp::Reset,
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match *self {
            CausalCounterOp::Increment(n) => Box::new(shrink_u8(n).map(CausalCounterOp::Increment)),
            CausalCounterOp::Decrement(n) => Box::new(
                [CausalCounterOp::Increment(n)]
                    .into_iter()
                    .chain(shrink_u8(n).map(CausalCounterOp::Decrement)),
            ),
            CausalCounterOp::Reset => Box::new(core::iter::empty()),
        }
    }
}

/// An operation on a grow-only set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GSetOp {
    /// Insert the element.
    Insert(u8),
}

impl Arbitrary for GSetOp {
    fn arbitrary(g: &mut Gen) -> Self {
        GSetOp::Insert(pick(g, ELEMENTS))
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let GSetOp::Insert(e) = *self;
        Box::new(shrink_u8(e).map(GSetOp::Insert))
    }
}

/// An operation on a set with adds and removes ([`TwoPSet`], [`RwSet`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    /// Add the element.
    Add(u8),
    /// Remove the element.
    Remove(u8),
}

impl Arbitrary for SetOp {
    fn arbitrary(g: &mut Gen) -> Self {
        let e = pick(g, ELEMENTS);
        if pick(g, 3) < 2 {
            SetOp::Add(e)
        } else {
            SetOp::Remove(e)
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match *self {
            SetOp::Add(e) => Box::new(shrink_u8(e).map(SetOp::Add)),
            SetOp::Remove(e) => Box::new(
                [SetOp::Add(e)]
                    .into_iter()
                    .chain(shrink_u8(e).map(SetOp::Remove)),
            ),
        }
    }
}

/// An operation on an [`AwSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwSetOp {
    /// Add the element.
    Add(u8),
    /// Remove the element (the adds seen).
    Remove(u8),
    /// Remove every element seen.
    Clear,
}

impl Arbitrary for AwSetOp {
    fn arbitrary(g: &mut Gen) -> Self {
        let e = pick(g, ELEMENTS);
        match pick(g, 8) {
            0..=4 => AwSetOp::Add(e),
            5 | 6 => AwSetOp::Remove(e),
            _ => AwSetOp::Clear,
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match *self {
            AwSetOp::Add(e) => Box::new(shrink_u8(e).map(AwSetOp::Add)),
            AwSetOp::Remove(e) => Box::new(
                [AwSetOp::Add(e)]
                    .into_iter()
                    .chain(shrink_u8(e).map(AwSetOp::Remove)),
            ),
            AwSetOp::Clear => Box::new(core::iter::empty()),
        }
    }
}

/// An operation on a register ([`LwwRegister`] in any form, [`MvRegister`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// Write the value.
    Write(u8),
    /// Clear the register (multi-value register only; others write 0).
    Clear,
}

impl Arbitrary for RegisterOp {
    fn arbitrary(g: &mut Gen) -> Self {
        if pick(g, 6) == 0 {
            RegisterOp::Clear
        } else {
            RegisterOp::Write(pick(g, VALUES))
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match *self {
            RegisterOp::Write(v) => Box::new(shrink_u8(v).map(RegisterOp::Write)),
            RegisterOp::Clear => Box::new(core::iter::empty()),
        }
    }
}

/// An operation on a register that has no clear: [`LwwRegister`] and its causal form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LwwOp {
    /// Write the value, stamped with the writer's tick.
    Set(u8),
}

impl Arbitrary for LwwOp {
    fn arbitrary(g: &mut Gen) -> Self {
        LwwOp::Set(pick(g, VALUES))
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let LwwOp::Set(v) = *self;
        Box::new(shrink_u8(v).map(LwwOp::Set))
    }
}

/// An operation on a flag ([`EwFlag`], [`DwFlag`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    /// Enable.
    Enable,
    /// Disable.
    Disable,
}

impl Arbitrary for FlagOp {
    fn arbitrary(g: &mut Gen) -> Self {
        if bool::arbitrary(g) {
            FlagOp::Enable
        } else {
            FlagOp::Disable
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match self {
            FlagOp::Enable => Box::new(core::iter::empty()),
            FlagOp::Disable => Box::new(core::iter::once(FlagOp::Enable)),
        }
    }
}

/// An operation on an [`OrMap`](starling_core::OrMap) whose values take operations `V`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapOp<V> {
    /// Apply the value operation to the value under the key (created if absent).
    Update(u8, V),
    /// Remove the key (the updates seen).
    Remove(u8),
    /// Remove every key seen.
    Clear,
}

impl<V: Arbitrary> Arbitrary for MapOp<V> {
    fn arbitrary(g: &mut Gen) -> Self {
        let k = pick(g, KEYS);
        match pick(g, 10) {
            0..=6 => MapOp::Update(k, V::arbitrary(g)),
            7 | 8 => MapOp::Remove(k),
            _ => MapOp::Clear,
        }
    }
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match self {
            MapOp::Update(k, v) => {
                let k = *k;
                let keys = shrink_u8(k).map({
                    let v = v.clone();
                    move |k| MapOp::Update(k, v.clone())
                });
                Box::new(keys.chain(v.shrink().map(move |v| MapOp::Update(k, v))))
            }
            MapOp::Remove(k) => Box::new(shrink_u8(*k).map(MapOp::Remove)),
            MapOp::Clear => Box::new(core::iter::empty()),
        }
    }
}

// ---------------------------------------------------------------------------------
// Non-causal types
// ---------------------------------------------------------------------------------

/// Laws of [`GCounter<S>`].
pub struct GCounterSubject<S>(PhantomData<S>);

impl<S: Storage> LawSubject for GCounterSubject<S> {
    type State = GCounter<S>;
    type Op = GCounterOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        let GCounterOp::Increment(n) = *op;
        x.increment_delta(w.replica, n.into())
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        let GCounterOp::Increment(n) = *op;
        x.increment(w.replica, n.into())
    }
    fn every_kind(a: u8, _b: u8) -> Vec<Self::Op> {
        vec![
            GCounterOp::Increment(1 + a % AMOUNTS),
            GCounterOp::Increment(0),
        ]
    }
}

/// Laws of [`PNCounter<S>`].
pub struct PNCounterSubject<S>(PhantomData<S>);

impl<S: Storage> LawSubject for PNCounterSubject<S> {
    type State = PNCounter<S>;
    type Op = PnOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            PnOp::Increment(n) => x.increment_delta(w.replica, n.into()),
            PnOp::Decrement(n) => x.decrement_delta(w.replica, n.into()),
        }
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            PnOp::Increment(n) => x.increment(w.replica, n.into()),
            PnOp::Decrement(n) => x.decrement(w.replica, n.into()),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        vec![PnOp::Increment(a % AMOUNTS), PnOp::Decrement(b % AMOUNTS)]
    }
}

/// Laws of [`GSet<u8, S>`].
pub struct GSetSubject<S>(PhantomData<S>);

impl<S: Storage> LawSubject for GSetSubject<S> {
    type State = GSet<u8, S>;
    type Op = GSetOp;
    fn delta(x: &Self::State, _w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        let GSetOp::Insert(e) = *op;
        x.insert_delta(e)
    }
    fn apply(x: &mut Self::State, _w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        let GSetOp::Insert(e) = *op;
        x.insert(e)
    }
    fn every_kind(a: u8, _b: u8) -> Vec<Self::Op> {
        vec![GSetOp::Insert(a % ELEMENTS)]
    }
}

/// Laws of [`TwoPSet<u8, S>`].
pub struct TwoPSetSubject<S>(PhantomData<S>);

impl<S: Storage> LawSubject for TwoPSetSubject<S> {
    type State = TwoPSet<u8, S>;
    type Op = SetOp;
    fn delta(x: &Self::State, _w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            SetOp::Add(e) => x.insert_delta(e),
            SetOp::Remove(e) => x.remove_delta(e),
        }
    }
    fn apply(x: &mut Self::State, _w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            SetOp::Add(e) => x.insert(e),
            SetOp::Remove(e) => x.remove(e),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        vec![SetOp::Add(a % ELEMENTS), SetOp::Remove(b % ELEMENTS)]
    }
}

/// Laws of the standalone [`LwwRegister<u8, u64>`] (no storage parameter), stamped
/// with the writer's tick.
pub struct LwwRegisterSubject;

impl LawSubject for LwwRegisterSubject {
    type State = LwwRegister<u8, u64>;
    type Op = LwwOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        let LwwOp::Set(v) = *op;
        Ok(x.set_delta(w.replica, w.tick, v))
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        let LwwOp::Set(v) = *op;
        Ok(x.set(w.replica, w.tick, v))
    }
    fn every_kind(a: u8, _b: u8) -> Vec<Self::Op> {
        vec![LwwOp::Set(a % VALUES)]
    }
}

// ---------------------------------------------------------------------------------
// Causal types
// ---------------------------------------------------------------------------------

/// Laws of [`AwSet<u8, S>`]; as a map value, `AwSet<u8, S>` (in a map of any storage).
pub struct AwSetSubject<S>(PhantomData<S>);

impl<S: Storage, C: Storage> ValueSubject<C> for AwSetSubject<S> {
    type Store = AwSetStore<u8, S>;
    type Op = AwSetOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<C>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, C>, CapacityError> {
        match *op {
            AwSetOp::Add(e) => store.add_delta(cx, w.replica, e),
            AwSetOp::Remove(e) => store.remove_delta(&e),
            AwSetOp::Clear => store.clear_delta(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        vec![
            AwSetOp::Add(a % ELEMENTS),
            AwSetOp::Remove(b % ELEMENTS),
            AwSetOp::Clear,
        ]
    }
}

impl<S: Storage> LawSubject for AwSetSubject<S> {
    type State = AwSet<u8, S>;
    type Op = AwSetOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            AwSetOp::Add(e) => x.add(w.replica, e),
            AwSetOp::Remove(e) => x.remove(&e),
            AwSetOp::Clear => x.clear(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// Laws of [`RwSet<u8, S>`]; as a map value, `RwSet<u8, S>`.
pub struct RwSetSubject<S>(PhantomData<S>);

impl<S: Storage, C: Storage> ValueSubject<C> for RwSetSubject<S> {
    type Store = RwSetStore<u8, S>;
    type Op = SetOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<C>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, C>, CapacityError> {
        match *op {
            SetOp::Add(e) => store.add_delta(cx, w.replica, e),
            SetOp::Remove(e) => store.remove_delta(cx, w.replica, e),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        vec![SetOp::Add(a % ELEMENTS), SetOp::Remove(b % ELEMENTS)]
    }
}

impl<S: Storage> LawSubject for RwSetSubject<S> {
    type State = RwSet<u8, S>;
    type Op = SetOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            SetOp::Add(e) => x.add(w.replica, e),
            SetOp::Remove(e) => x.remove(w.replica, e),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// Laws of [`MvRegister<u8, S>`]; as a map value, `MvRegister<u8, S>`.
pub struct MvRegisterSubject<S>(PhantomData<S>);

impl<S: Storage, C: Storage> ValueSubject<C> for MvRegisterSubject<S> {
    type Store = MvRegisterStore<u8, S>;
    type Op = RegisterOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<C>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, C>, CapacityError> {
        match *op {
            RegisterOp::Write(v) => store.write_delta(cx, w.replica, v),
            RegisterOp::Clear => store.clear_delta(),
        }
    }
    fn every_kind(a: u8, _b: u8) -> Vec<Self::Op> {
        vec![RegisterOp::Write(a % VALUES), RegisterOp::Clear]
    }
}

impl<S: Storage> LawSubject for MvRegisterSubject<S> {
    type State = MvRegister<u8, S>;
    type Op = RegisterOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            RegisterOp::Write(v) => x.write(w.replica, v),
            RegisterOp::Clear => x.clear(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// Laws of the causal form of a last-writer-wins register,
/// `Causal<LwwStore<u8, u64, S>, S>`; as a map value, `LwwRegister<u8, u64>`.
pub struct CausalLwwSubject<S>(PhantomData<S>);

impl<S: Storage> ValueSubject<S> for CausalLwwSubject<S> {
    type Store = LwwStore<u8, u64, S>;
    type Op = LwwOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<S>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, S>, CapacityError> {
        let LwwOp::Set(v) = *op;
        store.set_delta(cx, w.replica, w.tick, v)
    }
    fn every_kind(a: u8, _b: u8) -> Vec<Self::Op> {
        vec![LwwOp::Set(a % VALUES)]
    }
}

impl<S: Storage> LawSubject for CausalLwwSubject<S> {
    type State = Causal<LwwStore<u8, u64, S>, S>;
    type Op = LwwOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        // The causal form has no named mutator: `Causal::apply` is its mutator.
        let LwwOp::Set(v) = *op;
        x.apply(|s, cx| s.set_delta(cx, w.replica, w.tick, v))
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// Laws of [`EwFlag<S>`]; as a map value, `EwFlag<S>`.
pub struct EwFlagSubject<S>(PhantomData<S>);

impl<S: Storage, C: Storage> ValueSubject<C> for EwFlagSubject<S> {
    type Store = EwFlagStore<S>;
    type Op = FlagOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<C>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, C>, CapacityError> {
        match op {
            FlagOp::Enable => store.enable_delta(cx, w.replica),
            FlagOp::Disable => store.disable_delta(),
        }
    }
    fn every_kind(_a: u8, _b: u8) -> Vec<Self::Op> {
        vec![FlagOp::Enable, FlagOp::Disable]
    }
}

impl<S: Storage> LawSubject for EwFlagSubject<S> {
    type State = EwFlag<S>;
    type Op = FlagOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match op {
            FlagOp::Enable => x.enable(w.replica),
            FlagOp::Disable => x.disable(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// Laws of [`DwFlag<S>`]; as a map value, `DwFlag<S>`.
pub struct DwFlagSubject<S>(PhantomData<S>);

impl<S: Storage, C: Storage> ValueSubject<C> for DwFlagSubject<S> {
    type Store = DwFlagStore<S>;
    type Op = FlagOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<C>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, C>, CapacityError> {
        match op {
            FlagOp::Enable => store.enable_delta(cx, w.replica),
            FlagOp::Disable => store.disable_delta(cx, w.replica),
        }
    }
    fn every_kind(_a: u8, _b: u8) -> Vec<Self::Op> {
        vec![FlagOp::Enable, FlagOp::Disable]
    }
}

impl<S: Storage> LawSubject for DwFlagSubject<S> {
    type State = DwFlag<S>;
    type Op = FlagOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match op {
            FlagOp::Enable => x.enable(w.replica),
            FlagOp::Disable => x.disable(w.replica),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// Laws of [`CausalCounter<S>`]; as a map value it is the form of `GCounter<S>`,
/// `PNCounter<S>` and `CausalCounter<S>` values (all held as a [`CounterStore`]).
pub struct CausalCounterSubject<S>(PhantomData<S>);

impl<S: Storage, C: Storage> ValueSubject<C> for CausalCounterSubject<S> {
    type Store = CounterStore<S>;
    type Op = CausalCounterOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<C>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, C>, CapacityError> {
        match *op {
            CausalCounterOp::Increment(n) => store.increment_delta(cx, w.replica, n.into()),
            CausalCounterOp::Decrement(n) => store.decrement_delta(cx, w.replica, n.into()),
            CausalCounterOp::Reset => store.reset_delta(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        vec![
            CausalCounterOp::Increment(a % AMOUNTS),
            CausalCounterOp::Decrement(b % AMOUNTS),
            CausalCounterOp::Reset,
        ]
    }
}

impl<S: Storage> LawSubject for CausalCounterSubject<S> {
    type State = CausalCounter<S>;
    type Op = CausalCounterOp;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match *op {
            CausalCounterOp::Increment(n) => x.increment(w.replica, n.into()),
            CausalCounterOp::Decrement(n) => x.decrement(w.replica, n.into()),
            CausalCounterOp::Reset => x.reset(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// A `PNCounter<S>` as an [`OrMap`](starling_core::OrMap) value (held as a [`CounterStore`]): increments and
/// decrements only; removing the key is the map's business.
pub struct PNCounterValue<S>(PhantomData<S>);

impl<S: Storage> ValueSubject<S> for PNCounterValue<S> {
    type Store = CounterStore<S>;
    type Op = PnOp;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<S>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, S>, CapacityError> {
        match *op {
            PnOp::Increment(n) => store.increment_delta(cx, w.replica, n.into()),
            PnOp::Decrement(n) => store.decrement_delta(cx, w.replica, n.into()),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        vec![PnOp::Increment(a % AMOUNTS), PnOp::Decrement(b % AMOUNTS)]
    }
}

/// Laws of `OrMap<u8, V, S>` where `V` is described by the value subject `V` (whose own
/// tables may use another storage than `S`); as a map value itself (nesting), the
/// `OrMap<u8, V, S>` under an outer map whose context may use another storage.
pub struct OrMapSubject<V, S>(PhantomData<(V, S)>);

/// The state type of [`OrMapSubject<V, S>`]: the `OrMap` with `u8` keys and `V`'s store.
pub type MapState<V, S> = Causal<OrMapStore<u8, <V as ValueSubject<S>>::Store, S>, S>;

impl<V: ValueSubject<C>, S: Storage, C: Storage> ValueSubject<C> for OrMapSubject<V, S> {
    type Store = OrMapStore<u8, V::Store, S>;
    type Op = MapOp<V::Op>;
    fn store_delta(
        store: &Self::Store,
        cx: &CausalContext<C>,
        w: Writer,
        op: &Self::Op,
    ) -> Result<Causal<Self::Store, C>, CapacityError> {
        match op {
            MapOp::Update(k, vop) => {
                store.update_delta(cx, k, |value, cx| V::store_delta(value, cx, w, vop))
            }
            MapOp::Remove(k) => store.remove_delta(k),
            MapOp::Clear => store.clear_delta(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        let key = a % KEYS;
        let mut ops: Vec<Self::Op> = V::every_kind(b, a)
            .into_iter()
            .map(|vop| MapOp::Update(key, vop))
            .collect();
        ops.push(MapOp::Remove(b % KEYS));
        ops.push(MapOp::Clear);
        ops
    }
}

impl<V, S> LawSubject for OrMapSubject<V, S>
where
    V: ValueSubject<S>,
    S: Storage,
    MapState<V, S>: WireFormat + Reconcile,
{
    type State = MapState<V, S>;
    type Op = MapOp<V::Op>;
    fn delta(x: &Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        <Self as ValueSubject<S>>::store_delta(x.store(), x.context(), w, op)
    }
    fn apply(x: &mut Self::State, w: Writer, op: &Self::Op) -> Result<Self::State, CapacityError> {
        match op {
            MapOp::Update(k, vop) => x.update(k, |value, cx| V::store_delta(value, cx, w, vop)),
            MapOp::Remove(k) => x.remove(k),
            MapOp::Clear => x.clear(),
        }
    }
    fn every_kind(a: u8, b: u8) -> Vec<Self::Op> {
        <Self as ValueSubject<S>>::every_kind(a, b)
    }
}

/// Compile-time check helpers: `same_type::<A, B>()` compiles only when `A` and `B` are
/// one type, used to pin subjects to the public type names they stand for.
pub fn same_type<A, B>()
where
    A: SameAs<B>,
{
}

/// Implemented by `T` for `T` only: see [`same_type`].
pub trait SameAs<T> {}
impl<T> SameAs<T> for T {}
