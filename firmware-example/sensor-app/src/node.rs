//! The firmware's application loop: a Starling [`Node`] on an embassy-net UDP socket,
//! a simulated sensor that publishes into the [`Doc`], and the reaction to the fast
//! reporting flag.

use defmt::{info, warn};
use embassy_futures::select::{Either, select};
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, Stack};
use embassy_time::{Instant, Timer};
use rand_core::RngCore;
use starling_core::{ReplicaId, StateChecksum, WireFormat};
use starling_sync::Event;

use crate::doc::{self, Sensor};
pub use crate::sync::{DELTAS, MESSAGE_BYTES, MTU, PEERS, SensorNode, sync_config};

/// What a sensor node does.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// This node's replica id (its registers: [`doc::reading_key`]).
    pub replica: ReplicaId,
    /// Peers at this address are reached from the uplink socket, the others from the
    /// local one (on QEMU's user network: the gateway 10.0.2.2, which is the host).
    pub uplink_address: IpAddress,
    /// UDP port of the uplink socket (towards the gateway).
    pub uplink_port: u16,
    /// UDP port of the local socket (towards the other nodes on the link).
    pub local_port: u16,
    /// Samples to take before the sensor goes quiet (`u32::MAX`: forever).
    pub samples: u32,
    /// Time between samples in normal reporting.
    pub interval_ms: u64,
    /// Time between samples while fast reporting is on.
    pub fast_interval_ms: u64,
    /// Datagrams to drop on purpose, in percent, on receive and on send alike (loss
    /// injection for tests).
    pub loss_percent: u32,
    /// How often to log the state checksum and metrics.
    pub status_interval_ms: u64,
}

/// Receive and send buffer bytes of one socket: two whole frames.
pub const SOCKET_BUFFER_BYTES: usize = 2 * MTU;

/// The buffers of one UDP socket: two datagrams of [`SOCKET_BUFFER_BYTES`] each way.
pub struct SocketBuffers {
    rx_meta: [PacketMetadata; 2],
    rx: [u8; SOCKET_BUFFER_BYTES],
    tx_meta: [PacketMetadata; 2],
    tx: [u8; SOCKET_BUFFER_BYTES],
}

impl SocketBuffers {
    /// Empty buffers (put them in a `static`).
    pub const fn new() -> Self {
        SocketBuffers {
            rx_meta: [PacketMetadata::EMPTY; 2],
            rx: [0; SOCKET_BUFFER_BYTES],
            tx_meta: [PacketMetadata::EMPTY; 2],
            tx: [0; SOCKET_BUFFER_BYTES],
        }
    }

    /// A UDP socket on `stack` bound to `port`, using these buffers.
    pub fn bind<'a>(&'a mut self, stack: Stack<'a>, port: u16) -> UdpSocket<'a> {
        let mut socket = UdpSocket::new(
            stack,
            &mut self.rx_meta,
            &mut self.rx,
            &mut self.tx_meta,
            &mut self.tx,
        );
        if let Err(e) = socket.bind(port) {
            defmt::panic!("cannot bind UDP port {}: {}", port, e);
        }
        socket
    }
}

impl Default for SocketBuffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs the sensor node forever: samples, publishes, syncs with the node's peers over
/// `stack`, and applies the fast reporting flag.
///
/// Two sockets: the uplink one talks to peers at the gateway address (on QEMU's user
/// network, the host), the local one to the other nodes on the link. Keeping them apart
/// keeps the traffic between nodes off the gateway's port forwarding.
pub async fn run<R: RngCore>(
    stack: Stack<'_>,
    buffers: &mut [SocketBuffers; 2],
    node: &mut SensorNode,
    settings: Settings,
    rng: &mut R,
) -> ! {
    let [uplink_buffers, local_buffers] = buffers;
    let uplink = uplink_buffers.bind(stack, settings.uplink_port);
    let local = local_buffers.bind(stack, settings.local_port);
    info!(
        "replica {} on UDP ports {} (uplink) and {} (local)",
        settings.replica.0, settings.uplink_port, settings.local_port
    );

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
            let value = if fast {
                doc::applied::FAST
            } else {
                doc::applied::NORMAL
            };
            match node.update(|d| doc::publish_applied(d, id, value)) {
                Ok(()) => {
                    info!("configuration: fast reporting {}, applied", fast);
                    applied = Some(fast);
                }
                Err(e) => warn!("cannot record the applied configuration: {}", e),
            }
        }
        if taken < settings.samples && now >= next_sample_ms {
            take_sample(node, id, taken);
            taken += 1;
            let interval = if fast {
                settings.fast_interval_ms
            } else {
                settings.interval_ms
            };
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
            if rng.next_u32() % 100 < settings.loss_percent {
                dropped_on_purpose += 1;
                continue;
            }
            let socket = if t.to.addr == settings.uplink_address {
                &uplink
            } else {
                &local
            };
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
            // The state's checksum from its encoding (the frame buffer is free here): the
            // node's message encoder serves, where `StateChecksum::of` would bring a second
            // copy of the document's serializer. Same value as `of` on the host.
            let crc = node
                .state()
                .to_slice(&mut frame)
                .ok()
                .and_then(|encoded| StateChecksum::of_encoded(encoded).ok())
                .map_or(0, |c| c.crc);
            info!(
                "status replica={} state crc={=u64:#x} samples={} fast={} events={} peers_alive={} frames_sent={} frames_received={} dropped_on_purpose={}",
                id.0,
                crc,
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
        let ready = select(
            select(uplink.wait_recv_ready(), local.wait_recv_ready()),
            Timer::at(Instant::from_millis(deadline.max(now))),
        )
        .await;
        if let Either::First(which) = ready {
            let socket = match which {
                Either::First(()) => &uplink,
                Either::Second(()) => &local,
            };
            match socket.recv_from(&mut frame).await {
                Ok((len, meta)) => {
                    if rng.next_u32() % 100 < settings.loss_percent {
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

/// Publishes sample `n` of every sensor and counts it as an event.
fn take_sample(node: &mut SensorNode, id: ReplicaId, n: u32) {
    for sensor in Sensor::ALL {
        let value = doc::simulated_sample(id, sensor, n);
        if let Err(e) = node.update(|d| doc::publish_reading(d, id, sensor, value)) {
            warn!("cannot publish {}: {}", sensor, e);
        }
    }
    if let Err(e) = node.update(|d| doc::count_events(d, id, 1)) {
        warn!("cannot count the sample: {}", e);
    }
}
