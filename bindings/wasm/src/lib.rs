//! # starling-wasm
//!
//! Starling replicas and anti-entropy sync for JavaScript (browsers and Node), through
//! `wasm-bindgen`. This crate is the low-level half of the npm package: one exported
//! class, `Replica`, with flat, typed methods over a [`document::Document`] (named
//! counters, sets, registers, flags and maps) and the sans-IO [`starling_sync::Node`]
//! that replicates it. The package's JavaScript (`bindings/wasm/npm/index.js`) wraps it
//! in handles, change subscriptions and transports; see `docs/wasm.md`.
//!
//! Every method that can fail returns a JavaScript exception with a message; bad input
//! (bytes, numbers, value types) never traps the module.
//!
//! [`document`] is plain Rust: native programs use it to read and write the very bytes
//! a browser replica saves and sends.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod document;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
pub use bindings::{Outgoing, Replica};

/// Without the standard library (the npm package's build): an allocator, and a panic
/// handler that stops the module. Panics are bugs here: bad input returns errors.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
mod runtime {
    #[global_allocator]
    static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}

/// The largest message (a delta-interval, digest or catch-up) a replica sends or takes,
/// in bytes: the sync node's `Config::max_message_bytes`. A message larger than one frame
/// travels as a transfer of chunks, staged in memory allocated to its length.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The largest encoded document a local edit may produce: an edit that would grow the
/// document past it fails (with an exception) and changes nothing. Leaves room for a
/// catch-up message's header fields within [`MAX_MESSAGE_BYTES`], so a peer that was away
/// can always be caught up.
pub const DOCUMENT_LIMIT: usize = MAX_MESSAGE_BYTES - 64;

/// Neighbours one replica syncs with (tabs, processes, gateways).
pub const PEERS: usize = 8;

/// The sync node behind a replica: peers are addressed by a 32-bit link id that the
/// JavaScript transports allocate.
pub type SyncNode = starling_sync::Node<document::Document, u32, PEERS, 16>;
