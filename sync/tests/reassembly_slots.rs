//! `Node`'s `REASSEMBLY` parameter: with no reassembly buffers, nodes whose frames carry
//! whole messages still converge, and a fragmented message is dropped and counted.

use starling_core::{Fixed, GCounter, ReplicaId};
use starling_sync::{Config, Node};

/// A deterministic generator (splitmix64) for incarnations and jitter.
struct Rng(u64);
impl rand_core::RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }
}

type Counter = GCounter<Fixed<0, 8>>;
/// One neighbour, 2 delta groups, 256-byte messages, no reassembly buffer.
type Unfragmented = Node<Counter, u8, 1, 2, 256, 0>;

/// Runs `a` (address 0) and `b` (address 1) for `ms` milliseconds over a perfect link.
fn run(a: &mut Unfragmented, b: &mut Unfragmented, rng: &mut Rng, ms: u64, mtu: usize) {
    let mut buf = vec![0u8; mtu];
    for now in (0..ms).step_by(10) {
        for node in [&mut *a, &mut *b] {
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now, rng);
            }
        }
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            b.handle_datagram(now, 0, &buf[..t.len]);
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            a.handle_datagram(now, 1, &buf[..t.len]);
        }
    }
}

#[test]
fn whole_message_frames_need_no_reassembly_buffers() {
    let mut rng = Rng(1);
    let mtu = 256 + 64;
    let mut a = Unfragmented::new(
        ReplicaId(1),
        Counter::default(),
        Config::new(mtu),
        0,
        &mut rng,
    );
    let mut b = Unfragmented::new(
        ReplicaId(2),
        Counter::default(),
        Config::new(mtu),
        0,
        &mut rng,
    );
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    for r in 1..=8 {
        a.update(|c| c.increment(ReplicaId(r), r)).unwrap();
    }
    b.update(|c| c.increment(ReplicaId(2), 100)).unwrap();
    run(&mut a, &mut b, &mut rng, 3_000, mtu);
    assert_eq!(a.state(), b.state());
    assert_eq!(a.state().value(), 36 + 100 - 2);
    assert_eq!(a.metrics().drops.oversized + b.metrics().drops.oversized, 0);
}

#[test]
fn fragmented_messages_are_dropped_and_counted() {
    let mut rng = Rng(2);
    // 48-byte frames: a counter of 8 replicas does not fit one frame.
    let mtu = 48;
    let mut a = Unfragmented::new(
        ReplicaId(1),
        Counter::default(),
        Config::new(mtu),
        0,
        &mut rng,
    );
    let mut b = Unfragmented::new(
        ReplicaId(2),
        Counter::default(),
        Config::new(mtu),
        0,
        &mut rng,
    );
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    for r in 1..=8 {
        a.update(|c| c.increment(ReplicaId(r), u64::from(u32::MAX) + r))
            .unwrap();
    }
    run(&mut a, &mut b, &mut rng, 2_000, mtu);
    assert!(b.metrics().drops.oversized > 0);
    assert_eq!(b.state().value(), 0, "nothing fragmented got through");
}
