//! The fleet demo: a fleet of Starling replicas, each with its own UDP socket on
//! 127.0.0.1, sharing one document through loss and a partition.
//!
//! `cargo run --release --example fleet -- --help` lists the options.
//!
//! Timeline: the replicas start editing (sensor readings as last-writer-wins values, an
//! event counter, a set of alerts) and gossiping deltas over links that drop a share of
//! the frames; after a warm-up the fleet splits into two halves that keep editing apart;
//! at the heal, editing stops and the demo measures how long the fleet takes to agree,
//! then checks that every replica holds the identical state (exit code 1 if not).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use starling_core::{
    AwSet, CausalCounter, Growable, HybridClock, LwwRegister, OrMap, ReplicaId, StateChecksum,
    WireFormat,
};
use starling_sync::{Config, Node};

type Readings = OrMap<u16, LwwRegister<i32>, Growable>;
type Counters = OrMap<u8, CausalCounter<Growable>, Growable>;
type Alerts = AwSet<u16, Growable>;
/// A large inventory of ids, preloaded with `--elements`.
type Items = AwSet<u64, Growable>;
/// The shared document: readings per sensor, event counters, active alerts, items.
type Doc = (Readings, (Counters, (Alerts, Items)));
type FleetNode = Node<Doc, SocketAddr, 16, 32, 16384>;

const EVENTS: u8 = 0;

#[derive(Clone, Copy, Debug)]
struct Options {
    replicas: usize,
    loss: f64,
    warmup_s: f64,
    partition_s: f64,
    mtu: usize,
    duration_s: f64,
    sync_ms: u64,
    neighbours: usize,
    seed: u64,
    elements: usize,
    late_joiner: bool,
}

const HELP: &str = "\
fleet: Starling replicas gossiping over real UDP on 127.0.0.1, through loss and a partition

usage: cargo run --release --example fleet -- [options]

options:
  --replicas N        replicas, each with its own UDP socket (default 16)
  --loss P            share of frames dropped on every link, 0..1 (default 0.10)
  --warmup S          seconds of editing before the partition (default 3)
  --partition S       seconds the fleet stays split in two halves (default 5)
  --mtu B             frame size limit in bytes, at least 64 (default 1200)
  --duration S        give up if not converged after S seconds in all (default 50)
  --sync-ms MS        sync interval (default 200)
  --neighbours K      links per replica: a ring plus random links up to K (default 4)
  --seed N            random seed (default: from the clock)
  --elements N        preload every replica with a document of N random ids (default 0)
  --late-joiner       one more replica starts empty when the partition heals and must
                      be caught up with the whole document
  --help              this text";

fn parse() -> Result<Options, String> {
    let mut o = Options {
        replicas: 16,
        loss: 0.10,
        warmup_s: 3.0,
        partition_s: 5.0,
        mtu: 1200,
        duration_s: 50.0,
        sync_ms: 200,
        neighbours: 4,
        elements: 0,
        late_joiner: false,
        seed: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--late-joiner" {
            o.late_joiner = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--replicas" => o.replicas = value.parse().map_err(|_| bad())?,
            "--loss" => o.loss = value.parse().map_err(|_| bad())?,
            "--warmup" => o.warmup_s = value.parse().map_err(|_| bad())?,
            "--partition" => o.partition_s = value.parse().map_err(|_| bad())?,
            "--mtu" => o.mtu = value.parse().map_err(|_| bad())?,
            "--duration" => o.duration_s = value.parse().map_err(|_| bad())?,
            "--sync-ms" => o.sync_ms = value.parse().map_err(|_| bad())?,
            "--neighbours" => o.neighbours = value.parse().map_err(|_| bad())?,
            "--seed" => o.seed = value.parse().map_err(|_| bad())?,
            "--elements" => o.elements = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.replicas < 2 || o.replicas > 256 {
        return Err("--replicas must be 2..=256".into());
    }
    if !(0.0..1.0).contains(&o.loss) {
        return Err("--loss must be in 0..1".into());
    }
    if o.mtu < 64 {
        return Err("--mtu must be at least 64".into());
    }
    Ok(o)
}

/// What the main thread and the replica threads share.
struct Shared {
    partitioned: AtomicBool,
    editing: AtomicBool,
    stop: AtomicBool,
    replicas: Vec<ReplicaStats>,
}

#[derive(Default)]
struct ReplicaStats {
    checksum: AtomicU64,
    bytes_sent: AtomicU64,
    frames_sent: AtomicU64,
    frames_lost: AtomicU64,
    frames_cut: AtomicU64,
    updates: AtomicU64,
    state_based_bytes: AtomicU64,
    bytes_received: AtomicU64,
}

fn links(n: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    let link = |adj: &mut Vec<Vec<usize>>, a: usize, b: usize| {
        if a != b && !adj[a].contains(&b) && adj[a].len() < 15 && adj[b].len() < 15 {
            adj[a].push(b);
            adj[b].push(a);
        }
    };
    for a in 0..n {
        link(&mut adj, a, (a + 1) % n);
    }
    for a in 0..n {
        for _ in 0..4 * k {
            if adj[a].len() >= k.min(n - 1) {
                break;
            }
            let b = (rng.next_u64() % n as u64) as usize;
            link(&mut adj, a, b);
        }
    }
    adj
}

fn edit(node: &mut FleetNode, clock: &mut HybridClock, rng: &mut ChaCha8Rng, wall_ms: u64) {
    let id = node.id();
    let roll = rng.next_u32() % 10;
    let result = node.update(|doc| {
        let (readings, (counters, (alerts, _))) = doc;
        if roll < 6 {
            // A sensor of this replica reports (4 sensors per replica).
            let sensor = (id.0 as u16) * 4 + (rng.next_u32() % 4) as u16;
            let stamp = clock.now(wall_ms);
            let value = 2000 + (rng.next_u32() % 1000) as i32; // centi-degrees
            let d = readings.update(&sensor, |r, cx| r.set_delta(cx, id, stamp, value))?;
            Ok((d, Default::default()))
        } else if roll < 9 {
            let d = counters.update(&EVENTS, |c, cx| c.increment_delta(cx, id, 1))?;
            Ok((Default::default(), (d, Default::default())))
        } else {
            let alert = (rng.next_u32() % 24) as u16;
            let d = if alerts.contains(&alert) {
                alerts.remove(&alert)?
            } else {
                alerts.add(id, alert)?
            };
            Ok((
                Default::default(),
                (Default::default(), (d, Default::default())),
            ))
        }
    });
    // Growable storage never runs out of capacity.
    debug_assert!(result.is_ok());
}

#[allow(clippy::too_many_arguments)]
fn run_replica(
    i: usize,
    socket: UdpSocket,
    addrs: Arc<Vec<SocketAddr>>,
    neighbours: Vec<usize>,
    shared: Arc<Shared>,
    o: Options,
    epoch: Instant,
    initial: Doc,
) -> Doc {
    let mut rng =
        ChaCha8Rng::seed_from_u64(o.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut config = Config::new(o.mtu);
    config.sync_interval_ms = o.sync_ms;
    config.heartbeat_interval_ms = o.sync_ms * 2;
    config.suspect_after_ms = o.sync_ms * 10;
    config.dead_after_ms = o.sync_ms * 25;
    config.retry_base_ms = o.sync_ms;
    config.retry_max_ms = o.sync_ms * 10;
    let now = |epoch: Instant| epoch.elapsed().as_millis() as u64;
    let mut node = FleetNode::new(
        ReplicaId(i as u64 + 1),
        initial,
        config,
        now(epoch),
        &mut rng,
    );
    let index: HashMap<SocketAddr, usize> =
        addrs.iter().enumerate().map(|(j, a)| (*a, j)).collect();
    for &j in &neighbours {
        let _ = node.add_peer(addrs[j]);
    }
    let half = |j: usize| j < o.replicas / 2;
    let stats = &shared.replicas[i];
    let mut clock = HybridClock::new();
    let mut buf = vec![0u8; o.mtu.max(2048)];
    let mut next_edit = now(epoch) + rng.next_u64() % 500;
    let mut next_round = now(epoch) + o.sync_ms;
    let mut dirty = true;
    while !shared.stop.load(Ordering::Relaxed) {
        let t = now(epoch);
        if shared.editing.load(Ordering::Relaxed) && t >= next_edit {
            let wall = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            edit(&mut node, &mut clock, &mut rng, wall);
            stats.updates.fetch_add(1, Ordering::Relaxed);
            next_edit = t + 150 + rng.next_u64() % 200;
            dirty = true;
        }
        if t >= next_round {
            // What plain state-based sync would send on the same schedule: the whole
            // state to every live neighbour, every round.
            let alive = node.peers_alive() as u64;
            stats
                .state_based_bytes
                .fetch_add(node.state().encoded_len() as u64 * alive, Ordering::Relaxed);
            next_round += o.sync_ms;
        }
        if node.poll_timeout().is_some_and(|d| d <= t) {
            node.handle_timeout(t, &mut rng);
        }
        while let Some(tx) = node.poll_transmit(now(epoch), &mut buf) {
            stats.frames_sent.fetch_add(1, Ordering::Relaxed);
            stats.bytes_sent.fetch_add(tx.len as u64, Ordering::Relaxed);
            let to = index.get(&tx.to).copied().unwrap_or(usize::MAX);
            if shared.partitioned.load(Ordering::Relaxed) && half(i) != half(to) {
                stats.frames_cut.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if (rng.next_u64() as f64 / u64::MAX as f64) < o.loss {
                stats.frames_lost.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let _ = socket.send_to(&buf[..tx.len], tx.to);
        }
        while node.poll_event().is_some() {
            dirty = true;
        }
        if dirty {
            stats
                .checksum
                .store(StateChecksum::of(node.state()).crc, Ordering::Relaxed);
            dirty = false;
        }
        let t = now(epoch);
        let wait = node
            .poll_timeout()
            .map_or(20, |d| d.saturating_sub(t))
            .clamp(1, 20);
        let _ = socket.set_read_timeout(Some(Duration::from_millis(wait)));
        if let Ok((len, from)) = socket.recv_from(&mut buf) {
            stats
                .bytes_received
                .fetch_add(len as u64, Ordering::Relaxed);
            node.handle_datagram(now(epoch), from, &buf[..len]);
        }
    }
    node.state().clone()
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    // Replicas, and the late joiner after them.
    let total = o.replicas + usize::from(o.late_joiner);
    let mut sockets: Vec<UdpSocket> =
        match (0..total).map(|_| UdpSocket::bind("127.0.0.1:0")).collect() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cannot bind UDP sockets on 127.0.0.1: {e}");
                return ExitCode::from(1);
            }
        };
    let addrs: Arc<Vec<SocketAddr>> = Arc::new(
        sockets
            .iter()
            .map(|s| s.local_addr().expect("bound"))
            .collect(),
    );
    let mut adjacency = links(o.replicas, o.neighbours, &mut rng);
    if o.late_joiner {
        // It knows two replicas; they learn of it when it introduces itself.
        let known = (0..2.min(o.replicas))
            .map(|_| (rng.next_u64() % o.replicas as u64) as usize)
            .collect();
        adjacency.push(known);
    }
    // The preloaded document (written by replica 1, so its dots are replica 1's own).
    let mut preload = Doc::default();
    for _ in 0..o.elements {
        let (_, (_, (_, items))) = &mut preload;
        items.add(ReplicaId(1), rng.next_u64()).expect("growable");
    }
    if o.elements > 0 {
        println!(
            "preloaded document: {} ids, {} bytes encoded",
            o.elements,
            preload.encoded_len()
        );
    }
    println!(
        "fleet: {} replicas on 127.0.0.1 (ports {}..), {} links each on average, {:.0}% loss, MTU {} B, sync every {} ms, seed {}",
        o.replicas,
        addrs[0].port(),
        adjacency[..o.replicas].iter().map(Vec::len).sum::<usize>() / o.replicas,
        o.loss * 100.0,
        o.mtu,
        o.sync_ms,
        o.seed
    );
    let shared = Arc::new(Shared {
        partitioned: AtomicBool::new(false),
        editing: AtomicBool::new(true),
        stop: AtomicBool::new(false),
        replicas: (0..total).map(|_| ReplicaStats::default()).collect(),
    });
    let epoch = Instant::now();
    let joiner_socket = if o.late_joiner { sockets.pop() } else { None };
    let spawn = |i: usize, socket: UdpSocket, initial: Doc| {
        let (addrs, shared, neighbours) = (addrs.clone(), shared.clone(), adjacency[i].clone());
        thread::spawn(move || run_replica(i, socket, addrs, neighbours, shared, o, epoch, initial))
    };
    let mut handles: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| spawn(i, socket, preload.clone()))
        .collect();
    let mut joiner = joiner_socket.map(|socket| (socket, o.replicas));
    let mut joined: Option<Instant> = None;
    let mut joiner_caught_up: Option<Duration> = None;

    let sum = |f: fn(&ReplicaStats) -> &AtomicU64| {
        shared
            .replicas
            .iter()
            .map(|r| f(r).load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let in_sync = || {
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for r in &shared.replicas {
            *counts
                .entry(r.checksum.load(Ordering::Relaxed))
                .or_default() += 1;
        }
        counts.values().copied().max().unwrap_or(0)
    };
    let partition_at = o.warmup_s;
    let heal_at = o.warmup_s + o.partition_s;
    let mut phase = "editing";
    let mut healed: Option<Instant> = None;
    let mut converged: Option<Duration> = None;
    let mut next_status = 1.0;
    loop {
        thread::sleep(Duration::from_millis(20));
        let t = epoch.elapsed().as_secs_f64();
        if phase == "editing" && t >= partition_at {
            shared.partitioned.store(true, Ordering::Relaxed);
            phase = "partitioned";
            println!(
                "  {t:5.1}s  partition: replicas 1-{} and {}-{} are cut off from each other",
                o.replicas / 2,
                o.replicas / 2 + 1,
                o.replicas
            );
        }
        if phase == "partitioned" && t >= heal_at {
            shared.partitioned.store(false, Ordering::Relaxed);
            shared.editing.store(false, Ordering::Relaxed);
            healed = Some(Instant::now());
            phase = "healed";
            println!(
                "  {t:5.1}s  heal: links restored, editing stops; waiting for the fleet to agree"
            );
            if let Some((socket, i)) = joiner.take() {
                println!("  {t:5.1}s  replica {} joins, empty", i + 1);
                handles.push(spawn(i, socket, Doc::default()));
                joined = Some(Instant::now());
            }
        }
        if let Some(j) = joined
            && joiner_caught_up.is_none()
        {
            let mine = shared.replicas[o.replicas].checksum.load(Ordering::Relaxed);
            let first = shared.replicas[0].checksum.load(Ordering::Relaxed);
            if mine == first && in_sync() == total {
                joiner_caught_up = Some(j.elapsed());
            }
        }
        let synced = in_sync();
        if t >= next_status {
            next_status += 1.0;
            println!(
                "  {t:5.1}s  {phase:<11}  updates {:>5}  sent {:>9} B in {:>6} frames  in sync {:>3}/{}",
                sum(|r| &r.updates),
                sum(|r| &r.bytes_sent),
                sum(|r| &r.frames_sent),
                synced,
                total
            );
        }
        if let Some(h) = healed
            && synced == total
        {
            converged = Some(h.elapsed());
            break;
        }
        if t >= o.duration_s {
            break;
        }
    }
    // Keep gossiping briefly so the last acknowledgements land, then stop everyone.
    thread::sleep(Duration::from_millis(2 * o.sync_ms));
    shared.stop.store(true, Ordering::Relaxed);
    let states: Vec<Doc> = handles
        .into_iter()
        .map(|h| h.join().expect("replica thread"))
        .collect();

    let updates = sum(|r| &r.updates);
    let bytes = sum(|r| &r.bytes_sent);
    let frames = sum(|r| &r.frames_sent);
    let lost = sum(|r| &r.frames_lost);
    let cut = sum(|r| &r.frames_cut);
    let state_based = sum(|r| &r.state_based_bytes);
    println!();
    match converged {
        Some(d) => println!(
            "converged {:.2} s after the heal ({:.1} sync rounds of {} ms)",
            d.as_secs_f64(),
            d.as_millis() as f64 / o.sync_ms as f64,
            o.sync_ms
        ),
        None => println!("did NOT converge within {} s", o.duration_s),
    }
    if o.late_joiner {
        let received = shared.replicas[o.replicas]
            .bytes_received
            .load(Ordering::Relaxed);
        let doc = states.first().map_or(0, |s| s.encoded_len());
        match joiner_caught_up {
            Some(d) => println!(
                "late joiner: caught up in {:.2} s, received {received} bytes for a {doc}-byte document ({:.2}x)",
                d.as_secs_f64(),
                received as f64 / doc.max(1) as f64
            ),
            None => println!("late joiner: did NOT catch up"),
        }
    }
    println!(
        "updates: {updates} ({:.1} per replica)",
        updates as f64 / o.replicas as f64
    );
    println!(
        "sent: {bytes} bytes in {frames} frames; injected loss dropped {lost} ({:.1}%), the partition cut {cut}",
        100.0 * lost as f64 / frames.max(1) as f64
    );
    println!(
        "bytes per update: {:.0}",
        bytes as f64 / updates.max(1) as f64
    );
    println!(
        "plain state-based sync on the same schedule (whole state to every live neighbour each round): {state_based} bytes ({:.1}x)",
        state_based as f64 / bytes.max(1) as f64
    );
    let first = states[0].to_vec();
    let identical = states.iter().all(|s| s.to_vec() == first);
    let (readings, (counters, (alerts, items))) = &states[0];
    println!(
        "final document: {} sensor readings, {} events counted, {} active alerts, {} ids, {} bytes encoded",
        readings.len(),
        counters.get(&EVENTS).map_or(0, |c| c.value()),
        alerts.len(),
        items.len(),
        first.len()
    );
    if identical && converged.is_some() && states.len() == total {
        println!("all {total} replicas hold the identical state: OK");
        ExitCode::SUCCESS
    } else {
        println!("replicas differ: FAILED");
        ExitCode::from(1)
    }
}
