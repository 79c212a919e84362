//! Four replicas of a small sensor network edit one shared document while offline, then
//! exchange encoded deltas over a lossy link until they agree.
//!
//! Run with `cargo run --release --example offline_edits`.
//!
//! The document is an `OrMap` with three kinds of values, all allocation-free
//! (`Fixed` storage): last readings per sensor (last-writer-wins), an event counter, and
//! a set of active alerts (add-wins). Each replica keeps the deltas it made, encodes them
//! into byte buffers as a radio would, and re-sends whatever a lossy link dropped.

use starling_core::{
    AwSet, CausalCounter, Fixed, HybridClock, Lattice, LwwRegister, OrMap, ReplicaId, WireFormat,
};

/// 32 keys, 8 replicas, no heap.
type S = Fixed<32, 8>;
type Readings = OrMap<u16, LwwRegister<i32>, S>;
type Counters = OrMap<u16, CausalCounter<S>, S>;
type Alerts = OrMap<u16, AwSet<u16, Fixed<8, 8>>, S>;

const REPLICAS: u64 = 4;

#[derive(Clone, Default, PartialEq, Debug)]
struct Document {
    readings: Readings,
    counters: Counters,
    alerts: Alerts,
}

/// One encoded delta, as it would travel in a datagram.
#[derive(Clone)]
struct Packet {
    kind: u8,
    bytes: Vec<u8>,
}

struct Replica {
    id: ReplicaId,
    clock: HybridClock,
    doc: Document,
    outbox: Vec<Packet>,
}

impl Replica {
    fn encode<T: WireFormat>(&mut self, kind: u8, delta: &T) {
        let mut buf = [0u8; 512];
        let bytes = delta
            .to_slice(&mut buf)
            .expect("a single delta fits 512 bytes");
        self.outbox.push(Packet {
            kind,
            bytes: bytes.to_vec(),
        });
    }

    fn edit(&mut self, step: u64) -> Result<(), starling_core::CapacityError> {
        let (id, wall_ms) = (self.id, 1_700_000_000_000 + step * 250);
        let sensor = (self.id.0 * 10 + step % 3) as u16;
        let stamp = self.clock.now(wall_ms);
        let reading = (step * 7 + self.id.0) as i32;
        let d = self
            .doc
            .readings
            .update(&sensor, |r, cx| r.set_delta(cx, id, stamp, reading))?;
        self.encode(0, &d);
        let d = self
            .doc
            .counters
            .update(&1, |c, cx| c.increment_delta(cx, id, 1))?;
        self.encode(1, &d);
        if step.is_multiple_of(4) {
            let alert = (step % 5) as u16;
            let d = self
                .doc
                .alerts
                .update(&0, |s, cx| s.add_delta(cx, id, alert))?;
            self.encode(2, &d);
        }
        if step % 6 == 5 {
            let d = self
                .doc
                .alerts
                .update(&0, |s, _| s.remove_delta(&(((step - 1) % 5) as u16)))?;
            self.encode(2, &d);
        }
        Ok(())
    }

    fn receive(&mut self, packet: &Packet) -> Result<(), Box<dyn std::error::Error>> {
        match packet.kind {
            0 => self
                .doc
                .readings
                .join(&Readings::from_bytes(&packet.bytes, 512)?)?,
            1 => self
                .doc
                .counters
                .join(&Counters::from_bytes(&packet.bytes, 512)?)?,
            _ => self
                .doc
                .alerts
                .join(&Alerts::from_bytes(&packet.bytes, 512)?)?,
        }
        Ok(())
    }
}

/// A deterministic lossy link: drops about one packet in `1 / loss`.
struct Link(u64);
impl Link {
    fn delivers(&mut self) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 10 >= 3 // 30% loss
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut replicas: Vec<Replica> = (1..=REPLICAS)
        .map(|i| Replica {
            id: ReplicaId(i),
            clock: HybridClock::new(),
            doc: Document::default(),
            outbox: Vec::new(),
        })
        .collect();

    // Offline: every replica edits on its own.
    for step in 0..12 {
        for r in &mut replicas {
            r.edit(step)?;
        }
    }
    let made: usize = replicas.iter().map(|r| r.outbox.len()).sum();
    println!("offline: {REPLICAS} replicas made {made} deltas");
    for r in &replicas {
        println!(
            "  {}: {} readings, events {}, alerts {:?}",
            r.id,
            r.doc.readings.len(),
            r.doc.counters.get(&1).map_or(0, |c| c.value()),
            r.doc
                .alerts
                .get(&0)
                .map(|s| s.iter().copied().collect::<Vec<_>>())
                .unwrap_or_default()
        );
    }

    // Back online: gossip rounds over a link losing 30% of packets; every replica
    // re-sends its whole delta log each round (deltas are idempotent, so re-sends are safe).
    let mut link = Link(0x9E37_79B9_7F4A_7C15);
    let (mut round, mut bytes, mut sent) = (0, 0usize, 0usize);
    while replicas.windows(2).any(|w| w[0].doc != w[1].doc) {
        round += 1;
        let packets: Vec<(usize, Packet)> = replicas
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.outbox.iter().cloned().map(move |p| (i, p)))
            .collect();
        for (from, packet) in &packets {
            for (to, r) in replicas.iter_mut().enumerate() {
                if to != *from {
                    sent += 1;
                    bytes += packet.bytes.len();
                    if link.delivers() {
                        r.receive(packet)?;
                    }
                }
            }
        }
        let synced = replicas.iter().filter(|r| r.doc == replicas[0].doc).count();
        println!("round {round}: {synced}/{REPLICAS} replicas identical to replica 1");
    }

    let doc = &replicas[0].doc;
    println!("converged after {round} rounds: {sent} packets, {bytes} bytes sent with 30% loss");
    println!(
        "  events counted: {}",
        doc.counters.get(&1).map_or(0, |c| c.value())
    );
    println!(
        "  active alerts: {:?}",
        doc.alerts
            .get(&0)
            .map(|s| s.iter().copied().collect::<Vec<_>>())
            .unwrap_or_default()
    );
    for (sensor, reading) in doc.readings.iter().take(4) {
        println!("  sensor {sensor}: {:?}", reading.value());
    }
    let state_bytes =
        doc.readings.encoded_len() + doc.counters.encoded_len() + doc.alerts.encoded_len();
    println!("  full document encodes to {state_bytes} bytes");
    assert!(replicas.iter().all(|r| r.doc == *doc), "replicas diverged");
    println!("all {REPLICAS} replicas hold the identical state");
    Ok(())
}
