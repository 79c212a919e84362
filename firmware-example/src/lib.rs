//! Board support for QEMU's `mps2-an386` (Arm MPS2 with a Cortex-M4): what the sensor
//! node firmware, the bare UDP firmware and the on-target tests share.
//!
//! * [`time_driver`]: an embassy-time driver on SysTick (1 kHz).
//! * [`ethernet`]: the board's LAN9118 at `0x4020_0000` on IRQ 13, for [`lan9118`].
//! * [`boot_args`]: the command line QEMU passes over semihosting (`arg=` options).
//! * [`exit`] and the panic handlers: the exit code reaches QEMU's host process.
//!
//! Logging goes out with defmt over semihosting (stdout); decode with `defmt-print`.

#![no_std]
#![warn(missing_docs)]

use defmt_semihosting as _;

pub mod boot_args;
pub mod ethernet;
pub mod time_driver;

/// The core clock of the MPS2 FPGA images in QEMU (25 MHz).
pub const CORE_CLOCK_HZ: u32 = 25_000_000;

/// Ends the program with an exit code for QEMU's process: 0 for success.
pub fn exit(success: bool) -> ! {
    let status = if success {
        cortex_m_semihosting::debug::EXIT_SUCCESS
    } else {
        cortex_m_semihosting::debug::EXIT_FAILURE
    };
    loop {
        cortex_m_semihosting::debug::exit(status);
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => defmt::error!("panic at {=str}:{=u32}", at.file(), at.line()),
        None => defmt::error!("panic"),
    }
    exit(false)
}

#[defmt::panic_handler]
fn defmt_panic() -> ! {
    exit(false)
}
