//! The driver against a model of the chip's register interface (the behaviour the
//! LAN9118 data sheet describes and QEMU emulates): bring-up, receive, transmit, link
//! state and interrupts.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};

use embassy_net_driver::{Driver, HardwareAddress, LinkState, RxToken, TxToken};
use embassy_sync::waitqueue::AtomicWaker;
use lan9118::{Error, INT_RSFL, Lan9118, MAX_FRAME, Registers, mac, reg};

/// The chip, as far as the driver can tell.
struct Chip {
    byte_test: u32,
    id_rev: u32,
    reset_sticks: bool,
    resets: u32,
    mac_regs: [u32; 16],
    mac_cmd: u32,
    mac_data: u32,
    link_up: bool,
    int_sts: u32,
    int_en: u32,
    irq_cfg: u32,
    tx_cfg: u32,
    hw_cfg: u32,
    rx_status: VecDeque<u32>,
    rx_data: VecDeque<u32>,
    tx_words: Vec<u32>,
    tx_expect: Option<(u32, usize)>,
    sent: Vec<Vec<u8>>,
    tx_status: VecDeque<u32>,
    tx_fail_next: bool,
    tx_free: u32,
}

impl Chip {
    fn new() -> Self {
        let mut mac_regs = [0; 16];
        // The address the chip loaded from its EEPROM: 52:54:00:12:34:56.
        mac_regs[mac::ADDRL as usize] = u32::from_le_bytes([0x52, 0x54, 0x00, 0x12]);
        mac_regs[mac::ADDRH as usize] = 0x5634;
        Chip {
            byte_test: 0x8765_4321,
            id_rev: 0x0118_0001,
            reset_sticks: false,
            resets: 0,
            mac_regs,
            mac_cmd: 0,
            mac_data: 0,
            link_up: true,
            int_sts: 0,
            int_en: 0,
            irq_cfg: 0,
            tx_cfg: 0,
            hw_cfg: 0,
            rx_status: VecDeque::new(),
            rx_data: VecDeque::new(),
            tx_words: Vec::new(),
            tx_expect: None,
            sent: Vec::new(),
            tx_status: VecDeque::new(),
            tx_fail_next: false,
            tx_free: 4608,
        }
    }

    /// A frame arrives from the wire (`error`: with a bad CRC or similar).
    fn arrive(&mut self, frame: &[u8], error: bool) {
        let mut bytes = frame.to_vec();
        bytes.extend_from_slice(&[0xC0, 0xC1, 0xC2, 0xC3]); // the CRC
        let mut status = (bytes.len() as u32) << 16;
        if error {
            status |= 1 << 15;
        }
        self.rx_status.push_back(status);
        for chunk in bytes.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.rx_data.push_back(u32::from_le_bytes(word));
        }
        if self.int_en & INT_RSFL != 0 {
            self.int_sts |= INT_RSFL;
        }
    }

    fn tx_push(&mut self, word: u32) {
        self.tx_words.push(word);
        match self.tx_words.len() {
            1 => {}
            2 => {
                let cmd_a = self.tx_words[0];
                let cmd_b = self.tx_words[1];
                assert_eq!(cmd_a & 0x3000, 0x3000, "one segment: first and last");
                assert_eq!(cmd_a & 0x7FF, cmd_b & 0x7FF, "buffer = frame length");
                self.tx_expect = Some((cmd_b >> 16, (cmd_a & 0x7FF) as usize));
            }
            n => {
                let (tag, len) = self.tx_expect.expect("command words first");
                if (n - 2) * 4 >= len {
                    let bytes: Vec<u8> = self.tx_words[2..]
                        .iter()
                        .flat_map(|w| w.to_le_bytes())
                        .take(len)
                        .collect();
                    self.sent.push(bytes);
                    let error = if std::mem::take(&mut self.tx_fail_next) {
                        1 << 15
                    } else {
                        0
                    };
                    self.tx_status.push_back(tag << 16 | error);
                    self.tx_words.clear();
                    self.tx_expect = None;
                }
            }
        }
    }
}

impl Registers for &mut Chip {
    fn read(&mut self, offset: usize) -> u32 {
        match offset {
            reg::RX_DATA_FIFO => self.rx_data.pop_front().expect("RX data underflow"),
            reg::RX_STATUS_FIFO => self.rx_status.pop_front().expect("RX status underflow"),
            reg::TX_STATUS_FIFO => self.tx_status.pop_front().unwrap_or(0),
            reg::ID_REV => self.id_rev,
            reg::BYTE_TEST => self.byte_test,
            reg::IRQ_CFG => self.irq_cfg,
            reg::INT_STS => self.int_sts,
            reg::INT_EN => self.int_en,
            reg::HW_CFG => self.hw_cfg,
            reg::TX_CFG => self.tx_cfg,
            reg::PMT_CTRL => 1,
            reg::RX_FIFO_INF => {
                (self.rx_status.len() as u32) << 16 | (self.rx_data.len() as u32 * 4)
            }
            reg::TX_FIFO_INF => (self.tx_status.len() as u32) << 16 | self.tx_free,
            reg::MAC_CSR_CMD => self.mac_cmd,
            reg::MAC_CSR_DATA => self.mac_data,
            other => panic!("read of unexpected register {other:#x}"),
        }
    }

    fn write(&mut self, offset: usize, value: u32) {
        match offset {
            o if (reg::TX_DATA_FIFO..reg::TX_DATA_FIFO + 0x20).contains(&o) => self.tx_push(value),
            reg::HW_CFG => {
                if value & 1 != 0 {
                    self.resets += 1;
                    self.hw_cfg = if self.reset_sticks { 1 } else { 0 };
                }
            }
            reg::INT_STS => self.int_sts &= !value,
            reg::INT_EN => self.int_en = value,
            reg::IRQ_CFG => self.irq_cfg = value,
            reg::TX_CFG => self.tx_cfg = value,
            reg::FIFO_INT => {}
            reg::MAC_CSR_DATA => self.mac_data = value,
            reg::MAC_CSR_CMD => {
                assert_ne!(value & 1 << 31, 0, "MAC access without the busy bit");
                let index = (value & 0xF) as usize;
                if value & 1 << 30 != 0 {
                    self.mac_data = self.mac_regs[index];
                } else {
                    self.mac_regs[index] = self.mac_data;
                    if index == mac::MII_ACC as usize {
                        let phy_reg = (self.mac_data >> 6) & 0x1F;
                        assert_eq!(phy_reg, 1, "only the basic status is read");
                        self.mac_regs[mac::MII_DATA as usize] =
                            if self.link_up { 0x782D } else { 0x7809 };
                        self.mac_regs[index] &= !1; // not busy
                    }
                }
                self.mac_cmd = value & !(1 << 31);
            }
            other => panic!("write of unexpected register {other:#x}"),
        }
    }
}

/// A waker counting its wakes.
struct Counter(AtomicUsize);
impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Counter>, Waker) {
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    (counter.clone(), Waker::from(counter))
}

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn receive_one(driver: &mut Lan9118<'_, &mut Chip>) -> Option<Vec<u8>> {
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let (rx, _tx) = driver.receive(&mut cx)?;
    Some(rx.consume(|bytes| bytes.to_vec()))
}

#[test]
fn bring_up_resets_the_chip_and_programs_it() {
    let mut chip = Chip::new();
    let waker = AtomicWaker::new();
    let mac_address = [0x02, 0x53, 0x54, 0x00, 0x00, 0x07];
    let driver = Lan9118::new(&mut chip, &waker, Some(mac_address)).unwrap();
    assert_eq!(driver.mac_address(), mac_address);
    assert_eq!(
        driver.hardware_address(),
        HardwareAddress::Ethernet(mac_address)
    );
    assert_eq!(driver.capabilities().max_transmission_unit, MAX_FRAME);
    assert_eq!(chip.resets, 1);
    assert_eq!(chip.mac_regs[mac::ADDRL as usize], 0x0054_5302);
    assert_eq!(chip.mac_regs[mac::ADDRH as usize], 0x0700);
    let mac_cr = chip.mac_regs[mac::MAC_CR as usize];
    assert_eq!(mac_cr & 0b1100, 0b1100, "transmitter and receiver on");
    assert_eq!(mac_cr & 1 << 18, 0, "not promiscuous");
    assert_eq!(chip.int_en, INT_RSFL);
    assert_eq!(
        chip.irq_cfg,
        1 << 8 | 1 << 4 | 1,
        "enabled, active high, push-pull"
    );
    assert_ne!(chip.tx_cfg & 1 << 1, 0, "TX on");
}

#[test]
fn without_an_address_the_chip_keeps_its_own() {
    let mut chip = Chip::new();
    let waker = AtomicWaker::new();
    let driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    assert_eq!(driver.mac_address(), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
}

#[test]
fn bring_up_failures_are_errors() {
    let waker = AtomicWaker::new();
    let mut chip = Chip::new();
    chip.byte_test = 0x2143_6587; // a byte-swapped bus
    assert_eq!(
        Lan9118::new(&mut chip, &waker, None).err(),
        Some(Error::ByteTest(0x2143_6587))
    );
    let mut chip = Chip::new();
    chip.id_rev = 0x9220_0000;
    assert_eq!(
        Lan9118::new(&mut chip, &waker, None).err(),
        Some(Error::UnknownChip(0x9220_0000))
    );
    let mut chip = Chip::new();
    chip.reset_sticks = true;
    assert_eq!(
        Lan9118::new(&mut chip, &waker, None).err(),
        Some(Error::Timeout)
    );
}

#[test]
fn frames_of_every_length_arrive_intact() {
    let mut chip = Chip::new();
    let waker = AtomicWaker::new();
    let lengths: Vec<usize> = (14..80).chain([1000, 1513, MAX_FRAME]).collect();
    for (i, &len) in lengths.iter().enumerate() {
        chip.arrive(&frame(len, i as u8), false);
    }
    let mut driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    for (i, &len) in lengths.iter().enumerate() {
        assert_eq!(
            receive_one(&mut driver),
            Some(frame(len, i as u8)),
            "length {len}"
        );
    }
    assert_eq!(receive_one(&mut driver), None);
    assert_eq!(driver.counters().received, lengths.len() as u32);
    assert!(
        chip.rx_data.is_empty(),
        "every word of every frame was read"
    );
}

#[test]
fn bad_frames_are_dropped_and_the_next_one_arrives() {
    let mut chip = Chip::new();
    let waker = AtomicWaker::new();
    chip.arrive(&frame(60, 1), true); // error status
    chip.arrive(&frame(10, 2), false); // runt
    chip.arrive(&frame(MAX_FRAME + 1, 3), false); // too long
    chip.arrive(&frame(61, 4), false);
    let mut driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    assert_eq!(receive_one(&mut driver), Some(frame(61, 4)));
    assert_eq!(driver.counters().receive_dropped, 3);
    assert_eq!(receive_one(&mut driver), None);
}

#[test]
fn frames_are_sent_byte_exact_with_one_segment_each() {
    let mut chip = Chip::new();
    let waker = AtomicWaker::new();
    let mut driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    let (_, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    let lengths = [14usize, 15, 16, 17, 42, 99, MAX_FRAME];
    for (i, &len) in lengths.iter().enumerate() {
        let tx = driver.transmit(&mut cx).expect("room in the TX FIFO");
        let sent = frame(len, 100 + i as u8);
        let returned = tx.consume(len, |buf| {
            buf.copy_from_slice(&sent);
            len * 2
        });
        assert_eq!(returned, len * 2);
    }
    assert_eq!(driver.counters().sent, lengths.len() as u32);
    for (i, &len) in lengths.iter().enumerate() {
        assert_eq!(chip.sent[i], frame(len, 100 + i as u8));
    }
}

#[test]
fn send_failures_are_counted_and_a_full_fifo_waits() {
    let mut chip = Chip::new();
    chip.tx_fail_next = true;
    let waker = AtomicWaker::new();
    let mut driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    let (wakes, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    driver.transmit(&mut cx).unwrap().consume(20, |b| b.fill(7));
    // The next call reads the TX status of the first frame.
    assert!(driver.transmit(&mut cx).is_some());
    assert_eq!(driver.counters().send_errors, 1);
    chip.tx_free = 100;
    let mut driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    assert!(driver.transmit(&mut cx).is_none());
    assert!(driver.receive(&mut cx).is_none());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 2, "asks to be polled again");
}

#[test]
fn link_state_follows_the_phy() {
    let mut chip = Chip::new();
    let waker = AtomicWaker::new();
    let (_, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    let mut driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    assert!(matches!(driver.link_state(&mut cx), LinkState::Up));
    chip.link_up = false;
    let mut driver = Lan9118::new(&mut chip, &waker, None).unwrap();
    assert!(matches!(driver.link_state(&mut cx), LinkState::Down));
}

#[test]
fn the_interrupt_acknowledges_and_wakes_the_receiver() {
    let mut chip = Chip::new();
    let rx_waker = AtomicWaker::new();
    let (wakes, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    {
        let mut driver = Lan9118::new(&mut chip, &rx_waker, None).unwrap();
        assert!(driver.receive(&mut cx).is_none()); // registers the waker
    }
    chip.arrive(&frame(64, 9), false);
    assert_ne!(chip.int_sts & INT_RSFL, 0);
    let mut regs = &mut chip;
    lan9118::on_interrupt(&mut regs, &rx_waker);
    assert_eq!(chip.int_sts & INT_RSFL, 0, "acknowledged");
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
}
