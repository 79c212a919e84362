//! The browser and Node package (`bindings/wasm`): build, size budget, tests, demo server.
//!
//! * `cargo xtask wasm`: installs what is missing (the wasm-bindgen CLI at exactly the
//!   crate's version, npm packages from the lock file), builds the module with the
//!   size profile, runs wasm-bindgen and wasm-opt (npm `binaryen`) into
//!   `bindings/wasm/npm/wasm/`, and fails if the module passes its size budget.
//! * `cargo xtask wasm-test`: wasm-bindgen-test suites in Node and headless Chromium,
//!   the package's own Node tests, `tsc --strict` over its types, and the end-to-end
//!   run of the demo in two Chromium tabs (playwright-core), with a screenshot.
//! * `cargo xtask web [--port N]`: the demo page on `http://127.0.0.1:N/demo/`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::{Ctx, Program, Step};

/// The optimised module may hold at most this many bytes after `gzip -9`: the issue's
/// budget for the full API, 48 KiB, raised (as the firmware's flash ceiling is) by exactly
/// the 4,676 bytes that transfers of any size cost: 44,996 B on main before them, 49,672 B
/// with them (documents up to 16 MiB instead of 16,320 B; see `docs/wasm.md`).
pub(crate) const GZIP_BUDGET: usize = 48 * 1024 + 4_676;

/// Where the npm package lives; its `node_modules` hold the build and test tools.
const NPM_DIR: &str = "bindings/wasm/npm";
/// wasm-bindgen's output inside the package.
const OUT_DIR: &str = "bindings/wasm/npm/wasm";
/// The module cargo builds, under the target directory.
const CARGO_WASM: &str = "wasm32-unknown-unknown/wasm-release/starling_wasm.wasm";
/// The module the package ships.
const PACKAGE_WASM: &str = "bindings/wasm/npm/wasm/starling_wasm_bg.wasm";
/// What the end-to-end test leaves behind (screenshots), under the target directory.
const E2E_OUT: &str = "wasm-e2e";

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/` in the workspace).
fn target_dir(ctx: &Ctx) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| ctx.root.join(p))
        .unwrap_or_else(|| ctx.root.join("target"))
}

/// Runner environment of the wasm-bindgen-test suites.
const RUNNER: (&str, &str) = (
    "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
    "wasm-bindgen-test-runner",
);

const fn builtin(name: &'static str, f: fn(&Ctx) -> Result<(), String>) -> Step {
    Step {
        name,
        program: Program::Builtin(f),
        args: "",
        env: &[],
    }
}

/// `cargo xtask wasm`: tools, module, package, size budget.
pub(crate) const WASM_BUILD: &[Step] = &[
    builtin(
        "wasm tools: wasm-bindgen CLI (crate's version), npm packages",
        ensure_tools,
    ),
    Step::cargo(
        "clippy starling-wasm: wasm32 (the bindings exist only there)",
        "clippy -p starling-wasm --target wasm32-unknown-unknown --all-targets -- -D warnings",
    ),
    Step::cargo(
        "build starling-wasm (wasm32, size profile, no std runtime)",
        "build -p starling-wasm --no-default-features --target wasm32-unknown-unknown --profile wasm-release",
    ),
    builtin(
        "wasm-bindgen + wasm-opt into bindings/wasm/npm/wasm",
        bindgen_and_opt,
    ),
    builtin("wasm size budget (gzip -9)", size_budget),
];

/// `cargo xtask wasm-test`: every test of the package (after [`WASM_BUILD`]).
pub(crate) const WASM_TEST: &[Step] = &[
    builtin("chromium + chromedriver (apt)", ensure_chromium),
    Step {
        name: "wasm-bindgen-test: Node",
        program: Program::Cargo,
        args: "test -p starling-wasm --target wasm32-unknown-unknown --tests",
        env: &[RUNNER],
    },
    Step {
        name: "wasm-bindgen-test: headless Chromium",
        program: Program::Cargo,
        args: "test -p starling-wasm --target wasm32-unknown-unknown --tests",
        env: &[RUNNER, ("WASM_BINDGEN_USE_BROWSER", "1")],
    },
    Step {
        name: "npm package: node --test",
        program: Program::Tool("node"),
        args: "--test bindings/wasm/npm/test/",
        env: &[],
    },
    builtin("npm package: tsc --strict over the types", typecheck),
    builtin(
        "end-to-end: demo in two Chromium tabs, offline and back (playwright-core)",
        end_to_end,
    ),
];

/// The port `cargo xtask web` serves on.
static WEB_PORT: OnceLock<u16> = OnceLock::new();

/// Steps of `cargo xtask web [--port N]`: build the package, then serve the demo.
pub(crate) fn web_steps(flags: &[String]) -> Result<Vec<Step>, String> {
    let port = match flags {
        [] => 8080,
        [flag, port] if flag == "--port" => port
            .parse()
            .map_err(|_| format!("not a port number: {port}"))?,
        _ => return Err(format!("unexpected arguments to `web`: {flags:?}")),
    };
    let _ = WEB_PORT.set(port);
    let mut steps = WASM_BUILD.to_vec();
    steps.push(builtin("serve the demo on 127.0.0.1", serve_forever));
    Ok(steps)
}

/// Output of `program args...` (stdout), or `None` if it cannot run or fails.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The version of package `name` in `Cargo.lock`.
fn locked_version(ctx: &Ctx, name: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(ctx.root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"")
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    Err(format!("{name} is not in Cargo.lock"))
}

/// Installs the wasm-bindgen CLI at the crate's exact version and the npm packages, each
/// only if missing.
fn ensure_tools(ctx: &Ctx) -> Result<(), String> {
    let version = locked_version(ctx, "wasm-bindgen")?;
    let installed = output("wasm-bindgen", &["--version"]);
    if installed.as_deref() == Some(&format!("wasm-bindgen {version}")) {
        println!("    wasm-bindgen {version} already installed");
    } else {
        println!(
            "    installing wasm-bindgen-cli {version} (found: {})",
            installed.as_deref().unwrap_or("none")
        );
        let mut cmd = ctx.command(Program::Cargo);
        cmd.args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &version,
            "--locked",
        ]);
        ctx.status(cmd)?;
    }
    let npm = ctx.root.join(NPM_DIR);
    let bins = ["wasm-opt", "tsc"];
    let present = bins
        .iter()
        .all(|b| npm.join("node_modules/.bin").join(b).exists())
        && npm.join("node_modules/playwright-core").exists();
    if present {
        println!("    npm packages already installed");
        return Ok(());
    }
    println!("    npm ci in {NPM_DIR}");
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&npm);
    ctx.status(cmd)
}

/// wasm-bindgen (web target, names and producers removed), then wasm-opt.
fn bindgen_and_opt(ctx: &Ctx) -> Result<(), String> {
    let mut cmd = ctx.command(Program::Tool("wasm-bindgen"));
    cmd.args([
        "--target",
        "web",
        "--out-dir",
        OUT_DIR,
        "--remove-name-section",
        "--remove-producers-section",
    ]);
    cmd.arg(target_dir(ctx).join(CARGO_WASM));
    ctx.status(cmd)?;
    let wasm_opt = ctx.root.join(NPM_DIR).join("node_modules/.bin/wasm-opt");
    let mut cmd = Command::new(wasm_opt);
    cmd.current_dir(&ctx.root).args([
        "-Os",
        "--converge",
        "--enable-bulk-memory",
        "--enable-reference-types",
        "--enable-multivalue",
        "--enable-sign-ext",
        "--enable-nontrapping-float-to-int",
        "--enable-mutable-globals",
        PACKAGE_WASM,
        "-o",
        PACKAGE_WASM,
    ]);
    ctx.status(cmd)
}

/// Raw and `gzip -9` sizes of `path`.
fn sizes(path: &Path) -> Result<(usize, usize), String> {
    let raw = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len() as usize;
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip failed on {}", path.display()));
    }
    Ok((raw, out.stdout.len()))
}

/// Prints the package's sizes and fails if the module passes [`GZIP_BUDGET`].
fn size_budget(ctx: &Ctx) -> Result<(), String> {
    let (raw, gz) = sizes(&ctx.root.join(PACKAGE_WASM))?;
    let (js_raw, js_gz) = sizes(&ctx.root.join(OUT_DIR).join("starling_wasm.js"))?;
    println!("    starling_wasm_bg.wasm: {raw} bytes, {gz} bytes gzip -9");
    println!("    starling_wasm.js (glue): {js_raw} bytes, {js_gz} bytes gzip -9");
    if gz > GZIP_BUDGET {
        return Err(format!(
            "the module is {gz} bytes gzipped, over the budget of {GZIP_BUDGET}"
        ));
    }
    println!(
        "    within the budget of {GZIP_BUDGET} bytes ({} to spare)",
        GZIP_BUDGET - gz
    );
    Ok(())
}

/// Installs Debian's chromium and chromium-driver unless present.
fn ensure_chromium(ctx: &Ctx) -> Result<(), String> {
    if Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists() {
        println!(
            "    {} already installed",
            output("/usr/bin/chromium", &["--version"]).unwrap_or_else(|| "chromium".into())
        );
        return Ok(());
    }
    ctx.apt_install(&["chromium", "chromium-driver"])
}

/// `tsc --strict` over the package's types and a TypeScript user of them.
fn typecheck(ctx: &Ctx) -> Result<(), String> {
    let npm = ctx.root.join(NPM_DIR);
    let mut cmd = Command::new(npm.join("node_modules/.bin/tsc"));
    cmd.args(["-p", "test/tsconfig.json"]).current_dir(&npm);
    ctx.status(cmd)
}

/// Serves the demo, runs the end-to-end script against it, and stops.
fn end_to_end(ctx: &Ctx) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let root = ctx.root.join("bindings/wasm");
    std::thread::spawn(move || serve(listener, &root));
    let out = target_dir(ctx).join(E2E_OUT);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut cmd = Command::new("node");
    cmd.current_dir(&ctx.root).args([
        "bindings/wasm/npm/e2e/two-tabs.mjs",
        &format!("http://127.0.0.1:{port}/demo/"),
        &out.join("two-tabs.png").to_string_lossy(),
    ]);
    ctx.status(cmd)
}

/// `cargo xtask web`: serves `bindings/wasm` until interrupted.
fn serve_forever(ctx: &Ctx) -> Result<(), String> {
    let port = WEB_PORT.get().copied().unwrap_or(8080);
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    println!("    demo: http://127.0.0.1:{port}/demo/  (open it in two tabs; Ctrl-C stops)");
    serve(listener, &ctx.root.join("bindings/wasm"));
    Ok(())
}

/// A static file server for `root`: GET only, no listing, nothing outside `root`.
fn serve(listener: TcpListener, root: &Path) {
    for stream in listener.incoming().flatten() {
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            let _ = respond(stream, &root);
        });
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn respond(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Drain the headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let file: Option<PathBuf> = (method == "GET"
        && !path
            .split('/')
            .any(|seg| seg == ".." || seg.starts_with('.')))
    .then(|| {
        let mut p = root.join(path.trim_start_matches('/'));
        if path.ends_with('/') {
            p.push("index.html");
        }
        p
    });
    let mut stream = stream;
    match file.and_then(|p| std::fs::read(&p).ok().map(|body| (p, body))) {
        Some((p, body)) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                content_type(&p),
                body.len()
            )?;
            stream.write_all(&body)
        }
        None => stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
    }
}
