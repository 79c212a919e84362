//! Reassembly of fragmented messages.

use starling_core::ReplicaId;

/// One message being reassembled.
#[derive(Clone, Debug)]
struct Slot<const MSG: usize> {
    from: ReplicaId,
    incarnation: u32,
    message: u16,
    count: u8,
    received: [u8; 32],
    /// Total length, once the last fragment is in.
    len: Option<usize>,
    /// Last use, for eviction.
    touched: u64,
    bytes: [u8; MSG],
}

/// What a fragment did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fragment {
    /// The message is complete: its bytes are in the slot returned.
    Complete(usize, usize),
    /// More fragments are needed.
    Pending,
    /// Seen before.
    Duplicate,
    /// Does not fit the buffer or contradicts earlier fragments.
    Oversized,
}

/// `SLOTS` messages of up to `MSG` bytes reassembled at once; the least recently used
/// slot is recycled for a new message.
#[derive(Debug)]
pub(crate) struct Reassembly<const SLOTS: usize, const MSG: usize> {
    slots: [Option<Slot<MSG>>; SLOTS],
    clock: u64,
}

impl<const SLOTS: usize, const MSG: usize> Reassembly<SLOTS, MSG> {
    pub(crate) fn new() -> Self {
        Reassembly {
            slots: core::array::from_fn(|_| None),
            clock: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert(
        &mut self,
        from: ReplicaId,
        incarnation: u32,
        message: u16,
        index: u8,
        count: u8,
        offset: u32,
        data: &[u8],
    ) -> Fragment {
        if SLOTS == 0 {
            // No reassembly buffers: this node only takes unfragmented messages.
            return Fragment::Oversized;
        }
        let offset = offset as usize;
        let Some(end) = offset.checked_add(data.len()).filter(|end| *end <= MSG) else {
            return Fragment::Oversized;
        };
        self.clock += 1;
        let clock = self.clock;
        let found = self.slots.iter().position(|s| {
            s.as_ref().is_some_and(|s| {
                s.from == from && s.incarnation == incarnation && s.message == message
            })
        });
        let i = match found {
            Some(i) => i,
            None => {
                let i = self.victim();
                self.slots[i] = Some(Slot {
                    from,
                    incarnation,
                    message,
                    count,
                    received: [0; 32],
                    len: None,
                    touched: clock,
                    bytes: [0; MSG],
                });
                i
            }
        };
        let Some(slot) = self.slots[i].as_mut() else {
            return Fragment::Oversized;
        };
        if slot.count != count {
            self.slots[i] = None;
            return Fragment::Oversized;
        }
        let (byte, bit) = (usize::from(index / 8), 1u8 << (index % 8));
        if slot.received[byte] & bit != 0 {
            return Fragment::Duplicate;
        }
        slot.received[byte] |= bit;
        slot.touched = clock;
        slot.bytes[offset..end].copy_from_slice(data);
        if index + 1 == count {
            slot.len = Some(end);
        }
        let have = slot.received.iter().map(|b| b.count_ones()).sum::<u32>();
        match slot.len {
            Some(len) if have == u32::from(count) => Fragment::Complete(i, len),
            _ => Fragment::Pending,
        }
    }

    /// The bytes of a complete message; frees the slot when `release` is called.
    pub(crate) fn bytes(&self, slot: usize, len: usize) -> &[u8] {
        self.slots[slot].as_ref().map_or(&[], |s| &s.bytes[..len])
    }

    pub(crate) fn release(&mut self, slot: usize) {
        self.slots[slot] = None;
    }

    fn victim(&self) -> usize {
        let mut best = 0;
        let mut oldest = u64::MAX;
        for (i, s) in self.slots.iter().enumerate() {
            match s {
                None => return i,
                Some(s) if s.touched < oldest => {
                    oldest = s.touched;
                    best = i;
                }
                Some(_) => {}
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_slots_every_fragment_is_refused() {
        let mut r: Reassembly<0, 64> = Reassembly::new();
        for index in 0..2 {
            let f = r.insert(ReplicaId(1), 7, 1, index, 2, u32::from(index) * 8, &[0; 8]);
            assert_eq!(f, Fragment::Oversized);
        }
    }

    #[test]
    fn one_slot_reassembles_a_message() {
        let mut r: Reassembly<1, 64> = Reassembly::new();
        assert_eq!(
            r.insert(ReplicaId(1), 7, 1, 1, 2, 8, &[2; 4]),
            Fragment::Pending
        );
        assert_eq!(
            r.insert(ReplicaId(1), 7, 1, 0, 2, 0, &[1; 8]),
            Fragment::Complete(0, 12)
        );
        assert_eq!(r.bytes(0, 12), &[1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
    }
}
