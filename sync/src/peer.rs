//! Neighbours: membership, failure detection, retry backoff and byte budgets.

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

/// What we owe a neighbour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Owed {
    /// Send our digest (asking for a catch-up); `reply` asks for theirs too.
    pub(crate) digest: Option<bool>,
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

/// One neighbour.
#[derive(Clone, Debug)]
pub(crate) struct Peer<A> {
    pub(crate) addr: A,
    pub(crate) id: Option<ReplicaId>,
    /// Configured by the application (kept when dead) or introduced itself (forgotten).
    pub(crate) configured: bool,
    /// Its current incarnation (0: not heard from yet).
    pub(crate) incarnation: u32,
    /// Its previous incarnations: frames from them are replays.
    pub(crate) retired: [u32; 2],
    pub(crate) liveness: Liveness,
    pub(crate) last_heard_ms: Option<u64>,
    pub(crate) last_sent_ms: Option<u64>,
    /// The next sequence number of ours it expects (`A` in the paper): `None` until it
    /// has acknowledged a catch-up or an interval in this incarnation.
    pub(crate) ack: Option<u64>,
    /// The next sequence number of its own we expect (`None`: we need a catch-up).
    pub(crate) recv: Option<u64>,
    /// The nonce of the digest we sent it (0: none outstanding).
    pub(crate) digest_nonce: u32,
    pub(crate) owed: Owed,
    /// Our buffer no longer reaches back to its ack mark: it must ask us for a catch-up,
    /// and our digests (asking for its digest) are retried until it does.
    pub(crate) resync: bool,
    /// When we may next probe it (digest retry), and the current backoff.
    pub(crate) next_probe_ms: u64,
    pub(crate) backoff_ms: u64,
    /// Byte budget state.
    pub(crate) tokens: u64,
    pub(crate) refilled_ms: u64,
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
            incarnation: 0,
            retired: [0; 2],
            liveness: Liveness::Dead,
            last_heard_ms: None,
            last_sent_ms: None,
            ack: None,
            recv: None,
            digest_nonce: 0,
            owed: Owed::default(),
            resync: false,
            next_probe_ms: now_ms + config.retry_base_ms,
            backoff_ms: config.retry_base_ms,
            tokens: config.budget.map_or(0, |b| u64::from(b.burst_bytes)),
            refilled_ms: now_ms,
        }
    }

    /// Forgets what we knew of its progress (it restarted, or we declared it dead).
    pub(crate) fn reset_marks(&mut self) {
        self.ack = None;
        self.recv = None;
        self.digest_nonce = 0;
        self.owed = Owed::default();
        self.resync = false;
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
            // Back: probe it at once, from the shortest delay. (Not on every frame: a peer
            // that talks but never answers our digest must see the retries back off.)
            self.backoff_ms = config.retry_base_ms;
            self.next_probe_ms = now_ms;
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
