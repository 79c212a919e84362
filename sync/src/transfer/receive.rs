//! The receiving side: staging slots, a bitmap of chunks held, acknowledgements, and
//! refusals of what does not fit.

use starling_core::ReplicaId;

use super::{Ack, AckStatus, ChunkHeader, Refusal, SACK_BITS, Storage};

/// What bounds the receiver, from the node's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Longest message taken (the storage's fixed capacity bounds it too).
    pub(crate) max_len: usize,
    /// Transfers staged at once, at most (the number of slots bounds it too).
    pub(crate) max_transfers: usize,
    /// A staged transfer that receives nothing for this long is dropped.
    pub(crate) idle_ms: u64,
}

/// A transfer's identity: its sender, the sender's incarnation, and the transfer id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) peer: ReplicaId,
    pub(crate) incarnation: u32,
    pub(crate) transfer: u32,
}

impl Key {
    /// `true` when `self` is a later transfer than `other` of the same sender incarnation.
    fn after(&self, other: &Key) -> bool {
        self.incarnation == other.incarnation
            && (self.transfer.wrapping_sub(other.transfer) as i32) > 0
    }
}

/// What a chunk did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkOutcome {
    /// Staged; more chunks are needed. An acknowledgement is owed.
    Pending,
    /// Every chunk is in: the message is [`Inbound::message`] of this slot; call
    /// [`Inbound::finish`] after using it. An acknowledgement is owed.
    Complete(usize),
    /// A chunk held already (its acknowledgement was lost or late): owed again.
    Duplicate,
    /// A chunk of a transfer already answered (completed or refused): the answer is
    /// owed again; nothing else happens.
    Answered,
    /// Refused now (first time): nothing staged, the refusal is owed to the sender.
    Refused(Refusal),
    /// A chunk of an older transfer from a sender whose newer one is staged: dropped.
    Stale,
    /// Contradicts the header of the transfer staged under the same id, or is impossible.
    Malformed,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Free,
    Receiving {
        len: u32,
        chunk: u32,
        count: u32,
        /// The lowest chunk missing.
        next: u32,
        have: u32,
        touched_ms: u64,
    },
    /// Over: the storage is free; the answer is kept for late chunks.
    Answered(Answer),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Complete,
    Refused(Refusal),
}

#[derive(Debug)]
struct Slot<S> {
    storage: S,
    key: Key,
    state: State,
    /// An acknowledgement is owed to the sender.
    owed: bool,
}

/// An acknowledgement to send: owned, so it outlives the borrow of the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OwedAck {
    /// The incarnation of the sender it goes to (the frame's `to_incarnation`).
    pub(crate) incarnation: u32,
    transfer: u32,
    status: OwedStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwedStatus {
    Progress { next: u32, sacks: u128 },
    Answer(Answer),
}

impl OwedAck {
    /// The acknowledgement, to encode.
    pub(crate) fn ack(&self) -> Ack {
        Ack {
            transfer: self.transfer,
            status: match self.status {
                OwedStatus::Progress { next, sacks } => AckStatus::Progress { next, sacks },
                OwedStatus::Answer(Answer::Complete) => AckStatus::Complete,
                OwedStatus::Answer(Answer::Refused(r)) => AckStatus::Refused(r),
            },
        }
    }
}

/// `N` staging slots of storage `S` for transfers from neighbours, at most one per
/// neighbour (a sender's newer transfer replaces its older one), plus the memory of the
/// last refusal when no slot could keep it.
#[derive(Debug)]
pub(crate) struct Inbound<S, const N: usize> {
    slots: [Slot<S>; N],
    /// A refusal that found no slot to be remembered in, still owed.
    refusal: Option<(Key, Refusal)>,
}

impl<S: Storage, const N: usize> Inbound<S, N> {
    /// Slots whose storage `storage` makes (all empty).
    pub(crate) fn new(mut storage: impl FnMut() -> S) -> Self {
        let free = Key {
            peer: ReplicaId(0),
            incarnation: 0,
            transfer: 0,
        };
        Inbound {
            slots: core::array::from_fn(|_| Slot {
                storage: storage(),
                key: free,
                state: State::Free,
                owed: false,
            }),
            refusal: None,
        }
    }

    /// Handles a chunk of a transfer of more than one chunk (one-chunk messages need no
    /// staging: the caller delivers them directly).
    pub(crate) fn handle_chunk(
        &mut self,
        now_ms: u64,
        key: Key,
        header: &ChunkHeader,
        data: &[u8],
        limits: &Limits,
    ) -> ChunkOutcome {
        let Some(range) = header.range(data.len()).filter(|_| !header.is_single()) else {
            return ChunkOutcome::Malformed;
        };
        if let Some(i) = self.slots.iter().position(|s| s.key == key && !s.is_free()) {
            return self.insert(i, now_ms, header, range, data);
        }
        if self.refusal.is_some_and(|(k, _)| k == key) {
            return ChunkOutcome::Answered;
        }
        // The sender's slot: it has one transfer staged (or answered) at a time.
        let own = self
            .slots
            .iter()
            .position(|s| !s.is_free() && s.key.peer == key.peer);
        if let Some(i) = own
            && self.slots[i].key.after(&key)
        {
            return ChunkOutcome::Stale;
        }
        let count = header.count();
        let bitmap = (count as usize).div_ceil(8);
        let len = header.len as usize;
        let limit = limits.max_len.min(
            self.slots
                .first()
                .map_or(0, |s| s.storage.capacity_max().saturating_sub(bitmap)),
        );
        let slot = own.or_else(|| self.vacant(limits));
        if len > limit {
            return self.refuse(
                slot,
                key,
                Refusal::TooLarge {
                    len: header.len,
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                },
            );
        }
        let Some(i) = slot else {
            return self.refuse(None, key, Refusal::Busy);
        };
        let s = &mut self.slots[i];
        if !s.storage.resize_zeroed(len + bitmap) {
            s.storage.release();
            return self.refuse(Some(i), key, Refusal::OutOfMemory);
        }
        s.key = key;
        s.state = State::Receiving {
            len: header.len,
            chunk: header.chunk,
            count,
            next: 0,
            have: 0,
            touched_ms: now_ms,
        };
        self.insert(i, now_ms, header, range, data)
    }

    /// Refuses the transfer `key` without looking for a slot (a node without staging
    /// slots refuses every transfer): `Answered` if it was refused already.
    pub(crate) fn refuse_unstaged(&mut self, key: Key, refusal: Refusal) -> ChunkOutcome {
        if self.refusal.is_some_and(|(k, _)| k == key) {
            return ChunkOutcome::Answered;
        }
        self.refuse(None, key, refusal)
    }

    /// A slot for a new sender: a free one, else the least recent answered one, if fewer
    /// than `max_transfers` transfers are being received.
    fn vacant(&self, limits: &Limits) -> Option<usize> {
        let receiving = self
            .slots
            .iter()
            .filter(|s| matches!(s.state, State::Receiving { .. }))
            .count();
        if receiving >= limits.max_transfers {
            return None;
        }
        self.slots
            .iter()
            .position(Slot::is_free)
            .or_else(|| {
                self.slots
                    .iter()
                    .position(|s| matches!(s.state, State::Answered(_)) && !s.owed)
            })
            .or_else(|| {
                self.slots
                    .iter()
                    .position(|s| matches!(s.state, State::Answered(_)))
            })
    }

    fn refuse(&mut self, slot: Option<usize>, key: Key, refusal: Refusal) -> ChunkOutcome {
        match slot {
            Some(i) => {
                let s = &mut self.slots[i];
                s.storage.release();
                s.key = key;
                s.state = State::Answered(Answer::Refused(refusal));
                s.owed = true;
            }
            None => self.refusal = Some((key, refusal)),
        }
        ChunkOutcome::Refused(refusal)
    }

    fn insert(
        &mut self,
        i: usize,
        now_ms: u64,
        header: &ChunkHeader,
        range: core::ops::Range<usize>,
        data: &[u8],
    ) -> ChunkOutcome {
        let s = &mut self.slots[i];
        s.owed = true;
        let State::Receiving {
            len,
            chunk,
            count,
            next,
            have,
            touched_ms,
        } = &mut s.state
        else {
            return ChunkOutcome::Answered;
        };
        if *len != header.len || *chunk != header.chunk {
            s.owed = false;
            return ChunkOutcome::Malformed;
        }
        let (message, bitmap) = s.storage.bytes_mut().split_at_mut(*len as usize);
        let (byte, bit) = ((header.index / 8) as usize, 1u8 << (header.index % 8));
        let Some(b) = bitmap.get_mut(byte) else {
            return ChunkOutcome::Malformed;
        };
        if *b & bit != 0 {
            return ChunkOutcome::Duplicate;
        }
        *b |= bit;
        message[range].copy_from_slice(data);
        *have += 1;
        *touched_ms = now_ms;
        while *next < *count && held(bitmap, *next) {
            *next += 1;
        }
        if *have == *count {
            ChunkOutcome::Complete(i)
        } else {
            ChunkOutcome::Pending
        }
    }

    /// The message of a complete slot (empty for any other).
    pub(crate) fn message(&self, slot: usize) -> &[u8] {
        match self.slots.get(slot).map(|s| (s, s.state)) {
            Some((
                s,
                State::Receiving {
                    len, have, count, ..
                },
            )) if have == count => s.storage.bytes().get(..len as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Ends a complete transfer: frees its storage, keeps its id to answer late chunks.
    pub(crate) fn finish(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.storage.release();
            s.state = State::Answered(Answer::Complete);
            s.owed = true;
        }
    }

    /// Takes the acknowledgement owed to `peer`, if any.
    pub(crate) fn poll_ack(&mut self, peer: ReplicaId) -> Option<OwedAck> {
        if let Some((key, refusal)) = self.refusal.filter(|(k, _)| k.peer == peer) {
            self.refusal = None;
            return Some(OwedAck {
                incarnation: key.incarnation,
                transfer: key.transfer,
                status: OwedStatus::Answer(Answer::Refused(refusal)),
            });
        }
        let s = self
            .slots
            .iter_mut()
            .find(|s| s.owed && !s.is_free() && s.key.peer == peer)?;
        s.owed = false;
        let status = match s.state {
            State::Free => return None,
            State::Answered(a) => OwedStatus::Answer(a),
            State::Receiving {
                len, count, next, ..
            } => {
                let bitmap = s.storage.bytes().get(len as usize..).unwrap_or(&[]);
                let mut sacks = 0u128;
                for k in 0..SACK_BITS {
                    let i = next.saturating_add(1 + k);
                    if i < count && held(bitmap, i) {
                        sacks |= 1 << k;
                    }
                }
                OwedStatus::Progress { next, sacks }
            }
        };
        Some(OwedAck {
            incarnation: s.key.incarnation,
            transfer: s.key.transfer,
            status,
        })
    }

    /// `true` while a transfer from `peer` is being received.
    pub(crate) fn receiving_from(&self, peer: ReplicaId) -> bool {
        self.slots
            .iter()
            .any(|s| s.key.peer == peer && matches!(s.state, State::Receiving { .. }))
    }

    /// `true` when an acknowledgement is owed to `peer`.
    pub(crate) fn owes(&self, peer: ReplicaId) -> bool {
        self.refusal.is_some_and(|(k, _)| k.peer == peer)
            || self
                .slots
                .iter()
                .any(|s| s.owed && !s.is_free() && s.key.peer == peer)
    }

    /// Forgets everything from `peer` (it restarted, or was declared dead).
    pub(crate) fn forget(&mut self, peer: ReplicaId) {
        for s in self.slots.iter_mut().filter(|s| s.key.peer == peer) {
            s.release();
        }
        if self.refusal.is_some_and(|(k, _)| k.peer == peer) {
            self.refusal = None;
        }
    }

    /// When [`Inbound::handle_timeout`] should run next.
    pub(crate) fn poll_timeout(&self, limits: &Limits) -> Option<u64> {
        self.slots
            .iter()
            .filter_map(|s| match s.state {
                State::Receiving { touched_ms, .. } => {
                    Some(touched_ms.saturating_add(limits.idle_ms))
                }
                _ => None,
            })
            .min()
    }

    /// Drops staged transfers idle for `idle_ms`; returns how many.
    pub(crate) fn handle_timeout(&mut self, now_ms: u64, limits: &Limits) -> usize {
        let mut dropped = 0;
        for s in self.slots.iter_mut() {
            if let State::Receiving { touched_ms, .. } = s.state
                && now_ms >= touched_ms.saturating_add(limits.idle_ms)
            {
                s.release();
                dropped += 1;
            }
        }
        dropped
    }

    /// Bytes of staging held now (for tests).
    #[cfg(test)]
    pub(crate) fn staged_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.storage.bytes().len()).sum()
    }
}

impl<S: Storage> Slot<S> {
    fn is_free(&self) -> bool {
        matches!(self.state, State::Free)
    }

    fn release(&mut self) {
        self.storage.release();
        self.state = State::Free;
        self.owed = false;
    }
}

fn held(bitmap: &[u8], i: u32) -> bool {
    bitmap
        .get((i / 8) as usize)
        .is_some_and(|b| b & (1 << (i % 8)) != 0)
}
