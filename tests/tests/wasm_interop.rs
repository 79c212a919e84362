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
