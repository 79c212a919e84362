//! The delta buffer: deltas under sequence numbers, until every neighbour has them.

use heapless::Deque;
use starling_core::{CapacityError, Lattice, ReplicaId};

/// Buffered deltas for the sequence numbers `start..end`, joined.
#[derive(Clone, Debug)]
pub(crate) struct Entry<T> {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// The neighbour the delta came from (`None`: local, or coalesced from several).
    pub(crate) origin: Option<ReplicaId>,
    /// Neighbours, by peer slot (the first 64), that have shown they hold the delta: they
    /// sent us a delta at least as large. Not sent to them.
    pub(crate) known: u64,
    pub(crate) delta: T,
}

impl<T> Entry<T> {
    /// `true` when the neighbour in peer slot `slot` is known to hold this delta.
    pub(crate) fn known_by(&self, slot: usize) -> bool {
        slot_bit(slot).is_some_and(|bit| self.known & bit != 0)
    }
}

/// At most `N` entries; when full, the two oldest coalesce by join, so deltas are never
/// dropped and the buffer never grows.
#[derive(Debug)]
pub(crate) struct DeltaBuffer<T, const N: usize> {
    entries: Deque<Entry<T>, N>,
}

impl<T: Lattice, const N: usize> DeltaBuffer<T, N> {
    pub(crate) const fn new() -> Self {
        const { assert!(N >= 2, "the delta buffer needs room for at least 2 entries") };
        DeltaBuffer {
            entries: Deque::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry<T>> {
        self.entries.iter()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Buffers `delta` under `seq`. Returns `Ok(true)` if the buffer had to coalesce, and
    /// `Err` if coalescing did not fit (the buffer is left as it was, minus nothing).
    pub(crate) fn push(
        &mut self,
        seq: u64,
        origin: Option<ReplicaId>,
        delta: T,
    ) -> Result<bool, CapacityError> {
        let mut coalesced = false;
        if self.entries.is_full() {
            self.coalesce_oldest()?;
            coalesced = true;
        }
        // Room was made above (or existed): this push cannot fail.
        let _ = self.entries.push_back(Entry {
            start: seq,
            end: seq + 1,
            origin,
            known: 0,
            delta,
        });
        Ok(coalesced)
    }

    fn coalesce_oldest(&mut self) -> Result<(), CapacityError> {
        let (Some(first), Some(second)) = (self.entries.iter().next(), self.entries.iter().nth(1))
        else {
            return Err(CapacityError);
        };
        let delta = first.delta.joined(&second.delta)?;
        let origin = if first.origin == second.origin {
            first.origin
        } else {
            None
        };
        let (start, end) = (first.start, second.end);
        let known = first.known & second.known;
        self.entries.pop_front();
        self.entries.pop_front();
        let _ = self.entries.push_front(Entry {
            start,
            end,
            origin,
            known,
            delta,
        });
        Ok(())
    }

    /// Records that the neighbour in peer slot `slot` holds `received` (it sent it): every
    /// entry at most `received` need not go to it.
    pub(crate) fn mark_known(&mut self, slot: usize, received: &T) {
        let Some(bit) = slot_bit(slot) else {
            return;
        };
        for entry in self.entries.iter_mut() {
            if entry.known & bit == 0 && entry.delta.leq(received) {
                entry.known |= bit;
            }
        }
    }

    /// The peer in slot `last` moves to slot `slot` (the one in `slot` is forgotten).
    pub(crate) fn move_slot(&mut self, last: usize, slot: usize) {
        for entry in self.entries.iter_mut() {
            let moved = slot_bit(last).is_some_and(|bit| entry.known & bit != 0);
            if let Some(bit) = slot_bit(last) {
                entry.known &= !bit;
            }
            if let Some(bit) = slot_bit(slot) {
                entry.known = if moved {
                    entry.known | bit
                } else {
                    entry.known & !bit
                };
            }
        }
    }

    /// Drops the entries every neighbour has acknowledged (`end <= acked`).
    pub(crate) fn collect_garbage(&mut self, acked: u64) {
        while self.entries.front().is_some_and(|e| e.end <= acked) {
            self.entries.pop_front();
        }
    }
}

/// The bit of peer slot `slot` in [`Entry::known`] (slots past 64 are not tracked).
fn slot_bit(slot: usize) -> Option<u64> {
    u32::try_from(slot).ok().and_then(|s| 1u64.checked_shl(s))
}
