//! Transmitting: choosing the most urgent message owed to a neighbour, encoding it, and
//! sending it fragment by fragment within the MTU and the byte budget.
//!
//! `Node::prepare_for` picks what is owed, in priority order (a catch-up, our digest,
//! a delta-interval, a bare acknowledgement or heartbeat), encodes it into the message
//! buffer, and `Node::start_message` frames it. A new message kind adds its encoding
//! as one more arm of `prepare_for` and hands the result to `start_message`.

use core::num::NonZeroU32;

use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::Reconcile;

use super::{Node, Transmit};
use crate::metrics::DropReason;
use crate::peer::{DigestDue, Outbound};
use crate::wire::frame::{self, CRC_LEN, FrameKind, Header};
use crate::wire::message::{CatchUpMsg, DeltasMsg, DigestMsg};

/// The message being sent, fragment by fragment.
pub(super) struct Outgoing<A> {
    to: A,
    /// Index of the peer in the table when the message was prepared.
    pub(super) peer: usize,
    header: Header,
    len: usize,
    chunk: usize,
    next: u8,
}

impl<T, A, const PEERS: usize, const DELTAS: usize, const MSG: usize, const REASSEMBLY: usize>
    Node<T, A, PEERS, DELTAS, MSG, REASSEMBLY>
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
        if self.outgoing.is_some() {
            return self.emit_fragment(buf);
        }
        let n = self.peers.len();
        for step in 0..n {
            let p = (self.cursor + step) % n;
            if !self.peers[p].spend(self.now_ms, 0, &self.config) {
                continue;
            }
            if self.prepare_for(p) {
                self.cursor = (p + 1) % n;
                return self.emit_fragment(buf);
            }
        }
        None
    }

    /// Encodes the most urgent message owed to peer `p` into the message buffer and
    /// makes it the outgoing message. `false` if nothing is owed (or can be sent).
    #[inline(never)]
    fn prepare_for(&mut self, p: usize) -> bool {
        let config = self.config;
        let peer_id = self.peers[p].id;
        let queued = peer_id.and_then(|id| self.catch_ups.iter().position(|c| c.to == id));
        let mut pull = false;
        let (kind, len) = if let Some(q) = queued {
            let c = self.catch_ups.remove(q);
            let delta = match self.state.missing_for(&c.digest) {
                Ok(d) => d,
                Err(_) => {
                    self.metrics.drops.count(DropReason::CapacityToSend);
                    return false;
                }
            };
            let msg = CatchUpMsg {
                nonce: c.nonce,
                seq: self.seq,
                delta,
            };
            let Some(len) = self.encode_message(&msg) else {
                return false;
            };
            self.metrics.catchups_sent += 1;
            (FrameKind::CatchUp, len)
        } else if let Some(due) = self.peers[p].owed.digest {
            let Ok(digest) = self.state.digest() else {
                self.metrics.drops.count(DropReason::CapacityToSend);
                self.peers[p].owed.digest = None;
                return false;
            };
            let msg = DigestMsg {
                nonce: self.peers[p].inbound.nonce().map_or(0, NonZeroU32::get),
                reply: due == DigestDue::Request,
                digest,
            };
            self.peers[p].owed.digest = None;
            let Some(len) = self.encode_message(&msg) else {
                return false;
            };
            self.metrics.digests_sent += 1;
            (FrameKind::Digest, len)
        } else if self.peers[p].owed.deltas
            && self.peers[p].outbound.ack().is_some_and(|a| a < self.seq)
        {
            pull = config.push_pull && self.peers[p].owed.round;
            self.peers[p].owed.deltas = false;
            self.peers[p].owed.round = false;
            match self.encode_interval(p) {
                Some(len) => {
                    self.metrics.intervals_sent += 1;
                    (FrameKind::Deltas, len)
                }
                None => {
                    // No interval can go (its start was collected, or it does not fit a
                    // message): catch the peer up from its digest instead.
                    // Our digest, asking for its own, goes out at the next timeout and
                    // is retried like a probe until it asks: not every round (its stale
                    // acks bring us back here each round, and a digest per round per
                    // peer flooded a node that could not keep up).
                    let peer = &mut self.peers[p];
                    if !matches!(peer.outbound, Outbound::Resync { .. }) {
                        peer.next_probe_ms = self.now_ms;
                    }
                    peer.outbound = Outbound::Resync { ack: None };
                    return false;
                }
            }
        } else if self.peers[p].owed.ack || self.peers[p].owed.round {
            pull = config.push_pull && self.peers[p].owed.round;
            (FrameKind::Heartbeat, 0)
        } else {
            // Deltas asked for (a pull) with none to send: nothing is owed.
            self.peers[p].owed.deltas = false;
            return false;
        };
        self.start_message(p, kind, len, pull)
    }

    /// Makes the `len` bytes encoded in the message buffer, of kind `kind`, the outgoing
    /// message to peer `p`: everything owed that a frame's header carries is paid, and
    /// the fragment size chosen. `false` if it cannot be framed.
    fn start_message(&mut self, p: usize, kind: FrameKind, len: usize, pull: bool) -> bool {
        let config = self.config;
        let now = self.now_ms;
        let peer = &mut self.peers[p];
        // Every frame acknowledges (its header carries `recv`).
        peer.owed.ack = false;
        peer.owed.ack_by = None;
        peer.owed.round = false;
        if kind == FrameKind::Heartbeat {
            peer.owed.deltas = false;
        }
        peer.last_sent_ms = Some(now);
        self.message_id = self.message_id.wrapping_add(1);
        let header = Header {
            kind,
            from: self.id,
            incarnation: self.incarnation,
            to_incarnation: peer.incarnation.map_or(0, NonZeroU32::get),
            ack: peer.inbound.recv().unwrap_or(0),
            pull,
            message: self.message_id,
            index: 0,
            count: 1,
            offset: 0,
        };
        // Fragment size: what the MTU leaves once the widest header of this message and
        // the CRC are in.
        let widest = Header {
            index: u8::MAX,
            count: u8::MAX,
            offset: MSG as u32,
            ..header
        };
        let Some(header_len) = frame::header_len(&widest) else {
            return false;
        };
        let Some(chunk) = config
            .mtu
            .checked_sub(1 + header_len + CRC_LEN)
            .filter(|c| *c > 0)
        else {
            return false;
        };
        let count = len.div_ceil(chunk).max(1);
        let Ok(count) = u8::try_from(count) else {
            self.metrics.drops.count(DropReason::TooLargeToSend);
            return false;
        };
        self.outgoing = Some(Outgoing {
            to: peer.addr,
            peer: p,
            header: Header { count, ..header },
            len,
            chunk,
            next: 0,
        });
        true
    }

    #[inline(never)]
    fn emit_fragment(&mut self, buf: &mut [u8]) -> Option<Transmit<A>> {
        let out = self.outgoing.as_ref()?;
        let start = usize::from(out.next) * out.chunk;
        let end = (start + out.chunk).min(out.len);
        let header = Header {
            index: out.next,
            offset: start as u32,
            ..out.header
        };
        let (to, p) = (out.to, out.peer);
        let len = frame::encode(&header, &self.message_bytes[start..end], buf)?;
        let (now, config) = (self.now_ms, self.config);
        if let Some(peer) = self.peers.get_mut(p)
            && peer.addr == to
            && !peer.spend(now, len, &config)
        {
            // Out of budget: the rest of the message waits (see `poll_timeout`).
            return None;
        }
        let out = self.outgoing.as_mut()?;
        out.next += 1;
        if out.next >= out.header.count {
            self.outgoing = None;
        }
        self.metrics.frames_sent += 1;
        self.metrics.bytes_sent += len as u64;
        Some(Transmit { to, len })
    }

    #[inline(never)]
    fn encode_message<M: Serialize>(&mut self, msg: &M) -> Option<usize> {
        match postcard::to_slice(msg, &mut self.message_bytes) {
            Ok(used) => Some(used.len()),
            Err(_) => {
                self.metrics.drops.count(DropReason::TooLargeToSend);
                None
            }
        }
    }

    /// Encodes the delta-interval owed to peer `p`: the buffered deltas from its ack mark
    /// on, without those that came from it (BP), as many as fit one message. `None` when
    /// the buffer no longer reaches back to the mark or not even one group fits.
    #[inline(never)]
    fn encode_interval(&mut self, p: usize) -> Option<usize> {
        let from = self.peers[p].outbound.ack()?;
        let origin = self.peers[p].id;
        let first = self.buffer.iter().find(|e| e.end > from)?;
        if first.start > from {
            return None;
        }
        let bp = self.config.avoid_back_propagation;
        let sent_back = |e: &crate::buffer::Entry<T>| {
            bp && ((e.origin.is_some() && e.origin == origin) || e.known_by(p))
        };
        // Grow the interval group by group while it fits.
        let mut delta = T::default();
        let mut fitted: Option<(usize, u64)> = None;
        let mut complete = true;
        for entry in self.buffer.iter().filter(|e| e.end > from) {
            if !sent_back(entry) && delta.join(&entry.delta).is_err() {
                complete = false;
                break;
            }
            match postcard::to_slice(
                &DeltasMsg {
                    from,
                    to: entry.end,
                    delta: &delta,
                },
                &mut self.message_bytes,
            ) {
                Ok(used) => fitted = Some((used.len(), entry.end)),
                Err(_) => {
                    complete = false;
                    break;
                }
            }
        }
        let (len, to) = fitted.or_else(|| {
            self.metrics.drops.count(DropReason::TooLargeToSend);
            None
        })?;
        if complete {
            return Some(len);
        }
        // The last attempt overwrote the message buffer: encode the part that fitted.
        let mut delta = T::default();
        for entry in self.buffer.iter().filter(|e| e.end > from && e.end <= to) {
            if !sent_back(entry) {
                delta.join(&entry.delta).ok()?;
            }
        }
        postcard::to_slice(
            &DeltasMsg {
                from,
                to,
                delta: &delta,
            },
            &mut self.message_bytes,
        )
        .ok()
        .map(|u| u.len())
    }
}
