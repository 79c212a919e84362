//! Hostile and extreme input (issue "Hostile and extreme input"): regressions of what a
//! coverage-guided fuzzer and hand-built values found, each failing on main at 35210d0.
//!
//! * A context range ending at `u64::MAX` made `CausalContext::difference` spin forever,
//!   and with it redundancy removal, catch-up computation and so `Node::handle_datagram`:
//!   [`difference_of_a_range_ending_at_max_terminates`] and the tests after it.
//! * Decoders accepted one dot live under two elements or keys, an impossible state whose
//!   joins depend on their order: [`decoders_refuse_a_dot_live_twice`].
//!
//! A test that would hang runs its body on a watchdog thread and fails after a deadline.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use starling_core::{
    AwSet, CausalContext, Compact, DecodeError, Dot, Fixed, Growable, Lattice, MvRegister, OrMap,
    Reconcile, ReplicaId, Storage, WireFormat,
};
use starling_sync::{Config, Node};
use starling_tests::netsim::wire::{self, CatchUpMsg, DigestMsg, FrameKind, Header};

/// How long a body that must return may run (a debug build on a loaded 2-core machine
/// takes well under a second for each of them).
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `body` on its own thread and fails the test if it has not returned by the
/// deadline (the spinning thread is left behind; the test process ends anyway).
fn must_return<R: Send + 'static>(what: &str, body: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not return within {DEADLINE:?} (hang)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

const R1: ReplicaId = ReplicaId(1);

// ---- one message hangs a node: ranges ending at u64::MAX -------------------------------

fn difference_at_max<S: Storage>() {
    let mut a = CausalContext::<S>::new();
    a.insert(Dot::new(R1, u64::MAX)).unwrap();
    let d = a.difference(&CausalContext::new()).unwrap();
    assert!(d.contains(Dot::new(R1, u64::MAX)));
    assert_eq!(d.dot_count(), 1);

    // A vector entry at MAX against contexts that have seen parts of it.
    let mut full = CausalContext::<S>::new();
    full.insert_range(R1, 1, u64::MAX).unwrap();
    let mut parts = CausalContext::<S>::new();
    parts.insert_range(R1, 1, 10).unwrap();
    parts.insert_range(R1, 20, 30).unwrap();
    parts.insert_range(R1, u64::MAX - 3, u64::MAX - 1).unwrap();
    let d = full.difference(&parts).unwrap();
    for c in [11, 19, 31, u64::MAX - 4, u64::MAX] {
        assert!(d.contains(Dot::new(R1, c)), "{c} is not in the subtrahend");
    }
    for c in [1, 10, 20, 30, u64::MAX - 3, u64::MAX - 1] {
        assert!(!d.contains(Dot::new(R1, c)), "{c} is in the subtrahend");
    }
    // Difference laws: d ⊆ full, d ∩ parts = ∅, d ∪ parts = full.
    let mut union = d.clone();
    union.join(&parts).unwrap();
    assert_eq!(union, full);
    let empty = parts.difference(&full).unwrap();
    assert!(empty.is_empty());
}

#[test]
fn difference_of_a_range_ending_at_max_terminates() {
    // Fixed needs room for the few cloud ranges of the test.
    must_return("difference, Fixed", difference_at_max::<Fixed<8, 4>>);
    must_return("difference, Growable", difference_at_max::<Growable>);
    must_return("difference, Compact", difference_at_max::<Compact>);
}

/// The state bytes of the issue: an empty `AwSet` whose context has seen `{r1: u64::MAX}`.
const CONTEXT_AT_MAX: &str = "01 00 01 01 ffffffffffffffffff01 00";

fn state_at_max<S: Storage>() -> AwSet<u64, S> {
    let bytes = unhex(&CONTEXT_AT_MAX.replace(' ', ""));
    AwSet::<u64, S>::from_bytes(&bytes, 64)
        .expect("a context that has seen every dot of r1 is valid")
}

fn novel_part_and_missing_for_at_max<S: Storage>() {
    let hostile = state_at_max::<S>();
    let novel = AwSet::<u64, S>::default().novel_part(&hostile).unwrap();
    let mut joined = AwSet::<u64, S>::default();
    joined.join(&novel).unwrap();
    let mut direct = AwSet::<u64, S>::default();
    direct.join(&hostile).unwrap();
    assert_eq!(
        joined, direct,
        "joining the novel part must equal joining the delta"
    );

    // The other direction: a catch-up for a peer that has seen nothing, and for a peer
    // whose digest is the hostile state's.
    let mut mine = AwSet::<u64, S>::default();
    mine.add(ReplicaId(2), 5).unwrap();
    hostile.missing_for(&mine.digest().unwrap()).unwrap();
    let catch_up = mine.missing_for(&hostile.digest().unwrap()).unwrap();
    assert!(catch_up.contains(&5), "the hostile peer lacks element 5");
}

#[test]
fn novel_part_and_missing_for_of_a_context_at_max_terminate() {
    must_return(
        "reconcile, Fixed",
        novel_part_and_missing_for_at_max::<Fixed<8, 4>>,
    );
    must_return(
        "reconcile, Growable",
        novel_part_and_missing_for_at_max::<Growable>,
    );
    must_return(
        "reconcile, Compact",
        novel_part_and_missing_for_at_max::<Compact>,
    );
}

type Set = AwSet<u64, Growable>;

/// Runs two nodes, `a` fresh and `b` holding `b_state`, for `ms` of virtual time, frames
/// delivered at once; returns `a`'s state.
fn run_pair(b_state: Set, ms: u64) -> Set {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let config = Config::new(1200);
    let mut a: Node<Set, usize> = Node::new(ReplicaId(10), Set::default(), config, 0, &mut rng);
    let mut b: Node<Set, usize> = Node::new(ReplicaId(20), b_state, config, 0, &mut rng);
    a.add_peer(1).unwrap();
    b.add_peer(0).unwrap();
    let mut buf = vec![0u8; config.mtu];
    let mut now = 0;
    while now <= ms {
        a.handle_timeout(now, &mut rng);
        b.handle_timeout(now, &mut rng);
        // Bounded: a node sends a bounded number of frames per instant.
        for _ in 0..64 {
            let mut moved = false;
            while let Some(t) = a.poll_transmit(now, &mut buf) {
                b.handle_datagram(now, 0, &buf[..t.len]);
                moved = true;
            }
            while let Some(t) = b.poll_transmit(now, &mut buf) {
                a.handle_datagram(now, 1, &buf[..t.len]);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        now += 10;
    }
    a.state().clone()
}

#[test]
fn neighbour_state_with_a_context_at_max_does_not_hang_the_receiver() {
    let hostile = state_at_max::<Growable>();
    let expected = hostile.clone();
    let got = must_return("a node syncing with a neighbour at MAX", move || {
        run_pair(hostile, 5_000)
    });
    assert_eq!(got, expected, "the receiver joins the neighbour's state");
}

/// Forged one-frame messages from a configured neighbour: a heartbeat (the node
/// answers with a digest, asking for a catch-up), then the catch-up it asked for carrying
/// the state at MAX, on which the node runs redundancy removal.
#[test]
fn forged_catch_up_with_a_context_at_max_does_not_hang_handle_datagram() {
    let hostile = state_at_max::<Growable>();
    let header = |kind| Header {
        kind,
        from: ReplicaId(20),
        incarnation: 5,
        to_incarnation: 0,
        ack: 0,
        pull: false,
        chunk: None,
    };
    let state = must_return("handle_datagram of a forged catch-up", move || {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let config = Config::new(1200);
        let mut node: Node<Set, usize> =
            Node::new(ReplicaId(10), Set::default(), config, 0, &mut rng);
        node.add_peer(1).unwrap();
        let mut buf = vec![0u8; config.mtu];
        node.handle_datagram(0, 1, &wire::encode(&header(FrameKind::Heartbeat), &[]));
        let mut nonce = None;
        while let Some(t) = node.poll_transmit(0, &mut buf) {
            let (h, body) = wire::decode(&buf[..t.len]).expect("a well-formed frame");
            if h.kind == FrameKind::Digest {
                let m: DigestMsg<<Set as Reconcile>::Digest> = postcard::from_bytes(body).unwrap();
                nonce = Some(m.nonce);
            }
        }
        let nonce = nonce.expect("the node asks for a catch-up");
        let catch_up = postcard::to_allocvec(&CatchUpMsg {
            nonce,
            seq: 1,
            delta: hostile,
        })
        .unwrap();
        node.handle_datagram(1, 1, &wire::encode(&header(FrameKind::CatchUp), &catch_up));
        node.state().clone()
    });
    assert!(
        state.context().contains(Dot::new(R1, u64::MAX)),
        "the catch-up was joined"
    );
}

// ---- impossible states: one dot live twice ---------------------------------------------

fn decoders_refuse_a_dot_live_twice_in<S: Storage>() {
    // The fuzzer's input: an AwSet with dot (2, 1) under elements 7 and 32767.
    let aw_set = unhex("010207010201ffff0101020101020100");
    assert_eq!(
        AwSet::<u64, S>::from_bytes(&aw_set, 64),
        Err(DecodeError::Invalid)
    );
    // (The other two inputs decode to valid states of the AwSet and map types
    // here; the divergence they lead to needs a second state holding one of their dots
    // with another payload, an equivocation covered with the other hostile pairs.)

    // Hand-built: the same dot under two keys of a map of registers, and two levels deep.
    let mut a = OrMap::<u8, MvRegister<u32, S>, S>::default();
    let d1 = a.update(&1, |v, cx| v.write_delta(cx, R1, 10)).unwrap();
    let mut bytes = d1.to_vec();
    // A valid single-key state decodes; its twin with the key duplicated must not.
    assert!(OrMap::<u8, MvRegister<u32, S>, S>::from_bytes(&bytes, 64).is_ok());
    // Layout: version, store len 1, key 1, register store (len 1, dot (1, 1), value 10),
    // then the context. Duplicate the entry under key 2.
    assert_eq!(&bytes[..7], &[1, 1, 1, 1, 1, 1, 10], "layout of {bytes:?}");
    let entry = bytes[3..7].to_vec();
    bytes[1] = 2;
    let mut twin = bytes[..7].to_vec();
    twin.push(2);
    twin.extend(&entry);
    twin.extend(&bytes[7..]);
    assert_eq!(
        OrMap::<u8, MvRegister<u32, S>, S>::from_bytes(&twin, 64).err(),
        Some(DecodeError::Invalid),
        "one dot under keys 1 and 2: {twin:?}"
    );
}

#[test]
fn decoders_refuse_a_dot_live_twice() {
    decoders_refuse_a_dot_live_twice_in::<Fixed<8, 4>>();
    decoders_refuse_a_dot_live_twice_in::<Growable>();
    decoders_refuse_a_dot_live_twice_in::<Compact>();
}
