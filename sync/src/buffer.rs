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
    pub(crate) delta: T,
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
        self.entries.pop_front();
        self.entries.pop_front();
        let _ = self.entries.push_front(Entry {
            start,
            end,
            origin,
            delta,
        });
        Ok(())
    }

    /// Drops the entries every neighbour has acknowledged (`end <= acked`).
    pub(crate) fn collect_garbage(&mut self, acked: u64) {
        while self.entries.front().is_some_and(|e| e.end <= acked) {
            self.entries.pop_front();
        }
    }
}
