//! The std UDP adapter: real sockets on 127.0.0.1.

use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use starling_core::{AwSet, Growable, ReplicaId};
use starling_sync::udp::UdpNode;
use starling_sync::{Config, Node};

type Set = AwSet<u32, Growable>;

fn node(id: u64, rng: &mut ChaCha8Rng) -> UdpNode<Set> {
    let mut config = Config::new(1200);
    config.sync_interval_ms = 20;
    let node = Node::new(ReplicaId(id), Set::default(), config, 0, rng);
    UdpNode::bind("127.0.0.1:0", node).expect("bind on loopback")
}

#[test]
fn udp_two_nodes_converge_over_loopback() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut a = node(1, &mut rng);
    let mut b = node(2, &mut rng);
    let (addr_a, addr_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    a.node_mut().add_peer(addr_b).unwrap();
    b.node_mut().add_peer(addr_a).unwrap();
    for x in 0..50 {
        a.node_mut().update(|s| s.add(ReplicaId(1), x)).unwrap();
        b.node_mut()
            .update(|s| s.add(ReplicaId(2), 1000 + x))
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.node().state() != b.node().state() || a.node().state().len() != 100 {
        assert!(
            Instant::now() < deadline,
            "no convergence over UDP within 10 s"
        );
        a.step(Duration::from_millis(5), &mut rng).unwrap();
        b.step(Duration::from_millis(5), &mut rng).unwrap();
    }
    assert_eq!(
        a.node().metrics().drops.total(),
        0,
        "{:?}",
        a.node().metrics()
    );
    assert!(a.node().metrics().frames_sent > 0 && b.node().metrics().frames_received > 0);
}
