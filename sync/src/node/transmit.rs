//! Transmitting: choosing the most urgent frame owed to a neighbour and writing it,
//! within the MTU and the byte budget.
//!
//! `Node::transmit_to` picks what is owed to a neighbour, in priority order: an
//! acknowledgement of its transfer, the next chunk of ours, then a message (a catch-up,
//! our digest, a delta-interval, a bare acknowledgement or heartbeat) that
//! `Node::send_message` (`transfers.rs`) writes as one frame or starts as a transfer.
//! Neighbours take turns, one frame each, so a long transfer to one never starves the
//! others.

use core::num::NonZeroU32;

use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::Reconcile;

use super::transfers::{Envelope, Unsent};
use super::{Node, Transmit};
use crate::metrics::DropReason;
use crate::peer::{DigestDue, Liveness, Outbound};
use crate::transfer::{Storage, writer};
use crate::wire::frame::{self, CRC_LEN, FrameKind};
use crate::wire::message::{CatchUpMsg, DeltasMsg, DigestMsg};

impl<T, A, const PEERS: usize, const DELTAS: usize, const MSG: usize, const TRANSFERS: usize>
    Node<T, A, PEERS, DELTAS, MSG, TRANSFERS>
where
    T: Reconcile + Serialize + DeserializeOwned,
    A: Copy + PartialEq,
{
    /// The next frame to send, written into `buf` (at least `config.mtu` bytes). Call
    /// until it returns `None` after every input.
    #[inline(never)]
    pub fn poll_transmit(&mut self, now_ms: u64, buf: &mut [u8]) -> Option<Transmit<A>> {
        self.now_ms = self.now_ms.max(now_ms);
        if buf.len() < self.config.mtu {
            return None;
        }
        let buf = &mut buf[..self.config.mtu];
        let (now, config) = (self.now_ms, self.config);
        let n = self.peers.len();
        for step in 0..n {
            let p = (self.cursor + step) % n;
            // Out of budget for a whole frame: it waits (see `poll_timeout`).
            if !self.peers[p].can_spend(now, config.mtu, &config) {
                continue;
            }
            if let Some(len) = self.transmit_to(p, buf) {
                self.cursor = (p + 1) % n;
                let peer = &mut self.peers[p];
                peer.spend(now, len, &config);
                self.metrics.frames_sent += 1;
                self.metrics.bytes_sent += len as u64;
                return Some(Transmit { to: peer.addr, len });
            }
        }
        None
    }

    /// Writes the most urgent frame owed to peer `p` into `buf`; its length, or `None`
    /// if nothing is owed (or can be sent now).
    #[inline(never)]
    fn transmit_to(&mut self, p: usize, buf: &mut [u8]) -> Option<usize> {
        // With no senders, acknowledgements still carry our refusals back.
        if let Some(len) = self.write_transfer_ack(p, buf) {
            return Some(len);
        }
        if let Some(len) = self.write_chunk(p, buf) {
            return Some(len);
        }
        self.write_message(p, buf)
    }

    /// Writes the most urgent message owed to peer `p`, as one frame or the first chunk
    /// of a transfer.
    #[inline(never)]
    fn write_message(&mut self, p: usize, buf: &mut [u8]) -> Option<usize> {
        let config = self.config;
        let peer_id = self.peers[p].id;
        // While a transfer to it is under way, or every sender is busy, only what fits
        // one frame goes (a catch-up waits rather than being computed for nothing).
        let can_transfer = TRANSFERS == 0
            || (peer_id.is_some_and(|id| self.transfers.sending_to(id).is_none())
                && self.transfers.outgoing.iter().any(|o| o.route.is_none()));
        let queued = peer_id
            .filter(|_| can_transfer)
            .and_then(|id| self.catch_ups.iter().position(|c| c.to == id));
        if let Some(q) = queued {
            let c = self.catch_ups.remove(q);
            let delta = match self.state.missing_for(&c.digest) {
                Ok(d) => d,
                Err(_) => {
                    self.metrics.drops.count(DropReason::CapacityToSend);
                    return None;
                }
            };
            let msg = CatchUpMsg {
                nonce: c.nonce,
                seq: self.seq,
                delta,
            };
            return match self.send_message(
                p,
                Envelope {
                    kind: FrameKind::CatchUp,
                    nonce: c.nonce,
                    pull: false,
                    frame_only: false,
                },
                &msg,
                buf,
            ) {
                Ok(len) => {
                    self.metrics.catchups_sent += 1;
                    Some(len)
                }
                Err(Unsent::Later) => None,
                Err(Unsent::Refused(r)) => {
                    // Discarded: the neighbour's digest retry asks again.
                    self.refused_to_send(p, r);
                    None
                }
            };
        }
        if let Some(due) = self.peers[p].owed.digest {
            let Ok(digest) = self.state.digest() else {
                self.metrics.drops.count(DropReason::CapacityToSend);
                self.peers[p].owed.digest = None;
                return None;
            };
            let msg = DigestMsg {
                nonce: self.peers[p].inbound.nonce().map_or(0, NonZeroU32::get),
                reply: due == DigestDue::Request,
                digest,
            };
            match self.send_message(
                p,
                Envelope {
                    kind: FrameKind::Digest,
                    nonce: 0,
                    pull: false,
                    frame_only: !can_transfer,
                },
                &msg,
                buf,
            ) {
                Ok(len) => {
                    let (now, peer) = (self.now_ms, &mut self.peers[p]);
                    peer.owed.digest = None;
                    // This is the request a probe due now would send again.
                    if peer.next_probe_ms <= now {
                        peer.next_probe_ms = now.saturating_add(peer.backoff_ms);
                    }
                    self.metrics.digests_sent += 1;
                    return Some(len);
                }
                // A neighbour not heard from yet has no id to address a transfer to:
                // a heartbeat introduces us, and its answer (its own digest) tells us
                // its id; our probe sends the digest again.
                Err(Unsent::Later) if self.peers[p].id.is_none() => {
                    self.peers[p].owed.digest = None;
                    self.peers[p].owed.ack = true;
                }
                // After the transfer under way; meanwhile the rest may go.
                Err(Unsent::Later) => {}
                Err(Unsent::Refused(r)) => {
                    // Cleared: our retry schedule sends it again while we lack its past.
                    self.peers[p].owed.digest = None;
                    self.refused_to_send(p, r);
                    return None;
                }
            }
        }
        if can_transfer
            && self.peers[p].owed.deltas
            && self.peers[p].outbound.ack().is_some_and(|a| a < self.seq)
        {
            let pull = config.push_pull && self.peers[p].owed.round;
            self.peers[p].owed.deltas = false;
            match self.encode_interval(p, buf) {
                Some((msg_from, msg_to, delta)) => {
                    let msg = DeltasMsg {
                        from: msg_from,
                        to: msg_to,
                        delta: &delta,
                    };
                    // An interval larger than a frame goes as a transfer only to a
                    // neighbour that answers: one silent for `suspect_after_ms` may be
                    // partitioned away, and a transfer into a partition is a stale
                    // snapshot that, once the link heals, would delay and split the
                    // interval that has everything.
                    let frame_only = self.peers[p].liveness != Liveness::Alive;
                    match self.send_message(
                        p,
                        Envelope {
                            kind: FrameKind::Deltas,
                            nonce: 0,
                            pull,
                            frame_only,
                        },
                        &msg,
                        buf,
                    ) {
                        Ok(len) => {
                            self.metrics.intervals_sent += 1;
                            return Some(len);
                        }
                        // Its next round tries again.
                        Err(Unsent::Later) => return None,
                        Err(Unsent::Refused(r)) => {
                            self.refused_to_send(p, r);
                            self.resync(p);
                            return None;
                        }
                    }
                }
                None => {
                    // No interval can go (its start was collected, or not even one group
                    // fits a message): catch the peer up from its digest instead.
                    self.resync(p);
                    return None;
                }
            }
        }
        if self.peers[p].owed.ack || self.peers[p].owed.round {
            let pull = config.push_pull && self.peers[p].owed.round;
            let header = crate::wire::frame::Header {
                pull,
                ..self.header_to(p, FrameKind::Heartbeat, None)
            };
            let len = frame::encode_with(&header, buf, &mut |_| Some(0))?;
            self.pay_frame(p, FrameKind::Heartbeat);
            return Some(len);
        }
        // Deltas asked for (a pull) with none to send: nothing is owed.
        self.peers[p].owed.deltas = false;
        None
    }

    /// Peer `p` must ask us for a catch-up: our digest, asking for its digest, goes out
    /// at the next timeout and is retried like a probe until it asks. Not every round
    /// (its stale acks bring us back here each round, and a digest per round per peer
    /// flooded a node that could not keep up).
    fn resync(&mut self, p: usize) {
        let now = self.now_ms;
        let peer = &mut self.peers[p];
        if !matches!(peer.outbound, Outbound::Resync { .. }) {
            peer.next_probe_ms = now;
        }
        peer.outbound = Outbound::Resync { ack: None };
    }

    /// A frame of `kind` goes to peer `p`: everything owed that a frame's header carries
    /// is paid (every frame acknowledges: its header carries `recv`).
    pub(super) fn pay_frame(&mut self, p: usize, kind: FrameKind) {
        let now = self.now_ms;
        let peer = &mut self.peers[p];
        peer.owed.ack = false;
        peer.owed.ack_by = None;
        peer.owed.round = false;
        if kind == FrameKind::Heartbeat {
            peer.owed.deltas = false;
        }
        peer.last_sent_ms = Some(now);
    }

    /// The longest message that can go to peer `p`: what one frame carries without
    /// senders, else what a sender's buffer holds (with its 4 bytes per chunk) within
    /// `max_message_bytes`.
    fn message_limit(&self, p: usize) -> usize {
        let single = frame::header_len(&self.header_to(p, FrameKind::Deltas, None))
            .and_then(|h| self.config.mtu.checked_sub(1 + h + CRC_LEN))
            .unwrap_or(0);
        if TRANSFERS == 0 {
            return single;
        }
        let capacity = self
            .transfers
            .outgoing
            .first()
            .map_or(0, |o| o.sender.capacity());
        let chunk = self
            .config
            .mtu
            .saturating_sub(1 + frame::MAX_HEADER_LEN + CRC_LEN)
            .max(1);
        let fits = if capacity == usize::MAX {
            capacity
        } else {
            capacity.saturating_sub(4) / (chunk + 4) * chunk
        };
        self.config.max_message_bytes.min(fits).max(single)
    }

    /// The delta-interval owed to peer `p`: the buffered deltas from its ack mark on,
    /// without those that came from it (BP), as many groups as fit one message. `None`
    /// when the buffer no longer reaches back to the mark or not even one group fits.
    #[inline(never)]
    fn encode_interval(&mut self, p: usize, buf: &mut [u8]) -> Option<(u64, u64, T)> {
        let from = self.peers[p].outbound.ack()?;
        let origin = self.peers[p].id;
        let first = self.buffer.iter().find(|e| e.end > from)?;
        if first.start > from {
            return None;
        }
        let limit = self.message_limit(p);
        // Where the encodings are tried: the frame buffer when only one frame may go,
        // else an idle sender's buffer (the caller checked there is one). Encoding, not
        // measuring, keeps one serializer per message type in the code.
        let mut sender = if TRANSFERS == 0 {
            None
        } else {
            Some(
                self.transfers
                    .outgoing
                    .iter_mut()
                    .find(|o| o.route.is_none())?
                    .sender
                    .storage_mut(),
            )
        };
        let mut fits = |msg: &DeltasMsg<&T>| match sender.as_mut() {
            Some(storage) => storage.encode(&mut writer(msg), limit).is_ok(),
            None => {
                let end = limit.min(buf.len());
                postcard::to_slice(msg, &mut buf[..end]).is_ok()
            }
        };
        let bp = self.config.avoid_back_propagation;
        let sent_back = |e: &crate::buffer::Entry<T>| {
            bp && ((e.origin.is_some() && e.origin == origin) || e.known_by(p))
        };
        // Grow the interval group by group while it fits.
        let mut delta = T::default();
        let mut fitted: Option<u64> = None;
        let mut complete = true;
        for entry in self.buffer.iter().filter(|e| e.end > from) {
            if !sent_back(entry) && delta.join(&entry.delta).is_err() {
                complete = false;
                break;
            }
            let msg = DeltasMsg {
                from,
                to: entry.end,
                delta: &delta,
            };
            if fits(&msg) {
                fitted = Some(entry.end);
            } else {
                complete = false;
                break;
            }
        }
        let Some(to) = fitted else {
            self.metrics.drops.count(DropReason::TooLargeToSend);
            return None;
        };
        if !complete {
            // The last group joined did not fit: the interval is the groups before it.
            delta = T::default();
            for entry in self.buffer.iter().filter(|e| e.end > from && e.end <= to) {
                if !sent_back(entry) {
                    delta.join(&entry.delta).ok()?;
                }
            }
        }
        Some((from, to, delta))
    }
}
