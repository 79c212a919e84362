//! The sensor node on an STM32 Nucleo-F429ZI: the same application as the QEMU firmware
//! (`sensor_app::node::run`), on the board's RMII Ethernet (LAN8742A PHY) through
//! embassy-stm32, with the hardware RNG seeding the node and the network stack. Logs go
//! out over RTT (defmt); flash and watch with `probe-rs run` (see the README).
//!
//! Addresses are fixed below: edit [`ADDRESS`], [`GATEWAY`] and [`HOST_REPLICA`] for
//! your network, and run the host replica on the machine at `HOST_REPLICA`.

#![no_std]
#![no_main]

use core::net::{Ipv4Addr, SocketAddrV4};

use defmt::{info, unwrap};
use defmt_rtt as _;
use embassy_executor::Spawner;
use embassy_net::{Ipv4Cidr, Runner, StackResources, StaticConfigV4};
use embassy_stm32::eth::{Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::peripherals::{ETH, ETH_SMA, RNG};
use embassy_stm32::rng::Rng;
use embassy_stm32::time::Hertz;
use embassy_stm32::{Config, bind_interrupts, eth, rng};
use panic_probe as _;
use sensor_app::Doc;
use sensor_app::node::{self, SensorNode, Settings, SocketBuffers};
use starling_core::ReplicaId;
use static_cell::StaticCell;

/// This board's replica id.
const REPLICA: ReplicaId = ReplicaId(2);
/// This board's address on the LAN.
const ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 50);
/// The LAN's gateway.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// The host replica (`host-replica --port 5556 --peer 192.168.1.50:5555`).
const HOST_REPLICA: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 10), 5556);

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    HASH_RNG => rng::InterruptHandler<RNG>;
});

type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

static PACKETS: StaticCell<PacketQueue<4, 4>> = StaticCell::new();
static NET_RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
static SOCKET_BUFFERS: StaticCell<[SocketBuffers; 2]> = StaticCell::new();
static NODE: StaticCell<SensorNode> = StaticCell::new();

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Device>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    // 180 MHz from the ST-LINK's 8 MHz clock (HSE bypass).
    let mut config = Config::default();
    {
        use embassy_stm32::rcc::*;
        config.rcc.hse = Some(Hse {
            freq: Hertz(8_000_000),
            mode: HseMode::Bypass,
        });
        config.rcc.pll_src = PllSource::HSE;
        config.rcc.pll = Some(Pll {
            prediv: PllPreDiv::DIV4,
            mul: PllMul::MUL180,
            divp: Some(PllPDiv::DIV2),
            divq: None,
            divr: None,
        });
        config.rcc.ahb_pre = AHBPrescaler::DIV1;
        config.rcc.apb1_pre = APBPrescaler::DIV4;
        config.rcc.apb2_pre = APBPrescaler::DIV2;
        config.rcc.sys = Sysclk::PLL1_P;
    }
    let p = embassy_stm32::init(config);
    info!("Nucleo-F429ZI sensor node, replica {}", REPLICA.0);

    let mut rng = Rng::new(p.RNG, Irqs);
    let mut mac = [0x02, 0x53, 0x54, 0, 0, 0];
    rng.fill_bytes(&mut mac[3..]);

    // The Nucleo-144's RMII pins.
    let device = Ethernet::new(
        PACKETS.init(PacketQueue::new()),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        mac,
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ADDRESS, 24),
        gateway: Some(GATEWAY),
        dns_servers: Default::default(),
    });
    let (stack, runner) = embassy_net::new(
        device,
        config,
        NET_RESOURCES.init(StackResources::new()),
        rng.next_u64(),
    );
    spawner.spawn(unwrap!(net_task(runner)));
    stack.wait_config_up().await;
    info!("network up: {}", ADDRESS);

    let settings = Settings {
        replica: REPLICA,
        uplink_address: (*HOST_REPLICA.ip()).into(),
        uplink_port: 5555,
        local_port: 5557,
        samples: u32::MAX,
        interval_ms: 1_000,
        fast_interval_ms: 250,
        loss_percent: 0,
        status_interval_ms: 5_000,
    };
    let now = embassy_time::Instant::now().as_millis();
    let node = NODE
        .init_with(|| SensorNode::new(REPLICA, Doc::default(), node::sync_config(), now, &mut rng));
    unwrap!(node.add_peer(HOST_REPLICA.into()));
    let buffers = SOCKET_BUFFERS.init([SocketBuffers::new(), SocketBuffers::new()]);
    node::run(stack, buffers, node, settings, &mut rng).await
}
