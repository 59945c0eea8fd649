//! Repository chores, run as `cargo xtask <task>` (see `.cargo/config.toml`).
//!
//! One file per task; this file only dispatches. The tasks shell out to `cargo`
//! and never become a dependency of the library crates.

mod ci;
mod fuzz;

use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask <task> [options]

Tasks:
  ci                      run what .ci/run runs: fmt --check, clippy -D warnings, tests
  fuzz [--seconds N] [TARGET...]
                          run every cargo-fuzz target (or the named ones) for N seconds
                          each (default 30); needs `cargo install cargo-fuzz`
  help                    print this text
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_else(|| "help".to_owned());
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "ci" => ci::run(&rest),
        "fuzz" => fuzz::run(&rest),
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
