//! Repository chores, run as `cargo xtask <task>` (see `.cargo/config.toml`).
//!
//! One file per task; this file only dispatches. The tasks shell out to `cargo`
//! and never become a dependency of the library crates.

mod bench;
mod bulk;
mod ci;
mod client_load;
mod fuzz;
mod idle;
mod instructions;
mod load;
mod peers;
mod process;
mod soak;
mod tidy;

use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask <task> [options]

Tasks:
  ci                      run .ci/run: fmt --check, clippy -D warnings, tests, docs, packages
  fuzz [--seconds N] [TARGET...]
                          run every cargo-fuzz target (or the named ones) for N seconds
                          each (default 30); needs `cargo install cargo-fuzz`
  bench [--quick]         our server and client beside hyper's, large bodies beside
                          plain TCP, memory per idle connection beside hyper's, parser
                          beside httparse, codecs beside a copy; report in
                          target/bench/report.{md,json}
  instructions [--seconds S]
                          the bench's instructions-per-request section alone: both
                          hello servers and both clients under callgrind (needs
                          valgrind; builds what it runs first, in release)
  soak [--seconds N] [--connections N] [--tricklers N] [--header-timeout S]
       [--silent N] [--max-connections N]
                          the echo server under 1,000 connections of random
                          checked pipelines (memory must stay flat), then 500
                          slowloris tricklers beside a normal client, then 5,000
                          silent connections beside a normal client
  hyper-hello [--addr A] [--threads N]
                          the hyper hello server the bench measures against
  load --addr A [--connections N] [--depth D] [--seconds S] [--request FILE]
                          the bench's load generator (prints JSON); FILE holds the
                          request to send (default GET /), e.g. xtask/requests/browser.http
  client-load --addr A [--client gruvi|hyper|gruvi-pool|hyper-pool] [--connections N]
              [--depth D] [--pipeline P] [--seconds S]
                          the bench's client load: our connection (pipelined D deep) or
                          hyper's (D = 1), or N callers sharing our pooled client
                          (pipelining P deep) or hyper-util's, sending GET / (prints JSON)
  bulk-server [--kind gruvi|tcp] [--addr A]
                          the bench's large-body server: ours (GET /bytes/N, POST /sink)
                          or a plain TCP source/sink
  bulk-client --addr A [--kind gruvi|tcp] [--bytes N] [--direction download|upload]
                          moves N bytes (default 256 MiB) once through our client or
                          plain TCP (prints JSON)
  help                    print this text
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_else(|| "help".to_owned());
    let rest: Vec<String> = args.collect();
    // Every task answers `--help` (with its own lines of the help) rather
    // than run.
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        return match task_help(&task) {
            Some(text) => {
                print!("cargo xtask {text}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("xtask: unknown task `{task}`\n\n{HELP}");
                ExitCode::FAILURE
            }
        };
    }
    let result = match task.as_str() {
        "ci" => ci::run(&rest),
        "fuzz" => fuzz::run(&rest),
        "bench" => bench::run(&rest),
        "instructions" => instructions::run(&rest),
        "hyper-hello" => peers::hyper_hello(&rest),
        "load" => load::run(&rest),
        "client-load" => client_load::run(&rest),
        "bulk-server" => bulk::server(&rest),
        "bulk-client" => bulk::client(&rest),
        "soak" => soak::run(&rest),
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The lines of [`HELP`] that describe `task`: its usage line and the
/// indented lines under it.
fn task_help(task: &str) -> Option<String> {
    let mut lines = HELP.lines().skip_while(|line| {
        line.strip_prefix("  ")
            .is_none_or(|entry| entry.split_whitespace().next() != Some(task))
    });
    let first = lines.next()?.trim_start();
    let mut text = format!("{first}\n");
    for line in lines.take_while(|line| line.starts_with("     ")) {
        text.push_str(line);
        text.push('\n');
    }
    Some(text)
}

/// The value after `name` in `args` (`--name VALUE`).
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).map(String::as_str)
}

/// The number after `name` in `args`, or `default` when it is absent.
fn number_flag(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    flag(args, name)
        .map_or(Ok(default), str::parse)
        .map_err(|_| format!("{name} takes a number"))
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> std::path::PathBuf {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Runs `command`, echoing it first; a non-zero exit becomes an error naming it.
fn run_command(command: &mut Command) -> Result<(), String> {
    eprintln!("$ {command:?}");
    let status = command
        .status()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(workspace_root());
    command
}

#[cfg(test)]
mod tests {
    use super::task_help;

    /// Every task answers `--help` with its own lines, and only those.
    #[test]
    fn every_task_has_its_help() {
        for task in [
            "ci",
            "fuzz",
            "bench",
            "instructions",
            "soak",
            "hyper-hello",
            "load",
            "client-load",
            "bulk-server",
            "bulk-client",
            "help",
        ] {
            let text = task_help(task).unwrap_or_else(|| panic!("no help for {task}"));
            assert!(text.starts_with(task), "{task}: {text}");
            // No other task's entry (two spaces, then its name).
            let other = text
                .lines()
                .skip(1)
                .any(|line| line.starts_with("  ") && !line.starts_with("   "));
            assert!(!other, "{task}: only its own lines: {text}");
        }
        assert!(task_help("nope").is_none());
    }
}
