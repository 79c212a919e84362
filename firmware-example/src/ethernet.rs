//! The board's Ethernet: a LAN9118 at [`LAN9118_BASE`] on interrupt [`LAN9118_IRQ`].

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use cortex_m_rt::exception;
use embassy_sync::waitqueue::AtomicWaker;
use lan9118::{Lan9118, Mmio};

/// Base address of the LAN9118's registers on MPS2 boards.
pub const LAN9118_BASE: usize = 0x4020_0000;
/// The LAN9118's interrupt line on the NVIC.
pub const LAN9118_IRQ: u16 = 13;

/// Woken by the chip's interrupt when frames arrive.
static RX_WAKER: AtomicWaker = AtomicWaker::new();

/// An NVIC interrupt line by number (the board has no peripheral access crate).
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: `number` returns a valid interrupt number of this board.
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// A locally administered MAC address for replica number `id`: `02:53:54:00:00:id`.
pub fn mac_address(id: u8) -> [u8; 6] {
    [0x02, 0x53, 0x54, 0x00, 0x00, id]
}

/// Brings the chip up with `mac` and unmasks its interrupt.
pub fn init(mac: [u8; 6]) -> Result<Lan9118<'static, Mmio>, lan9118::Error> {
    // SAFETY: the MPS2 memory map puts a LAN9118 at LAN9118_BASE; the driver is its
    // only user besides the interrupt handler below, which touches INT_STS only.
    let regs = unsafe { Mmio::new(LAN9118_BASE) };
    let driver = Lan9118::new(regs, &RX_WAKER, Some(mac))?;
    // SAFETY: the handler below is ready for this interrupt; no mask-based critical
    // section depends on it being masked.
    unsafe { NVIC::unmask(Irq(LAN9118_IRQ)) };
    Ok(driver)
}

/// Interrupts without a handler of their own land here (no PAC: every device
/// interrupt is routed to the default handler).
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == LAN9118_IRQ as i16 {
        // SAFETY: as in `init`; acknowledging an interrupt does not disturb the FIFOs.
        let mut regs = unsafe { Mmio::new(LAN9118_BASE) };
        lan9118::on_interrupt(&mut regs, &RX_WAKER);
    } else {
        defmt::panic!("unexpected interrupt {}", irqn);
    }
}
