//! Replica identities, dots, Lamport clocks and hybrid logical clocks.

use core::fmt;

use serde::{Deserialize, Serialize};

/// The identity of a replica: any `u64` unique within the system.
///
/// Pick it once per replica and keep it in durable storage: two live replicas with the
/// same id corrupt each other's causal history. A random 64-bit value from a hardware
/// RNG, a device serial number or a MAC address all work.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(transparent)]
pub struct ReplicaId(pub u64);

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{:x}", self.0)
    }
}

impl From<u64> for ReplicaId {
    fn from(id: u64) -> Self {
        ReplicaId(id)
    }
}

/// One event: the `counter`-th event made by `replica` (counters start at 1).
///
/// Causal CRDTs tag every write with a fresh dot; a [`crate::CausalContext`] records
/// which dots a replica has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dot {
    /// The replica that made the event.
    pub replica: ReplicaId,
    /// Its sequence number at that replica, from 1.
    pub counter: u64,
}

impl Dot {
    /// The dot `(replica, counter)`.
    pub const fn new(replica: ReplicaId, counter: u64) -> Self {
        Dot { replica, counter }
    }
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.replica, self.counter)
    }
}

/// A Lamport clock: a counter that orders events consistently with causality.
///
/// ```
/// use starling_core::LamportClock;
/// let mut a = LamportClock::new();
/// let t1 = a.tick();
/// let mut b = LamportClock::new();
/// b.observe(t1);
/// assert!(b.tick() > t1);
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(transparent)]
pub struct LamportClock(u64);

impl LamportClock {
    /// A clock at 0.
    pub const fn new() -> Self {
        LamportClock(0)
    }
    /// The current time (the last value handed out or observed).
    pub const fn time(&self) -> u64 {
        self.0
    }
    /// Advances the clock and returns the new time, for a local event. Saturates at
    /// `u64::MAX`, which no real system reaches.
    pub fn tick(&mut self) -> u64 {
        self.0 = self.0.saturating_add(1);
        self.0
    }
    /// Takes in a time seen on a received message: the clock moves to at least it.
    pub fn observe(&mut self, remote: u64) {
        self.0 = self.0.max(remote);
    }
}

/// A hybrid logical clock timestamp packed in 64 bits: 48 bits of wall-clock
/// milliseconds (enough until the year 10889) and a 16-bit logical counter.
///
/// Ordered first by wall time, then by the counter. Used to stamp last-writer-wins
/// writes so "last" stays close to real time even when clocks drift.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(transparent)]
pub struct HlcTimestamp(u64);

impl HlcTimestamp {
    const LOGICAL_BITS: u32 = 16;
    const LOGICAL_MASK: u64 = (1 << Self::LOGICAL_BITS) - 1;
    /// The largest wall-clock value representable, in milliseconds.
    pub const MAX_WALL_MS: u64 = (1 << 48) - 1;

    /// A timestamp from its parts; `wall_ms` saturates at [`Self::MAX_WALL_MS`].
    pub const fn new(wall_ms: u64, logical: u16) -> Self {
        let wall = if wall_ms > Self::MAX_WALL_MS {
            Self::MAX_WALL_MS
        } else {
            wall_ms
        };
        HlcTimestamp((wall << Self::LOGICAL_BITS) | logical as u64)
    }
    /// The packed 64-bit form.
    pub const fn to_u64(self) -> u64 {
        self.0
    }
    /// From the packed 64-bit form.
    pub const fn from_u64(raw: u64) -> Self {
        HlcTimestamp(raw)
    }
    /// Wall-clock milliseconds.
    pub const fn wall_ms(self) -> u64 {
        self.0 >> Self::LOGICAL_BITS
    }
    /// Logical counter within one millisecond.
    pub const fn logical(self) -> u16 {
        (self.0 & Self::LOGICAL_MASK) as u16
    }
}

/// A hybrid logical clock (Kulkarni et al. 2014): timestamps that never go backwards,
/// follow causality like a Lamport clock, and stay within clock drift of wall time.
///
/// The clock owns no time source: pass the current wall-clock milliseconds (Unix time,
/// or any epoch shared by the system) to every call.
///
/// ```
/// use starling_core::HybridClock;
/// let mut clock = HybridClock::new();
/// let a = clock.now(1_000);
/// let b = clock.now(1_000); // same millisecond: the logical part advances
/// assert!(b > a);
/// let c = clock.now(900); // wall clock stepped back: still monotonic
/// assert!(c > b);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HybridClock {
    last: HlcTimestamp,
}

impl HybridClock {
    /// A clock that has handed out nothing yet.
    pub const fn new() -> Self {
        HybridClock {
            last: HlcTimestamp(0),
        }
    }
    /// The last timestamp handed out or observed.
    pub const fn last(&self) -> HlcTimestamp {
        self.last
    }
    /// A timestamp for a local event at wall time `wall_ms`, greater than every
    /// timestamp this clock handed out or observed before.
    pub fn now(&mut self, wall_ms: u64) -> HlcTimestamp {
        let wall = HlcTimestamp::new(wall_ms, 0);
        self.last = if wall > self.last {
            wall
        } else {
            HlcTimestamp(self.last.0.saturating_add(1))
        };
        self.last
    }
    /// Takes in a timestamp seen on a received message, then returns a timestamp for
    /// the receive event (greater than both `remote` and everything before).
    pub fn observe(&mut self, remote: HlcTimestamp, wall_ms: u64) -> HlcTimestamp {
        if remote > self.last {
            self.last = remote;
        }
        self.now(wall_ms)
    }
}
