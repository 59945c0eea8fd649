//! `cargo xtask bench [--quick]`: our stack beside its peers, measured in
//! one run on this machine, with a report in `target/bench/report.md` and
//! `report.json`.
//!
//! - Parser and codecs: the criterion benches of `gruvi-wire` (beside
//!   httparse) and `gruvi-body` (beside a plain copy).
//! - Server: our `hello` example beside a hyper hello server (`cargo xtask
//!   hyper-hello`), both on one current-thread runtime pinned to CPU 0, the
//!   load generator (`cargo xtask load`) pinned to CPU 1 (when `taskset`
//!   exists): 64 connections one request at a time, 64 connections 16 deep,
//!   and one connection with client and server on the same core (latency).
//!   Each side's CPU time is read from `/proc`, so a saturated load
//!   generator still yields a fair figure: server CPU per request.
//! - Client: our `HttpService` beside hyper's `client::conn::http1` (`cargo
//!   xtask client-load`, pinned to CPU 1), both against our `hello` on CPU
//!   0: one connection one request at a time, 32 connections likewise, and
//!   one connection with ours pipelined 16 deep beside hyper one at a time
//!   (it cannot pipeline). Each client reports its own CPU time, hence
//!   client CPU per request.
//! - Instructions per request: both servers and both clients under
//!   callgrind (see [`instructions`]; skipped without valgrind).
//! - Large bodies: 256 MiB (64 MiB with `--quick`) downloaded and uploaded
//!   over one connection through our server and client (`cargo xtask
//!   bulk-server` / `bulk-client`), beside the same bytes over plain TCP —
//!   the loopback ceiling.
//! - Memory: resident memory per idle keep-alive connection of our `hello`
//!   and of the hyper hello server, over 10,000 connections (2,000 with
//!   `--quick`) opened from this process (see `idle`).
//!
//! Every process started here is stopped by its handle.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::idle;
use crate::instructions::{self, Counting};
use crate::process::{Server, has_taskset, pinned, target_dir};
use crate::{cargo, run_command};

/// The hello servers compared: name, program under `target/release`, and
/// the arguments before the common ones.
type Hello = (&'static str, &'static str, &'static [&'static str]);

const HELLO_SERVERS: [Hello; 2] = [
    ("gruvi", "examples/hello", &[]),
    ("hyper", "xtask", &["hyper-hello"]),
];

/// What a row shows: label, JSON key, and which way is better.
type Measure = (&'static str, &'static str, &'static str);

const REQUESTS_PER_SECOND: Measure = ("requests/s", "rps", "higher");

/// Transfers per large-body measure, the fastest reported.
const BODY_RUNS: usize = 3;

/// One section of the report: its markdown table and its JSON.
type Section = (String, Value);

/// What every measurement needs: the programs, where they run, how long.
#[derive(Debug)]
struct Setup {
    release: PathBuf,
    xtask: PathBuf,
    /// Servers run here.
    server_cpu: Option<&'static str>,
    /// Load generators and clients run here.
    load_cpu: Option<&'static str>,
    /// Length of one load run.
    seconds: u64,
}

impl Setup {
    /// Starts `hello` on one thread, on a free port, on the servers' CPU.
    fn start_hello(&self, hello: Hello) -> Result<Server, String> {
        let (_, program, task) = hello;
        let mut args = task.to_vec();
        args.extend(["--threads", "1", "--addr", "127.0.0.1:0"]);
        Server::start(&self.release.join(program), &args, self.server_cpu)
    }

    /// Runs `xtask TASK...` pinned to `cpu` and parses the JSON it prints.
    fn xtask_json(&self, task: &[String], cpu: Option<&str>) -> Result<Value, String> {
        let output = pinned(&self.xtask, cpu)
            .args(task)
            .output()
            .map_err(|e| format!("running xtask {}: {e}", task.join(" ")))?;
        if !output.status.success() {
            return Err(format!(
                "xtask {} failed: {}",
                task.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("the output of xtask {}: {e}", task.join(" ")))
    }

    /// One run of `generator` (`load`, or `client-load --client NAME`)
    /// against `server` after a 1 s warm-up (connections, caches), pinned
    /// to `cpu`; adds the server's CPU time per request, and the
    /// generator's when it reports its own (`cpu_s`).
    fn load(
        &self,
        server: &Server,
        generator: &[&str],
        connections: usize,
        depth: usize,
        cpu: Option<&str>,
    ) -> Result<Value, String> {
        let task = |seconds: u64| {
            let mut task: Vec<String> = generator.iter().map(|s| s.to_string()).collect();
            for (name, value) in [
                ("--addr", server.addr.clone()),
                ("--connections", connections.to_string()),
                ("--depth", depth.to_string()),
                ("--seconds", seconds.to_string()),
            ] {
                task.extend([name.to_owned(), value]);
            }
            task
        };
        self.xtask_json(&task(1), cpu)?;
        let before = server.cpu_time();
        let mut result = self.xtask_json(&task(self.seconds), cpu)?;
        let server_cpu = server.cpu_time() - before;
        let requests = result["requests"].as_f64().unwrap_or(0.0).max(1.0);
        let per_request = |seconds: f64| json!(seconds * 1e6 / requests);
        result["server_cpu_s"] = json!(server_cpu.total());
        result["server_cpu_us_per_request"] = per_request(server_cpu.total());
        // The part of it that is ours to make smaller: the kernel's share
        // (syscalls, TCP over loopback) is much the same for any server.
        result["server_user_us_per_request"] = per_request(server_cpu.user);
        if let Some(client_cpu) = result["cpu_s"].as_f64() {
            result["client_cpu_us_per_request"] = per_request(client_cpu);
        }
        if let Some(client_user) = result["user_cpu_s"].as_f64() {
            result["client_user_us_per_request"] = per_request(client_user);
        }
        Ok(result)
    }
}

/// The head of a markdown table comparing ours with `peer`.
fn table(peer: &str) -> String {
    format!("| measure | gruvi | {peer} | gruvi / {peer} |\n|---|---:|---:|---:|\n")
}

/// Load runs of each side, alternating: the machine's noise (other tenants,
/// frequency changes) comes in bursts longer than one run, and the median
/// of runs taken in turn keeps one burst from deciding a ratio.
const ROUNDS: usize = 3;

/// The run with the median requests per second, with every run's rate
/// kept beside it in the order they ran (`rounds_rps`).
fn median_run(mut runs: Vec<Value>) -> Value {
    let rps = |run: &Value| run["rps"].as_f64().unwrap_or(0.0);
    let all: Vec<f64> = runs.iter().map(rps).collect();
    runs.sort_by(|a, b| rps(a).total_cmp(&rps(b)));
    let mut median = runs.swap_remove(runs.len() / 2);
    median["rounds_rps"] = json!(all);
    median
}

/// The lowest and highest ratio of requests per second over the rounds,
/// each of ours beside the peer's run taken right after it: how far one
/// run's ratio may stray from the median's.
fn round_ratios(ours: &Value, theirs: &Value) -> Option<(f64, f64)> {
    let rounds = |v: &Value| -> Option<Vec<f64>> {
        v["rounds_rps"]
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect()
    };
    let (ours, theirs) = (rounds(ours)?, rounds(theirs)?);
    if ours.len() != theirs.len() || ours.len() < 2 {
        return None;
    }
    // A run that answered nothing has no ratio worth showing.
    if ours
        .iter()
        .chain(&theirs)
        .any(|&rps| rps <= 0.0 || !rps.is_finite())
    {
        return None;
    }
    let ratios = ours.iter().zip(&theirs).map(|(a, b)| a / b);
    Some(
        ratios.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        }),
    )
}

/// Appends to `md` one row per measure: `ours[key]` beside `theirs[key]`
/// and their ratio; the requests/s row also gives the range of the
/// rounds' own ratios.
fn push_rows(md: &mut String, mode: &str, ours: &Value, theirs: &Value, measures: &[Measure]) {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    for (label, key, better) in measures {
        let (a, b) = (f(ours, key), f(theirs, key));
        let spread = match round_ratios(ours, theirs) {
            Some((lo, hi)) if *key == "rps" => format!(" (rounds {lo:.2}–{hi:.2}×)"),
            _ => String::new(),
        };
        md.push_str(&format!(
            "| {mode}: {label} ({better} is better) | {a:.1} | {b:.1} | {:.2}×{spread} |\n",
            a / b
        ));
    }
}

/// Our `hello` beside hyper's, under `cargo xtask load`.
fn servers(setup: &Setup) -> Result<Section, String> {
    let mut md = table("hyper");
    let mut runs = Vec::new();
    let modes = [
        ("64 connections, 1 request at a time", 64, 1, setup.load_cpu),
        ("64 connections, pipelined 16 deep", 64, 16, setup.load_cpu),
        (
            "1 connection, client and server on one core",
            1,
            1,
            setup.server_cpu,
        ),
    ];
    for (mode, connections, depth, cpu) in modes {
        let mut rounds = [Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            for (hello, runs) in HELLO_SERVERS.into_iter().zip(&mut rounds) {
                let server = setup.start_hello(hello)?;
                let result = setup.load(&server, &["load"], connections, depth, cpu)?;
                eprintln!("server, {mode} — {}: {result}", hello.0);
                runs.push(result);
            }
        }
        let pair = rounds.map(median_run);
        push_rows(
            &mut md,
            mode,
            &pair[0],
            &pair[1],
            &[
                REQUESTS_PER_SECOND,
                (
                    "server CPU µs per request",
                    "server_cpu_us_per_request",
                    "lower",
                ),
                ("of which user space", "server_user_us_per_request", "lower"),
                ("p50 latency µs", "p50_us", "lower"),
            ],
        );
        runs.push(json!({ "mode": mode, "gruvi": pair[0], "hyper": pair[1] }));
    }
    Ok((md, json!(runs)))
}

/// Our clients beside hyper's, both loading our `hello`: one connection
/// per caller (`HttpService` beside `client::conn::http1`), then the pooled
/// clients (`Client` beside hyper-util's legacy `Client`), 32 callers
/// sharing one.
fn clients(setup: &Setup) -> Result<Section, String> {
    let mut md = table("hyper");
    let mut runs = Vec::new();
    // Callers (connections for the unpooled ones), our client and depth,
    // hyper's client (always 1 deep).
    let modes: [(&str, usize, &[&str], usize, &str); 5] = [
        (
            "1 connection, 1 request at a time",
            1,
            &["gruvi"],
            1,
            "hyper",
        ),
        (
            "32 connections, 1 request at a time each",
            32,
            &["gruvi"],
            1,
            "hyper",
        ),
        (
            "1 connection, ours pipelined 16 deep, hyper 1 at a time (it cannot pipeline)",
            1,
            &["gruvi"],
            16,
            "hyper",
        ),
        (
            "pooled, 32 callers on one origin (hyper-util's legacy Client)",
            32,
            &["gruvi-pool"],
            1,
            "hyper-pool",
        ),
        (
            "pooled, 32 callers, ours pipelining 8 deep (hyper-util cannot)",
            32,
            &["gruvi-pool", "--pipeline", "8"],
            1,
            "hyper-pool",
        ),
    ];
    let server = setup.start_hello(HELLO_SERVERS[0])?;
    for (mode, callers, ours, our_depth, theirs) in modes {
        let mut rounds = [Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            let clients = [(ours, our_depth), (&[theirs][..], 1)];
            for ((client, depth), runs) in clients.into_iter().zip(&mut rounds) {
                let generator: Vec<&str> = ["client-load", "--client"]
                    .into_iter()
                    .chain(client.iter().copied())
                    .collect();
                let result = setup.load(&server, &generator, callers, depth, setup.load_cpu)?;
                eprintln!("client, {mode} — {}: {result}", client.join(" "));
                runs.push(result);
            }
        }
        let pair = rounds.map(median_run);
        push_rows(
            &mut md,
            mode,
            &pair[0],
            &pair[1],
            &[
                REQUESTS_PER_SECOND,
                (
                    "client CPU µs per request",
                    "client_cpu_us_per_request",
                    "lower",
                ),
                ("of which user space", "client_user_us_per_request", "lower"),
            ],
        );
        runs.push(json!({ "mode": mode, "gruvi": pair[0], "hyper": pair[1] }));
    }
    Ok((md, json!(runs)))
}

/// `mib` MiB down and up through our server and client, beside plain TCP.
fn bodies(setup: &Setup, mib: u64) -> Result<Section, String> {
    let mut md = table("raw TCP");
    let mut runs = Vec::new();
    let mut servers = Vec::new();
    for kind in ["gruvi", "tcp"] {
        let args = ["bulk-server", "--kind", kind, "--addr", "127.0.0.1:0"];
        servers.push((kind, Server::start(&setup.xtask, &args, setup.server_cpu)?));
    }
    for direction in ["download", "upload"] {
        let mut pair = Vec::new();
        for (kind, server) in &servers {
            let task = [
                "bulk-client",
                "--kind",
                kind,
                "--addr",
                &server.addr,
                "--bytes",
                &(mib << 20).to_string(),
                "--direction",
                direction,
            ]
            .map(str::to_owned);
            // The best of a few: one transfer is short, so other work on
            // the machine shows in it.
            let attempts = (0..BODY_RUNS)
                .map(|_| setup.xtask_json(&task, setup.load_cpu))
                .collect::<Result<Vec<_>, _>>()?;
            let speed = |run: &Value| run["mb_per_s"].as_f64().unwrap_or(0.0);
            let result = attempts
                .into_iter()
                .max_by(|a, b| speed(a).total_cmp(&speed(b)))
                .expect("BODY_RUNS is above 0");
            eprintln!("{direction} — {kind}: {result}");
            pair.push(result);
        }
        let mode = format!("{direction} {mib} MiB");
        push_rows(
            &mut md,
            &mode,
            &pair[0],
            &pair[1],
            &[("MB/s", "mb_per_s", "higher")],
        );
        runs.push(json!({ "direction": direction, "gruvi": pair[0], "tcp": pair[1] }));
    }
    Ok((md, json!({ "bytes": mib << 20, "runs": runs })))
}

/// Resident memory per idle connection, our `hello` beside hyper's.
fn memory(setup: &Setup, connections: usize) -> Result<Section, String> {
    let mut md = table("hyper");
    let mut pair = Vec::new();
    for hello in HELLO_SERVERS {
        let server = setup.start_hello(hello)?;
        let result = idle::kib_per_connection(&server, connections)?;
        eprintln!("idle connections — {}: {result}", hello.0);
        pair.push(result);
    }
    push_rows(
        &mut md,
        &format!("{connections} idle keep-alive connections"),
        &pair[0],
        &pair[1],
        &[("resident KiB per connection", "kib_per_connection", "lower")],
    );
    Ok((md, json!({ "gruvi": pair[0], "hyper": pair[1] })))
}

/// A criterion estimate (mean, nanoseconds) by its path under
/// `target/criterion`.
fn criterion_mean_ns(target: &Path, id: &str) -> Option<f64> {
    let text =
        std::fs::read_to_string(target.join("criterion").join(id).join("new/estimates.json"))
            .ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

/// Every criterion benchmark id found under `target/criterion`.
fn criterion_ids(target: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    let root = target.join("criterion");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.join("new/estimates.json").exists() {
                if let Ok(id) = path.strip_prefix(&root) {
                    ids.push(id.to_string_lossy().into_owned());
                }
            } else if path.is_dir() && path.file_name().is_some_and(|n| n != "report") {
                stack.push(path);
            }
        }
    }
    ids.sort();
    ids
}

/// Builds, in release, what the measurements run: this program (hyper's
/// peers, the load generators, the clients) and our `hello`. Target flags
/// apply to every package named: without `--bin xtask`, only the `hello`
/// example would be built, and an earlier `xtask` binary measured.
pub(crate) fn build_release() -> Result<(), String> {
    run_command(cargo().args([
        "build",
        "--release",
        "-p",
        "xtask",
        "--bin",
        "xtask",
        "-p",
        "gruvi-server",
        "--example",
        "hello",
    ]))
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let body_mib: u64 = if quick { 64 } else { 256 };
    let idle_connections = if quick { 2_000 } else { 10_000 };
    let target = target_dir();

    build_release()?;
    let mut criterion = cargo();
    criterion.args([
        "bench",
        "-p",
        "gruvi-wire",
        "-p",
        "gruvi-body",
        "--benches",
        "--",
    ]);
    if quick {
        criterion.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    run_command(&mut criterion)?;

    let release = target.join("release");
    let (server_cpu, load_cpu) = if has_taskset() {
        (Some("0"), Some("1"))
    } else {
        (None, None)
    };
    let setup = Setup {
        xtask: release.join("xtask"),
        release,
        server_cpu,
        load_cpu,
        seconds: if quick { 3 } else { 10 },
    };
    let (servers_md, servers_json) = servers(&setup)?;
    let (clients_md, clients_json) = clients(&setup)?;
    let (instructions_md, instructions_json) = instructions::section(&Counting {
        release: setup.release.clone(),
        seconds: if quick { 2 } else { 4 },
    })?;
    let (bodies_md, bodies_json) = bodies(&setup, body_mib)?;
    let (memory_md, memory_json) = memory(&setup, idle_connections)?;

    let mut benches_md = String::from("| parser / codec bench | mean |\n|---|---:|\n");
    let mut benches = Vec::new();
    for id in criterion_ids(&target) {
        if let Some(ns) = criterion_mean_ns(&target, &id) {
            benches_md.push_str(&format!("| {id} | {ns:.1} ns |\n"));
            benches.push(json!({ "id": id, "mean_ns": ns }));
        }
    }

    let machine = format!(
        "{} CPUs, {}; pinned: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, m)| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned()),
        if server_cpu.is_some() {
            "servers CPU 0, load generators and clients CPU 1"
        } else {
            "no (taskset missing)"
        }
    );
    let seconds = setup.seconds;
    let report = format!(
        "# cargo xtask bench{quick_flag}\n\n\
         Machine: {machine}. Every server and client: one current-thread runtime; \
         {seconds} s per load run after a 1 s warm-up; each row is the median of \
         {ROUNDS} runs of each side, the sides taking turns (a requests/s row \
         also gives the lowest and highest ratio of one round, ours beside the \
         peer's next run).\n\n\
         ## Server: our `hello` beside a hyper hello server\n\n\
         Load: `cargo xtask load` (pre-serialised requests over raw TCP).\n\n{servers_md}\n\
         ## Client: `gruvi_client::HttpService` beside hyper's `client::conn::http1`\n\n\
         Both against our `hello` server; every response body read to its end.\n\n{clients_md}\n\
         ## Instructions per request (callgrind)\n\n\
         User-space instructions, deterministic where times are not: the servers on one \
         thread under callgrind (start-up subtracted), the clients against our `hello` \
         (the difference of two runs' counts over the difference of their requests).\n\n\
         {instructions_md}\n\
         ## Large bodies: our server and client beside plain TCP\n\n\
         {body_mib} MiB each way over loopback{body_note}, one connection, \
         the best of {BODY_RUNS} transfers; MB = 10^6 bytes.\n\n{bodies_md}\n\
         ## Memory: idle keep-alive connections\n\n\
         Server `VmRSS` growth over {idle_connections} connections{idle_note}, \
         each answered once and left open.\n\n{memory_md}\n\
         ## Parser and codecs\n\n{benches_md}",
        quick_flag = if quick { " --quick" } else { "" },
        body_note = if quick {
            " (--quick; the full run moves 256 MiB)"
        } else {
            ""
        },
        idle_note = if quick {
            " (--quick; the full run opens 10,000)"
        } else {
            ""
        },
    );
    let out = target.join("bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.md"), &report).map_err(|e| e.to_string())?;
    let json = json!({
        "machine": machine,
        "seconds": seconds,
        "servers": servers_json,
        "clients": clients_json,
        "instructions": instructions_json,
        "bodies": bodies_json,
        "idle_memory": memory_json,
        "benches": benches,
    });
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    println!("{report}");
    eprintln!("written: {}", out.join("report.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_run_keeps_every_round_in_order_and_rounds_pair_up() {
        let runs = |rates: &[f64]| rates.iter().map(|r| json!({ "rps": r })).collect();
        let ours = median_run(runs(&[110.0, 90.0, 100.0]));
        let theirs = median_run(runs(&[100.0, 100.0, 80.0]));
        assert_eq!(ours["rps"], 100.0);
        assert_eq!(ours["rounds_rps"], json!([110.0, 90.0, 100.0]));
        // Round by round: 1.1, 0.9, 1.25.
        assert_eq!(round_ratios(&ours, &theirs), Some((0.9, 1.25)));
        let one = median_run(runs(&[100.0]));
        assert_eq!(round_ratios(&one, &one), None, "one round has no spread");
        assert_eq!(
            round_ratios(&ours, &one),
            None,
            "rounds that do not pair up"
        );
    }
}
