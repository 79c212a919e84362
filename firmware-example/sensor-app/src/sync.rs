//! The synchronisation settings every replica of the sensor network shares (the
//! firmware and the host replica must agree on frame sizes).

use starling_sync::Config;
#[cfg(feature = "embassy")]
use starling_sync::Node;

#[cfg(feature = "embassy")]
use crate::Doc;

/// Neighbours a sensor node has at most (the host or a gateway, and one other node).
pub const PEERS: usize = 2;
/// Delta groups buffered for neighbours that have not acknowledged them; a full buffer
/// coalesces its two oldest groups, so a small buffer costs bandwidth, never data.
pub const DELTAS: usize = 2;
/// Largest message (a delta-interval, a digest or a catch-up) in bytes: a whole
/// document encodes within 512 bytes (tested in [`crate::doc`]).
pub const MESSAGE_BYTES: usize = 512;
/// Largest frame on the wire: a whole message plus room for the frame header (at most
/// 64 bytes), so that every message fits one frame and the node needs no transfer buffers.
pub const MTU: usize = MESSAGE_BYTES + 64;

/// The sync node of a sensor: [`Doc`] replicated with UDP endpoints as addresses, and no
/// transfer buffers (`TRANSFERS = 0`: frames of [`MTU`] bytes carry whole messages; a
/// larger one would be refused and reported, never silently dropped).
#[cfg(feature = "embassy")]
pub type SensorNode = Node<Doc, embassy_net::IpEndpoint, PEERS, DELTAS, MESSAGE_BYTES, 0>;

/// The synchronisation settings of a sensor node: sync every 200 ms, heartbeats every
/// 400 ms, suspect after 2 s and dead after 6 s (a LAN; the defaults suit radios).
pub fn sync_config() -> Config {
    let mut config = Config::new(MTU);
    config.sync_interval_ms = 200;
    config.heartbeat_interval_ms = 400;
    config.suspect_after_ms = 2_000;
    config.dead_after_ms = 6_000;
    config.retry_base_ms = 200;
    config.retry_max_ms = 2_000;
    config
}
