//! `Node`'s `TRANSFERS` parameter and transfer limits: with no transfer buffers, nodes
//! whose frames carry whole messages still converge; with them, messages of many frames
//! arrive; and whatever is refused (too large to send, or refused by the receiver) is
//! counted and reported to the application on both sides, never silent.

use starling_core::{Fixed, GCounter, ReplicaId};
use starling_sync::{Config, Event, Node, Refusal, Stall};

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
/// One neighbour, 2 delta groups, 256-byte messages, `T` transfers each way.
type CounterNode<const T: usize> = Node<Counter, u8, 1, 2, 256, T>;
/// No transfer buffers: only messages of one frame.
type Unfragmented = CounterNode<0>;

fn node<const T: usize>(id: u64, config: Config, rng: &mut Rng) -> CounterNode<T> {
    CounterNode::<T>::new(ReplicaId(id), Counter::default(), config, 0, rng)
}

/// Runs `a` (address 0) and `b` (address 1) for `ms` milliseconds over a perfect link;
/// returns the events each raised.
fn run<const TA: usize, const TB: usize>(
    a: &mut CounterNode<TA>,
    b: &mut CounterNode<TB>,
    rng: &mut Rng,
    ms: u64,
    mtu: usize,
) -> (Vec<Event>, Vec<Event>) {
    let mut buf = vec![0u8; mtu];
    let (mut events_a, mut events_b) = (Vec::new(), Vec::new());
    for now in (0..ms).step_by(10) {
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now, rng);
        }
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now, rng);
        }
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            b.handle_datagram(now, 0, &buf[..t.len]);
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            a.handle_datagram(now, 1, &buf[..t.len]);
        }
        events_a.extend(std::iter::from_fn(|| a.poll_event()));
        events_b.extend(std::iter::from_fn(|| b.poll_event()));
    }
    (events_a, events_b)
}

/// A counter of 8 replicas whose counts need 5-byte varints: about 60 bytes, more than
/// a 48-byte frame carries.
fn large<const T: usize>(a: &mut CounterNode<T>) {
    for r in 1..=8 {
        a.update(|c| c.increment(ReplicaId(r), u64::from(u32::MAX) + r))
            .unwrap();
    }
}

fn refusals(events: &[Event]) -> (Vec<Refusal>, Vec<Refusal>) {
    let outgoing = events
        .iter()
        .filter_map(|e| match e {
            Event::OutgoingRefused { peer: _, refusal } => Some(*refusal),
            _ => None,
        })
        .collect();
    let incoming = events
        .iter()
        .filter_map(|e| match e {
            Event::IncomingRefused { peer: _, refusal } => Some(*refusal),
            _ => None,
        })
        .collect();
    (outgoing, incoming)
}

#[test]
fn whole_message_frames_need_no_transfer_buffers() {
    let mut rng = Rng(1);
    let mtu = 256 + 64;
    let mut a: Unfragmented = node(1, Config::new(mtu), &mut rng);
    let mut b: Unfragmented = node(2, Config::new(mtu), &mut rng);
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
    assert_eq!(
        a.metrics().transfers_started + b.metrics().transfers_started,
        0
    );
}

#[test]
fn without_transfer_buffers_a_message_of_many_frames_is_refused_and_reported() {
    let mut rng = Rng(2);
    let mtu = 48;
    let mut a: Unfragmented = node(1, Config::new(mtu), &mut rng);
    let mut b: Unfragmented = node(2, Config::new(mtu), &mut rng);
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    large(&mut a);
    let (events_a, _) = run(&mut a, &mut b, &mut rng, 2_000, mtu);
    assert_eq!(
        b.state().value(),
        0,
        "nothing larger than a frame got through"
    );
    assert!(a.metrics().drops.oversized > 0, "counted by the sender");
    let (outgoing, _) = refusals(&events_a);
    assert!(
        matches!(outgoing.first(), Some(Refusal::TooLarge { .. })),
        "reported to the sender's application: {events_a:?}"
    );
}

#[test]
fn with_transfer_buffers_a_message_of_many_frames_arrives() {
    let mut rng = Rng(3);
    let mtu = 48;
    let mut a: CounterNode<1> = node(1, Config::new(mtu), &mut rng);
    let mut b: CounterNode<1> = node(2, Config::new(mtu), &mut rng);
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    large(&mut a);
    let (events_a, events_b) = run(&mut a, &mut b, &mut rng, 2_000, mtu);
    assert_eq!(a.state(), b.state());
    assert!(a.metrics().transfers_delivered > 0);
    assert!(b.metrics().transfers_received > 0);
    // Nothing refused for its size or malformed (a catch-up answering a request twice
    // may arrive after the first one, and is dropped as replayed: harmless).
    for d in [a.metrics().drops, b.metrics().drops] {
        assert_eq!(d.oversized + d.malformed + d.busy + d.capacity, 0, "{d:?}");
    }
    assert_eq!(refusals(&events_a), (vec![], vec![]));
    assert_eq!(refusals(&events_b), (vec![], vec![]));
}

#[test]
fn a_transfer_the_receiver_cannot_take_is_reported_on_both_sides() {
    let mut rng = Rng(4);
    let mtu = 48;
    let mut a: CounterNode<1> = node(1, Config::new(mtu), &mut rng);
    let mut small = Config::new(mtu);
    small.max_message_bytes = 40;
    let mut b: CounterNode<1> = node(2, small, &mut rng);
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    large(&mut a);
    let (events_a, events_b) = run(&mut a, &mut b, &mut rng, 2_000, mtu);
    assert_eq!(b.state().value(), 0);
    let (outgoing, _) = refusals(&events_a);
    let (_, incoming) = refusals(&events_b);
    assert!(
        matches!(incoming.first(), Some(Refusal::TooLarge { limit: 40, .. })),
        "the receiver reports what it refused: {events_b:?}"
    );
    assert!(
        matches!(outgoing.first(), Some(Refusal::TooLarge { limit: 40, .. })),
        "the sender learns why: {events_a:?}"
    );
    assert!(a.metrics().transfers_refused > 0 && b.metrics().transfers_refused > 0);
}

#[test]
fn a_receiver_without_transfer_buffers_refuses_and_says_so() {
    let mut rng = Rng(5);
    let mtu = 48;
    let mut a: CounterNode<1> = node(1, Config::new(mtu), &mut rng);
    let mut b: Unfragmented = node(2, Config::new(mtu), &mut rng);
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    large(&mut a);
    let (events_a, events_b) = run(&mut a, &mut b, &mut rng, 2_000, mtu);
    assert_eq!(b.state().value(), 0);
    assert!(!refusals(&events_a).0.is_empty(), "{events_a:?}");
    assert!(!refusals(&events_b).1.is_empty(), "{events_b:?}");
}

#[test]
fn a_neighbour_that_stays_out_of_sync_is_reported_on_both_sides() {
    let mut rng = Rng(6);
    let mtu = 48;
    let mut config = Config::new(mtu);
    config.out_of_sync_after_rounds = 5;
    let mut a: CounterNode<1> = node(1, config, &mut rng);
    let mut small = config;
    small.max_message_bytes = 40;
    let mut b: CounterNode<1> = node(2, small, &mut rng);
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    large(&mut a);
    let (events_a, events_b) = run(&mut a, &mut b, &mut rng, 8_000, mtu);
    let stalls = |events: &[Event]| {
        events
            .iter()
            .filter_map(|e| match e {
                Event::OutOfSync { peer, stall } => Some((*peer, *stall)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    // Each side, once: `a` lacks `b`'s past (its digest, larger than `b` takes, never
    // gets an answer), `b` lacks `a`'s (its catch-up is refused).
    assert_eq!(
        stalls(&events_a),
        [(ReplicaId(2), Stall::CatchingUp)],
        "{events_a:?}"
    );
    assert_eq!(
        stalls(&events_b),
        [(ReplicaId(1), Stall::CatchingUp)],
        "{events_b:?}"
    );
    assert_eq!(a.metrics().out_of_sync, 1);
    // Two nodes that sync never report a stall.
    let mut c: CounterNode<1> = node(3, config, &mut rng);
    let mut d: CounterNode<1> = node(4, config, &mut rng);
    c.add_peer(1).unwrap();
    d.add_peer(0).unwrap();
    large(&mut c);
    let (events_c, events_d) = run(&mut c, &mut d, &mut rng, 8_000, mtu);
    assert!(stalls(&events_c).is_empty() && stalls(&events_d).is_empty());
}
