//! Merge-law property tests: every CRDT type of `starling-core`, in every storage mode
//! (`Fixed`, `Growable`, `Compact`).
//!
//! Each test runs one law of [`starling_tests::laws`] as a quickcheck property over
//! random multi-replica histories (3 or 4 replicas, operations at random replicas,
//! full-state syncs and out-of-order, duplicated delta deliveries). Test names are
//! `<type>_<mode>_<law>`: for example `aw_set_fixed_join_commutative` and
//! `aw_set_growable_join_commutative`. `lww_register_<law>` is the standalone
//! `LwwRegister<u8, u64>` (it has no storage parameter); `lww_register_fixed_*` and
//! `lww_register_growable_*` are its causal form `Causal<LwwStore<u8, u64, S>, S>`.
//!
//! Per type and mode: join commutative, associative, idempotent; bottom is the
//! identity; `leq` matches join; the delta-mutator law for every operation kind;
//! deltas joined in any order with duplicates converge to the join of all states;
//! codec round trip of states and deltas; reconciliation (the novel part of a delta has
//! its effect and is bottom when the delta brings nothing; a catch-up computed from a
//! digest completes the peer). Per type: fixed and growable storage give
//! byte-identical encodings of the same history (`*_fixed_growable_agree`), and a
//! capacity error in a tiny `Fixed<2, 2>` leaves the state unchanged
//! (`*_fixed_capacity_error_changes_nothing`).
//!
//! # Run length
//!
//! Each property checks 200 random histories by default, which keeps this file well
//! under a minute on two cores (the test profile builds with `opt-level = 1`).
//! Environment variables:
//!
//! * `STARLING_QC_TESTS=N`: check `N` histories per property.
//! * `STARLING_LONG=1`: the long run, 10,000 histories per property (for a nightly or
//!   pre-release run; `STARLING_QC_TESTS` wins if both are set).
//! * `STARLING_QC_SEED=S`: seed the generator with `S` (a `u64`) to replay a run.
//!
//! A failure prints the shrunk history and the law's message naming the values
//! involved and where in the history they come from.
//!
//! # Capacities
//!
//! A history of at most `n` operations creates at most `n` dots, and the law checks add
//! at most one more. So fixed tables of more than `n` entries never fill up: not the
//! element, key and dot-cloud tables (`N`), nor the per-value dot tables (`R`), which
//! under causal delivery hold one dot per replica but, in a join of deltas received out
//! of order, can transiently hold several dots of one replica. Flat types use
//! `Fixed<32, 32>` with at most 31 operations; maps `Fixed<16, 16>` with at most 15;
//! the `or_map_small_*` maps keep their values in smaller tables than the map's own
//! (`Fixed<8, 16>` sets, `Fixed<4, 16>` inner maps and registers, in a `Fixed<16, 8>`
//! map). A `CapacityError` in these runs is therefore a failure. The capacity tests use
//! `Fixed<2, 2>` and histories of up to 24 operations, and require that the capacity is
//! actually hit in every history they count.

use starling_core::{
    AwSet, Causal, CausalCounter, Compact, DwFlag, EwFlag, Fixed, GCounter, GSet, Growable,
    LwwRegister, LwwStore, MvRegister, OrMap, PNCounter, RwSet, TwoPSet,
};
use starling_tests::subjects::{
    AwSetSubject, CausalCounterSubject, CausalLwwSubject, DwFlagSubject, EwFlagSubject,
    GCounterSubject, GSetSubject, LwwRegisterSubject, MvRegisterSubject, OrMapSubject,
    PNCounterSubject, PNCounterValue, RwSetSubject, TwoPSetSubject, same_type,
};
use starling_tests::{LawSubject, Property, check_capacity_law, check_law, is_test_name, laws};

/// Fixed storage of the flat types' law runs.
type Fx = Fixed<32, 32>;
/// Fixed storage of the maps' law runs (map and values alike).
type FxMap = Fixed<16, 16>;
/// The map's own storage in the `or_map_small_*` runs.
type FxCx = Fixed<16, 8>;
/// Value storage of `or_map_small_aw_set`: 8 elements.
type FxVal = Fixed<8, 16>;
/// Inner map and register storage of `or_map_nested_small_mv_register`: 4 keys.
type FxNestVal = Fixed<4, 16>;
/// The tiny capacity of the capacity tests.
type Tiny = Fixed<2, 2>;
/// An `OrMap` with `u8` keys and values described by a value subject.
type MapOf<V, S> = OrMapSubject<V, S>;

/// Most operations in a flat type's history: below `Fx`'s 32 entries.
const FX_OPS: usize = 31;
/// Most operations in a map's history: below the maps' 16 entries.
const MAP_OPS: usize = 15;
/// Most operations in a capacity test's history.
const TINY_OPS: usize = 24;

// The subjects stand for exactly the public types named in the test names.
const _: fn() = || {
    same_type::<<GCounterSubject<Fx> as LawSubject>::State, GCounter<Fx>>();
    same_type::<<PNCounterSubject<Fx> as LawSubject>::State, PNCounter<Fx>>();
    same_type::<<GSetSubject<Fx> as LawSubject>::State, GSet<u8, Fx>>();
    same_type::<<TwoPSetSubject<Fx> as LawSubject>::State, TwoPSet<u8, Fx>>();
    same_type::<<AwSetSubject<Fx> as LawSubject>::State, AwSet<u8, Fx>>();
    same_type::<<RwSetSubject<Fx> as LawSubject>::State, RwSet<u8, Fx>>();
    same_type::<<LwwRegisterSubject as LawSubject>::State, LwwRegister<u8, u64>>();
    same_type::<<CausalLwwSubject<Fx> as LawSubject>::State, Causal<LwwStore<u8, u64, Fx>, Fx>>();
    same_type::<<MvRegisterSubject<Fx> as LawSubject>::State, MvRegister<u8, Fx>>();
    same_type::<<EwFlagSubject<Fx> as LawSubject>::State, EwFlag<Fx>>();
    same_type::<<DwFlagSubject<Fx> as LawSubject>::State, DwFlag<Fx>>();
    same_type::<<CausalCounterSubject<Fx> as LawSubject>::State, CausalCounter<Fx>>();
    same_type::<
        <MapOf<AwSetSubject<FxMap>, FxMap> as LawSubject>::State,
        OrMap<u8, AwSet<u8, FxMap>, FxMap>,
    >();
    same_type::<
        <MapOf<CausalLwwSubject<FxMap>, FxMap> as LawSubject>::State,
        OrMap<u8, LwwRegister<u8, u64>, FxMap>,
    >();
    same_type::<
        <MapOf<PNCounterValue<FxMap>, FxMap> as LawSubject>::State,
        OrMap<u8, PNCounter<FxMap>, FxMap>,
    >();
    same_type::<
        <MapOf<MapOf<MvRegisterSubject<FxMap>, FxMap>, FxMap> as LawSubject>::State,
        OrMap<u8, OrMap<u8, MvRegister<u8, FxMap>, FxMap>, FxMap>,
    >();
    same_type::<
        <MapOf<MapOf<MvRegisterSubject<Growable>, Growable>, Growable> as LawSubject>::State,
        OrMap<u8, OrMap<u8, MvRegister<u8, Growable>, Growable>, Growable>,
    >();
    same_type::<
        <MapOf<AwSetSubject<FxVal>, FxCx> as LawSubject>::State,
        OrMap<u8, AwSet<u8, FxVal>, FxCx>,
    >();
    same_type::<
        <MapOf<MapOf<MvRegisterSubject<FxNestVal>, FxNestVal>, FxCx> as LawSubject>::State,
        OrMap<u8, OrMap<u8, MvRegister<u8, FxNestVal>, FxNestVal>, FxCx>,
    >();
};

/// One test running `laws::$law` for `$subject`; its name must be `$prefix` + `_$law`.
macro_rules! law_test {
    ($name:ident, $prefix:literal, $law:ident, $subject:ty, $max_ops:expr) => {
        #[test]
        fn $name() {
            const _: () = assert!(
                is_test_name(stringify!($name), $prefix, stringify!($law)),
                "test name does not match its type, mode and law"
            );
            check_law($max_ops, laws::$law::<$subject> as Property<$subject>);
        }
    };
}

/// The eight lattice laws and the reconciliation law of one type in one storage mode (tests named in this order).
macro_rules! lattice_laws {
    ($prefix:literal, $subject:ty, $max_ops:expr;
     $jc:ident, $ja:ident, $ji:ident, $bi:ident, $lm:ident, $dm:ident, $dc:ident, $cr:ident,
     $rs:ident
    ) => {
        law_test!($jc, $prefix, join_commutative, $subject, $max_ops);
        law_test!($ja, $prefix, join_associative, $subject, $max_ops);
        law_test!($ji, $prefix, join_idempotent, $subject, $max_ops);
        law_test!($bi, $prefix, bottom_is_identity, $subject, $max_ops);
        law_test!($lm, $prefix, leq_matches_join, $subject, $max_ops);
        law_test!($dm, $prefix, delta_mutator, $subject, $max_ops);
        law_test!($dc, $prefix, deltas_converge, $subject, $max_ops);
        law_test!($cr, $prefix, codec_roundtrip, $subject, $max_ops);
        law_test!($rs, $prefix, reconcile_sound, $subject, $max_ops);
    };
}

/// The two storage laws of one type: fixed/growable agreement, capacity atomicity.
macro_rules! storage_laws {
    ($prefix:literal, $fixed:ty, $growable:ty, $max_ops:expr, $tiny:ty;
     $agree:ident, $capacity:ident
    ) => {
        #[test]
        fn $agree() {
            const _: () = assert!(is_test_name(
                stringify!($agree),
                $prefix,
                "fixed_growable_agree"
            ));
            check_law(
                $max_ops,
                laws::fixed_growable_agree::<$fixed, $growable> as Property<$fixed>,
            );
        }

        #[test]
        fn $capacity() {
            const _: () = assert!(is_test_name(
                stringify!($capacity),
                $prefix,
                "fixed_capacity_error_changes_nothing"
            ));
            check_capacity_law(
                TINY_OPS,
                laws::capacity_error_is_atomic::<$tiny> as Property<$tiny>,
            );
        }
    };
}

/// The fixed/growable agreement law alone, for types whose capacity test is above.
macro_rules! agreement_law {
    ($prefix:literal, $fixed:ty, $growable:ty, $max_ops:expr; $agree:ident) => {
        #[test]
        fn $agree() {
            const _: () = assert!(is_test_name(
                stringify!($agree),
                $prefix,
                "fixed_growable_agree"
            ));
            check_law(
                $max_ops,
                laws::fixed_growable_agree::<$fixed, $growable> as Property<$fixed>,
            );
        }
    };
}

/// Fixed and compact storage agree byte for byte (the same law as fixed/growable).
macro_rules! compact_agreement_law {
    ($prefix:literal, $fixed:ty, $compact:ty, $max_ops:expr; $agree:ident) => {
        #[test]
        fn $agree() {
            const _: () = assert!(is_test_name(
                stringify!($agree),
                $prefix,
                "fixed_compact_agree"
            ));
            check_law(
                $max_ops,
                laws::fixed_growable_agree::<$fixed, $compact> as Property<$fixed>,
            );
        }
    };
}

// The standalone last-writer-wins register has no storage parameter.
lattice_laws!("lww_register", LwwRegisterSubject, FX_OPS;
    lww_register_join_commutative,
    lww_register_join_associative,
    lww_register_join_idempotent,
    lww_register_bottom_is_identity,
    lww_register_leq_matches_join,
    lww_register_delta_mutator,
    lww_register_deltas_converge,
    lww_register_codec_roundtrip,
    lww_register_reconcile_sound
);

// g_counter
lattice_laws!("g_counter_fixed", GCounterSubject<Fx>, FX_OPS;
    g_counter_fixed_join_commutative,
    g_counter_fixed_join_associative,
    g_counter_fixed_join_idempotent,
    g_counter_fixed_bottom_is_identity,
    g_counter_fixed_leq_matches_join,
    g_counter_fixed_delta_mutator,
    g_counter_fixed_deltas_converge,
    g_counter_fixed_codec_roundtrip,
    g_counter_fixed_reconcile_sound
);
lattice_laws!("g_counter_growable", GCounterSubject<Growable>, FX_OPS;
    g_counter_growable_join_commutative,
    g_counter_growable_join_associative,
    g_counter_growable_join_idempotent,
    g_counter_growable_bottom_is_identity,
    g_counter_growable_leq_matches_join,
    g_counter_growable_delta_mutator,
    g_counter_growable_deltas_converge,
    g_counter_growable_codec_roundtrip,
    g_counter_growable_reconcile_sound
);
lattice_laws!("g_counter_compact", GCounterSubject<Compact>, FX_OPS;
    g_counter_compact_join_commutative,
    g_counter_compact_join_associative,
    g_counter_compact_join_idempotent,
    g_counter_compact_bottom_is_identity,
    g_counter_compact_leq_matches_join,
    g_counter_compact_delta_mutator,
    g_counter_compact_deltas_converge,
    g_counter_compact_codec_roundtrip,
    g_counter_compact_reconcile_sound
);
compact_agreement_law!("g_counter", GCounterSubject<Fx>, GCounterSubject<Compact>, FX_OPS; g_counter_fixed_compact_agree);
storage_laws!("g_counter", GCounterSubject<Fx>, GCounterSubject<Growable>, FX_OPS, GCounterSubject<Tiny>;
    g_counter_fixed_growable_agree,
    g_counter_fixed_capacity_error_changes_nothing
);

// pn_counter
lattice_laws!("pn_counter_fixed", PNCounterSubject<Fx>, FX_OPS;
    pn_counter_fixed_join_commutative,
    pn_counter_fixed_join_associative,
    pn_counter_fixed_join_idempotent,
    pn_counter_fixed_bottom_is_identity,
    pn_counter_fixed_leq_matches_join,
    pn_counter_fixed_delta_mutator,
    pn_counter_fixed_deltas_converge,
    pn_counter_fixed_codec_roundtrip,
    pn_counter_fixed_reconcile_sound
);
lattice_laws!("pn_counter_growable", PNCounterSubject<Growable>, FX_OPS;
    pn_counter_growable_join_commutative,
    pn_counter_growable_join_associative,
    pn_counter_growable_join_idempotent,
    pn_counter_growable_bottom_is_identity,
    pn_counter_growable_leq_matches_join,
    pn_counter_growable_delta_mutator,
    pn_counter_growable_deltas_converge,
    pn_counter_growable_codec_roundtrip,
    pn_counter_growable_reconcile_sound
);
lattice_laws!("pn_counter_compact", PNCounterSubject<Compact>, FX_OPS;
    pn_counter_compact_join_commutative,
    pn_counter_compact_join_associative,
    pn_counter_compact_join_idempotent,
    pn_counter_compact_bottom_is_identity,
    pn_counter_compact_leq_matches_join,
    pn_counter_compact_delta_mutator,
    pn_counter_compact_deltas_converge,
    pn_counter_compact_codec_roundtrip,
    pn_counter_compact_reconcile_sound
);
compact_agreement_law!("pn_counter", PNCounterSubject<Fx>, PNCounterSubject<Compact>, FX_OPS; pn_counter_fixed_compact_agree);
storage_laws!("pn_counter", PNCounterSubject<Fx>, PNCounterSubject<Growable>, FX_OPS, PNCounterSubject<Tiny>;
    pn_counter_fixed_growable_agree,
    pn_counter_fixed_capacity_error_changes_nothing
);

// g_set
lattice_laws!("g_set_fixed", GSetSubject<Fx>, FX_OPS;
    g_set_fixed_join_commutative,
    g_set_fixed_join_associative,
    g_set_fixed_join_idempotent,
    g_set_fixed_bottom_is_identity,
    g_set_fixed_leq_matches_join,
    g_set_fixed_delta_mutator,
    g_set_fixed_deltas_converge,
    g_set_fixed_codec_roundtrip,
    g_set_fixed_reconcile_sound
);
lattice_laws!("g_set_growable", GSetSubject<Growable>, FX_OPS;
    g_set_growable_join_commutative,
    g_set_growable_join_associative,
    g_set_growable_join_idempotent,
    g_set_growable_bottom_is_identity,
    g_set_growable_leq_matches_join,
    g_set_growable_delta_mutator,
    g_set_growable_deltas_converge,
    g_set_growable_codec_roundtrip,
    g_set_growable_reconcile_sound
);
lattice_laws!("g_set_compact", GSetSubject<Compact>, FX_OPS;
    g_set_compact_join_commutative,
    g_set_compact_join_associative,
    g_set_compact_join_idempotent,
    g_set_compact_bottom_is_identity,
    g_set_compact_leq_matches_join,
    g_set_compact_delta_mutator,
    g_set_compact_deltas_converge,
    g_set_compact_codec_roundtrip,
    g_set_compact_reconcile_sound
);
compact_agreement_law!("g_set", GSetSubject<Fx>, GSetSubject<Compact>, FX_OPS; g_set_fixed_compact_agree);
storage_laws!("g_set", GSetSubject<Fx>, GSetSubject<Growable>, FX_OPS, GSetSubject<Tiny>;
    g_set_fixed_growable_agree,
    g_set_fixed_capacity_error_changes_nothing
);

// two_p_set
lattice_laws!("two_p_set_fixed", TwoPSetSubject<Fx>, FX_OPS;
    two_p_set_fixed_join_commutative,
    two_p_set_fixed_join_associative,
    two_p_set_fixed_join_idempotent,
    two_p_set_fixed_bottom_is_identity,
    two_p_set_fixed_leq_matches_join,
    two_p_set_fixed_delta_mutator,
    two_p_set_fixed_deltas_converge,
    two_p_set_fixed_codec_roundtrip,
    two_p_set_fixed_reconcile_sound
);
lattice_laws!("two_p_set_growable", TwoPSetSubject<Growable>, FX_OPS;
    two_p_set_growable_join_commutative,
    two_p_set_growable_join_associative,
    two_p_set_growable_join_idempotent,
    two_p_set_growable_bottom_is_identity,
    two_p_set_growable_leq_matches_join,
    two_p_set_growable_delta_mutator,
    two_p_set_growable_deltas_converge,
    two_p_set_growable_codec_roundtrip,
    two_p_set_growable_reconcile_sound
);
lattice_laws!("two_p_set_compact", TwoPSetSubject<Compact>, FX_OPS;
    two_p_set_compact_join_commutative,
    two_p_set_compact_join_associative,
    two_p_set_compact_join_idempotent,
    two_p_set_compact_bottom_is_identity,
    two_p_set_compact_leq_matches_join,
    two_p_set_compact_delta_mutator,
    two_p_set_compact_deltas_converge,
    two_p_set_compact_codec_roundtrip,
    two_p_set_compact_reconcile_sound
);
compact_agreement_law!("two_p_set", TwoPSetSubject<Fx>, TwoPSetSubject<Compact>, FX_OPS; two_p_set_fixed_compact_agree);
storage_laws!("two_p_set", TwoPSetSubject<Fx>, TwoPSetSubject<Growable>, FX_OPS, TwoPSetSubject<Tiny>;
    two_p_set_fixed_growable_agree,
    two_p_set_fixed_capacity_error_changes_nothing
);

// aw_set
lattice_laws!("aw_set_fixed", AwSetSubject<Fx>, FX_OPS;
    aw_set_fixed_join_commutative,
    aw_set_fixed_join_associative,
    aw_set_fixed_join_idempotent,
    aw_set_fixed_bottom_is_identity,
    aw_set_fixed_leq_matches_join,
    aw_set_fixed_delta_mutator,
    aw_set_fixed_deltas_converge,
    aw_set_fixed_codec_roundtrip,
    aw_set_fixed_reconcile_sound
);
lattice_laws!("aw_set_growable", AwSetSubject<Growable>, FX_OPS;
    aw_set_growable_join_commutative,
    aw_set_growable_join_associative,
    aw_set_growable_join_idempotent,
    aw_set_growable_bottom_is_identity,
    aw_set_growable_leq_matches_join,
    aw_set_growable_delta_mutator,
    aw_set_growable_deltas_converge,
    aw_set_growable_codec_roundtrip,
    aw_set_growable_reconcile_sound
);
lattice_laws!("aw_set_compact", AwSetSubject<Compact>, FX_OPS;
    aw_set_compact_join_commutative,
    aw_set_compact_join_associative,
    aw_set_compact_join_idempotent,
    aw_set_compact_bottom_is_identity,
    aw_set_compact_leq_matches_join,
    aw_set_compact_delta_mutator,
    aw_set_compact_deltas_converge,
    aw_set_compact_codec_roundtrip,
    aw_set_compact_reconcile_sound
);
compact_agreement_law!("aw_set", AwSetSubject<Fx>, AwSetSubject<Compact>, FX_OPS; aw_set_fixed_compact_agree);
storage_laws!("aw_set", AwSetSubject<Fx>, AwSetSubject<Growable>, FX_OPS, AwSetSubject<Tiny>;
    aw_set_fixed_growable_agree,
    aw_set_fixed_capacity_error_changes_nothing
);

// rw_set
lattice_laws!("rw_set_fixed", RwSetSubject<Fx>, FX_OPS;
    rw_set_fixed_join_commutative,
    rw_set_fixed_join_associative,
    rw_set_fixed_join_idempotent,
    rw_set_fixed_bottom_is_identity,
    rw_set_fixed_leq_matches_join,
    rw_set_fixed_delta_mutator,
    rw_set_fixed_deltas_converge,
    rw_set_fixed_codec_roundtrip,
    rw_set_fixed_reconcile_sound
);
lattice_laws!("rw_set_growable", RwSetSubject<Growable>, FX_OPS;
    rw_set_growable_join_commutative,
    rw_set_growable_join_associative,
    rw_set_growable_join_idempotent,
    rw_set_growable_bottom_is_identity,
    rw_set_growable_leq_matches_join,
    rw_set_growable_delta_mutator,
    rw_set_growable_deltas_converge,
    rw_set_growable_codec_roundtrip,
    rw_set_growable_reconcile_sound
);
lattice_laws!("rw_set_compact", RwSetSubject<Compact>, FX_OPS;
    rw_set_compact_join_commutative,
    rw_set_compact_join_associative,
    rw_set_compact_join_idempotent,
    rw_set_compact_bottom_is_identity,
    rw_set_compact_leq_matches_join,
    rw_set_compact_delta_mutator,
    rw_set_compact_deltas_converge,
    rw_set_compact_codec_roundtrip,
    rw_set_compact_reconcile_sound
);
compact_agreement_law!("rw_set", RwSetSubject<Fx>, RwSetSubject<Compact>, FX_OPS; rw_set_fixed_compact_agree);
storage_laws!("rw_set", RwSetSubject<Fx>, RwSetSubject<Growable>, FX_OPS, RwSetSubject<Tiny>;
    rw_set_fixed_growable_agree,
    rw_set_fixed_capacity_error_changes_nothing
);

// lww_register
lattice_laws!("lww_register_fixed", CausalLwwSubject<Fx>, FX_OPS;
    lww_register_fixed_join_commutative,
    lww_register_fixed_join_associative,
    lww_register_fixed_join_idempotent,
    lww_register_fixed_bottom_is_identity,
    lww_register_fixed_leq_matches_join,
    lww_register_fixed_delta_mutator,
    lww_register_fixed_deltas_converge,
    lww_register_fixed_codec_roundtrip,
    lww_register_fixed_reconcile_sound
);
lattice_laws!("lww_register_growable", CausalLwwSubject<Growable>, FX_OPS;
    lww_register_growable_join_commutative,
    lww_register_growable_join_associative,
    lww_register_growable_join_idempotent,
    lww_register_growable_bottom_is_identity,
    lww_register_growable_leq_matches_join,
    lww_register_growable_delta_mutator,
    lww_register_growable_deltas_converge,
    lww_register_growable_codec_roundtrip,
    lww_register_growable_reconcile_sound
);
lattice_laws!("lww_register_compact", CausalLwwSubject<Compact>, FX_OPS;
    lww_register_compact_join_commutative,
    lww_register_compact_join_associative,
    lww_register_compact_join_idempotent,
    lww_register_compact_bottom_is_identity,
    lww_register_compact_leq_matches_join,
    lww_register_compact_delta_mutator,
    lww_register_compact_deltas_converge,
    lww_register_compact_codec_roundtrip,
    lww_register_compact_reconcile_sound
);
compact_agreement_law!("lww_register", CausalLwwSubject<Fx>, CausalLwwSubject<Compact>, FX_OPS; lww_register_fixed_compact_agree);
storage_laws!("lww_register", CausalLwwSubject<Fx>, CausalLwwSubject<Growable>, FX_OPS, CausalLwwSubject<Tiny>;
    lww_register_fixed_growable_agree,
    lww_register_fixed_capacity_error_changes_nothing
);

// mv_register
lattice_laws!("mv_register_fixed", MvRegisterSubject<Fx>, FX_OPS;
    mv_register_fixed_join_commutative,
    mv_register_fixed_join_associative,
    mv_register_fixed_join_idempotent,
    mv_register_fixed_bottom_is_identity,
    mv_register_fixed_leq_matches_join,
    mv_register_fixed_delta_mutator,
    mv_register_fixed_deltas_converge,
    mv_register_fixed_codec_roundtrip,
    mv_register_fixed_reconcile_sound
);
lattice_laws!("mv_register_growable", MvRegisterSubject<Growable>, FX_OPS;
    mv_register_growable_join_commutative,
    mv_register_growable_join_associative,
    mv_register_growable_join_idempotent,
    mv_register_growable_bottom_is_identity,
    mv_register_growable_leq_matches_join,
    mv_register_growable_delta_mutator,
    mv_register_growable_deltas_converge,
    mv_register_growable_codec_roundtrip,
    mv_register_growable_reconcile_sound
);
lattice_laws!("mv_register_compact", MvRegisterSubject<Compact>, FX_OPS;
    mv_register_compact_join_commutative,
    mv_register_compact_join_associative,
    mv_register_compact_join_idempotent,
    mv_register_compact_bottom_is_identity,
    mv_register_compact_leq_matches_join,
    mv_register_compact_delta_mutator,
    mv_register_compact_deltas_converge,
    mv_register_compact_codec_roundtrip,
    mv_register_compact_reconcile_sound
);
compact_agreement_law!("mv_register", MvRegisterSubject<Fx>, MvRegisterSubject<Compact>, FX_OPS; mv_register_fixed_compact_agree);
storage_laws!("mv_register", MvRegisterSubject<Fx>, MvRegisterSubject<Growable>, FX_OPS, MvRegisterSubject<Tiny>;
    mv_register_fixed_growable_agree,
    mv_register_fixed_capacity_error_changes_nothing
);

// ew_flag
lattice_laws!("ew_flag_fixed", EwFlagSubject<Fx>, FX_OPS;
    ew_flag_fixed_join_commutative,
    ew_flag_fixed_join_associative,
    ew_flag_fixed_join_idempotent,
    ew_flag_fixed_bottom_is_identity,
    ew_flag_fixed_leq_matches_join,
    ew_flag_fixed_delta_mutator,
    ew_flag_fixed_deltas_converge,
    ew_flag_fixed_codec_roundtrip,
    ew_flag_fixed_reconcile_sound
);
lattice_laws!("ew_flag_growable", EwFlagSubject<Growable>, FX_OPS;
    ew_flag_growable_join_commutative,
    ew_flag_growable_join_associative,
    ew_flag_growable_join_idempotent,
    ew_flag_growable_bottom_is_identity,
    ew_flag_growable_leq_matches_join,
    ew_flag_growable_delta_mutator,
    ew_flag_growable_deltas_converge,
    ew_flag_growable_codec_roundtrip,
    ew_flag_growable_reconcile_sound
);
lattice_laws!("ew_flag_compact", EwFlagSubject<Compact>, FX_OPS;
    ew_flag_compact_join_commutative,
    ew_flag_compact_join_associative,
    ew_flag_compact_join_idempotent,
    ew_flag_compact_bottom_is_identity,
    ew_flag_compact_leq_matches_join,
    ew_flag_compact_delta_mutator,
    ew_flag_compact_deltas_converge,
    ew_flag_compact_codec_roundtrip,
    ew_flag_compact_reconcile_sound
);
compact_agreement_law!("ew_flag", EwFlagSubject<Fx>, EwFlagSubject<Compact>, FX_OPS; ew_flag_fixed_compact_agree);
storage_laws!("ew_flag", EwFlagSubject<Fx>, EwFlagSubject<Growable>, FX_OPS, EwFlagSubject<Tiny>;
    ew_flag_fixed_growable_agree,
    ew_flag_fixed_capacity_error_changes_nothing
);

// dw_flag
lattice_laws!("dw_flag_fixed", DwFlagSubject<Fx>, FX_OPS;
    dw_flag_fixed_join_commutative,
    dw_flag_fixed_join_associative,
    dw_flag_fixed_join_idempotent,
    dw_flag_fixed_bottom_is_identity,
    dw_flag_fixed_leq_matches_join,
    dw_flag_fixed_delta_mutator,
    dw_flag_fixed_deltas_converge,
    dw_flag_fixed_codec_roundtrip,
    dw_flag_fixed_reconcile_sound
);
lattice_laws!("dw_flag_growable", DwFlagSubject<Growable>, FX_OPS;
    dw_flag_growable_join_commutative,
    dw_flag_growable_join_associative,
    dw_flag_growable_join_idempotent,
    dw_flag_growable_bottom_is_identity,
    dw_flag_growable_leq_matches_join,
    dw_flag_growable_delta_mutator,
    dw_flag_growable_deltas_converge,
    dw_flag_growable_codec_roundtrip,
    dw_flag_growable_reconcile_sound
);
lattice_laws!("dw_flag_compact", DwFlagSubject<Compact>, FX_OPS;
    dw_flag_compact_join_commutative,
    dw_flag_compact_join_associative,
    dw_flag_compact_join_idempotent,
    dw_flag_compact_bottom_is_identity,
    dw_flag_compact_leq_matches_join,
    dw_flag_compact_delta_mutator,
    dw_flag_compact_deltas_converge,
    dw_flag_compact_codec_roundtrip,
    dw_flag_compact_reconcile_sound
);
compact_agreement_law!("dw_flag", DwFlagSubject<Fx>, DwFlagSubject<Compact>, FX_OPS; dw_flag_fixed_compact_agree);
storage_laws!("dw_flag", DwFlagSubject<Fx>, DwFlagSubject<Growable>, FX_OPS, DwFlagSubject<Tiny>;
    dw_flag_fixed_growable_agree,
    dw_flag_fixed_capacity_error_changes_nothing
);

// causal_counter
lattice_laws!("causal_counter_fixed", CausalCounterSubject<Fx>, FX_OPS;
    causal_counter_fixed_join_commutative,
    causal_counter_fixed_join_associative,
    causal_counter_fixed_join_idempotent,
    causal_counter_fixed_bottom_is_identity,
    causal_counter_fixed_leq_matches_join,
    causal_counter_fixed_delta_mutator,
    causal_counter_fixed_deltas_converge,
    causal_counter_fixed_codec_roundtrip,
    causal_counter_fixed_reconcile_sound
);
lattice_laws!("causal_counter_growable", CausalCounterSubject<Growable>, FX_OPS;
    causal_counter_growable_join_commutative,
    causal_counter_growable_join_associative,
    causal_counter_growable_join_idempotent,
    causal_counter_growable_bottom_is_identity,
    causal_counter_growable_leq_matches_join,
    causal_counter_growable_delta_mutator,
    causal_counter_growable_deltas_converge,
    causal_counter_growable_codec_roundtrip,
    causal_counter_growable_reconcile_sound
);
lattice_laws!("causal_counter_compact", CausalCounterSubject<Compact>, FX_OPS;
    causal_counter_compact_join_commutative,
    causal_counter_compact_join_associative,
    causal_counter_compact_join_idempotent,
    causal_counter_compact_bottom_is_identity,
    causal_counter_compact_leq_matches_join,
    causal_counter_compact_delta_mutator,
    causal_counter_compact_deltas_converge,
    causal_counter_compact_codec_roundtrip,
    causal_counter_compact_reconcile_sound
);
compact_agreement_law!("causal_counter", CausalCounterSubject<Fx>, CausalCounterSubject<Compact>, FX_OPS; causal_counter_fixed_compact_agree);
storage_laws!("causal_counter", CausalCounterSubject<Fx>, CausalCounterSubject<Growable>, FX_OPS, CausalCounterSubject<Tiny>;
    causal_counter_fixed_growable_agree,
    causal_counter_fixed_capacity_error_changes_nothing
);

// or_map_aw_set
lattice_laws!("or_map_aw_set_fixed", MapOf<AwSetSubject<FxMap>, FxMap>, MAP_OPS;
    or_map_aw_set_fixed_join_commutative,
    or_map_aw_set_fixed_join_associative,
    or_map_aw_set_fixed_join_idempotent,
    or_map_aw_set_fixed_bottom_is_identity,
    or_map_aw_set_fixed_leq_matches_join,
    or_map_aw_set_fixed_delta_mutator,
    or_map_aw_set_fixed_deltas_converge,
    or_map_aw_set_fixed_codec_roundtrip,
    or_map_aw_set_fixed_reconcile_sound
);
lattice_laws!("or_map_aw_set_growable", MapOf<AwSetSubject<Growable>, Growable>, MAP_OPS;
    or_map_aw_set_growable_join_commutative,
    or_map_aw_set_growable_join_associative,
    or_map_aw_set_growable_join_idempotent,
    or_map_aw_set_growable_bottom_is_identity,
    or_map_aw_set_growable_leq_matches_join,
    or_map_aw_set_growable_delta_mutator,
    or_map_aw_set_growable_deltas_converge,
    or_map_aw_set_growable_codec_roundtrip,
    or_map_aw_set_growable_reconcile_sound
);
lattice_laws!("or_map_aw_set_compact", MapOf<AwSetSubject<Compact>, Compact>, MAP_OPS;
    or_map_aw_set_compact_join_commutative,
    or_map_aw_set_compact_join_associative,
    or_map_aw_set_compact_join_idempotent,
    or_map_aw_set_compact_bottom_is_identity,
    or_map_aw_set_compact_leq_matches_join,
    or_map_aw_set_compact_delta_mutator,
    or_map_aw_set_compact_deltas_converge,
    or_map_aw_set_compact_codec_roundtrip,
    or_map_aw_set_compact_reconcile_sound
);
compact_agreement_law!("or_map_aw_set", MapOf<AwSetSubject<FxMap>, FxMap>, MapOf<AwSetSubject<Compact>, Compact>, MAP_OPS; or_map_aw_set_fixed_compact_agree);
storage_laws!("or_map_aw_set", MapOf<AwSetSubject<FxMap>, FxMap>, MapOf<AwSetSubject<Growable>, Growable>, MAP_OPS, MapOf<AwSetSubject<Tiny>, Tiny>;
    or_map_aw_set_fixed_growable_agree,
    or_map_aw_set_fixed_capacity_error_changes_nothing
);

// or_map_lww_register
lattice_laws!("or_map_lww_register_fixed", MapOf<CausalLwwSubject<FxMap>, FxMap>, MAP_OPS;
    or_map_lww_register_fixed_join_commutative,
    or_map_lww_register_fixed_join_associative,
    or_map_lww_register_fixed_join_idempotent,
    or_map_lww_register_fixed_bottom_is_identity,
    or_map_lww_register_fixed_leq_matches_join,
    or_map_lww_register_fixed_delta_mutator,
    or_map_lww_register_fixed_deltas_converge,
    or_map_lww_register_fixed_codec_roundtrip,
    or_map_lww_register_fixed_reconcile_sound
);
lattice_laws!("or_map_lww_register_growable", MapOf<CausalLwwSubject<Growable>, Growable>, MAP_OPS;
    or_map_lww_register_growable_join_commutative,
    or_map_lww_register_growable_join_associative,
    or_map_lww_register_growable_join_idempotent,
    or_map_lww_register_growable_bottom_is_identity,
    or_map_lww_register_growable_leq_matches_join,
    or_map_lww_register_growable_delta_mutator,
    or_map_lww_register_growable_deltas_converge,
    or_map_lww_register_growable_codec_roundtrip,
    or_map_lww_register_growable_reconcile_sound
);
lattice_laws!("or_map_lww_register_compact", MapOf<CausalLwwSubject<Compact>, Compact>, MAP_OPS;
    or_map_lww_register_compact_join_commutative,
    or_map_lww_register_compact_join_associative,
    or_map_lww_register_compact_join_idempotent,
    or_map_lww_register_compact_bottom_is_identity,
    or_map_lww_register_compact_leq_matches_join,
    or_map_lww_register_compact_delta_mutator,
    or_map_lww_register_compact_deltas_converge,
    or_map_lww_register_compact_codec_roundtrip,
    or_map_lww_register_compact_reconcile_sound
);
compact_agreement_law!("or_map_lww_register", MapOf<CausalLwwSubject<FxMap>, FxMap>, MapOf<CausalLwwSubject<Compact>, Compact>, MAP_OPS; or_map_lww_register_fixed_compact_agree);
storage_laws!("or_map_lww_register", MapOf<CausalLwwSubject<FxMap>, FxMap>, MapOf<CausalLwwSubject<Growable>, Growable>, MAP_OPS, MapOf<CausalLwwSubject<Tiny>, Tiny>;
    or_map_lww_register_fixed_growable_agree,
    or_map_lww_register_fixed_capacity_error_changes_nothing
);

// or_map_pn_counter
lattice_laws!("or_map_pn_counter_fixed", MapOf<PNCounterValue<FxMap>, FxMap>, MAP_OPS;
    or_map_pn_counter_fixed_join_commutative,
    or_map_pn_counter_fixed_join_associative,
    or_map_pn_counter_fixed_join_idempotent,
    or_map_pn_counter_fixed_bottom_is_identity,
    or_map_pn_counter_fixed_leq_matches_join,
    or_map_pn_counter_fixed_delta_mutator,
    or_map_pn_counter_fixed_deltas_converge,
    or_map_pn_counter_fixed_codec_roundtrip,
    or_map_pn_counter_fixed_reconcile_sound
);
lattice_laws!("or_map_pn_counter_growable", MapOf<PNCounterValue<Growable>, Growable>, MAP_OPS;
    or_map_pn_counter_growable_join_commutative,
    or_map_pn_counter_growable_join_associative,
    or_map_pn_counter_growable_join_idempotent,
    or_map_pn_counter_growable_bottom_is_identity,
    or_map_pn_counter_growable_leq_matches_join,
    or_map_pn_counter_growable_delta_mutator,
    or_map_pn_counter_growable_deltas_converge,
    or_map_pn_counter_growable_codec_roundtrip,
    or_map_pn_counter_growable_reconcile_sound
);
lattice_laws!("or_map_pn_counter_compact", MapOf<PNCounterValue<Compact>, Compact>, MAP_OPS;
    or_map_pn_counter_compact_join_commutative,
    or_map_pn_counter_compact_join_associative,
    or_map_pn_counter_compact_join_idempotent,
    or_map_pn_counter_compact_bottom_is_identity,
    or_map_pn_counter_compact_leq_matches_join,
    or_map_pn_counter_compact_delta_mutator,
    or_map_pn_counter_compact_deltas_converge,
    or_map_pn_counter_compact_codec_roundtrip,
    or_map_pn_counter_compact_reconcile_sound
);
compact_agreement_law!("or_map_pn_counter", MapOf<PNCounterValue<FxMap>, FxMap>, MapOf<PNCounterValue<Compact>, Compact>, MAP_OPS; or_map_pn_counter_fixed_compact_agree);
storage_laws!("or_map_pn_counter", MapOf<PNCounterValue<FxMap>, FxMap>, MapOf<PNCounterValue<Growable>, Growable>, MAP_OPS, MapOf<PNCounterValue<Tiny>, Tiny>;
    or_map_pn_counter_fixed_growable_agree,
    or_map_pn_counter_fixed_capacity_error_changes_nothing
);

// or_map_nested_mv_register
lattice_laws!("or_map_nested_mv_register_fixed", MapOf<MapOf<MvRegisterSubject<FxMap>, FxMap>, FxMap>, MAP_OPS;
    or_map_nested_mv_register_fixed_join_commutative,
    or_map_nested_mv_register_fixed_join_associative,
    or_map_nested_mv_register_fixed_join_idempotent,
    or_map_nested_mv_register_fixed_bottom_is_identity,
    or_map_nested_mv_register_fixed_leq_matches_join,
    or_map_nested_mv_register_fixed_delta_mutator,
    or_map_nested_mv_register_fixed_deltas_converge,
    or_map_nested_mv_register_fixed_codec_roundtrip,
    or_map_nested_mv_register_fixed_reconcile_sound
);
lattice_laws!("or_map_nested_mv_register_growable", MapOf<MapOf<MvRegisterSubject<Growable>, Growable>, Growable>, MAP_OPS;
    or_map_nested_mv_register_growable_join_commutative,
    or_map_nested_mv_register_growable_join_associative,
    or_map_nested_mv_register_growable_join_idempotent,
    or_map_nested_mv_register_growable_bottom_is_identity,
    or_map_nested_mv_register_growable_leq_matches_join,
    or_map_nested_mv_register_growable_delta_mutator,
    or_map_nested_mv_register_growable_deltas_converge,
    or_map_nested_mv_register_growable_codec_roundtrip,
    or_map_nested_mv_register_growable_reconcile_sound
);
lattice_laws!("or_map_nested_mv_register_compact", MapOf<MapOf<MvRegisterSubject<Compact>, Compact>, Compact>, MAP_OPS;
    or_map_nested_mv_register_compact_join_commutative,
    or_map_nested_mv_register_compact_join_associative,
    or_map_nested_mv_register_compact_join_idempotent,
    or_map_nested_mv_register_compact_bottom_is_identity,
    or_map_nested_mv_register_compact_leq_matches_join,
    or_map_nested_mv_register_compact_delta_mutator,
    or_map_nested_mv_register_compact_deltas_converge,
    or_map_nested_mv_register_compact_codec_roundtrip,
    or_map_nested_mv_register_compact_reconcile_sound
);
compact_agreement_law!("or_map_nested_mv_register", MapOf<MapOf<MvRegisterSubject<FxMap>, FxMap>, FxMap>, MapOf<MapOf<MvRegisterSubject<Compact>, Compact>, Compact>, MAP_OPS; or_map_nested_mv_register_fixed_compact_agree);
storage_laws!("or_map_nested_mv_register", MapOf<MapOf<MvRegisterSubject<FxMap>, FxMap>, FxMap>, MapOf<MapOf<MvRegisterSubject<Growable>, Growable>, Growable>, MAP_OPS, MapOf<MapOf<MvRegisterSubject<Tiny>, Tiny>, Tiny>;
    or_map_nested_mv_register_fixed_growable_agree,
    or_map_nested_mv_register_fixed_capacity_error_changes_nothing
);

// Maps whose values use smaller fixed tables than the map (the value storage is
// independent of the map's context storage); their growable form is the one above.

// or_map_small_aw_set
lattice_laws!("or_map_small_aw_set_fixed", MapOf<AwSetSubject<FxVal>, FxCx>, MAP_OPS;
    or_map_small_aw_set_fixed_join_commutative,
    or_map_small_aw_set_fixed_join_associative,
    or_map_small_aw_set_fixed_join_idempotent,
    or_map_small_aw_set_fixed_bottom_is_identity,
    or_map_small_aw_set_fixed_leq_matches_join,
    or_map_small_aw_set_fixed_delta_mutator,
    or_map_small_aw_set_fixed_deltas_converge,
    or_map_small_aw_set_fixed_codec_roundtrip,
    or_map_small_aw_set_fixed_reconcile_sound
);
agreement_law!("or_map_small_aw_set", MapOf<AwSetSubject<FxVal>, FxCx>, MapOf<AwSetSubject<Growable>, Growable>, MAP_OPS;
    or_map_small_aw_set_fixed_growable_agree
);

// or_map_nested_small_mv_register
lattice_laws!("or_map_nested_small_mv_register_fixed", MapOf<MapOf<MvRegisterSubject<FxNestVal>, FxNestVal>, FxCx>, MAP_OPS;
    or_map_nested_small_mv_register_fixed_join_commutative,
    or_map_nested_small_mv_register_fixed_join_associative,
    or_map_nested_small_mv_register_fixed_join_idempotent,
    or_map_nested_small_mv_register_fixed_bottom_is_identity,
    or_map_nested_small_mv_register_fixed_leq_matches_join,
    or_map_nested_small_mv_register_fixed_delta_mutator,
    or_map_nested_small_mv_register_fixed_deltas_converge,
    or_map_nested_small_mv_register_fixed_codec_roundtrip,
    or_map_nested_small_mv_register_fixed_reconcile_sound
);
agreement_law!("or_map_nested_small_mv_register", MapOf<MapOf<MvRegisterSubject<FxNestVal>, FxNestVal>, FxCx>, MapOf<MapOf<MvRegisterSubject<Growable>, Growable>, Growable>, MAP_OPS;
    or_map_nested_small_mv_register_fixed_growable_agree
);

// ---------------------------------------------------------------------------------
// Regressions: failing cases found by the properties above, pinned deterministically.
// ---------------------------------------------------------------------------------

/// Found by `mv_register_*_join_associative` (and the same law for every type whose
/// dot store is a `DotFun`: flags, counters, LWW, AW/RW-set elements, map values).
///
/// Replica r writes 1, 2, 3, then clears. `b` is r's state after the first write,
/// `a` the delta of the third write (context {r:2, r:3}: it overwrote r:2 and never saw
/// r:1 live), `c` the delta of the clear (context {r:3}). `a ⊔ b` holds two live dots of
/// one replica, r:1 and r:3: neither side has seen the other's dot removed. A join that
/// keeps only the later dot forgets r:1 while recording it as seen, so
/// `(a ⊔ b) ⊔ c` was empty but `a ⊔ (b ⊔ c)` held 1: two replicas that received the
/// same three messages in different orders disagreed.
fn two_dots_of_one_replica_join_associatively<S: starling_core::Storage>() {
    use starling_core::{Lattice, ReplicaId, WireFormat};
    let r = ReplicaId(1);
    let mut x = MvRegister::<u8, S>::default();
    x.write(r, 1).unwrap();
    let b = x.clone();
    x.write(r, 2).unwrap();
    let a = x.write(r, 3).unwrap();
    let c = x.clear().unwrap();
    let left = a.joined(&b).unwrap().joined(&c).unwrap();
    let right = a.joined(&b.joined(&c).unwrap()).unwrap();
    assert_eq!(left, right, "(a ⊔ b) ⊔ c != a ⊔ (b ⊔ c)");
    assert_eq!(left.to_vec(), right.to_vec());
    // r:1 is only removed by the delta of the second write, which none of them carries.
    assert_eq!(left.values().collect::<Vec<_>>(), [&1]);
    // With that delta too, everything converges to the cleared register.
    let d2 = {
        let mut y = MvRegister::<u8, S>::default();
        y.write(r, 1).unwrap();
        y.write(r, 2).unwrap()
    };
    let all = left.joined(&d2).unwrap();
    assert_eq!(all.values().count(), 0);
    assert_eq!(all, x);
}

#[test]
fn mv_register_growable_two_dots_of_one_replica_join_associatively() {
    two_dots_of_one_replica_join_associatively::<Growable>();
}

#[test]
fn mv_register_fixed_two_dots_of_one_replica_join_associatively() {
    two_dots_of_one_replica_join_associatively::<Fixed<4, 4>>();
}
