//! Decoder robustness: every type, in every storage mode (`Fixed<8, 4>`, `Growable`,
//! `Compact`),
//! takes untrusted bytes through `T::from_bytes(bytes, 4096)` without panicking.
//!
//! Each fuzz test (`<type>::fuzz_fixed`, `<type>::fuzz_growable`, `<type>::fuzz_compact`)
//! feeds 200,000 byte
//! strings, half uniformly random and half mutations of valid encodings of states reached
//! by random multi-replica histories, plus 20,000 random strings over a small alphabet that
//! parse more often. When a decode succeeds, the value must round-trip through its own
//! encoding, and joining it with valid states (both ways) must either succeed, giving a
//! state that still encodes and decodes, or fail with `CapacityError` and leave the target
//! unchanged; a local mutation of the decoded state must do the same. A failing case prints
//! the seed, the case number and the input.
//!
//! Environment: `STARLING_FUZZ_SEED` (decimal or `0x` hex) changes the base seed;
//! `STARLING_FUZZ_CASES` the number of cases per test (default 200,000).
//!
//! Targeted tests pin each `DecodeError` variant to inputs that must produce it.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use starling_core::{
    AwSet, CapacityError, CausalContext, CausalCounter, Compact, DecodeError, Dot, DwFlag, EwFlag,
    Fixed, GCounter, GSet, Growable, HlcTimestamp, Lattice, LwwRegister, MvRegister, OrMap,
    PNCounter, ReplicaId, RwSet, Storage, TwoPSet, VersionVector, WireFormat,
};

/// The input limit every fuzz decode uses.
const MAX_LEN: usize = 4096;
/// The fixed storage mode under test.
type F = Fixed<8, 4>;
/// The base seed unless `STARLING_FUZZ_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5eed_0f57_a2f1_0001;
/// Replica ids of the random histories: one-, two- and ten-byte varints.
const IDS: [ReplicaId; 3] = [ReplicaId(1), ReplicaId(200), ReplicaId(u64::MAX - 7)];

// ---------------------------------------------------------------------------------------
// A tiny deterministic PRNG (splitmix64) and seeding
// ---------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` for `n > 0` (the modulo bias does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    /// Bytes that matter to postcard: zero, small values, varint boundaries, all ones.
    fn interesting_byte(&mut self) -> u8 {
        const BYTES: [u8; 10] = [0x00, 0x01, 0x02, 0x03, 0x10, 0x7f, 0x80, 0x81, 0xfe, 0xff];
        BYTES[self.index(BYTES.len())]
    }
}

/// FNV-1a, to derive each test's seed from its name.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `(base seed, this test's seed)`.
fn seeds(test: &str) -> (u64, u64) {
    let base = env_u64("STARLING_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    (base, base ^ fnv1a(test))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints how to reproduce the case in flight if it panics.
struct Reproduce<'a> {
    test: &'a str,
    base: u64,
    seed: u64,
    case: usize,
    kind: &'static str,
    input: &'a [u8],
}

impl Drop for Reproduce<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n{test}: FAILED at case {case} ({kind} input), test seed {seed:#018x}\n\
                 input ({len} bytes): {input}\n\
                 rerun: STARLING_FUZZ_SEED={base:#x} cargo test -p starling-tests \
                 --test decode_robustness {test}\n",
                test = self.test,
                case = self.case,
                kind = self.kind,
                seed = self.seed,
                len = self.input.len(),
                input = hex(self.input),
                base = self.base,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Random reachable states: one random operation per type, run in multi-replica histories
// ---------------------------------------------------------------------------------------

/// One random local operation by `replica` at logical time `now` (strictly increasing over
/// a history, so last-writer-wins stamps never repeat). `Ok(Some(delta))` when the
/// operation has a delta, `Err` when it did not fit (the state must be unchanged).
type Op<T> = fn(&mut T, &mut Rng, ReplicaId, u64) -> Result<Option<T>, CapacityError>;

/// Mostly small elements (so fixed tables fill up), sometimes large ones.
fn element(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0 => rng.next(),
        1 => rng.below(1 << 20),
        _ => rng.below(12),
    }
}

/// Counter amounts, including zero and near-saturating ones.
fn amount(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => u64::MAX - rng.below(4),
        1 => rng.next() >> 1,
        2 => 0,
        _ => 1 + rng.below(5),
    }
}

fn key16(rng: &mut Rng) -> u16 {
    if rng.one_in(6) {
        rng.next() as u16
    } else {
        rng.below(10) as u16
    }
}

fn key8(rng: &mut Rng) -> u8 {
    rng.below(6) as u8
}

/// A unique hybrid-clock stamp for logical time `now`.
fn stamp(now: u64) -> HlcTimestamp {
    HlcTimestamp::new(1_700_000_000_000 + now / 4, (now % 4) as u16)
}

/// An element already present (when there is one and the dice say so), else a random one.
fn existing<'a, E: Copy + 'a>(rng: &mut Rng, present: impl Iterator<Item = &'a E>, random: E) -> E {
    let present: Vec<E> = present.copied().collect();
    if present.is_empty() || rng.one_in(4) {
        random
    } else {
        present[rng.index(present.len())]
    }
}

type GSetU64<S> = GSet<u64, S>;
type TwoPSetU64<S> = TwoPSet<u64, S>;
type AwSetU64<S> = AwSet<u64, S>;
type RwSetU64<S> = RwSet<u64, S>;
type MvRegisterU64<S> = MvRegister<u64, S>;
type MapOfSets<S> = OrMap<u16, AwSet<u64, S>, S>;
type MapOfLww<S> = OrMap<u16, LwwRegister<u64>, S>;
type NestedMap<S> = OrMap<u8, OrMap<u8, MvRegister<u32, S>, S>, S>;
type Lww = LwwRegister<u64>;

fn op_g_counter<S: Storage>(
    x: &mut GCounter<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<GCounter<S>>, CapacityError> {
    x.increment(r, amount(rng)).map(Some)
}

fn op_pn_counter<S: Storage>(
    x: &mut PNCounter<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<PNCounter<S>>, CapacityError> {
    if rng.one_in(2) {
        x.increment(r, amount(rng)).map(Some)
    } else {
        x.decrement(r, amount(rng)).map(Some)
    }
}

fn op_g_set<S: Storage>(
    x: &mut GSetU64<S>,
    rng: &mut Rng,
    _: ReplicaId,
    _: u64,
) -> Result<Option<GSetU64<S>>, CapacityError> {
    x.insert(element(rng)).map(Some)
}

fn op_two_p_set<S: Storage>(
    x: &mut TwoPSetU64<S>,
    rng: &mut Rng,
    _: ReplicaId,
    _: u64,
) -> Result<Option<TwoPSetU64<S>>, CapacityError> {
    if rng.one_in(3) {
        let fresh = element(rng);
        let e = existing(rng, x.iter(), fresh);
        x.remove(e).map(Some)
    } else {
        x.insert(element(rng)).map(Some)
    }
}

fn op_aw_set<S: Storage>(
    x: &mut AwSetU64<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<AwSetU64<S>>, CapacityError> {
    match rng.below(10) {
        0 => x.clear().map(Some),
        1..=3 => {
            let fresh = element(rng);
            let e = existing(rng, x.iter(), fresh);
            x.remove(&e).map(Some)
        }
        _ => x.add(r, element(rng)).map(Some),
    }
}

fn op_rw_set<S: Storage>(
    x: &mut RwSetU64<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<RwSetU64<S>>, CapacityError> {
    if rng.one_in(3) {
        let fresh = element(rng);
        let e = existing(rng, x.iter(), fresh);
        x.remove(r, e).map(Some)
    } else {
        x.add(r, element(rng)).map(Some)
    }
}

fn op_lww(
    x: &mut Lww,
    rng: &mut Rng,
    r: ReplicaId,
    now: u64,
) -> Result<Option<Lww>, CapacityError> {
    let value = rng.next() >> rng.below(64);
    Ok(Some(x.set(r, stamp(now), value)))
}

fn op_mv_register<S: Storage>(
    x: &mut MvRegisterU64<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<MvRegisterU64<S>>, CapacityError> {
    if rng.one_in(6) {
        x.clear().map(Some)
    } else {
        x.write(r, element(rng)).map(Some)
    }
}

fn op_ew_flag<S: Storage>(
    x: &mut EwFlag<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<EwFlag<S>>, CapacityError> {
    if rng.one_in(3) {
        x.disable().map(Some)
    } else {
        x.enable(r).map(Some)
    }
}

fn op_dw_flag<S: Storage>(
    x: &mut DwFlag<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<DwFlag<S>>, CapacityError> {
    if rng.one_in(2) {
        x.disable(r).map(Some)
    } else {
        x.enable(r).map(Some)
    }
}

fn op_causal_counter<S: Storage>(
    x: &mut CausalCounter<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<CausalCounter<S>>, CapacityError> {
    match rng.below(6) {
        0 => x.reset().map(Some),
        1 | 2 => x.decrement(r, amount(rng)).map(Some),
        _ => x.increment(r, amount(rng)).map(Some),
    }
}

fn op_map_of_sets<S: Storage>(
    x: &mut MapOfSets<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<MapOfSets<S>>, CapacityError> {
    let fresh = key16(rng);
    let k = existing(rng, x.keys(), fresh);
    let e = element(rng);
    match rng.below(12) {
        0 => x.clear().map(Some),
        1 | 2 => x.remove(&k).map(Some),
        3 | 4 => x.update(&k, |s, _| s.remove_delta(&e)).map(Some),
        5 => x.update(&k, |s, _| s.clear_delta()).map(Some),
        _ => x.update(&k, |s, cx| s.add_delta(cx, r, e)).map(Some),
    }
}

fn op_map_of_lww<S: Storage>(
    x: &mut MapOfLww<S>,
    rng: &mut Rng,
    r: ReplicaId,
    now: u64,
) -> Result<Option<MapOfLww<S>>, CapacityError> {
    let fresh = key16(rng);
    let k = existing(rng, x.keys(), fresh);
    if rng.one_in(4) {
        x.remove(&k).map(Some)
    } else {
        let value = rng.next() >> rng.below(64);
        x.update(&k, |reg, cx| reg.set_delta(cx, r, stamp(now), value))
            .map(Some)
    }
}

fn op_nested_map<S: Storage>(
    x: &mut NestedMap<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<NestedMap<S>>, CapacityError> {
    let (k1, k2) = (key8(rng), key8(rng));
    match rng.below(10) {
        0 => x.remove(&k1).map(Some),
        1 => x.update(&k1, |inner, _| inner.remove_delta(&k2)).map(Some),
        2 => x.update(&k1, |inner, _| inner.clear_delta()).map(Some),
        3 => x
            .update(&k1, |inner, cx| {
                inner.update_delta(cx, &k2, |reg, _| reg.clear_delta())
            })
            .map(Some),
        _ => {
            let v = rng.next() as u32;
            x.update(&k1, |inner, cx| {
                inner.update_delta(cx, &k2, |reg, cx| reg.write_delta(cx, r, v))
            })
            .map(Some)
        }
    }
}

fn op_version_vector<S: Storage>(
    x: &mut VersionVector<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<VersionVector<S>>, CapacityError> {
    if rng.one_in(5) {
        let jump = x.get(r).saturating_add(1 + rng.below(1000));
        x.set(r, jump).map(|()| None)
    } else {
        x.increment(r).map(|_| None)
    }
}

fn op_causal_context<S: Storage>(
    x: &mut CausalContext<S>,
    rng: &mut Rng,
    r: ReplicaId,
    _: u64,
) -> Result<Option<CausalContext<S>>, CapacityError> {
    let max = x.max_counter(r);
    let counter = match rng.below(6) {
        // a gap: out of order, into the cloud
        0 | 1 => max.saturating_add(2 + rng.below(3)),
        // fill in a gap below the highest seen
        2 if max > 0 => 1 + rng.below(max),
        _ => max.saturating_add(1),
    };
    x.insert(Dot::new(r, counter)).map(|()| None)
}

/// States and deltas of random histories: three replicas doing random operations with
/// occasional full-state syncs; a fresh history starts every few dozen steps.
fn reachable<T: Lattice>(rng: &mut Rng, op: Op<T>, count: usize) -> Vec<T> {
    let mut out = vec![T::default()];
    let mut now = 0u64;
    while out.len() < count {
        let mut replicas = vec![T::default(); IDS.len()];
        for _ in 0..1 + rng.below(48) {
            let i = rng.index(IDS.len());
            if rng.one_in(4) {
                let other = replicas[rng.index(IDS.len())].clone();
                let before = replicas[i].clone();
                if replicas[i].join(&other).is_err() {
                    assert_eq!(replicas[i], before, "a refused join changed the state");
                }
            } else {
                now += 1;
                let before = replicas[i].clone();
                match op(&mut replicas[i], rng, IDS[i], now) {
                    Ok(Some(delta)) => out.push(delta),
                    Ok(None) => {}
                    Err(_) => assert_eq!(replicas[i], before, "a refused op changed the state"),
                }
            }
            out.push(replicas[i].clone());
        }
    }
    out.truncate(count);
    out
}

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

const KINDS: [&str; 3] = ["uniform random", "mutated", "small-alphabet random"];

/// Random length 0..64, uniform bytes, first byte biased to the version byte.
fn uniform_input(rng: &mut Rng, out: &mut Vec<u8>) {
    let len = rng.below(64);
    for i in 0..len {
        let b = if i == 0 && !rng.one_in(8) {
            0x01
        } else {
            rng.byte()
        };
        out.push(b);
    }
}

/// Version byte, then small values that are plausible lengths, tags and counters.
fn small_alphabet_input(rng: &mut Rng, out: &mut Vec<u8>) {
    out.push(0x01);
    for _ in 0..rng.below(48) {
        let b = if rng.one_in(5) {
            rng.interesting_byte()
        } else {
            rng.below(4) as u8
        };
        out.push(b);
    }
}

/// A valid encoding with one to three mutations.
fn mutated_input(rng: &mut Rng, encodings: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(&encodings[rng.index(encodings.len())]);
    for _ in 0..1 + rng.below(3) {
        mutate(rng, encodings, out);
    }
}

fn mutate(rng: &mut Rng, encodings: &[Vec<u8>], buf: &mut Vec<u8>) {
    // A position, usually past the version byte.
    fn pos(rng: &mut Rng, len: usize) -> usize {
        if len <= 1 || rng.one_in(16) {
            rng.index(len.max(1))
        } else {
            1 + rng.index(len - 1)
        }
    }
    let len = buf.len();
    match rng.below(10) {
        0 if len > 0 => {
            let i = pos(rng, len);
            buf[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = pos(rng, len);
            buf[i] = rng.byte();
        }
        2 if len > 0 => {
            let i = pos(rng, len);
            buf[i] = rng.interesting_byte();
        }
        3 if len > 0 => {
            let i = pos(rng, len);
            buf[i] = if rng.one_in(2) {
                buf[i].wrapping_add(1)
            } else {
                buf[i].wrapping_sub(1)
            };
        }
        4 => {
            let i = pos(rng, len + 1).min(len);
            let b = if rng.one_in(2) {
                rng.byte()
            } else {
                rng.interesting_byte()
            };
            buf.insert(i, b);
        }
        5 if len > 0 => {
            buf.remove(pos(rng, len));
        }
        6 => {
            buf.truncate(rng.index(len + 1));
        }
        7 if len > 0 => {
            // Duplicate a slice somewhere.
            let a = rng.index(len);
            let b = (a + 1 + rng.index(8)).min(len);
            let slice = buf[a..b].to_vec();
            let at = rng.index(len + 1);
            buf.splice(at..at, slice);
        }
        8 => {
            // Splice: keep a prefix, append the tail of another encoding.
            let other = &encodings[rng.index(encodings.len())];
            let keep = rng.index(len + 1);
            let from = rng.index(other.len() + 1);
            buf.truncate(keep);
            buf.extend_from_slice(&other[from..]);
        }
        _ => {
            // A long varint run, as a huge length prefix or counter.
            let i = pos(rng, len + 1).min(len);
            let n = 1 + rng.index(10);
            let run: Vec<u8> = (0..n)
                .map(|j| if j + 1 == n { rng.below(2) as u8 } else { 0xff })
                .collect();
            buf.splice(i..i, run);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

/// `value` encodes to bytes that decode to an equal value.
fn assert_round_trips<T: WireFormat + Lattice>(value: &T, what: &str) {
    let bytes = value.to_vec();
    assert_eq!(bytes.len(), value.encoded_len(), "{what}: encoded_len");
    match T::from_bytes(&bytes, usize::MAX) {
        Ok(back) => assert_eq!(&back, value, "{what}: round trip changed the value"),
        Err(e) => panic!(
            "{what}: encoding of {value:?} does not decode: {e:?}\nbytes: {}",
            hex(&bytes)
        ),
    }
}

/// Joins `other` into a copy of `target`: success gives a valid state that includes
/// `target`; failure leaves the copy unchanged.
fn assert_join_ok_or_refused<T: WireFormat + Lattice>(target: &T, other: &T) {
    let mut copy = target.clone();
    match copy.join(other) {
        Ok(()) => {
            assert_round_trips(&copy, "join result");
            assert!(target.leq(&copy), "join result not above the target");
        }
        Err(CapacityError { .. }) => {
            assert_eq!(&copy, target, "a refused join changed the state");
        }
    }
}

/// Decodes `bytes`; on success checks the decoded value. Returns whether it decoded.
fn check_case<T: WireFormat + Lattice>(bytes: &[u8], pool: &[T], rng: &mut Rng, op: Op<T>) -> bool {
    let Ok(value) = T::from_bytes(bytes, MAX_LEN) else {
        return false;
    };
    let encoded = value.to_vec();
    assert!(
        encoded.len() <= bytes.len(),
        "the canonical encoding ({} bytes) is longer than the input",
        encoded.len()
    );
    assert_round_trips(&value, "decoded value");
    assert!(value.leq(&value), "leq is not reflexive on {value:?}");
    let _ = format!("{value:?}");
    for _ in 0..2 {
        let base = &pool[rng.index(pool.len())];
        assert_join_ok_or_refused(base, &value);
        assert_join_ok_or_refused(&value, base);
    }
    // A local operation on the decoded state.
    let mut mutated = value.clone();
    let replica = IDS[rng.index(IDS.len())];
    match op(&mut mutated, rng, replica, 1 << 40) {
        Ok(delta) => {
            assert_round_trips(&mutated, "decoded value after an operation");
            if let Some(delta) = delta {
                assert_round_trips(&delta, "delta of an operation on a decoded value");
            }
        }
        Err(CapacityError { .. }) => {
            assert_eq!(mutated, value, "a refused operation changed the state");
        }
    }
    true
}

fn fuzz<T: WireFormat + Lattice>(test: &str, op: Op<T>) {
    let (base, seed) = seeds(test);
    let mut rng = Rng(seed);
    let pool = reachable(&mut rng, op, 400);
    let encodings: Vec<Vec<u8>> = pool.iter().map(WireFormat::to_vec).collect();
    for (state, bytes) in pool.iter().zip(&encodings) {
        assert_eq!(bytes[0], 0x01, "version byte");
        assert_round_trips(state, "reachable state");
    }
    let cases = env_u64("STARLING_FUZZ_CASES").map_or(200_000, |n| n as usize);
    let total = cases + cases / 10;
    let mut input = Vec::with_capacity(256);
    let mut decoded = [0usize; 3];
    let mut tried = [0usize; 3];
    let start = Instant::now();
    for case in 0..total {
        let kind = if case >= cases { 2 } else { case % 2 };
        input.clear();
        match kind {
            0 => uniform_input(&mut rng, &mut input),
            1 => mutated_input(&mut rng, &encodings, &mut input),
            _ => small_alphabet_input(&mut rng, &mut input),
        }
        let guard = Reproduce {
            test,
            base,
            seed,
            case,
            kind: KINDS[kind],
            input: &input,
        };
        tried[kind] += 1;
        if check_case(&input, &pool, &mut rng, op) {
            decoded[kind] += 1;
        }
        drop(guard);
    }
    eprintln!(
        "{test}: {total} inputs in {:.2?} (seed {seed:#018x}); decoded {}/{} uniform, \
         {}/{} mutated, {}/{} small-alphabet",
        start.elapsed(),
        decoded[0],
        tried[0],
        decoded[1],
        tried[1],
        decoded[2],
        tried[2],
    );
    assert!(
        decoded[1] * 100 >= tried[1],
        "under 1% of mutated encodings decoded ({} of {}): the checks on decoded values \
         barely ran",
        decoded[1],
        tried[1]
    );
}

/// Errors of the envelope, for any type: empty, version, limit, truncation, trailing bytes,
/// and a 2^60 length prefix in place of every byte of a valid encoding.
fn envelope_errors<T: WireFormat + Lattice>(test: &str, op: Op<T>) {
    let (_, seed) = seeds(test);
    let mut rng = Rng(seed);
    let pool = reachable(&mut rng, op, 200);
    let sample = pool
        .iter()
        .map(WireFormat::to_vec)
        .filter(|b| b.len() <= 200)
        .max_by_key(Vec::len)
        .expect("a sample");
    assert!(sample.len() >= 4, "sample too small: {}", hex(&sample));
    let decode = |bytes: &[u8], limit: usize| T::from_bytes(bytes, limit).map(|_| ());

    assert_eq!(decode(&[], MAX_LEN), Err(DecodeError::Empty));
    assert_eq!(decode(&[], 0), Err(DecodeError::Empty));
    assert_eq!(decode(&sample, MAX_LEN), Ok(()));

    for version in [0x00, 0x02, 0x7f, 0xff] {
        let mut wrong = sample.clone();
        wrong[0] = version;
        assert_eq!(
            decode(&wrong, MAX_LEN),
            Err(DecodeError::UnsupportedVersion(version))
        );
        assert_eq!(
            decode(&[version], MAX_LEN),
            Err(DecodeError::UnsupportedVersion(version))
        );
    }

    assert_eq!(decode(&sample, sample.len()), Ok(()));
    assert_eq!(decode(&sample, sample.len() - 1), Err(DecodeError::TooLong));
    // The limit is checked before anything else is looked at.
    assert_eq!(
        decode(&vec![0xff; MAX_LEN + 1], MAX_LEN),
        Err(DecodeError::TooLong)
    );
    assert_eq!(decode(&[0x01, 0x00], 1), Err(DecodeError::TooLong));

    for cut in 1..sample.len() {
        assert_eq!(
            decode(&sample[..cut], MAX_LEN),
            Err(DecodeError::Truncated),
            "prefix of {cut} bytes of {}",
            hex(&sample)
        );
    }

    let mut trailing = sample.clone();
    trailing.push(0x00);
    assert_eq!(decode(&trailing, MAX_LEN), Err(DecodeError::TrailingBytes));
    let doubled = [&sample[..], &sample[1..]].concat();
    assert_eq!(decode(&doubled, MAX_LEN), Err(DecodeError::TrailingBytes));

    // A 2^60 length prefix in place of each byte: wherever a length is read, decoding
    // must fail at once (a decoder that reserved room for 2^60 entries would abort).
    let start = Instant::now();
    for at in 1..sample.len() {
        let input = [&sample[..at], &HUGE[..]].concat();
        if let Ok(value) = T::from_bytes(&input, MAX_LEN) {
            assert_round_trips(&value, "decoded value");
        }
        let input = [&sample[..at], &HUGE[..], &sample[at..]].concat();
        if let Ok(value) = T::from_bytes(&input, MAX_LEN) {
            assert_round_trips(&value, "decoded value");
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "huge length prefixes took {:?}",
        start.elapsed()
    );
}

/// Varint of 2^60.
const HUGE: [u8; 9] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
/// Varint of u64::MAX.
const MAX_VARINT: [u8; 10] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

macro_rules! fuzz_tests {
    ($($name:ident: $ty:ident, $op:ident;)+) => {$(
        mod $name {
            use super::*;
            #[test]
            fn fuzz_fixed() {
                fuzz::<$ty<F>>(concat!(stringify!($name), "::fuzz_fixed"), $op::<F>);
            }
            #[test]
            fn fuzz_growable() {
                fuzz::<$ty<Growable>>(
                    concat!(stringify!($name), "::fuzz_growable"),
                    $op::<Growable>,
                );
            }
            #[test]
            fn fuzz_compact() {
                fuzz::<$ty<Compact>>(
                    concat!(stringify!($name), "::fuzz_compact"),
                    $op::<Compact>,
                );
            }
            #[test]
            fn envelope_errors_fixed() {
                envelope_errors::<$ty<F>>(
                    concat!(stringify!($name), "::envelope_errors_fixed"),
                    $op::<F>,
                );
            }
            #[test]
            fn envelope_errors_growable() {
                envelope_errors::<$ty<Growable>>(
                    concat!(stringify!($name), "::envelope_errors_growable"),
                    $op::<Growable>,
                );
            }
        }
    )+};
}

fuzz_tests! {
    g_counter: GCounter, op_g_counter;
    pn_counter: PNCounter, op_pn_counter;
    g_set: GSetU64, op_g_set;
    two_p_set: TwoPSetU64, op_two_p_set;
    aw_set: AwSetU64, op_aw_set;
    rw_set: RwSetU64, op_rw_set;
    mv_register: MvRegisterU64, op_mv_register;
    ew_flag: EwFlag, op_ew_flag;
    dw_flag: DwFlag, op_dw_flag;
    causal_counter: CausalCounter, op_causal_counter;
    or_map_of_aw_sets: MapOfSets, op_map_of_sets;
    or_map_of_lww_registers: MapOfLww, op_map_of_lww;
    or_map_nested: NestedMap, op_nested_map;
    version_vector: VersionVector, op_version_vector;
    causal_context: CausalContext, op_causal_context;
}

/// Both storage modes read the same bytes: whatever `Fixed` accepts, `Growable` accepts as
/// the same state (equal re-encodings); whatever `Growable` refuses, `Fixed` refuses too.
fn modes_agree<TF: WireFormat + Lattice, TG: WireFormat + Lattice>(test: &str, op: Op<TG>) {
    let (base, seed) = seeds(test);
    let mut rng = Rng(seed);
    let pool = reachable(&mut rng, op, 400);
    let encodings: Vec<Vec<u8>> = pool.iter().map(WireFormat::to_vec).collect();
    let mut input = Vec::new();
    let mut both = 0usize;
    for case in 0..40_000 {
        input.clear();
        let kind = case % 2;
        if kind == 0 {
            small_alphabet_input(&mut rng, &mut input);
        } else {
            mutated_input(&mut rng, &encodings, &mut input);
        }
        let guard = Reproduce {
            test,
            base,
            seed,
            case,
            kind: KINDS[2 - kind],
            input: &input,
        };
        match (
            TF::from_bytes(&input, MAX_LEN),
            TG::from_bytes(&input, MAX_LEN),
        ) {
            (Ok(f), Ok(g)) => {
                assert_eq!(f.to_vec(), g.to_vec(), "the modes decoded different states");
                both += 1;
            }
            (Ok(f), Err(e)) => panic!("Fixed accepted {f:?}, Growable refused: {e:?}"),
            (Err(_), _) => {}
        }
        drop(guard);
    }
    assert!(both > 100, "only {both} inputs decoded in both modes");
}

macro_rules! modes_agree_tests {
    ($($name:ident: $ty:ident, $op:ident;)+) => {
        mod fixed_and_growable_decode_alike {
            use super::*;
            $(
                #[test]
                fn $name() {
                    modes_agree::<$ty<F>, $ty<Growable>>(
                        concat!("fixed_and_growable_decode_alike::", stringify!($name)),
                        $op::<Growable>,
                    );
                }
            )+
        }
    };
}

modes_agree_tests! {
    g_counter: GCounter, op_g_counter;
    two_p_set: TwoPSetU64, op_two_p_set;
    aw_set: AwSetU64, op_aw_set;
    causal_counter: CausalCounter, op_causal_counter;
    or_map_of_lww_registers: MapOfLww, op_map_of_lww;
    or_map_nested: NestedMap, op_nested_map;
    causal_context: CausalContext, op_causal_context;
}

/// `LwwRegister` has no storage parameter: one mode.
mod lww_register {
    use super::*;
    #[test]
    fn fuzz_no_storage_param() {
        fuzz::<Lww>("lww_register::fuzz_no_storage_param", op_lww);
    }
    #[test]
    fn envelope_errors_no_storage_param() {
        envelope_errors::<Lww>("lww_register::envelope_errors_no_storage_param", op_lww);
    }
}

// ---------------------------------------------------------------------------------------
// Targeted inputs
// ---------------------------------------------------------------------------------------

/// Runs each generic test `fn name<S: Storage>()` once per storage mode (fixed, growable,
/// compact).
macro_rules! both_modes {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn fixed() {
                super::$name::<super::F>();
            }
            #[test]
            fn growable() {
                super::$name::<starling_core::Growable>();
            }
            #[test]
            fn compact() {
                super::$name::<starling_core::Compact>();
            }
        }
    )+};
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// The encoding of a causal context: version vector `(replica, count)` entries, then the
/// dot cloud of `(replica, first, last)` ranges (which must be compact) grouped by
/// replica, each range as `(gap, extra)` (see docs/wire-format.md).
fn cx(vv: &[(u64, u64)], cloud: &[(u64, u64, u64)]) -> Vec<u8> {
    let count = |r: u64| vv.iter().find(|(x, _)| *x == r).map_or(0, |(_, n)| *n);
    let mut groups: Vec<(u64, Vec<(u64, u64)>)> = Vec::new();
    for &(r, first, last) in cloud {
        let after = match groups.last() {
            Some((g, ranges)) if *g == r => {
                let prev_first = cloud.iter().filter(|c| c.0 == r).nth(ranges.len() - 1);
                prev_first.expect("previous range").2
            }
            _ => {
                groups.push((r, Vec::new()));
                count(r)
            }
        };
        let gap = first.checked_sub(after + 2).expect("a compact cloud");
        groups
            .last_mut()
            .expect("group")
            .1
            .push((gap, last - first));
    }
    let groups: Vec<(u64, &[(u64, u64)])> = groups.iter().map(|(r, g)| (*r, &g[..])).collect();
    cx_raw(vv, &groups)
}

/// A causal context with the cloud given as raw `(replica, [(gap, extra)])` groups.
fn cx_raw(vv: &[(u64, u64)], groups: &[(u64, &[(u64, u64)])]) -> Vec<u8> {
    let mut out = varint(vv.len() as u64);
    for (r, n) in vv {
        out.extend(varint(*r));
        out.extend(varint(*n));
    }
    out.extend(varint(groups.len() as u64));
    for (r, ranges) in groups {
        out.extend(varint(*r));
        out.extend(varint(ranges.len() as u64));
        for (gap, extra) in *ranges {
            out.extend(varint(*gap));
            out.extend(varint(*extra));
        }
    }
    out
}

/// Version byte followed by `parts`.
fn msg(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0x01];
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

#[track_caller]
fn assert_decodes<T: WireFormat + Lattice>(bytes: &[u8]) -> T {
    match T::from_bytes(bytes, MAX_LEN) {
        Ok(value) => {
            assert_round_trips(&value, "decoded value");
            value
        }
        Err(e) => panic!(
            "{} should decode: {e:?}\nbytes: {}",
            std::any::type_name::<T>(),
            hex(bytes)
        ),
    }
}

#[track_caller]
fn assert_rejects<T: WireFormat + Debug>(bytes: &[u8], expected: DecodeError) {
    let got = T::from_bytes(bytes, MAX_LEN);
    assert_eq!(
        got.as_ref().err(),
        Some(&expected),
        "{}: got {got:?}\nbytes: {}",
        std::any::type_name::<T>(),
        hex(bytes)
    );
}

both_modes!(
    keys_out_of_order_are_invalid,
    dot_missing_from_context_is_invalid,
    broken_state_invariants_are_invalid,
    more_entries_than_fixed_capacity_are_invalid,
    ill_formed_primitives_are_malformed,
    huge_length_prefix_fails_fast,
    exhausted_replica_counter_does_not_panic,
);

fn keys_out_of_order_are_invalid<S: Storage>() {
    use DecodeError::Invalid;
    // GSet: descending, duplicate; ascending decodes.
    assert_rejects::<GSet<u64, S>>(&msg(&[&[0x02, 0x05, 0x03]]), Invalid);
    assert_rejects::<GSet<u64, S>>(&msg(&[&[0x02, 0x03, 0x03]]), Invalid);
    assert_decodes::<GSet<u64, S>>(&msg(&[&[0x02, 0x03, 0x05]]));
    // TwoPSet: the tombstones out of order.
    assert_rejects::<TwoPSet<u64, S>>(&msg(&[&[0x00, 0x02, 0x09, 0x04]]), Invalid);
    // GCounter, PNCounter, VersionVector: replicas out of order or repeated.
    let descending = [0x02, 0x02, 0x01, 0x01, 0x01];
    let repeated = [0x02, 0x01, 0x01, 0x01, 0x02];
    assert_rejects::<GCounter<S>>(&msg(&[&descending]), Invalid);
    assert_rejects::<GCounter<S>>(&msg(&[&repeated]), Invalid);
    assert_rejects::<VersionVector<S>>(&msg(&[&descending]), Invalid);
    assert_rejects::<VersionVector<S>>(&msg(&[&repeated]), Invalid);
    assert_rejects::<PNCounter<S>>(&msg(&[&[0x00], &descending]), Invalid);
    assert_decodes::<GCounter<S>>(&msg(&[&[0x02, 0x01, 0x01, 0x02, 0x01]]));
    // CausalContext: cloud groups out of order or repeated (ranges within a group are
    // ascending by construction).
    assert_rejects::<CausalContext<S>>(
        &msg(&[&cx_raw(&[], &[(2, &[(0, 0)]), (1, &[(0, 0)])])]),
        Invalid,
    );
    assert_rejects::<CausalContext<S>>(
        &msg(&[&cx_raw(&[], &[(1, &[(0, 0)]), (1, &[(3, 0)])])]),
        Invalid,
    );
    assert_decodes::<CausalContext<S>>(&msg(&[&cx(&[], &[(1, 3, 3), (1, 5, 5)])]));
    // AwSet: elements 42 then 7.
    let ctx = cx(&[(1, 2)], &[]);
    assert_rejects::<AwSet<u64, S>>(
        &msg(&[
            &[0x02, 0x2a, 0x01, 0x01, 0x01, 0x07, 0x01, 0x01, 0x02],
            &ctx,
        ]),
        Invalid,
    );
    assert_decodes::<AwSet<u64, S>>(&msg(&[
        &[0x02, 0x07, 0x01, 0x01, 0x02, 0x2a, 0x01, 0x01, 0x01],
        &ctx,
    ]));
    // MvRegister: concurrent values of replicas 2 then 1.
    let ctx = cx(&[(1, 1), (2, 1)], &[]);
    assert_rejects::<MvRegister<u64, S>>(
        &msg(&[&[0x02, 0x02, 0x01, 0x05, 0x01, 0x01, 0x06], &ctx]),
        Invalid,
    );
    assert_decodes::<MvRegister<u64, S>>(&msg(&[
        &[0x02, 0x01, 0x01, 0x06, 0x02, 0x01, 0x05],
        &ctx,
    ]));
    // OrMap: keys 5 then 3.
    let ctx = cx(&[(1, 2)], &[]);
    assert_rejects::<OrMap<u16, LwwRegister<u64>, S>>(
        &msg(&[
            &[0x02, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01],
            &[0x03, 0x01, 0x01, 0x02, 0x02, 0x02],
            &ctx,
        ]),
        Invalid,
    );
    // Nested map: inner keys 9 then 4.
    assert_rejects::<NestedMap<S>>(
        &msg(&[
            &[0x01, 0x00, 0x02],
            &[0x09, 0x01, 0x01, 0x01, 0x01],
            &[0x04, 0x01, 0x01, 0x02, 0x01],
            &ctx,
        ]),
        Invalid,
    );
    assert_decodes::<NestedMap<S>>(&msg(&[
        &[0x01, 0x00, 0x02],
        &[0x04, 0x01, 0x01, 0x02, 0x01],
        &[0x09, 0x01, 0x01, 0x01, 0x01],
        &ctx,
    ]));
}

fn dot_missing_from_context_is_invalid<S: Storage>() {
    use DecodeError::Invalid;
    let empty = cx(&[], &[]);
    let r1_1 = cx(&[(1, 1)], &[]);
    // AwSet {42: dot (1, 1)}: without the dot in the context, with it, with a later dot.
    let store = [0x01, 0x2a, 0x01, 0x01, 0x01];
    assert_rejects::<AwSet<u64, S>>(&msg(&[&store, &empty]), Invalid);
    assert_decodes::<AwSet<u64, S>>(&msg(&[&store, &r1_1]));
    assert_rejects::<AwSet<u64, S>>(&msg(&[&[0x01, 0x2a, 0x01, 0x01, 0x02], &r1_1]), Invalid);
    assert_rejects::<AwSet<u64, S>>(&msg(&[&[0x01, 0x2a, 0x01, 0x02, 0x01], &r1_1]), Invalid);
    // A dot seen out of order (in the cloud) is fine.
    assert_decodes::<AwSet<u64, S>>(&msg(&[
        &[0x01, 0x2a, 0x01, 0x01, 0x04],
        &cx(&[], &[(1, 3, 5)]),
    ]));
    assert_rejects::<AwSet<u64, S>>(
        &msg(&[&[0x01, 0x2a, 0x01, 0x01, 0x06], &cx(&[], &[(1, 3, 5)])]),
        Invalid,
    );
    // The other causal types.
    assert_rejects::<RwSet<u64, S>>(
        &msg(&[&[0x01, 0x09, 0x01, 0x01, 0x01, 0x00], &empty]),
        Invalid,
    );
    assert_rejects::<MvRegister<u64, S>>(&msg(&[&[0x01, 0x01, 0x01, 0x05], &empty]), Invalid);
    assert_rejects::<EwFlag<S>>(&msg(&[&[0x01, 0x01, 0x01], &empty]), Invalid);
    assert_rejects::<DwFlag<S>>(&msg(&[&[0x01, 0x01, 0x01, 0x01], &empty]), Invalid);
    assert_rejects::<CausalCounter<S>>(&msg(&[&[0x01, 0x01, 0x01, 0x03, 0x00], &empty]), Invalid);
    assert_decodes::<CausalCounter<S>>(&msg(&[&[0x01, 0x01, 0x01, 0x03, 0x00], &r1_1]));
    assert_rejects::<MapOfLww<S>>(
        &msg(&[
            &[0x01, 0x03, 0x01, 0x01, 0x01, 0x80, 0x80, 0x04, 0x07],
            &empty,
        ]),
        Invalid,
    );
    assert_rejects::<MapOfSets<S>>(
        &msg(&[&[0x01, 0x03, 0x01, 0x2a, 0x01, 0x01, 0x01], &empty]),
        Invalid,
    );
    assert_rejects::<NestedMap<S>>(
        &msg(&[&[0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x03], &empty]),
        Invalid,
    );
    assert_decodes::<NestedMap<S>>(&msg(&[
        &[0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x03],
        &r1_1,
    ]));
}

fn broken_state_invariants_are_invalid<S: Storage>() {
    use DecodeError::Invalid;
    // Zero counts.
    assert_rejects::<GCounter<S>>(&msg(&[&[0x01, 0x01, 0x00]]), Invalid);
    assert_rejects::<VersionVector<S>>(&msg(&[&[0x01, 0x01, 0x00]]), Invalid);
    assert_rejects::<CausalContext<S>>(&msg(&[&cx(&[(1, 0)], &[])]), Invalid);
    // Compactness holds by construction (ranges start at least 2 above what precedes
    // them); what can still be wrong: an empty group, a range beyond the counter range.
    assert_rejects::<CausalContext<S>>(&msg(&[&cx_raw(&[(1, 1)], &[(2, &[])])]), Invalid);
    assert_rejects::<CausalContext<S>>(
        &msg(&[&cx_raw(&[], &[(2, &[(u64::MAX - 1, 0)])])]),
        Invalid,
    );
    assert_rejects::<CausalContext<S>>(
        &msg(&[&cx_raw(&[], &[(2, &[(0, u64::MAX - 1)])])]),
        Invalid,
    );
    assert_decodes::<CausalContext<S>>(&msg(&[&cx_raw(&[], &[(2, &[(u64::MAX - 2, 0)])])]));
    assert_decodes::<CausalContext<S>>(&msg(&[&cx(&[(1, 1)], &[(1, 3, 4), (2, 3, 5), (2, 7, 7)])]));
    // A live dot with counter 0.
    let ctx = cx(&[(1, 1)], &[]);
    assert_rejects::<AwSet<u64, S>>(&msg(&[&[0x01, 0x2a, 0x01, 0x01, 0x00], &ctx]), Invalid);
    // Empty nested values: a set element without dots, a map key with an empty store.
    assert_rejects::<AwSet<u64, S>>(&msg(&[&[0x01, 0x2a, 0x00], &ctx]), Invalid);
    assert_rejects::<MapOfLww<S>>(&msg(&[&[0x01, 0x03, 0x00], &ctx]), Invalid);
    assert_rejects::<MapOfSets<S>>(&msg(&[&[0x01, 0x03, 0x00], &ctx]), Invalid);
    assert_rejects::<NestedMap<S>>(&msg(&[&[0x01, 0x01, 0x00], &ctx]), Invalid);
    assert_rejects::<NestedMap<S>>(&msg(&[&[0x01, 0x01, 0x01, 0x02, 0x00], &ctx]), Invalid);
    // Exhausted counters: a cloud above a vector entry at u64::MAX cannot exist.
    let mut at_max = vec![0x01, 0x01];
    at_max.extend(MAX_VARINT);
    assert_decodes::<CausalContext<S>>(&msg(&[&at_max, &[0x00]]));
    assert_rejects::<CausalContext<S>>(&msg(&[&at_max, &[0x01, 0x01, 0x01, 0x00, 0x00]]), Invalid);
    assert_rejects::<CausalContext<S>>(
        &msg(&[&at_max, &[0x01, 0x01, 0x01], &MAX_VARINT, &MAX_VARINT]),
        Invalid,
    );
}

fn more_entries_than_fixed_capacity_are_invalid<S: Storage>() {
    // Fixed<8, 4>: 8 elements/keys/cloud ranges, 4 replicas.
    fn expect<T: WireFormat + Lattice, S: Storage>(bytes: &[u8], fits_fixed: bool) {
        if fits_fixed || !S::BOUNDED {
            assert_decodes::<T>(bytes);
        } else {
            assert_rejects::<T>(bytes, DecodeError::Invalid);
        }
    }
    let elements = |n: u64| -> Vec<u8> {
        let mut out = varint(n);
        for e in 0..n {
            out.extend(varint(e));
        }
        out
    };
    expect::<GSet<u64, S>, S>(&msg(&[&elements(8)]), true);
    expect::<GSet<u64, S>, S>(&msg(&[&elements(9)]), false);
    expect::<TwoPSet<u64, S>, S>(&msg(&[&[0x00], &elements(9)]), false);
    let replicas = |n: u64| -> Vec<u8> {
        let mut out = varint(n);
        for r in 1..=n {
            out.extend(varint(r));
            out.extend(varint(1));
        }
        out
    };
    expect::<GCounter<S>, S>(&msg(&[&replicas(4)]), true);
    expect::<GCounter<S>, S>(&msg(&[&replicas(5)]), false);
    expect::<VersionVector<S>, S>(&msg(&[&replicas(5)]), false);
    expect::<PNCounter<S>, S>(&msg(&[&replicas(1), &replicas(5)]), false);
    // Dot cloud: 8 ranges fit, 9 do not.
    let ranges =
        |n: u64| -> Vec<(u64, u64, u64)> { (0..n).map(|i| (1, 3 + 2 * i, 3 + 2 * i)).collect() };
    expect::<CausalContext<S>, S>(&msg(&[&cx(&[], &ranges(8))]), true);
    expect::<CausalContext<S>, S>(&msg(&[&cx(&[], &ranges(9))]), false);
    // AwSet and OrMap: nine elements or keys, each with its own dot of replica 1
    // (`value_prefix` runs from the entry's value up to the dot's replica).
    let nine_entries = |value_prefix: &[u8]| -> Vec<u8> {
        let mut out = varint(9);
        for i in 0..9u64 {
            out.extend(varint(i));
            out.extend_from_slice(value_prefix);
            out.extend(varint(i + 1));
        }
        out.extend(cx(&[(1, 9)], &[]));
        out
    };
    expect::<AwSet<u64, S>, S>(&msg(&[&nine_entries(&[0x01, 0x01])]), false);
    expect::<MapOfSets<S>, S>(&msg(&[&nine_entries(&[0x01, 0x2a, 0x01, 0x01])]), false);
    // MvRegister: five concurrent values (and five replicas in the context).
    let mut five = varint(5);
    for r in 1..=5u64 {
        five.extend([r as u8, 0x01, 0x07]);
    }
    five.extend(cx(&[(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)], &[]));
    expect::<MvRegister<u64, S>, S>(&msg(&[&five]), false);
}

fn ill_formed_primitives_are_malformed<S: Storage>() {
    use DecodeError::Malformed;
    // Option tag 2.
    assert_rejects::<LwwRegister<u64>>(&msg(&[&[0x02]]), Malformed);
    // bool tag 2 in a remove-wins set and a disable-wins flag.
    let ctx = cx(&[(1, 1)], &[]);
    assert_rejects::<RwSet<u64, S>>(
        &msg(&[&[0x01, 0x09, 0x01, 0x01, 0x01, 0x02], &ctx]),
        Malformed,
    );
    assert_rejects::<DwFlag<S>>(&msg(&[&[0x01, 0x01, 0x01, 0x02], &ctx]), Malformed);
    // Over-long varints: eleven bytes, or a tenth byte above 1.
    let eleven = [0xffu8; 10];
    assert_rejects::<GSet<u64, S>>(&msg(&[&[0x01], &eleven, &[0x01]]), Malformed);
    assert_rejects::<GSet<u64, S>>(&msg(&[&[0x01], &[0xff; 9], &[0x02]]), Malformed);
    assert_decodes::<GSet<u64, S>>(&msg(&[&[0x01], &MAX_VARINT]));
    // A u16 key above 65535, a u8 key that is not one byte... (u8 is a raw byte: any is fine)
    assert_rejects::<MapOfSets<S>>(&msg(&[&[0x01, 0xff, 0xff, 0x04]]), Malformed);
    // Invalid UTF-8 in a string key.
    assert_rejects::<OrMap<String, LwwRegister<u64>, S>>(
        &msg(&[&[0x01, 0x01, 0xff, 0x01, 0x01, 0x01, 0x01, 0x00], &ctx]),
        Malformed,
    );
}

/// A length prefix of 2^60 (and of u64::MAX) entries with nothing, or a few entries, after
/// it: an error at once. A decoder reserving room from the prefix would abort the process
/// on the allocation; one trusting it would loop for ages.
fn huge_length_prefix_fails_fast<S: Storage>() {
    use DecodeError::{Invalid, Malformed, Truncated};
    let start = Instant::now();
    for prefix in [&HUGE[..], &MAX_VARINT[..]] {
        // First field a sequence.
        assert_rejects::<GCounter<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<PNCounter<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<GSet<u64, S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<TwoPSet<u64, S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<VersionVector<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<CausalContext<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<AwSet<u64, S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<RwSet<u64, S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<MvRegister<u64, S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<EwFlag<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<DwFlag<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<CausalCounter<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<MapOfSets<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<MapOfLww<S>>(&msg(&[prefix]), Truncated);
        assert_rejects::<NestedMap<S>>(&msg(&[prefix]), Truncated);
        // The register's first byte is an Option tag.
        assert_rejects::<LwwRegister<u64>>(&msg(&[prefix]), Malformed);
        // Deeper: the second counter, the tombstones, the vector and the cloud of a
        // context, a nested store under a key, an inner map.
        assert_rejects::<PNCounter<S>>(&msg(&[&[0x00], prefix]), Truncated);
        assert_rejects::<TwoPSet<u64, S>>(&msg(&[&[0x00], prefix]), Truncated);
        assert_rejects::<AwSet<u64, S>>(&msg(&[&[0x00], prefix]), Truncated);
        assert_rejects::<AwSet<u64, S>>(&msg(&[&[0x00, 0x00], prefix]), Truncated);
        assert_rejects::<AwSet<u64, S>>(&msg(&[&[0x01, 0x2a], prefix]), Truncated);
        assert_rejects::<MapOfLww<S>>(&msg(&[&[0x01, 0x03], prefix]), Truncated);
        assert_rejects::<MapOfSets<S>>(&msg(&[&[0x01, 0x03, 0x01, 0x2a], prefix]), Truncated);
        assert_rejects::<NestedMap<S>>(&msg(&[&[0x01, 0x01], prefix]), Truncated);
        assert_rejects::<NestedMap<S>>(&msg(&[&[0x01, 0x01, 0x01, 0x02], prefix]), Truncated);
        // Followed by entries: fixed storage refuses the ninth, growable runs out of input.
        let eight: Vec<u8> = (0..8).collect();
        let nine: Vec<u8> = (0..9).collect();
        assert_rejects::<GSet<u64, S>>(&msg(&[prefix, &eight]), Truncated);
        let expected = if S::BOUNDED { Invalid } else { Truncated };
        assert_rejects::<GSet<u64, S>>(&msg(&[prefix, &nine]), expected);
        // Many entries after the prefix, up to the input limit.
        let many: Vec<u8> = (0..MAX_LEN as u64 / 2).flat_map(varint).collect();
        let mut input = msg(&[prefix, &many]);
        input.truncate(MAX_LEN);
        let expected = if S::BOUNDED { Invalid } else { Truncated };
        assert_rejects::<GSet<u64, S>>(&input, expected);
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "huge length prefixes took {:?}",
        start.elapsed()
    );
}

/// A peer may send a context whose count for some replica is u64::MAX. Joining it, comparing
/// with it and operating on the result must not panic (overflow), and must keep states valid.
fn exhausted_replica_counter_does_not_panic<S: Storage>() {
    let r1 = ReplicaId(1);
    let mut at_max = vec![0x01, 0x01];
    at_max.extend(MAX_VARINT);
    let mut vv_max = at_max.clone();
    vv_max.push(0x00);
    let context: CausalContext<S> = assert_decodes(&msg(&[&vv_max]));
    assert!(context.leq(&context), "leq must be reflexive");
    assert!(context.contains(Dot::new(r1, u64::MAX)));

    // Contexts: join both ways with a context holding a cloud of replica 1.
    let mut local = CausalContext::<S>::new();
    local.insert(Dot::new(r1, 1)).unwrap();
    local.insert(Dot::new(r1, 5)).unwrap();
    assert_join_ok_or_refused(&local, &context);
    assert_join_ok_or_refused(&context, &local);
    let mut joined = local.clone();
    joined.join(&context).unwrap();
    assert_eq!(joined, context);
    assert!(
        joined.next_dot(r1).is_err(),
        "replica 1 has no counter left: no dot to hand out"
    );
    let _ = joined.insert(Dot::new(r1, u64::MAX));
    let _ = joined.insert(Dot::new(r1, 3));
    assert_eq!(joined, context);

    // An AwSet whose context has seen every event of replica 1.
    let remote: AwSet<u64, S> = assert_decodes(&msg(&[&[0x00], &vv_max]));
    let mut set = AwSet::<u64, S>::default();
    set.add(r1, 7).unwrap();
    set.add(ReplicaId(2), 8).unwrap();
    assert_join_ok_or_refused(&set, &remote);
    assert_join_ok_or_refused(&remote, &set);
    set.join(&remote).unwrap();
    assert!(
        !set.contains(&7),
        "the remote has seen (and dropped) replica 1's add"
    );
    assert!(set.contains(&8));
    // Replica 1 has no event left: its add must fail (never reuse a dot) and change nothing.
    let before = set.clone();
    assert!(
        set.add(r1, 9).is_err(),
        "an add without a fresh dot must fail"
    );
    assert_eq!(set, before);
    assert_round_trips(&set, "state");
    assert!(set.leq(&set));
    let mut flag = EwFlag::<S>::default();
    flag.join(&assert_decodes::<EwFlag<S>>(&msg(&[&[0x00], &vv_max])))
        .unwrap();
    let before = flag.clone();
    assert!(
        flag.enable(r1).is_err(),
        "an enable without a fresh dot must fail"
    );
    assert_eq!(flag, before);
}
