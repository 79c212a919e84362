//! The wire: [`frame`]s (the unit a transport carries: version, header, a message or
//! one chunk of a transfer, CRC) and the [`message`]s they carry. Pure encoding and decoding, no protocol
//! state; the node's receive and transmit paths (`node/receive.rs`, `node/transmit.rs`)
//! are the only users. The byte-level specification is `docs/sync-protocol.md`.

pub mod frame;
pub(crate) mod message;
