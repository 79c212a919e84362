//! Time: failure detection, retries, sync rounds, delayed acknowledgements and
//! heartbeats, and the one table of deadlines that [`Node::handle_timeout`] acts on and
//! [`Node::poll_timeout`] reports.
//!
//! Each neighbour's deadlines are an enum-keyed fixed table (`Timers`, as quinn-proto's
//! `connection/timer.rs`), derived from its protocol state by `Timers::of` whenever it
//! is read, so a deadline cannot drift from the state that defines it: a timer runs
//! exactly while its condition holds, `handle_timeout` acts on the timers that have
//! expired, and `poll_timeout` is the earliest of them all. Two deadlines belong to the
//! node, not a neighbour: the next sync round, and (under a byte budget) when the
//! transmitter can send again.

use rand_core::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::Reconcile;

use super::{Event, Node};
use crate::config::Config;
use crate::peer::{Liveness, Outbound, Peer, Stalled};

/// A neighbour's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Failure detection: an alive neighbour silent for `suspect_after_ms` becomes
    /// suspect (for `dead_after_ms`, dead); a suspect one silent for `dead_after_ms`
    /// becomes dead. Not running for a dead or never-heard neighbour.
    Liveness = 0,
    /// The retry of our digest, running while we lack its past, while it must ask us for
    /// a catch-up ([`Outbound::Resync`]) or while it is dead.
    Probe = 1,
    /// The delayed acknowledgement of an interval becomes owed (also at our next round).
    AckDelay = 2,
    /// Nothing sent to a live neighbour for `heartbeat_interval_ms`: a heartbeat is owed.
    /// Not running while something is owed already (it waits for the transmitter).
    Heartbeat = 3,
}

impl Timer {
    const COUNT: usize = 4;
}

/// A neighbour's deadlines, keyed by [`Timer`]: `None` where a timer is not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timers([Option<u64>; Timer::COUNT]);

impl Timers {
    /// The deadlines of `peer`'s timers, at time `now_ms`.
    pub(crate) fn of<A>(peer: &Peer<A>, config: &Config, now_ms: u64) -> Self {
        let mut t = [None; Timer::COUNT];
        t[Timer::Liveness as usize] = peer.last_heard_ms.and_then(|heard| match peer.liveness {
            Liveness::Alive => {
                Some(heard.saturating_add(config.suspect_after_ms.min(config.dead_after_ms)))
            }
            Liveness::Suspect => Some(heard.saturating_add(config.dead_after_ms)),
            Liveness::Dead => None,
        });
        let stuck = peer.inbound.recv().is_none()
            || matches!(peer.outbound, Outbound::Resync { .. })
            || peer.liveness == Liveness::Dead;
        t[Timer::Probe as usize] = stuck.then_some(peer.next_probe_ms);
        t[Timer::AckDelay as usize] = peer.owed.ack_by;
        t[Timer::Heartbeat as usize] =
            (peer.liveness != Liveness::Dead && !peer.owed.ack).then(|| {
                peer.last_sent_ms
                    .map_or(now_ms, |t| t.saturating_add(config.heartbeat_interval_ms))
            });
        Timers(t)
    }

    /// When `timer` expires, if it is running.
    pub(crate) fn get(&self, timer: Timer) -> Option<u64> {
        self.0[timer as usize]
    }

    /// Whether `timer` is running and has expired at `now_ms`.
    pub(crate) fn expired(&self, timer: Timer, now_ms: u64) -> bool {
        self.get(timer).is_some_and(|t| t <= now_ms)
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<u64> {
        self.0.iter().flatten().copied().min()
    }
}

impl<T, A, const PEERS: usize, const DELTAS: usize, const MSG: usize, const TRANSFERS: usize>
    Node<T, A, PEERS, DELTAS, MSG, TRANSFERS>
where
    T: Reconcile + Serialize + DeserializeOwned,
    A: Copy + PartialEq,
{
    /// Handles the passage of time: acts on every expired timer, in a fixed order
    /// (failure detection, retries, the sync round, delayed acknowledgements, heartbeats).
    #[inline(never)]
    pub fn handle_timeout<R: RngCore>(&mut self, now_ms: u64, rng: &mut R) {
        self.now_ms = self.now_ms.max(now_ms);
        let now = self.now_ms;
        let config = self.config;
        // Failure detection.
        let mut i = 0;
        while i < self.peers.len() {
            let peer = &mut self.peers[i];
            if !Timers::of(peer, &config, now).expired(Timer::Liveness, now) {
                i += 1;
                continue;
            }
            // The timer runs only for a peer heard from.
            let silent = peer.last_heard_ms.map_or(0, |t| now.saturating_sub(t));
            let mut forget = false;
            if silent >= config.dead_after_ms {
                peer.liveness = Liveness::Dead;
                peer.reset_marks();
                // Incarnations are random, so their order is unknown: a delayed frame
                // from an older one, arriving after a newer one's, retires the newer
                // one and its frames are dropped as replays. Silence for so long
                // means it may have happened: forget the incarnation history and let
                // the next frame heard name the current incarnation.
                peer.retired = [None; 2];
                if let Some(id) = peer.id {
                    let _ = self.events.push_back(Event::PeerDown(id));
                    self.transfers.forget(id);
                }
                forget = !peer.configured;
            } else if peer.liveness == Liveness::Alive {
                peer.liveness = Liveness::Suspect;
                if let Some(id) = peer.id {
                    let _ = self.events.push_back(Event::PeerSuspect(id));
                    self.transfers.cancel_interval_to(id);
                }
            }
            if forget {
                self.buffer.move_slot(self.peers.len() - 1, i);
                self.peers.swap_remove(i);
                continue;
            }
            i += 1;
        }
        // Retries towards peers whose past we lack, that must ask us for a catch-up, or
        // dead. (A missing ack alone is not retried: probing for it made two peers each
        // reset the other's ack with their digests, for ever.)
        for peer in self.peers.iter_mut() {
            if Timers::of(peer, &config, now).expired(Timer::Probe, now) {
                // Same nonce as an outstanding request: a catch-up answering either
                // the first try or this one is welcome. Not while a transfer from it
                // is arriving: that is most likely the answer, and a retry would make
                // it compute and send the catch-up again.
                let receiving = peer
                    .id
                    .is_some_and(|id| self.transfers.inbound.receiving_from(id));
                if !receiving {
                    Self::want_digest(peer, true, &mut self.next_nonce);
                }
                peer.schedule_probe(now, &config, rng);
            }
        }
        self.transfer_timeouts();
        // Sync round: delayed acknowledgements go out with it (or alone) at the latest.
        let round = now >= self.next_round_ms;
        if round {
            self.next_round_ms = now + config.sync_interval_ms.max(1);
            self.start_round(rng);
            self.check_stalls();
        }
        for peer in self.peers.iter_mut() {
            let timers = Timers::of(peer, &config, now);
            if timers.get(Timer::AckDelay).is_some()
                && (round || timers.expired(Timer::AckDelay, now))
            {
                peer.owed.ack_by = None;
                peer.owed.ack = true;
            }
            if Timers::of(peer, &config, now).expired(Timer::Heartbeat, now) {
                peer.owed.ack = true;
            }
        }
        self.collect_garbage();
    }

    #[inline(never)]
    fn start_round<R: RngCore>(&mut self, rng: &mut R) {
        let seq = self.seq;
        let mut eligible: heapless::Vec<usize, PEERS> = heapless::Vec::new();
        for (i, p) in self.peers.iter().enumerate() {
            if p.liveness != Liveness::Dead && p.outbound.ack().is_some_and(|a| a < seq) {
                let _ = eligible.push(i);
            }
        }
        if self.config.push_pull {
            // Pull from everyone we push to, even with nothing new to push.
            eligible.clear();
            for (i, p) in self.peers.iter().enumerate() {
                if p.liveness != Liveness::Dead && p.outbound.ack().is_some() {
                    let _ = eligible.push(i);
                }
            }
        }
        let fanout = if self.config.fanout == 0 {
            eligible.len()
        } else {
            self.config.fanout.min(eligible.len())
        };
        // Partial Fisher-Yates: the first `fanout` entries are a uniform random choice.
        for k in 0..fanout {
            let j = k + (rng.next_u64() % (eligible.len() - k) as u64) as usize;
            eligible.swap(k, j);
            let peer = &mut self.peers[eligible[k]];
            peer.owed.deltas = true;
            peer.owed.round = true;
        }
    }

    /// Reports live neighbours out of sync for `out_of_sync_after_rounds` rounds (we
    /// lack their past all along, or they have not acknowledged what we had when it
    /// began), and those reported that are in sync again.
    #[inline(never)]
    fn check_stalls(&mut self) {
        let (now, seq) = (self.now_ms, self.seq);
        let limit = u64::from(self.config.out_of_sync_after_rounds)
            .saturating_mul(self.config.sync_interval_ms.max(1));
        if limit == 0 {
            return;
        }
        for i in 0..self.peers.len() {
            let peer = &mut self.peers[i];
            let Some(id) = peer.id else {
                continue;
            };
            let stall = peer.stall(seq).filter(|_| peer.liveness == Liveness::Alive);
            // It caught up with what we had when the stall began: that one is over.
            let progressed = peer.stalled.is_some_and(|s| {
                peer.inbound.recv().is_some() && peer.outbound.ack().is_some_and(|a| a >= s.seq)
            });
            let ended = stall.is_none() || progressed;
            if ended && peer.stalled.is_some_and(|s| s.reported) {
                self.push_event(Event::InSync(id));
            }
            let peer = &mut self.peers[i];
            let fresh = Stalled {
                since_ms: now,
                seq,
                reported: false,
            };
            match (stall, peer.stalled) {
                (None, _) => peer.stalled = None,
                (Some(_), None) => peer.stalled = Some(fresh),
                (Some(_), Some(_)) if ended => peer.stalled = Some(fresh),
                (Some(stall), Some(s)) => {
                    if !s.reported && now.saturating_sub(s.since_ms) >= limit {
                        peer.stalled = Some(Stalled {
                            reported: true,
                            ..s
                        });
                        self.metrics.out_of_sync += 1;
                        self.push_event(Event::OutOfSync { peer: id, stall });
                    }
                }
            }
        }
    }

    #[inline(never)]
    pub(super) fn collect_garbage(&mut self) {
        let min_ack = self
            .peers
            .iter()
            .filter(|p| p.liveness != Liveness::Dead)
            .filter_map(|p| p.outbound.ack())
            .min();
        match min_ack {
            Some(a) => self.buffer.collect_garbage(a),
            // Nobody is following the buffer: every neighbour will catch up by digest.
            None => self.buffer.clear(),
        }
    }

    /// When [`Node::handle_timeout`] should be called next, or `None` if never (no
    /// peers): the earliest deadline of the sync round, every neighbour's `Timers` and
    /// the byte budget. A time in the past means "now".
    #[inline(never)]
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.peers.is_empty() {
            return None;
        }
        let mut next = self.next_round_ms;
        for p in self.peers.iter() {
            if let Some(t) = Timers::of(p, &self.config, self.now_ms).next() {
                next = next.min(t);
            }
        }
        if let Some(t) = self.transfer_deadline() {
            next = next.min(t);
        }
        // Out of budget: nothing goes out before a peer owed something (a message, a
        // chunk, a transfer acknowledgement) has the budget for a frame.
        if self.config.budget.is_some() {
            let ready = (0..self.peers.len())
                .filter(|&p| self.peers[p].owes_anything() || self.transfer_owes(p))
                .map(|p| self.peers[p].budget_ready_ms(self.config.mtu, &self.config))
                // Ready now: the budget is not what holds it back (a transfer's window,
                // say), and a deadline in the past would spin the caller.
                .filter(|&t| t > self.now_ms)
                .min();
            if let Some(ready) = ready {
                next = next.min(ready);
            }
        }
        Some(next)
    }
}
