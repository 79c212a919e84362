//! # starling-sync
//!
//! Sans-IO anti-entropy for [`starling_core`] CRDTs. Build placeholder: see `node`.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod buffer;
mod config;
pub mod frame;
mod metrics;
mod node;
mod peer;
mod reassembly;
#[cfg(feature = "std")]
pub mod udp;

pub use config::{ByteBudget, Config};
pub use metrics::{Drops, Metrics};
pub use node::{Event, Node, PeersFull, Transmit};
pub use peer::{Liveness, PeerInfo};
