//! Receiving: a frame in, its header accepted, its message decoded (staged first if it
//! is a chunk of a transfer, see `transfers.rs`) and handled. One path, `Node::receive`, that returns the first
//! [`DropReason`] a frame meets; [`Node::handle_datagram`] counts it, in one place.
//!
//! A new message kind adds a `Message` variant (`wire/message.rs`) and a handler here.

use core::num::NonZeroU32;

use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::{Reconcile, ReplicaId};

use super::{Event, Node, PendingCatchUp};
use crate::metrics::DropReason;
use crate::peer::{Inbound, Outbound, Peer};
use crate::wire::frame::{self, FrameKind, Header};
use crate::wire::message::{self, CatchUpMsg, DeltasMsg, DigestMsg, Message};

impl<T, A, const PEERS: usize, const DELTAS: usize, const MSG: usize, const TRANSFERS: usize>
    Node<T, A, PEERS, DELTAS, MSG, TRANSFERS>
where
    T: Reconcile + Serialize + DeserializeOwned,
    A: Copy + PartialEq,
{
    /// Handles a frame received from `from` at time `now_ms`. A refused frame is counted
    /// in [`crate::Metrics::drops`] under its [`DropReason`], whose doc says what else
    /// it changed.
    #[inline(never)]
    pub fn handle_datagram(&mut self, now_ms: u64, from: A, bytes: &[u8]) {
        self.now_ms = self.now_ms.max(now_ms);
        self.metrics.frames_received += 1;
        self.metrics.bytes_received += bytes.len() as u64;
        if let Err(reason) = self.receive(from, bytes) {
            self.metrics.drops.count(reason);
        }
    }

    /// The receive path: every check a frame must pass, in order. Checks that need
    /// nothing but the frame and our own identity come before anything changes.
    #[inline(never)]
    fn receive(&mut self, from: A, bytes: &[u8]) -> Result<(), DropReason> {
        let (header, body) = frame::decode(bytes)?;
        if header.from == self.id {
            return Err(DropReason::Malformed);
        }
        // An ack beyond what we have sent is impossible, but only for this incarnation of
        // us: a peer that has not yet heard of our restart still acks the previous one.
        if header.to_incarnation == self.incarnation && header.ack > self.seq {
            return Err(DropReason::Malformed);
        }
        // `frame::decode` refuses incarnation 0 already.
        let incarnation = NonZeroU32::new(header.incarnation).ok_or(DropReason::Malformed)?;
        let p = self
            .peer_for(header.from, from)
            .ok_or(DropReason::PeersFull)?;
        if self.peers[p].retired.contains(&Some(incarnation)) {
            return Err(DropReason::Replayed);
        }
        self.accept_header(p, &header, incarnation, from);
        let message = match (header.kind, header.chunk) {
            (FrameKind::Heartbeat, _) => return Ok(()),
            (FrameKind::TransferAck, _) => return self.on_transfer_ack(p, &header, body),
            (_, None) if body.len() > self.config.max_message_bytes => {
                return Err(DropReason::Oversized);
            }
            (kind, None) => message::decode(kind, body)?,
            (kind, Some(chunk)) => {
                let Some(slot) = self.on_chunk(p, &header, &chunk, body)? else {
                    return Ok(());
                };
                let decoded = message::decode(kind, self.transfers.inbound.message(slot));
                self.transfers.inbound.finish(slot);
                decoded?
            }
        };
        match message {
            Message::Digest(m) => {
                self.on_digest(p, m);
                Ok(())
            }
            Message::CatchUp(m) => self.on_catch_up(p, m),
            Message::Deltas(m) => self.on_deltas(p, m),
            Message::Nothing => Ok(()),
        }
    }

    /// The header's effects, for every frame from a current incarnation: the sender is
    /// heard from, its acknowledgement and `pull` taken, a restart noticed.
    #[inline(never)]
    fn accept_header(&mut self, p: usize, header: &Header, incarnation: NonZeroU32, from: A) {
        let now = self.now_ms;
        let config = self.config;
        let peer = &mut self.peers[p];
        peer.addr = from;
        if peer.incarnation != Some(incarnation) {
            if peer.incarnation.is_some() {
                // It restarted: what we knew of its progress is void, and so are the
                // transfers with its previous incarnation.
                peer.retired = [peer.incarnation, peer.retired[0]];
                peer.reset_marks();
                self.transfers.forget(header.from);
            }
            peer.incarnation = Some(incarnation);
        }
        if peer.heard(now, &config) {
            self.push_event(Event::PeerUp(header.from));
        }
        let peer = &mut self.peers[p];
        if header.to_incarnation == self.incarnation && header.ack > 0 {
            let ack = peer
                .outbound
                .ack()
                .map_or(header.ack, |a| a.max(header.ack));
            peer.outbound = peer.outbound.with_ack(Some(ack));
        } else if header.to_incarnation != self.incarnation && peer.outbound.ack().is_some() {
            // It does not know this incarnation of us: it lost track of our progress.
            peer.outbound = peer.outbound.with_ack(None);
        }
        // We lack its past: ask for a catch-up. (Lacking its ack needs no digest of ours:
        // it acks the catch-up it asked for, or any of our frames with its `recv`.)
        if peer.inbound == Inbound::Unknown {
            Self::want_digest(peer, true, &mut self.next_nonce);
        }
        if header.pull {
            peer.owed.deltas = true;
        }
        self.collect_garbage();
    }

    #[inline(never)]
    fn on_digest(&mut self, p: usize, m: DigestMsg<T::Digest>) {
        let Some(peer_id) = self.peers[p].id else {
            return;
        };
        if self
            .transfers
            .sending_to(peer_id)
            .and_then(|o| o.route)
            .is_some_and(|r| r.kind == FrameKind::CatchUp && r.nonce == m.nonce)
        {
            // A retry of the request our catch-up under way answers.
            return;
        }
        // The catch-up is computed when it is sent, so it covers every update until then.
        self.catch_ups.retain(|c| c.to != peer_id);
        if self.catch_ups.is_full() {
            self.catch_ups.remove(0);
        }
        let _ = self.catch_ups.push(PendingCatchUp {
            to: peer_id,
            nonce: m.nonce,
            digest: m.digest,
        });
        // It asks for a catch-up: what we knew of its progress is void. It acknowledges
        // the catch-up's sequence number once it has joined it.
        let peer = &mut self.peers[p];
        peer.outbound = Outbound::Unknown;
        // It wants our digest, so it can catch us up: it may no longer reach back to
        // our `recv` mark (its buffer was collected). Unless we lack its past ourselves:
        // then our own digest is out and retried.
        if m.reply && !matches!(peer.inbound, Inbound::CatchingUp { .. }) {
            Self::want_digest(peer, false, &mut self.next_nonce);
        }
    }

    #[inline(never)]
    fn on_catch_up(&mut self, p: usize, m: CatchUpMsg<T>) -> Result<(), DropReason> {
        if self.peers[p]
            .inbound
            .nonce()
            .is_none_or(|n| n.get() != m.nonce)
        {
            return Err(DropReason::Replayed);
        }
        self.join_from(p, &m.delta)?;
        let peer = &mut self.peers[p];
        peer.inbound = peer.inbound.caught_up(m.seq);
        peer.backoff_ms = self.config.retry_base_ms;
        if peer.owed.digest == Some(crate::peer::DigestDue::Answer) {
            peer.owed.digest = None;
        }
        peer.owed.ack = true;
        self.metrics.catchups_received += 1;
        Ok(())
    }

    #[inline(never)]
    fn on_deltas(&mut self, p: usize, m: DeltasMsg<T>) -> Result<(), DropReason> {
        if m.from >= m.to {
            return Err(DropReason::Malformed);
        }
        let Some(recv) = self.peers[p].inbound.recv() else {
            // We lack its past: a catch-up must come first.
            if self.peers[p].inbound == Inbound::Unknown {
                Self::want_digest(&mut self.peers[p], true, &mut self.next_nonce);
            }
            return Err(DropReason::Gap);
        };
        if m.to <= recv {
            self.peers[p].owed.ack = true;
            return Err(DropReason::Duplicate);
        }
        if m.from > recv {
            // An earlier interval was lost; joining this one could break causality.
            self.peers[p].owed.ack = true;
            return Err(DropReason::Gap);
        }
        self.join_from(p, &m.delta)?;
        let ack_by = self.now_ms + self.config.ack_delay_ms;
        let peer = &mut self.peers[p];
        peer.inbound = peer.inbound.joined_to(m.to);
        if self.config.ack_delay_ms == 0 {
            peer.owed.ack = true;
        } else {
            peer.owed.ack_by = Some(peer.owed.ack_by.map_or(ack_by, |t| t.min(ack_by)));
        }
        Ok(())
    }

    /// Joins a delta received from peer `p`: buffers the part that is news (RR), tagged
    /// with its origin (for BP).
    #[inline(never)]
    fn join_from(&mut self, p: usize, delta: &T) -> Result<(), DropReason> {
        let origin = self.peers[p].id;
        if self.config.avoid_back_propagation {
            // It holds what it sent: buffered deltas within it need not go back to it.
            self.buffer.mark_known(p, delta);
        }
        if delta.leq(&self.state) {
            return Ok(());
        }
        // RR is an optimisation: when the novel part does not fit fixed tables (it lists
        // the delta's live dots), buffering the whole delta is correct, just larger.
        let novel = if self.config.remove_redundancy {
            self.state
                .novel_part(delta)
                .unwrap_or_else(|_| delta.clone())
        } else {
            delta.clone()
        };
        self.state.join(delta).map_err(|_| DropReason::Capacity)?;
        self.metrics.deltas_joined += 1;
        self.push_event(Event::StateChanged);
        if !novel.is_bottom() {
            self.buffer_delta(origin, novel);
        }
        Ok(())
    }

    /// The peer with replica id `id`, or the configured peer at `addr` not yet heard
    /// from, or a new peer that introduced itself (if there is room).
    #[inline(never)]
    fn peer_for(&mut self, id: ReplicaId, addr: A) -> Option<usize> {
        if let Some(i) = self.peers.iter().position(|p| p.id == Some(id)) {
            return Some(i);
        }
        if let Some(i) = self
            .peers
            .iter()
            .position(|p| p.id.is_none() && p.addr == addr)
        {
            self.peers[i].id = Some(id);
            return Some(i);
        }
        let peer = Peer::new(addr, Some(id), false, &self.config, self.now_ms);
        self.peers.push(peer).ok()?;
        Some(self.peers.len() - 1)
    }
}
