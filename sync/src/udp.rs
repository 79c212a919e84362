//! The std UDP transport (feature `std`): one socket per node, addresses are
//! `SocketAddr`s. A thin loop around [`Node`]: receive with a timeout set by
//! [`Node::poll_timeout`], feed the node, send what it polls out.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};
use std::vec;
use std::vec::Vec;

use rand_core::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use starling_core::Reconcile;

use crate::Node;

/// A [`Node`] on a UDP socket.
///
/// ```no_run
/// use starling_core::{AwSet, Growable, ReplicaId};
/// use starling_sync::{Config, Node, udp::UdpNode};
/// # struct Seed(u64);
/// # impl rand_core::RngCore for Seed {
/// #     fn next_u32(&mut self) -> u32 { self.next_u64() as u32 }
/// #     fn next_u64(&mut self) -> u64 { self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1); self.0 }
/// #     fn fill_bytes(&mut self, d: &mut [u8]) { rand_core::impls::fill_bytes_via_next(self, d) }
/// # }
/// # fn main() -> std::io::Result<()> {
/// let mut rng = Seed(7); // any rand_core::RngCore, e.g. a ChaCha seeded from the OS
/// let node: Node<AwSet<u32, Growable>, _> =
///     Node::new(ReplicaId(1), Default::default(), Config::new(1200), 0, &mut rng);
/// let mut udp = UdpNode::bind("127.0.0.1:7001", node)?;
/// udp.node_mut().add_peer("127.0.0.1:7002".parse().unwrap()).unwrap();
/// loop {
///     udp.step(std::time::Duration::from_millis(50), &mut rng)?;
/// }
/// # }
/// ```
pub struct UdpNode<T, const PEERS: usize = 8, const DELTAS: usize = 16, const MSG: usize = 2048>
where
    T: Reconcile + Serialize + DeserializeOwned,
{
    node: Node<T, SocketAddr, PEERS, DELTAS, MSG>,
    socket: UdpSocket,
    epoch: Instant,
    buf: Vec<u8>,
}

impl<T, const PEERS: usize, const DELTAS: usize, const MSG: usize> UdpNode<T, PEERS, DELTAS, MSG>
where
    T: Reconcile + Serialize + DeserializeOwned,
{
    /// Binds a socket at `addr` for `node`. The node's clock is milliseconds since this
    /// call (create the node with `now_ms = 0`).
    pub fn bind(
        addr: impl ToSocketAddrs,
        node: Node<T, SocketAddr, PEERS, DELTAS, MSG>,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr)?;
        let buf = vec![0u8; node.config().mtu.max(2048)];
        Ok(UdpNode {
            node,
            socket,
            epoch: Instant::now(),
            buf,
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Milliseconds since [`UdpNode::bind`].
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The node.
    pub fn node(&self) -> &Node<T, SocketAddr, PEERS, DELTAS, MSG> {
        &self.node
    }

    /// The node, to update its state or add peers.
    pub fn node_mut(&mut self) -> &mut Node<T, SocketAddr, PEERS, DELTAS, MSG> {
        &mut self.node
    }

    /// One turn of the loop: sends what is pending, waits up to `max_wait` (less if a
    /// timer is due) for one datagram, handles it and the timers, and sends again.
    /// Frames that fail to send are dropped, like frames lost on the way.
    pub fn step<R: RngCore>(&mut self, max_wait: Duration, rng: &mut R) -> io::Result<()> {
        self.flush();
        let now = self.now_ms();
        let wait_ms = self
            .node
            .poll_timeout()
            .map_or(max_wait.as_millis() as u64, |t| t.saturating_sub(now));
        let wait = Duration::from_millis(wait_ms.clamp(1, max_wait.as_millis().max(1) as u64));
        self.socket.set_read_timeout(Some(wait))?;
        match self.socket.recv_from(&mut self.buf) {
            Ok((len, from)) => {
                let now = self.now_ms();
                self.node.handle_datagram(now, from, &self.buf[..len]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // ICMP port unreachable from a peer that is not up yet, and the like.
            Err(e)
                if e.kind() == io::ErrorKind::ConnectionRefused
                    || e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => return Err(e),
        }
        let now = self.now_ms();
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now, rng);
        }
        self.flush();
        Ok(())
    }

    /// Sends every frame the node has ready.
    pub fn flush(&mut self) {
        let now = self.now_ms();
        while let Some(t) = self.node.poll_transmit(now, &mut self.buf) {
            let _ = self.socket.send_to(&self.buf[..t.len], t.to);
        }
    }
}
