//! `cargo xtask ci`: the same steps as `.ci/run`, in the same order.

use std::process::Command;

use crate::{cargo, run_command, workspace_root};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`ci` takes no arguments, got `{extra}`"));
    }
    run_command(cargo().args(["fmt", "--all", "--check"]))?;
    run_command(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run_command(cargo().args(["test", "--workspace"]))?;
    run_command(Command::new("bash").arg(workspace_root().join(".ci/interop")))
}
