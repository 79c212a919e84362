//! # starling-sync
//!
//! Anti-entropy for [`starling_core`] CRDTs: replicas that exchange small deltas over
//! any datagram link (UDP, BLE, LoRa, a serial line, a browser channel) until they hold
//! the same state, through loss, duplication, reordering, partitions and restarts.
//!
//! `#![no_std]`, no allocator, no `unsafe`, and **sans-IO**: a [`Node`] owns no socket,
//! clock, thread, allocator or random source. The application feeds it received frames
//! and the time, and polls it for frames to send and for its next deadline. The same
//! node runs on a Cortex-M0, in a browser and in a deterministic simulator.
//!
//! ## The protocol in one page
//!
//! *Delta-interval anti-entropy with acknowledgements* (Almeida, Shoker, Baquero,
//! "Delta State Replicated Data Types", Algorithm 2), with the two refinements of Enes
//! et al., "Efficient Synchronization of State-based CRDTs" (ICDE 2019):
//!
//! 1. Every local update yields a delta, buffered under a sequence number.
//! 2. Every sync interval, a node sends each neighbour the join of the buffered deltas
//!    from that neighbour's acknowledgement mark on: a *delta-interval*. The receiver
//!    joins it only if it starts at or before what it already has from that sender (the
//!    *causal delta-merging condition*), so every state is causally consistent at all
//!    times, then acknowledges. Deltas acknowledged by every live neighbour are dropped.
//! 3. **BP**: a delta received from a neighbour is never sent back to it.
//!    **RR**: of a received delta, only the part that is news to the receiver is
//!    buffered for forwarding ([`starling_core::Reconcile::novel_part`]).
//! 4. A neighbour that is new, restarted, or was declared dead gets a *catch-up* driven
//!    by its digest (its causal context and a checksum of its live dots per replica): only
//!    what the digest shows it lacks, in one round trip each way
//!    ([`starling_core::Reconcile::missing_for`]).
//! 5. Heartbeats ride on every frame; silent neighbours become suspect, then dead (they
//!    stop holding back the buffer's garbage collection); retries back off exponentially
//!    with full jitter.
//! 6. Everything is bounded: peers table, delta buffer (a full buffer coalesces its two
//!    oldest groups by join: backpressure without loss), transfers (their number, their
//!    length: [`Config::max_message_bytes`]), outgoing queue, and an optional per-peer
//!    byte budget ([`ByteBudget`]).
//! 7. Frames fit the transport's MTU ([`Config::mtu`]): a larger message travels as a
//!    *transfer* of chunks that the receiver acknowledges selectively (only lost chunks
//!    are sent again), stages, and handles whole, so no state is ever partly joined; a
//!    transfer it cannot take is refused and reported on both sides
//!    ([`Event::OutgoingRefused`], [`Event::IncomingRefused`]).
//!    Every frame carries a version byte and a CRC-32; a refused frame is counted in
//!    [`Metrics::drops`] under its [`DropReason`], whose doc says what it changed (a bad
//!    frame or header: nothing).
//!
//! The frame format is specified in `docs/sync-protocol.md`.
//!
//! ## Driving a node
//!
//! ```
//! use starling_core::{GCounter, Fixed, ReplicaId};
//! use starling_sync::{Config, Node};
//! # struct Rng(u64);
//! # impl rand_core::RngCore for Rng {
//! #     fn next_u32(&mut self) -> u32 { self.next_u64() as u32 }
//! #     fn next_u64(&mut self) -> u64 { self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); self.0 >> 11 }
//! #     fn fill_bytes(&mut self, d: &mut [u8]) { rand_core::impls::fill_bytes_via_next(self, d) }
//! # }
//! type Counter = GCounter<Fixed<0, 4>>; // allocation-free
//! let mut rng = Rng(1); // any rand_core::RngCore: a hardware RNG, ChaCha, ...
//! let config = Config::new(64); // 64-byte frames, as on a LoRa link
//! // Two nodes; addresses are whatever the transport uses (here: 0 and 1).
//! let mut a: Node<Counter, u8> = Node::new(ReplicaId(1), Counter::default(), config, 0, &mut rng);
//! let mut b: Node<Counter, u8> = Node::new(ReplicaId(2), Counter::default(), config, 0, &mut rng);
//! a.add_peer(1)?;
//! b.add_peer(0)?;
//! a.update(|c| c.increment(ReplicaId(1), 5)).unwrap();
//! b.update(|c| c.increment(ReplicaId(2), 7)).unwrap();
//!
//! // The loop: timers, then drain outputs into the "network" (here: direct delivery,
//! // a frame from `a` arrives at `b` from address 0 and vice versa).
//! let mut buf = [0u8; 64];
//! for now in (0..3_000).step_by(10) {
//!     for node in [&mut a, &mut b] {
//!         if node.poll_timeout().is_some_and(|t| t <= now) {
//!             node.handle_timeout(now, &mut rng);
//!         }
//!     }
//!     while let Some(t) = a.poll_transmit(now, &mut buf) {
//!         b.handle_datagram(now, 0, &buf[..t.len]);
//!     }
//!     while let Some(t) = b.poll_transmit(now, &mut buf) {
//!         a.handle_datagram(now, 1, &buf[..t.len]);
//!     }
//! }
//! assert_eq!(a.state().value(), 12);
//! assert_eq!(a.state(), b.state());
//! # Ok::<(), starling_sync::PeersFull>(())
//! ```
//!
//! ## Features
//!
//! * default: `no_std`, no allocator; builds for `thumbv6m-none-eabi`.
//! * `alloc`: growable CRDT storage in `starling-core`.
//! * `std`: the [`udp`] transport adapter.
//! * `defmt`: `defmt::Format` on metrics, events and configuration.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod buffer;
mod config;
mod metrics;
mod node;
mod peer;
mod transfer;
#[cfg(feature = "std")]
pub mod udp;
mod wire;

pub use config::{ByteBudget, Config};
pub use metrics::{DropReason, Drops, Metrics};
pub use node::{Event, Node, PeersFull, Transmit};
pub use peer::{Liveness, PeerInfo, Stall};
pub use transfer::Refusal;
pub use wire::frame;
