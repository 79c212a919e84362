//! Where a transfer's bytes live: a buffer of fixed capacity without `alloc`, a vector
//! sized to the transfer with it.

use serde::Serialize;

use super::Refusal;

/// The buffer the node stages a transfer in: with `alloc`, a vector allocated to each
/// transfer's length (bounded by `Config::max_message_bytes`, `MSG` unused) ...
#[cfg(feature = "alloc")]
pub(crate) type Buffer<const MSG: usize> = alloc::vec::Vec<u8>;
/// ... without it, `MSG` bytes inline (the message and, for a sender, 4 bytes per chunk).
#[cfg(not(feature = "alloc"))]
pub(crate) type Buffer<const MSG: usize> = heapless::Vec<u8, MSG>;

/// Encodes `msg`, whose encoding is `size` bytes long, into `storage`: exactly those
/// bytes. Refused, leaving the storage empty, when `size` exceeds `limit` or the storage
/// cannot hold it.
pub(crate) fn encode_into<S: Storage, M: Serialize>(
    storage: &mut S,
    msg: &M,
    size: usize,
    limit: usize,
) -> Result<(), Refusal> {
    let too_large = |limit: usize| Refusal::TooLarge {
        len: u32::try_from(size).unwrap_or(u32::MAX),
        limit: u32::try_from(limit).unwrap_or(u32::MAX),
    };
    let limit = limit.min(storage.capacity_max());
    if size > limit {
        storage.release();
        return Err(too_large(limit));
    }
    if !storage.resize_zeroed(size) {
        storage.release();
        return Err(Refusal::OutOfMemory);
    }
    if postcard::to_slice(msg, storage.bytes_mut()).is_err() {
        // The size was measured with the same serializer: cannot happen, but never panic.
        storage.release();
        return Err(too_large(limit));
    }
    Ok(())
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
}
