//! Where a transfer's bytes live: a buffer of fixed capacity without `alloc`, a vector
//! sized to the transfer with it.

use serde::Serialize;

use super::Refusal;

/// Writes a message's encoding into the slice given: its length, `None` when the slice is
/// too short.
pub(crate) type WriteMessage<'a> = dyn FnMut(&mut [u8]) -> Option<usize> + 'a;

/// The [`WriteMessage`] of `msg`: postcard's slice serializer.
pub(crate) fn writer<M: Serialize>(msg: &M) -> impl FnMut(&mut [u8]) -> Option<usize> + '_ {
    move |out| postcard::to_slice(msg, out).ok().map(|b| b.len())
}

/// The buffer the node stages a transfer in: with `alloc`, a vector allocated to each
/// transfer's length (bounded by `Config::max_message_bytes`, `MSG` unused) ...
#[cfg(feature = "alloc")]
pub(crate) type Buffer<const MSG: usize> = alloc::vec::Vec<u8>;
/// ... without it, `MSG` bytes inline (the message and, for a sender, 4 bytes per chunk).
#[cfg(not(feature = "alloc"))]
pub(crate) type Buffer<const MSG: usize> = heapless::Vec<u8, MSG>;

/// `Refusal::TooLarge` for a message of `len` bytes (0: not measured) over `limit`.
pub(crate) fn too_large(len: usize, limit: usize) -> Refusal {
    Refusal::TooLarge {
        len: u32::try_from(len).unwrap_or(u32::MAX),
        limit: u32::try_from(limit).unwrap_or(u32::MAX),
    }
}

/// The bytes of one transfer (the message, then the chunk records after it).
///
/// Two implementations: `heapless::Vec<u8, N>` holds at most `N` bytes inline (the
/// allocation-free build: capacity fixed at compile time), and, with `alloc`,
/// `alloc::vec::Vec<u8>`, allocated to the transfer's length when it starts and freed when
/// it ends (the limit is the caller's runtime configuration, checked before allocating).
pub(crate) trait Storage {
    /// Makes the buffer exactly `len` zero bytes. `false`, leaving it empty, when it
    /// cannot hold them (fixed capacity, or the allocator failed): never aborts.
    fn resize_zeroed(&mut self, len: usize) -> bool;
    /// The most bytes it can ever hold (`usize::MAX` when allocated).
    fn capacity_max(&self) -> usize;
    /// Appends `extra` zero bytes, keeping the contents. `false`, leaving the contents as
    /// they were, when they do not fit.
    fn extend_zeroed(&mut self, extra: usize) -> bool;
    /// Shortens the buffer to `len` bytes (no-op when already shorter).
    fn truncate(&mut self, len: usize);
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// The bytes, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Empties it, giving back the memory where it was allocated.
    fn release(&mut self);
    /// Makes the buffer exactly what `write` writes (a message's encoding: its length,
    /// `None` when the slice it is given is too short); its length. Refused, leaving the
    /// buffer empty, when the encoding is longer than `limit` or the buffer cannot hold
    /// it. `write` is not generic, so neither is this: one copy of the code whatever the
    /// message type.
    fn encode(&mut self, write: &mut WriteMessage<'_>, limit: usize) -> Result<usize, Refusal>;
}

impl<const N: usize> Storage for heapless::Vec<u8, N> {
    fn resize_zeroed(&mut self, len: usize) -> bool {
        self.clear();
        self.resize(len, 0).is_ok()
    }
    fn capacity_max(&self) -> usize {
        N
    }
    fn extend_zeroed(&mut self, extra: usize) -> bool {
        let len = self.len();
        len.checked_add(extra)
            .is_some_and(|new| new <= N && self.resize(new, 0).is_ok())
    }
    fn truncate(&mut self, len: usize) {
        heapless::Vec::truncate(self, len);
    }
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
    fn release(&mut self) {
        self.clear();
    }
    fn encode(&mut self, write: &mut WriteMessage<'_>, limit: usize) -> Result<usize, Refusal> {
        // Encoded in place: measuring it first would add a second copy of every
        // message's serialization code to the flash of an allocation-free build. The
        // length of a message that does not fit is not known, so it is reported as 0.
        let limit = limit.min(N);
        self.clear();
        let _ = self.resize(limit, 0);
        match write(self) {
            Some(len) => {
                self.truncate(len);
                Ok(len)
            }
            None => {
                self.clear();
                Err(too_large(0, limit))
            }
        }
    }
}

#[cfg(any(feature = "alloc", test))]
impl Storage for alloc::vec::Vec<u8> {
    fn resize_zeroed(&mut self, len: usize) -> bool {
        self.clear();
        if self.capacity() > len.saturating_mul(2) {
            // Do not keep a large transfer's memory for a small one.
            *self = alloc::vec::Vec::new();
        }
        if self.try_reserve_exact(len).is_err() {
            return false;
        }
        self.resize(len, 0);
        true
    }
    fn capacity_max(&self) -> usize {
        usize::MAX
    }
    fn extend_zeroed(&mut self, extra: usize) -> bool {
        if self.try_reserve_exact(extra).is_err() {
            return false;
        }
        self.resize(self.len() + extra, 0);
        true
    }
    fn truncate(&mut self, len: usize) {
        alloc::vec::Vec::truncate(self, len);
    }
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
    fn release(&mut self) {
        *self = alloc::vec::Vec::new();
    }
    fn encode(&mut self, write: &mut WriteMessage<'_>, limit: usize) -> Result<usize, Refusal> {
        // Encoded into a buffer that doubles until the message fits, with the slice
        // serializer frames use anyway: measuring first (postcard's `Size` flavour) put a
        // second copy of every message type's serialization code in the WebAssembly
        // module (about 10 KB gzipped).
        let mut room = self.len().max(1024).min(limit.max(1));
        loop {
            if !self.resize_zeroed(room) {
                self.release();
                return Err(Refusal::OutOfMemory);
            }
            match write(self.as_mut_slice()) {
                Some(len) => {
                    self.truncate(len);
                    return Ok(len);
                }
                None if room < limit => room = room.saturating_mul(2).min(limit),
                None => {
                    self.release();
                    return Err(too_large(0, limit));
                }
            }
        }
    }
}
