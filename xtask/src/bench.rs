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
//!
//! Every process started here is stopped by its handle.

use std::path::Path;

use serde_json::{Value, json};

use crate::process::{Server, has_taskset, pinned, target_dir};
use crate::{cargo, run_command};

/// One load run against `server`, with the generator pinned to `cpu`.
fn load(
    xtask: &Path,
    server: &Server,
    connections: usize,
    depth: usize,
    seconds: u64,
    cpu: Option<&str>,
) -> Result<Value, String> {
    let before = server.cpu_seconds();
    let output = pinned(xtask, cpu)
        .args(["load", "--addr", &server.addr])
        .args(["--connections", &connections.to_string()])
        .args(["--depth", &depth.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .output()
        .map_err(|e| format!("running the load generator: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "load generator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut result: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("load output: {e}"))?;
    let server_cpu = server.cpu_seconds() - before;
    let requests = result["requests"].as_f64().unwrap_or(0.0);
    result["server_cpu_s"] = json!(server_cpu);
    result["server_cpu_us_per_request"] = json!(server_cpu * 1e6 / requests.max(1.0));
    Ok(result)
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

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let seconds: u64 = if quick { 3 } else { 10 };
    let target = target_dir();

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
    ]))?;
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
    let xtask = release.join("xtask");
    let hello = release.join("examples/hello");
    let (server_cpu, load_cpu) = if has_taskset() {
        (Some("0"), Some("1"))
    } else {
        (None, None)
    };

    let modes: [(&str, usize, usize, Option<&str>); 3] = [
        ("64 connections, 1 request at a time", 64, 1, load_cpu),
        ("64 connections, pipelined 16 deep", 64, 16, load_cpu),
        (
            "1 connection, client and server on one core",
            1,
            1,
            server_cpu,
        ),
    ];
    let mut rows = Vec::new();
    for (mode, connections, depth, cpu) in modes {
        let mut pair = Vec::new();
        for (name, program, extra) in [
            ("gruvi", hello.as_path(), vec!["--threads", "1"]),
            (
                "hyper",
                xtask.as_path(),
                vec!["hyper-hello", "--threads", "1"],
            ),
        ] {
            let mut server_args = extra.clone();
            server_args.extend(["--addr", "127.0.0.1:0"]);
            let server = Server::start(program, &server_args, server_cpu)?;
            // Warm up (connections, caches), then measure.
            load(&xtask, &server, connections, depth, 1, cpu)?;
            let result = load(&xtask, &server, connections, depth, seconds, cpu)?;
            eprintln!("{mode} — {name}: {result}");
            pair.push(result);
        }
        rows.push((mode, pair));
    }

    let mut json_rows = Vec::new();
    let mut md =
        String::from("| measure | gruvi | hyper | gruvi / hyper |\n|---|---:|---:|---:|\n");
    for (mode, pair) in &rows {
        let [ours, theirs] = [&pair[0], &pair[1]];
        let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        for (label, key, better) in [
            ("requests/s", "rps", "higher"),
            (
                "server CPU µs per request",
                "server_cpu_us_per_request",
                "lower",
            ),
            ("p50 latency µs", "p50_us", "lower"),
        ] {
            let (a, b) = (f(ours, key), f(theirs, key));
            md.push_str(&format!(
                "| {mode}: {label} ({better} is better) | {a:.1} | {b:.1} | {:.2}× |\n",
                a / b
            ));
        }
        json_rows.push(json!({ "mode": mode, "gruvi": ours, "hyper": theirs }));
    }

    md.push_str("\n| parser / codec bench | mean |\n|---|---:|\n");
    let mut benches = Vec::new();
    for id in criterion_ids(&target) {
        if let Some(ns) = criterion_mean_ns(&target, &id) {
            md.push_str(&format!("| {id} | {ns:.1} ns |\n"));
            benches.push(json!({ "id": id, "mean_ns": ns }));
        }
    }

    let machine = format!(
        "{} CPUs, {}; load pinned: {}",
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
            "server CPU 0, load CPU 1"
        } else {
            "no (taskset missing)"
        }
    );
    let report = format!(
        "# cargo xtask bench{}\n\nMachine: {machine}. Each server: one current-thread runtime; \
         {seconds} s per run after a 1 s warm-up.\n\n{md}",
        if quick { " --quick" } else { "" }
    );
    let out = target.join("bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.md"), &report).map_err(|e| e.to_string())?;
    let json =
        json!({ "machine": machine, "seconds": seconds, "servers": json_rows, "benches": benches });
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    println!("{report}");
    eprintln!("written: {}", out.join("report.md").display());
    Ok(())
}
