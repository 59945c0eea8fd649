//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the cargo-fuzz targets of
//! every crate that has a `fuzz/` folder, each for N seconds.
//!
//! Each target starts from its own corpus and from seeds made of the
//! conformance corpus (`http-conn/tests/conformance/`): every case's input,
//! framed as the target reads its input (the knob byte first, pieces with
//! their control bytes for the connection targets), written under
//! `target/fuzz-seeds/<target>/`. The connection targets may grow inputs
//! past 64 KiB (`-max_len`), so the head and body limits are within reach;
//! their fuzz bodies also pick small limits.
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

    let cases = conformance_inputs()?;
    let mut ran = 0;
    for krate in FUZZED_CRATES {
        let fuzz_dir = workspace_root().join(krate).join("fuzz");
        for target in targets_in(&fuzz_dir)? {
            if !wanted.is_empty() && !wanted.contains(&target) {
                continue;
            }
            let corpus = fuzz_dir.join("corpus").join(&target);
            std::fs::create_dir_all(&corpus)
                .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
            let seeds = write_seeds(&target, &cases)?;
            let max_len = if target.ends_with("_connection") {
                128 * 1024
            } else {
                8 * 1024
            };
            run_command(
                cargo()
                    .current_dir(&fuzz_dir)
                    .env("RUSTC_BOOTSTRAP", "1")
                    .args(["fuzz", "run", &target])
                    .arg(&corpus)
                    .arg(&seeds)
                    .arg("--")
                    .arg(format!("-max_total_time={seconds}"))
                    .arg(format!("-max_len={max_len}")),
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

/// The inputs of the conformance corpus: `(true, bytes)` for a request
/// case, `(false, bytes)` for a response case.
fn conformance_inputs() -> Result<Vec<(bool, Vec<u8>)>, String> {
    let root = workspace_root().join("http-conn/tests/conformance");
    let mut inputs = Vec::new();
    for (dir, requests) in [("requests", true), ("responses", false)] {
        let dir = root.join(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "cases"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let mut current: Option<Vec<u8>> = None;
            for line in text.lines() {
                let line = line.trim_start();
                if line.starts_with("case ") {
                    inputs.extend(current.take().map(|input| (requests, input)));
                    current = Some(Vec::new());
                } else if let (Some(input), Some(bytes)) =
                    (current.as_mut(), line.strip_prefix("> "))
                {
                    input.extend(unescape(bytes));
                }
            }
            inputs.extend(current.map(|input| (requests, input)));
        }
    }
    Ok(inputs)
}

/// The corpus format's escapes (`\r`, `\n`, `\t`, `\0`, `\s`, `\\`,
/// `\xHH`); an unknown one is kept as written.
fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let escaped = match (bytes[at], bytes.get(at + 1)) {
            (b'\\', Some(b'r')) => Some(b'\r'),
            (b'\\', Some(b'n')) => Some(b'\n'),
            (b'\\', Some(b't')) => Some(b'\t'),
            (b'\\', Some(b'0')) => Some(0),
            (b'\\', Some(b's')) => Some(b' '),
            (b'\\', Some(b'\\')) => Some(b'\\'),
            (b'\\', Some(b'x')) => text
                .get(at + 2..at + 4)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .inspect(|_| at += 2),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                at += 2;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    out
}

/// Writes `target`'s seeds from the conformance inputs, each as that
/// target reads its input; returns their folder.
fn write_seeds(target: &str, cases: &[(bool, Vec<u8>)]) -> Result<PathBuf, String> {
    let dir = workspace_root().join("target/fuzz-seeds").join(target);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut written = 0;
    for (requests, input) in cases {
        let seed = match (target, requests) {
            // The knob byte 0: default limits.
            ("parse_request", true) | ("parse_response", false) => [&[0u8][..], input].concat(),
            // A chunked body: what follows the head.
            ("chunked", true) => match input.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(end) => [&[0u8][..], &input[end + 4..]].concat(),
                None => continue,
            },
            // Knobs 0x30: pipeline 1, a 4 KiB head; then pieces of 16
            // bytes, each after a control byte that answers the oldest.
            ("server_connection", true) => {
                let mut seed = vec![0x30];
                for piece in input.chunks(16) {
                    seed.push(0xf1);
                    seed.extend_from_slice(piece);
                }
                seed
            }
            // Knobs 0x09: one request sent (a GET), the input then the
            // server's close; then the response bytes.
            ("client_connection", false) => [&[0x09u8, 0][..], input].concat(),
            _ => continue,
        };
        let path = dir.join(format!("conformance-{written:04}"));
        std::fs::write(&path, seed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written += 1;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_escapes_decode() {
        assert_eq!(
            unescape(r"GET / HTTP/1.1\r\n\x41\s\\"),
            b"GET / HTTP/1.1\r\nA \\"
        );
    }

    #[test]
    fn every_target_gets_seeds_from_the_conformance_corpus() {
        let cases = conformance_inputs().unwrap();
        assert!(cases.iter().filter(|(requests, _)| *requests).count() > 100);
        for target in [
            "parse_request",
            "parse_response",
            "chunked",
            "server_connection",
            "client_connection",
        ] {
            let dir = write_seeds(target, &cases).unwrap();
            let seeds = std::fs::read_dir(&dir).unwrap().count();
            assert!(seeds > 10, "{target}: {seeds} seeds");
        }
        // A server seed reads back as its case: pieces after control bytes.
        let dir = write_seeds("server_connection", &cases).unwrap();
        let first = std::fs::read(dir.join("conformance-0000")).unwrap();
        assert_eq!(first[0], 0x30);
        assert_eq!(first[1], 0xf1);
    }
}
