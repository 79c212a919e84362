//! # starling-core
//!
//! Delta-state CRDTs for edge devices: counters, sets, registers, flags and nested maps
//! that replicas update locally, even offline, and that converge when any two of them
//! exchange what they have. `#![no_std]`, no allocator needed, no `unsafe`.
//!
//! ## The model in one page
//!
//! **A state is a lattice.** Every type here is a [`Lattice`]: a set of states with a
//! [`join`](Lattice::join) that merges two states into the least state that includes
//! both. Join is commutative, associative and idempotent, so replicas that have joined
//! the same things hold the same state, whatever the order, grouping or repetition in
//! which things arrived. That is all convergence needs: any transport, any delay, any
//! duplication.
//!
//! **Mutations produce deltas.** Each mutator has a delta form returning a small state
//! `d` with `m(x) == x ⊔ d` (`set.add_delta(..)`), and the plain form applies it and
//! hands it back (`let d = set.add(..)?`). Ship `d`, not the whole state: deltas are
//! states too, so they join with each other (batching), with full states, and survive
//! duplication and reordering.
//!
//! ```
//! use starling_core::{AwSet, Fixed, Lattice, ReplicaId};
//! type Set = AwSet<&'static str, Fixed<16, 4>>; // 16 elements, 4 replicas, no heap
//!
//! let (phone, gateway) = (ReplicaId(1), ReplicaId(2));
//! let mut on_phone = Set::default();
//! let mut on_gateway = Set::default();
//!
//! let d1 = on_phone.add(phone, "door-open")?;      // offline edits...
//! let d2 = on_gateway.add(gateway, "low-battery")?;
//! on_gateway.join(&d1)?;                             // ...exchanged later, any order
//! on_phone.join(&d2)?;
//! on_phone.join(&d2)?;                               // duplicates are harmless
//! assert_eq!(on_phone, on_gateway);
//! # Ok::<(), starling_core::CapacityError>(())
//! ```
//!
//! **Causality.** A [`ReplicaId`] names a replica; its `n`-th event is the [`Dot`]
//! `(replica, n)`. A [`VersionVector`] counts the events seen per replica and compares
//! histories ([`CausalOrder`]: before, after, equal, concurrent). A [`CausalContext`] is
//! a version vector plus a cloud of dots seen out of order, compacted as gaps fill.
//!
//! **Causal CRDTs remove without tombstones.** [`AwSet`], [`RwSet`], [`MvRegister`],
//! [`EwFlag`], [`DwFlag`], [`CausalCounter`] and [`OrMap`] are a *dot store* (which
//! writes are live) plus the causal context (which writes were seen): a write the other
//! side has seen but no longer holds was removed there. An [`OrMap`] nests any of them
//! under keys, sharing one context, to any depth.
//!
//! **Timestamps.** [`LwwRegister`] resolves concurrent writes by a stamp: a
//! [`HybridClock`] timestamp (close to wall time, never going backwards) or a
//! [`LamportClock`] time, with the replica id breaking ties.
//!
//! ## Storage: fixed or growable, one implementation
//!
//! Every type takes a storage parameter `S` (module [`storage`]):
//!
//! * [`Fixed<N, R>`]: allocation-free, inline: `N` elements or keys, `R` replicas.
//!   An operation that would not fit returns [`CapacityError`] and changes nothing.
//!   Each type documents what one entry costs.
//! * [`Growable`] (feature `alloc`): `BTreeMap` and `SmallVec` tables that grow.
//! * [`Compact`] (feature `alloc`): sorted `Vec` tables that grow; the least code
//!   (`O(n)` insertions), for WebAssembly and size-bound builds.
//!
//! ### RAM in fixed storage
//!
//! What one more entry costs, in bytes on a 64-bit host (asserted by
//! `tests/tests/footprint.rs`; on 32-bit targets such as Cortex-M the length words are
//! 4 bytes, so the totals are a little smaller). `N` counts element-table entries, `R`
//! replica-table entries; causal types include their causal context.
//!
//! | type | per `N` entry | per `R` entry |
//! |---|---|---|
//! | [`GCounter`], [`VersionVector`] | – | 16 |
//! | [`PNCounter`] | – | 32 |
//! | [`GSet<u64>`](GSet) | 8 | – |
//! | [`TwoPSet<u64>`](TwoPSet) | 16 | – |
//! | [`AwSet<u64>`](AwSet) (`R = 4`) | 104 | 16 per element + 16 |
//! | [`RwSet<u64>`](RwSet) (`R = 4`) | 136 | 24 per element + 16 |
//! | [`MvRegister<u64>`](MvRegister), [`DwFlag`] | 24 (dot cloud) | 40 |
//! | [`EwFlag`] | 24 (dot cloud) | 32 |
//! | [`CausalCounter`] | 24 (dot cloud) | 48 |
//! | [`CausalContext`] | 24 (a cloud range) | 16 |
//! | [`LwwRegister<u64>`](LwwRegister) | 32 bytes in all | – |
//!
//! ## Encoding
//!
//! [`WireFormat`] encodes any state or delta as a version byte plus
//! [postcard](https://docs.rs/postcard); decoding treats bytes as untrusted and returns
//! a [`DecodeError`], never panics. Serde is always enabled: encoding is what a
//! replicated type is for. The format is specified in `docs/wire-format.md`.
//!
//! ## The catalogue
//!
//! | type | what it holds | concurrent conflict |
//! |---|---|---|
//! | [`GCounter`] | a count that only grows | increments add up |
//! | [`PNCounter`] | a count up and down | increments and decrements add up |
//! | [`CausalCounter`] | a count that can be reset (map value) | a concurrent incrementer's total survives a reset |
//! | [`GSet`] | elements, add only | union |
//! | [`TwoPSet`] | elements, removed for good | remove wins forever |
//! | [`AwSet`] | elements, add and remove | add wins |
//! | [`RwSet`] | elements, add and remove | remove wins |
//! | [`LwwRegister`] | one value | greatest timestamp wins |
//! | [`MvRegister`] | one value | all concurrent values kept |
//! | [`EwFlag`] | on / off | enable wins |
//! | [`DwFlag`] | on / off | disable wins |
//! | [`OrMap`] | keys to any of the above, nested | update wins over remove |
//!
//! ## Features
//!
//! * default: nothing; builds for `thumbv6m-none-eabi` without an allocator.
//! * `alloc`: [`Growable`] and [`Compact`] storage and [`WireFormat::to_vec`].
//! * `std`: implies `alloc`.
//! * `defmt`: `defmt::Format` for the clock, error and identity types.
//!
//! ## Who should not use this crate
//!
//! Collaborative text editing needs a sequence CRDT (Yjs, Automerge, Loro have them);
//! Starling has none yet. Anti-entropy over a network is `starling-sync`'s job: this
//! crate knows nothing of networks.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
#[cfg(feature = "std")]
extern crate std;

mod aw_set;
mod causal_context;
mod clock;
mod codec;
mod counter;
mod dot_store;
mod error;
mod flag;
mod gset;
mod lattice;
mod macros;
mod or_map;
mod reconcile;
mod register;
pub mod storage;
mod version_vector;

pub use aw_set::{AwSet, AwSetStore, RwSet, RwSetStore};
pub use causal_context::CausalContext;
pub use clock::{Dot, HlcTimestamp, HybridClock, LamportClock, ReplicaId};
pub use codec::{WIRE_VERSION, WireFormat};
pub use counter::{CausalCounter, CounterStore, GCounter, PNCounter};
pub use dot_store::{Causal, DotFun, DotMap, DotSet, DotStore, Dots, Embed};
pub use error::{CapacityError, DecodeError, EncodeError};
pub use flag::{DwFlag, DwFlagStore, EwFlag, EwFlagStore};
pub use gset::{GSet, TwoPSet};
pub use lattice::Lattice;
pub use or_map::{OrMap, OrMapStore};
pub use reconcile::{CausalDigest, Reconcile, StateChecksum};
pub use register::{LwwRegister, LwwStore, MvRegister, MvRegisterStore};
#[cfg(feature = "alloc")]
pub use storage::{Compact, Growable};
pub use storage::{Fixed, Storage};
pub use version_vector::{CausalOrder, VersionVector};
