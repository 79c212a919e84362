//! An embassy-time driver on the Cortex-M SysTick timer: one interrupt per millisecond
//! (embassy-time's `tick-hz-1_000`), a 64-bit tick count, and embassy's timer queue.
//!
//! QEMU gives no other timer that all Cortex-M boards share; a tickless driver on a
//! hardware timer would save the idle interrupts on a real board.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// Ticks per second (must match embassy-time's `tick-hz-*` feature).
pub const TICK_HZ: u32 = 1_000;

struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    /// The earliest deadline in the queue (`u64::MAX`: none).
    alarm: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    alarm: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow(cs).borrow_mut();
            if queue.schedule_wake(at, waker) {
                let now = self.ticks.borrow(cs).get();
                self.alarm.borrow(cs).set(queue.next_expiration(now));
            }
        });
    }
}

impl SysTickDriver {
    fn on_tick(&self) {
        critical_section::with(|cs| {
            let ticks = self.ticks.borrow(cs);
            let now = ticks.get() + 1;
            ticks.set(now);
            let alarm = self.alarm.borrow(cs);
            if now >= alarm.get() {
                let next = self.queue.borrow(cs).borrow_mut().next_expiration(now);
                alarm.set(next);
            }
        });
    }
}

/// Starts the tick: SysTick from the core clock (`core_clock_hz`), [`TICK_HZ`]
/// interrupts per second.
pub fn init(mut syst: SYST, core_clock_hz: u32) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(core_clock_hz / TICK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    DRIVER.on_tick();
}
