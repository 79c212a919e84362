//! The replicated document of the sensor network and the application's operations on it.
//!
//! Every replica (the host and each sensor node) holds one [`Doc`]:
//!
//! * **readings**: an [`OrMap`](starling_core::OrMap) from a register key to a last-writer-wins register of an
//!   `i32` (centi-units: centi-degrees Celsius, centi-percent humidity). Keys are laid
//!   out per replica, [`KEYS_PER_REPLICA`] each: [`reading_key`] for a sensor, and
//!   [`applied_key`] for the configuration the node has applied (how the host sees that
//!   a node reacted to a configuration change).
//! * **events**: a [`GCounter`] of the samples each node took.
//! * **fast reporting**: an enable-wins flag ([`EwFlag`]) that another replica (the
//!   host) sets; nodes that see it sample faster and acknowledge it under
//!   [`applied_key`].
//!
//! Capacities are fixed ([`Fixed`]): 16 registers, 8 replicas. No allocator.

use starling_core::{
    CapacityError, Causal, EwFlag, Fixed, GCounter, LwwStore, OrMapStore, ReplicaId,
};

/// Replicas that may ever write to a document.
pub const REPLICAS: usize = 8;
/// Registers in the readings map.
pub const REGISTERS: usize = 16;
/// Registers reserved for each replica: `replica.0 * KEYS_PER_REPLICA ..`.
pub const KEYS_PER_REPLICA: u8 = 4;
/// The replica id of the host replica (it sets the configuration).
pub const HOST: ReplicaId = ReplicaId(1);

/// Storage of the map's key table: 16 keys.
pub type MapStorage = Fixed<REGISTERS, REPLICAS>;
/// Storage of the causal contexts (the map's and the flag's, one type so that their code
/// is shared): 8 replicas, and 4 ranges of dots seen out of order (deltas arriving out of
/// order or partial catch-ups; gaps fill as the rest arrives).
pub type ContextStorage = Fixed<4, REPLICAS>;
/// Storage of one register's concurrent writes: one slot, because every register has
/// one writer, its owner. [`publish_reading`] and [`publish_applied`] write only keys of
/// the writing replica, and a writer's later write has seen its earlier ones, so a
/// register never holds two concurrent values (out-of-order deltas included).
pub type RegisterStorage = Fixed<0, 1>;
/// One reading: the value, stamped by a per-key Lamport time (32 bits: a write every
/// 250 ms for 34 years).
pub type Register = LwwStore<i32, u32, RegisterStorage>;
/// The readings map: register key to reading.
pub type Readings = Causal<OrMapStore<u8, Register, MapStorage>, ContextStorage>;
/// Samples taken, per replica.
pub type Events = GCounter<Fixed<0, REPLICAS>>;
/// The configuration flag: fast reporting on or off (at most 4 replicas enabling it
/// concurrently).
pub type FastReporting = EwFlag<ContextStorage>;
/// The replicated document: `(readings, (events, fast reporting))`.
pub type Doc = (Readings, (Events, FastReporting));

/// The sensors a node reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sensor {
    /// Temperature in centi-degrees Celsius.
    Temperature = 0,
    /// Relative humidity in centi-percent.
    Humidity = 1,
    /// Air pressure in pascal.
    Pressure = 2,
}

impl Sensor {
    /// Every sensor of a node.
    pub const ALL: [Sensor; 3] = [Sensor::Temperature, Sensor::Humidity, Sensor::Pressure];
}

/// The configuration a node reports as applied under [`applied_key`].
pub mod applied {
    /// Normal reporting.
    pub const NORMAL: i32 = 0;
    /// Fast reporting (the flag is on).
    pub const FAST: i32 = 1;
}

/// The register key of `sensor` of `replica`, or `None` if the replica id is out of the
/// key space (ids `0 ..= REGISTERS / KEYS_PER_REPLICA - 1`).
pub fn reading_key(replica: ReplicaId, sensor: Sensor) -> Option<u8> {
    base_key(replica).map(|k| k + sensor as u8)
}

/// The register key under which `replica` reports the configuration it applied.
pub fn applied_key(replica: ReplicaId) -> Option<u8> {
    base_key(replica).map(|k| k + KEYS_PER_REPLICA - 1)
}

fn base_key(replica: ReplicaId) -> Option<u8> {
    let key = replica.0.checked_mul(u64::from(KEYS_PER_REPLICA))?;
    if key + u64::from(KEYS_PER_REPLICA) <= REGISTERS as u64 {
        u8::try_from(key).ok()
    } else {
        None
    }
}

/// A doc holding only `readings` (a delta of the first component).
fn with_readings(readings: Readings) -> Doc {
    (readings, Default::default())
}

/// Publishes `value` as the reading of `sensor` of `replica` (in its own register);
/// returns the delta. [`CapacityError`] if the replica has no registers (see
/// [`reading_key`]).
pub fn publish_reading(
    doc: &mut Doc,
    replica: ReplicaId,
    sensor: Sensor,
    value: i32,
) -> Result<Doc, CapacityError> {
    let key = reading_key(replica, sensor).ok_or(CapacityError)?;
    write(doc, replica, key, value)
}

/// Records that `replica` applied configuration `value` (one of [`applied`]); returns
/// the delta. [`CapacityError`] if the replica has no registers.
pub fn publish_applied(
    doc: &mut Doc,
    replica: ReplicaId,
    value: i32,
) -> Result<Doc, CapacityError> {
    let key = applied_key(replica).ok_or(CapacityError)?;
    write(doc, replica, key, value)
}

/// Writes `value` to register `key` as `replica`; returns the delta. The stamp is one
/// more than the greatest stamp the register holds, so the write wins over everything
/// this replica has seen of the key (a per-key Lamport clock: nothing to persist).
fn write(doc: &mut Doc, replica: ReplicaId, key: u8, value: i32) -> Result<Doc, CapacityError> {
    let stamp = reading_stamp(doc, key).map_or(1, |(t, _)| t.saturating_add(1));
    let delta = doc.0.apply(|map, cx| {
        map.update_delta(cx, &key, |register, cx| {
            register.set_delta(cx, replica, stamp, value)
        })
    })?;
    Ok(with_readings(delta))
}

/// The value of register `key`, if written.
pub fn reading(doc: &Doc, key: u8) -> Option<i32> {
    doc.0.get(&key).and_then(|r| r.value().copied())
}

/// The stamp (Lamport time, writer) of register `key`, if written.
pub fn reading_stamp(doc: &Doc, key: u8) -> Option<(u32, ReplicaId)> {
    doc.0.get(&key).and_then(|r| r.stamp())
}

/// Counts `n` events of `replica`; returns the delta.
pub fn count_events(doc: &mut Doc, replica: ReplicaId, n: u64) -> Result<Doc, CapacityError> {
    let delta = doc.1.0.increment(replica, n)?;
    Ok((Default::default(), (delta, Default::default())))
}

/// Events counted by `replica`.
pub fn events_of(doc: &Doc, replica: ReplicaId) -> u64 {
    doc.1.0.get(replica)
}

/// All events counted.
pub fn events_total(doc: &Doc) -> u64 {
    doc.1.0.value()
}

/// Turns fast reporting on as `replica`; returns the delta.
pub fn enable_fast_reporting(doc: &mut Doc, replica: ReplicaId) -> Result<Doc, CapacityError> {
    let delta = doc.1.1.enable(replica)?;
    Ok((Default::default(), (Default::default(), delta)))
}

/// Turns fast reporting off (every enable seen so far); returns the delta.
pub fn disable_fast_reporting(doc: &mut Doc) -> Result<Doc, CapacityError> {
    let delta = doc.1.1.disable()?;
    Ok((Default::default(), (Default::default(), delta)))
}

/// Whether fast reporting is on.
pub fn fast_reporting(doc: &Doc) -> bool {
    doc.1.1.value()
}

/// A simulated sensor: a deterministic, slowly varying signal per replica and sensor,
/// so runs are reproducible and the host can recompute what a node published.
pub fn simulated_sample(replica: ReplicaId, sensor: Sensor, sample: u32) -> i32 {
    // A triangle wave around a base value: 21.00 °C ± 1.50, 45.00 % ± 5.00,
    // 1013.25 hPa ± 3.00.
    let (base, swing) = match sensor {
        Sensor::Temperature => (2100, 150),
        Sensor::Humidity => (4500, 500),
        Sensor::Pressure => (101_325, 300),
    };
    let period = 20 + (replica.0 % 7) as u32 * 2;
    let phase = (sample % period) as i32;
    let half = (period / 2) as i32;
    let tri = if phase < half {
        phase
    } else {
        2 * half - phase
    };
    base - swing + 2 * swing * tri / half.max(1) + (replica.0 % 5) as i32 * 10
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use starling_core::{Lattice, WireFormat};

    const A: ReplicaId = ReplicaId(2);
    const B: ReplicaId = ReplicaId(3);

    #[test]
    fn keys_are_laid_out_per_replica() {
        assert_eq!(reading_key(A, Sensor::Temperature), Some(8));
        assert_eq!(reading_key(A, Sensor::Humidity), Some(9));
        assert_eq!(reading_key(A, Sensor::Pressure), Some(10));
        assert_eq!(applied_key(A), Some(11));
        assert_eq!(applied_key(ReplicaId(3)), Some(15));
        assert_eq!(reading_key(ReplicaId(4), Sensor::Temperature), None);
        assert_eq!(applied_key(ReplicaId(u64::MAX)), None);
    }

    #[test]
    fn later_writes_win_and_replicas_converge() {
        let mut a = Doc::default();
        let mut b = Doc::default();
        let key = reading_key(A, Sensor::Temperature).unwrap();
        let d1 = publish_reading(&mut a, A, Sensor::Temperature, 2100).unwrap();
        let d2 = publish_reading(&mut a, A, Sensor::Temperature, 2150).unwrap();
        assert_eq!(reading_stamp(&a, key), Some((2, A)));
        // Out of order: the later write still wins, and one slot holds the register.
        b.join(&d2).unwrap();
        b.join(&d1).unwrap();
        assert_eq!(reading(&b, key), Some(2150));
        let d3 = publish_reading(&mut b, B, Sensor::Pressure, 100_000).unwrap();
        a.join(&d3).unwrap();
        assert_eq!(a, b);
        // A replica without registers cannot write.
        let mut c = Doc::default();
        assert_eq!(
            publish_reading(&mut c, ReplicaId(9), Sensor::Humidity, 1),
            Err(CapacityError)
        );
        assert_eq!(publish_applied(&mut c, ReplicaId(9), 1), Err(CapacityError));
        assert_eq!(c, Doc::default());
    }

    #[test]
    fn counter_and_flag_round_trip() {
        let mut host = Doc::default();
        let mut node = Doc::default();
        let d = enable_fast_reporting(&mut host, HOST).unwrap();
        assert!(!fast_reporting(&node));
        node.join(&d).unwrap();
        assert!(fast_reporting(&node));
        let e = count_events(&mut node, A, 3).unwrap();
        host.join(&e).unwrap();
        assert_eq!(events_of(&host, A), 3);
        assert_eq!(events_total(&host), 3);
        let off = disable_fast_reporting(&mut host).unwrap();
        node.join(&off).unwrap();
        assert!(!fast_reporting(&node));
    }

    /// The firmware's message buffer must hold a whole document (the largest catch-up):
    /// fill every register, replica and flag slot and check the encoded size.
    #[test]
    fn a_full_document_encodes_within_512_bytes() {
        let mut doc = Doc::default();
        for r in 0..4u64 {
            let replica = ReplicaId(r);
            for sensor in Sensor::ALL {
                for i in 0..1000 {
                    publish_reading(&mut doc, replica, sensor, -2_000_000_000 + i).unwrap();
                }
            }
            publish_applied(&mut doc, replica, i32::MIN).unwrap();
        }
        for r in 0..REPLICAS as u64 {
            count_events(&mut doc, ReplicaId(r), u64::from(u32::MAX)).unwrap();
            enable_fast_reporting(&mut doc, ReplicaId(r)).unwrap();
        }
        assert_eq!(doc.0.len(), REGISTERS);
        let mut buf = [0u8; 1024];
        let len = doc.to_slice(&mut buf).unwrap().len();
        assert!(len <= 512, "a full document takes {len} bytes");
        std::println!("a full document encodes to {len} bytes");
        let back = Doc::from_bytes(&buf[..len], 1024).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn simulated_samples_stay_in_range() {
        for r in 0..4 {
            for i in 0..100 {
                let t = simulated_sample(ReplicaId(r), Sensor::Temperature, i);
                let h = simulated_sample(ReplicaId(r), Sensor::Humidity, i);
                let p = simulated_sample(ReplicaId(r), Sensor::Pressure, i);
                assert!((1900..=2300).contains(&t), "{t}");
                assert!((3900..=5100).contains(&h), "{h}");
                assert!((100_900..=101_700).contains(&p), "{p}");
            }
        }
    }
}
