//! `cargo xtask ci`: runs `.ci/run`, what CI runs — one list of steps, kept
//! in that script.

use std::process::Command;

use crate::{run_command, workspace_root};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`ci` takes no arguments, got `{extra}`"));
    }
    run_command(Command::new("bash").arg(workspace_root().join(".ci/run")))
}
