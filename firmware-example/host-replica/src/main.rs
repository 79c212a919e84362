//! The host replica of the sensor network: the same [`sensor_app::Doc`] as the
//! firmware, over std UDP ([`starling_sync::udp::UdpNode`]).
//!
//! It publishes an outdoor temperature (host to firmware data), turns fast reporting on
//! after `--flag-after-ms` (a configuration change the nodes must react to), and prints
//! a status line every 500 ms:
//!
//! ```text
//! host status crc=0x1234abcd... complete=true events=24 fast=true peers_alive=1 ...
//! ```
//!
//! `complete` says that the host's state holds everything the run expects: `--samples`
//! events from each of the `--expect` replicas, each of which acknowledged fast
//! reporting under its `applied` register. `cargo xtask qemu` compares the checksums.
//!
//! ```text
//! host-replica --port 5556 --peer 127.0.0.1:5555 --expect 2,3 --samples 12
//! ```

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use sensor_app::Doc;
use sensor_app::doc::{self, Sensor};
use sensor_app::sync::{DELTAS, MESSAGE_BYTES, PEERS, sync_config};
use starling_core::{ReplicaId, StateChecksum};
use starling_sync::Node;
use starling_sync::udp::UdpNode;

/// Command-line options.
struct Options {
    port: u16,
    peers: Vec<SocketAddr>,
    expect: Vec<u64>,
    samples: u64,
    flag_after_ms: u64,
    outdoor_readings: u32,
    seconds: u64,
}

const USAGE: &str = "usage: host-replica [--port N] [--peer IP:PORT]... [--expect ID,ID] \
[--samples N] [--flag-after-ms N] [--outdoor-readings N] [--seconds N]";

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        port: 5556,
        peers: Vec::new(),
        expect: Vec::new(),
        samples: 12,
        flag_after_ms: 3_000,
        outdoor_readings: 5,
        seconds: 120,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--port" => o.port = value()?.parse().map_err(|e| bad(&e))?,
            "--peer" => o.peers.push(value()?.parse().map_err(|e| bad(&e))?),
            "--expect" => {
                for id in value()?.split(',') {
                    o.expect.push(id.parse().map_err(|e| bad(&e))?);
                }
            }
            "--samples" => o.samples = value()?.parse().map_err(|e| bad(&e))?,
            "--flag-after-ms" => o.flag_after_ms = value()?.parse().map_err(|e| bad(&e))?,
            "--outdoor-readings" => o.outdoor_readings = value()?.parse().map_err(|e| bad(&e))?,
            "--seconds" => o.seconds = value()?.parse().map_err(|e| bad(&e))?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(o)
}

/// Whether `state` holds everything the run expects (see the crate docs).
fn complete(state: &Doc, o: &Options) -> bool {
    doc::fast_reporting(state)
        && o.expect.iter().all(|&id| {
            let r = ReplicaId(id);
            doc::events_of(state, r) == o.samples
                && doc::applied_key(r)
                    .and_then(|k| doc::reading(state, k))
                    .is_some_and(|v| v == doc::applied::FAST)
        })
}

fn main() -> ExitCode {
    let o = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0x4057);
    let node: Node<Doc, SocketAddr, PEERS, DELTAS, MESSAGE_BYTES> =
        Node::new(doc::HOST, Doc::default(), sync_config(), 0, &mut rng);
    let mut udp = match UdpNode::bind(("127.0.0.1", o.port), node) {
        Ok(udp) => udp,
        Err(e) => {
            eprintln!("host: cannot bind 127.0.0.1:{}: {e}", o.port);
            return ExitCode::FAILURE;
        }
    };
    for peer in &o.peers {
        if udp.node_mut().add_peer(*peer).is_err() {
            eprintln!("host: too many peers (at most {PEERS})");
            return ExitCode::from(2);
        }
    }
    println!(
        "host replica {} on 127.0.0.1:{}, peers {:?}",
        doc::HOST.0,
        o.port,
        o.peers
    );

    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.seconds);
    let mut outdoor_sent = 0u32;
    let mut next_outdoor = start;
    let mut flag_set = false;
    let mut next_status = start;
    while Instant::now() < deadline {
        if let Err(e) = udp.step(Duration::from_millis(20), &mut rng) {
            eprintln!("host: socket error: {e}");
            return ExitCode::FAILURE;
        }
        let now = Instant::now();
        if outdoor_sent < o.outdoor_readings && now >= next_outdoor {
            let value = 1250 + 10 * outdoor_sent as i32; // 12.50 °C and rising
            match udp
                .node_mut()
                .update(|d| doc::publish_reading(d, doc::HOST, Sensor::Temperature, value))
            {
                Ok(()) => println!(
                    "host: outdoor temperature {:.2} °C",
                    f64::from(value) / 100.0
                ),
                Err(e) => eprintln!("host: cannot publish: {e}"),
            }
            outdoor_sent += 1;
            next_outdoor = now + Duration::from_secs(1);
        }
        if !flag_set && now >= start + Duration::from_millis(o.flag_after_ms) {
            match udp
                .node_mut()
                .update(|d| doc::enable_fast_reporting(d, doc::HOST))
            {
                Ok(()) => println!("host: fast reporting ON"),
                Err(e) => eprintln!("host: cannot set the flag: {e}"),
            }
            flag_set = true;
        }
        if now >= next_status {
            next_status = now + Duration::from_millis(500);
            let node = udp.node();
            let state = node.state();
            let m = node.metrics();
            let events: Vec<String> = o
                .expect
                .iter()
                .map(|&id| format!("{id}:{}", doc::events_of(state, ReplicaId(id))))
                .collect();
            println!(
                "host status crc={:#x} complete={} events={} per_replica={} fast={} peers_alive={} frames_sent={} frames_received={}",
                StateChecksum::of(state).crc,
                complete(state, &o),
                doc::events_total(state),
                events.join(","),
                doc::fast_reporting(state),
                node.peers_alive(),
                m.frames_sent,
                m.frames_received
            );
        }
    }
    eprintln!("host: time limit of {} s reached", o.seconds);
    ExitCode::FAILURE
}
