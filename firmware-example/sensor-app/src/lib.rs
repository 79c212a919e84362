//! The sensor node application, shared by the firmware and the host replica so that
//! both replicate the very same type.
//!
//! * [`doc`]: the replicated document ([`Doc`]): sensor readings in last-writer-wins
//!   registers of a map, an event counter, and a configuration flag; and the few
//!   operations the application performs on it.
//! * [`sync`]: the synchronisation settings all replicas share.
//! * `node` (feature `embassy`): the firmware's loop running a [`starling_sync::Node`]
//!   on an embassy-net UDP socket.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod doc;
#[cfg(feature = "embassy")]
pub mod node;
pub mod sync;

pub use doc::Doc;
