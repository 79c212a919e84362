//! `cargo xtask bench`, memory half: heap bytes per live element of a 10,000-element set
//! in Starling (growable), crdts and Automerge, counted by a counting global allocator
//! (`stats_alloc`), and the exact size of Starling's fixed-capacity form.

use std::alloc::System;
use std::mem::size_of;
use std::process::ExitCode;

use automerge::{AutoCommit, ROOT, ReadDoc};
use crdts::Orswot;
use starling_bench::memory::{self, ELEMENTS, REPLICAS};
use starling_bench::report::{fmt_ratio, plain_table, thousands};
use starling_core::{AwSet, Fixed, Growable, WireFormat};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SEED: u64 = 0x4EA9;

/// The fixed-capacity form: room for the 10,000 elements, and `R = 8` replicas (the
/// version vector's entries and each element's concurrent adders).
type FixedSet = AwSet<u64, Fixed<10_000, 8>>;
const _: () = assert!(ELEMENTS == 10_000 && REPLICAS == 8);

/// Net heap bytes held after `build` returns, and what it built.
fn heap_of<T>(build: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let value = build();
    let s = region.change();
    let net = s.bytes_allocated as isize + s.bytes_reallocated - s.bytes_deallocated as isize;
    (value, net.max(0) as usize)
}

fn main() -> ExitCode {
    let adds = memory::adds(SEED);

    let (starling, s_built) = heap_of(|| memory::starling(&adds));
    assert_eq!(starling.len(), ELEMENTS);
    let s_bytes = starling.to_vec();
    let (decoded, s_decoded) =
        heap_of(|| AwSet::<u64, Growable>::from_bytes(&s_bytes, usize::MAX).expect("decodes"));
    assert_eq!(decoded, starling);
    drop(decoded);

    let (crdts, c_built) = heap_of(|| memory::crdts(&adds));
    assert_eq!(crdts.iter().count(), ELEMENTS);
    let c_bytes = postcard::to_allocvec(&crdts).expect("encodes");
    let (c_copy, c_decoded) =
        heap_of(|| postcard::from_bytes::<Orswot<u64, u64>>(&c_bytes).expect("decodes"));
    assert!(c_copy == crdts);
    drop((crdts, c_copy));

    let (mut am, a_built) = heap_of(|| memory::automerge(&adds));
    let a_bytes = am.save();
    drop(am);
    let (loaded, a_decoded) = heap_of(|| AutoCommit::load(&a_bytes).expect("loads"));
    assert_eq!(loaded.length(ROOT), ELEMENTS);
    drop(loaded);

    // The fixed form must hold the same set: decode the growable form's bytes into it
    // (on a thread with room for a value this large on its stack).
    let fixed_size = size_of::<FixedSet>();
    let fixed_bytes = s_bytes.clone();
    let decoded_len = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let fixed = Box::new(FixedSet::from_bytes(&fixed_bytes, usize::MAX).expect("fits"));
            fixed.len()
        })
        .expect("thread")
        .join()
        .expect("decodes");
    assert_eq!(decoded_len, ELEMENTS);

    let per = |n: usize| n as f64 / ELEMENTS as f64;
    let row = |label: &str, s: usize, c: usize, a: usize| {
        vec![
            label.to_string(),
            format!("{:.1}", per(s)),
            format!("{:.1}", per(c)),
            format!("{:.1}", per(a)),
            fmt_ratio(per(s), per(c)),
            fmt_ratio(per(s), per(a)),
        ]
    };
    let rows = vec![
        row(
            "heap bytes per live element, built by the adds",
            s_built,
            c_built,
            a_built,
        ),
        row(
            "heap bytes per live element, decoded (Automerge: loaded) from its encoding",
            s_decoded,
            c_decoded,
            a_decoded,
        ),
        row(
            "encoded bytes per live element",
            s_bytes.len(),
            c_bytes.len(),
            a_bytes.len(),
        ),
    ];
    print!(
        "{}",
        plain_table(
            &format!(
                "Memory: a {}-element set (distinct random u64 in 0..50,000, added by {REPLICAS} replicas in turn, one state)",
                thousands(ELEMENTS as u64)
            ),
            &[
                "metric",
                "Starling (Growable)",
                "crdts 7.3",
                "Automerge 0.12",
                "Starling / crdts",
                "Starling / Automerge",
            ],
            &rows,
            &[
                "Heap bytes: the net bytes the global allocator (`stats_alloc`, counting) holds for the state once built, divided by the element count. Automerge's figures include the history it keeps (one change per add). Encoded: Starling's wire format (version byte + postcard), crdts in postcard, Automerge's `save()`.".into(),
                format!(
                    "Fixed-capacity form, `AwSet<u64, Fixed<10_000, {REPLICAS}>>` (room for {n} elements, each with up to {REPLICAS} concurrent adders, and {REPLICAS} replicas in the version vector): `size_of` = {} bytes, {:.1} bytes per element of capacity, no heap. The growable set's encoding decodes into it with all {n} elements.",
                    thousands(fixed_size as u64),
                    fixed_size as f64 / ELEMENTS as f64,
                    n = thousands(ELEMENTS as u64),
                ),
            ],
        )
    );
    println!();
    let (built, loaded) = (per(s_built), per(s_decoded));
    println!(
        "- at most 48 heap bytes per live element (growable): {built:.1} built by adds — {}; {loaded:.1} decoded — {}",
        met(built <= 48.0),
        met(loaded <= 48.0)
    );
    println!();
    ExitCode::SUCCESS
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}
