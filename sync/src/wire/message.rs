//! Messages: what a frame carries, or a transfer's chunks staged whole.
//!
//! Each message kind is a postcard-encoded struct named by the frame's [`FrameKind`]; the
//! table is in `docs/sync-protocol.md`. A new message kind gets a [`FrameKind`], a struct
//! here, a [`Message`] variant and an arm in [`decode`].

use serde::{Deserialize, Serialize};
use starling_core::Reconcile;

use crate::metrics::DropReason;
use crate::wire::frame::FrameKind;

/// A digest of the sender's state, asking for a catch-up.
#[derive(Serialize, Deserialize)]
pub(crate) struct DigestMsg<D> {
    /// Names the request: the catch-up answering it carries the same nonce (never 0).
    pub(crate) nonce: u32,
    /// Asks the receiver for its digest too.
    pub(crate) reply: bool,
    pub(crate) digest: D,
}

/// What the receiver of a digest lacked.
#[derive(Serialize, Deserialize)]
pub(crate) struct CatchUpMsg<T> {
    /// The nonce of the digest it answers.
    pub(crate) nonce: u32,
    /// The sender's next sequence number: the catch-up covers everything before it.
    pub(crate) seq: u64,
    pub(crate) delta: T,
}

/// The join of the sender's buffered deltas of sequence numbers `from..to`.
#[derive(Serialize, Deserialize)]
pub(crate) struct DeltasMsg<T> {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) delta: T,
}

/// A decoded message.
pub(crate) enum Message<T: Reconcile> {
    Digest(DigestMsg<T::Digest>),
    CatchUp(CatchUpMsg<T>),
    Deltas(DeltasMsg<T>),
    /// A heartbeat: no message.
    Nothing,
}

/// Decodes a complete message of kind `kind`. The decoders of `starling-core` validate
/// states, so an `Ok` is a well-formed message of a reachable state.
#[inline(never)]
pub(crate) fn decode<T>(kind: FrameKind, bytes: &[u8]) -> Result<Message<T>, DropReason>
where
    T: Reconcile + for<'de> Deserialize<'de>,
    T::Digest: for<'de> Deserialize<'de>,
{
    let parsed = match kind {
        FrameKind::Digest => postcard::from_bytes(bytes).map(Message::Digest),
        FrameKind::CatchUp => postcard::from_bytes(bytes).map(Message::CatchUp),
        FrameKind::Deltas => postcard::from_bytes(bytes).map(Message::Deltas),
        FrameKind::Heartbeat | FrameKind::TransferAck => Ok(Message::Nothing),
    };
    parsed.map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => DropReason::Truncated,
        _ => DropReason::Malformed,
    })
}
