//! Quick simulation checks while the node is developed.

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use starling_core::{AwSet, CapacityError, Growable, ReplicaId};
use starling_sync::Config;
use starling_tests::netsim::{Faults, Simulation, Topology, Workload};

struct SetWorkload;
impl Workload for SetWorkload {
    type Doc = AwSet<u8, Growable>;
    fn update(
        doc: &mut Self::Doc,
        replica: ReplicaId,
        _now: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self::Doc, CapacityError> {
        let x = (rng.next_u32() % 16) as u8;
        if rng.next_u32() % 3 == 0 {
            doc.remove(&x)
        } else {
            doc.add(replica, x)
        }
    }
}

fn run(seed: u64, topology: Topology, faults: Faults) {
    let mut config = Config::new(1200);
    config.sync_interval_ms = 100;
    let mut sim = Simulation::<SetWorkload>::new(seed, 6, topology, faults, config);
    match sim.run_scenario(40, 50, 60_000) {
        Ok(r) => println!("seed {seed}: {r:?}"),
        Err(e) => panic!("seed {seed}: {e}"),
    }
}

#[test]
fn smoke_no_faults() {
    run(1, Topology::FullMesh, Faults::NONE);
}

#[test]
fn smoke_loss_and_dups() {
    for seed in 0..20 {
        run(
            seed,
            Topology::PartialMesh(3),
            Faults {
                loss: 0.2,
                duplicate: 0.1,
                latency_ms: (5, 80),
                partition: 0.05,
                crash: 0.05,
            },
        );
    }
}
