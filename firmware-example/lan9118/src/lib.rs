//! An [`embassy_net_driver::Driver`] for the SMSC LAN9118 (and LAN9115/9116/9117/9215)
//! Ethernet controller: the network chip of Arm's MPS2 boards, emulated by QEMU's
//! `mps2-an385`, `mps2-an386` and `mps2-an500` machines.
//!
//! The chip is driven in 32-bit PIO mode: frames are copied word by word through its RX
//! and TX data FIFOs. The driver reaches the chip only through [`Registers`], so the
//! same code runs on memory-mapped hardware ([`Mmio`]) and against a model in the tests.
//!
//! ```no_run
//! use embassy_sync::waitqueue::AtomicWaker;
//! use lan9118::{Lan9118, Mmio};
//!
//! static RX_WAKER: AtomicWaker = AtomicWaker::new();
//! // SAFETY: the LAN9118 of the MPS2 boards sits at 0x4020_0000 and nothing else uses it.
//! let regs = unsafe { Mmio::new(0x4020_0000) };
//! let driver = Lan9118::new(regs, &RX_WAKER, Some([0x02, 0, 0, 0, 0, 1])).unwrap();
//! // Hand `driver` to `embassy_net::new(..)`; in the chip's interrupt handler call
//! // `lan9118::on_interrupt(&mut regs, &RX_WAKER)` with another `Mmio` for the same chip.
//! # let _ = driver;
//! ```

#![no_std]
#![warn(missing_docs)]

use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;

/// Register offsets (bytes from the chip's base address).
pub mod reg {
    /// RX data FIFO (read): the words of the frame at the head of the FIFO.
    pub const RX_DATA_FIFO: usize = 0x00;
    /// TX data FIFO (write): command A, command B, then the frame's words.
    pub const TX_DATA_FIFO: usize = 0x20;
    /// RX status FIFO (read): one status word per received frame.
    pub const RX_STATUS_FIFO: usize = 0x40;
    /// TX status FIFO (read): one status word per sent frame.
    pub const TX_STATUS_FIFO: usize = 0x48;
    /// Chip id (high half) and revision (low half).
    pub const ID_REV: usize = 0x50;
    /// Interrupt pin configuration.
    pub const IRQ_CFG: usize = 0x54;
    /// Interrupt status (write 1 to clear).
    pub const INT_STS: usize = 0x58;
    /// Interrupt enable.
    pub const INT_EN: usize = 0x5C;
    /// Reads `0x8765_4321` when the bus works.
    pub const BYTE_TEST: usize = 0x64;
    /// FIFO interrupt thresholds.
    pub const FIFO_INT: usize = 0x68;
    /// Receive configuration.
    pub const RX_CFG: usize = 0x6C;
    /// Transmit configuration.
    pub const TX_CFG: usize = 0x70;
    /// Hardware configuration (soft reset).
    pub const HW_CFG: usize = 0x74;
    /// RX FIFO levels: status words used (bits 23:16), data bytes used (bits 15:0).
    pub const RX_FIFO_INF: usize = 0x7C;
    /// TX FIFO levels: status words used (bits 23:16), data bytes free (bits 15:0).
    pub const TX_FIFO_INF: usize = 0x80;
    /// Power management control (bit 0: device ready).
    pub const PMT_CTRL: usize = 0x84;
    /// MAC register access: command.
    pub const MAC_CSR_CMD: usize = 0xA4;
    /// MAC register access: data.
    pub const MAC_CSR_DATA: usize = 0xA8;
}

/// Indices of the MAC registers behind `MAC_CSR_CMD` / `MAC_CSR_DATA`.
pub mod mac {
    /// MAC control.
    pub const MAC_CR: u32 = 1;
    /// Address bytes 4 and 5.
    pub const ADDRH: u32 = 2;
    /// Address bytes 0 to 3.
    pub const ADDRL: u32 = 3;
    /// PHY access: command.
    pub const MII_ACC: u32 = 6;
    /// PHY access: data.
    pub const MII_DATA: u32 = 7;
}

/// Expected `ID_REV` chip id (high half) of a LAN9118.
pub const CHIP_ID: u32 = 0x0118;
/// Expected `BYTE_TEST` value.
pub const BYTE_TEST_VALUE: u32 = 0x8765_4321;
/// Largest Ethernet frame without its CRC (header and payload).
pub const MAX_FRAME: usize = 1514;

const HW_CFG_SRST: u32 = 1 << 0;
const PMT_CTRL_READY: u32 = 1 << 0;
const IRQ_CFG_TYPE_PUSH_PULL: u32 = 1 << 0;
const IRQ_CFG_POL_HIGH: u32 = 1 << 4;
const IRQ_CFG_EN: u32 = 1 << 8;
/// RX status FIFO level interrupt.
pub const INT_RSFL: u32 = 1 << 3;
const TX_CFG_TX_ON: u32 = 1 << 1;
const TX_CFG_TXSAO: u32 = 1 << 2;
const MAC_CR_RXEN: u32 = 1 << 2;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_FDPX: u32 = 1 << 20;
const MAC_CSR_BUSY: u32 = 1 << 31;
const MAC_CSR_READ: u32 = 1 << 30;
const MII_BUSY: u32 = 1 << 0;
const PHY_ADDRESS: u32 = 1;
const PHY_BASIC_STATUS: u32 = 1;
const PHY_LINK_UP: u32 = 1 << 2;
/// RX status: error summary.
pub const RX_STATUS_ERROR: u32 = 1 << 15;
/// TX status: error summary.
pub const TX_STATUS_ERROR: u32 = 1 << 15;
/// TX command A: first segment.
pub const TX_CMD_A_FIRST: u32 = 1 << 13;
/// TX command A: last segment.
pub const TX_CMD_A_LAST: u32 = 1 << 12;
/// Polls of a busy bit before giving up.
const BUSY_POLLS: u32 = 100_000;

/// Access to the chip's 32-bit registers.
pub trait Registers {
    /// Reads the register at byte offset `offset`.
    fn read(&mut self, offset: usize) -> u32;
    /// Writes `value` to the register at byte offset `offset`.
    fn write(&mut self, offset: usize, value: u32);
}

/// The chip's registers, memory-mapped at a base address.
pub struct Mmio {
    base: *mut u32,
}

impl Mmio {
    /// The registers of a chip mapped at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the address of a LAN9118's register block (256 bytes of device
    /// memory). Several `Mmio`s may exist for one chip (the driver and its interrupt
    /// handler), but register accesses must not interleave across them except for what
    /// [`on_interrupt`] does.
    pub const unsafe fn new(base: usize) -> Self {
        Mmio {
            base: base as *mut u32,
        }
    }
}

// SAFETY: the pointer is a fixed device address; moving the handle across contexts is
// fine (exclusive use is the caller's contract in `Mmio::new`).
unsafe impl Send for Mmio {}

impl Registers for Mmio {
    fn read(&mut self, offset: usize) -> u32 {
        // SAFETY: `offset` is one of `reg::*`, inside the register block promised by `new`.
        unsafe { self.base.add(offset / 4).read_volatile() }
    }
    fn write(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { self.base.add(offset / 4).write_volatile(value) }
    }
}

/// What can go wrong when bringing the chip up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// `BYTE_TEST` did not read back the expected pattern: no chip, or a bus problem.
    ByteTest(u32),
    /// `ID_REV` names another chip.
    UnknownChip(u32),
    /// A soft reset, a MAC register access or a PHY access did not complete.
    Timeout,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::ByteTest(v) => write!(f, "BYTE_TEST reads {v:#010x}"),
            Error::UnknownChip(v) => write!(f, "ID_REV {v:#010x} is not a LAN9118"),
            Error::Timeout => f.write_str("the chip did not complete an operation"),
        }
    }
}

impl core::error::Error for Error {}

/// Frame counters kept by the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Frames handed to the stack.
    pub received: u32,
    /// Frames dropped on receive: error status, or too short or too long.
    pub receive_dropped: u32,
    /// Frames written to the TX FIFO.
    pub sent: u32,
    /// Frames the chip reported as failed.
    pub send_errors: u32,
}

/// The LAN9118 driver: an [`embassy_net_driver::Driver`].
pub struct Lan9118<'w, R: Registers> {
    regs: R,
    waker: &'w AtomicWaker,
    mac: [u8; 6],
    rx: [u8; MAX_FRAME],
    tx: [u8; MAX_FRAME],
    counters: Counters,
}

impl<'w, R: Registers> Lan9118<'w, R> {
    /// Resets and configures the chip: checks its identity, soft-resets it, sets the MAC
    /// address (`None`: keep the one the chip loaded from its EEPROM), enables the
    /// transmitter and receiver, and the RX interrupt (active high, push-pull).
    /// `waker` is woken by [`on_interrupt`].
    pub fn new(mut regs: R, waker: &'w AtomicWaker, mac: Option<[u8; 6]>) -> Result<Self, Error> {
        let test = regs.read(reg::BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(Error::ByteTest(test));
        }
        let id = regs.read(reg::ID_REV);
        if id >> 16 != CHIP_ID {
            return Err(Error::UnknownChip(id));
        }
        regs.write(reg::HW_CFG, HW_CFG_SRST);
        wait(&mut regs, reg::HW_CFG, HW_CFG_SRST, 0)?;
        wait(&mut regs, reg::PMT_CTRL, PMT_CTRL_READY, PMT_CTRL_READY)?;

        let mac = match mac {
            Some(mac) => {
                let low = u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]);
                let high = u32::from(mac[4]) | u32::from(mac[5]) << 8;
                mac_write(&mut regs, mac::ADDRL, low)?;
                mac_write(&mut regs, mac::ADDRH, high)?;
                mac
            }
            None => {
                let low = mac_read(&mut regs, mac::ADDRL)?.to_le_bytes();
                let high = mac_read(&mut regs, mac::ADDRH)?.to_le_bytes();
                [low[0], low[1], low[2], low[3], high[0], high[1]]
            }
        };
        // Exact address filtering (promiscuous mode off), broadcasts accepted.
        mac_write(
            &mut regs,
            mac::MAC_CR,
            MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FDPX,
        )?;
        // TX on; let the TX status FIFO overrun (statuses are read, but not relied on).
        regs.write(reg::TX_CFG, TX_CFG_TX_ON | TX_CFG_TXSAO);
        // Interrupt as soon as one RX status is waiting.
        regs.write(reg::FIFO_INT, regs_fifo_int_default());
        regs.write(reg::INT_STS, u32::MAX);
        regs.write(reg::INT_EN, INT_RSFL);
        regs.write(
            reg::IRQ_CFG,
            IRQ_CFG_EN | IRQ_CFG_POL_HIGH | IRQ_CFG_TYPE_PUSH_PULL,
        );
        Ok(Lan9118 {
            regs,
            waker,
            mac,
            rx: [0; MAX_FRAME],
            tx: [0; MAX_FRAME],
            counters: Counters::default(),
        })
    }

    /// The MAC address in use.
    pub fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    /// Frame counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Copies the next good frame out of the RX FIFO into the receive buffer; its length,
    /// or `None` if the FIFO holds no (good) frame.
    fn read_frame(&mut self) -> Option<usize> {
        while self.regs.read(reg::RX_FIFO_INF) >> 16 & 0xFF != 0 {
            let status = self.regs.read(reg::RX_STATUS_FIFO);
            // The length counts the frame's 4-byte CRC, which is in the FIFO too.
            let with_crc = (status >> 16 & 0x3FFF) as usize;
            let words = with_crc.div_ceil(4);
            let len = with_crc.saturating_sub(4);
            if status & RX_STATUS_ERROR != 0 || !(14..=MAX_FRAME).contains(&len) {
                for _ in 0..words {
                    self.regs.read(reg::RX_DATA_FIFO);
                }
                self.counters.receive_dropped += 1;
                continue;
            }
            for i in 0..words {
                let word = self.regs.read(reg::RX_DATA_FIFO).to_le_bytes();
                let at = i * 4;
                // The last words hold the CRC: read, not kept.
                let n = len.saturating_sub(at).min(4);
                if n > 0 {
                    self.rx[at..at + n].copy_from_slice(&word[..n]);
                }
            }
            self.counters.received += 1;
            return Some(len);
        }
        None
    }

    /// Reads the TX statuses of frames sent so far, counting failures.
    fn drain_tx_status(&mut self) {
        let mut pending = self.regs.read(reg::TX_FIFO_INF) >> 16 & 0xFF;
        while pending > 0 {
            if self.regs.read(reg::TX_STATUS_FIFO) & TX_STATUS_ERROR != 0 {
                self.counters.send_errors += 1;
            }
            pending -= 1;
        }
    }

    /// Room for a whole frame plus its two command words in the TX data FIFO.
    fn tx_has_room(&mut self) -> bool {
        (self.regs.read(reg::TX_FIFO_INF) & 0xFFFF) as usize >= MAX_FRAME + 8
    }

    /// Reads PHY register `index`.
    fn phy_read(&mut self, index: u32) -> Result<u32, Error> {
        let command = PHY_ADDRESS << 11 | index << 6 | MII_BUSY;
        mac_write(&mut self.regs, mac::MII_ACC, command)?;
        for _ in 0..BUSY_POLLS {
            if mac_read(&mut self.regs, mac::MII_ACC)? & MII_BUSY == 0 {
                return Ok(mac_read(&mut self.regs, mac::MII_DATA)? & 0xFFFF);
            }
        }
        Err(Error::Timeout)
    }
}

/// Default `FIFO_INT`: TX thresholds as after reset, RX status level 0 (interrupt when at
/// least one status is waiting).
const fn regs_fifo_int_default() -> u32 {
    0x4800_0000
}

/// Waits until `(read(offset) & mask) == want`.
fn wait<R: Registers>(regs: &mut R, offset: usize, mask: u32, want: u32) -> Result<(), Error> {
    for _ in 0..BUSY_POLLS {
        if regs.read(offset) & mask == want {
            return Ok(());
        }
    }
    Err(Error::Timeout)
}

fn mac_write<R: Registers>(regs: &mut R, index: u32, value: u32) -> Result<(), Error> {
    wait(regs, reg::MAC_CSR_CMD, MAC_CSR_BUSY, 0)?;
    regs.write(reg::MAC_CSR_DATA, value);
    regs.write(reg::MAC_CSR_CMD, MAC_CSR_BUSY | index);
    wait(regs, reg::MAC_CSR_CMD, MAC_CSR_BUSY, 0)
}

fn mac_read<R: Registers>(regs: &mut R, index: u32) -> Result<u32, Error> {
    wait(regs, reg::MAC_CSR_CMD, MAC_CSR_BUSY, 0)?;
    regs.write(reg::MAC_CSR_CMD, MAC_CSR_BUSY | MAC_CSR_READ | index);
    wait(regs, reg::MAC_CSR_CMD, MAC_CSR_BUSY, 0)?;
    Ok(regs.read(reg::MAC_CSR_DATA))
}

/// The chip's interrupt handler: acknowledges the RX interrupt and wakes the driver.
/// Call it from the interrupt vector of the chip's IRQ line.
pub fn on_interrupt<R: Registers>(regs: &mut R, waker: &AtomicWaker) {
    let status = regs.read(reg::INT_STS);
    regs.write(reg::INT_STS, status);
    waker.wake();
}

/// A received frame, in the driver's receive buffer.
pub struct RxToken<'a> {
    frame: &'a mut [u8],
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, f: F) -> T {
        f(self.frame)
    }
}

/// Permission to send one frame.
pub struct TxToken<'a, R: Registers> {
    regs: &'a mut R,
    buffer: &'a mut [u8; MAX_FRAME],
    counters: &'a mut Counters,
}

impl<R: Registers> embassy_net_driver::TxToken for TxToken<'_, R> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let len = len.min(MAX_FRAME);
        let frame = &mut self.buffer[..len];
        let result = f(frame);
        // One segment: command A (first, last, buffer size), command B (tag, length).
        let size = len as u32;
        self.regs
            .write(reg::TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | size);
        self.regs.write(reg::TX_DATA_FIFO, size << 16 | size);
        for chunk in frame.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.regs.write(reg::TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        self.counters.sent += 1;
        result
    }
}

impl<R: Registers> embassy_net_driver::Driver for Lan9118<'_, R> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, R>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // Register first, then look: a frame arriving in between still wakes us.
        self.waker.register(cx.waker());
        self.drain_tx_status();
        if !self.tx_has_room() {
            cx.waker().wake_by_ref();
            return None;
        }
        let len = self.read_frame()?;
        Some((
            RxToken {
                frame: &mut self.rx[..len],
            },
            TxToken {
                regs: &mut self.regs,
                buffer: &mut self.tx,
                counters: &mut self.counters,
            },
        ))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<Self::TxToken<'_>> {
        self.drain_tx_status();
        if !self.tx_has_room() {
            // The chip frees FIFO space as fast as it sends; look again soon.
            cx.waker().wake_by_ref();
            return None;
        }
        Some(TxToken {
            regs: &mut self.regs,
            buffer: &mut self.tx,
            counters: &mut self.counters,
        })
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        match self.phy_read(PHY_BASIC_STATUS) {
            Ok(status) if status & PHY_LINK_UP != 0 => LinkState::Up,
            _ => LinkState::Down,
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(1);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
