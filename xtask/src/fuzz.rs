//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the cargo-fuzz targets of
//! every crate that has a `fuzz/` folder, each for N seconds.
//!
//! cargo-fuzz drives libFuzzer, which needs unstable compiler flags; on a
//! stable toolchain we set `RUSTC_BOOTSTRAP=1` for the fuzz build only.

use std::path::{Path, PathBuf};

use crate::{cargo, run_command, workspace_root};

/// Crates whose `fuzz/` folder holds cargo-fuzz targets.
const FUZZED_CRATES: &[&str] = &["http-body", "http-conn", "http-wire"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seconds: u64 = 30;
    let mut wanted: Vec<String> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds takes a whole number, got `{value}`"))?;
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            target => wanted.push(target.to_owned()),
        }
    }

    let mut ran = 0;
    for krate in FUZZED_CRATES {
        let fuzz_dir = workspace_root().join(krate).join("fuzz");
        for target in targets_in(&fuzz_dir)? {
            if !wanted.is_empty() && !wanted.contains(&target) {
                continue;
            }
            run_command(
                cargo()
                    .current_dir(&fuzz_dir)
                    .env("RUSTC_BOOTSTRAP", "1")
                    .args(["fuzz", "run", &target, "--"])
                    .arg(format!("-max_total_time={seconds}")),
            )?;
            ran += 1;
        }
    }
    if ran == 0 {
        return Err(format!("no fuzz target matched {wanted:?}"));
    }
    Ok(())
}

/// The target names: one `fuzz_targets/<name>.rs` file each.
fn targets_in(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let dir: PathBuf = fuzz_dir.join("fuzz_targets");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    Ok(names)
}
