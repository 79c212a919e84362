//! The footprint baseline: the same board support, embassy executor, time driver,
//! LAN9118 driver, embassy-net stack, two UDP sockets (same buffers) and defmt logging
//! as the sensor node, without Starling. It answers every datagram with its length and
//! logs a status line every second. `cargo xtask size` compares the two.

#![no_std]
#![no_main]

use core::net::Ipv4Addr;

use defmt::{info, unwrap, warn};
use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_net::{Ipv4Cidr, Runner, StackResources, StaticConfigV4};
use embassy_time::{Duration, Instant, Timer};
use lan9118::{Lan9118, Mmio};
use sensor_app::node::{MTU, SocketBuffers};
use starling_firmware::boot_args::BootArgs;
use starling_firmware::{CORE_CLOCK_HZ, ethernet, exit, time_driver};
use static_cell::StaticCell;

static NET_RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
static BUFFERS: StaticCell<[SocketBuffers; 2]> = StaticCell::new();

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Lan9118<'static, Mmio>>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let core = unwrap!(cortex_m::Peripherals::take());
    time_driver::init(core.SYST, CORE_CLOCK_HZ);
    let args = match BootArgs::read() {
        Ok(args) => args,
        Err(e) => {
            defmt::error!("no command line: {}", e);
            exit(false)
        }
    };
    let id: u8 = unwrap!(args.parse_or("id", 2));
    let ip: Ipv4Addr = unwrap!(args.parse_or("ip", Ipv4Addr::new(10, 0, 2, 15)));
    let uplink_port: u16 = unwrap!(args.parse_or("uplink_port", 5555));
    let local_port: u16 = unwrap!(args.parse_or("local_port", 5557));
    let driver = match ethernet::init(ethernet::mac_address(id)) {
        Ok(driver) => driver,
        Err(e) => {
            defmt::error!("LAN9118: {}", e);
            exit(false)
        }
    };
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, 24),
        gateway: Some(Ipv4Addr::new(10, 0, 2, 2)),
        dns_servers: Default::default(),
    });
    let seed = 0x5EED_0000 ^ u64::from(id);
    let (stack, runner) = embassy_net::new(
        driver,
        config,
        NET_RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(unwrap!(net_task(runner)));
    stack.wait_config_up().await;
    info!("network up: {}", ip);

    let [uplink_buffers, local_buffers] =
        BUFFERS.init([SocketBuffers::new(), SocketBuffers::new()]);
    let uplink = uplink_buffers.bind(stack, uplink_port);
    let local = local_buffers.bind(stack, local_port);
    let mut frame = [0u8; MTU];
    let (mut received, mut next_status) = (0u32, Instant::now());
    loop {
        if Instant::now() >= next_status {
            next_status += Duration::from_secs(1);
            info!("status received={}", received);
        }
        let ready = select(
            select(uplink.wait_recv_ready(), local.wait_recv_ready()),
            Timer::at(next_status),
        )
        .await;
        if let Either::First(which) = ready {
            let socket = match which {
                Either::First(()) => &uplink,
                Either::Second(()) => &local,
            };
            match socket.recv_from(&mut frame).await {
                Ok((len, meta)) => {
                    received += 1;
                    let reply = (len as u32).to_le_bytes();
                    if let Err(e) = socket.send_to(&reply, meta.endpoint).await {
                        warn!("send failed: {}", e);
                    }
                }
                Err(e) => warn!("receive failed: {}", e),
            }
        }
    }
}
