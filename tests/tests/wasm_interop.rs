//! Wire compatibility between the browser package and native Rust: the golden document
//! `tests/vectors/wasm-document.hex` is what a replica in WebAssembly saves after a fixed
//! script of edits (checked by `bindings/wasm/tests/replica.rs` under wasm-bindgen-test,
//! in Node and Chromium). Here a native replica produces the same bytes from the same
//! script, decodes them, and syncs them to another native replica.
//!
//! Regenerate (only when the document format changes on purpose):
//! `STARLING_BLESS_VECTORS=1 cargo test -p starling-tests --test wasm_interop`.

use starling_core::{HybridClock, Lattice, ReplicaId, WireFormat};
use starling_wasm::document::{Document, Element, Number, Value, edit, read};

const VECTOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/wasm-document.hex");

fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.chunks(32) {
        for b in line {
            out.push_str(&format!("{b:02x}"));
        }
        out.push('\n');
    }
    out
}

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// The script of `golden_replica` in `bindings/wasm/tests/replica.rs`: replica 7, one
/// hybrid-clock tick per edit at the given wall time.
fn golden_document() -> Document {
    let r = ReplicaId(7);
    let mut clock = HybridClock::new();
    let mut doc = Document::default();
    let d = &mut doc;
    let stamp = clock.now(1_000);
    edit::counter_add(d, r, stamp, "clicks", 5)
        .unwrap()
        .unwrap();
    let stamp = clock.now(1_000);
    edit::counter_add(d, r, stamp, "clicks", -2)
        .unwrap()
        .unwrap();
    let stamp = clock.now(1_001);
    edit::flag_set(d, r, stamp, "online", true).unwrap();
    let stamp = clock.now(1_002);
    edit::set_add(d, r, stamp, "tags", Element::Text("red".into())).unwrap();
    let stamp = clock.now(1_002);
    let three = Element::Number(Number::new(3.0).unwrap());
    edit::set_add(d, r, stamp, "tags", three).unwrap();
    clock.now(1_003);
    edit::set_remove(d, "tags", Element::Text("red".into())).unwrap();
    let stamp = clock.now(1_004);
    edit::register_set(d, r, stamp, "title", Value::Text("Groceries".into())).unwrap();
    let stamp = clock.now(1_005);
    edit::map_set(d, r, stamp, "milk", "qty", Value::Number(2.0)).unwrap();
    let stamp = clock.now(1_005);
    edit::map_set(d, r, stamp, "milk", "done", Value::Bool(false)).unwrap();
    doc
}

fn check_golden_reads(doc: &Document) {
    assert_eq!(read::counter(doc, "clicks"), 3);
    assert!(read::flag(doc, "online"));
    let tags: Vec<&Element> = read::set(doc, "tags").collect();
    assert_eq!(tags, [&Element::Number(Number::new(3.0).unwrap())]);
    assert_eq!(
        read::register(doc, "title"),
        Some(&Value::Text("Groceries".into()))
    );
    let milk: Vec<(&str, &Value)> = read::map(doc, "milk").collect();
    assert_eq!(
        milk,
        [("done", &Value::Bool(false)), ("qty", &Value::Number(2.0))]
    );
}

#[test]
fn native_replica_produces_and_reads_the_golden_document() {
    let ours = golden_document().to_vec();
    if std::env::var_os("STARLING_BLESS_VECTORS").is_some() {
        std::fs::write(VECTOR, hex(&ours)).unwrap();
    }
    let golden = unhex(&std::fs::read_to_string(VECTOR).unwrap());
    assert_eq!(
        hex(&ours),
        hex(&golden),
        "the native encoding differs from the golden bytes"
    );
    let decoded = Document::from_bytes(&golden, 1 << 20).unwrap();
    check_golden_reads(&decoded);
    assert_eq!(decoded, golden_document());
}

#[test]
fn golden_document_joins_with_native_edits() {
    let golden =
        Document::from_bytes(&unhex(&std::fs::read_to_string(VECTOR).unwrap()), 1 << 20).unwrap();
    // A native replica that never saw the script adds to the counter and the set, then
    // merges the golden state: both contributions count.
    let mut native = Document::default();
    let mut clock = HybridClock::new();
    let stamp = clock.now(2_000);
    edit::counter_add(&mut native, ReplicaId(9), stamp, "clicks", 10)
        .unwrap()
        .unwrap();
    native.join(&golden).unwrap();
    assert_eq!(read::counter(&native, "clicks"), 13);
    // Truncated or trailing bytes are refused with an error, never a panic.
    let bytes = golden.to_vec();
    assert!(Document::from_bytes(&bytes[..bytes.len() - 1], 1 << 20).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Document::from_bytes(&longer, 1 << 20).is_err());
}

// ---- sync frames -------------------------------------------------------------------------

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro128PlusPlus;
use starling_sync::{Config, Event};
use starling_wasm::SyncNode;

const FRAMES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/wasm-frames.txt");
const T0: u64 = 1_700_000_000_000;

/// A native replica driven exactly as the wasm `Replica` drives its node (see
/// `bindings/wasm/src/bindings.rs`): same config, seed, clock and poll.
struct Native {
    node: SyncNode,
    rng: Xoshiro128PlusPlus,
    clock: HybridClock,
}

impl Native {
    fn new(id: u64, seed: u8) -> Self {
        let mut config = Config::new(1200);
        config.sync_interval_ms = 100;
        let mut rng = Xoshiro128PlusPlus::from_seed([seed; 16]);
        let node = SyncNode::new(ReplicaId(id), Document::default(), config, T0, &mut rng);
        Native {
            node,
            rng,
            clock: HybridClock::new(),
        }
    }
    fn edit(
        &mut self,
        now: u64,
        f: impl FnOnce(&mut Document, ReplicaId, starling_core::HlcTimestamp) -> Document,
    ) {
        let stamp = self.clock.now(now);
        let id = self.node.id();
        self.node.update(|doc| Ok(f(doc, id, stamp))).unwrap();
    }
    fn poll(&mut self, now: u64) -> Option<Vec<u8>> {
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now, &mut self.rng);
        }
        let mut buf = [0u8; 1200];
        let t = self.node.poll_transmit(now, &mut buf)?;
        Some(buf[..t.len].to_vec())
    }
    fn receive(&mut self, now: u64, from: u32, bytes: &[u8]) {
        self.node.handle_datagram(now, from, bytes);
        while let Some(e) = self.node.poll_event() {
            let _: Event = e;
        }
    }
}

/// The exchange of `frames_between_replicas` in `bindings/wasm/tests/replica.rs`: two
/// replicas (7 and 8, seeds 7s and 8s), three edits, two seconds of sync in 50 ms steps.
/// Returns the frames as `t=<ms> <from>><to> <hex>` lines.
fn native_exchange() -> (Vec<String>, Native, Native) {
    let mut a = Native::new(7, 7);
    let mut b = Native::new(8, 8);
    a.node.add_peer(2).unwrap();
    b.node.add_peer(1).unwrap();
    a.edit(T0, |d, r, s| {
        edit::map_set(d, r, s, "milk", "qty", Value::Number(2.0)).unwrap()
    });
    b.edit(T0, |d, r, s| {
        edit::set_add(d, r, s, "items", Element::Text("eggs".into())).unwrap()
    });
    a.edit(T0, |d, r, s| {
        edit::counter_add(d, r, s, "votes", 3).unwrap().unwrap()
    });
    let mut lines = Vec::new();
    for step in 0..=40 {
        let now = T0 + step * 50;
        while let Some(f) = a.poll(now) {
            lines.push(format!("t={} a>b {}", now - T0, hex(&f).replace('\n', "")));
            b.receive(now, 1, &f);
        }
        while let Some(f) = b.poll(now) {
            lines.push(format!("t={} b>a {}", now - T0, hex(&f).replace('\n', "")));
            a.receive(now, 2, &f);
        }
    }
    (lines, a, b)
}

#[test]
fn native_nodes_send_the_frames_the_wasm_nodes_send() {
    let (lines, a, b) = native_exchange();
    assert_eq!(a.node.state(), b.node.state(), "the exchange converges");
    assert_eq!(read::counter(a.node.state(), "votes"), 3);
    if std::env::var_os("STARLING_BLESS_VECTORS").is_some() {
        std::fs::write(FRAMES, lines.join("\n") + "\n").unwrap();
    }
    let golden = std::fs::read_to_string(FRAMES).unwrap();
    let golden: Vec<&str> = golden.lines().collect();
    assert!(golden.len() > 4, "a real exchange has several frames");
    assert_eq!(lines, golden, "native frames differ from the wasm ones");
}

#[test]
fn a_native_node_accepts_the_frames_of_the_wasm_node() {
    // Replay only what the wasm replica 7 sent, into a fresh native replica 8 that made
    // the same edit: it ends with replica 7's edits.
    let golden = std::fs::read_to_string(FRAMES).unwrap();
    let mut b = Native::new(8, 8);
    b.node.add_peer(1).unwrap();
    b.edit(T0, |d, r, s| {
        edit::set_add(d, r, s, "items", Element::Text("eggs".into())).unwrap()
    });
    for line in golden.lines() {
        let mut parts = line.split(' ');
        let t: u64 = parts.next().unwrap()[2..].parse().unwrap();
        let dir = parts.next().unwrap();
        let bytes = unhex(parts.next().unwrap());
        if dir == "a>b" {
            b.receive(T0 + t, 1, &bytes);
        }
    }
    let doc = b.node.state();
    assert_eq!(read::counter(doc, "votes"), 3);
    let milk: Vec<(&str, &Value)> = read::map(doc, "milk").collect();
    assert_eq!(milk, [("qty", &Value::Number(2.0))]);
    assert_eq!(b.node.metrics().drops.total(), 0);
}
