//! Transfers as the node uses them: a message too large for one frame goes out as a
//! transfer of chunks (`crate::transfer`), acknowledged selectively; a transfer received
//! is staged whole and only then decoded and handled like a one-frame message.
//!
//! The node has `TRANSFERS` senders and `TRANSFERS` staging slots. At most one transfer
//! goes to a neighbour at a time; while it does, only messages that fit one frame go to
//! that neighbour beside it (a digest, acknowledgements, heartbeats): a delta-interval or
//! a catch-up waits for it, so intervals still arrive in order.

use core::num::NonZeroU32;

use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::{Reconcile, ReplicaId};

use super::{Event, Node};
use crate::metrics::DropReason;
use crate::transfer::{
    Ack, AckOutcome, ChunkHeader, ChunkOutcome, Inbound, Key, Limits, Pacing, Refusal, Sender,
    Storage, WriteMessage, too_large, writer,
};
use crate::wire::frame::{self, CRC_LEN, FrameKind, Header};

/// Where a transfer being sent goes, and what it carries.
#[derive(Clone, Copy, Debug)]
pub(super) struct Route {
    pub(super) peer: ReplicaId,
    /// The receiver's incarnation when the transfer started: a restart ends it.
    pub(super) to_incarnation: u32,
    pub(super) kind: FrameKind,
    /// The nonce of the digest a catch-up answers (0 for other kinds).
    pub(super) nonce: u32,
}

/// One sender and where its transfer goes (`None` while idle).
pub(super) struct Outgoing<S> {
    pub(super) sender: Sender<S>,
    pub(super) route: Option<Route>,
}

/// Every transfer of a node, both ways.
pub(super) struct Transfers<S, const N: usize> {
    pub(super) outgoing: [Outgoing<S>; N],
    pub(super) inbound: Inbound<S, N>,
    /// The id the next transfer gets (per incarnation of this node).
    next_id: u32,
}

impl<S: Storage + Default, const N: usize> Transfers<S, N> {
    pub(super) fn new() -> Self {
        Transfers {
            outgoing: core::array::from_fn(|_| Outgoing {
                sender: Sender::new(S::default()),
                route: None,
            }),
            inbound: Inbound::new(S::default),
            next_id: 0,
        }
    }

    /// The transfer under way to `peer`, if any.
    pub(super) fn sending_to(&self, peer: ReplicaId) -> Option<&Outgoing<S>> {
        self.outgoing
            .iter()
            .find(|o| o.route.is_some_and(|r| r.peer == peer))
    }

    /// Ends the delta-interval transfer under way to `peer`, if any (it went silent: the
    /// interval of its next round, once it answers again, has everything).
    pub(super) fn cancel_interval_to(&mut self, peer: ReplicaId) {
        for o in self.outgoing.iter_mut() {
            if o.route
                .is_some_and(|r| r.peer == peer && r.kind == FrameKind::Deltas)
            {
                o.sender.cancel();
                o.route = None;
            }
        }
    }

    /// Ends every transfer with `peer`, both ways (it restarted, or is dead).
    pub(super) fn forget(&mut self, peer: ReplicaId) {
        for o in self.outgoing.iter_mut() {
            if o.route.is_some_and(|r| r.peer == peer) {
                o.sender.cancel();
                o.route = None;
            }
        }
        self.inbound.forget(peer);
    }
}

/// How a message goes: its frame kind and what its frames say besides it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Envelope {
    pub(super) kind: FrameKind,
    /// The nonce of the digest a catch-up answers (0 for other kinds).
    pub(super) nonce: u32,
    /// Ask for the neighbour's deltas back (push-pull).
    pub(super) pull: bool,
    /// Only as one frame, never as a transfer.
    pub(super) frame_only: bool,
}

/// Why a message owed to a neighbour did not go out now.
pub(super) enum Unsent {
    /// It goes later: a transfer to that neighbour is under way, or every sender is busy.
    Later,
    /// It cannot go at all.
    Refused(Refusal),
}

impl<T, A, const PEERS: usize, const DELTAS: usize, const MSG: usize, const TRANSFERS: usize>
    Node<T, A, PEERS, DELTAS, MSG, TRANSFERS>
where
    T: Reconcile + Serialize + DeserializeOwned,
    A: Copy + PartialEq,
{
    pub(super) fn pacing(&self) -> Pacing {
        Pacing {
            window: self.config.transfer_window,
            initial_rto_ms: self.config.retry_base_ms,
            max_rto_ms: self.config.retry_max_ms,
            give_up_ms: self.config.dead_after_ms,
        }
    }

    pub(super) fn limits(&self) -> Limits {
        Limits {
            max_len: self.config.max_message_bytes,
            max_transfers: self.config.max_transfers,
            idle_ms: self.config.dead_after_ms,
        }
    }

    /// The header of a frame of `kind` to peer `p` (nothing paid yet).
    pub(super) fn header_to(
        &self,
        p: usize,
        kind: FrameKind,
        chunk: Option<ChunkHeader>,
    ) -> Header {
        let peer = &self.peers[p];
        Header {
            kind,
            from: self.id,
            incarnation: self.incarnation,
            to_incarnation: peer.incarnation.map_or(0, NonZeroU32::get),
            ack: peer.inbound.recv().unwrap_or(0),
            pull: false,
            chunk,
        }
    }

    /// Sends `msg` to peer `p` as `envelope` says: in one frame written into `buf` when
    /// it fits, else as a transfer whose first chunk is written (unless `frame_only`).
    /// Returns the frame's length. Only the encoding is generic: the rest is shared by
    /// every message type (one copy in the flash).
    pub(super) fn send_message<M: Serialize>(
        &mut self,
        p: usize,
        envelope: Envelope,
        msg: &M,
        buf: &mut [u8],
    ) -> Result<usize, Unsent> {
        self.send_encoded(p, envelope, &mut writer(msg), buf)
    }

    #[inline(never)]
    fn send_encoded(
        &mut self,
        p: usize,
        envelope: Envelope,
        write: &mut WriteMessage<'_>,
        buf: &mut [u8],
    ) -> Result<usize, Unsent> {
        let header = Header {
            pull: envelope.pull,
            ..self.header_to(p, envelope.kind, None)
        };
        if let Some(len) = frame::encode_with(&header, buf, write) {
            self.pay_frame(p, envelope.kind);
            return Ok(len);
        }
        let slot = self.transfer_slot(p, envelope)?;
        let limit = self.config.max_message_bytes;
        let size = self.transfers.outgoing[slot]
            .sender
            .storage_mut()
            .encode(write, limit)
            .map_err(Unsent::Refused)?;
        self.start_transfer(p, slot, size, envelope, buf)
    }

    /// The idle sender a message too large for one frame goes through to peer `p`.
    fn transfer_slot(&self, p: usize, envelope: Envelope) -> Result<usize, Unsent> {
        if TRANSFERS == 0 {
            // No senders: only messages of one frame go out.
            return Err(Unsent::Refused(too_large(0, self.config.mtu)));
        }
        let Some(peer_id) = self.peers[p].id else {
            return Err(Unsent::Later);
        };
        if envelope.frame_only || self.transfers.sending_to(peer_id).is_some() {
            return Err(Unsent::Later);
        }
        self.transfers
            .outgoing
            .iter()
            .position(|o| o.route.is_none())
            .ok_or(Unsent::Later)
    }

    /// Starts the transfer of the `size` bytes encoded in sender `slot`'s buffer to peer
    /// `p`, and writes its first chunk into `buf`.
    fn start_transfer(
        &mut self,
        p: usize,
        slot: usize,
        size: usize,
        envelope: Envelope,
        buf: &mut [u8],
    ) -> Result<usize, Unsent> {
        let id = self.transfers.next_id;
        // The widest chunk header of this transfer: its fields are at most `size`.
        let size32 = u32::try_from(size).unwrap_or(u32::MAX);
        let widest = ChunkHeader {
            transfer: id,
            len: size32,
            chunk: size32,
            index: size32,
        };
        let chunk = frame::header_len(&self.header_to(p, envelope.kind, Some(widest)))
            .and_then(|h| self.config.mtu.checked_sub(1 + h + CRC_LEN))
            .filter(|c| *c > 0);
        let (now, pacing) = (self.now_ms, self.pacing());
        let to_incarnation = self.peers[p].incarnation.map_or(0, NonZeroU32::get);
        let (Some(peer), Some(chunk)) = (self.peers[p].id, chunk) else {
            self.transfers.outgoing[slot].sender.cancel();
            return Err(Unsent::Refused(too_large(size, 0)));
        };
        let out = &mut self.transfers.outgoing[slot];
        out.sender
            .start(now, id, size, chunk, &pacing)
            .map_err(Unsent::Refused)?;
        out.route = Some(Route {
            peer,
            to_incarnation,
            kind: envelope.kind,
            nonce: envelope.nonce,
        });
        self.transfers.next_id = id.wrapping_add(1);
        self.metrics.transfers_started += 1;
        self.write_chunk(p, buf).ok_or(Unsent::Later)
    }

    /// Writes the next chunk of the transfer to peer `p` into `buf`, if one may go.
    pub(super) fn write_chunk(&mut self, p: usize, buf: &mut [u8]) -> Option<usize> {
        if TRANSFERS == 0 {
            return None;
        }
        let peer_id = self.peers[p].id?;
        let pacing = self.pacing();
        let now = self.now_ms;
        let slot = self
            .transfers
            .outgoing
            .iter()
            .position(|o| o.route.is_some_and(|r| r.peer == peer_id))?;
        let route = self.transfers.outgoing[slot].route?;
        let chunk = self.transfers.outgoing[slot]
            .sender
            .poll_chunk(now, &pacing)?;
        let header = Header {
            to_incarnation: route.to_incarnation,
            ..self.header_to(p, route.kind, Some(chunk))
        };
        let bytes = self.transfers.outgoing[slot].sender.chunk_bytes(&chunk);
        let len = frame::encode(&header, bytes, buf)?;
        self.pay_frame(p, route.kind);
        self.metrics.chunks_sent += 1;
        Some(len)
    }

    /// Writes the acknowledgement owed to peer `p` for its transfer, if any.
    pub(super) fn write_transfer_ack(&mut self, p: usize, buf: &mut [u8]) -> Option<usize> {
        let peer_id = self.peers[p].id?;
        if !self.transfers.inbound.owes(peer_id) {
            return None;
        }
        let owed = self.transfers.inbound.poll_ack(peer_id)?;
        let header = Header {
            to_incarnation: owed.incarnation,
            ..self.header_to(p, FrameKind::TransferAck, None)
        };
        let ack = owed.ack();
        let len = frame::encode_with(&header, buf, &mut |body| ack.encode(body))?;
        self.pay_frame(p, FrameKind::TransferAck);
        Some(len)
    }

    /// A chunk of a transfer from peer `p`: staged; once the transfer is whole, its
    /// slot (the message is `self.transfers.inbound.message(slot)`).
    pub(super) fn on_chunk(
        &mut self,
        p: usize,
        header: &Header,
        chunk: &ChunkHeader,
        data: &[u8],
    ) -> Result<Option<usize>, DropReason> {
        let peer = self.peers[p].id.ok_or(DropReason::Malformed)?;
        let key = Key {
            peer,
            incarnation: header.incarnation,
            transfer: chunk.transfer,
        };
        let (now, limits) = (self.now_ms, self.limits());
        let outcome = if TRANSFERS == 0 {
            let refusal = Refusal::TooLarge {
                len: chunk.len,
                limit: 0,
            };
            self.transfers.inbound.refuse_unstaged(key, refusal)
        } else {
            self.transfers
                .inbound
                .handle_chunk(now, key, chunk, data, &limits)
        };
        match outcome {
            ChunkOutcome::Pending | ChunkOutcome::Answered => Ok(None),
            ChunkOutcome::Complete(slot) => {
                self.metrics.transfers_received += 1;
                Ok(Some(slot))
            }
            ChunkOutcome::Duplicate | ChunkOutcome::Stale => Err(DropReason::Duplicate),
            ChunkOutcome::Malformed => Err(DropReason::Malformed),
            ChunkOutcome::Refused(refusal) => {
                self.metrics.transfers_refused += 1;
                self.push_event(Event::IncomingRefused { peer, refusal });
                Err(match refusal {
                    Refusal::Busy => DropReason::Busy,
                    _ => DropReason::Oversized,
                })
            }
        }
    }

    /// An acknowledgement of one of our transfers, from peer `p`.
    pub(super) fn on_transfer_ack(
        &mut self,
        p: usize,
        header: &Header,
        body: &[u8],
    ) -> Result<(), DropReason> {
        if TRANSFERS == 0 {
            // We send no transfers: nothing to acknowledge.
            return Ok(());
        }
        let ack = Ack::decode(body).ok_or(DropReason::Malformed)?;
        let Some(peer) = self.peers[p].id else {
            return Ok(());
        };
        if header.to_incarnation != self.incarnation {
            // About a transfer of a previous incarnation of ours.
            return Err(DropReason::Replayed);
        }
        let (now, pacing) = (self.now_ms, self.pacing());
        let Some(out) = self
            .transfers
            .outgoing
            .iter_mut()
            .find(|o| o.route.is_some_and(|r| r.peer == peer))
        else {
            return Ok(());
        };
        match out.sender.handle_ack(now, &ack, &pacing) {
            AckOutcome::Stale | AckOutcome::Progress => {}
            AckOutcome::Complete => {
                out.route = None;
                self.metrics.transfers_delivered += 1;
            }
            AckOutcome::Refused(refusal) => {
                out.route = None;
                self.metrics.transfers_refused += 1;
                self.push_event(Event::OutgoingRefused { peer, refusal });
            }
        }
        Ok(())
    }

    /// Retransmission timeouts, abandoned transfers, and stagings left idle.
    pub(super) fn transfer_timeouts(&mut self) {
        if TRANSFERS == 0 {
            return;
        }
        let (now, pacing, limits) = (self.now_ms, self.pacing(), self.limits());
        for out in self.transfers.outgoing.iter_mut() {
            if out.route.is_some() && out.sender.handle_timeout(now, &pacing) {
                out.route = None;
                self.metrics.transfers_abandoned += 1;
            }
        }
        let dropped = self.transfers.inbound.handle_timeout(now, &limits);
        self.metrics.transfers_abandoned += dropped as u64;
    }

    /// The earliest transfer deadline.
    pub(super) fn transfer_deadline(&self) -> Option<u64> {
        if TRANSFERS == 0 {
            return None;
        }
        let pacing = self.pacing();
        let sending = self
            .transfers
            .outgoing
            .iter()
            .filter(|o| o.route.is_some())
            .filter_map(|o| o.sender.poll_timeout(&pacing))
            .min();
        let receiving = self.transfers.inbound.poll_timeout(&self.limits());
        match (sending, receiving) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `true` when a chunk or a transfer acknowledgement may be owed to peer `p`.
    pub(super) fn transfer_owes(&self, p: usize) -> bool {
        TRANSFERS > 0
            && self.peers[p].id.is_some_and(|id| {
                self.transfers.inbound.owes(id) || self.transfers.sending_to(id).is_some()
            })
    }

    /// Reports a message owed to peer `p` that cannot go out: counted, and an event.
    pub(super) fn refused_to_send(&mut self, p: usize, refusal: Refusal) {
        self.metrics.drops.count(DropReason::TooLargeToSend);
        if let Some(peer) = self.peers[p].id {
            self.push_event(Event::OutgoingRefused { peer, refusal });
        }
    }
}
