//! On-target tests, run in QEMU's Cortex-M4 with defmt-test (`cargo xtask ci` runs them
//! and counts the results): the merge laws on the MCU, capacity errors, encoding and
//! decoding with hostile input, two sync nodes over an in-memory loopback, the command
//! line parser, and the LAN9118 bring-up on the emulated chip.

#![no_std]
#![no_main]

use starling_firmware as _; // panic handlers, defmt logger, time driver

/// Helpers of the tests (defmt-test allows only tests inside its module).
mod support {
    use rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro128PlusPlus;
    use starling_core::{CapacityError, Lattice, ReplicaId};

    /// Join is commutative, associative and idempotent, and an upper bound, on every
    /// triple of `states` (states of one history).
    pub(crate) fn check_laws<T: Lattice + PartialEq>(states: &[T]) {
        for x in states {
            assert!(x.joined(x).unwrap() == *x, "idempotent");
            for y in states {
                let xy = x.joined(y).unwrap();
                assert!(xy == y.joined(x).unwrap(), "commutative");
                assert!(x.leq(&xy) && y.leq(&xy), "upper bound");
                for z in states {
                    let left = xy.joined(z).unwrap();
                    let right = x.joined(&y.joined(z).unwrap()).unwrap();
                    assert!(left == right, "associative");
                }
            }
        }
    }

    /// Replays a history of `steps` random operations at 3 replicas, with a random sync
    /// every few steps, and keeps every state and delta it went through.
    pub(crate) fn history<T: Lattice + Clone, const N: usize>(
        seed: u64,
        steps: usize,
        mut op: impl FnMut(&mut T, ReplicaId, u32) -> Result<T, CapacityError>,
    ) -> heapless::Vec<T, N> {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
        let mut replicas: [T; 3] = [T::bottom(), T::bottom(), T::bottom()];
        let mut seen: heapless::Vec<T, N> = heapless::Vec::new();
        for _ in 0..steps {
            let i = rng.next_u32() as usize % 3;
            if rng.next_u32() % 4 == 0 {
                let j = (i + 1 + rng.next_u32() as usize % 2) % 3;
                let from = replicas[j].clone();
                replicas[i].join(&from).unwrap();
            } else {
                let delta = op(&mut replicas[i], ReplicaId(i as u64 + 1), rng.next_u32()).unwrap();
                let _ = seen.push(delta);
            }
            let _ = seen.push(replicas[i].clone());
        }
        seen
    }
}

#[defmt_test::tests]
mod tests {
    use crate::support::{check_laws, history};
    use core::net::{Ipv4Addr, SocketAddrV4};

    use embassy_sync::waitqueue::AtomicWaker;
    use lan9118::{Lan9118, Mmio};
    use rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro128PlusPlus;
    use sensor_app::Doc;
    use sensor_app::doc::{self, Sensor};
    use sensor_app::sync::{DELTAS, MESSAGE_BYTES, MTU, sync_config};
    use starling_core::{
        AwSet, CapacityError, DecodeError, Fixed, GCounter, ReplicaId, WireFormat,
    };
    use starling_firmware::boot_args::{ArgError, BootArgs};
    use starling_firmware::ethernet::{LAN9118_BASE, mac_address};
    use starling_sync::Node;

    type Set = AwSet<u16, Fixed<8, 4>>;
    type Counter = GCounter<Fixed<0, 4>>;

    #[test]
    fn gcounter_merge_laws() {
        let states = history::<Counter, 12>(1, 12, |c, r, x| c.increment(r, u64::from(x % 5)));
        check_laws(&states);
    }

    #[test]
    fn awset_merge_laws() {
        let states = history::<Set, 12>(2, 12, |s, r, x| {
            let e = (x % 6) as u16;
            if x % 3 == 0 && s.contains(&e) {
                s.remove(&e)
            } else {
                s.add(r, e)
            }
        });
        check_laws(&states);
    }

    #[test]
    fn sensor_document_merge_laws() {
        let states = history::<Doc, 8>(3, 8, |d, r, x| match x % 4 {
            0 => doc::count_events(d, r, 1),
            1 => doc::enable_fast_reporting(d, r),
            _ => doc::publish_reading(d, r, Sensor::Temperature, x as i32),
        });
        check_laws(&states);
    }

    #[test]
    fn a_full_table_is_a_capacity_error_and_changes_nothing() {
        let mut small: AwSet<u16, Fixed<2, 2>> = AwSet::default();
        small.add(ReplicaId(1), 1).unwrap();
        small.add(ReplicaId(1), 2).unwrap();
        let before = small.clone();
        assert!(small.add(ReplicaId(1), 3) == Err(CapacityError));
        assert!(small == before);

        let mut counter: GCounter<Fixed<0, 2>> = GCounter::default();
        counter.increment(ReplicaId(1), 1).unwrap();
        counter.increment(ReplicaId(2), 1).unwrap();
        assert!(counter.increment(ReplicaId(3), 1) == Err(CapacityError));
        assert!(counter.value() == 2);

        // The document counts events of at most 8 replicas.
        let mut d = Doc::default();
        for r in 0..8 {
            doc::count_events(&mut d, ReplicaId(r), 1).unwrap();
        }
        let before = d.clone();
        assert!(doc::count_events(&mut d, ReplicaId(8), 1) == Err(CapacityError));
        assert!(d == before);
    }

    #[test]
    fn encode_decode_round_trip_and_hostile_bytes() {
        let mut d = Doc::default();
        for r in 1..4 {
            let id = ReplicaId(r);
            doc::publish_reading(&mut d, id, Sensor::Humidity, -5).unwrap();
            doc::count_events(&mut d, id, r).unwrap();
        }
        doc::enable_fast_reporting(&mut d, doc::HOST).unwrap();
        let mut buf = [0u8; MESSAGE_BYTES];
        let len = d.to_slice(&mut buf).unwrap().len();
        assert!(Doc::from_bytes(&buf[..len], MESSAGE_BYTES).unwrap() == d);
        // Every truncation is an error, never a panic.
        for cut in 0..len {
            assert!(Doc::from_bytes(&buf[..cut], MESSAGE_BYTES).is_err());
        }
        assert!(Doc::from_bytes(&[], MESSAGE_BYTES) == Err(DecodeError::Empty));
        // Flipped bytes decode to something valid or fail; they never trap.
        for i in 0..len {
            let mut bad = buf;
            bad[i] ^= 0x5A;
            let _ = Doc::from_bytes(&bad[..len], MESSAGE_BYTES);
        }
        // A buffer that is too small is an encoding error.
        assert!(d.to_slice(&mut buf[..8]).is_err());
    }

    #[test]
    fn two_nodes_converge_over_a_lossy_loopback() {
        type TestNode = Node<Doc, u8, 1, DELTAS, MESSAGE_BYTES, 0>;
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
        let (ra, rb) = (ReplicaId(2), ReplicaId(3));
        let mut a = TestNode::new(ra, Doc::default(), sync_config(), 0, &mut rng);
        let mut b = TestNode::new(rb, Doc::default(), sync_config(), 0, &mut rng);
        a.add_peer(1).unwrap();
        b.add_peer(0).unwrap();
        let mut frame = [0u8; MTU];
        let mut lost = 0;
        for now in (0..20_000u64).step_by(10) {
            if now < 5_000 && now % 500 == 0 {
                a.update(|d| doc::publish_reading(d, ra, Sensor::Temperature, now as i32))
                    .unwrap();
                b.update(|d| doc::count_events(d, rb, 1)).unwrap();
            }
            if now == 2_000 {
                b.update(|d| doc::enable_fast_reporting(d, rb)).unwrap();
            }
            for node in [&mut a, &mut b] {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now, &mut rng);
                }
            }
            // A quarter of the frames are lost, both ways.
            while let Some(t) = a.poll_transmit(now, &mut frame) {
                if rng.next_u32() % 4 == 0 {
                    lost += 1;
                } else {
                    b.handle_datagram(now, 0, &frame[..t.len]);
                }
            }
            while let Some(t) = b.poll_transmit(now, &mut frame) {
                if rng.next_u32() % 4 == 0 {
                    lost += 1;
                } else {
                    a.handle_datagram(now, 1, &frame[..t.len]);
                }
            }
        }
        assert!(lost > 0);
        assert!(a.state() == b.state());
        assert!(doc::events_of(a.state(), rb) == 10);
        assert!(doc::fast_reporting(a.state()));
        assert!(
            doc::reading(
                b.state(),
                doc::reading_key(ra, Sensor::Temperature).unwrap()
            ) == Some(4_500)
        );
        defmt::info!(
            "converged; {} frames lost, {} bytes sent",
            lost,
            a.metrics().bytes_sent
        );
    }

    #[test]
    fn command_line_words() {
        let args = BootArgs::from_bytes(
            b"sensor-node id=3 ip=10.0.2.16 peer=10.0.2.15:5557 peer=10.0.2.2:1",
        )
        .unwrap();
        assert!(args.parse_or("id", 0u8) == Ok(3));
        assert!(args.parse_or("samples", 7u32) == Ok(7));
        assert!(args.parse_or("ip", Ipv4Addr::UNSPECIFIED) == Ok(Ipv4Addr::new(10, 0, 2, 16)));
        let mut peers = [SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); 2];
        assert!(args.endpoints("peer", &mut peers) == Ok(2));
        assert!(peers[0] == SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 15), 5557));
        let mut one = [SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); 1];
        assert!(args.endpoints("peer", &mut one) == Err(ArgError::Invalid("peer")));
        let bad = BootArgs::from_bytes(b"id=300").unwrap();
        assert!(bad.parse_or("id", 0u8) == Err(ArgError::Invalid("id")));
        assert!(BootArgs::from_bytes(&[0xFF, 0xFE]).is_err());
    }

    #[test]
    fn lan9118_comes_up_on_the_board() {
        static WAKER: AtomicWaker = AtomicWaker::new();
        // SAFETY: the board's LAN9118 is at LAN9118_BASE and nothing else uses it here.
        let regs = unsafe { Mmio::new(LAN9118_BASE) };
        let driver = Lan9118::new(regs, &WAKER, Some(mac_address(9))).unwrap();
        assert!(driver.mac_address() == mac_address(9));
    }
}
