//! The firmware's application loop: a Starling [`Node`] on an embassy-net UDP socket,
//! a simulated sensor that publishes into the [`Doc`], and the reaction to the fast
//! reporting flag.

use defmt::{info, warn};
use embassy_futures::select::{Either, select};
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::{Instant, Timer};
use rand_core::RngCore;
use starling_core::{ReplicaId, StateChecksum};
use starling_sync::{Config, Event, Node};

use crate::doc::{self, Doc, Sensor};

/// Neighbours a sensor node has at most (the host or a gateway, and one other node).
pub const PEERS: usize = 2;
/// Delta groups buffered for neighbours that have not acknowledged them; a full buffer
/// coalesces its two oldest groups, so a small buffer costs bandwidth, never data.
pub const DELTAS: usize = 2;
/// Largest message (a delta-interval, a digest or a catch-up) in bytes: a whole
/// document encodes within 512 bytes (tested in [`crate::doc`]).
pub const MESSAGE_BYTES: usize = 512;
/// Largest frame on the wire: one message fits one UDP datagram.
pub const MTU: usize = MESSAGE_BYTES;

/// The sync node of a sensor: [`Doc`] replicated with UDP endpoints as addresses.
pub type SensorNode = Node<Doc, IpEndpoint, PEERS, DELTAS, MESSAGE_BYTES>;

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

/// What a sensor node does.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// This node's replica id (its registers: [`doc::reading_key`]).
    pub replica: ReplicaId,
    /// Local UDP port.
    pub port: u16,
    /// Samples to take before the sensor goes quiet (`u32::MAX`: forever).
    pub samples: u32,
    /// Time between samples in normal reporting.
    pub interval_ms: u64,
    /// Time between samples while fast reporting is on.
    pub fast_interval_ms: u64,
    /// Received datagrams to drop on purpose, in percent (loss injection for tests).
    pub receive_loss_percent: u32,
    /// How often to log the state checksum and metrics.
    pub status_interval_ms: u64,
}

/// The buffers of the node's UDP socket (4 datagrams and 1,536 bytes each way).
pub struct SocketBuffers {
    rx_meta: [PacketMetadata; 4],
    rx: [u8; 1536],
    tx_meta: [PacketMetadata; 4],
    tx: [u8; 1536],
}

impl SocketBuffers {
    /// Empty buffers (put them in a `static`).
    pub const fn new() -> Self {
        SocketBuffers {
            rx_meta: [PacketMetadata::EMPTY; 4],
            rx: [0; 1536],
            tx_meta: [PacketMetadata::EMPTY; 4],
            tx: [0; 1536],
        }
    }
}

impl Default for SocketBuffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs the sensor node forever: samples, publishes, syncs with the node's peers over
/// `stack`, and applies the fast reporting flag.
pub async fn run<R: RngCore>(
    stack: Stack<'_>,
    buffers: &mut SocketBuffers,
    node: &mut SensorNode,
    settings: Settings,
    rng: &mut R,
) -> ! {
    let mut socket = UdpSocket::new(
        stack,
        &mut buffers.rx_meta,
        &mut buffers.rx,
        &mut buffers.tx_meta,
        &mut buffers.tx,
    );
    if let Err(e) = socket.bind(settings.port) {
        defmt::panic!("cannot bind UDP port {}: {}", settings.port, e);
    }
    info!("replica {} listening on UDP port {}", settings.replica.0, settings.port);

    let id = settings.replica;
    let mut frame = [0u8; MTU];
    let mut taken: u32 = 0;
    let mut next_sample_ms = now_ms();
    let mut next_status_ms = now_ms();
    let mut applied: Option<bool> = None;
    let mut dropped_on_purpose: u32 = 0;
    loop {
        let now = now_ms();

        // The application: react to the configuration, sample, publish.
        let fast = doc::fast_reporting(node.state());
        if applied != Some(fast) {
            let value = if fast { doc::applied::FAST } else { doc::applied::NORMAL };
            if let Some(key) = doc::applied_key(id) {
                match node.update(|d| doc::publish(d, id, key, value)) {
                    Ok(()) => {
                        info!("configuration: fast reporting {}, applied", fast);
                        applied = Some(fast);
                    }
                    Err(e) => warn!("cannot record the applied configuration: {}", e),
                }
            }
        }
        if taken < settings.samples && now >= next_sample_ms {
            take_sample(node, id, taken);
            taken += 1;
            let interval = if fast { settings.fast_interval_ms } else { settings.interval_ms };
            next_sample_ms = now + interval;
            if taken == settings.samples {
                info!("sampling done: {} samples", taken);
            }
        }

        // The sync node: timers, outgoing frames, events.
        if node.poll_timeout().is_some_and(|t| t <= now) {
            node.handle_timeout(now, rng);
        }
        while let Some(t) = node.poll_transmit(now, &mut frame) {
            // A frame that cannot be sent is a lost frame: the protocol resends.
            if let Err(e) = socket.send_to(&frame[..t.len], t.to).await {
                warn!("send to {} failed: {}", t.to, e);
            }
        }
        while let Some(event) = node.poll_event() {
            match event {
                Event::StateChanged => {}
                other => info!("sync: {}", other),
            }
        }
        if now >= next_status_ms {
            next_status_ms = now + settings.status_interval_ms;
            let m = node.metrics();
            info!(
                "status replica={} state crc={=u64:#x} samples={} fast={} events={} peers_alive={} frames_sent={} frames_received={} dropped_on_purpose={}",
                id.0,
                StateChecksum::of(node.state()).crc,
                taken,
                fast,
                doc::events_total(node.state()),
                node.peers_alive(),
                m.frames_sent,
                m.frames_received,
                dropped_on_purpose
            );
        }

        // Sleep until a datagram arrives or the next deadline.
        let mut deadline = next_status_ms;
        if taken < settings.samples {
            deadline = deadline.min(next_sample_ms);
        }
        if let Some(t) = node.poll_timeout() {
            deadline = deadline.min(t);
        }
        let received = select(
            socket.recv_from(&mut frame),
            Timer::at(Instant::from_millis(deadline.max(now))),
        )
        .await;
        if let Either::First(result) = received {
            match result {
                Ok((len, meta)) => {
                    if rng.next_u32() % 100 < settings.receive_loss_percent {
                        dropped_on_purpose += 1;
                    } else {
                        node.handle_datagram(now_ms(), meta.endpoint, &frame[..len]);
                    }
                }
                Err(e) => warn!("receive failed: {}", e),
            }
        }
    }
}

/// Milliseconds since boot.
fn now_ms() -> u64 {
    Instant::now().as_millis()
}

/// Publishes sample `n` of both sensors and counts it as an event.
fn take_sample(node: &mut SensorNode, id: ReplicaId, n: u32) {
    for sensor in [Sensor::Temperature, Sensor::Humidity] {
        let Some(key) = doc::reading_key(id, sensor) else {
            warn!("replica {} has no registers", id.0);
            return;
        };
        let value = doc::simulated_sample(id, sensor, n);
        if let Err(e) = node.update(|d| doc::publish(d, id, key, value)) {
            warn!("cannot publish {}: {}", sensor, e);
        }
    }
    if let Err(e) = node.update(|d| doc::count_events(d, id, 1)) {
        warn!("cannot count the sample: {}", e);
    }
}
