//! Enable-wins and disable-wins flags.

use serde::{Deserialize, Serialize};

use crate::dot_store::{Causal, DotFun, DotSet, causal_delta};
use crate::error::CapacityError;
use crate::macros::newtype_dot_store;
use crate::storage::Storage;
use crate::{CausalContext, ReplicaId};

/// An enable-wins flag: starts disabled; an enable concurrent with a disable wins.
///
/// Fixed storage holds up to `R` concurrent enables (16 bytes each).
///
/// ```
/// use starling_core::{EwFlag, Fixed, Lattice, ReplicaId};
/// type Flag = EwFlag<Fixed<4, 4>>;
/// let (a, b) = (ReplicaId(1), ReplicaId(2));
/// let mut x = Flag::default();
/// x.enable(a)?;
/// let mut y = x.clone();
/// let off = x.disable()?;
/// let on = y.enable(b)?;
/// x.join(&on)?;
/// y.join(&off)?;
/// assert!(x.value() && y.value());
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
pub type EwFlag<S> = Causal<EwFlagStore<S>, S>;

/// The dot store of an [`EwFlag`]: the live enables.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(transparent, bound = "")]
pub struct EwFlagStore<S: Storage>(DotSet<S>);

newtype_dot_store!(impl[S: Storage] EwFlagStore<S>);

impl<S: Storage> EwFlagStore<S> {
    /// `true` when enabled.
    pub fn value(&self) -> bool {
        !self.0.is_empty()
    }
    /// Delta that enables the flag, made by `replica`.
    pub fn enable_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
    ) -> Result<Causal<Self, C>, CapacityError> {
        let dot = cx.next_dot(replica)?;
        causal_delta(
            EwFlagStore(DotSet::single(dot, ())?),
            Some(dot),
            Some(&self.0),
        )
    }
    /// Delta that disables the flag (removes the enables seen).
    pub fn disable_delta<C: Storage>(&self) -> Result<Causal<Self, C>, CapacityError> {
        causal_delta(Self::default(), None, Some(&self.0))
    }
}

impl<S: Storage> EwFlag<S> {
    /// Enables the flag as `replica`; returns the delta.
    pub fn enable(&mut self, replica: ReplicaId) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.enable_delta(cx, replica))
    }
    /// Disables the flag; returns the delta.
    pub fn disable(&mut self) -> Result<Self, CapacityError> {
        self.apply(|s, _| s.disable_delta())
    }
}

/// A disable-wins flag: starts disabled; a disable concurrent with an enable wins.
///
/// Each enable or disable writes a dot tagged with its value, replacing the dots it has
/// seen; the flag is enabled while it has live dots and all of them are enables. Fixed
/// storage holds up to `R` concurrent writes (24 bytes each).
///
/// ```
/// use starling_core::{DwFlag, Fixed, Lattice, ReplicaId};
/// type Flag = DwFlag<Fixed<4, 4>>;
/// let (a, b) = (ReplicaId(1), ReplicaId(2));
/// let mut x = Flag::default();
/// x.enable(a)?;
/// let mut y = x.clone();
/// let off = x.disable(a)?;
/// let on = y.enable(b)?;
/// x.join(&on)?;
/// y.join(&off)?;
/// assert!(!x.value() && !y.value());
/// # Ok::<(), starling_core::CapacityError>(())
/// ```
pub type DwFlag<S> = Causal<DwFlagStore<S>, S>;

/// The dot store of a [`DwFlag`]: live enables (`true`) and disables (`false`).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(transparent, bound = "")]
pub struct DwFlagStore<S: Storage>(DotFun<bool, S>);

newtype_dot_store!(impl[S: Storage] DwFlagStore<S>);

impl<S: Storage> DwFlagStore<S> {
    /// `true` when enabled.
    pub fn value(&self) -> bool {
        !self.0.is_empty() && self.0.iter().all(|(_, on)| *on)
    }
    fn write_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
        on: bool,
    ) -> Result<Causal<Self, C>, CapacityError> {
        let dot = cx.next_dot(replica)?;
        causal_delta(
            DwFlagStore(DotFun::single(dot, on)?),
            Some(dot),
            Some(&self.0),
        )
    }
    /// Delta that enables the flag, made by `replica`.
    pub fn enable_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
    ) -> Result<Causal<Self, C>, CapacityError> {
        self.write_delta(cx, replica, true)
    }
    /// Delta that disables the flag, made by `replica`; it wins over concurrent enables.
    pub fn disable_delta<C: Storage>(
        &self,
        cx: &CausalContext<C>,
        replica: ReplicaId,
    ) -> Result<Causal<Self, C>, CapacityError> {
        self.write_delta(cx, replica, false)
    }
}

impl<S: Storage> DwFlag<S> {
    /// Enables the flag as `replica`; returns the delta.
    pub fn enable(&mut self, replica: ReplicaId) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.enable_delta(cx, replica))
    }
    /// Disables the flag as `replica`; returns the delta.
    pub fn disable(&mut self, replica: ReplicaId) -> Result<Self, CapacityError> {
        self.apply(|s, cx| s.disable_delta(cx, replica))
    }
}
