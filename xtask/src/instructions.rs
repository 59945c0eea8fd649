//! The bench's "instructions per request" section: user-space instructions
//! counted by callgrind, which do not drift with the machine's load as
//! times do — the figure to compare a change by.
//!
//! - Servers: our `hello` and the hyper hello server, each on one thread
//!   under callgrind, loaded by `cargo xtask load` (one-line `GET /`, and
//!   the browser-like request of `xtask/requests/browser.http`), 64
//!   connections 16 deep and one request at a time. The instructions of a
//!   start-and-stop run without load are subtracted; the rest is divided
//!   by the requests answered.
//! - Clients: `cargo xtask client-load` under callgrind against our `hello`
//!   (not under callgrind), 32 connections (or callers of a pooled
//!   client), one request at a time. Two runs of different lengths; their
//!   difference in instructions over their difference in requests leaves
//!   start-up out.
//!
//! Without valgrind the section says it was skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::process::{Server, target_dir};
use crate::{number_flag, workspace_root};

/// One section of the report: its markdown table and its JSON.
type Section = (String, Value);

/// The request file the browser-like rows send.
const BROWSER_REQUEST: &str = "xtask/requests/browser.http";

/// Where the programs are, and how long a loaded run lasts.
pub(crate) struct Counting {
    pub(crate) release: PathBuf,
    pub(crate) seconds: u64,
}

/// `cargo xtask instructions [--seconds S]`: the section alone, printed.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    crate::bench::build_release()?;
    let counting = Counting {
        release: target_dir().join("release"),
        seconds: number_flag(args, "--seconds", 4)?,
    };
    let (md, _) = section(&counting)?;
    println!("{md}");
    Ok(())
}

/// The section, or a note that it was skipped.
pub(crate) fn section(counting: &Counting) -> Result<Section, String> {
    let has_valgrind = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_valgrind {
        let note = "Skipped: valgrind is not installed (`apt-get install valgrind`).\n";
        return Ok((
            note.to_owned(),
            json!({ "skipped": "valgrind is not installed" }),
        ));
    }
    let mut md = String::from(
        "| instructions per request | gruvi | hyper | gruvi / hyper |\n|---|---:|---:|---:|\n",
    );
    let mut rows = Vec::new();
    for (label, ours, theirs) in server_rows(counting)?
        .into_iter()
        .chain(client_rows(counting)?)
    {
        md.push_str(&format!(
            "| {label} | {ours:.0} | {theirs:.0} | {:.2}× |\n",
            ours / theirs
        ));
        rows.push(json!({ "measure": label, "gruvi": ours, "hyper": theirs }));
    }
    Ok((md, json!(rows)))
}

type Row = (String, f64, f64);

fn server_rows(counting: &Counting) -> Result<Vec<Row>, String> {
    let browser = workspace_root().join(BROWSER_REQUEST);
    let browser = browser.to_string_lossy().into_owned();
    let loads: [(&str, Option<&str>, usize); 4] = [
        ("server, GET /, 64 connections 16 deep", None, 16),
        ("server, GET /, 64 connections 1 at a time", None, 1),
        (
            "server, browser-like request (10 fields), 64 connections 16 deep",
            Some(&browser),
            16,
        ),
        (
            "server, browser-like request (10 fields), 64 connections 1 at a time",
            Some(&browser),
            1,
        ),
    ];
    let servers: [(&str, PathBuf, &[&str]); 2] = [
        ("gruvi", counting.release.join("examples/hello"), &[]),
        ("hyper", counting.release.join("xtask"), &["hyper-hello"]),
    ];
    let mut per_server = Vec::new();
    for (name, program, task) in &servers {
        let (idle, _) = count_server(program, task, None)?;
        let mut counts = Vec::new();
        for (label, request, depth) in &loads {
            let mut load = vec![
                "load".to_owned(),
                "--connections".to_owned(),
                "64".to_owned(),
                "--depth".to_owned(),
                depth.to_string(),
                "--seconds".to_owned(),
                counting.seconds.to_string(),
            ];
            if let Some(request) = request {
                load.extend(["--request".to_owned(), request.to_string()]);
            }
            let (total, requests) = count_server(program, task, Some((&counting.release, &load)))?;
            let per_request = total.saturating_sub(idle) as f64 / requests.max(1) as f64;
            eprintln!("instructions, {label} — {name}: {per_request:.0} ({requests} requests)");
            counts.push(per_request);
        }
        per_server.push(counts);
    }
    Ok(loads
        .iter()
        .enumerate()
        .map(|(i, (label, _, _))| (label.to_string(), per_server[0][i], per_server[1][i]))
        .collect())
}

fn client_rows(counting: &Counting) -> Result<Vec<Row>, String> {
    let hello = Server::start(
        &counting.release.join("examples/hello"),
        &["--threads", "1", "--addr", "127.0.0.1:0"],
        None,
    )?;
    let modes = [
        (
            "client, one connection each, 32 connections 1 at a time",
            "gruvi",
            "hyper",
        ),
        (
            "client, pooled, 32 callers on one origin (hyper-util's legacy Client)",
            "gruvi-pool",
            "hyper-pool",
        ),
    ];
    let mut rows = Vec::new();
    for (label, ours, theirs) in modes {
        let mut pair = Vec::new();
        for client in [ours, theirs] {
            // Two lengths: their difference leaves out start-up and the
            // connections' opening.
            let short = count_client(counting, &hello.addr, client, 1)?;
            let long = count_client(counting, &hello.addr, client, 1 + counting.seconds)?;
            let per_request = long.0.saturating_sub(short.0) as f64
                / long.1.saturating_sub(short.1).max(1) as f64;
            eprintln!("instructions, {label} — {client}: {per_request:.0}");
            pair.push(per_request);
        }
        rows.push((label.to_owned(), pair[0], pair[1]));
    }
    Ok(rows)
}

/// Runs `program task` (a hello server) under callgrind on one thread;
/// when `load` is given, runs `xtask LOAD --addr ADDR` against it first.
/// Returns the instructions counted and the requests the load made.
fn count_server(
    program: &Path,
    task: &[&str],
    load: Option<(&Path, &[String])>,
) -> Result<(u64, u64), String> {
    let out = callgrind_file("server");
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let program_arg = program.to_string_lossy().into_owned();
    let mut args = vec!["--tool=callgrind", out_arg.as_str(), program_arg.as_str()];
    args.extend(task);
    args.extend(["--threads", "1", "--addr", "127.0.0.1:0"]);
    let server = Server::start(Path::new("valgrind"), &args, None)?;
    let requests = match load {
        Some((release, load)) => {
            let output = Command::new(release.join("xtask"))
                .args(load)
                .args(["--addr", &server.addr])
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("running xtask {}: {e}", load.join(" ")))?;
            requests_of(&output.stdout)?
        }
        None => {
            std::thread::sleep(Duration::from_millis(500));
            0
        }
    };
    stop_politely(server)?;
    Ok((callgrind_total(&out)?, requests))
}

/// `xtask client-load --client CLIENT` for `seconds` under callgrind:
/// the instructions counted and the requests made.
fn count_client(
    counting: &Counting,
    addr: &str,
    client: &str,
    seconds: u64,
) -> Result<(u64, u64), String> {
    let out = callgrind_file("client");
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(counting.release.join("xtask"))
        .args(["client-load", "--client", client, "--addr", addr])
        .args(["--connections", "32", "--seconds", &seconds.to_string()])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("running client-load under valgrind: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "client-load --client {client} failed under valgrind"
        ));
    }
    Ok((callgrind_total(&out)?, requests_of(&output.stdout)?))
}

/// The `requests` of a load generator's JSON.
fn requests_of(stdout: &[u8]) -> Result<u64, String> {
    let json: Value = serde_json::from_slice(stdout)
        .map_err(|e| format!("a load generator printed no JSON: {e}"))?;
    json["requests"]
        .as_u64()
        .ok_or_else(|| "a load generator's JSON has no requests".to_owned())
}

/// SIGTERM, so that callgrind writes its counts, then waits for the exit.
fn stop_politely(mut server: Server) -> Result<(), String> {
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .map_err(|e| format!("kill: {e}"))?;
    server.child.wait().map_err(|e| e.to_string())?;
    Ok(())
}

/// A fresh output file for one callgrind run, under `target/bench`.
fn callgrind_file(what: &str) -> PathBuf {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = target_dir().join("bench/callgrind");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("{what}-{n}.out"))
}

/// The total instructions a callgrind output file records.
fn callgrind_total(path: &Path) -> Result<u64, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    text.lines()
        .rev()
        .find_map(|line| {
            let rest = line
                .strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .ok_or_else(|| format!("{} holds no total", path.display()))
}
