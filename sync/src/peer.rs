//! Neighbours: membership, failure detection, retry backoff and byte budgets.

use core::num::NonZeroU32;

use rand_core::RngCore;
use starling_core::ReplicaId;

use crate::config::{ByteBudget, Config};

/// How alive a neighbour looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Liveness {
    /// Heard from recently.
    Alive,
    /// Silent for longer than `suspect_after_ms`.
    Suspect,
    /// Silent for longer than `dead_after_ms`, or never heard from.
    Dead,
}

/// Which digest of ours a neighbour is owed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DigestDue {
    /// Our digest, asking for a catch-up, and for the neighbour's digest back (`reply`).
    Request,
    /// Our digest, asking for a catch-up, in answer to the neighbour's digest that asked
    /// for ours (`reply = false`, so the exchange ends).
    Answer,
}

/// What we owe a neighbour: things to send, which may be owed together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Owed {
    /// Send our digest (asking for a catch-up).
    pub(crate) digest: Option<DigestDue>,
    /// Send the buffered deltas it has not acknowledged.
    pub(crate) deltas: bool,
    /// This is our own sync round towards it (so ask for its deltas back, in push-pull).
    pub(crate) round: bool,
    /// Send something soon, if only to acknowledge.
    pub(crate) ack: bool,
    /// An acknowledgement of an interval is due by this time: until then it waits to ride
    /// on a frame we send anyway (at the latest, our next sync round).
    pub(crate) ack_by: Option<u64>,
}

/// What we hold of a neighbour's updates: the receiving half of its protocol state.
///
/// ```text
/// Unknown --want_digest--> CatchingUp --catch-up(nonce)--> Synced --want_digest--> Refreshing
///    ^                                                      |  ^                       |
///    +------- restart or declared dead (from any state) ----+  +---- catch-up(nonce) --+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// We lack its past and have not asked for it yet (first contact, it restarted, or
    /// we declared it dead). The next frame from it, a delta-interval or a probe asks.
    Unknown,
    /// We lack its past; our digest with `nonce` asked for a catch-up and is retried
    /// (same nonce) until a catch-up answering it arrives.
    CatchingUp {
        /// The outstanding request's nonce.
        nonce: NonZeroU32,
    },
    /// We hold everything it sent before sequence number `recv`: its delta-intervals
    /// starting at or before `recv` are joined.
    Synced {
        /// The next of its sequence numbers we expect.
        recv: u64,
    },
    /// Synced, and our digest with `nonce` asked it for a catch-up anyway (it asked for
    /// our digest, or its buffer cannot serve our mark): intervals are still joined, and
    /// a catch-up answering `nonce` too.
    Refreshing {
        /// The next of its sequence numbers we expect.
        recv: u64,
        /// The outstanding request's nonce.
        nonce: NonZeroU32,
    },
}

impl Inbound {
    /// The next of its sequence numbers we expect, if we hold its past.
    pub(crate) fn recv(self) -> Option<u64> {
        match self {
            Inbound::Synced { recv } | Inbound::Refreshing { recv, .. } => Some(recv),
            Inbound::Unknown | Inbound::CatchingUp { .. } => None,
        }
    }

    /// The nonce of our outstanding catch-up request, if any.
    pub(crate) fn nonce(self) -> Option<NonZeroU32> {
        match self {
            Inbound::CatchingUp { nonce } | Inbound::Refreshing { nonce, .. } => Some(nonce),
            Inbound::Unknown | Inbound::Synced { .. } => None,
        }
    }

    /// A request with `nonce` goes out (the caller checked none is outstanding).
    pub(crate) fn requested(self, nonce: NonZeroU32) -> Self {
        match self.recv() {
            None => Inbound::CatchingUp { nonce },
            Some(recv) => Inbound::Refreshing { recv, nonce },
        }
    }

    /// An interval up to `to` was joined.
    pub(crate) fn joined_to(self, to: u64) -> Self {
        match self {
            Inbound::Refreshing { nonce, .. } => Inbound::Refreshing { recv: to, nonce },
            _ => Inbound::Synced { recv: to },
        }
    }

    /// The catch-up answering our request, of sequence numbers before `seq`, was joined.
    pub(crate) fn caught_up(self, seq: u64) -> Self {
        Inbound::Synced {
            recv: self.recv().map_or(seq, |r| r.max(seq)),
        }
    }
}

/// What a neighbour holds of our updates: the sending half of its protocol state.
///
/// ```text
/// Unknown --ack in a header--> Acked --buffer cannot serve the mark--> Resync
///    ^                           |                                       |
///    +-- it forgot us (header names another incarnation), buffer reset --+
///    +------------- its digest arrives (it asks to be caught up) ---------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// Not known: it acknowledges the catch-up it asks for, or any frame of ours.
    Unknown,
    /// It holds our updates before sequence number `ack` (`A` in the paper): it is sent
    /// delta-intervals from there.
    Acked {
        /// The next of our sequence numbers it expects.
        ack: u64,
    },
    /// Our buffer no longer reaches back to its mark (collected, or too large for one
    /// message): it must ask us for a catch-up, and our digest asking for its digest is
    /// retried until it does. `ack` is the mark its frames still carry, if any.
    Resync {
        /// Its last acknowledgement.
        ack: Option<u64>,
    },
}

impl Outbound {
    /// Its acknowledgement mark, if any (stale under [`Outbound::Resync`]).
    pub(crate) fn ack(self) -> Option<u64> {
        match self {
            Outbound::Unknown => None,
            Outbound::Acked { ack } => Some(ack),
            Outbound::Resync { ack } => ack,
        }
    }

    /// Replaces the acknowledgement mark, in the same state.
    pub(crate) fn with_ack(self, ack: Option<u64>) -> Self {
        match (self, ack) {
            (Outbound::Resync { .. }, ack) => Outbound::Resync { ack },
            (_, Some(ack)) => Outbound::Acked { ack },
            (_, None) => Outbound::Unknown,
        }
    }
}

/// Why a live neighbour is out of sync with us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Stall {
    /// We lack its past: our catch-up request is unanswered (or its catch-up does not
    /// reach us: refused, too large, lost).
    CatchingUp,
    /// It has not acknowledged our updates: our deltas do not reach it, or it cannot
    /// take them.
    Unacknowledged,
}

/// One neighbour.
#[derive(Clone, Debug)]
pub(crate) struct Peer<A> {
    pub(crate) addr: A,
    pub(crate) id: Option<ReplicaId>,
    /// Configured by the application (kept when dead) or introduced itself (forgotten).
    pub(crate) configured: bool,
    /// Its current incarnation (`None`: not heard from yet).
    pub(crate) incarnation: Option<NonZeroU32>,
    /// Its previous incarnations: frames from them are replays.
    pub(crate) retired: [Option<NonZeroU32>; 2],
    pub(crate) liveness: Liveness,
    pub(crate) last_heard_ms: Option<u64>,
    pub(crate) last_sent_ms: Option<u64>,
    /// What it holds of ours.
    pub(crate) outbound: Outbound,
    /// What we hold of its.
    pub(crate) inbound: Inbound,
    pub(crate) owed: Owed,
    /// When we may next probe it (digest retry), and the current backoff.
    pub(crate) next_probe_ms: u64,
    pub(crate) backoff_ms: u64,
    /// Byte budget state.
    pub(crate) tokens: u64,
    pub(crate) refilled_ms: u64,
    /// Since when it is out of sync with us, if it is.
    pub(crate) stalled: Option<Stalled>,
}

/// A neighbour out of sync with us since `since_ms`, when our next sequence number was
/// `seq`: it stays stalled while it lacks what we had then (or we lack its past).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stalled {
    pub(crate) since_ms: u64,
    pub(crate) seq: u64,
    /// [`crate::Event::OutOfSync`] was raised for it.
    pub(crate) reported: bool,
}

impl<A: Copy + PartialEq> Peer<A> {
    pub(crate) fn new(
        addr: A,
        id: Option<ReplicaId>,
        configured: bool,
        config: &Config,
        now_ms: u64,
    ) -> Self {
        Peer {
            addr,
            id,
            configured,
            incarnation: None,
            retired: [None; 2],
            liveness: Liveness::Dead,
            last_heard_ms: None,
            last_sent_ms: None,
            outbound: Outbound::Unknown,
            inbound: Inbound::Unknown,
            owed: Owed::default(),
            next_probe_ms: now_ms + config.retry_base_ms,
            backoff_ms: config.retry_base_ms,
            tokens: config.budget.map_or(0, |b| u64::from(b.burst_bytes)),
            refilled_ms: now_ms,
            stalled: None,
        }
    }

    /// Why it is out of sync with us now, if it is (`seq`: our next sequence number).
    pub(crate) fn stall(&self, seq: u64) -> Option<Stall> {
        if self.inbound.recv().is_none() {
            Some(Stall::CatchingUp)
        } else if self.outbound.ack().is_none_or(|a| a < seq)
            || matches!(self.outbound, Outbound::Resync { .. })
        {
            Some(Stall::Unacknowledged)
        } else {
            None
        }
    }

    /// Forgets what we knew of its progress (it restarted, or we declared it dead).
    pub(crate) fn reset_marks(&mut self) {
        self.outbound = Outbound::Unknown;
        self.inbound = Inbound::Unknown;
        self.owed = Owed::default();
    }

    /// Schedules the next probe: exponential backoff with full jitter.
    pub(crate) fn schedule_probe<R: RngCore>(&mut self, now_ms: u64, config: &Config, rng: &mut R) {
        let jitter = rng.next_u64() % (self.backoff_ms + 1);
        self.next_probe_ms = now_ms + jitter.max(1);
        self.backoff_ms = (self.backoff_ms.saturating_mul(2))
            .min(config.retry_max_ms)
            .max(1);
    }

    pub(crate) fn heard(&mut self, now_ms: u64, config: &Config) -> bool {
        self.last_heard_ms = Some(now_ms);
        let revived = self.liveness != Liveness::Alive;
        if revived {
            // Back: probe it at once, from the shortest delay (not on every frame: a peer
            // that talks but never answers our digest must see the retries back off);
            // but not sooner than `retry_base_ms` after we last sent it something while a
            // request is outstanding: that request is likely what it is answering, and a
            // second one made it compute and send a second catch-up.
            self.backoff_ms = config.retry_base_ms;
            self.next_probe_ms = match (self.inbound.nonce(), self.last_sent_ms) {
                (Some(_), Some(sent)) => now_ms.max(sent.saturating_add(config.retry_base_ms)),
                _ => now_ms,
            };
        }
        self.liveness = Liveness::Alive;
        revived
    }

    fn refill(&mut self, now_ms: u64, budget: ByteBudget) {
        let elapsed = now_ms.saturating_sub(self.refilled_ms);
        let add = elapsed.saturating_mul(u64::from(budget.bytes_per_second)) / 1000;
        if add > 0 {
            self.tokens = (self.tokens + add).min(u64::from(budget.burst_bytes));
            self.refilled_ms = now_ms;
        }
    }

    /// `true` when the budget lets `len` bytes out now (and debits them).
    pub(crate) fn spend(&mut self, now_ms: u64, len: usize, config: &Config) -> bool {
        let Some(budget) = config.budget else {
            return true;
        };
        self.refill(now_ms, budget);
        if self.tokens >= len as u64 {
            self.tokens -= len as u64;
            true
        } else {
            false
        }
    }

    /// `true` when the budget would let `len` bytes out now (debits nothing).
    pub(crate) fn can_spend(&mut self, now_ms: u64, len: usize, config: &Config) -> bool {
        let Some(budget) = config.budget else {
            return true;
        };
        self.refill(now_ms, budget);
        self.tokens >= len as u64
    }

    /// When the budget will hold `len` bytes.
    pub(crate) fn budget_ready_ms(&self, len: usize, config: &Config) -> u64 {
        let Some(budget) = config.budget else {
            return 0;
        };
        let missing = (len as u64).saturating_sub(self.tokens);
        let rate = u64::from(budget.bytes_per_second.max(1));
        self.refilled_ms + missing.saturating_mul(1000).div_ceil(rate)
    }

    pub(crate) fn owes_anything(&self) -> bool {
        self.owed.digest.is_some() || self.owed.deltas || self.owed.ack
    }
}

/// What the application can see of a neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerInfo<A> {
    /// Transport address.
    pub addr: A,
    /// Replica id, once heard from.
    pub id: Option<ReplicaId>,
    /// Liveness.
    pub liveness: Liveness,
    /// Configured by the application (as opposed to introduced itself).
    pub configured: bool,
    /// The next of our sequence numbers it has acknowledged, if known.
    pub acked: Option<u64>,
}
