//! Repository automation for Starling, run as `cargo xtask <command>`.
//!
//! Every pipeline is a list of [`Step`]s. To add a CI stage (a sync crate,
//! wasm tests, qemu runs, ...) add a `Step` to one of the step tables below
//! and, if it is a new group, chain it into [`ci_steps`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod firmware;
mod wasm;

/// Cross-compilation targets the embedded builds need.
const TARGETS: &[&str] = &[
    "thumbv6m-none-eabi",
    "thumbv7em-none-eabihf",
    "wasm32-unknown-unknown",
];

/// Rustup components the lint steps need.
const COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// Usage text printed by `cargo xtask help` and on bad input.
const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--skip-tests]  full CI: toolchain setup, tests, lint, embedded builds, wasm package
                     and its tests, firmware under QEMU, fleet demo
                     (--skip-tests skips `cargo test --workspace`)
  lint               rustfmt check, clippy, rustdoc with -D warnings
  qemu               firmware example: host replica + 2 QEMU Cortex-M4 nodes sync under loss
  size               firmware example: flash/RAM of the sensor node vs a bare UDP firmware
  on-target          firmware example: defmt-test suite on the Cortex-M4 in QEMU
  firmware           firmware example: every firmware CI step (tools, tests, lint, qemu,
                     on-target, size, Nucleo build)
  embedded           no_std / cross-target builds of starling-core
  wasm               build the npm package (bindings/wasm/npm), check its size budget
  wasm-test          package tests: wasm-bindgen-test (Node, Chromium), node --test,
                     tsc --strict, end-to-end demo in two Chromium tabs
  web [--port N]     build the package and serve the demo on 127.0.0.1 (default 8080)
  bench              core benchmarks: Starling, crdts and Automerge side by side
                     (bench/, outside the workspace; tables in Markdown)
  bench-sync         sync efficiency in the deterministic simulator: the Enes et al.
                     experiment, partition recovery, gossip spread (Markdown tables)
  help               show this message";

/// The program a [`Step`] runs.
#[derive(Clone, Copy)]
enum Program {
    /// The `cargo` that launched xtask (from `$CARGO`, else `cargo`).
    Cargo,
    /// Any other executable looked up on `PATH`, e.g. `rustup` or `qemu-system-arm`.
    Tool(&'static str),
    /// In-process logic; `args` and `env` are ignored.
    Builtin(fn(&Ctx) -> Result<(), String>),
}

/// One named CI step: a program with arguments and extra environment.
#[derive(Clone, Copy)]
struct Step {
    /// Shown in the `==> name` banner.
    name: &'static str,
    /// What to run.
    program: Program,
    /// Command-line arguments, separated by whitespace (no quoting).
    args: &'static str,
    /// Extra environment variables for the child process.
    env: &'static [(&'static str, &'static str)],
}

impl Step {
    /// A `cargo` step with no extra environment.
    const fn cargo(name: &'static str, args: &'static str) -> Self {
        Self {
            name,
            program: Program::Cargo,
            args,
            env: &[],
        }
    }

    /// The shell-like command line this step runs, for the log (`None` for builtins).
    fn command_line(&self) -> Option<String> {
        let program = match self.program {
            Program::Cargo => "cargo",
            Program::Tool(name) => name,
            Program::Builtin(_) => return None,
        };
        let env: String = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}='{v}' "))
            .collect();
        Some(format!("{env}{program} {}", self.args))
    }
}

/// Step a: make sure targets and components are installed.
const SETUP: &[Step] = &[Step {
    name: "toolchain: targets and components",
    program: Program::Builtin(ensure_toolchain),
    args: "",
    env: &[],
}];

/// Step b: the README's test command.
const TESTS: &[Step] = &[Step::cargo("cargo test --workspace", "test --workspace")];

/// Steps c-e: formatting, clippy and rustdoc, all warnings denied.
const LINT: &[Step] = &[
    Step::cargo("rustfmt check", "fmt --all -- --check"),
    Step::cargo(
        "clippy (workspace, all targets)",
        "clippy --workspace --all-targets -- -D warnings",
    ),
    Step {
        name: "rustdoc (workspace)",
        program: Program::Cargo,
        args: "doc --workspace --no-deps",
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
];

/// Step f: starling-core and starling-sync on bare-metal and wasm targets.
const EMBEDDED: &[Step] = &[
    Step::cargo(
        "build core: thumbv6m, no default features",
        "build -p starling-core --no-default-features --target thumbv6m-none-eabi",
    ),
    Step::cargo(
        "build core: thumbv7em, alloc",
        "build -p starling-core --features alloc --target thumbv7em-none-eabihf",
    ),
    Step::cargo(
        "build core: wasm32, alloc",
        "build -p starling-core --features alloc --target wasm32-unknown-unknown",
    ),
    Step::cargo(
        "build core: thumbv7em, defmt",
        "build -p starling-core --no-default-features --features defmt --target thumbv7em-none-eabihf",
    ),
    Step::cargo(
        "clippy core: thumbv6m, no default features",
        "clippy -p starling-core --no-default-features --target thumbv6m-none-eabi -- -D warnings",
    ),
    Step::cargo(
        "build sync: thumbv6m, no default features",
        "build -p starling-sync --no-default-features --target thumbv6m-none-eabi",
    ),
    Step::cargo(
        "build sync: thumbv7em, alloc + defmt",
        "build -p starling-sync --features alloc,defmt --target thumbv7em-none-eabihf",
    ),
    Step::cargo(
        "build sync: wasm32, alloc",
        "build -p starling-sync --features alloc --target wasm32-unknown-unknown",
    ),
    Step::cargo(
        "clippy sync: thumbv6m, no default features",
        "clippy -p starling-sync --no-default-features --target thumbv6m-none-eabi -- -D warnings",
    ),
];

/// The core benchmarks. `bench/` is its own workspace (automerge and crdts stay out of
/// the workspace's builds): build it, then run the timing harness and the heap counter
/// (separate binaries, so the counting allocator costs nothing in the timings).
const BENCH: &[Step] = &[
    Step::cargo(
        "build benchmarks (release)",
        "build --release --manifest-path bench/Cargo.toml --bins",
    ),
    Step::cargo(
        "benchmarks: timings and encoded sizes",
        "run --release --manifest-path bench/Cargo.toml --bin starling-bench",
    ),
    Step::cargo(
        "benchmarks: heap bytes",
        "run --release --manifest-path bench/Cargo.toml --bin heap",
    ),
];

/// Sync efficiency: byte counts and rounds from the deterministic simulator
/// (`tests/examples/bench_sync.rs`; the goals are asserted in `tests/sync_efficiency.rs`).
const BENCH_SYNC: &[Step] = &[Step::cargo(
    "sync benchmarks: Enes et al. experiment, partition recovery, gossip spread",
    "run --release -p starling-tests --example bench_sync",
)];

/// The full CI pipeline, in order.
fn ci_steps(skip_tests: bool) -> Vec<Step> {
    let tests: &[Step] = if skip_tests { &[] } else { TESTS };
    [
        SETUP,
        tests,
        LINT,
        EMBEDDED,
        wasm::WASM_BUILD,
        wasm::WASM_TEST,
        firmware::FIRMWARE,
        MAIN_JOB,
    ]
    .concat()
}

/// The README's main job: the fleet demo over real UDP on 127.0.0.1 (fixed seed), which
/// exits non-zero unless every replica converges.
const MAIN_JOB: &[Step] = &[Step::cargo(
    "main job: fleet demo (16 replicas, UDP, loss, partition)",
    "run --release --example fleet -- --seed 1",
)];

/// Where and with which cargo the steps run.
struct Ctx {
    /// Workspace root (parent of `xtask/`).
    root: PathBuf,
    /// The cargo executable.
    cargo: OsString,
}

impl Ctx {
    /// A [`Command`] for `program`, rooted at the workspace.
    fn command(&self, program: Program) -> Command {
        let mut cmd = match program {
            Program::Cargo => Command::new(&self.cargo),
            Program::Tool(name) => Command::new(name),
            Program::Builtin(_) => unreachable!("builtin steps do not spawn"),
        };
        cmd.current_dir(&self.root);
        cmd
    }

    /// Runs `cmd` to completion, turning a spawn error or non-zero exit into `Err`.
    fn status(&self, mut cmd: Command) -> Result<(), String> {
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{:?} exited with {status}", cmd.get_program()))
        }
    }

    /// Runs one step, inheriting stdout and stderr.
    fn run(&self, step: &Step) -> Result<(), String> {
        if let Program::Builtin(f) = step.program {
            return f(self);
        }
        let mut cmd = self.command(step.program);
        cmd.args(step.args.split_whitespace())
            .envs(step.env.iter().copied());
        self.status(cmd)
    }

    /// Lines printed by `rustup <args>`, trimmed.
    fn rustup_lines(&self, args: &[&str]) -> Result<Vec<String>, String> {
        let out = Command::new("rustup")
            .args(args)
            .current_dir(&self.root)
            .output()
            .map_err(|e| format!("cannot run rustup (is it installed?): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`rustup {}` failed: {}",
                args.join(" "),
                out.status
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().map(|l| l.trim().to_owned()).collect())
    }

    /// Installs Debian `packages` (refreshing the package lists first), without
    /// recommended extras and without questions. Callers check what is present first.
    fn apt_install(&self, packages: &[&str]) -> Result<(), String> {
        let mut update = Command::new("apt-get");
        update.args(["update", "-q"]);
        self.status(update)?;
        let mut install = Command::new("apt-get");
        install
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        self.status(install)
    }

    /// Runs `rustup <verb> add <missing...>` if anything is missing.
    fn rustup_add(&self, verb: &str, missing: &[&str]) -> Result<(), String> {
        if missing.is_empty() {
            println!("    all {verb}s already installed");
            return Ok(());
        }
        println!("    adding {verb}(s): {}", missing.join(" "));
        let mut cmd = self.command(Program::Tool("rustup"));
        cmd.args([verb, "add"]).args(missing);
        self.status(cmd)
    }
}

/// Installs whichever of [`TARGETS`] and [`COMPONENTS`] are missing.
fn ensure_toolchain(ctx: &Ctx) -> Result<(), String> {
    let targets = ctx.rustup_lines(&["target", "list", "--installed"])?;
    let missing: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| !targets.iter().any(|l| l == t))
        .collect();
    ctx.rustup_add("target", &missing)?;

    // Installed components are listed with a host suffix: `clippy-x86_64-unknown-linux-gnu`.
    let comps = ctx.rustup_lines(&["component", "list", "--installed"])?;
    let has = |c: &str| {
        comps
            .iter()
            .any(|l| l == c || l.starts_with(&format!("{c}-")))
    };
    let missing: Vec<&str> = COMPONENTS.iter().copied().filter(|c| !has(c)).collect();
    ctx.rustup_add("component", &missing)
}

/// Runs `steps` in order, stopping at the first failure, then prints the summary.
fn run_steps(ctx: &Ctx, steps: &[Step]) -> ExitCode {
    let total = Instant::now();
    let mut passed = 0;
    let mut failed = 0;
    for step in steps {
        println!("==> {}", step.name);
        if let Some(line) = step.command_line() {
            println!("    $ {line}");
        }
        let start = Instant::now();
        let result = ctx.run(step);
        let secs = start.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                passed += 1;
                println!("==> {}: ok ({secs:.1}s)", step.name);
            }
            Err(e) => {
                failed += 1;
                println!("==> {}: FAILED ({secs:.1}s): {e}", step.name);
                break;
            }
        }
    }
    println!("total time {:.1}s", total.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints [`USAGE`] to stderr and returns exit code 2.
fn usage_error(msg: &str) -> ExitCode {
    eprintln!("error: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

/// Parses the command line and runs the selected pipeline.
fn main() -> ExitCode {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ctx = Ctx {
        root: manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf(),
        cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
    };

    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, flags) = match args.split_first() {
        Some((command, flags)) => (command.as_str(), flags),
        None => return usage_error("no command given"),
    };
    let steps = match (command, flags) {
        ("help" | "-h" | "--help", _) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        ("ci", []) => ci_steps(false),
        ("ci", [flag]) if flag == "--skip-tests" => ci_steps(true),
        ("qemu", []) => firmware::QEMU.to_vec(),
        ("size", []) => firmware::SIZE.to_vec(),
        ("on-target", []) => firmware::ON_TARGET.to_vec(),
        ("firmware", []) => firmware::steps(),
        ("qemu" | "size" | "on-target" | "firmware", _) => {
            return usage_error(&format!("unexpected arguments to `{command}`: {flags:?}"));
        }
        ("lint", []) => LINT.to_vec(),
        ("embedded", []) => EMBEDDED.to_vec(),
        ("bench", []) => BENCH.to_vec(),
        ("bench-sync", []) => BENCH_SYNC.to_vec(),
        ("wasm", []) => wasm::WASM_BUILD.to_vec(),
        ("wasm-test", []) => [wasm::WASM_BUILD, wasm::WASM_TEST].concat(),
        ("web", flags) => match wasm::web_steps(flags) {
            Ok(steps) => steps,
            Err(e) => return usage_error(&e),
        },
        ("ci" | "lint" | "embedded" | "bench" | "bench-sync" | "wasm" | "wasm-test", _) => {
            return usage_error(&format!("unexpected arguments to `{command}`: {flags:?}"));
        }
        _ => return usage_error(&format!("unknown command `{command}`")),
    };
    run_steps(&ctx, &steps)
}
