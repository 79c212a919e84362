//! The sensor node firmware: a Starling replica on an embassy-net UDP socket over the
//! board's LAN9118. Its identity and neighbours come from the command line (see
//! `firmware-example/README.md`), e.g.
//! `id=2 ip=10.0.2.15 gw=10.0.2.2 peer=10.0.2.2:5556 peer=10.0.2.16:5557 samples=12 loss=20`
//! (`uplink_port`, default 5555, for peers at the gateway; `local_port`, default 5557,
//! for the others).

#![no_std]
#![no_main]

use core::net::{Ipv4Addr, SocketAddrV4};

use defmt::{info, unwrap};
use embassy_executor::Spawner;
use embassy_net::{Ipv4Cidr, Runner, StackResources, StaticConfigV4};
use lan9118::{Lan9118, Mmio};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;
use sensor_app::Doc;
use sensor_app::node::{self, SensorNode, Settings, SocketBuffers};
use starling_core::ReplicaId;
use starling_firmware::boot_args::BootArgs;
use starling_firmware::{CORE_CLOCK_HZ, ethernet, exit, time_driver};
use static_cell::StaticCell;

static NET_RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
static SOCKET_BUFFERS: StaticCell<[SocketBuffers; 2]> = StaticCell::new();
static NODE: StaticCell<SensorNode> = StaticCell::new();

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
    info!("command line: {=str}", args.as_str());
    info!(
        "RAM: sync node {=usize} bytes (document {=usize}, readings {=usize}, digest {=usize})",
        core::mem::size_of::<SensorNode>(),
        core::mem::size_of::<Doc>(),
        core::mem::size_of::<sensor_app::doc::Readings>(),
        core::mem::size_of::<<Doc as starling_core::Reconcile>::Digest>()
    );
    let id: u8 = unwrap!(args.parse_or("id", 2));
    let ip: Ipv4Addr = unwrap!(args.parse_or("ip", Ipv4Addr::new(10, 0, 2, 15)));
    let gateway: Ipv4Addr = unwrap!(args.parse_or("gw", Ipv4Addr::new(10, 0, 2, 2)));
    let settings = Settings {
        replica: ReplicaId(u64::from(id)),
        uplink_address: gateway.into(),
        uplink_port: unwrap!(args.parse_or("uplink_port", 5555)),
        local_port: unwrap!(args.parse_or("local_port", 5557)),
        samples: unwrap!(args.parse_or("samples", u32::MAX)),
        interval_ms: unwrap!(args.parse_or("interval", 1_000)),
        fast_interval_ms: unwrap!(args.parse_or("fast_interval", 250)),
        loss_percent: unwrap!(args.parse_or("loss", 0)),
        status_interval_ms: unwrap!(args.parse_or("status", 1_000)),
    };
    let mut peers = [SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); node::PEERS];
    let peer_count = unwrap!(args.endpoints("peer", &mut peers));

    // QEMU has no entropy source: the seed comes from the replica id. On a real board,
    // seed from a hardware RNG so each boot is a new incarnation with fresh nonces.
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0x5EED_0000 ^ u64::from(id));

    let driver = match ethernet::init(ethernet::mac_address(id)) {
        Ok(driver) => driver,
        Err(e) => {
            defmt::error!("LAN9118: {}", e);
            exit(false)
        }
    };
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, 24),
        gateway: Some(gateway),
        dns_servers: Default::default(),
    });
    let (stack, runner) = embassy_net::new(
        driver,
        config,
        NET_RESOURCES.init(StackResources::new()),
        rng.next_u64(),
    );
    spawner.spawn(unwrap!(net_task(runner)));
    stack.wait_config_up().await;
    info!("network up: {}", ip);

    let node = NODE.init_with(|| {
        SensorNode::new(
            settings.replica,
            Doc::default(),
            node::sync_config(),
            embassy_time::Instant::now().as_millis(),
            &mut rng,
        )
    });
    for peer in &peers[..peer_count] {
        unwrap!(node.add_peer((*peer).into()));
        info!("peer {}", embassy_net::IpEndpoint::from(*peer));
    }
    node::run(
        stack,
        SOCKET_BUFFERS.init([SocketBuffers::new(), SocketBuffers::new()]),
        node,
        settings,
        &mut rng,
    )
    .await
}
