//! The firmware example (`firmware-example/`, its own workspace): host tests, lint, the
//! QEMU sync run (`cargo xtask qemu`), the on-target tests, the footprint table
//! (`cargo xtask size`) and the real-board build.
//!
//! Tools it needs beyond rustup: `qemu-system-arm` (apt) and `defmt-print` (cargo
//! install); [`ensure_tools`] installs whichever is missing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Ctx, Program, Step};

/// The firmware's directory, relative to the workspace root.
const FIRMWARE_DIR: &str = "firmware-example";
/// The firmware's target (also in `firmware-example/.cargo/config.toml`).
const TARGET: &str = "thumbv7em-none-eabihf";
/// The board QEMU emulates.
const QEMU_MACHINE: &[&str] = &["-machine", "mps2-an386", "-cpu", "cortex-m4"];
/// Footprint target of Starling over the bare firmware: flash (text + rodata). Not met
/// yet (docs/footprint.md): reported, and [`FLASH_CEILING`] is enforced instead.
const FLASH_BUDGET: u64 = 24 * 1024;
/// Enforced ceiling on the flash Starling adds until [`FLASH_BUDGET`] is met: the
/// measured figure plus a small margin (40,888 B on main at the time of writing; panic
/// locations embed the checkout path, so it moves by a few bytes between clones), so that
/// growth fails CI. Raised from 37,888 B by exactly the 1,976 B that the hostile-input
/// fixes, the sync split and the symmetric catch-up added, then by exactly the 1,348 B of
/// transfers and frame format v2 (38,700 B before, 40,048 B after; out-of-sync events and
/// probe fixes then added 840 B within it: docs/footprint.md).
const FLASH_CEILING: u64 = 37 * 1024 + 1_976 + 1_348;
/// Footprint budget of Starling over the bare firmware: static RAM (data + bss);
/// enforced.
const RAM_BUDGET: u64 = 8 * 1024;

/// `cargo xtask firmware`: every firmware step, as in CI.
pub(crate) fn steps() -> Vec<Step> {
    FIRMWARE.to_vec()
}

/// `cargo xtask qemu`: the sync run.
pub(crate) const QEMU: &[Step] = &[builtin(
    "firmware: QEMU sync run (host + 2 nodes, loss)",
    qemu_run,
)];

/// `cargo xtask on-target`: the defmt-test suite in QEMU.
pub(crate) const ON_TARGET: &[Step] = &[builtin(
    "firmware: on-target tests in QEMU (defmt-test)",
    on_target_tests,
)];

/// `cargo xtask size`: the footprint table and budget check.
pub(crate) const SIZE: &[Step] = &[builtin(
    "firmware: footprint against the bare firmware",
    size,
)];

/// The firmware's CI steps.
pub(crate) const FIRMWARE: &[Step] = &[
    builtin(
        "firmware: tools (qemu-system-arm, defmt-print)",
        ensure_tools,
    ),
    builtin(
        "firmware: host tests (lan9118 model, sensor document)",
        host_tests,
    ),
    builtin("firmware: rustfmt check and clippy", lint),
    builtin("firmware: QEMU sync run (host + 2 nodes, loss)", qemu_run),
    builtin(
        "firmware: on-target tests in QEMU (defmt-test)",
        on_target_tests,
    ),
    builtin("firmware: footprint against the bare firmware", size),
    builtin(
        "firmware: Nucleo-F429ZI build (embassy-stm32)",
        nucleo_build,
    ),
];

const fn builtin(name: &'static str, f: fn(&Ctx) -> Result<(), String>) -> Step {
    Step {
        name,
        program: Program::Builtin(f),
        args: "",
        env: &[],
    }
}

fn firmware_dir(ctx: &Ctx) -> PathBuf {
    ctx.root.join(FIRMWARE_DIR)
}

/// A `cargo` command run inside `firmware-example/` (so its `.cargo/config.toml` applies).
fn fw_cargo(ctx: &Ctx, args: &[&str]) -> Command {
    let mut cmd = Command::new(&ctx.cargo);
    cmd.current_dir(firmware_dir(ctx)).args(args);
    cmd
}

/// The host's target triple (`rustc -vV`), for the std crates of the firmware workspace.
fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or_else(|| "rustc -vV names no host".into())
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs `qemu-system-arm` (apt) and `defmt-print` (cargo install) if missing.
fn ensure_tools(ctx: &Ctx) -> Result<(), String> {
    if have("qemu-system-arm") {
        println!("    qemu-system-arm present");
    } else {
        println!("    installing qemu-system-arm (apt)");
        ctx.apt_install(&["qemu-system-arm"])?;
    }
    if have("defmt-print") {
        println!("    defmt-print present");
    } else {
        println!("    installing defmt-print (cargo install --locked)");
        let mut install = Command::new(&ctx.cargo);
        install.args(["install", "defmt-print", "--locked"]);
        ctx.status(install)?;
    }
    Ok(())
}

/// The host-side tests of the firmware workspace: the LAN9118 driver against its model,
/// and the sensor document.
fn host_tests(ctx: &Ctx) -> Result<(), String> {
    let host = host_triple()?;
    ctx.status(fw_cargo(
        ctx,
        &[
            "test",
            "-p",
            "lan9118",
            "-p",
            "sensor-app",
            "--target",
            &host,
        ],
    ))
}

/// rustfmt, clippy and rustdoc (warnings denied) on every crate of the firmware
/// workspace, each for the target it is built for.
fn lint(ctx: &Ctx) -> Result<(), String> {
    let host = host_triple()?;
    ctx.status(fw_cargo(ctx, &["fmt", "--all", "--", "--check"]))?;
    ctx.status(fw_cargo(
        ctx,
        &[
            "clippy",
            "--release",
            "-p",
            "starling-firmware",
            "--bins",
            "--tests",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    ctx.status(fw_cargo(
        ctx,
        &[
            "clippy",
            "--release",
            "-p",
            "m0-core-size",
            "--target",
            "thumbv6m-none-eabi",
            "--features",
            "crdts",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    ctx.status(fw_cargo(
        ctx,
        &[
            "clippy",
            "--target",
            &host,
            "-p",
            "lan9118",
            "-p",
            "sensor-app",
            "-p",
            "host-replica",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    let mut doc = fw_cargo(
        ctx,
        &[
            "doc",
            "--no-deps",
            "--target",
            &host,
            "-p",
            "lan9118",
            "-p",
            "sensor-app",
            "-p",
            "host-replica",
        ],
    );
    doc.env("RUSTDOCFLAGS", "-D warnings");
    ctx.status(doc)
}

/// Builds the Nucleo-F429ZI firmware (compile only: no board in CI).
fn nucleo_build(ctx: &Ctx) -> Result<(), String> {
    ctx.status(fw_cargo(
        ctx,
        &["build", "--release", "-p", "nucleo-f429zi"],
    ))
}

// ---- processes ------------------------------------------------------------------

/// Child processes killed (and reaped) when dropped, on every exit path.
#[derive(Default)]
struct Children(Vec<(String, Child)>);

impl Children {
    fn spawn(&mut self, name: &str, mut cmd: Command) -> Result<&mut Child, String> {
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        self.0.push((name.to_owned(), child));
        Ok(&mut self.0.last_mut().expect("just pushed").1)
    }

    /// The first child that has exited, with its status.
    fn exited(&mut self) -> Option<String> {
        self.0.iter_mut().find_map(|(name, child)| {
            child
                .try_wait()
                .ok()
                .flatten()
                .map(|status| format!("{name} exited ({status})"))
        })
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends each line of `source` as `(tag, line)` until it closes.
fn forward_lines(
    tag: String,
    source: impl Read + Send + 'static,
    to: mpsc::Sender<(String, String)>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if to.send((tag.clone(), line)).is_err() {
                break;
            }
        }
    });
}

/// Starts `qemu-system-arm` on `elf` with `net` options and semihosting `args`, its
/// stdout (defmt frames) decoded by `defmt-print`, whose lines go to `lines` under `tag`.
fn spawn_qemu(
    children: &mut Children,
    tag: &str,
    elf: &Path,
    semihosting_args: &[String],
    net: &[&str],
    lines: &mpsc::Sender<(String, String)>,
) -> Result<(), String> {
    let mut semihosting = String::from("enable=on,target=native");
    for a in semihosting_args {
        semihosting.push_str(",arg=");
        semihosting.push_str(a);
    }
    let mut qemu = Command::new("qemu-system-arm");
    qemu.args(QEMU_MACHINE)
        .args(["-nographic", "-monitor", "none", "-serial", "null"])
        .args(["-semihosting-config", &semihosting])
        .args(net)
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let q = children.spawn(&format!("{tag} (qemu)"), qemu)?;
    let frames = q.stdout.take().ok_or("no QEMU stdout")?;
    let errors = q.stderr.take().ok_or("no QEMU stderr")?;
    forward_lines(format!("{tag} qemu"), errors, lines.clone());
    let mut print = Command::new("defmt-print");
    print
        .arg("-e")
        .arg(elf)
        .stdin(Stdio::from(frames))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let p = children.spawn(&format!("{tag} (defmt-print)"), print)?;
    let out = p.stdout.take().ok_or("no defmt-print stdout")?;
    let err = p.stderr.take().ok_or("no defmt-print stderr")?;
    forward_lines(tag.to_owned(), out, lines.clone());
    forward_lines(format!("{tag} defmt-print"), err, lines.clone());
    Ok(())
}

/// The value of `key=` in a status line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

// ---- the QEMU sync run ----------------------------------------------------------

/// Samples each node takes in the run.
const RUN_SAMPLES: u32 = 8;
/// Loss injected by each node on receive and on send, in percent.
const RUN_LOSS_PERCENT: u32 = 15;
/// Longest the run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What the run knows of one replica, from its latest status line.
#[derive(Default, Clone)]
struct ReplicaStatus {
    crc: Option<String>,
    line: String,
}

/// Builds the firmware and the host replica, starts the host replica, node 2 (QEMU user
/// networking, host port forwarding, and a socket link) and node 3 (the socket link
/// only), and waits until all three hold the same state and the host's state is
/// complete (every sample counted, fast reporting acknowledged by both nodes).
fn qemu_run(ctx: &Ctx) -> Result<(), String> {
    for tool in ["qemu-system-arm", "defmt-print"] {
        if !have(tool) {
            return Err(format!(
                "{tool} not found: run `cargo xtask ci` once, or install it"
            ));
        }
    }
    let host = host_triple()?;
    ctx.status(fw_cargo(
        ctx,
        &["build", "--release", "--bin", "sensor-node"],
    ))?;
    ctx.status(fw_cargo(
        ctx,
        &[
            "build",
            "--release",
            "-p",
            "host-replica",
            "--target",
            &host,
        ],
    ))?;
    let dir = firmware_dir(ctx);
    let elf = dir.join(format!("target/{TARGET}/release/sensor-node"));
    let host_bin = dir.join(format!("target/{host}/release/host-replica"));

    let (tx, rx) = mpsc::channel();
    let mut children = Children::default();
    let samples = RUN_SAMPLES.to_string();
    let mut host_cmd = Command::new(&host_bin);
    host_cmd
        .args([
            "--port",
            "5556",
            "--peer",
            "127.0.0.1:5555",
            "--expect",
            "2,3",
        ])
        .args(["--samples", &samples, "--flag-after-ms", "4000"])
        .args(["--seconds", &RUN_TIMEOUT.as_secs().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let h = children.spawn("host replica", host_cmd)?;
    let (out, err) = (h.stdout.take(), h.stderr.take());
    forward_lines("host".into(), out.ok_or("no host stdout")?, tx.clone());
    forward_lines("host".into(), err.ok_or("no host stderr")?, tx.clone());
    // The host listens before the nodes start (a first datagram would be lost).
    std::thread::sleep(Duration::from_millis(300));

    let node_args = |id: u8, ip: &str, peers: &[&str]| -> Vec<String> {
        let mut a = vec![
            "sensor-node".to_owned(),
            format!("id={id}"),
            format!("ip={ip}"),
            format!("samples={RUN_SAMPLES}"),
            format!("loss={RUN_LOSS_PERCENT}"),
        ];
        a.extend(peers.iter().map(|p| format!("peer={p}")));
        a
    };
    // Node 2: its NIC on a hub with QEMU's user network (host 127.0.0.1:5555 forwarded
    // to its uplink port; it sends to the host at 10.0.2.2) and the socket link.
    spawn_qemu(
        &mut children,
        "node 2",
        &elf,
        &node_args(2, "10.0.2.15", &["10.0.2.2:5556", "10.0.2.16:5557"]),
        &[
            "-net",
            "nic,model=lan9118,macaddr=02:53:54:00:00:02",
            "-net",
            "user,hostfwd=udp:127.0.0.1:5555-:5555",
            "-net",
            "socket,udp=127.0.0.1:7002,localaddr=127.0.0.1:7001",
        ],
        &tx,
    )?;
    // Node 3: the socket link to node 2 only.
    spawn_qemu(
        &mut children,
        "node 3",
        &elf,
        &node_args(3, "10.0.2.16", &["10.0.2.15:5557"]),
        &[
            "-net",
            "nic,model=lan9118,macaddr=02:53:54:00:00:03",
            "-net",
            "socket,udp=127.0.0.1:7001,localaddr=127.0.0.1:7002",
        ],
        &tx,
    )?;
    drop(tx);

    let start = Instant::now();
    let mut status: BTreeMap<String, ReplicaStatus> = BTreeMap::new();
    let mut host_complete = false;
    loop {
        if start.elapsed() > RUN_TIMEOUT {
            print_summary(&status, start);
            return Err(format!("no convergence within {} s", RUN_TIMEOUT.as_secs()));
        }
        if let Some(exit) = children.exited() {
            print_summary(&status, start);
            return Err(exit);
        }
        let Ok((tag, line)) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        println!("[{tag:>6}] {line}");
        if line.contains("status") {
            if let Some(crc) = field(&line, "crc") {
                let entry = status.entry(tag.clone()).or_default();
                entry.crc = Some(crc.to_owned());
                entry.line = line.clone();
            }
            if tag == "host" {
                host_complete = field(&line, "complete") == Some("true");
            }
        }
        let crcs: Vec<&Option<String>> = status.values().map(|s| &s.crc).collect();
        let all_in = ["host", "node 2", "node 3"]
            .iter()
            .all(|t| status.get(*t).is_some_and(|s| s.crc.is_some()));
        if host_complete && all_in && crcs.windows(2).all(|w| w[0] == w[1]) {
            print_summary(&status, start);
            println!(
                "converged: 3 replicas hold the same state (crc {}) after {:.1} s",
                crcs[0].as_deref().unwrap_or("?"),
                start.elapsed().as_secs_f64()
            );
            println!("qemu run: 1 passed, 0 failed");
            return Ok(());
        }
    }
}

fn print_summary(status: &BTreeMap<String, ReplicaStatus>, start: Instant) {
    println!(
        "---- summary after {:.1} s ----",
        start.elapsed().as_secs_f64()
    );
    for (tag, s) in status {
        let line = s.line.trim_start_matches("INFO").trim();
        println!("{tag:>7}: {line}");
    }
}

// ---- on-target tests ------------------------------------------------------------

/// Builds the defmt-test suite, runs it in QEMU and counts the tests that passed.
fn on_target_tests(ctx: &Ctx) -> Result<(), String> {
    let mut build = fw_cargo(
        ctx,
        &[
            "test",
            "--release",
            "-p",
            "starling-firmware",
            "--test",
            "on_target",
            "--no-run",
        ],
    );
    build.stderr(Stdio::piped());
    let out = build
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    eprint!("{log}");
    if !out.status.success() {
        return Err("building the on-target tests failed".into());
    }
    // "  Executable tests/on_target.rs (target/thumbv7em-none-eabihf/release/deps/on_target-…)"
    let elf = log
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("Executable tests/on_target.rs (")?;
            rest.strip_suffix(')')
        })
        .ok_or("cargo did not name the test executable")?;
    let elf = firmware_dir(ctx).join(elf);

    let (tx, rx) = mpsc::channel();
    let mut children = Children::default();
    spawn_qemu(
        &mut children,
        "target",
        &elf,
        &["on_target".to_owned()],
        &["-nic", "none"],
        &tx,
    )?;
    drop(tx);
    let (mut total, mut started, mut all_passed) = (0usize, 0usize, false);
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Ok((tag, line)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        println!("[{tag}] {line}");
        // "(3/12) running `name`..."
        if let Some(rest) = line.split('(').nth(1)
            && let Some((i, rest)) = rest.split_once('/')
            && let Some((n, rest)) = rest.split_once(')')
            && rest.trim_start().starts_with("running")
        {
            started = i.trim().parse().unwrap_or(started);
            total = n.trim().parse().unwrap_or(total);
        }
        if line.contains("all tests passed!") {
            all_passed = true;
        }
    }
    let qemu_status = children.0.first_mut().and_then(|(_, c)| c.wait().ok());
    let success = all_passed && qemu_status.is_some_and(|s| s.success());
    let (passed, failed) = if success {
        (total, 0)
    } else {
        (started.saturating_sub(1), 1)
    };
    println!("on-target tests: {passed} passed, {failed} failed (of {total})");
    if success && total > 0 {
        Ok(())
    } else {
        Err("on-target tests failed".into())
    }
}

// ---- footprint ------------------------------------------------------------------

/// Flash and static RAM of an ELF: `(text + rodata, data + bss)`.
#[derive(Clone, Copy)]
struct Footprint {
    flash: u64,
    ram: u64,
}

/// Reads the section headers of a 32-bit little-endian ELF and sums its allocated
/// sections: read-only ones (code, constants, vector table) are flash, writable ones
/// (`.data`, and `.bss` and other no-bits sections) static RAM.
fn footprint(path: &Path) -> Result<Footprint, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = || format!("{}: not a 32-bit little-endian ELF", path.display());
    if bytes.get(..6) != Some(&[0x7F, b'E', b'L', b'F', 1, 1]) {
        return Err(bad());
    }
    let u16_at = |at: usize| -> Result<u64, String> {
        let b = bytes.get(at..at + 2).ok_or_else(bad)?;
        Ok(u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |at: usize| -> Result<u64, String> {
        let b = bytes.get(at..at + 4).ok_or_else(bad)?;
        Ok(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    let (shoff, shentsize, shnum) = (u32_at(0x20)?, u16_at(0x2E)?, u16_at(0x30)?);
    const SHF_WRITE: u64 = 1;
    const SHF_ALLOC: u64 = 2;
    const SHT_NOBITS: u64 = 8;
    let mut fp = Footprint { flash: 0, ram: 0 };
    for i in 0..shnum {
        let at = usize::try_from(shoff + i * shentsize).map_err(|_| bad())?;
        let (kind, flags, size) = (u32_at(at + 4)?, u32_at(at + 8)?, u32_at(at + 0x14)?);
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        if flags & SHF_WRITE != 0 || kind == SHT_NOBITS {
            fp.ram += size;
        } else {
            fp.flash += size;
        }
    }
    Ok(fp)
}

/// Builds the sensor node and the bare firmware (same profile), prints their flash and
/// static RAM and the difference, the core-only figure on Cortex-M0, and fails when the
/// difference exceeds the budget.
fn size(ctx: &Ctx) -> Result<(), String> {
    ctx.status(fw_cargo(
        ctx,
        &[
            "build",
            "--release",
            "--bin",
            "sensor-node",
            "--bin",
            "bare-udp",
        ],
    ))?;
    let dir = firmware_dir(ctx).join(format!("target/{TARGET}/release"));
    let node = footprint(&dir.join("sensor-node"))?;
    let bare = footprint(&dir.join("bare-udp"))?;
    let kib = |b: u64| b as f64 / 1024.0;
    let added = Footprint {
        flash: node.flash.saturating_sub(bare.flash),
        ram: node.ram.saturating_sub(bare.ram),
    };
    println!(
        "| firmware ({TARGET}, opt-level z, LTO) | flash (text+rodata) | static RAM (data+bss) |"
    );
    println!("|---|---:|---:|");
    println!(
        "| bare embassy-net UDP (`bare-udp`) | {} B | {} B |",
        bare.flash, bare.ram
    );
    println!(
        "| sensor node with Starling (`sensor-node`) | {} B | {} B |",
        node.flash, node.ram
    );
    println!(
        "| difference | {} B ({:.1} KiB) | {} B ({:.1} KiB) |",
        added.flash,
        kib(added.flash),
        added.ram,
        kib(added.ram)
    );
    println!(
        "| budget | {} B ({:.0} KiB) | {} B ({:.0} KiB) |",
        FLASH_BUDGET,
        kib(FLASH_BUDGET),
        RAM_BUDGET,
        kib(RAM_BUDGET)
    );

    // Core alone on a Cortex-M0: the same minimal program with and without one AwSet
    // and one GCounter.
    let m0 = |features: &[&str]| -> Result<Footprint, String> {
        let mut args = vec![
            "build",
            "--release",
            "-p",
            "m0-core-size",
            "--target",
            "thumbv6m-none-eabi",
        ];
        args.extend_from_slice(features);
        ctx.status(fw_cargo(ctx, &args))?;
        footprint(&firmware_dir(ctx).join("target/thumbv6m-none-eabi/release/m0-core-size"))
    };
    let empty = m0(&[])?;
    let crdts = m0(&["--features", "crdts"])?;
    println!(
        "| starling-core alone on thumbv6m-none-eabi (one AwSet, one GCounter) | {} B | {} B |",
        crdts.flash.saturating_sub(empty.flash),
        crdts.ram.saturating_sub(empty.ram)
    );

    println!(
        "static RAM: {} B added, budget {RAM_BUDGET} B: {}",
        added.ram,
        if added.ram <= RAM_BUDGET {
            "within"
        } else {
            "OVER"
        }
    );
    if added.flash <= FLASH_BUDGET {
        println!(
            "flash: {} B added, budget {FLASH_BUDGET} B: within",
            added.flash
        );
    } else {
        println!(
            "flash: {} B added, over the {FLASH_BUDGET} B target by {} B (not met yet, see \
             docs/footprint.md); enforced ceiling {FLASH_CEILING} B: {}",
            added.flash,
            added.flash - FLASH_BUDGET,
            if added.flash <= FLASH_CEILING {
                "holds"
            } else {
                "EXCEEDED"
            }
        );
    }
    if added.ram > RAM_BUDGET || added.flash > FLASH_CEILING {
        return Err(format!(
            "Starling adds {} B flash (ceiling {FLASH_CEILING}) and {} B static RAM (budget {RAM_BUDGET})",
            added.flash, added.ram
        ));
    }
    Ok(())
}
