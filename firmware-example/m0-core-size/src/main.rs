//! starling-core alone on a Cortex-M0. Built twice by `cargo xtask size`: bare, and with
//! feature `crdts`, which adds one `AwSet` and one `GCounter` (add, remove, increment,
//! join, encode, decode). The difference is what the two CRDTs cost in flash and RAM.

#![no_std]
#![no_main]

use cortex_m_rt::entry;

#[entry]
fn main() -> ! {
    #[cfg(feature = "crdts")]
    crdts::exercise();
    loop {
        cortex_m::asm::wfi();
    }
}

#[cfg(feature = "crdts")]
mod crdts {
    use core::hint::black_box;
    use starling_core::{AwSet, Fixed, GCounter, Lattice, ReplicaId, WireFormat};

    /// 16 elements, 4 replicas.
    type Set = AwSet<u16, Fixed<16, 4>>;
    /// 4 replicas.
    type Counter = GCounter<Fixed<0, 4>>;

    /// Every operation a small device needs, on inputs the optimiser cannot see.
    pub(crate) fn exercise() {
        let me = ReplicaId(black_box(1));
        let mut set = Set::default();
        let mut other = Set::default();
        let mut counter = Counter::default();
        let mut buf = [0u8; 256];
        if let Ok(delta) = set.add(me, black_box(7)) {
            let _ = other.join(&delta);
        }
        if let Ok(delta) = other.remove(&black_box(7)) {
            let _ = set.join(&delta);
        }
        if let Ok(delta) = counter.increment(me, black_box(3)) {
            let _ = counter.join(&delta);
        }
        if let Ok(bytes) = set.to_slice(&mut buf) {
            let len = bytes.len();
            black_box(Set::from_bytes(&buf[..len], 256).ok());
        }
        if let Ok(bytes) = counter.to_slice(&mut buf) {
            let len = bytes.len();
            black_box(Counter::from_bytes(&buf[..len], 256).ok());
        }
        black_box((set.contains(&7), counter.value()));
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    cortex_m::asm::udf()
}
