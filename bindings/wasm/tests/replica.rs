//! The JavaScript-facing `Replica`, run by wasm-bindgen-test in Node and in headless
//! Chromium (`cargo xtask wasm-test`): edits and reads of every kind, errors as
//! exceptions (never traps), sync between replicas, save/load, and the golden document
//! shared with the native test `tests/tests/wasm_interop.rs`.
#![cfg(target_arch = "wasm32")]

use js_sys::Array;
use starling_wasm::{Outgoing, Replica};
use wasm_bindgen::{JsError, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const SEED: [u8; 16] = [7; 16];
const T0: f64 = 1_700_000_000_000.0;

const COUNTER_ADD: u8 = 0;
const COUNTER_RESET: u8 = 1;
const FLAG_SET: u8 = 2;
const SET_ADD: u8 = 3;
const SET_REMOVE: u8 = 4;
const REGISTER_SET: u8 = 6;
const MAP_SET: u8 = 8;
const MAP_DELETE: u8 = 9;

fn ok<T>(result: Result<T, JsError>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("unexpected error: {}", message(e)),
    }
}

fn message(e: JsError) -> String {
    js_sys::Error::from(JsValue::from(e)).message().into()
}

fn err<T>(result: Result<T, JsError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => message(e),
    }
}

fn replica(id: f64) -> Replica {
    ok(Replica::new(id, &SEED, T0, 1200, 100))
}

fn undef() -> JsValue {
    JsValue::UNDEFINED
}

fn edit(r: &mut Replica, op: u8, name: &str, item: JsValue, value: JsValue, now: f64) {
    ok(r.edit(op, name, &item, &value, now));
}

fn strings(a: Array) -> Vec<String> {
    a.iter()
        .map(|v| v.as_string().unwrap_or_default())
        .collect()
}

#[wasm_bindgen_test]
fn every_kind_reads_back_what_was_written() {
    let mut r = replica(1.0);
    edit(&mut r, COUNTER_ADD, "clicks", undef(), 5.into(), T0);
    edit(&mut r, COUNTER_ADD, "clicks", undef(), (-2).into(), T0);
    assert_eq!(ok(r.get("counter", "clicks", &undef())).as_f64(), Some(3.0));
    edit(&mut r, COUNTER_RESET, "clicks", undef(), undef(), T0);
    assert_eq!(ok(r.get("counter", "clicks", &undef())).as_f64(), Some(0.0));

    edit(&mut r, FLAG_SET, "online", undef(), true.into(), T0);
    assert_eq!(ok(r.get("flag", "online", &undef())).as_bool(), Some(true));
    edit(&mut r, FLAG_SET, "online", undef(), false.into(), T0);
    assert_eq!(ok(r.get("flag", "online", &undef())).as_bool(), Some(false));

    edit(&mut r, SET_ADD, "tags", "red".into(), undef(), T0);
    edit(&mut r, SET_ADD, "tags", 3.into(), undef(), T0);
    edit(&mut r, SET_ADD, "tags", "blue".into(), undef(), T0);
    edit(&mut r, SET_REMOVE, "tags", "red".into(), undef(), T0);
    let values = ok(r.items("set", "tags"));
    assert_eq!(values.length(), 2);
    assert_eq!(values.get(0).as_f64(), Some(3.0));
    assert_eq!(values.get(1).as_string().as_deref(), Some("blue"));
    assert_eq!(ok(r.get("set", "tags", &3.into())).as_bool(), Some(true));
    assert_eq!(
        ok(r.get("set", "tags", &"red".into())).as_bool(),
        Some(false)
    );

    assert!(ok(r.get("register", "title", &undef())).is_undefined());
    edit(
        &mut r,
        REGISTER_SET,
        "title",
        undef(),
        "Groceries".into(),
        T0,
    );
    edit(
        &mut r,
        REGISTER_SET,
        "title",
        undef(),
        "Shopping".into(),
        T0,
    );
    assert_eq!(
        ok(r.get("register", "title", &undef()))
            .as_string()
            .as_deref(),
        Some("Shopping")
    );

    edit(&mut r, MAP_SET, "milk", "qty".into(), 2.into(), T0);
    edit(&mut r, MAP_SET, "milk", "done".into(), false.into(), T0);
    edit(&mut r, MAP_SET, "milk", "note".into(), JsValue::NULL, T0);
    assert_eq!(strings(ok(r.items("map", "milk"))), ["done", "note", "qty"]);
    assert!(ok(r.get("map", "milk", &"note".into())).is_null());
    edit(&mut r, MAP_DELETE, "milk", "note".into(), undef(), T0);
    assert!(ok(r.get("map", "milk", &"note".into())).is_undefined());

    assert_eq!(strings(ok(r.names("set"))), ["tags"]);
    assert_eq!(strings(ok(r.names("map"))), ["milk"]);
    assert_eq!(strings(ok(r.names("counter"))), Vec::<String>::new());
}

#[wasm_bindgen_test]
fn bad_input_throws_clear_errors_and_changes_nothing() {
    assert!(err(Replica::new(-1.0, &SEED, T0, 1200, 100)).contains("replica id"));
    assert!(err(Replica::new(0.5, &SEED, T0, 1200, 100)).contains("replica id"));
    assert!(err(Replica::new(1.0, &[1, 2, 3], T0, 1200, 100)).contains("seed"));
    assert!(err(Replica::new(1.0, &SEED, T0, 10, 100)).contains("mtu"));
    assert!(err(Replica::new(1.0, &SEED, T0, 1200, 0)).contains("syncIntervalMs"));
    assert!(err(Replica::new(1.0, &SEED, f64::NAN, 1200, 100)).contains("nowMs"));
    assert!(err(Replica::load(1.0, &[1, 2, 3], &SEED, T0, 1200, 100)).contains("not a saved"));
    assert!(err(Replica::load(1.0, &[], &SEED, T0, 1200, 100)).contains("not a saved"));

    let mut r = replica(1.0);
    let before = r.save();
    let object = JsValue::from(js_sys::Object::new());
    assert!(err(r.edit(SET_ADD, "s", &object, &undef(), T0)).contains("strings or finite numbers"));
    assert!(err(r.edit(SET_ADD, "s", &f64::NAN.into(), &undef(), T0)).contains("finite"));
    assert!(err(r.edit(REGISTER_SET, "r", &undef(), &object, T0)).contains("values must be"));
    assert!(err(r.edit(REGISTER_SET, "r", &undef(), &f64::INFINITY.into(), T0)).contains("finite"));
    assert!(err(r.edit(MAP_SET, "m", &5.into(), &1.into(), T0)).contains("map keys"));
    assert!(err(r.edit(COUNTER_ADD, "c", &undef(), &1.5.into(), T0)).contains("whole number"));
    assert!(err(r.edit(COUNTER_ADD, "c", &undef(), &"x".into(), T0)).contains("whole number"));
    assert!(err(r.edit(99, "c", &undef(), &undef(), T0)).contains("unknown edit"));
    assert!(err(r.get("table", "c", &undef())).contains("kind must be"));
    assert!(err(r.items("counter", "c")).contains("sets and maps"));
    assert_eq!(r.save(), before);
    edit(
        &mut r,
        COUNTER_ADD,
        "c",
        undef(),
        9_007_199_254_740_991_f64.into(),
        T0,
    );
    let at_max = r.save();
    assert!(err(r.edit(COUNTER_ADD, "c", &undef(), &1.into(), T0)).contains("MAX_SAFE_INTEGER"));
    assert_eq!(r.save(), at_max);

    // A document that grows past its limit refuses the edit that would overflow it.
    let long = "x".repeat(1 << 20);
    let mut refused = None;
    for i in 0..40 {
        let result = r.edit(
            MAP_SET,
            "big",
            &i.to_string().into(),
            &long.as_str().into(),
            T0,
        );
        if let Err(e) = result {
            refused = Some((i, message(e)));
            break;
        }
    }
    let (i, m) = refused.expect("the size limit refuses an edit");
    assert!(m.contains("size limit"), "{m}");
    assert!(i > 10, "refused after {i} writes of 1 MiB");
    assert!(r.save().len() <= starling_wasm::DOCUMENT_LIMIT);

    // Garbage frames are counted, not trapped on.
    assert!(!ok(r.receive(&[], T0, 1)));
    assert!(!ok(r.receive(&[0xff; 64], T0, 1)));
    assert!(!ok(r.receive(&before, T0, 1)));
    assert!(r.frames_dropped() >= 3.0);
    assert!(err(r.receive(&[1], -5.0, 1)).contains("nowMs"));
}

/// xorshift64*: reproducible noise for the robustness test.
fn noise(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[wasm_bindgen_test]
fn random_and_mutated_bytes_never_trap() {
    let mut a = replica(1.0);
    let mut b = replica(2.0);
    ok(a.add_peer(2));
    edit(&mut a, MAP_SET, "m", "k".into(), "v".into(), T0);
    // Real frames to mutate.
    let mut frames = Vec::new();
    let mut now = T0;
    while frames.len() < 8 && now < T0 + 10_000.0 {
        while let Some(out) = ok(a.poll(now)) {
            frames.push(out.bytes());
        }
        now += 100.0;
    }
    assert!(!frames.is_empty());
    let saved = a.save();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..3_000 {
        let mut bytes = if i % 3 == 0 {
            saved.clone()
        } else {
            frames[i % frames.len()].clone()
        };
        if i % 5 == 4 {
            let len = (noise(&mut state) % 300) as usize;
            bytes = (0..len).map(|_| noise(&mut state) as u8).collect();
        } else {
            for _ in 0..1 + noise(&mut state) % 4 {
                let at = (noise(&mut state) as usize) % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << (noise(&mut state) % 8);
                }
            }
            if noise(&mut state).is_multiple_of(4) {
                bytes.truncate((noise(&mut state) as usize) % (bytes.len() + 1));
            }
        }
        let _ = ok(b.receive(&bytes, now, 1));
        let _ = Replica::load(3.0, &bytes, &SEED, T0, 1200, 100);
    }
    // Still working.
    edit(&mut b, COUNTER_ADD, "c", undef(), 1.into(), now);
    assert_eq!(ok(b.get("counter", "c", &undef())).as_f64(), Some(1.0));
}

/// Delivers every frame between two replicas until both are quiet, advancing time.
fn sync_pair(a: &mut Replica, b: &mut Replica, start: f64) -> f64 {
    let mut now = start;
    for _ in 0..400 {
        let mut moved = false;
        for (from, to, link) in [(0, 1, 1u32), (1, 0, 2u32)] {
            let (src, dst) = if from == 0 {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            while let Some(out) = ok(src.poll(now)) {
                let out: Outgoing = out;
                // Link 1 at b is a, link 2 at a is b.
                assert_eq!(out.to(), if to == 1 { 2 } else { 1 });
                ok(dst.receive(&out.bytes(), now, link));
                moved = true;
            }
        }
        if !moved && a.save() == b.save() && now > start + 2_000.0 {
            break;
        }
        now += 50.0;
    }
    now
}

#[wasm_bindgen_test]
fn two_replicas_converge_through_frames_after_concurrent_edits() {
    let mut a = replica(1.0);
    let mut b = replica(2.0);
    ok(a.add_peer(2));
    ok(b.add_peer(1));
    edit(&mut a, SET_ADD, "items", "milk".into(), undef(), T0);
    edit(&mut b, SET_ADD, "items", "eggs".into(), undef(), T0);
    edit(&mut a, COUNTER_ADD, "votes", undef(), 2.into(), T0);
    edit(&mut b, COUNTER_ADD, "votes", undef(), 3.into(), T0);
    edit(&mut a, REGISTER_SET, "title", undef(), "A".into(), T0 + 1.0);
    edit(&mut b, REGISTER_SET, "title", undef(), "B".into(), T0 + 2.0);
    let now = sync_pair(&mut a, &mut b, T0);
    assert_eq!(a.save(), b.save());
    assert_eq!(ok(a.get("counter", "votes", &undef())).as_f64(), Some(5.0));
    assert_eq!(ok(b.items("set", "items")).length(), 2);
    assert_eq!(
        ok(a.get("register", "title", &undef()))
            .as_string()
            .as_deref(),
        Some("B")
    );
    assert_eq!(a.peers_alive(), 1);

    // Concurrent remove and add: the add wins.
    edit(&mut a, SET_REMOVE, "items", "milk".into(), undef(), now);
    edit(&mut b, SET_ADD, "items", "milk".into(), undef(), now);
    sync_pair(&mut a, &mut b, now);
    assert_eq!(a.save(), b.save());
    assert_eq!(
        ok(a.get("set", "items", &"milk".into())).as_bool(),
        Some(true)
    );
}

#[wasm_bindgen_test]
fn a_loaded_replica_keeps_the_document_and_catches_up() {
    let mut a = replica(1.0);
    edit(&mut a, MAP_SET, "milk", "qty".into(), 2.into(), T0);
    let saved = a.save();
    let mut b = ok(Replica::load(2.0, &saved, &SEED, T0, 1200, 100));
    assert_eq!(b.save(), saved);
    // Later writes of the loaded replica win over what it loaded (its clock moved past).
    edit(
        &mut b,
        MAP_SET,
        "milk",
        "qty".into(),
        3.into(),
        T0 - 10_000.0,
    );
    assert_eq!(ok(b.get("map", "milk", &"qty".into())).as_f64(), Some(3.0));
    ok(a.add_peer(2));
    ok(b.add_peer(1));
    sync_pair(&mut a, &mut b, T0);
    assert_eq!(ok(a.get("map", "milk", &"qty".into())).as_f64(), Some(3.0));
}

/// The golden document, as hex (shared with the native test).
const GOLDEN: &str = include_str!("../../../tests/vectors/wasm-document.hex");

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap_or("zz"), 16).unwrap_or(0))
        .collect()
}

/// The golden script, through the JavaScript-facing API (see `wasm_interop.rs`).
fn golden_replica() -> Replica {
    let mut r = ok(Replica::new(7.0, &SEED, 1_000.0, 1200, 100));
    edit(&mut r, COUNTER_ADD, "clicks", undef(), 5.into(), 1_000.0);
    edit(&mut r, COUNTER_ADD, "clicks", undef(), (-2).into(), 1_000.0);
    edit(&mut r, FLAG_SET, "online", undef(), true.into(), 1_001.0);
    edit(&mut r, SET_ADD, "tags", "red".into(), undef(), 1_002.0);
    edit(&mut r, SET_ADD, "tags", 3.into(), undef(), 1_002.0);
    edit(&mut r, SET_REMOVE, "tags", "red".into(), undef(), 1_003.0);
    edit(
        &mut r,
        REGISTER_SET,
        "title",
        undef(),
        "Groceries".into(),
        1_004.0,
    );
    edit(&mut r, MAP_SET, "milk", "qty".into(), 2.into(), 1_005.0);
    edit(
        &mut r,
        MAP_SET,
        "milk",
        "done".into(),
        false.into(),
        1_005.0,
    );
    r
}

#[wasm_bindgen_test]
fn golden_document_bytes_match_the_native_ones_both_ways() {
    let golden = unhex(GOLDEN);
    assert!(!golden.is_empty());
    // wasm -> native: the bytes this replica saves are the checked-in ones, which the
    // native test decodes.
    assert_eq!(golden_replica().save(), golden);
    // native -> wasm: the checked-in bytes (which the native test produces) load here.
    let r = ok(Replica::load(8.0, &golden, &SEED, T0, 1200, 100));
    assert_eq!(ok(r.get("counter", "clicks", &undef())).as_f64(), Some(3.0));
    assert_eq!(ok(r.get("flag", "online", &undef())).as_bool(), Some(true));
    let tags = ok(r.items("set", "tags"));
    assert_eq!(tags.length(), 1);
    assert_eq!(tags.get(0).as_f64(), Some(3.0));
    assert_eq!(
        ok(r.get("register", "title", &undef()))
            .as_string()
            .as_deref(),
        Some("Groceries")
    );
    assert_eq!(ok(r.get("map", "milk", &"qty".into())).as_f64(), Some(2.0));
    assert_eq!(
        ok(r.get("map", "milk", &"done".into())).as_bool(),
        Some(false)
    );
}

/// The sync exchange shared with `tests/tests/wasm_interop.rs`, as
/// `t=<ms> <from>><to> <hex>` lines.
const FRAMES: &str = include_str!("../../../tests/vectors/wasm-frames.txt");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[wasm_bindgen_test]
fn frames_between_replicas_match_the_native_ones() {
    let t0 = T0;
    let mut a = ok(Replica::new(7.0, &[7; 16], t0, 1200, 100));
    let mut b = ok(Replica::new(8.0, &[8; 16], t0, 1200, 100));
    ok(a.add_peer(2));
    ok(b.add_peer(1));
    edit(&mut a, MAP_SET, "milk", "qty".into(), 2.into(), t0);
    edit(&mut b, SET_ADD, "items", "eggs".into(), undef(), t0);
    edit(&mut a, COUNTER_ADD, "votes", undef(), 3.into(), t0);
    let mut lines = Vec::new();
    for step in 0..=40 {
        let now = t0 + f64::from(step) * 50.0;
        let t = f64::from(step) * 50.0;
        while let Some(f) = ok(a.poll(now)) {
            lines.push(format!("t={t} a>b {}", hex(&f.bytes())));
            ok(b.receive(&f.bytes(), now, 1));
        }
        while let Some(f) = ok(b.poll(now)) {
            lines.push(format!("t={t} b>a {}", hex(&f.bytes())));
            ok(a.receive(&f.bytes(), now, 2));
        }
    }
    assert_eq!(a.save(), b.save());
    let golden: Vec<&str> = FRAMES.lines().collect();
    assert_eq!(lines, golden, "wasm frames differ from the native ones");
}
