//! The sending side of a transfer: a snapshot of the message, a send stamp per chunk,
//! selective resends and a retransmission timer.

use super::{Ack, AckStatus, ChunkHeader, Refusal, Rtt, SPAN, Storage};

/// A chunk's record: `UNSENT` (never sent, or presumed lost), `ACKED`, or the stamp of its
/// last send: 1 + the milliseconds from the transfer's start to it.
const UNSENT: u32 = 0;
const ACKED: u32 = u32::MAX;
/// Bytes of one chunk record, stored after the message.
const RECORD: usize = 4;
/// Retransmission timeouts double at most this many times in a row.
const MAX_BACKOFF: u32 = 6;

/// How a sender paces a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pacing {
    /// Chunks in flight (sent, not acknowledged) at most; clamped to `1..=SPAN`.
    pub(crate) window: u32,
    /// Retransmission timeout before the first round-trip sample.
    pub(crate) initial_rto_ms: u64,
    /// Largest retransmission timeout (after doubling).
    pub(crate) max_rto_ms: u64,
    /// A transfer without any acknowledged progress for this long is abandoned.
    pub(crate) give_up_ms: u64,
}

/// What an acknowledgement did to the transfer being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// Not about the transfer under way (an older one, or none): ignored.
    Stale,
    /// Recorded; the transfer goes on.
    Progress,
    /// The receiver has the whole message: the transfer is over and its storage free.
    Complete,
    /// The receiver refused the transfer: it is over and its storage free.
    Refused(Refusal),
}

#[derive(Clone, Copy, Debug)]
struct Active {
    transfer: u32,
    len: u32,
    chunk: u32,
    count: u32,
    /// The lowest chunk not acknowledged.
    base: u32,
    acked: u32,
    in_flight: u32,
    /// When the transfer started: send stamps count from it.
    start_ms: u64,
    /// The newest send stamp of an acknowledged chunk.
    newest_acked: u32,
    /// One send being timed for a round-trip sample: (stamp, time sent).
    timing: Option<(u32, u64)>,
    rtt: Rtt,
    backoff: u32,
    rto_deadline: Option<u64>,
    /// Last time an acknowledgement brought news (or the start).
    progress_ms: u64,
}

/// One transfer being sent, in a buffer `S` (see [`Storage`]). Idle between transfers.
#[derive(Debug)]
pub(crate) struct Sender<S> {
    storage: S,
    active: Option<Active>,
}

impl<S: Storage> Sender<S> {
    /// An idle sender owning `storage`.
    pub(crate) fn new(storage: S) -> Self {
        Sender {
            storage,
            active: None,
        }
    }

    /// The buffer, to encode the next message into while idle; then call [`Sender::start`].
    pub(crate) fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// The most bytes its buffer holds (`usize::MAX` when allocated).
    pub(crate) fn capacity(&self) -> usize {
        self.storage.capacity_max()
    }

    /// `true` while a transfer is under way.
    #[cfg(test)]
    pub(crate) fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Starts transfer `transfer` of the first `len` bytes of the storage (the snapshot:
    /// they are sent until the transfer ends), in chunks of `chunk` bytes. A message of
    /// one chunk is sent once and needs no acknowledgement. Refused when the chunk
    /// records do not fit the storage (fixed capacity) or `len` does not fit the header.
    pub(crate) fn start(
        &mut self,
        now_ms: u64,
        transfer: u32,
        len: usize,
        chunk: usize,
        pacing: &Pacing,
    ) -> Result<(), Refusal> {
        let too_large = |limit: usize| Refusal::TooLarge {
            len: u32::try_from(len).unwrap_or(u32::MAX),
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
        };
        self.active = None;
        let (Ok(len32), Ok(chunk32)) = (u32::try_from(len), u32::try_from(chunk)) else {
            self.storage.release();
            return Err(too_large(u32::MAX as usize));
        };
        if len == 0 || chunk == 0 || self.storage.bytes().len() < len {
            self.storage.release();
            return Err(too_large(self.storage.bytes().len()));
        }
        let count = len32.div_ceil(chunk32);
        self.storage.truncate(len);
        if count > 1 {
            let records = (count as usize).saturating_mul(RECORD);
            let total = len.saturating_add(records);
            if total > self.storage.capacity_max() || !self.grow(total) {
                let limit = self.storage.capacity_max().saturating_sub(records);
                self.storage.release();
                return Err(too_large(limit));
            }
        }
        self.active = Some(Active {
            transfer,
            len: len32,
            chunk: chunk32,
            count,
            base: 0,
            acked: 0,
            in_flight: 0,
            start_ms: now_ms,
            newest_acked: 0,
            timing: None,
            rtt: Rtt::new(pacing.initial_rto_ms),
            backoff: 0,
            rto_deadline: None,
            progress_ms: now_ms,
        });
        Ok(())
    }

    /// Appends `total - len` zeroed record bytes after the message already stored.
    fn grow(&mut self, total: usize) -> bool {
        let extra = total - self.storage.bytes().len();
        self.storage.extend_zeroed(extra)
    }

    /// Ends the transfer under way (the neighbour restarted, went dead, or the message
    /// is obsolete) and frees its storage.
    pub(crate) fn cancel(&mut self) {
        self.active = None;
        self.storage.release();
    }

    /// The next chunk to send, if the window allows one: its header; its bytes are
    /// [`Sender::chunk_bytes`]. A message of one chunk ends with its only send.
    pub(crate) fn poll_chunk(&mut self, now_ms: u64, pacing: &Pacing) -> Option<ChunkHeader> {
        let a = self.active.as_mut()?;
        if a.count == 1 {
            let header = ChunkHeader {
                transfer: a.transfer,
                len: a.len,
                chunk: a.chunk,
                index: 0,
            };
            // Sent once, unacknowledged: the storage is kept until the bytes are read.
            a.count = 0;
            return Some(header);
        }
        if a.count == 0 || a.in_flight >= pacing.window.clamp(1, SPAN) {
            return None;
        }
        let end = a.count.min(a.base.saturating_add(SPAN));
        let records = &mut self.storage.bytes_mut()[a.len as usize..];
        let index = (a.base..end).find(|&i| record(records, i) == UNSENT)?;
        let stamp = u32::try_from(now_ms.saturating_sub(a.start_ms))
            .unwrap_or(u32::MAX)
            .saturating_add(1)
            .min(ACKED - 1);
        set_record(records, index, stamp);
        a.in_flight += 1;
        if a.timing.is_none() {
            a.timing = Some((stamp, now_ms));
        }
        if a.rto_deadline.is_none() {
            a.rto_deadline = Some(now_ms.saturating_add(rto(a, pacing)));
        }
        Some(ChunkHeader {
            transfer: a.transfer,
            len: a.len,
            chunk: a.chunk,
            index,
        })
    }

    /// The bytes of the chunk `header` names (empty if it is not of this transfer). For a
    /// message of one chunk this also ends the transfer once read: call it once.
    pub(crate) fn chunk_bytes(&self, header: &ChunkHeader) -> &[u8] {
        match self.active {
            Some(a) if a.transfer == header.transfer => header
                .bytes_range()
                .and_then(|r| self.storage.bytes().get(r))
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Frees a finished one-chunk transfer once its frame is written.
    #[cfg(test)]
    pub(crate) fn finish_single(&mut self) {
        if self.active.is_some_and(|a| a.count == 0) {
            self.cancel();
        }
    }

    /// Handles an acknowledgement from the receiver.
    pub(crate) fn handle_ack(&mut self, now_ms: u64, ack: &Ack, pacing: &Pacing) -> AckOutcome {
        let Some(a) = self.active.as_mut() else {
            return AckOutcome::Stale;
        };
        if a.transfer != ack.transfer || a.count <= 1 {
            return AckOutcome::Stale;
        }
        let (next, sacks) = match ack.status {
            AckStatus::Complete => {
                self.cancel();
                return AckOutcome::Complete;
            }
            AckStatus::Refused(r) => {
                self.cancel();
                return AckOutcome::Refused(r);
            }
            AckStatus::Progress { next, sacks } => (next, sacks),
        };
        if next > a.count {
            return AckOutcome::Stale;
        }
        let records = &mut self.storage.bytes_mut()[a.len as usize..];
        let mut news = false;
        let mut mark = |a: &mut Active, i: u32| {
            let r = record(records, i);
            if r == ACKED {
                return;
            }
            if r != UNSENT {
                a.in_flight -= 1;
                a.newest_acked = a.newest_acked.max(r);
                if let Some((stamp, sent)) = a.timing
                    && stamp == r
                {
                    a.rtt.sample(now_ms.saturating_sub(sent));
                    a.timing = None;
                }
            }
            set_record(records, i, ACKED);
            a.acked += 1;
            news = true;
        };
        for i in a.base..next {
            mark(a, i);
        }
        for bit in 0..128 {
            let i = u64::from(next) + 1 + bit;
            if sacks & (1 << bit) != 0 && i < u64::from(a.count) {
                mark(a, i as u32);
            }
        }
        if a.acked >= a.count {
            // Every chunk acknowledged: the receiver's `Complete` is on its way.
            self.cancel();
            return AckOutcome::Complete;
        }
        while a.base < a.count && record(records, a.base) == ACKED {
            a.base += 1;
        }
        // Loss detection by time, as TCP RACK (RFC 8985): a chunk is presumed lost when
        // one sent more than a reordering window after it is acknowledged. Chunks sent
        // together never presume each other lost, however the link reorders them.
        let window = a.rtt.reordering_window_ms();
        let end = a.count.min(a.base.saturating_add(SPAN));
        for i in a.base..end {
            let r = record(records, i);
            if r != UNSENT && r != ACKED && u64::from(r) + window < u64::from(a.newest_acked) {
                set_record(records, i, UNSENT);
                a.in_flight -= 1;
                if a.timing.is_some_and(|(stamp, _)| stamp == r) {
                    // A send being timed is resent: no sample from it (Karn).
                    a.timing = None;
                }
            }
        }
        if news {
            a.progress_ms = now_ms;
            a.backoff = 0;
            // Restarted for what is still in flight (or by the next send).
            a.rto_deadline = (a.in_flight > 0).then(|| now_ms.saturating_add(rto(a, pacing)));
        }
        AckOutcome::Progress
    }

    /// When [`Sender::handle_timeout`] should run next.
    pub(crate) fn poll_timeout(&self, pacing: &Pacing) -> Option<u64> {
        let a = self.active.as_ref()?;
        if a.count <= 1 {
            return None;
        }
        let give_up = a.progress_ms.saturating_add(pacing.give_up_ms);
        Some(a.rto_deadline.map_or(give_up, |d| d.min(give_up)))
    }

    /// Handles the passage of time. On a retransmission timeout the lowest chunk in
    /// flight is sent again (its acknowledgement reports every chunk still missing);
    /// without progress for `give_up_ms` the transfer is abandoned: `true` then.
    pub(crate) fn handle_timeout(&mut self, now_ms: u64, pacing: &Pacing) -> bool {
        let Some(a) = self.active.as_mut() else {
            return false;
        };
        if a.count <= 1 {
            return false;
        }
        if now_ms >= a.progress_ms.saturating_add(pacing.give_up_ms) {
            self.cancel();
            return true;
        }
        if a.rto_deadline.is_some_and(|d| now_ms >= d) {
            let records = &mut self.storage.bytes_mut()[a.len as usize..];
            let end = a.count.min(a.base.saturating_add(SPAN));
            // The oldest send in flight goes again.
            let oldest = (a.base..end)
                .map(|i| (record(records, i), i))
                .filter(|&(r, _)| r != UNSENT && r != ACKED)
                .min();
            if let Some((_, i)) = oldest {
                set_record(records, i, UNSENT);
                a.in_flight -= 1;
            }
            a.timing = None;
            a.backoff = (a.backoff + 1).min(MAX_BACKOFF);
            a.rto_deadline = None;
        }
        false
    }

    /// Chunks acknowledged and chunks in all (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn progress(&self) -> Option<(u32, u32)> {
        self.active.map(|a| (a.acked, a.count))
    }
}

fn rto(a: &Active, pacing: &Pacing) -> u64 {
    a.rtt
        .rto_ms()
        .saturating_mul(1 << a.backoff)
        .min(pacing.max_rto_ms.max(super::MIN_RTO_MS))
}

fn record(records: &[u8], i: u32) -> u32 {
    let at = i as usize * RECORD;
    records
        .get(at..at + RECORD)
        .map_or(ACKED, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn set_record(records: &mut [u8], i: u32, value: u32) {
    let at = i as usize * RECORD;
    if let Some(b) = records.get_mut(at..at + RECORD) {
        b.copy_from_slice(&value.to_le_bytes());
    }
}
