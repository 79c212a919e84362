//! Byte budgets: the RAM cost of fixed-capacity types and the encoded size of states.
//!
//! Byte counts are deterministic, so they are asserted here rather than benchmarked. The
//! `size_of` figures are those documented on each type (64-bit hosts; on 32-bit targets
//! such as Cortex-M the length words are 4 bytes and the totals are smaller).

use starling_core::{
    AwSet, CausalContext, CausalCounter, DwFlag, EwFlag, Fixed, GCounter, GSet, Growable,
    LwwRegister, MvRegister, OrMap, PNCounter, ReplicaId, RwSet, TwoPSet, VersionVector,
    WireFormat,
};
use std::mem::size_of;

/// Bytes one more element-table entry (`N + 1` instead of `N`) costs.
macro_rules! per_entry {
    ($t:ident) => {
        size_of::<$t<Fixed<17, 4>>>() - size_of::<$t<Fixed<16, 4>>>()
    };
    ($t:ident < $($a:ident),+ >) => {
        size_of::<$t<$($a,)+ Fixed<17, 4>>>() - size_of::<$t<$($a,)+ Fixed<16, 4>>>()
    };
}
/// Bytes one more replica (`R + 1` instead of `R`) costs, across all of a type's tables.
macro_rules! per_replica {
    ($t:ident) => {
        size_of::<$t<Fixed<16, 5>>>() - size_of::<$t<Fixed<16, 4>>>()
    };
    ($t:ident < $($a:ident),+ >) => {
        size_of::<$t<$($a,)+ Fixed<16, 5>>>() - size_of::<$t<$($a,)+ Fixed<16, 4>>>()
    };
}

#[cfg(target_pointer_width = "64")]
#[test]
fn fixed_mode_ram_per_entry_matches_the_documented_figures() {
    // Element tables (N): one entry of the element table plus one dot-cloud range.
    assert_eq!(per_entry!(GSet<u64>), 8);
    assert_eq!(per_entry!(TwoPSet<u64>), 16);
    assert_eq!(
        per_entry!(AwSet<u64>),
        104,
        "u64 element + 4 dot slots + len + a cloud range"
    );
    assert_eq!(per_entry!(RwSet<u64>), 136);
    assert_eq!(
        per_entry!(CausalContext),
        24,
        "a cloud range: dot + last counter"
    );
    // Replica tables (R).
    assert_eq!(per_replica!(VersionVector), 16);
    assert_eq!(per_replica!(GCounter), 16);
    assert_eq!(per_replica!(PNCounter), 32);
    assert_eq!(
        per_replica!(EwFlag),
        32,
        "one dot slot + one version-vector entry"
    );
    assert_eq!(per_replica!(DwFlag), 40);
    assert_eq!(per_replica!(MvRegister<u64>), 40);
    assert_eq!(per_replica!(CausalCounter), 48);
    // A register needs no table at all.
    assert_eq!(size_of::<LwwRegister<u64>>(), 32);
    // The firmware-sized document: 16 sensor readings for 8 replicas.
    let map = size_of::<OrMap<u16, LwwRegister<f32>, Fixed<16, 8>>>();
    assert!(
        map <= 8 * 1024,
        "OrMap of 16 LWW readings for 8 replicas takes {map} bytes"
    );
}

fn random_u64s(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    })
}

#[test]
fn aw_set_encodes_at_most_12_bytes_per_live_u64_element() {
    let mut set: AwSet<u64, Growable> = AwSet::default();
    for (i, x) in random_u64s(12345).take(10_000).enumerate() {
        set.add(ReplicaId(i as u64 % 8), x % 50_000).unwrap();
    }
    let per_element = set.encoded_len() as f64 / set.len() as f64;
    assert!(
        per_element <= 12.0,
        "{per_element:.2} encoded bytes per element"
    );
    assert_eq!(set.to_vec().len(), set.encoded_len());
}

#[test]
fn aw_set_remove_delta_is_small_and_independent_of_set_size() {
    let mut set: AwSet<u64, Growable> = AwSet::default();
    for x in random_u64s(7).take(5_000) {
        set.add(ReplicaId(1), x).unwrap();
    }
    let target = *set.iter().next().unwrap();
    let add = set.add(ReplicaId(2), 1).unwrap();
    let remove = set.remove(&target).unwrap();
    // version byte + empty store + context of one or two dots
    assert!(
        add.encoded_len() <= 24,
        "add delta {} bytes",
        add.encoded_len()
    );
    assert!(
        remove.encoded_len() <= 16,
        "remove delta {} bytes",
        remove.encoded_len()
    );
}
